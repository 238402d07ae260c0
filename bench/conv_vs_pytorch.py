"""purenet.convolution against PyTorch's autograd, float64: conv2d's forward sums, its
input, weight and bias gradients, and max_pool2d (values, chosen positions with ties,
the routed gradient).

    python bench/conv_vs_pytorch.py         (needs torch: pip install torch)

Prints, per shape, the worst error relative to the largest value (PyTorch adds its
terms in another order, so the bits may differ: the target is below 1e-14), and whether
pooling agrees exactly; exits 1 if anything is off.
"""

import random
import sys

import torch

from purenet import convolution as cv

CONV_SHAPES = [  # (C, H, W, F, K)
    (1, 4, 4, 1, 2), (2, 5, 7, 3, 3), (3, 6, 5, 4, 1), (2, 3, 3, 3, 3), (1, 9, 1, 2, 1),
    (2, 8, 8, 20, 5), (1, 28, 28, 3, 5)]
POOL_SHAPES = [(1, 4, 4, 2), (3, 6, 9, 3), (2, 5, 7, 1), (20, 24, 24, 2)]   # (C, H, W, P)
TOLERANCE = 1e-14


def maps(rng, c, h, w, draw):
    return [[[draw() for _ in range(w)] for _ in range(h)] for _ in range(c)]


def relative_error(ours, theirs):
    """max |ours − theirs| / max |theirs| over every element."""
    scale = max(abs(v) for v in theirs) or 1.0
    return max(abs(u - v) for u, v in zip(ours, theirs)) / scale


def conv_errors(c, h, w, f, k):
    """The worst relative errors of z, ∂C/∂a, ∂C/∂w, ∂C/∂b for one random case."""
    rng = random.Random(h * w + f)
    a = maps(rng, c, h, w, lambda: rng.uniform(-1, 1))
    for ch in range(c):                                    # ReLU-like zeros in the input
        for y in range(0, h, 2):
            a[ch][y][0] = 0.0
    wt = [maps(rng, c, k, k, lambda: rng.gauss(0, 0.7)) for _ in range(f)]
    b = [rng.gauss(0, 0.5) for _ in range(f)]
    delta = maps(rng, f, h - k + 1, w - k + 1, lambda: rng.uniform(-1, 1))
    x = torch.tensor([a], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(wt, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(x, tw, tb).backward(torch.tensor([delta], dtype=torch.float64))
    z = torch.nn.functional.conv2d(x, tw, tb).detach().flatten().tolist()
    ours = [cv.flatten(cv.conv_sums(wt, b, a)),
            cv.flatten(cv.conv_backward_error(wt, delta, (c, h, w))),
            [v for g in cv.conv_weight_gradient(delta, a, k) for v in cv.flatten(g)],
            cv.conv_bias_gradient(delta)]
    theirs = [z, x.grad.flatten().tolist(), tw.grad.flatten().tolist(), tb.grad.tolist()]
    return [relative_error(o, t) for o, t in zip(ours, theirs)]


def pool_agrees(c, h, w, p):
    """Values from {−2, …, 2}, so windows tie often: values, positions and gradient ==."""
    rng = random.Random(c + h + w + p)
    a = maps(rng, c, h, w, lambda: float(rng.randint(-2, 2)))
    m, choices = cv.max_pool(a, p)
    x = torch.tensor([a], dtype=torch.float64, requires_grad=True)
    out, idx = torch.nn.functional.max_pool2d(x, p, return_indices=True)
    delta = maps(rng, c, h // p, w // p, lambda: rng.uniform(-1, 1))
    out.backward(torch.tensor([delta], dtype=torch.float64))
    return (cv.flatten(m) == out.detach().flatten().tolist()
            and [y * w + xx for mp in choices for row in mp for (y, xx) in row]
            == idx.flatten().tolist()
            and cv.flatten(cv.pool_backward(delta, choices, (c, h, w)))
            == x.grad.flatten().tolist())


def main():
    ok = True
    print("conv (C, H, W, F, K)      z          dC/da      dC/dw      dC/db")
    for shape in CONV_SHAPES:
        errors = conv_errors(*shape)
        ok &= max(errors) < TOLERANCE
        print("%-24s" % (shape,) + "".join("  %.1e  " % e for e in errors))
    for shape in POOL_SHAPES:
        same = pool_agrees(*shape)
        ok &= same
        print("max_pool (C, H, W, P) %-16s %s" % (shape, "== PyTorch" if same else "DIFFERS"))
    print("agree" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
