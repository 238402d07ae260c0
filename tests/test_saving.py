"""Saving without surprises (issue 9, section 2): Network.save and --save.

Bad targets are refused before any training; a symlink is written through; FIFOs and
devices are never replaced; the mode follows the umask or the old file; the temp file is
fsync'ed, lives next to the real target and never outlives a failed save; a closed
stdout does not lose the model; every save error is one line.
"""

import errno
import json
import os
import stat
import subprocess
import sys

import pytest

import purenet
from purenet import Network
from purenet.formats.atomic import write_atomically
from conftest import ROOT, make_tiny_mnist


def small_net():
    return Network([3, 4, 2], seed=1)


def leftovers(*folders):
    """Anything in these folders that looks like a temp file of a save."""
    return [os.path.join(str(f), n) for f in folders for n in os.listdir(str(f))
            if n.endswith(".tmp") or n.startswith(".")]


def cli(*args, stdout=subprocess.PIPE, timeout=60):
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    return subprocess.run([sys.executable, "-m", "purenet.train"] + list(args), cwd=ROOT,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          env=env)


@pytest.fixture
def no_file_creation(monkeypatch):
    """Record (and refuse) every file creation: a refused path must create nothing anywhere."""
    created = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append(os.fspath(path))
            raise PermissionError(errno.EACCES, "the test forbids creating files", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return created


# --- checked before any training (CLI): exit 2, one line, problem and fix -------------------

@pytest.mark.parametrize("target,problem,fix", [
    ("", "empty path", "give a file name"),
    ("{tmp}", "is a directory", "{tmp}/model.json"),
    ("{tmp}/", "is a directory", "model.json"),
    ("{tmp}/no/m.json", "{tmp}/no does not exist", "create it"),
    ("{tmp}/fifo", "FIFO", "regular file"),
    ("{tmp}/null", "character device", "regular file"),          # a symlink to /dev/null
], ids=["empty", "directory", "trailing-slash", "missing-folder", "fifo", "device"])
def test_cli_refuses_a_bad_save_target_before_training(tmp_path, target, problem, fix):
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    os.mkfifo(str(tmp_path / "fifo"))
    os.symlink(os.devnull, str(tmp_path / "null"))
    target, problem, fix = (s.replace("{tmp}", str(tmp_path)) for s in (target, problem, fix))
    out = cli("--data-dir", data, "--sizes", "784,4,10", "--epochs", "1", "--save", target)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("purenet-train: error: --save: "), out.stderr
    assert problem in lines[0] and fix in lines[0], lines[0]
    assert out.stdout == ""                                      # nothing trained
    assert stat.S_ISFIFO(os.stat(str(tmp_path / "fifo")).st_mode)
    assert os.readlink(str(tmp_path / "null")) == os.devnull
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("option", ["--save", "--checkpoint"])
def test_a_folder_that_takes_no_file_is_refused_before_training(tmp_path, option):
    """/proc passes os.access for root, but no file can be created there: the check creates
    (and removes) one, so the run stops before its data loads (exit 2, not a lost model)."""
    out = cli("--data-dir", str(tmp_path / "no-data"), "--no-download", option,
              "/proc/purenet-model.json")
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert out.stderr.startswith("purenet-train: error: %s: cannot save to "
                                 "/proc/purenet-model.json: " % option), out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_the_probe_leaves_nothing_behind(tmp_path):
    from purenet.formats.atomic import probe_target
    assert probe_target(str(tmp_path / "m.json")) == (str(tmp_path / "m.json"), None)
    assert os.listdir(str(tmp_path)) == []


def test_the_check_is_reusable_for_other_output_options():
    from purenet.cli.options import check_output_file
    from purenet.errors import UsageError
    with pytest.raises(UsageError, match=r"^--checkpoint: cannot save to an empty path "
                                         r"\(give a file name, such as run\.ckpt\)$"):
        check_output_file("--checkpoint", "", example="run.ckpt")


# --- the Python API: ValueError for a bad path, OSError naming the target ----------------

@pytest.mark.parametrize("target", ["", "{tmp}", "{tmp}/", "/", "/tmp"])
def test_save_to_an_empty_path_or_a_directory_is_a_value_error_and_creates_nothing(
        tmp_path, no_file_creation, target):
    target = target.replace("{tmp}", str(tmp_path))
    with pytest.raises(ValueError, match="empty path|is a directory"):
        small_net().save(target)
    assert no_file_creation == []              # no temp file in the target, its parent, or /
    assert os.listdir(str(tmp_path)) == []


def test_a_missing_folder_is_an_oserror_naming_the_target(tmp_path):
    target = str(tmp_path / "no" / "m.json")
    with pytest.raises(FileNotFoundError, match="cannot save to %s: the folder %s does not exist"
                       % (target, tmp_path / "no")):
        small_net().save(target)
    assert os.listdir(str(tmp_path)) == []


# --- symlinks are written through; FIFOs and devices are refused --------------------------

def test_a_symlink_is_written_through_and_the_temp_file_is_next_to_its_target(tmp_path,
                                                                              monkeypatch):
    links, store = tmp_path / "links", tmp_path / "store"
    links.mkdir()
    store.mkdir()
    real = store / "model.json"
    real.write_text("old")
    os.symlink(os.path.join("..", "store", "hop"), str(links / "m.json"))   # relative, 2 hops
    os.symlink("model.json", str(store / "hop"))
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renames.append((a, b)), real_replace(a, b)))
    net = small_net()
    net.save(links / "m.json")
    assert os.readlink(str(links / "m.json")) == os.path.join("..", "store", "hop")
    assert os.readlink(str(store / "hop")) == "model.json"
    assert purenet.load(links / "m.json").weights == net.weights
    assert json.loads(real.read_text())["format"] == "purenet"
    [(tmp, dest)] = renames
    assert os.path.dirname(tmp) == str(store) and dest == str(real)
    assert leftovers(links, store) == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "out").mkdir()
    os.symlink(str(tmp_path / "out" / "new.json"), str(tmp_path / "m.json"))
    small_net().save(tmp_path / "m.json")
    assert os.path.islink(str(tmp_path / "m.json"))
    assert purenet.load(tmp_path / "out" / "new.json").sizes == [3, 4, 2]


