"""Progress reporting shared by every long loop in hsigeo.

Three modes, picked by :func:`set_mode` or the ``HSIGEO_PROGRESS`` environment
variable:

``bar``
    a tqdm progress bar on stderr (the default on a terminal);
``plain``
    one machine-readable line per step on stderr,
    ``hsigeo-progress: <percent> <description>``, which the QGIS plugin reads
    to drive its progress bar (only when asked for: ``--progress plain``);
``none``
    silent (the default when stderr is not a terminal: piped logs, notebooks, cron).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from hsigeo.errors import InvalidInputError

__all__ = ["Progress", "track", "set_mode", "get_mode", "PLAIN_PREFIX"]

PLAIN_PREFIX = "hsigeo-progress:"
_MODES = ("bar", "plain", "none")
_mode: str | None = None
T = TypeVar("T")


def set_mode(mode: str | None) -> None:
    """Set the progress mode (``bar``, ``plain``, ``none``; ``None`` = automatic)."""
    global _mode
    if mode is not None and mode not in _MODES:
        raise InvalidInputError(f"progress mode must be one of {_MODES}, not {mode!r}")
    _mode = mode


def get_mode() -> str:
    """The progress mode in force."""
    if _mode is not None:
        return _mode
    env = os.environ.get("HSIGEO_PROGRESS", "").strip().lower()
    if env in _MODES:
        return env
    # machine-readable lines only for a reader that asks for them (the QGIS plugin passes --progress plain)
    return "bar" if sys.stderr.isatty() else "none"


class Progress:
    """A progress counter: ``with Progress(total, desc) as p: p.update(n)``.

    Parameters
    ----------
    total
        Number of units of work (``None`` when unknown).
    desc
        Short description shown beside the bar.
    unit
        Unit name (``"px"``, ``"epoch"``, ``"tile"``...).
    postfix
        Whether :meth:`set_postfix` values are shown (loss, accuracy...).
    """

    def __init__(self, total: float | None, desc: str = "", *, unit: str = "it", unit_scale: bool = False) -> None:
        self.total = total
        self.desc = desc
        self.n = 0.0
        self._mode = get_mode()
        self._bar: Any = None
        self._last_plain = -1.0
        self._last_time = 0.0
        self._postfix = ""
        if self._mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, dynamic_ncols=True, leave=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """Advance by ``n`` units."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._mode == "plain" and self.total:
            pct = min(100.0, 100.0 * self.n / self.total)
            now = time.monotonic()
            # a line per whole percent at most, and at most ~5 per second, keeps logs short
            if pct >= 100.0 or (int(pct) > int(self._last_plain) and now - self._last_time > 0.2):
                self._last_plain, self._last_time = pct, now
                extra = f" {self._postfix}" if self._postfix else ""
                print(f"{PLAIN_PREFIX} {pct:.1f} {self.desc}{extra}", file=sys.stderr, flush=True)

    def set_total(self, total: float | None) -> None:
        """Set the number of units once it is known (work whose size the first step decides)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix(self, **values: Any) -> None:
        """Show key=value figures (e.g. loss, accuracy) beside the bar."""
        self._postfix = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def track(iterable: Iterable[T], total: float | None = None, desc: str = "", *, unit: str = "it") -> Iterator[T]:
    """Iterate over ``iterable`` while reporting progress."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total, desc, unit=unit) as p:
        for item in iterable:
            yield item
            p.update(1)
