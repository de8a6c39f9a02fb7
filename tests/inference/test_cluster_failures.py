"""``--scheduler`` at addresses that are not a working dask cluster: bounded in time, one clear ``Error:`` line.

Real sockets on 127.0.0.1 (a listener that accepts and never answers, one that answers garbage, a
closed port) and a real ``dask scheduler`` whose only worker dies mid-run; the CLI runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _batch_scenes import classify_args, make_flight, no_partial_files, run_cli
from _dask_processes import dask_processes
from _die_at_task import EXIT_CODE

PRELOAD = str(Path(__file__).resolve().parent.parent / "_die_at_task.py")


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster-failures")
    return make_flight(d)


@contextlib.contextmanager
def _listener(mode: str) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and stays silent, or sends garbage; its address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conns.append(conn)
            if mode == "garbage":
                with contextlib.suppress(OSError):
                    conn.sendall(b"\xff" * 64 + os.urandom(1024))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for c in conns:
            c.close()
        server.close()


@contextlib.contextmanager
def _closed_port() -> Iterator[str]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a scheduler not started yet
    yield f"tcp://127.0.0.1:{port}"


@pytest.mark.parametrize("case, words", [
    ("silent", "did not answer within 10 s"),
    ("garbage", "answered, but not in dask's protocol"),
    ("closed", "nothing accepts connections at"),
])
def test_scheduler_address_that_is_no_scheduler_fails_fast_and_clearly(case, words, flight, tmp_path):
    server = _closed_port() if case == "closed" else _listener(case)
    with server as address:
        t0 = time.monotonic()
        res = run_cli(*classify_args(flight, tmp_path / "out", "--scheduler", address), home=tmp_path, timeout=120)
        seconds = time.monotonic() - t0
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error: ")]
    assert res.returncode == 2 and len(errors) == 1, res.stderr
    assert address in errors[0] and words in errors[0] and "dask scheduler" in errors[0], errors[0]
    assert "out of memory" not in res.stderr and " object at 0x" not in res.stderr and "bug" not in res.stderr
    assert seconds < 90  # start-up plus the 10 s bound, never minutes
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_only_worker_killed_mid_run_is_a_clear_error_not_a_hang(flight, tmp_path):
    """The cluster's only worker dies at its second window: no other worker comes, the run stops and says so."""
    with dask_processes(tmp_path, [{"HSIGEO_TEST_DIE_AT_TASK": "2"}], preload=PRELOAD) as cluster:
        res = run_cli(*classify_args(flight, tmp_path / "out", "--scheduler", cluster.address), home=tmp_path,
                      timeout=240, env={"DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "5s"})
        dying = cluster.workers[0]
        dying.wait(timeout=30)
    assert dying.returncode == EXIT_CODE
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error: ")]
    assert res.returncode == 2 and len(errors) == 1, res.stderr
    assert "scene_0.tif" in errors[0] and "no worker for 5 s" in errors[0] and "dask worker" in errors[0] \
        and "--resume" in errors[0], errors[0]
    assert "Address removed" not in res.stderr and "bug" not in res.stderr
    out = tmp_path / "out"
    assert not out.exists() or (no_partial_files(out) == [] and not list(out.glob("*.tif")))
