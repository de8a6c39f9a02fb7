"""Where ``hsigeo classify`` holds its memory: peak resident memory per phase of one run.

Runs ``hsigeo classify ARGS...`` in this process with a thread sampling the
resident set size (``/proc/self/statm``) every 50 ms, and the run's phases
marked by wrapping the functions that start them (opening the scene, binding
the base model, adapting it to the scene, the tiled classification).  Prints,
per phase, the resident memory when it started and its peak, as Markdown.
``/usr/bin/time -v`` gives the same run's overall peak.  Usage::

    python benchmarks/classify_memory.py classify GRANULE.nc --prompts p.yaml -o out.tif --threads 1

Linux only (``/proc``).  Benchmark-only: nothing in hsigeo depends on it.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class Phases:
    """Peak RSS per named phase; the innermost running phase owns each sample."""

    def __init__(self) -> None:
        self.stack: list[str] = ["start-up"]
        self.rows: dict[str, list[float]] = {"start-up": [_rss_mb(), _rss_mb(), time.perf_counter()]}
        self.lock = threading.Lock()
        self.done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self.done.wait(0.05):
            rss = _rss_mb()
            with self.lock:
                for name in self.stack:  # an outer phase's peak includes its inner phases'
                    row = self.rows[name]
                    row[1] = max(row[1], rss)

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                rss = _rss_mb()
                row = self.rows.setdefault(name, [rss, rss, 0.0])
                row[1] = max(row[1], rss)
                self.stack.append(name)
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.stack.remove(name)
                    self.rows[name][2] += time.perf_counter() - t

        # the wrapper replaces the attribute where callers look it up (they import it at call time)
        setattr(owner, attr, run)

    def table(self) -> str:
        lines = ["| phase | RSS at start (MB) | peak RSS (MB) | seconds |", "| --- | ---: | ---: | ---: |"]
        for name, (start, peak, secs) in self.rows.items():
            if name == "start-up":
                secs = 0.0
            lines.append(f"| {name} | {start:,.0f} | {peak:,.0f} | {secs:,.1f} |")
        return "\n".join(lines)


def main(argv: list[str]) -> None:
    import hsigeo.inference.tiled as tiled
    import hsigeo.io.raster as raster
    import hsigeo.model.adapt as adapt
    import hsigeo.model.base as base

    phases = Phases()
    phases.wrap(raster, "open_hsi", "open_hsi (incl. the GLT cube on first use)")
    phases.wrap(base.BaseModel, "for_scene", "base model bound to the scene (sample, radiometry)")
    phases.wrap(adapt, "adapt", "adaptation to the scene (sample windows, self-training)")
    phases.wrap(tiled, "classify_raster", "tiled classification (windows, writers)")
    phases.wrap(tiled, "_stream", "  of which the window pipeline")
    from hsigeo_cli.main import main as cli

    try:
        cli(argv)
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        phases.done.set()
        print(phases.table(), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
