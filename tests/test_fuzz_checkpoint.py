"""Fuzzing the checkpoint reader: whatever the file holds, resume() gives a network or one
ModelFileError, never another exception."""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import purenet
from purenet import DataError, ModelFileError, Network, TrainingDiverged

FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _data():
    rnd = random.Random(0)
    return [([rnd.random() for _ in range(3)], [float(rnd.random() < 0.5), 0.0])
            for _ in range(5)]


def _valid(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "run.ckpt"
    data = _data()
    Network([3, 2, 2], seed=1).fit(data, 1, batch_size=2, lr=0.5, momentum=0.5,
                                   validation=data, early_stop=2, lr_schedule=1,
                                   checkpoint=path)           # every part a checkpoint has
    return path.read_bytes()


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return _valid(tmp_path_factory)


def _resume_bytes(tmp_path, blob):
    path = tmp_path / "fuzzed.ckpt"
    path.write_bytes(blob)
    try:
        net = purenet.resume(path)
    except ModelFileError as e:
        assert str(e).startswith(str(path) + ": ") and "\n" not in str(e)
        return None
    try:                                   # what resume() accepted, fit() can continue
        net.fit(_data(), 1, validation=_data(), **net.fit_settings)
    except (DataError, TrainingDiverged):  # other data (the fingerprint), or huge weights
        pass
    return net


@FUZZ
@given(cut=st.integers(min_value=0), flips=st.lists(st.integers(min_value=0), max_size=4))
def test_truncations_and_bit_flips(valid, tmp_path, cut, flips):
    blob = bytearray(valid[:cut % (len(valid) + 1)])
    for f in flips:
        if blob:
            blob[(f // 8) % len(blob)] ^= 1 << (f % 8)
    _resume_bytes(tmp_path, bytes(blob))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for k, v in items:
        yield from _paths(v, prefix + (k,))


@FUZZ
@given(data=st.data())
def test_any_part_replaced_by_any_json(valid, tmp_path, data):
    doc = json.loads(valid)
    paths = [p for p in _paths(doc) if len(p) <= 5]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON)
    if not path:
        doc = value
    else:
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    _resume_bytes(tmp_path, json.dumps(doc).encode())


@FUZZ
@given(sizes=st.lists(st.integers(min_value=-3, max_value=2 ** 40), min_size=0, max_size=5),
       version=st.integers(min_value=-1, max_value=3))
def test_header_values(valid, tmp_path, sizes, version):
    doc = json.loads(valid)
    doc["model"]["sizes"] = sizes
    doc["version"] = version
    _resume_bytes(tmp_path, json.dumps(doc).encode())


def test_deep_nesting_and_huge_numbers(valid, tmp_path):
    assert _resume_bytes(tmp_path, b"[" * 100000) is None
    for where in ("weights", "velocities"):
        doc = json.loads(valid)
        node = doc["model"] if where == "weights" else doc
        node[where][0][0][0] = 10 ** 400                      # an int too big for a float
        assert _resume_bytes(tmp_path, json.dumps(doc).encode()) is None
