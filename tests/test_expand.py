"""--expand and purenet.dataset.expand: every training image again, shifted by one pixel up,
down, left and right (the book's expand_mnist.py)."""

import json
import os
import platform
import subprocess
import sys
from array import array

import pytest

import purenet
from purenet.cli import train as train_cli
from purenet.dataset import SHIFTS, Dataset, expand
from purenet.errors import DataError

from conftest import ROOT, needs_c
from helpers import assert_same, write_idx

# A 3x3 image, its pixels numbered row by row, and the four shifts worked by hand.
IMAGE = [1, 2, 3,
         4, 5, 6,
         7, 8, 9]
SHIFTED = {"up": [4, 5, 6,             # every row moves up; the bottom row is new: 0
                  7, 8, 9,
                  0, 0, 0],
           "down": [0, 0, 0,
                    1, 2, 3,
                    4, 5, 6],
           "left": [2, 3, 0,           # every column moves left; the right column is 0
                    5, 6, 0,
                    8, 9, 0],
           "right": [0, 1, 2,
                     0, 4, 5,
                     0, 7, 8]}
OTHER = [10 * v for v in IMAGE]       # a second image: nothing of it may leak into the first


def images(data):
    """Every sample's inputs as a list: raw pixel values, or the floats."""
    d = data.n_in
    if data.pixels is not None:
        return [list(data.pixels[i * d:(i + 1) * d]) for i in range(data.n)]
    return [data.x(i) for i in range(data.n)]


def expected(first, second):
    """The expanded order: both originals, then both shifted up, both down, left, right."""
    out = [first, second]
    for name, _, _ in SHIFTS:
        out += [shift(first, name), shift(second, name)]
    return out


def shift(image, name):
    """image shifted as SHIFTED[name] shows IMAGE shifted (by position, not value)."""
    return [image[IMAGE.index(v)] if v else 0 for v in SHIFTED[name]]


def test_the_shifts_are_up_down_left_right_in_that_order():
    assert [name for name, _, _ in SHIFTS] == ["up", "down", "left", "right"]


def test_each_shift_of_pixels_as_worked_by_hand():
    data = Dataset(9, 10, pixels=bytes(IMAGE + OTHER), labels=bytes([3, 7]))
    out = expand(data)
    assert out.n == 10 and len(data) == 2                   # 5x, and the input is untouched
    got = images(out)
    assert got[0] == IMAGE and got[1] == OTHER
    for k, (name, _, _) in enumerate(SHIFTS, 1):
        assert got[2 * k] == SHIFTED[name], name
        assert got[2 * k + 1] == [10 * v for v in SHIFTED[name]], name
    assert list(out.labels) == [3, 7] * 5                   # labels follow their images
    assert out.x(2) == [p / 255.0 for p in SHIFTED["up"]] and out.divisor == 255.0


def test_float_inputs_and_target_vectors_follow_the_same_shifts():
    first = [v - 4.5 for v in IMAGE]                        # negative, positive, no zero
    second = [v / 7.0 for v in OTHER]
    targets = [[0.25, 0.75], [1.0, -2.0]]
    data = Dataset(9, 2, xs=first + second, ys=targets[0] + targets[1])
    out = expand(data)
    assert images(out) == expected(first, second)
    assert [out.y(i) for i in range(out.n)] == targets * 5
    assert all(v == 0.0 and str(v) == "0.0" for v in out.x(2)[6:])   # +0.0 shifted in


def test_float_inputs_with_labels():
    data = Dataset(9, 10, xs=[float(v) for v in IMAGE], labels=bytes([4]))
    out = expand(data)
    assert out.n == 5 and list(out.labels) == [4] * 5
    assert out.x(4) == [float(v) for v in SHIFTED["right"]]


def test_a_larger_image_and_many_samples_match_a_pixel_by_pixel_shift():
    side, n = 5, 7
    pixels = bytes((13 * i + 1) % 256 for i in range(n * side * side))
    out = expand(Dataset(side * side, 10, pixels=pixels, labels=bytes(range(n))))
    assert out.n == 5 * n
    for k, (name, dy, dx) in enumerate(SHIFTS, 1):
        for i in range(n):
            img = pixels[i * side * side:(i + 1) * side * side]
            want = [img[(y + dy) * side + x + dx]
                    if 0 <= y + dy < side and 0 <= x + dx < side else 0
                    for y in range(side) for x in range(side)]
            assert images(out)[k * n + i] == want, (name, i)


