"""Fuzzing the model loader (issue 9, §5): whatever a file holds, ``purenet.load`` returns
a network or raises ModelFileError, nothing else, and its memory stays bounded.

The cases start from one small valid model file (made here, not stored) and change it:
random JSON in place of each field, random header values, truncations, bit flips, and odd
number tokens.  hypothesis runs them derandomized (the same cases every run).
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import purenet
from purenet import ModelFileError, Network
from helpers import PYPY, peak_memory

FUZZ = settings(max_examples=600, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Bytes at the peak while a case loads: Python's allocations (tracemalloc).  PyPy's resident
# set also takes earlier objects moved out of the nursery and the parser's stack (up to 23 MB
# seen, at 5,000 nested brackets); a network built from sizes here takes 40 MB or more there.
MAX_PEAK = 32 * 10 ** 6 if PYPY else 10 ** 7

text = st.text(st.characters(max_codepoint=0x24f), max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text
    | st.integers(min_value=-10 ** 400, max_value=10 ** 400),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8)
sizes_values = (st.lists(st.integers(min_value=-3, max_value=10 ** 12), max_size=6)
                | st.lists(st.integers(min_value=1, max_value=5 * 10 ** 6), min_size=2,
                           max_size=3))       # large enough to hurt if a network were built
HEADER = {
    "format": st.sampled_from(["purenet", "Purenet", ""]),
    "version": st.sampled_from([0, 1, 2, 3, 2.0, True, "2", -(2 ** 64)]) | st.integers(),
    "sizes": sizes_values | st.just([3, 2, 2]) | st.just([3, 2]) | st.just([3, 2, 2, 2]),
    "cost": st.sampled_from(["quadratic", "cross-entropy", "log-likelihood", "hinge", ""]),
    "activation": st.sampled_from(["sigmoid", "tanh", "relu", "elu", "Sigmoid"]),
    "init": st.sampled_from(["large", "scaled", "xavier"]),
}


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """(folder, text of a valid 3-2-2 model file, its document)."""
    folder = tmp_path_factory.mktemp("fuzz")
    net = Network([3, 2, 2], seed=3, cost="cross-entropy", activation="tanh")
    net.fit([([0.5, 0.0, 1.0], [1.0, 0.0]), ([0.0, 0.25, 0.5], [0.0, 1.0])], 2, 1, 0.5)
    net.save(folder / "valid.json")
    text = (folder / "valid.json").read_text()
    return folder, text, json.loads(text)


def load_bytes(folder, data):
    """load() of a file holding data: the network, or None after a ModelFileError (one line
    naming the file); either way with little memory at the peak."""
    path = folder / "case.json"
    path.unlink(missing_ok=True)       # a new file: overwriting one makes ext4 flush it
    path.write_bytes(data)
    with peak_memory() as mem:
        try:
            net = purenet.load(path)
        except ModelFileError as e:
            assert str(e).startswith(str(path) + ": ") and "\n" not in str(e)
            net = None
    assert mem.peak < MAX_PEAK, "loading took %.0f MB" % (mem.peak / 1e6)
    return net


def test_random_json_in_place_of_any_field(valid):
    folder, _, doc = valid

    @FUZZ
    @given(st.dictionaries(st.sampled_from(sorted(doc) + ["extra"]), json_values, min_size=1,
                           max_size=3),
           st.sets(st.sampled_from(sorted(doc)), max_size=2))
    def case(changes, dropped):
        changed = {k: v for k, v in doc.items() if k not in dropped}
        changed.update(changes)
        net = load_bytes(folder, json.dumps(changed).encode())
        if net is not None:                # e.g. an extra key, another meta
            assert net.weights == changed["weights"] and net.biases == changed["biases"]
    case()


def test_random_header_values(valid):
    folder, _, doc = valid

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=HEADER))
    def case(header):
        changed = dict(doc, **header)
        net = load_bytes(folder, json.dumps(changed).encode())
        if net is not None:
            assert net.sizes == [3, 2, 2] and changed["format"] == "purenet"
    case()


def test_any_document_at_all(valid):
    folder = valid[0]

    @FUZZ
    @given(json_values | st.dictionaries(st.just("format"), st.just("purenet")))
    def case(value):
        assert load_bytes(folder, json.dumps(value).encode()) is None
    case()


def test_truncations(valid):
    folder, text, _ = valid
    data = text.encode()
    end = len(text.rstrip())

    @FUZZ
    @given(st.integers(min_value=0, max_value=len(data)))
    def case(cut):
        net = load_bytes(folder, data[:cut])
        assert (net is not None) == (cut >= end)     # only the final newline may go
    case()


def test_bit_flips(valid):
    folder, text, doc = valid
    data = text.encode()

    @FUZZ
    @given(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 7)), min_size=1,
                    max_size=6))
    def case(flips):
        changed = bytearray(data)
        for at, bit in flips:
            changed[at] ^= 1 << bit
        net = load_bytes(folder, bytes(changed))
        if net is not None:                 # a flip inside a digit or a key of meta
            assert net.sizes == doc["sizes"]
    case()


NUMBER_TOKENS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 400, "9" * 5000,
                 "true", "null", '"0.5"', "[]", "{}", "1e-999", "-0", "0x10", "1_0", "+1",
                 ".5", "5.", "[" * 5000 + "1" + "]" * 5000, "[" * 100000]


def test_odd_tokens_in_place_of_a_number(valid):
    folder, text, doc = valid
    numbers = [repr(v) for w in doc["weights"] for row in w for v in row]

    @FUZZ
    @given(st.sampled_from(numbers), st.sampled_from(NUMBER_TOKENS) | st.integers().map(str)
           | st.floats().map(json.dumps))
    def case(number, token):
        net = load_bytes(folder, text.replace(number, token, 1).encode())
        if net is not None:                 # a finite number in its place
            assert len(net.weights) == 2
    case()
