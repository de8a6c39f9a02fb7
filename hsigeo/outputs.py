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
    ``.<name>.hsigeo-<pid>-<random>.part<suffix>``; those of processes that no
    longer run (killed with SIGKILL, a power cut) are removed by the next
    write of the same output.
One writer per output
    While an output is being made, a lock (``fcntl.flock`` on
    ``.<name>.hsigeo.lock`` beside it) is held; a second process writing the
    same output fails at once with :class:`~hsigeo.errors.OutputBusyError`.
"""

from __future__ import annotations

import contextlib
import errno
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
    "guard_outputs",
    "input_files",
    "json_safe",
    "output_lock",
    "protect_inputs",
    "sweep_stale_temporaries",
    "write_manifest",
]

#: File hsigeo leaves in every folder it writes, listing the files it put there.
MANIFEST = ".hsigeo-output.json"
_MANIFEST_MAX_BYTES = 1 << 20
_TMP_TAG = ".hsigeo-"
_TMP_RE = re.compile(r"\.hsigeo-(\d+)-[^/]*\.part")
# sidecar files of a shapefile: writing any of them destroys the layer
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")

_registry_lock = threading.RLock()
# file identity (st_dev, st_ino) or resolved path -> description of the input
_protected: dict[object, str] = {}
# resolved output path -> [lock fd, nesting depth] of the locks this process holds
_held: dict[str, list[int]] = {}


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
        ``path`` first; shapefile parts and GDAL's files after it.
    """
    path = Path(path)
    files = [path]
    if path.suffix.lower() == ".shp":
        stem = path.name[: -len(path.suffix)]
        files += [path.with_name(stem + s) for s in _SHP_PARTS]
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
        import rasterio

        with rasterio.Env(CPL_LOG="/dev/null"), rasterio.open(path) as src:
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
def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that its hsigeo manifest does not list (all of them when it has none)."""
    entries = sorted(p.name for p in folder.iterdir())
    listed: set[str] = set()
    manifest = folder / MANIFEST
    try:
        if manifest.is_file() and manifest.stat().st_size <= _MANIFEST_MAX_BYTES:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), list):
                listed = {str(f) for f in data["files"]} | {MANIFEST}
    except (OSError, ValueError):
        listed = set()
    return [e for e in entries if e not in listed]


def _writable_folder(path: Path) -> None:
    """Raise unless the folder that will hold ``path`` exists (or can be made) and takes new files."""
    parent = path.parent
    probe_dir = parent
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise OutputError(f"{path}: {probe_dir} is a file, not a folder. Choose an output inside a folder.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hsigeo-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            reason = "read-only" if exc.errno == errno.EROFS else "not writable (permission denied)"
        raise OutputError(
            f"{path}: cannot write in the folder {probe_dir} ({reason}). Choose an output in a folder you can write to."
        ) from exc


def check_output(path: str | os.PathLike, *, overwrite: bool, folder: bool = False) -> Path:
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
    if folder and path.is_dir():
        foreign = _foreign_entries(path)
        if foreign and not (path / MANIFEST).is_file():
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
        if any(True for _ in path.iterdir()) and not overwrite:
            raise OutputExistsError(
                f"{path}: output folder exists already; choose another name or pass overwrite=True (--overwrite)."
            )
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
# Locks and temporaries
# --------------------------------------------------------------------------- #
def _lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.hsigeo.lock"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the writer's lock of output ``path`` (re-entrant within this process).

    Raises
    ------
    OutputBusyError
        When another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, rely on the atomic rename
        yield
        return
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
    lock = _lock_path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            finally:
                os.close(fd)
            raise OutputBusyError(
                f"{final}: another hsigeo process (pid {owner}) is writing this output now; wait for it to "
                "finish, or choose another output name."
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    with contextlib.suppress(OSError):  # the pid is for messages only; a full disk must not leak the lock
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
    with _registry_lock:
        _held[key] = [fd, 1]
    try:
        yield
    finally:
        with _registry_lock:
            del _held[key]
        # remove the file while still holding the lock, so no one locks a file about to vanish
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by hsigeo processes that no longer run.

    Only names of hsigeo's own pattern (``.<name>.hsigeo-<pid>-<random>.part*``)
    whose process is gone are touched.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    final = Path(path)
    removed: list[Path] = []
    try:
        candidates = list(final.parent.glob(f".{glob_escape(final.name)}{_TMP_TAG}*.part*"))
    except OSError:
        return removed
    for p in candidates:
        m = _TMP_RE.search(p.name[len(final.name) + 1:])
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
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


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _temporary(final: Path, tag: str = "") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}{_TMP_TAG}{os.getpid()}-{tag}",
                                suffix=".part" + final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers (GDAL, geopandas) want to create the file themselves
    return tmp


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary lives in the target folder (so the rename is atomic on the
    same file system) and is removed when the block raises, including on
    ``KeyboardInterrupt``.  The output's lock is held throughout.

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
    """
    final = check_output(path, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(final):
        sweep_stale_temporaries(final)
        tmp = _temporary(final)
        try:
            yield tmp
            if not tmp.exists():
                raise FileNotFoundError(f"{tmp}: the writer produced no output for {final}")
            check_output(final, overwrite=overwrite)  # it may have appeared (or become a folder) meanwhile
            os.replace(tmp, final)
        except BaseException:
            _remove(tmp)
            raise


def write_manifest(folder: str | os.PathLike) -> None:
    """Mark ``folder`` as written by hsigeo: list its entries in :data:`MANIFEST`.

    A later ``overwrite`` may replace such a folder (and only such a folder).
    """
    folder = Path(folder)
    from hsigeo import __version__

    files = sorted(str(p.relative_to(folder)) for p in folder.iterdir() if p.name != MANIFEST)
    (folder / MANIFEST).write_text(
        json.dumps({"written_by": f"hsigeo {__version__}", "files": files}, indent=1), encoding="utf-8")


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
        tmp = _temporary(final)
        aside: Path | None = None
        try:
            tmp.mkdir()
            yield tmp
            write_manifest(tmp)
            check_output(final, overwrite=overwrite, folder=True)
            if final.is_dir():
                aside = _temporary(final, "old-")
                os.replace(final, aside)
            os.replace(tmp, final)
        except BaseException:
            _remove(tmp)
            if aside is not None and not final.exists():
                os.replace(aside, final)  # put the old report back
                aside = None
            raise
        finally:
            if aside is not None:
                _remove(aside)


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
        The output is a folder.
    sidecars
        Files written beside it (``.aux.xml``, ``.qml``): checked against the inputs too.
    """

    path: Path
    option: str = "-o"
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    sidecars: tuple[Path, ...] = ()


@contextlib.contextmanager
def guard_outputs(outputs: Iterable[Output | None], *, overwrite: bool,
                  inputs: Iterable[str | os.PathLike | None] = (),
                  rasters: Iterable[str | os.PathLike | None] = ()) -> Iterator[None]:
    """Check every output of a command before its work, and hold their locks until it ends.

    Within the block the inputs stay protected (see :func:`protect_inputs`).

    Parameters
    ----------
    outputs
        The command's outputs (``None`` entries, options not given, are skipped).
    overwrite
        The command's ``--overwrite``.
    inputs, rasters
        What the command reads (rasters: their GDAL files too).

    Raises
    ------
    OutputError
        A bad suffix, two outputs on one path, an output that is an input, an
        unwritable folder.
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
            check_output(path, overwrite=overwrite, folder=o.folder)
            for side in o.sidecars:
                _refuse_input(Path(side))
        for o in todo:
            stack.enter_context(output_lock(o.path))
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
