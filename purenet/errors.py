"""Every error purenet raises: one base, :class:`PurenetError`.

Each class also keeps the built-in base its callers have always caught, so that
``except ValueError`` (or ``ImportError``, ``OSError``, ...) still works::

    try:
        net = purenet.load("model.json")
    except purenet.PurenetError as e:       # or: except purenet.ModelFileError
        print(e)                            # one line: the file and the problem

Every message is one line that names the problem and, where there is one, the fix.
"""


class PurenetError(Exception):
    """The base of every error purenet raises."""


class InvalidArgument(PurenetError, ValueError):
    """A value purenet refuses: a size, a setting, a parameter, a sample index."""


class InvalidType(PurenetError, TypeError):
    """An argument of the wrong type where no conversion makes sense."""


class DataError(PurenetError, ValueError):
    """A dataset that cannot be used: the message names the problem and the fix."""


class ModelFileError(PurenetError, ValueError):
    """A model or checkpoint file that cannot be read: the message names the file and the
    problem."""


class ImageError(PurenetError, ValueError):
    """An image file that cannot be read: the message names the file and the problem."""


class SaveTargetError(PurenetError, ValueError):
    """A path that cannot be a file to write: empty, a directory, a FIFO, a device..."""


class WriteError(PurenetError, OSError):
    """What the system refused while writing a file (a missing folder, a full disk).

    What is raised is also the OSError subclass its errno maps to (FileNotFoundError,
    PermissionError, ...): see :func:`write_error`."""


_WRITE_ERRORS = {}


def write_error(err, message):
    """A WriteError that is also the OSError subclass errno err maps to."""
    kind = type(OSError(err, message))           # FileNotFoundError for ENOENT, ...
    if kind not in _WRITE_ERRORS:
        _WRITE_ERRORS[kind] = type(kind.__name__, (WriteError, kind), {})
    return _WRITE_ERRORS[kind](err, message)


class TrainingDiverged(PurenetError, ArithmeticError):
    """fit stopped because a weight or bias became NaN or infinite during an epoch.

    ``epoch`` is that epoch's number (as in the history).  The epoch is not recorded and the
    callback is not called for it; the network keeps the diverged parameters.
    """

    def __init__(self, epoch):
        super().__init__("training diverged at epoch %d: try a smaller --lr" % epoch)
        self.epoch = epoch


class CEngineUnavailable(PurenetError, ImportError):
    """The compiled module purenet._ckernels (or cffi, which it needs) is missing."""


class CEngineError(PurenetError, RuntimeError):
    """The C code refused a call (its error code and message are in the text)."""


class CEngineMemoryError(PurenetError, MemoryError):
    """The C code could not allocate the memory a call needs."""


class GradientError(PurenetError):
    """gradcheck: the user's gradient function failed or returned the wrong thing."""


class UsageError(PurenetError):
    """A bad command-line option value: reported in one line, exit code 2."""


class SaveError(PurenetError):
    """The trained model could not be written: reported in one line, exit code 1."""
