"""Data sources: MNIST's files and their download cache, OpenML and scikit-learn digits.

Everything here uses the standard library only; scikit-learn (and the NumPy it
brings) is imported inside :func:`load_openml` and :func:`load_digits`, never at
module import.  Every loader returns ``(train, test)`` as compact
:class:`purenet.dataset.Dataset` objects: pixels stay ``bytes`` (one byte per
pixel), never a float per pixel.

MNIST's files are IDX files, read by :mod:`purenet.formats.idx` (raw or gzip).

MNIST lookup (:func:`find_mnist`, :func:`load_mnist`): an explicit ``data_dir``
alone; without one, ``$PURENET_DATA``, then the default cache (``data/mnist/`` in a
source checkout, else ``$XDG_CACHE_HOME/purenet/mnist`` or ``~/.cache/purenet/mnist``).
The first directory holding all four files is read as it is (no checksum: the
files are the user's).  If none has them, the missing files are downloaded into
the first of those directories, each one checked against its known SHA-256
before it gets its final name; folders created for a download that fails are
removed again.
"""

import hashlib
import http.client
import inspect
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

from .dataset import Dataset
from .errors import DataError
from .formats.idx import read_images, read_labels

__all__ = [
    "load_mnist_files",
    "mnist_dirs", "default_cache_dir", "find_mnist", "download_mnist", "load_mnist",
    "load_openml", "load_digits", "load_dataset",
    "MNIST_FILES", "MNIST_SHA256", "MIRRORS", "DATASETS", "SOURCES",
]

# ---------------------------------------------------------------------------
# MNIST from a directory

# (role, file name); the uncompressed name (without .gz) is accepted as well.
MNIST_FILES = (
    ("train-images", "train-images-idx3-ubyte.gz"),
    ("train-labels", "train-labels-idx1-ubyte.gz"),
    ("test-images", "t10k-images-idx3-ubyte.gz"),
    ("test-labels", "t10k-labels-idx1-ubyte.gz"),
)
_MNIST_NAMES = tuple(name for _, name in MNIST_FILES)

# SHA-256 of the files as distributed (sizes 9912422, 28881, 1648877, 4542 bytes).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Tried in turn; each URL is mirror + file name.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

TIMEOUT = 30.0  # seconds, per connection attempt / read


def _mnist_path(directory, name):
    """The file for ``name`` in directory (gz, else uncompressed), or None."""
    for candidate in (name, name[:-3]):
        p = os.path.join(directory, candidate)
        if os.path.isfile(p):
            return p
    return None


def _missing(directory):
    return [name for name in _MNIST_NAMES if _mnist_path(directory, name) is None]


def load_mnist_files(directory):
    """Read the four MNIST files in ``directory``: ``(train, test)`` Datasets.

    Files are read as they are (no checksum).  Each of the four names may also be
    present uncompressed (without ``.gz``).  The training set must have an image (the
    test set may be empty).  Both Datasets have ``origin`` = directory.
    """
    directory = os.fspath(directory)
    missing = _missing(directory)
    if missing:
        raise DataError("%s: missing MNIST file%s %s" % (
            directory, "s" if len(missing) > 1 else "", ", ".join(missing)))
    paths = dict((role, _mnist_path(directory, name)) for role, name in MNIST_FILES)
    out, shape = [], None
    for part in ("train", "test"):
        ipath, lpath = paths[part + "-images"], paths[part + "-labels"]
        count, rows, cols, pixels = read_images(ipath)
        if part == "train" and count == 0:
            raise DataError("%s: 0 images: a training set needs at least one" % ipath)
        lcount, labels = read_labels(lpath, classes=10)
        if count != lcount:
            raise DataError("%s has %d images but %s has %d labels"
                            % (ipath, count, lpath, lcount))
        if shape is None:
            shape = (rows, cols, ipath)
        elif (rows, cols) != shape[:2]:
            raise DataError("%s has %dx%d images but %s has %dx%d"
                            % (ipath, rows, cols, shape[2], shape[0], shape[1]))
        if rows * cols == 0:
            raise DataError("%s: images of %dx%d pixels" % (ipath, rows, cols))
        out.append(Dataset(rows * cols, 10, pixels=pixels, divisor=255.0, labels=labels,
                           name="mnist-" + part, origin=directory))
        del pixels, labels
    return out[0], out[1]


