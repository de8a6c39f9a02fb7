"""A real dask cluster on localhost from dask's own commands (``dask scheduler``, ``dask worker``).

Used by the cluster tests: the processes are what a user starts on a real
cluster, on 127.0.0.1 with free ports, and are always torn down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DaskProcesses:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


def _wait(pred, what: str, procs: Sequence[subprocess.Popen], timeout: float = START_TIMEOUT_S) -> None:
    end = time.monotonic() + timeout
    while not pred():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: a dask process exited early: {dead[0].args}")
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not ready after {timeout} s")
        time.sleep(0.2)


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(n, timeout=START_TIMEOUT_S)


@contextlib.contextmanager
def dask_processes(tmp: Path, worker_envs: Sequence[dict[str, str]], *,
                   preload: str | None = None) -> Iterator[DaskProcesses]:
    """Start ``dask scheduler`` and one ``dask worker`` (no nanny, one thread) per entry of ``worker_envs``.

    Each worker gets the environment plus its entry (and ``OMP_NUM_THREADS=1``);
    ``preload`` is passed as ``--preload`` to every worker.  Everything is
    killed on exit.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp / "dask.log").open("ab")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs: list[subprocess.Popen] = []
    try:
        sched = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 stdout=log, stderr=log, env=env)
        procs.append(sched)
        _wait(lambda: _connectable(port), "scheduler", procs)
        workers = []
        for i, extra in enumerate(worker_envs):
            cmd = [DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                   "--host", "127.0.0.1", "--name", f"w{i}"]
            if preload:
                cmd += ["--preload", preload]
            w = subprocess.Popen(cmd, stdout=log, stderr=log, env={**env, **extra})
            procs.append(w)
            workers.append(w)
        _wait_for_workers(address, len(worker_envs))
        yield DaskProcesses(address, sched, workers)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


def _connectable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
