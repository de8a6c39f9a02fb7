"""Classify rasters on a dask.distributed cluster, writing the outputs on the client.

:func:`stream_on_cluster` is the cluster back end of
:func:`hsigeo.inference.tiled.classify_raster` (``client=``): the client
plans the same windows as the in-process pipeline and submits one task per
window; a task opens the scene by path on its worker (and keeps it open for
the next window), reads the window with its halo (the tiled engine's reader)
and runs the tiled engine's model step,
so the result equals the in-process engine's pixel for pixel.  Only the
window's small results (class values, confidence, probabilities when asked
for, class counts) come back; the client writes them into the block writers
of :mod:`hsigeo.io.writers` as they arrive, with at most a few tasks per
worker thread in flight, so client memory stays bounded whatever the scene
size (nothing gathers a whole scene).

What moves between machines
    The model travels as one task result holding a
    :class:`~hsigeo.inference.distributed.ModelRef`: pickled, that is the
    model file's bytes (safetensors + JSON), never a pickled torch module; a
    worker loads it once per process.  Scenes are *not* shipped: workers read
    them by path, so every worker must see the scene files at the same path
    (a shared file system).

Worker failures
    When a worker dies, the scheduler re-runs its tasks on the others
    (``distributed.scheduler.allowed-failures`` times per task).  If the
    run cannot finish (tasks kill workers repeatedly, the scheduler goes
    away) the error reaches the client, the writers' temporary files are
    deleted, and no output of that scene appears.

:func:`open_client` connects to a scheduler (``--scheduler``) or starts a
local cluster of worker processes (``--workers``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.device import resolve_device, torch_threads
from hsigeo.errors import ClusterError, HsigeoError, InvalidInputError, RasterReadError
from hsigeo.inference.core import add_counts, class_dtype, class_values, classify_tile, default_batch_size
from hsigeo.inference.distributed import ModelRef
from hsigeo.inference.products import OutputPlan, TileResult, open_product_writers, output_grid
from hsigeo.inference.region import Region
from hsigeo.inference.scene import Scene, read_region_tile
from hsigeo.sampling.windows import plan_windows

__all__ = ["open_client", "stream_on_cluster", "cluster_description", "TASK_PREFIX"]

#: Key prefix of the per-window tasks (visible on the dask dashboard).
TASK_PREFIX = "hsigeo-window"
# tasks in flight per worker thread: enough to keep every thread busy while results travel back
_IN_FLIGHT_PER_THREAD = 2
_CONNECT_TIMEOUT_S = 10


# --------------------------------------------------------------------------- #
# Clients
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None, *,
                timeout: float = _CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A :class:`distributed.Client` for the run, or ``None`` for the in-process engine.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``), as printed by
        ``dask scheduler``.
    workers
        Start a :class:`distributed.LocalCluster` of this many worker
        processes (one thread each) for the run, and stop it afterwards.
    timeout
        Seconds to wait for the scheduler, and for its first worker.

    Raises
    ------
    InvalidInputError
        When both are given.
    ClusterError
        When the scheduler cannot be reached, or it has no worker with hsigeo.
    """
    if scheduler and workers:
        raise InvalidInputError("give either --scheduler ADDRESS (an existing cluster) or --workers N "
                          "(a local one), not both.")
    if not scheduler and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    if workers:
        # one thread per process: torch's own threads (one under dask's nanny) do the parallel work
        # dashboard on a free port: 8787 may belong to another cluster on this machine
        with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            _warm_up_workers(client)
            yield client
        return
    import dask

    # dask's Client bounds the TCP connect but not the handshake read after it: a listener that
    # accepts and never answers would hold it for minutes.  The handshake is tried first under a
    # wall-clock bound, then the Client connects with dask's own connect timeout set to ours.
    _check_scheduler(scheduler, timeout)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout:g}s"}):
            client = Client(scheduler, timeout=timeout)
    except (Exception, MemoryError) as exc:  # noqa: BLE001 - whatever dask raises here is about the address
        raise ClusterError(_unreachable(scheduler, exc, timeout)) from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as exc:
            raise ClusterError(
                f"the dask scheduler at {scheduler} has no workers after {timeout:g} s; start some with "
                f"`dask worker {scheduler} --nthreads 1`."
            ) from exc
        _warm_up_workers(client)
        yield client


