"""Every file hsigeo writes goes through here: what may be written, and how.

The rules (also in the README, "What hsigeo guarantees"):

Inputs are never written
    An output may not be any file the command reads: the scene and every file
    GDAL opens for it (the ENVI header and data file, ``.aux.xml`` and other
    sidecars), the labels, the model, the prompts, the reference.  Paths are
    compared by file identity (``st_dev``/``st_ino``, so hard links and
    symbolic links count) and by resolved path.  Commands declare their inputs
    with :func:`protect_inputs` (or :func:`guard_outputs`); every
    :func:`atomic_output` / :func:`check_output` then refuses them, whatever
    ``overwrite`` says.
Overwrite replaces, never deletes
    ``overwrite`` replaces a *file* by a file.  A *folder* is replaced only
    when hsigeo wrote it: such folders carry a manifest (:data:`MANIFEST`)
    listing their files, and a folder holding anything else is refused with a
    message naming it.  An empty folder may always be used.
Atomic
    Outputs are written under a temporary name beside the target and renamed
    into place when complete.  Temporaries are named
    ``.<name>.hsigeo-<pid>-<random>.part<suffix>`` (a name too long for the
    file system's 255 bytes is cut and ends in ``~<hash>``); those of
    processes that no longer run (killed with SIGKILL, a power cut) are
    removed by the next write into the same folder.
Folders are claimed before they are written
    A folder written in place (the demo, a batch of classifications) gets its
    manifest first, marked "in progress", and every file completed in it is
    added to the manifest before it appears; the manifest is marked complete
    when the command ends.  An interrupted run so leaves a folder that the
    next run recognises as hsigeo's and replaces with ``overwrite``
    (:func:`claim_folder`).
One writer per output
    While an output is being made, a lock (``.<name>.hsigeo.lock`` beside it,
    an OS lock through the ``filelock`` package: ``flock`` on POSIX,
    ``LockFileEx`` on Windows; the holder's pid is its content) is held; a
    second process writing the same output fails at once with
    :class:`~hsigeo.errors.OutputBusyError`.  The lock file goes with the
    lock; one left by a killed process is removed by the next write into the
    folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsigeo.errors import OutputBusyError, OutputError, OutputExistsError

__all__ = [
    "MANIFEST",
    "Output",
    "atomic_folder",
    "atomic_output",
    "check_output",
    "claim_folder",
    "guard_outputs",
    "input_files",
    "is_hsigeo_temporary",
    "json_safe",
    "output_lock",
    "protect_inputs",
    "sweep_stale_temporaries",
    "temporary_path",
    "write_manifest",
]

#: File hsigeo leaves in every folder it writes, listing the files it put there.
MANIFEST = ".hsigeo-output.json"
_MANIFEST_MAX_BYTES = 1 << 20
_TMP_TAG = ".hsigeo-"
_TMP_RE = re.compile(r"\.hsigeo-(\d+)-[^/]*\.part")
_LOCK_TAG = ".hsigeo.lock"
# one file name: 255 bytes on ext4, XFS, btrfs, APFS (and 255 UTF-16 units on NTFS)
_NAME_MAX = 255
# bytes left free in a temporary's name for what GDAL appends to it (.aux.xml and the like)
_SIDECAR_ROOM = 16
# a suffix longer than this is left off temporaries (it is a name's tail, not a format's extension)
_SUFFIX_MAX = 16
# files read with a vector layer: writing any of them destroys it (shapefile parts, MapInfo parts, SQLite journals)
_VECTOR_PARTS = {
    ".shp": (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".qix", ".sbn", ".sbx", ".atx", ".shp.xml"),
    ".tab": (".tab", ".dat", ".map", ".id", ".ind"),
    ".mif": (".mif", ".mid"),
}
_SQLITE_SUFFIXES = (".gpkg", ".sqlite", ".db", ".spatialite")
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
# a lock file younger than this is never swept: its creator may be about to lock it
_LOCK_GRACE_SECONDS = 5.0
# the manifest's states
_IN_PROGRESS, _COMPLETE = "in progress", "complete"

_registry_lock = threading.RLock()
# file identity (st_dev, st_ino) or resolved path -> description of the input
_protected: dict[object, str] = {}
# resolved output path -> [lock object, nesting depth] of the locks this process holds
_held: dict[str, list[Any]] = {}
# resolved folder path -> what this process claimed there (see claim_folder)
_claims: dict[str, _Claim] = {}


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #
def input_files(path: str | os.PathLike, *, raster: bool = False) -> list[Path]:
    """Every file reading ``path`` touches.

    Parameters
    ----------
    path
        An input of a command.
    raster
        Ask GDAL for the dataset's file list (``rasterio``'s ``dataset.files``:
        the ENVI header and data file, ``.aux.xml``, world files, overviews).

    Returns
    -------
    list of pathlib.Path
        ``path`` first; the parts of a multi-file vector format (a shapefile's
        ``.shx``, ``.dbf``, ``.prj``, ``.cpg``, ``.qpj``...; MapInfo's), a
        SQLite database's journals (GeoPackage ``-wal``/``-shm``) and GDAL's
        files after it.
    """
    path = Path(path)
    files = [path]
    suffix = path.suffix.lower()
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    for part in _VECTOR_PARTS.get(suffix, ()):
        files += [path.with_name(stem + part), path.with_name(stem + part.upper())]
    if suffix in _SQLITE_SUFFIXES:
        files += [path.with_name(path.name + s) for s in _SQLITE_SIDECARS]
    if raster and path.is_file():
        listed = _gdal_files(path)
        if not listed:
            # an ENVI header is not what GDAL opens: its data file (same stem) is, and lists the header
            for sibling in path.parent.glob(glob_escape(path.stem) + ".*"):
                found = _gdal_files(sibling) if sibling != path else []
                if any(os.path.realpath(f) == os.path.realpath(path) for f in found):
                    listed += found
        files += listed
    return files


def _gdal_files(path: Path) -> list[Path]:
    """GDAL's file list of a raster; empty when GDAL cannot open it."""
    try:
        import warnings

        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        # only the file list is wanted: a container such as a PRISMA .he5 has no geotransform of its own, and
        # that is no news to the user
        with warnings.catch_warnings(), rasterio.Env(CPL_LOG="/dev/null"):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return [Path(f) for f in src.files]
    except Exception:  # noqa: BLE001 - not a raster (a vector label file, a header): nothing more to protect
        return []


def _keys(path: Path) -> list[object]:
    """Identity keys of ``path``: resolved path, and (dev, inode) when it exists."""
    keys: list[object] = [os.path.realpath(path)]
    try:
        st = os.stat(path)
    except OSError:
        return keys
    keys.append((st.st_dev, st.st_ino))
    return keys


@contextlib.contextmanager
def protect_inputs(*paths: str | os.PathLike | None, rasters: Iterable[str | os.PathLike | None] = ()) -> Iterator[None]:
    """Within the block, no output of this process may be any of these inputs (or their files).

    Parameters
    ----------
    paths
        Inputs read as plain files (model, prompts, vector labels); ``None`` is skipped.
    rasters
        Raster inputs: their GDAL file lists are protected too.
    """
    added: list[object] = []
    entries = [(Path(p), False) for p in paths if p is not None]
    entries += [(Path(p), True) for p in rasters if p is not None]
    with _registry_lock:
        for path, is_raster in entries:
            for f in input_files(path, raster=is_raster):
                what = f"an input of this command ({path})" if f == path else f"a file of the input {path}"
                for key in _keys(f):
                    if key not in _protected:
                        _protected[key] = what
                        added.append(key)
    try:
        yield
    finally:
        with _registry_lock:
            for key in added:
                _protected.pop(key, None)


def _refuse_input(path: Path) -> None:
    with _registry_lock:
        for key in _keys(path):
            what = _protected.get(key)
            if what is not None:
                raise OutputError(
                    f"{path}: this output is {what}; hsigeo never writes over what it reads, even with "
                    "--overwrite. Choose another output name."
                )


# --------------------------------------------------------------------------- #
# Checks
# --------------------------------------------------------------------------- #
def is_hsigeo_temporary(name: str) -> bool:
    """Whether a file name is one of hsigeo's temporaries or lock files (``.<name>.hsigeo-<pid>-...``)."""
    return name.startswith(".") and (_TMP_RE.search(name) is not None or name.endswith(_LOCK_TAG))


def _holds_nothing(folder: Path) -> bool:
    """Whether ``folder`` holds no file but hsigeo's temporaries and locks (empty folders inside count as nothing)."""
    try:
        for p in folder.iterdir():
            if p.is_dir() and not p.is_symlink():
                if not _holds_nothing(p):
                    return False
            elif not is_hsigeo_temporary(p.name):
                return False
    except OSError:
        return False
    return True


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The hsigeo manifest of ``folder`` (``files``, ``state``...), or ``None`` when it has none or it is unreadable."""
    manifest = Path(folder) / MANIFEST
    try:
        if not manifest.is_file() or manifest.stat().st_size > _MANIFEST_MAX_BYTES:
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    data["files"] = [str(f) for f in data["files"]]
    return data


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that its hsigeo manifest does not list (all of them when it has none).

    hsigeo's own temporaries and locks, and subfolders holding no file, are
    never foreign: nothing of the user's is in them.
    """
    data = read_manifest(folder)
    listed = set(data["files"]) | {MANIFEST} if data is not None else set()
    foreign = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name in listed or is_hsigeo_temporary(p.name):
            continue
        if p.is_dir() and not p.is_symlink() and _holds_nothing(p):
            continue
        foreign.append(p.name)
    return foreign


def _writable_folder(path: Path, reserve: int = 0) -> None:
    """Raise unless the folder that will hold ``path`` exists (or can be made) and takes new files.

    With ``reserve`` > 0 the probe also writes that many bytes, so a full
    disk is found before the work rather than when the output is written.
    """
    parent = path.parent
    probe_dir = parent
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise OutputError(f"{path}: {probe_dir} is a file, not a folder. Choose an output inside a folder.")
    probe = None
    try:
        # named like hsigeo's temporaries (pid inside), so one left by a killed run is recognised and swept
        fd, probe = tempfile.mkstemp(prefix=f"{_TMP_TAG}{os.getpid()}-probe-", suffix=".part", dir=probe_dir)
        try:
            if reserve > 0:
                _reserve(fd, reserve)
        finally:
            os.close(fd)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            reason = "read-only" if exc.errno == errno.EROFS else "not writable (permission denied)"
        if exc.errno == errno.ENOSPC:
            raise OutputError(
                f"{path}: no space left on device in {probe_dir} (this output needs about "
                f"{max(reserve, 1) / 1e6:.1f} MB). Free some space or write elsewhere."
            ) from exc
        raise OutputError(
            f"{path}: cannot write in the folder {probe_dir} ({reason}). Choose an output in a folder you can write to."
        ) from exc
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                os.unlink(probe)


def _reserve(fd: int, size: int) -> None:
    """Claim ``size`` bytes of disk for the open file ``fd`` (raises ENOSPC when the disk cannot hold them)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    # no fallocate (Windows, macOS, some file systems): write the bytes
    chunk = b"\0" * min(size, 1 << 20)
    left = size
    while left > 0:
        left -= os.write(fd, chunk[:left])
    os.fsync(fd)


def _claimed_by_us(path: Path) -> bool:
    with _registry_lock:
        return os.path.realpath(path) in _claims


def check_output(path: str | os.PathLike, *, overwrite: bool, folder: bool = False, shared: bool = False) -> Path:
    """Return ``path`` as a Path after checking that it may be written.

    Parameters
    ----------
    path
        The output (a file, or a folder with ``folder=True``).
    overwrite
        Whether an existing output may be replaced (a file; a folder only when
        hsigeo wrote it).
    folder
        The output is a folder (a report).
    shared
        With ``folder``: the folder receives hsigeo's files beside the user's
        (a batch output folder); files hsigeo did not write are allowed there
        and never touched.

    Raises
    ------
    OutputError
        When ``path`` is an input of the running command, a folder where a
        file is wanted (or the reverse), a folder holding files hsigeo did not
        write, or its folder cannot be written.
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    _refuse_input(path)
    if folder and path.is_dir() and not shared and not _claimed_by_us(path):
        foreign = _foreign_entries(path)
        manifest = read_manifest(path)
        if foreign and manifest is None:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputError(
                f"{path}: the folder is not empty and hsigeo did not write it ({shown}); hsigeo never deletes "
                "files it did not write, even with --overwrite. Choose a new or empty folder."
            )
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputError(
                f"{path}: this hsigeo output folder also holds files hsigeo did not write ({shown}); they would "
                "be lost if it were replaced. Move them out or choose another folder."
            )
        if not overwrite and not _holds_nothing(path):
            interrupted = manifest is not None and manifest.get("state") == _IN_PROGRESS
            raise OutputExistsError(
                f"{path}: output folder exists already"
                + (" (left by an interrupted hsigeo run)" if interrupted else "")
                + "; choose another name or pass overwrite=True (--overwrite)."
            )
    elif folder and path.is_dir():
        pass  # a shared folder, or one this process claimed: its files are checked one by one
    elif path.is_dir():
        raise OutputError(
            f"{path}: is a folder; this output is a file, and hsigeo never replaces a folder by a file. "
            "Give a file name."
        )
    elif folder and path.exists():
        raise OutputError(f"{path}: is a file; this output is a folder. Give a folder name.")
    elif path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path}: output exists already; choose another name or pass overwrite=True (--overwrite)."
        )
    _writable_folder(path)
    return path