# ---------------------------------------------------------------------------
# Where MNIST lives

# The directory holding the purenet/ package: the repository root in a checkout.
_CHECKOUT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_cache_dir():
    """``data/mnist`` in a source checkout, else the user cache directory.

    A checkout is recognised by ``data/README.md`` next to the ``purenet/`` package
    with ``data/`` writable (an installed package has no such directory).  The user
    cache is ``$XDG_CACHE_HOME/purenet/mnist``, or ``~/.cache/purenet/mnist``.
    """
    repo_data = os.path.join(_CHECKOUT_ROOT, "data")
    if (os.path.isfile(os.path.join(repo_data, "README.md"))
            and os.access(repo_data, os.W_OK | os.X_OK)):
        return os.path.join(repo_data, "mnist")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "purenet", "mnist")


def mnist_dirs(data_dir=None):
    """The directories searched for MNIST, in order (the first is the download target).

    An explicit ``data_dir`` is the only one: the folder a user names is the one read
    (or downloaded into), never silently replaced by $PURENET_DATA or the cache.
    """
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        if not data_dir:
            raise DataError("the MNIST folder is an empty string: name a folder, or name "
                            "none to use $PURENET_DATA or the default cache")
        return [os.path.abspath(os.path.expanduser(data_dir))]
    dirs = []
    env = os.environ.get("PURENET_DATA")
    if env:
        dirs.append(os.path.abspath(os.path.expanduser(env)))
    dirs.append(os.path.abspath(default_cache_dir()))
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def find_mnist(data_dir=None):
    """The first directory of :func:`mnist_dirs` that holds all four files, or None."""
    for d in mnist_dirs(data_dir):
        if not _missing(d):
            return d
    return None


def _instructions(directory, missing=()):
    lines = ["Put these four files (from any MNIST mirror, e.g. %s) in %s:"
             % (MIRRORS[0] if MIRRORS else "the MNIST site", directory)]
    for name in _MNIST_NAMES:
        lines.append(("  %-28s%s" % (name, "(missing)" if name in missing else "")).rstrip())
    lines.append("or point --data-dir or $PURENET_DATA at a directory that has them.")
    return "\n".join(lines)