_FIX = ("start a scheduler with `dask scheduler` and workers with `dask worker ADDRESS`, check the address and "
        "port (`dask scheduler` prints them), or use --workers N for a local cluster")


def _check_scheduler(address: str, timeout: float) -> None:
    """Connect and complete dask's handshake within ``timeout`` seconds, or raise a clear :class:`ClusterError`.

    Runs on its own event loop in a helper thread, so it works whether or not the caller
    has a loop running (a notebook).
    """
    import asyncio

    from distributed.comm import connect

    async def handshake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(handshake())
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - reported below, in words
            failure.append(exc)

    t = threading.Thread(target=run, name="hsigeo-scheduler-check", daemon=True)
    t.start()
    t.join(timeout + 5)  # asyncio.wait_for ends it by then; the margin covers its own clean-up
    if t.is_alive():
        failure.append(TimeoutError())
    if failure:
        exc = failure[0]
        if not isinstance(exc, ConnectionRefusedError) and _port_refuses(address):
            # dask retries a refused connect until its timeout and may then report only the timeout
            exc = ConnectionRefusedError(f"connection to {address} refused")
        raise ClusterError(_unreachable(address, exc, timeout)) from failure[0]


def _port_refuses(address: str) -> bool:
    """Whether a plain TCP connect to ``tcp://HOST:PORT`` is refused right now (nothing listens there)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        if parts.scheme not in ("tcp", "") or parts.hostname is None or parts.port is None:
            return False
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False


def _unreachable(address: str, exc: BaseException, timeout: float) -> str:
    """What went wrong connecting to ``address``, in words (never a repr of dask's internals)."""
    chain = [exc]
    while chain[-1].__cause__ is not None or chain[-1].__context__ is not None:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt in chain or len(chain) > 8:
            break
        chain.append(nxt)
    text = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, ValueError) and "address" in text or "unknown address scheme" in text \
            or "could not parse" in text:
        what = f"{address} is not a dask scheduler address (expected tcp://HOST:PORT)"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        what = (f"nothing accepts connections at {address} (connection refused for {timeout:g} s): the scheduler "
                "is not running (yet) or listens elsewhere")
    elif isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        what = (f"the dask scheduler at {address} did not answer within {timeout:g} s: something accepts "
                "connections there but does not complete dask's handshake (another service, a firewall, or a "
                "stuck scheduler)")
    elif isinstance(exc, ImportError):  # the scheduler's own refusal (dask versions that do not fit)
        what = f"the dask scheduler at {address} refused this client ({str(exc)[:200]})"
    elif isinstance(exc, OSError):
        what = f"cannot connect to {address} ({type(exc).__name__}: {str(exc)[:120]})"
    else:
        what = (f"{address} answered, but not in dask's protocol (its first reply could not be read as a "
                "message); another service listens on that port")
    return f"{what}; {_FIX}."


def _warm_up() -> None:
    """Import what a window task needs (torch, the model, rasterio) now, not inside the first scene's time."""
    import rasterio  # noqa: F401

    import hsigeo.inference.cluster  # noqa: F401
    import hsigeo.model.modelfile  # noqa: F401


def _warm_up_workers(client: Any) -> None:
    """Import hsigeo on every worker now; a worker without it is a clear error, not a task traceback later."""
    try:
        client.run(_warm_up)
    except (ImportError, AttributeError) as exc:
        raise ClusterError(
            f"dask workers at {client.scheduler.address} cannot import hsigeo ({exc}); install hsigeo (the "
            "client's version) in the workers' Python environment and restart them."
        ) from exc


def cluster_description(client: Any) -> str:
    """``"3 workers, 3 threads at tcp://..."``: what a run used."""
    nthreads = client.nthreads()
    return f"{len(nthreads)} workers, {sum(nthreads.values())} threads at {client.scheduler.address}"


# --------------------------------------------------------------------------- #
# Tasks (run on the workers)
# --------------------------------------------------------------------------- #
def _model_task(ref: ModelRef) -> ModelRef:
    """The model's own graph key: workers fetch it (the model file bytes) once, not once per task."""
    return ref


_ALLOCATOR_TUNED = False
# glibc mallopt parameters, and the values glibc itself grows to on a busy 64-bit process
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


