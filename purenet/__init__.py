"""purenet: a multilayer perceptron from scratch.

``purenet.reference`` is the textbook (plain lists and ``math``); ``Network``
trains with it (``backend="python"``) or with the bit-identical C engine
(``backend="c"``, built with cffi).  Importing purenet needs only the standard
library.  Every error purenet raises is a :class:`PurenetError`.
"""

from . import data
from .dataset import Dataset
from .errors import (CEngineError, CEngineUnavailable, DataError, ImageError, InvalidArgument,
                     ModelFileError, PurenetError, SaveTargetError, TrainingDiverged)
from .network import Network, load, resume

__all__ = ["Network", "load", "resume", "data", "Dataset", "PurenetError", "DataError",
           "ModelFileError", "TrainingDiverged", "InvalidArgument", "ImageError",
           "SaveTargetError", "CEngineUnavailable", "CEngineError"]
__version__ = "0.1.0"