# --------------------------------------------------------------------------- #
# Names of temporaries and locks
# --------------------------------------------------------------------------- #
def _short(name: str, room: int) -> str:
    """``name`` when it fits in ``room`` bytes, else its head and ``~`` and a hash of the whole (unique, recognisable)."""
    raw = os.fsencode(name)
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    head = raw[: room - len(digest) - 1].decode("utf-8", "ignore")  # never half a character
    return f"{head}~{digest}"


def _lock_path(final: Path) -> Path:
    return final.parent / f".{_short(final.name, _NAME_MAX - 1 - len(_LOCK_TAG))}{_LOCK_TAG}"


def _plain(name: str) -> str:
    """``name`` with every character but letters, digits and ``._-+=@~`` as ``_``.

    Temporaries are opened by GDAL, which reads some characters in a file
    name as syntax (``;`` cuts the name short, a line break is dropped); the
    final name, given by the user, is reached by a plain rename.
    """
    return re.sub(r"[^\w.+=@~-]", "_", name)


def _temp_parts(final: Path, tag: str = "") -> tuple[str, str]:
    """(prefix, suffix) of a temporary of ``final`` for :func:`tempfile.mkstemp`, within :data:`_NAME_MAX` bytes."""
    suffix = _plain(final.suffix) if len(os.fsencode(final.suffix)) <= _SUFFIX_MAX else ""
    # room for '.', the tag, pid (up to 10 digits), '-', mkstemp's 8 random characters, '.part', the suffix
    # and the sidecars GDAL writes beside the temporary (.aux.xml, .ovr, .msk)
    fixed = 1 + len(_TMP_TAG) + 10 + 1 + len(tag) + 8 + len(".part") + len(os.fsencode(suffix)) + _SIDECAR_ROOM
    return f".{_plain(_short(final.name, _NAME_MAX - fixed))}{_TMP_TAG}{os.getpid()}-{tag}", ".part" + suffix