class _Progress:
    def __init__(self, name, total, enabled):
        self.name, self.total, self.enabled = name, total, enabled
        self.last = 0.0

    def update(self, done, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        mb = done / 1e6
        if self.total:
            line = "\rdownloading %s: %.1f / %.1f MB (%3d%%)" % (
                self.name, mb, self.total / 1e6, 100 * done // self.total)
        else:
            line = "\rdownloading %s: %.1f MB" % (self.name, mb)
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()


def _fetch(url, directory, name, sha256, progress):
    """Download url to directory/name via a temp file; rename only if the hash matches."""
    fd, tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".part", dir=directory)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
                total = resp.headers.get("Content-Length")
                bar = _Progress(name, int(total) if total and total.isdigit() else None,
                                progress)
                done = 0
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    bar.update(done)
                bar.update(done, final=True)
        digest = h.hexdigest()
        if sha256 and digest != sha256:
            raise DataError("sha256 mismatch for %s: got %s, expected %s"
                            % (url, digest, sha256))
        os.replace(tmp, os.path.join(directory, name))
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def download_mnist(directory, names=None, mirrors=None, progress=None):
    """Download MNIST files (default: all four) into directory, verified by SHA-256.

    Each file is tried on every mirror in turn; it is written to a temporary file
    in ``directory`` and renamed only once its SHA-256 matches, so no partial or
    wrong file is ever left under a real name.  Raises DataError (a multi-line
    message saying which files to put where) when a file cannot be had; then the
    folders this call created (a mistyped --data-dir) are removed again, with the
    files it fetched into them, but nothing that was there before.
    """
    directory = os.path.abspath(os.fspath(directory))
    names = list(_MNIST_NAMES if names is None else names)
    mirrors = list(MIRRORS if mirrors is None else mirrors)
    created, fetched = _absent_folders(directory), []
    try:
        _download(directory, names, mirrors, progress, fetched)
    except BaseException:                    # Ctrl-C too: leave no trace of a failed try
        _remove_created(created, fetched)
        raise
    return directory


def _absent_folders(directory):
    """directory and those of its parents that do not exist yet, deepest first."""
    out = []
    while not os.path.lexists(directory):
        out.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return out


def _remove_created(created, fetched):
    """Undo a failed download into folders it created: the files it fetched into the
    deepest (created[0]), then each created folder that is empty (never another file)."""
    if not created:
        return                          # the folder was there: keep the verified files
    for name in fetched:
        try:
            os.remove(os.path.join(created[0], name))
        except OSError:
            pass
    for folder in created:
        try:
            os.rmdir(folder)
        except OSError:
            return


def _download(directory, names, mirrors, progress, fetched):
    """download_mnist's work; each file that arrives is appended to fetched."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DataError("MNIST: cannot create the download directory %s: %s\n%s"
                        % (directory, e.strerror or e, _instructions(directory, names))) from None

    for name in names:
        errors, offline = [], True
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                _fetch(url, directory, name, MNIST_SHA256.get(name), progress)
                fetched.append(name)
                break
            except DataError as e:              # the bytes arrived but are not MNIST's
                errors.append(str(e))
                offline = False
            except urllib.error.HTTPError as e:  # the server answered: 404 and the like
                errors.append("%s: %s" % (url, e))
                offline = False
            except (OSError, ValueError, http.client.HTTPException) as e:
                # refused, DNS, timeouts, a cut connection, a malformed URL
                errors.append("%s: %s" % (url, getattr(e, "reason", None) or e))
        else:
            raise DataError(
                "MNIST: could not download %s into %s%s: %s\n%s"
                % (name, directory, " (offline?)" if offline else "",
                   "; ".join(errors) or "no mirrors to try",
                   _instructions(directory, _missing(directory))))


def load_mnist(data_dir=None, download=True, progress=None, mirrors=None):
    """MNIST as ``(train, test)`` Datasets, found (or downloaded) as the module says.

    The first directory of :func:`mnist_dirs` holding all four files is read as it
    is.  Otherwise the missing files are downloaded (``download=True``) into the
    first directory (``data_dir`` alone when given, else ``$PURENET_DATA``, else the
    default cache) from ``mirrors`` (default :data:`MIRRORS`), with progress on
    stderr when ``progress`` is true.
    """
    found = find_mnist(data_dir)
    if found is not None:
        return load_mnist_files(found)
    dirs = mnist_dirs(data_dir)
    target = dirs[0]
    missing = _missing(target)
    if not download:
        raise DataError("MNIST files not found in %s (download disabled)\n%s"
                        % (", ".join(dirs), _instructions(target, missing)))
    download_mnist(target, missing, mirrors=mirrors, progress=progress)
    return load_mnist_files(target)


# ---------------------------------------------------------------------------
# scikit-learn sources

def _sklearn_datasets(option):
    """sklearn.datasets, or a DataError naming the option that needs it."""
    try:
        import sklearn.datasets
    except ImportError:
        raise DataError('%s needs scikit-learn: pip install "purenet[sklearn]" (or leave '
                        'it out for MNIST from the IDX files)' % option) from None
    return sklearn.datasets


def _uint8_bytes(values, what):
    import numpy as np

    a = np.asarray(values)
    if a.size and (a.min() < 0 or a.max() > 255):
        raise DataError("%s: values outside 0..255 (%s..%s)" % (what, a.min(), a.max()))
    b = a.astype(np.uint8)
    if a.size and not (b == a).all():
        raise DataError("%s: values are not whole numbers" % what)
    return np.ascontiguousarray(b).tobytes()


def load_openml(progress=None, data_home=None):
    """MNIST the seed's way: OpenML ``mnist_784`` via scikit-learn (needs the network).

    The 70,000 rows are the original training set then the test set, so the first
    60,000 are train and the last 10,000 test.
    """
    datasets = _sklearn_datasets("--source openml")
    kwargs = {"version": 1, "as_frame": False}
    if data_home is not None:
        kwargs["data_home"] = data_home
    try:
        if "parser" in inspect.signature(datasets.fetch_openml).parameters:
            kwargs["parser"] = "auto"
    except (TypeError, ValueError):
        pass
    if progress:
        sys.stderr.write("fetching mnist_784 from OpenML (scikit-learn caches it)...\n")
        sys.stderr.flush()
    try:
        X, y = datasets.fetch_openml("mnist_784", return_X_y=True, **kwargs)
    except Exception as e:  # network, HTTP, cache and parser errors alike
        raise DataError("could not fetch mnist_784 from OpenML: %s: %s (or use the "
                        "default IDX files)" % (type(e).__name__, e)) from None
    if hasattr(X, "toarray"):
        X = X.toarray()
    shape = getattr(X, "shape", None)
    if shape is None or tuple(shape) != (70000, 784) or len(y) != 70000:
        raise DataError("OpenML mnist_784: expected 70000 x 784 samples, got %s and %d labels"
                        % (shape, len(y)))
    pixels = _uint8_bytes(X, "OpenML mnist_784 pixels")
    del X
    labels = bytes(int(v) for v in y)
    cut = 60000 * 784
    origin = "OpenML mnist_784 via scikit-learn"
    train = Dataset(784, 10, pixels=pixels[:cut], divisor=255.0, labels=labels[:60000],
                    name="mnist-train", origin=origin)
    test = Dataset(784, 10, pixels=pixels[cut:], divisor=255.0, labels=labels[60000:],
                   name="mnist-test", origin=origin)
    return train, test


DIGITS_TRAIN = 1500


def load_digits():
    """scikit-learn's bundled 8x8 digits (no network): first 1,500 train, 297 test.

    Pixels are 0..16, so the divisor is 16.
    """
    datasets = _sklearn_datasets("--dataset digits")
    d = datasets.load_digits()
    X, y = d.data, d.target
    n = len(y)
    pixels = _uint8_bytes(X, "digits pixels")
    if len(pixels) != n * 64:
        raise DataError("digits: expected 64 pixels per sample, got %d bytes for %d samples"
                        % (len(pixels), n))
    labels = bytes(int(v) for v in y)
    cut = DIGITS_TRAIN
    origin = "scikit-learn's bundled digits"
    train = Dataset(64, 10, pixels=pixels[:cut * 64], divisor=16.0, labels=labels[:cut],
                    name="digits-train", origin=origin)
    test = Dataset(64, 10, pixels=pixels[cut * 64:], divisor=16.0, labels=labels[cut:],
                   name="digits-test", origin=origin)
    return train, test


# ---------------------------------------------------------------------------
# One entry point

DATASETS = ("mnist", "digits")
SOURCES = ("files", "openml")


def load_dataset(name="mnist", source="files", data_dir=None, download=True, progress=None):
    """``(train, test)`` for ``name`` in :data:`DATASETS` from ``source`` in :data:`SOURCES`.

    ``files``: MNIST IDX files (:func:`load_mnist`), or for digits the copy bundled
    with scikit-learn; ``openml``: :func:`load_openml` (MNIST only).
    """
    if name not in DATASETS:
        raise DataError("unknown dataset %r: choose one of %s" % (name, ", ".join(DATASETS)))
    if source not in SOURCES:
        raise DataError("unknown source %r: choose one of %s" % (source, ", ".join(SOURCES)))
    if name == "digits":
        if source != "files":
            raise DataError("--source %s is only for mnist; digits come bundled with "
                            "scikit-learn" % source)
        return load_digits()
    if source == "openml":
        return load_openml(progress=progress)
    return load_mnist(data_dir=data_dir, download=download, progress=progress)
