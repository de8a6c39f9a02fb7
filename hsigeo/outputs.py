"""Write-to-temporary-then-rename, so that no half-written output is ever left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hsigeo.errors import OutputExistsError

__all__ = ["atomic_output", "check_output"]


def check_output(path: str | os.PathLike, *, overwrite: bool) -> Path:
    """Return ``path`` as a Path after checking that it may be written.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path}: output exists already; choose another name or pass overwrite=True (--overwrite)."
        )
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file lives in the target folder (so the rename is atomic on
    the same file system) and is removed when the block raises, including on
    ``KeyboardInterrupt``.  Works for files and for folders.

    Parameters
    ----------
    path
        The final output path.
    overwrite
        Replace an existing output.  Without it an existing output raises
        :class:`~hsigeo.errors.OutputExistsError` before any work is done.
    """
    final = check_output(path, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part" + final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers (GDAL, geopandas) want to create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer produced no output for {final}")
        if final.is_dir() and not tmp.is_dir():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
