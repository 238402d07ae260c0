"""What a trained network gets right and wrong, and which output units are stuck.

With the quadratic cost the output error is δᴸ = (a − y) ⊙ σ′(z), and
σ′(z) = a (1 − a).  An output unit whose activation a sits near 0 (or 1) for
every input has σ′ ≈ 0 for every input, so its error, and with it every
gradient step on its weights and bias, is ≈ 0 even when it is wrong: the unit
has stopped learning.  :func:`output_units` measures this per unit.
"""

from operator import mul

from ..dataset import argmax

# An output unit whose σ′ = a(1 − a) stays below this for every input is "saturated":
# a < 0.053 or a > 0.947 everywhere, so its error δ = (a − y)σ′ is under a fifth of what
# it is at σ′'s peak of 0.25, for every input.  (A unit that learns its digit reaches
# intermediate activations on the ambiguous inputs: σ′ near 0.25 on some of them.)
SATURATED_SLOPE = 0.05


def confusion_matrix(labels, predictions, classes):
    """m[t][p]: how many samples of true class t were predicted as p."""
    m = [[0] * classes for _ in range(classes)]
    for t, p in zip(labels, predictions):
        m[t][p] += 1
    return m


def output_units(outputs, labels):
    """Per output unit j: min/max activation, max σ′ over all inputs, how often it
    is the argmax, and how many samples of class j there are.  A NaN activation
    counts in no minimum, maximum or σ′."""
    classes = len(outputs[0]) if outputs else 0
    units = [{"unit": j, "predicted": 0, "samples": 0} for j in range(classes)]
    for out, label in zip(outputs, labels):
        units[argmax(out)]["predicted"] += 1
        units[label]["samples"] += 1
    for u, a in zip(units, zip(*outputs)):      # min and max never pick a NaN after a number
        u["min"], u["max"] = min((1.0,) + a), max((0.0,) + a)
        u["max_slope"] = max((0.0,) + tuple(map(mul, a, map((1.0).__sub__, a))))   # a(1 - a)
    return units


def is_saturated(u):
    """σ′ = a(1 − a) < SATURATED_SLOPE for every input: the unit has stopped learning."""
    return u["samples"] > 0 and u["max_slope"] < SATURATED_SLOPE


def stuck_units(units):
    """The units that are saturated, or whose digit is never predicted."""
    return [u for u in units if is_saturated(u) or (u["predicted"] == 0 and u["samples"])]


def dead_unit_lines(units):
    """One plain sentence per output unit that is saturated or never predicted."""
    lines = []
    for u in stuck_units(units):
        j = u["unit"]
        if is_saturated(u):
            side = "near 0" if u["max"] < 0.5 else "near 1" if u["min"] > 0.5 else "at 0 or 1"
            lines.append(
                "output %d is saturated %s: %.3g <= a <= %.3g, so sigma' = a(1-a) <= %.2g "
                "for all %d inputs and the quadratic cost barely moves it "
                "(delta = (a - y) * sigma'); it is the argmax for %d inputs, %d are digit %d"
                % (j, side, u["min"], u["max"], u["max_slope"],
                   sum(v["samples"] for v in units), u["predicted"], u["samples"], j))
        else:
            lines.append("digit %d is never predicted (%d test samples; its output reaches "
                         "at most a = %.3g)" % (j, u["samples"], u["max"]))
    return lines


def format_report(labels, predictions, classes):
    """Per-class accuracy and the confusion matrix, as text."""
    m = confusion_matrix(labels, predictions, classes)
    lines = ["per-class accuracy (true class: hits / samples):"]
    cells = []
    for t in range(classes):
        total = sum(m[t])
        cells.append("%d: %5.1f%%" % (t, 100.0 * m[t][t] / total) if total else "%d:    -  " % t)
    for i in range(0, classes, 5):
        lines.append("  " + "   ".join(cells[i:i + 5]))
    lines.append("confusion matrix (rows: true class, columns: predicted):")
    lines.append("      " + "".join("%6d" % p for p in range(classes)))
    for t in range(classes):
        lines.append("  %2d  " % t + "".join("%6d" % v for v in m[t]))
    return "\n".join(lines)
