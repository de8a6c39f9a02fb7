"""A ``dask worker --preload`` module for the tests: the worker process dies when it starts an hsigeo task.

With ``HSIGEO_TEST_DIE_AT_TASK=N`` in its environment, the worker calls
``os._exit`` as its N-th window task starts executing: the abrupt loss of a
machine in the middle of a run, at a reproducible moment.  Without the
variable the preload does nothing.
"""

from __future__ import annotations

import os
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

EXIT_CODE = 17


class DieAtTask(WorkerPlugin):
    """Exit the process when the ``n``-th ``hsigeo-window`` task starts."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.started = 0

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and str(key).startswith("hsigeo-window"):
            self.started += 1
            if self.started >= self.n:
                os._exit(EXIT_CODE)


async def dask_setup(worker: Any) -> None:
    n = os.environ.get("HSIGEO_TEST_DIE_AT_TASK")
    if n:
        await worker.plugin_add(DieAtTask(int(n)), name="hsigeo-die-at-task")