def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "m.json"
    os.mkfifo(str(fifo))
    with pytest.raises(ValueError, match=r"is a FIFO \(named pipe\), not a regular file"):
        small_net().save(fifo)
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode)
    assert leftovers(tmp_path) == []


def test_a_device_behind_a_symlink_is_refused(tmp_path):
    os.symlink(os.devnull, str(tmp_path / "m.json"))
    with pytest.raises(ValueError, match="character device .*through the symlink to /dev/null"):
        small_net().save(tmp_path / "m.json")
    assert os.readlink(str(tmp_path / "m.json")) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert leftovers(tmp_path) == []


# --- file mode -----------------------------------------------------------------------------

@pytest.mark.parametrize("umask,mode", [(0o027, 0o640), (0o002, 0o664)])
def test_a_new_file_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        small_net().save(tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(tmp_path / "m.json")).st_mode) == mode


def test_an_existing_file_keeps_its_mode_also_through_a_symlink(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chmod(str(path), 0o604)
    os.symlink("m.json", str(tmp_path / "link.json"))
    old = os.umask(0o077)
    try:
        small_net().save(path)
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o604
        os.chmod(str(path), 0o660)
        small_net().save(tmp_path / "link.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o660
    assert purenet.load(path).sizes == [3, 4, 2]


# --- fsync and the rename ----------------------------------------------------------------

def test_the_temp_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        events.append(("fsync", "dir" if stat.S_ISDIR(st.st_mode) else "file", st.st_ino))
        real_fsync(fd)

    def replace(a, b):
        events.append(("replace", os.path.dirname(a), b))
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "m.json"
    small_net().save(target)
    new_ino, folder_ino = os.stat(str(target)).st_ino, os.stat(str(tmp_path)).st_ino
    assert events == [("fsync", "file", new_ino), ("replace", str(tmp_path), str(target)),
                      ("fsync", "dir", folder_ino)], events


# --- a failed save leaves nothing behind ----------------------------------------------------

@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.EIO, "Input/output error")],
                         ids=["ctrl-c", "io-error"])
def test_a_failed_write_removes_the_temp_file_and_keeps_the_old_model(tmp_path, monkeypatch, exc):
    target = tmp_path / "m.json"
    target.write_text("the old model")

    def fail(fd):                               # the data is written, not yet on disk
        raise exc
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(type(exc)) as info:
        small_net().save(target)
    if isinstance(exc, OSError):
        assert str(info.value) == "[Errno 5] cannot save to %s: Input/output error" % target
    assert target.read_text() == "the old model"
    assert os.listdir(str(tmp_path)) == ["m.json"]


def test_a_full_disk_removes_the_temp_file_and_names_the_target(tmp_path):
    """A real failed write: RLIMIT_FSIZE makes write() fail with EFBIG part-way."""
    code = r"""
import os, resource, signal, sys
from purenet import Network
from purenet.formats.atomic import write_atomically
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    Network([50, 30, 10], seed=0).save(sys.argv[1])
except OSError as e:
    print(type(e).__name__, e)
"""
    target = tmp_path / "m.json"
    target.write_text("the old model")
    out = subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "OSError [Errno 27] cannot save to %s: File too large" % target, \
        out.stdout + out.stderr
    assert target.read_text() == "the old model"
    assert os.listdir(str(tmp_path)) == ["m.json"]