def _tune_allocator() -> None:
    """Undo dask's ``MALLOC_TRIM_THRESHOLD_=65536`` for this worker process (glibc only; once).

    dask's nanny starts workers with that variable so freed memory goes back
    to the OS at once.  Setting it also freezes glibc's mmap threshold at
    128 KiB, so every large array (torch's per-batch temporaries) is a fresh
    mmap whose pages fault in on each pass: measured 3x slower model runs in a
    worker than in-process.  The thresholds glibc would reach on its own
    (mmap 32 MiB, trim twice that) restore the in-process speed.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to undo
        pass


_HANDLES = threading.local()


def _scene_handle(path: Path) -> Any:
    """This thread's open dataset on ``path``, kept from task to task.

    Neighbouring windows share the blocks under their halos; a handle kept
    open keeps them in GDAL's block cache, as the in-process reader does.
    Keyed by the file's identity, so a replaced file is opened afresh; one
    per thread, since a GDAL dataset must not be read from two threads.
    """
    import rasterio

    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    held = getattr(_HANDLES, "held", None)
    if held is not None and held[0] == key:
        return held[1]
    if held is not None:
        held[1].close()
        _HANDLES.held = None
    src = rasterio.open(path)
    _HANDLES.held = (key, src)
    return src


def _window_task(scene: Scene, region: Region, window: tuple[int, int, int, int], model_ref: ModelRef, *,
                 plan: OutputPlan, values: np.ndarray, dtype: str, device: str, batch_size: int | None,
                 naive: bool, threads: int | None) -> tuple[TileResult, dict[str, np.ndarray]]:
    """Read one window (with halo) on the worker, classify it and render the planned products.

    Only what the client writes travels back: the rendered arrays (the full probabilities only
    when a planned product is them) and the window's result without its probabilities.
    """
    import dataclasses
    import socket

    from rasterio.errors import RasterioIOError

    _tune_allocator()
    model = model_ref.get()
    dev = resolve_device(device)
    bs = batch_size if batch_size is not None else default_batch_size(dev)
    try:
        src = _scene_handle(scene.data_path)
    except (RasterioIOError, OSError) as exc:
        raise RasterReadError(
            f"{scene.data_path}: worker {socket.gethostname()} cannot open the scene ({exc}); workers read "
            "scenes by path, so keep them on storage that every worker mounts at the same path."
        ) from None
    with torch_threads(threads):
        tile, valid = read_region_tile(src, scene, region, window, int(model.radius), model)
        result = classify_tile(model, tile, valid, values, np.dtype(dtype), window=window, device=dev, batch_size=bs,
                               naive=naive, keep_probabilities=plan.needs_probabilities)
    return dataclasses.replace(result, probabilities=None), plan.render(result)


# --------------------------------------------------------------------------- #
# Client side
# --------------------------------------------------------------------------- #
def stream_on_cluster(client: Any, scene: Scene, model: Any, plan: OutputPlan, options: Any, *,
                      run: dict[str, Any], stages: Any, region: Region) -> tuple[int, dict[int, int], int]:
    """Classify ``scene`` window by window on the cluster; write the outputs here.

    The contract of the in-process pipeline (``_stream`` in
    :mod:`hsigeo.inference.tiled`): returns (valid pixels, class counts,
    windows); ``stages`` gets ``model`` (waiting for results) and ``write``
    seconds.  ``options`` is the run's :class:`~hsigeo.inference.tiled.RunOptions`.
    Outputs appear only when every window is written.
    """
    from distributed import wait

    from hsigeo.progress import Progress

    windows = plan_windows(region.height, region.width, options.tile_size)
    ref = ModelRef(model)
    run_id = uuid.uuid4().hex[:8]
    model_future = client.submit(_model_task, ref, key=f"hsigeo-model-{ref.digest}-{run_id}")
    task_kw = {"plan": plan, "values": class_values(model), "dtype": str(class_dtype(model)),
               "device": options.device, "batch_size": options.batch_size, "naive": options.naive,
               "threads": options.threads}
    limit = max(2, _IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))
    todo = iter(enumerate(windows))
    in_flight: set[Any] = set()
    watch = _WorkerWatch(client, scene)

    def submit_next() -> None:
        nxt = next(todo, None)
        if nxt is not None:
            i, window = nxt
            fut = client.submit(_window_task, scene, region, window, model_future, key=f"{TASK_PREFIX}-{run_id}-{i}",
                                **task_kw)
            in_flight.add(fut)

    def finished() -> Iterator[Any]:
        """Futures as they finish; checks the cluster still has workers while none does."""
        while in_flight:
            try:
                done, _ = wait(list(in_flight), timeout=_WATCH_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                watch.check()
                continue
            except (OSError, MemoryError) as exc:
                raise ClusterError(_lost(scene, exc)) from exc
            watch.seen()
            for fut in done:
                in_flight.discard(fut)
                yield fut

    counts: dict[int, int] = {}
    bar = Progress(region.width * region.height, f"classify {scene.path.name}", unit="px", unit_scale=True) \
        if options.progress else None
    try:
        with contextlib.ExitStack() as stack:
            if bar is not None:
                stack.enter_context(bar)
            outputs = stack.enter_context(
                open_product_writers(plan, output_grid(scene, region), model, tile_size=options.tile_size,
                                     overwrite=True))
            for _ in range(limit):
                submit_next()
            t0 = time.perf_counter()
            for fut in finished():
                result, arrays = _result(fut, scene)
                del fut  # the client keeps no finished window, so the cluster frees it
                t1 = time.perf_counter()
                stages.add("model", t1 - t0)
                submit_next()
                outputs.write(result.window, arrays)
                add_counts(counts, result.counts)
                t0 = time.perf_counter()
                stages.add("write", t0 - t1)
                if bar is not None:
                    bar.update(result.pixels)
            outputs.tag(run)
    finally:
        # on failure nothing of this scene is left running on the cluster (a lost scheduler cannot be told)
        with contextlib.suppress(Exception):
            client.cancel([*in_flight, model_future])
    return sum(counts.values()), dict(sorted(counts.items())), len(windows)


# seconds between checks that the cluster still has workers, while no window finishes
_WATCH_S = 2.0
# how long a run waits for workers when the cluster has none (dask's own setting when given)
_NO_WORKERS_DEFAULT_S = 60.0


class _WorkerWatch:
    """Fails a run whose cluster has had no worker for the no-workers timeout.

    Tasks of a cluster without workers wait for one forever (an external scheduler keeps
    them); the client notices and stops with a clear error instead of hanging.  The timeout
    is dask's ``distributed.scheduler.no-workers-timeout`` when set, else 60 s.
    """

    def __init__(self, client: Any, scene: Scene) -> None:
        import dask
        from dask.utils import parse_timedelta

        self.client, self.scene = client, scene
        limit = dask.config.get("distributed.scheduler.no-workers-timeout", None)
        self.limit = float(parse_timedelta(limit, default="seconds")) if limit else _NO_WORKERS_DEFAULT_S
        self.since: float | None = None

    def seen(self) -> None:
        self.since = None

    def check(self) -> None:
        try:
            n = len(self.client.nthreads())
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - any failure to ask means the scheduler is gone
            raise ClusterError(_lost(self.scene, exc)) from exc
        if n:
            self.since = None
            return
        now = time.monotonic()
        self.since = self.since or now
        if now - self.since >= self.limit:
            address = self.client.scheduler.address
            raise ClusterError(
                f"{self.scene.path}: the dask cluster at {address} has had no worker for {self.limit:g} s (they "
                "stopped or were killed while classifying it); nothing of this scene was written. Start workers "
                f"with `dask worker {address}` and rerun with --resume to skip the scenes already done.")


def _lost(scene: Scene, exc: BaseException) -> str:
    return (f"{scene.path}: lost the dask cluster while classifying it ({type(exc).__name__}: {str(exc)[:160]}); "
            "nothing of this scene was written. Check that the scheduler and its workers are running; rerun with "
            "--resume to skip the scenes already done.")


def _result(future: Any, scene: Scene) -> tuple[Any, ...]:
    """A window task's result; cluster failures become one clear :class:`~hsigeo.errors.ClusterError`."""
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except HsigeoError:
        raise
    except KilledWorker as exc:
        raise ClusterError(
            f"{scene.path}: dask workers died while classifying it ({exc}); nothing of this scene was "
            "written. Check the workers' logs (memory limits are the usual cause); rerun with --resume to "
            "skip the scenes already done."
        ) from exc
    except (CommClosedError, FutureCancelledError, OSError, TimeoutError, MemoryError) as exc:
        raise ClusterError(_lost(scene, exc)) from exc
    except Exception as exc:
        # dask's own errors (a worker removed mid-transfer, "Address removed") are about the cluster, not a bug
        if type(exc).__module__.split(".")[0] in ("distributed", "tornado", "asyncio"):
            raise ClusterError(_lost(scene, exc)) from exc
        raise
