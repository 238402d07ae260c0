"""purenet: a multilayer perceptron from scratch.

``purenet.reference`` is the textbook (plain lists and ``math``); ``Network``
trains with it (``backend="python"``) or with the bit-identical C engine
(``backend="c"``, built with cffi).  Importing purenet needs only the standard
library.
"""

from .dataset import Dataset, DataError
from .network import Network, ModelFileError, TrainingDiverged, load
from .checkpoint import resume

__all__ = ["Network", "load", "resume", "Dataset", "DataError", "ModelFileError",
           "TrainingDiverged"]
__version__ = "0.1.0"