def temporary_path(final: str | os.PathLike, *, folder: bool = False, tag: str = "") -> Path:
    """A new temporary name beside ``final`` (a folder created there with ``folder=True``).

    Named so that :func:`sweep_stale_temporaries` recognises it once its
    process is gone.
    """
    final = Path(final)
    prefix, suffix = _temp_parts(final, tag)
    if folder:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=final.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers (GDAL, geopandas) want to create the file themselves
    return tmp


# --------------------------------------------------------------------------- #
# Locks and temporaries
# --------------------------------------------------------------------------- #
def _write_pid(fd: int) -> None:
    """Content of a lock file: its holder's pid (for the message of a second writer)."""
    with contextlib.suppress(OSError):  # the pid is for messages only; a full disk must not fail the lock
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))


def _lock_for(path: Path) -> Any:
    """A :class:`filelock.FileLock` on ``path``: the OS's lock (POSIX ``flock``, Windows ``LockFileEx``).

    Where there is none (no ``fcntl``), ``filelock`` uses a marker file whose
    existence is the lock and whose first line is the holder's pid.
    """
    import filelock

    try:
        return filelock.FileLock(path, timeout=0, thread_local=False, on_acquired=_write_pid)
    except ValueError:  # a marker-file lock: it records its holder's pid itself
        return filelock.FileLock(path, timeout=0, thread_local=False)


