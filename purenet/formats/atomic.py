"""Writing a file that replaces another without surprises: :func:`write_atomically`.

A reader of the path sees the old file or the new one, never half of one, and a
``kill -9`` at any moment leaves one of the two.  On the way:

* the path is checked first (:func:`check_target`, which a command line can also call
  before any work, so that a bad path is refused before an hour of training);
* a symlink is written through: the file it points to is replaced and the link stays;
* a FIFO, a device, a socket or a directory is refused, never replaced;
* the new file's mode is the old file's, or for a new file what the umask gives (as for
  any file a user creates);
* the temp file is created next to the real target, written, fsync'ed, renamed onto the
  target, and then the folder is fsync'ed, so the rename is on disk too;
* on any failure, Ctrl-C included, the temp file is removed and the target is untouched;
  one that a killed process left is removed by the next save to the same target.

Errors: :class:`purenet.errors.SaveTargetError` (a ``ValueError``) for a path that cannot
name a file to write; a :class:`purenet.errors.WriteError`, also an ``OSError`` of the usual
subclass (``FileNotFoundError``, ``PermissionError``, ...), for what the system refuses,
its message naming the target.
"""

import errno
import os
import stat

from ..errors import SaveTargetError, write_error

__all__ = ["check_target", "probe_target", "write_atomically"]


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _os_error(err, message):
    """A WriteError that is also the OSError subclass errno ``err`` maps to."""
    return write_error(err if err is not None else errno.EIO, message)


def check_target(path, example="model.json"):
    """Check that ``path`` can be written by :func:`write_atomically`, touching nothing.

    Returns ``(real, mode)``: the file that will be replaced or created (symlinks
    resolved) and the existing file's permission bits, or None if there is no file yet.
    Raises SaveTargetError for an empty path, a directory or a non-regular file, and an
    OSError for a missing or unwritable folder. ``example`` is the file name the
    messages suggest. Every message is one line: the problem, then the fix.
    """
    path = os.fspath(path)                       # TypeError for None, numbers...
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path == "":
        raise SaveTargetError("cannot save to an empty path (give a file name, such as %s)"
                              % example)
    if "\0" in path:
        raise SaveTargetError("cannot save to %r: the path contains a NUL character" % path)
    if os.path.isdir(path):
        raise SaveTargetError("cannot save to %s: it is a directory (give a file name inside "
                              "it, such as %s)" % (path, os.path.join(path, example)))
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise SaveTargetError("cannot save to %s: a path ending with %s names a folder (give "
                              "a file name, such as %s)"
                              % (path, os.sep, os.path.join(path, example)))
    real = os.path.realpath(path)
    via = "" if real == os.path.abspath(path) else " (through the symlink to %s)" % real
    try:
        st = os.stat(path)                       # follows symlinks, as the write will
    except (FileNotFoundError, NotADirectoryError):
        st = None                                # a new file, or a dangling symlink
    except OSError as e:                         # a symlink loop, a folder we cannot search
        raise _os_error(e.errno, "cannot save to %s: %s" % (path, e.strerror)) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):             # a race with the isdir above
            raise SaveTargetError("cannot save to %s: it is a directory%s" % (path, via))
        if not stat.S_ISREG(st.st_mode):
            raise SaveTargetError(
                "cannot save to %s: it is %s%s, not a regular file, and saving would replace "
                "it (choose the path of a regular file)" % (path, _kind(st.st_mode), via))
    folder = os.path.dirname(real)
    try:
        folder_st = os.stat(folder)
    except FileNotFoundError:
        raise _os_error(errno.ENOENT, "cannot save to %s: the folder %s does not exist "
                        "(create it first, or choose another folder)" % (path, folder)) from None
    except OSError as e:
        raise _os_error(e.errno, "cannot save to %s: the folder %s: %s"
                        % (path, folder, e.strerror)) from None
    if not stat.S_ISDIR(folder_st.st_mode):
        raise _os_error(errno.ENOTDIR, "cannot save to %s: %s is not a folder (choose another "
                        "path)" % (path, folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _os_error(errno.EACCES, "cannot save to %s: the folder %s is not writable "
                        "(choose another folder)" % (path, folder))
    return real, (stat.S_IMODE(st.st_mode) if st is not None else None)


def probe_target(path, example="model.json"):
    """check_target, and then proof that the folder takes a new file: one is created there
    and removed again.  For a check before hours of work: a folder that says it is writable
    but is not (/proc, a read-only mount seen by root) is refused now, not after."""
    real, mode = check_target(path, example)
    folder = os.path.dirname(real)
    try:
        fd, tmp = _create_temp(folder, os.path.basename(real))
    except OSError as e:
        raise _os_error(e.errno, "cannot save to %s: cannot create a file in the folder %s: "
                        "%s (choose another folder)"
                        % (os.fspath(path), folder, e.strerror or e)) from None
    os.close(fd)
    os.unlink(tmp)
    return real, mode


def _create_temp(folder, name):
    """A new empty file next to the target, mode 0666 minus the umask (as open() gives).

    Its name, ``.NAME.PID.RANDOM.tmp``, says which process writes it, so that a later
    save can remove what a killed one left (:func:`_sweep`)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, ".%s.%d.%s.tmp" % (name[:100], os.getpid(),
                                                      os.urandom(4).hex()))
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise _os_error(errno.EEXIST, "no free temp file name in %s" % folder)


def _sweep(folder, name):
    """Remove the temp files of saves to the same target by processes that no longer run
    (a ``kill -9`` during a save leaves one)."""
    prefix = ".%s." % name[:100]
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix):].split(".")[0]
        if entry.startswith(prefix) and entry.endswith(".tmp") and pid.isdigit():
            try:
                os.kill(int(pid), 0)             # raises if no such process
            except ProcessLookupError:
                try:
                    os.unlink(os.path.join(folder, entry))
                except OSError:
                    pass
            except (OSError, OverflowError):     # alive (maybe another user's), or no pid
                pass


def write_atomically(path, data, example="model.json"):
    """Replace (or create) the file at ``path`` with ``data`` (bytes), atomically.

    See the module docstring for what is checked and guaranteed.
    """
    real, mode = check_target(path, example)
    shown = os.fsdecode(os.fspath(path))
    folder, name = os.path.split(real)
    tmp, renamed = None, False
    try:
        fd, tmp = _create_temp(folder, name)
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)      # keep the existing file's mode
            f.write(data)
            f.flush()
            os.fsync(f.fileno())                 # the bytes are on disk before the rename
        os.replace(tmp, real)
        renamed = True
        _sweep(folder, name)
    except OSError as e:
        raise _os_error(e.errno, "cannot save to %s: %s" % (shown, e.strerror or e)) from e
    finally:
        if tmp is not None and not renamed:      # also on KeyboardInterrupt
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        dfd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)                        # the rename is on disk too
        finally:
            os.close(dfd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise _os_error(e.errno, "saved %s, but could not sync its folder %s: %s"
                            % (shown, folder, e.strerror or e)) from e
    return real
