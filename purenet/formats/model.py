"""The model file: what :meth:`purenet.Network.save` writes and :func:`purenet.load` reads.

JSON, versioned, nothing executed on reading::

    {"format": "purenet", "version": 3, "sizes": [784, 100, 10],
     "cost": "quadratic", "activation": "sigmoid", "init": "large",
     "weights": [...], "biases": [...], "meta": {"seed": 0, ..., "history": [...]}}

Floats are written with ``repr``, so they read back bit-identical.  The history keeps
each epoch's accuracies and costs but not its timings (``TIMINGS``): the same training
writes the same bytes.  Version 3 sizes may hold the conv and pool layers of chapter 6
("conv20x5", "pool2"; a conv layer's weights are nested [F][C][K][K], a pool layer's weights
and biases empty lists).  Version 2 files (whole-number sizes) and version 1 files
(sigmoid, quadratic and "large" only, no "init") are read too.
"""

import json
import os

from ..checks import INITS, check_params, check_sizes, is_layered, is_whole, short
from ..errors import InvalidArgument, ModelFileError
from ..reference import ACTIVATIONS, COSTS

FORMAT_NAME = "purenet"
FORMAT_VERSION = 3              # 2: whole-number sizes only; 1: also sigmoid / quadratic /
                                # "large" only, no "init"
CHECKPOINT_FORMAT_NAME = "purenet-checkpoint"   # the "format" of a checkpoint (checkpoint.py)
TIMINGS = ("seconds", "samples_per_s", "eval_seconds")    # kept out of the file


def document(sizes, kind, weights, biases, meta, history):
    """The model file's content (a dict for JSON).  kind: {"cost", "activation", "init"}."""
    info = dict(meta)
    info["history"] = [{k: v for k, v in record.items() if k not in TIMINGS}
                       for record in history]
    return dict({"format": FORMAT_NAME, "version": FORMAT_VERSION, "sizes": sizes}, **kind,
                weights=weights, biases=biases, meta=info)


def encode(doc):
    """JSON bytes of a model or checkpoint document; floats as repr, so they read back
    bit-identical."""
    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        raise InvalidArgument("cannot save: the network's parameters contain NaN or infinity "
                              "(training diverged; try a smaller --lr)") from None
    return (text + "\n").encode("utf-8")


def read_json(path, what="model"):
    """The JSON document in the file at path, and a ``fail(problem)`` that raises
    ModelFileError naming the file."""
    path = os.fspath(path)

    def fail(problem):
        raise ModelFileError("%s: %s" % (path, problem))

    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        fail("cannot read: %s" % (e.strerror or e))
    except ValueError as e:                      # UnicodeDecodeError too
        fail("not a purenet %s file (invalid JSON: %s)" % (what, e))
    except RecursionError:
        fail("not a purenet %s file (JSON nested too deeply)" % what)
    except MemoryError:
        fail("too large to read into memory")
    return doc, fail


def parse(doc, fail):
    """A model document checked: {"sizes", "kind", "weights", "biases", "meta",
    "history"}; every problem is a ``fail(problem)``."""
    if isinstance(doc, dict) and doc.get("format") == CHECKPOINT_FORMAT_NAME:
        fail("this is a checkpoint, not a model file: purenet.resume reads it "
             "(purenet-train --resume)")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        fail("not a purenet model file (no \"format\": \"purenet\")")
    version = doc.get("version")
    if not is_whole(version) or version not in (1, 2, FORMAT_VERSION):
        fail("model format version %s is not supported (this purenet reads versions 1 to %d)"
             % (short(version), FORMAT_VERSION))
    kind = {"cost": doc.get("cost"), "activation": doc.get("activation"),
            "init": doc.get("init", "large") if version == 1 else doc.get("init")}
    choices = {"cost": tuple(COSTS), "activation": tuple(ACTIVATIONS), "init": INITS}
    if version == 1:
        choices = {"cost": ("quadratic",), "activation": ("sigmoid",), "init": ("large",)}
    for key, value in kind.items():
        if value not in choices[key]:
            fail("%s %s is not supported in a version %d file (use one of %s)"
                 % (key, short(value), version, ", ".join(choices[key])))
    try:
        sizes = check_sizes(doc.get("sizes"))        # before anything is allocated
    except ValueError as e:
        fail("\"sizes\": %s" % e)
    if version < 3 and is_layered(sizes):
        fail("\"sizes\" has conv or pool layers, which a version %d file cannot hold" % version)
    weights, biases = doc.get("weights"), doc.get("biases")
    if not isinstance(weights, list) or not isinstance(biases, list):
        fail("\"weights\" and \"biases\" must be lists")
    try:
        check_params(sizes, weights, biases)
    except ValueError as e:
        fail(str(e))
    except TypeError:
        fail("weights/biases have the wrong structure")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        fail("\"meta\" must be an object")
    meta = dict(meta)
    history = meta.pop("history", [])
    return {"sizes": sizes, "kind": kind, "weights": weights, "biases": biases, "meta": meta,
            "history": list(history) if isinstance(history, list) else []}