def _is_marker(lock: Any) -> bool:
    """Whether ``lock`` is a marker-file lock (held while the file exists, even by a killed process)."""
    import filelock

    return isinstance(lock, filelock.SoftFileLock)


def _lock_owner(lock_file: Path) -> int | None:
    """The pid a lock file names (its first line), or ``None``."""
    try:
        m = re.match(rb"\s*(\d+)", lock_file.read_bytes()[:64])
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _acquire(lock: Any, lock_file: Path) -> bool:
    """Take ``lock`` at once; a marker left by a process that is gone is removed first. False when held."""
    import filelock

    for _ in range(2):
        try:
            lock.acquire(timeout=0)
            return True
        except filelock.Timeout:
            owner = _lock_owner(lock_file)
            if not (_is_marker(lock) and owner is not None and not _alive(owner)):
                return False
            with contextlib.suppress(OSError):
                lock_file.unlink()  # a killed holder's marker
    return False


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the writer's lock of output ``path`` (re-entrant within this process).

    Raises
    ------
    OutputBusyError
        When another process holds it.
    """
    final = Path(path)
    key = os.path.realpath(final)
    with _registry_lock:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _registry_lock:
                _held[key][1] -= 1
        return
    lock_file = _lock_path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock_for(lock_file)
    try:
        acquired = _acquire(lock, lock_file)
    except BaseException:
        # Ctrl-C or SIGTERM landing inside the acquisition: a lock already taken goes with its file
        # (one interrupted before the OS lock was taken leaves a file no one holds, swept by the next write)
        if lock.is_locked:
            _release(lock, lock_file)
        raise
    if not acquired:
        owner = _lock_owner(lock_file)
        raise OutputBusyError(
            f"{final}: another hsigeo process (pid {owner if owner is not None else '?'}) is writing this output "
            "now; wait for it to finish, or choose another output name."
        )
    try:
        with _registry_lock:
            _held[key] = [lock, 1]
        yield
    finally:
        with _registry_lock:
            _held.pop(key, None)
        _release(lock, lock_file)


def _release(lock: Any, lock_file: Path) -> None:
    """Remove the lock file while still holding it (so no one locks a file about to vanish), then release.

    A process that opened the file just before sees it unlinked once it gets
    the lock and starts over (``filelock`` checks); on Windows an open file
    cannot be removed, and ``filelock`` removes it after the release.
    """
    with contextlib.suppress(OSError):
        lock_file.unlink()
    lock.release()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def sweep_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove hsigeo's temporaries and lock files left in ``path``'s folder by processes that no longer run.

    Every write sweeps the folder it writes in, so what a killed run (SIGKILL,
    a power cut) left goes with the next write there, whatever its output.
    Only names of hsigeo's own patterns are touched: temporaries
    (``.<name>.hsigeo-<pid>-<random>.part*``) whose process is gone, and
    lock files (``.<name>.hsigeo.lock``) that no process holds.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    folder = Path(path).parent
    removed: list[Path] = []
    try:
        candidates = [p for p in folder.iterdir() if is_hsigeo_temporary(p.name)]
    except OSError:
        return removed
    with _registry_lock:
        own_locks = {os.path.realpath(_lock_path(Path(k))) for k in _held}
    for p in candidates:
        if p.name.endswith(_LOCK_TAG):
            if os.path.realpath(p) in own_locks or _younger_than(p, _LOCK_GRACE_SECONDS):
                continue  # ours, or maybe just created by a process about to lock it
            lock = _lock_for(p)
            try:
                if not _acquire(lock, p):  # held by no one: its process is gone; releasing removes the file
                    continue
            except OSError:
                continue
            _release(lock, p)
            if not p.exists():
                removed.append(p)
            continue
        m = _TMP_RE.search(p.name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _younger_than(p: Path, seconds: float) -> bool:
    import time

    try:
        return time.time() - p.stat().st_mtime < seconds
    except OSError:
        return True


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _named(exc: OSError, final: Path, tmp: Path) -> OSError:
    """``exc`` naming the output ``final`` when it names no file or only the temporary (a full disk mid-write)."""
    from hsigeo.errors import HsigeoError

    name = exc.filename
    if isinstance(exc, HsigeoError) or exc.errno is None or (name is not None and not str(name).startswith(str(tmp))):
        return exc  # hsigeo's own errors say what they mean; another file's error names that file
    return OSError(exc.errno, exc.strerror or str(exc) or type(exc).__name__, str(final))


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary lives in the target folder (so the rename is atomic on the
    same file system) and is removed when the block raises, including on
    ``KeyboardInterrupt``.  The output's lock is held throughout.  Inside a
    folder claimed with :func:`claim_folder` the output is added to the
    folder's manifest before it appears.

    Parameters
    ----------
    path
        The final output file (for folders see :func:`atomic_folder`).
    overwrite
        Replace an existing file.  Without it an existing output raises
        :class:`~hsigeo.errors.OutputExistsError` before any work is done.

    Raises
    ------
    OutputError, OutputExistsError
        See :func:`check_output`.
    OutputBusyError
        When another process is writing the same output.
    OSError
        An operating-system error while writing (a full disk), naming ``path``.
    """
    final = check_output(path, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(final):
        sweep_stale_temporaries(final)
        tmp = temporary_path(final)
        try:
            yield tmp
            if not tmp.exists():
                raise FileNotFoundError(f"{tmp}: the writer produced no output for {final}")
            check_output(final, overwrite=overwrite)  # it may have appeared (or become a folder) meanwhile
            _record(final)
            os.replace(tmp, final)
        except OSError as exc:
            _remove(tmp)
            named = _named(exc, final, tmp)
            if named is exc:
                raise
            raise named from exc
        except BaseException:
            _remove(tmp)
            raise


def write_manifest(folder: str | os.PathLike, *, files: Iterable[str] | None = None, state: str = _COMPLETE) -> None:
    """Mark ``folder`` as written by hsigeo: list its entries in :data:`MANIFEST`.

    A later ``overwrite`` may replace such a folder (and only such a folder).

    Parameters
    ----------
    folder
        The folder.
    files
        The entries to list (default: everything in the folder but hsigeo's temporaries).
    state
        ``"complete"``, or ``"in progress"`` for a folder being written (see :func:`claim_folder`).
    """
    folder = Path(folder)
    from hsigeo import __version__

    if files is None:
        files = (p.name for p in folder.iterdir() if p.name != MANIFEST and not is_hsigeo_temporary(p.name))
    text = json.dumps({"written_by": f"hsigeo {__version__}", "state": state, "files": sorted(set(files))},
                      indent=1)
    # the manifest itself is replaced atomically: an interruption leaves the old one or the new one
    fd, name = tempfile.mkstemp(prefix=f".{MANIFEST}{_TMP_TAG}{os.getpid()}-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(name, folder / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``path`` when the block succeeds.

    The folder gets a manifest (:data:`MANIFEST`) of its files, which is what
    lets a later ``overwrite`` replace it.  An existing folder is replaced only
    when it is empty or was written by hsigeo and holds nothing else; it is
    moved aside just before the final rename and deleted after it.

    Raises
    ------
    OutputError, OutputExistsError
        See :func:`check_output` (``folder=True``).
    """
    final = check_output(path, overwrite=overwrite, folder=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(final):
        sweep_stale_temporaries(final)
        tmp = temporary_path(final, folder=True)
        aside: Path | None = None
        try:
            yield tmp
            write_manifest(tmp)
            check_output(final, overwrite=overwrite, folder=True)
            _record(final)
            if final.is_dir():
                aside = temporary_path(final, tag="old-")
                os.replace(final, aside)
            os.replace(tmp, final)
        except BaseException as exc:
            _remove(tmp)
            if aside is not None and not final.exists():
                os.replace(aside, final)  # put the old report back
                aside = None
            if isinstance(exc, OSError) and _named(exc, final, tmp) is not exc:
                raise _named(exc, final, tmp) from exc
            raise
        finally:
            if aside is not None:
                _remove(aside)


# --------------------------------------------------------------------------- #
# Folders written in place
# --------------------------------------------------------------------------- #
@dataclass
class _Claim:
    """A folder this process writes in place: what its manifest lists, and how to undo the claim."""

    folder: Path
    listed: set[str]
    created: bool
    previous: str | None  # the manifest's text before the claim (None: there was none)
    recorded: bool = False


def _record(final: Path) -> None:
    """List ``final`` in the manifest of every claimed folder it lies in, before it appears there."""
    real = os.path.realpath(final)
    with _registry_lock:
        for key, claim in _claims.items():
            if real == key:  # the claimed folder itself is being replaced whole (atomic_folder)
                claim.recorded = True
                continue
            if not real.startswith(key.rstrip(os.sep) + os.sep):
                continue
            entry = real[len(key.rstrip(os.sep)) + 1:].split(os.sep)[0]
            if entry == MANIFEST or entry in claim.listed:
                continue
            claim.listed.add(entry)
            claim.recorded = True
            write_manifest(claim.folder, files=claim.listed, state=_IN_PROGRESS)


@contextlib.contextmanager
def claim_folder(path: str | os.PathLike, *, shared: bool = False) -> Iterator[Path]:
    """Write into the folder ``path`` in place: claim it before the first file, complete it at the end.

    On entry the folder is created and gets its manifest, marked "in
    progress"; every output completed in it (:func:`atomic_output`,
    :func:`atomic_folder`) is added to the manifest before it appears.  When
    the block ends the manifest is marked complete (listing the folder's
    entries; with ``shared`` only those hsigeo listed).  When it raises
    (an error, Ctrl-C, SIGTERM) the in-progress manifest stays, so the next
    run recognises the folder as hsigeo's and replaces it with
    ``overwrite``; a run that wrote nothing there puts the folder back as it
    was.  The caller has checked the folder (:func:`check_output`) and holds
    its lock.

    Parameters
    ----------
    path
        The folder.
    shared
        hsigeo's files beside the user's (a batch output folder): the
        manifest lists only what hsigeo wrote.
    """
    folder = Path(path)
    key = os.path.realpath(folder)
    with _registry_lock:
        if key in _claims:  # claimed already by this process (a nested command): theirs to complete
            yield folder
            return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    old = read_manifest(folder)
    try:
        previous = (folder / MANIFEST).read_text(encoding="utf-8") if old is not None else None
    except OSError:
        previous = None
    listed = set(old["files"]) if old is not None else set()
    claim = _Claim(folder, listed, created, previous)
    with _registry_lock:
        _claims[key] = claim
    try:
        write_manifest(folder, files=listed, state=_IN_PROGRESS)
        yield folder
    except BaseException:
        with _registry_lock:
            _claims.pop(key, None)
        if not claim.recorded:
            _unclaim(claim)
        raise
    with _registry_lock:
        _claims.pop(key, None)
    # a shared folder lists hsigeo's entries that are still there (one deleted since is no longer claimed)
    write_manifest(folder, files={f for f in claim.listed if os.path.lexists(folder / f)} if shared else None)


def _unclaim(claim: _Claim) -> None:
    """Put a folder this run claimed but wrote nothing into back as it was."""
    with contextlib.suppress(OSError):
        if claim.previous is not None:
            (claim.folder / MANIFEST).write_text(claim.previous, encoding="utf-8")
            return
        (claim.folder / MANIFEST).unlink()
        if claim.created:
            claim.folder.rmdir()  # only if empty


# --------------------------------------------------------------------------- #
# A command's outputs, checked and locked before the work
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Output:
    """One output of a command.

    Attributes
    ----------
    path
        Where it goes.
    option
        How the user named it (``"-o"``, ``"--vector"``), for messages.
    suffixes
        Allowed suffixes (lower case, with the dot); empty = any.
    folder
        The output is a folder; :func:`guard_outputs` claims it
        (:func:`claim_folder`) for the command's run.
    sidecars
        Files written beside it (``.aux.xml``, ``.qml``): checked against the inputs too.
    shared
        With ``folder``: a folder receiving hsigeo's files beside the user's
        (a batch output folder); see :func:`check_output`.
    reserve
        Bytes the output will take about: the disk must hold them before the work starts.
    """

    path: Path
    option: str = "-o"
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    sidecars: tuple[Path, ...] = ()
    shared: bool = False
    reserve: int = 0


@contextlib.contextmanager
def guard_outputs(outputs: Iterable[Output | None], *, overwrite: bool,
                  inputs: Iterable[str | os.PathLike | None] = (),
                  rasters: Iterable[str | os.PathLike | None] = ()) -> Iterator[None]:
    """Check every output of a command before its work, and hold their locks until it ends.

    Within the block the inputs stay protected (see :func:`protect_inputs`)
    and folder outputs are claimed (see :func:`claim_folder`).

    Parameters
    ----------
    outputs
        The command's outputs (``None`` entries, options not given, are skipped).
    overwrite
        The command's ``--overwrite``.
    inputs, rasters
        What the command reads (rasters: their GDAL files too).  Vector files
        bring their parts (a shapefile's ``.dbf``...), see :func:`input_files`.

    Raises
    ------
    OutputError
        A bad suffix, two outputs on one path, an output that is an input, an
        unwritable folder, a disk that cannot hold an output's ``reserve``.
    OutputExistsError, OutputBusyError
        See :func:`check_output` and :func:`output_lock`.
    """
    todo = [o for o in outputs if o is not None]
    with protect_inputs(*inputs, rasters=rasters), contextlib.ExitStack() as stack:
        seen: dict[str, Output] = {}
        for o in todo:
            path = Path(o.path)
            if o.suffixes and path.suffix.lower() not in o.suffixes:
                raise OutputError(
                    f"{path}: {o.option} must end in {' or '.join(o.suffixes)}, not {path.suffix or 'nothing'}. "
                    "Rename the output."
                )
            key = os.path.realpath(path)
            if key in seen:
                raise OutputError(f"{path}: given for both {seen[key].option} and {o.option}; outputs must differ.")
            seen[key] = o
            check_output(path, overwrite=overwrite, folder=o.folder, shared=o.shared)
            for side in o.sidecars:
                _refuse_input(Path(side))
            if o.reserve:
                _writable_folder(path, o.reserve)
        for o in todo:
            stack.enter_context(output_lock(o.path))
            sweep_stale_temporaries(o.path)  # what killed runs left in the folders about to be written
        for o in todo:
            if o.folder:
                stack.enter_context(claim_folder(o.path, shared=o.shared))
        yield


def json_safe(obj: Any) -> Any:
    """Plain JSON values for a JSON output file (model metadata, reports, benchmark results).

    Mapping keys become strings, tuples and numpy arrays lists, numpy scalars Python ones,
    NaN and infinities ``None`` (strict JSON has no NaN), paths strings; anything else
    not JSON-able becomes its ``str``.
    """
    import math
    from collections.abc import Mapping

    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)
