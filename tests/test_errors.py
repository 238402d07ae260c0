"""Every error purenet raises is a purenet.PurenetError, and keeps its built-in base."""

import inspect
import os

import pytest

import purenet
from purenet import Network, errors
from purenet.formats.images import read_image
from conftest import needs_c


def test_every_error_class_has_the_one_base():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, BaseException)]
    assert len(classes) >= 10
    assert all(issubclass(c, purenet.PurenetError) for c in classes), classes


def raised(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value


def diverge():
    net = Network([2, 4, 2], seed=0, activation="relu", cost="cross-entropy")
    net.fit([([1.0, 1.0], [1.0, 0.0]), ([0.5, 1.0], [0.0, 1.0])] * 2, 5, batch_size=1,
            lr=1e200)


CASES = {
    "a bad size": (lambda: Network([784, 0, 10]), ValueError),
    "a bad setting": (lambda: Network([2, 2]).fit([([0.0, 0.0], [1.0, 0.0])], 1, lr=-1.0),
                      ValueError),
    "bad data": (lambda: purenet.Dataset(2, 2, xs=[0.0], labels=b"\x00"), ValueError),
    "a missing model file": (lambda: purenet.load("/nonexistent/model.json"), ValueError),
    "a folder as the save target": (lambda: Network([2, 2]).save("/"), ValueError),
    "a missing folder": (lambda: Network([2, 2]).save("/nonexistent/m.json"),
                         FileNotFoundError),
    "a missing image": (lambda: read_image("/nonexistent.png"), ValueError),
    "divergence": (diverge, ArithmeticError),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_error_is_a_purenet_error_and_its_builtin(case):
    call, builtin = CASES[case]
    e = raised(call)
    assert isinstance(e, purenet.PurenetError) and isinstance(e, builtin), repr(e)
    assert len(str(e).splitlines()) == 1


@needs_c
def test_the_c_engine_refuses_with_purenet_errors():
    net = Network([3, 2], seed=0, backend="c")
    e = raised(lambda: net.engine.train_order(purenet.Dataset(3, 2, xs=[0.0] * 3,
                                                              labels=b"\x01"),
                                              [5], 1, 1.0, n=1))
    assert isinstance(e, purenet.PurenetError) and isinstance(e, ValueError), repr(e)


def test_a_write_error_keeps_its_errno(tmp_path):
    e = raised(lambda: Network([2, 2]).save(os.path.join(str(tmp_path), "no", "m.json")))
    assert isinstance(e, errors.WriteError) and isinstance(e, FileNotFoundError)
    assert e.errno == 2