# --- a closed stdout ---------------------------------------------------------------------

def test_stdout_closed_from_the_start_still_trains_and_saves_quietly(tmp_path):
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    r, w = os.pipe()
    os.close(r)                                 # every write to stdout fails with EPIPE
    try:
        out = cli("--data-dir", data, "--sizes", "784,4,10", "--epochs", "2", "--report",
                  "--save", str(tmp_path / "m.json"), stdout=w)
    finally:
        os.close(w)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert purenet.load(tmp_path / "m.json").meta["epochs"] == 2


def test_head_1_does_not_lose_the_model(tmp_path):
    """``purenet.train ... --save m.json | head -1``: the reader takes one line and exits
    while the run is still printing (a 4 KiB pipe cannot hold the ~8 KB it prints)."""
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        pytest.skip("needs Linux's F_SETPIPE_SZ")
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [sys.executable, "-m", "purenet.train", "--data-dir", data, "--sizes", "784,4,10",
         "--epochs", "80", "--limit", "20", "--test-limit", "10", "--report",
         "--save", str(tmp_path / "m.json")],
        cwd=ROOT, stdout=w, stderr=subprocess.PIPE, env=env)
    os.close(w)
    first = b""
    while not first.endswith(b"\n"):
        c = os.read(r, 1)
        if not c:
            break
        first += c
    os.close(r)                                 # head -1 exits
    _, err = proc.communicate(timeout=60)
    assert first.startswith(b"purenet: 784-4-10 network")
    assert proc.returncode == 0, err
    assert err == b""
    assert purenet.load(tmp_path / "m.json").meta["epochs"] == 80


# --- main(): every error save() raises at the end is one line, exit 1 -----------------------

@pytest.mark.parametrize("sabotage,message", [
    ("directory", "it is a directory"),
    ("nan", "contain NaN or infinity"),
    ("fifo", "is a FIFO"),
], ids=["became-a-directory", "diverged", "became-a-fifo"])
def test_main_reports_a_save_failure_after_training_in_one_line(tmp_path, monkeypatch, capsys,
                                                                 sabotage, message):
    from purenet.cli import train
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    target = str(tmp_path / "m.json")
    fit = Network.fit

    def fit_then_sabotage(self, *args, **kwargs):       # the path passed the check at start
        recs = fit(self, *args, **kwargs)
        if sabotage == "directory":
            os.mkdir(target)
        elif sabotage == "fifo":
            os.mkfifo(target)
        else:
            self.engine.set_params(self.weights, [[float("nan")] * len(b) for b in self.biases])
        return recs
    monkeypatch.setattr(Network, "fit", fit_then_sabotage)
    code = train.main(["--data-dir", data, "--sizes", "784,4,10", "--epochs", "1", "--quiet",
                       "--save", target])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("purenet-train: error: ") and message in err
    assert "Errno" not in err
    assert leftovers(tmp_path) == []


def test_a_save_removes_the_temp_files_that_killed_saves_left(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    names = {"dead": ".m.json.%s.0a1b2c3d.tmp" % dead,             # its writer is gone
             "alive": ".m.json.%d.0a1b2c3d.tmp" % os.getppid(),    # a writer still running
             "other": ".n.json.%s.0a1b2c3d.tmp" % dead,            # another target's
             "mine": ".m.json.notapid.tmp"}                         # not one of ours
    for name in names.values():
        (tmp_path / name).write_bytes(b"half")
    write_atomically(str(tmp_path / "m.json"), b"whole")
    assert sorted(os.listdir(str(tmp_path))) == sorted(
        [names["alive"], names["other"], names["mine"], "m.json"])


def test_the_same_training_writes_the_same_bytes(tmp_path):
    """Two runs of one training (a checkpoint too): the model files and the checkpoints are
    equal byte for byte, so sha256sum agrees; the history keeps no timings."""
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    files = []
    for run in ("a", "b"):
        model, ckpt = str(tmp_path / (run + ".json")), str(tmp_path / (run + ".ckpt"))
        out = cli("--data-dir", data, "--sizes", "784,6,10", "--epochs", "2", "--monitor",
                  "--validation", "10", "--save", model, "--checkpoint", ckpt)
        assert out.returncode == 0, out.stderr
        files.append([open(p, "rb").read() for p in (model, ckpt)])
    assert files[0] == files[1]
    history = json.loads(files[0][0])["meta"]["history"]
    assert len(history) == 2 and all("seconds" not in r and "samples_per_s" not in r
                                     and "eval_seconds" not in r for r in history)
    assert "validation_accuracy" in history[0] and "training_cost" in history[0]