def test_a_one_pixel_image_shifts_to_nothing_and_empty_data_stays_empty():
    out = expand(Dataset(1, 2, pixels=bytes([200, 100]), labels=bytes([0, 1])))
    assert images(out) == [[200], [100]] + [[0]] * 8
    assert expand(Dataset(4, 2, pixels=b"", labels=b"")).n == 0


@pytest.mark.parametrize("n_in", [2, 6, 8, 783])
def test_inputs_that_are_not_a_square_image_are_refused(n_in):
    data = Dataset(n_in, 2, pixels=bytes(2 * n_in), labels=bytes([0, 1]), name="training data")
    with pytest.raises(DataError) as e:
        expand(data)
    assert str(e.value) == ("training data: expanding shifts square images, and %d inputs per "
                            "sample is not r x r pixels" % n_in)


def resident_peak_kb():
    """The process's peak resident set (VmHWM), in kB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


# What expand() may hold beside its output while it works, in blocks of the input's size:
# CPython copies between buffers with no temporary (measured: 0.04 blocks).  PyPy copies
# each memoryview slice it is given into a temporary its collector frees later (measured:
# 4.6 to 9.9 blocks), so there the test only tells bytes from a float per pixel (35 more).
SLACK = {"CPython": 0.2, "PyPy": 12}


def test_the_expanded_pixels_are_read_only_and_written_once():
    block = 784 * 5000                                       # 3.9 MB: well above the noise
    data = Dataset(784, 10, pixels=bytes(range(196)) * (block // 196), labels=bytes(5000))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                         # VmHWM := VmRSS
    before = resident_peak_kb() * 1024
    out = expand(data)
    peak = resident_peak_kb() * 1024 - before
    slack = SLACK[platform.python_implementation()]
    assert 5 * block <= peak < (5 + slack) * block, peak / block     # no second copy
    with pytest.raises(TypeError):
        out.pixels[0] = 1
    part = out.part(1000, 2000)                              # shared, not copied
    assert part.pixels.obj is out.pixels.obj


def test_a_read_only_view_of_a_users_bytearray_is_still_copied():
    buf = bytearray(IMAGE)
    d = Dataset(9, 10, pixels=memoryview(buf).toreadonly(), labels=bytes([1]))
    buf[0] = 200
    assert isinstance(d.pixels, bytes) and d.pixels[0] == 1


@needs_c
def test_both_engines_train_on_expanded_pixels_to_the_same_bits():
    rows = bytes((37 * i) % 256 if i % 3 else 0 for i in range(16 * 12))
    data = expand(Dataset(16, 3, pixels=rows, labels=bytes(i % 3 for i in range(12))))
    nets = [purenet.Network([16, 5, 3], seed=1, backend=b) for b in ("python", "c")]
    for net in nets:
        net.fit(data, 2, batch_size=7, lr=0.5)
    assert_same("weights", nets[1].weights, nets[0].weights)
    assert_same("biases", nets[1].biases, nets[0].biases)


# --- the command line ---------------------------------------------------------------

def cli(*args):
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    return subprocess.run([sys.executable, "-m", "purenet.train"] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_only_the_training_part_is_expanded(tiny_mnist):
    args = train_cli.parse_args(["--data-dir", tiny_mnist, "--validation", "10", "--expand",
                                 "--no-download"])
    train, validation, test = train_cli.load_data(args)
    plain = train_cli.load_data(train_cli.parse_args(["--data-dir", tiny_mnist,
                                                      "--validation", "10", "--no-download"]))
    assert (train.n, validation.n, test.n) == (250, 10, 20)
    assert images(train)[:50] == images(plain[0])            # the originals first
    assert images(validation) == images(plain[1]) and images(test) == images(plain[2])
    assert bytes(train.labels) == bytes(plain[0].labels) * 5


def test_cli_says_how_many_samples(tiny_mnist):
    out = cli("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "1", "--expand",
              "--validation", "10")
    assert out.returncode == 0, out.stderr
    assert "250 training (50 and their 4 one-pixel shifts) / 20 test samples" in \
        out.stdout.splitlines()[0]


def test_cli_refuses_images_that_are_not_square(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, n in (("train", 6), ("t10k", 2)):
        write_idx(str(folder / (prefix + "-images-idx3-ubyte.gz")), (n, 2, 3), bytes(6 * n))
        write_idx(str(folder / (prefix + "-labels-idx1-ubyte.gz")), (n,), bytes(n))
    out = cli("--data-dir", folder, "--expand", "--epochs", "1")
    assert out.returncode == 2, out.stderr
    [line] = out.stderr.splitlines()
    assert "--expand shifts square images, and mnist's have 6 pixels, not r x r" in line, line
    assert cli("--data-dir", folder, "--epochs", "1").returncode == 0     # without it, fine


RUN = ["--sizes", "784,12,10", "--batch-size", "7", "--lr", "0.5", "--cost", "cross-entropy",
       "--seed", "2", "--limit", "30", "--expand"]


def saved(path):
    doc = json.loads(open(path).read())
    return doc["weights"], doc["biases"]


def test_a_resumed_expand_run_ends_with_the_uninterrupted_bits(tiny_mnist, tmp_path):
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 3, "--save", tmp_path / "full.json")
    assert out.returncode == 0, out.stderr
    ck = tmp_path / "run.ckpt"
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 1, "--checkpoint", ck)
    assert out.returncode == 0, out.stderr
    assert json.loads(ck.read_text())["data"]["n"] == 150           # the expanded data's
    # --expand comes from the checkpoint: the fingerprint of the expanded data matches.
    out = cli("--data-dir", tiny_mnist, "--resume", ck, "--epochs", 2)
    assert out.returncode == 0, out.stderr
    assert "150 training (30 and their 4 one-pixel shifts)" in out.stdout
    out = cli("--data-dir", tiny_mnist, "--resume", ck, "--epochs", 3, "--expand",
              "--save", tmp_path / "resumed.json")
    assert out.returncode == 0, out.stderr
    assert saved(tmp_path / "resumed.json") == saved(tmp_path / "full.json")


def test_resuming_without_the_checkpoints_expansion_is_refused(tiny_mnist, tmp_path):
    plain, ck = tmp_path / "plain.ckpt", tmp_path / "run.ckpt"
    assert cli("--data-dir", tiny_mnist, *RUN[:-1], "--epochs", 1,
               "--checkpoint", plain).returncode == 0
    out = cli("--data-dir", tiny_mnist, "--resume", plain, "--epochs", 2, "--expand")
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert "--expand contradicts the checkpoint %s, made with no --expand" % plain in line
    assert cli("--data-dir", tiny_mnist, *RUN, "--epochs", 1, "--checkpoint", ck).returncode == 0
    doc = json.loads(ck.read_text())
    del doc["model"]["meta"]["run"]["expand"]        # as if --expand had been given elsewhere
    ck.write_text(json.dumps(doc))
    out = cli("--data-dir", tiny_mnist, "--resume", ck, "--epochs", 2)     # unexpanded data
    assert out.returncode == 1
    assert "the training data differs from the checkpoint's: 30 samples" in out.stderr


def test_float_inputs_stay_an_array_of_doubles():
    data = expand(Dataset(4, 2, xs=array("d", [0.5] * 8), ys=[1.0, 0.0, 0.0, 1.0]))
    assert isinstance(data.xs, array) and isinstance(data.ys, array)


def test_monitor_counts_the_training_hits_a_chunk_at_a_time(monkeypatch):
    import purenet.network as network
    monkeypatch.setattr(network, "MONITOR_CHUNK", 7)          # 30 samples: 7+7+7+7+2
    data = expand(Dataset(9, 3, pixels=bytes((5 * i) % 256 for i in range(54)),
                          labels=bytes(i % 3 for i in range(6))))
    net = purenet.Network([9, 4, 3], seed=3)
    [record] = net.fit(data, 1, batch_size=4, lr=2.0, monitor=True)
    assert record["training_accuracy"] == net.evaluate(data) / 30
