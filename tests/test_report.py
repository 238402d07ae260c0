"""The end-of-training report and the detection of stuck output units."""

from purenet.cli import report


def test_confusion_matrix_counts_true_against_predicted():
    m = report.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert m == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    text = report.format_report([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert "0:  50.0%" in text and "1: 100.0%" in text and "2:  66.7%" in text
    assert text.splitlines()[-1].split() == ["2", "1", "0", "2"]


def test_a_unit_stuck_near_zero_is_reported_with_its_numbers():
    # unit 2 never rises above 0.003 for any input, even for its own class
    outputs = [[0.9, 0.1, 0.001], [0.2, 0.7, 0.003], [0.6, 0.3, 0.002], [0.4, 0.5, 0.0005]]
    labels = [0, 1, 2, 2]
    units = report.output_units(outputs, labels)
    assert units[2]["predicted"] == 0 and units[2]["samples"] == 2
    assert abs(units[2]["max"] - 0.003) < 1e-12
    lines = report.dead_unit_lines(units)
    assert len(lines) == 1
    assert lines[0].startswith("output 2 is saturated near 0: 0.0005 <= a <= 0.003")
    assert "for all 4 inputs" in lines[0] and "argmax for 0 inputs, 2 are digit 2" in lines[0]


def test_a_unit_saturated_at_both_ends_is_not_said_to_be_near_one_end():
    # unit 1 is 1e-42 on one input and 0.999 on the others: saturated, but not "near 1"
    outputs = [[0.9, 1e-42], [0.0001, 0.999], [0.0002, 0.9995]]
    lines = report.dead_unit_lines(report.output_units(outputs, [0, 1, 1]))
    assert any(l.startswith("output 1 is saturated at 0 or 1: 1e-42 <= a <= 1,")
               for l in lines), lines
    near_one = report.dead_unit_lines(report.output_units([[0.99, 0.999], [0.995, 0.9999]],
                                                          [0, 1]))
    assert near_one[0].startswith("output 0 is saturated near 1: 0.99 <= a <= 0.995")


def test_a_unit_never_predicted_but_still_moving_is_named_differently():
    outputs = [[0.9, 0.3], [0.8, 0.4], [0.7, 0.45]]        # unit 1: σ′ up to 0.2475
    lines = report.dead_unit_lines(report.output_units(outputs, [0, 1, 1]))
    assert lines == ["digit 1 is never predicted (2 test samples; its output reaches at most "
                     "a = 0.45)"]


def test_healthy_units_are_not_reported():
    outputs = [[0.9, 0.1], [0.2, 0.8], [0.55, 0.5]]
    assert report.dead_unit_lines(report.output_units(outputs, [0, 1, 0])) == []


def units_by_loop(outputs, labels):
    """output_units as a plain loop over every activation: what it must equal."""
    units = [{"unit": j, "min": 1.0, "max": 0.0, "max_slope": 0.0, "predicted": 0,
              "samples": 0} for j in range(len(outputs[0]))]
    for out, label in zip(outputs, labels):
        best = 0
        for j in range(1, len(out)):
            if out[j] > out[best]:
                best = j
        units[best]["predicted"] += 1
        units[label]["samples"] += 1
        for j, a in enumerate(out):
            u = units[j]
            u["min"] = a if a < u["min"] else u["min"]
            u["max"] = a if a > u["max"] else u["max"]
            slope = a * (1.0 - a)
            u["max_slope"] = slope if slope > u["max_slope"] else u["max_slope"]
    return units


def test_output_units_is_the_loop_over_every_activation():
    import random
    rnd = random.Random(4)
    values = [0.0, 1.0, 0.5, 0.25, 0.75, 1e-300, float("nan")]
    for trial in range(300):
        classes, n = rnd.randint(1, 5), rnd.randint(1, 30)
        outputs = [[rnd.choice(values) if rnd.random() < 0.3 else rnd.random()
                    for _ in range(classes)] for _ in range(n)]
        labels = [rnd.randrange(classes) for _ in range(n)]
        assert report.output_units(outputs, labels) == units_by_loop(outputs, labels), trial


def test_argmax_is_the_first_largest_and_a_leading_nan_wins():
    from purenet.dataset import argmax
    assert argmax([0.1, 0.7, 0.7, 0.2]) == 1
    assert argmax([0.0, -0.0]) == 0 and argmax([-1.0]) == 0
    nan = float("nan")
    assert argmax([nan, 0.5, 0.9]) == 0            # as numpy.argmax: NaN is the maximum
    assert argmax([0.2, nan, 0.9]) == 2            # numpy would say 1; purenet never did
    assert argmax((3, 1, 3)) == 0
