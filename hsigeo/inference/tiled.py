"""Windowed, streaming classification of a raster on disk.

:func:`classify_raster` cuts the scene into ``tile_size`` windows, reads each
with a halo of ``model.radius`` pixels, normalises it, runs the model and
writes the window's classes (and optionally confidence and per-class
probabilities) into tiled GeoTIFFs.  Three stages overlap::

    reader threads (N)  --(queue: N tiles)-->  model (caller's thread)  --(queue: 2 results)-->  writer thread

so reading/decompressing the next windows and writing the last one happen
while the model runs, and at most ``N + 3`` tiles are ever in memory: peak
memory depends on ``tile_size``, the band count and the readers, not on the
scene size.  Each reader has its own GDAL dataset (a handle must not be shared
between threads); GDAL decompression, numpy normalisation and the torch ops of
a base-model prior release the GIL, so N readers decode N windows at once.

What is written is planned apart from how it is computed: an
:class:`~hsigeo.inference.products.OutputPlan` names the products and paths
(:data:`~hsigeo.inference.products.PRODUCTS`), the model step returns one
:class:`~hsigeo.inference.products.TileResult` per window, and the writer
renders and writes the planned products from it.

Equality with whole-scene inference
    Halo pixels outside the scene are taken by the same reflection that
    whole-scene inference uses (``numpy.pad(mode="reflect")`` of the whole
    scene, see :func:`hsigeo.sampling.windows.reflect_indices`), so the stitched
    map equals :func:`hsigeo.inference.core.classify_array` pixel for pixel,
    for any tile size.

Outputs
    Every output is written to a temporary file beside its target and renamed
    into place only when the whole scene is done (the block writers of
    :mod:`hsigeo.io.writers`): an exception or Ctrl-C leaves neither a partial
    output nor a temporary file.  Each raster records the run in its
    ``HSIGEO_RUN`` metadata item (model digest, scene path/size/mtime,
    hsigeo version).

Extent, mask and resampling
    ``extent`` and ``mask`` restrict the run to a region of the scene
    (:mod:`hsigeo.inference.region`): windows are planned over the region
    only, windows the mask polygons miss are never read, and pixels outside
    the polygons are nodata.  ``resample=True`` interpolates each tile's
    spectra onto the model's bands (:mod:`hsigeo.io.resample`) when the
    scene's bands differ from the model's.

Resume
    ``resume=True`` makes a rerun cheap and safe: when every requested raster
    already exists and its ``HSIGEO_RUN`` matches this run (same model, same
    scene file, same hsigeo version) the classification is not recomputed and
    only missing extras (the vector file) are produced; outputs from another
    model or scene are never silently reused (that needs ``overwrite``).
    Since outputs are written atomically there is never a half-finished file
    to continue from: an interrupted run simply starts again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.device import default_threads, release_freed_memory, resolve_device, torch_threads
from hsigeo.errors import HsigeoError, InvalidInputError
from hsigeo.filesafety import check_output, protect_inputs
from hsigeo.inference.core import (
    add_counts,
    class_dtype,
    class_values,
    classify_tile,
    default_batch_size,
    default_tile_size,
    file_identity,
    model_digest,
)
from hsigeo.inference.model_contract import InferenceModel, require_model
from hsigeo.inference.products import RUN_TAG, OutputPlan, ProductWriters, open_product_writers, output_grid
from hsigeo.inference.region import Region, plan_region
from hsigeo.inference.scene import Scene, open_scene, read_region_tile, warn_about_scene
from hsigeo.sampling.windows import plan_windows

__all__ = ["classify_raster", "ClassificationResult", "RunOptions", "default_readers", "RUN_TAG"]

# Results waiting for the writer: they are small, so the writer may lag by two.
_WRITE_QUEUE_SIZE = 2
# More readers than this rarely help one model stage (measured in benchmarks/inference.py).
_MAX_DEFAULT_READERS = 8
# GDAL block cache for the reader: enough for halo re-reads between
# neighbouring windows, small enough that memory stays flat with scene size.
_READ_CACHE_BYTES = 256 * 1024 * 1024
_POLL_S = 0.1


@dataclass(frozen=True)
class ClassificationResult:
    """What :func:`classify_raster` produced.

    Attributes
    ----------
    out_path, confidence_path, probabilities_path, vector_path
        The outputs written (``None`` when not asked for).
    width, height
        Scene size in pixels.
    n_windows
        Windows processed.
    tile_size, batch_size, device, naive
        The settings used.
    seconds
        Wall time of the classification (not counting vectorisation).
    pixels_per_second
        ``width * height / seconds``.
    n_valid
        Pixels classified (the rest are nodata).
    class_counts
        Pixels per class value.
    skipped
        True when ``resume`` found complete, matching outputs and nothing was
        recomputed.
    stage_seconds
        Busy time per pipeline stage: ``read`` (decompress, normalise; reader
        thread), ``model`` (caller's thread), ``write`` (compress; writer
        thread), and ``wait`` (the model stage idle, waiting for a tile).  The
        stages overlap (and ``read`` sums over the reader threads), so these
        add up to more than ``seconds``; a large ``wait`` means reading is the
        bottleneck.
    model_digest
        Identity of the model (see :func:`hsigeo.inference.core.model_digest`).
    products
        Every raster written, by product name (see :data:`hsigeo.inference.products.PRODUCTS`).
    """

    out_path: Path
    confidence_path: Path | None
    probabilities_path: Path | None
    vector_path: Path | None
    width: int
    height: int
    n_windows: int
    tile_size: int
    batch_size: int
    device: str
    naive: bool
    seconds: float
    pixels_per_second: float
    n_valid: int
    class_counts: dict[int, int] = field(default_factory=dict)
    skipped: bool = False
    model_digest: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    products: dict[str, Path] = field(default_factory=dict)


def default_readers(device: str) -> int:
    """Reader threads by default: 1 on CPU (the cores run torch), up to 8 for a GPU's model stage.

    On CPU the model step already uses every core but one through torch's threads, and a second
    reader only competes with it; a GPU's model step is so fast that one reading thread starves it.
    """
    if not device.startswith("cuda"):
        return 1
    return max(1, min(_MAX_DEFAULT_READERS, (os.cpu_count() or 2) - 1))


@dataclass(frozen=True)
class RunOptions:
    """How a run computes (frozen; what it writes is the :class:`~hsigeo.inference.products.OutputPlan`).

    Attributes
    ----------
    device
        Resolved device (``"cpu"``, ``"cuda:0"``; ``"auto"`` only on a cluster, resolved per worker).
    tile_size, batch_size
        Window side and pixels per forward pass (``batch_size`` ``None``: the device's default).
    naive
        One patch per pixel instead of the dense path (checks).
    progress
        Report progress.
    threads
        torch CPU threads (``None``: the default of :func:`~hsigeo.device.default_threads`).
    readers
        Reader threads of the in-process pipeline.
    model_workers
        Windows in the model step at once (the in-process pipeline); on CPU the torch threads are
        shared out between them, so several windows run side by side instead of one window on
        all cores.
    """

    device: str
    tile_size: int
    batch_size: int | None
    naive: bool = False
    progress: bool = True
    threads: int | None = None
    readers: int = 1
    model_workers: int = 1

    @classmethod
    def for_device(cls, device: str, *, tile_size: int | None = None, batch_size: int | None = None,
                   naive: bool = False, progress: bool = True, threads: int | None = None,
                   readers: int | None = None, model_workers: int | None = None) -> RunOptions:
        """Options with the device's defaults filled in; refuses impossible values."""
        tile = int(tile_size) if tile_size is not None else default_tile_size(device)
        if tile < 1:
            raise InvalidInputError(f"tile_size must be >= 1, not {tile}")
        for name, value in (("readers", readers), ("model_workers", model_workers), ("threads", threads)):
            if value is not None and int(value) < 1:
                raise InvalidInputError(f"{name} must be >= 1, not {value}")
        if device == "auto":  # a cluster: each worker picks its own batch size
            bs = batch_size
        else:
            bs = batch_size if batch_size is not None else default_batch_size(device)
        return cls(device=device, tile_size=tile, batch_size=bs, naive=naive, progress=progress, threads=threads,
                   readers=int(readers) if readers is not None else default_readers(device),
                   model_workers=int(model_workers) if model_workers is not None else 1)


class _Stages:
    """Busy seconds per pipeline stage, added to from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {"read": 0.0, "model": 0.0, "write": 0.0, "wait": 0.0}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        with self._lock:
            return {k: round(v, 3) for k, v in self.seconds.items()}


# --------------------------------------------------------------------------- #
# Pipeline plumbing
# --------------------------------------------------------------------------- #
class _Done:
    """End-of-stream marker."""


@dataclass
class _Failed:
    exc: BaseException


def _put(q: queue.Queue, item: Any, abort: threading.Event) -> bool:
    """Put ``item`` unless the pipeline is aborted (returns False then)."""
    while not abort.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, abort: threading.Event) -> Any:
    """Get the next item; ``_Done`` when the pipeline is aborted."""
    while not abort.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return _Done()


def _run_tag(path: Path) -> dict[str, Any] | None:
    """The ``HSIGEO_RUN`` record of an existing output, or ``None``."""
    import rasterio

    try:
        with rasterio.open(path) as src:
            text = src.tags().get(RUN_TAG)
        return json.loads(text) if text else None
    except Exception:  # noqa: BLE001 - unreadable means "not a matching output"
        return None


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
def classify_raster(
    scene_path: str | os.PathLike,
    model: InferenceModel,
    out_path: str | os.PathLike,
    *,
    confidence_path: str | os.PathLike | None = None,
    probabilities_path: str | os.PathLike | None = None,
    vector_path: str | os.PathLike | None = None,
    products: Mapping[str, str | os.PathLike | None] | None = None,
    tile_size: int | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    overwrite: bool = False,
    resume: bool = False,
    naive: bool = False,
    progress: bool = True,
    min_area: float = 0.0,
    threads: int | None = None,
    readers: int | None = None,
    model_workers: int | None = None,
    extent: Any = None,
    mask: str | os.PathLike | None = None,
    product_mask: str | Sequence[str] | None = None,
    resample: bool = False,
    client: Any = None,
) -> ClassificationResult:
    """Classify a raster on disk window by window into a classification GeoTIFF.

    Parameters
    ----------
    scene_path
        Hyperspectral GeoTIFF/COG or ENVI file (see :func:`hsigeo.io.raster.open_hsi`).
    model
        A trained :class:`~hsigeo.model.classifier.HsigeoModel`.
    out_path
        Classification GeoTIFF (class values, ``0`` = nodata, colour table,
        category names, ``.qml`` style beside it).
    confidence_path
        Optional float32 GeoTIFF of the winning class's probability (NaN = nodata).
    probabilities_path
        Optional float32 GeoTIFF with one band per class (descriptions = class names).
    vector_path
        Optional GeoPackage of class polygons made from the result.
    products
        More raster products by name (:data:`hsigeo.inference.products.PRODUCTS`), e.g.
        ``{"margin": "margin.tif"}``; ``confidence_path`` and ``probabilities_path`` are
        shorthands for two of them.
    tile_size
        Window size in pixels (before the halo); ``None`` = 256 on CPU, 1024
        on CUDA (:func:`~hsigeo.inference.core.default_tile_size`).  Memory
        per tile is about ``bands * (tile_size + 2 * radius)**2 * 4`` bytes
        and ``readers + 3`` tiles are in flight.  The result does not depend on it.
    batch_size
        Pixels per forward pass; ``None`` = 2048 on CPU, 65536 on CUDA
        (:func:`~hsigeo.inference.core.default_batch_size`).
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        On CUDA the model runs under mixed precision (autocast).
    overwrite
        Replace existing outputs.
    resume
        Reuse complete outputs of an identical earlier run instead of
        recomputing (see the module notes); without it existing outputs raise
        :class:`~hsigeo.errors.OutputExistsError` unless ``overwrite``.
    naive
        Use the model's one-patch-per-pixel path (slow; for checks).
    progress
        Report progress (pixels/s, ETA) through :mod:`hsigeo.progress`.
    min_area
        Smallest polygon area (map units²) kept in ``vector_path``.
    threads
        torch CPU threads during the run (``None``: all cores but one, which
        the reader thread uses; see :func:`~hsigeo.inference.core.default_threads`).
        Ignored on CUDA.  On cores shared with other work, ``1`` is often
        several times faster.
    readers
        Threads reading, decoding and normalising windows (each with its own GDAL handle;
        GDAL and numpy release the GIL, so they read in parallel); ``None``: see
        :func:`default_readers`.  The result does not depend on it.
    model_workers
        Windows in the model step at once (default 1).  On CPU, ``threads`` torch threads are
        shared out between them (at least one each), so e.g. 4 workers of 4 threads use 16
        cores on four windows side by side.  Ignored on a cluster (dask runs one window per
        task there).
    extent
        Classify only this rectangle: an :class:`~hsigeo.inference.region.Extent`
        or ``"xmin,ymin,xmax,ymax[,CRS]"`` (default CRS: the scene's).  The
        outputs cover it (snapped outward to whole scene pixels).
    mask
        Vector file of polygons: pixels whose centre is outside every polygon
        are nodata, windows outside them are not read, and the outputs cover
        the polygons' bounding box (within ``extent``).
    product_mask
        Quality flags of a sensor product to mask, e.g. ``"cloud,shadow"`` or
        ``["cloud"]`` (names: :data:`hsigeo.io.products.quality.FLAGS`): pixels
        the product's own quality files flag are nodata; windows flagged whole
        are not read.  The scene must be a product that ships those files.
    resample
        When the scene's bands differ from the model's and both know their
        wavelengths, interpolate each tile onto the model's bands
        (:func:`hsigeo.io.resample.plan_resampling`: warns when coverage is
        partial, refuses when under half).
    client
        A :class:`distributed.Client`: run the windows as tasks on its
        cluster (:mod:`hsigeo.inference.cluster`); outputs are still written
        here, atomically.  ``None``: the in-process pipeline.  On a cluster,
        ``threads`` is torch's threads per task (``None``: the workers'
        setting; dask's nanny starts workers with one).

    Returns
    -------
    ClassificationResult
        Paths, sizes, timings and class counts.

    Raises
    ------
    RasterReadError
        When the scene cannot be opened, or a block cannot be read (the
        message names the file and the window).
    BandMismatchError
        When the scene's bands do not fit the model.
    OutputExistsError
        When an output exists and neither ``overwrite`` nor a matching
        ``resume`` allows replacing it.
    """
    scene_path = Path(scene_path)
    requested: dict[str, Any] = {"confidence": confidence_path, "probabilities": probabilities_path}
    for name, path in (products or {}).items():
        if path is not None and requested.get(name) is not None and Path(requested[name]) != Path(path):
            raise InvalidInputError(f"two paths for the {name} output: {requested[name]} and {path}; give one.")
        requested[name] = path if path is not None else requested.get(name)
    plan = OutputPlan.build(out_path, vector=vector_path, min_area=min_area, **requested)
    plan.check_distinct(scene_path)
    # the library protects its inputs too: no output (nor sidecar) may be the scene, its files, the mask (with
    # its parts) or the model
    with protect_inputs(getattr(model, "source", None), mask, rasters=(scene_path,)):
        # on a cluster the workers' hardware decides what "auto" means
        dev = resolve_device(device) if client is None else (device or "auto").strip().lower()
        options = RunOptions.for_device(dev, tile_size=tile_size, batch_size=batch_size, naive=naive,
                                        progress=progress, threads=threads, readers=readers,
                                        model_workers=model_workers)
        model = require_model(model)
        scene = open_scene(scene_path, model, resample=resample)
        quality = None
        if product_mask:
            from hsigeo.io.products.quality import quality_mask

            quality = quality_mask(scene_path, product_mask, width=scene.width, height=scene.height)
        region = plan_region(scene.width, scene.height, scene.transform, scene.crs, extent=extent, mask=mask,
                             quality=quality, source=str(scene_path))
        digest = model_digest(model)
        run = _run_record(scene, digest, region)

        if resume and all(_run_tag(p) == run for p in plan.rasters.values()):
            result = _summary_from_existing(plan, region, options, digest)
            if plan.vector is not None and (overwrite or not plan.vector.exists()):
                _vectorize(plan, model, overwrite=overwrite)
            return _replace(result, vector_path=plan.vector)

        for p in plan.rasters.values():
            # an identical earlier run's output may be replaced under resume
            check_output(p, overwrite=overwrite or (resume and _run_tag(p) == run))
        if plan.vector is not None:
            check_output(plan.vector, overwrite=overwrite)

        warn_about_scene(scene, model)
        class_dtype(model)  # refuses class values the raster cannot hold, before any work
        # what binding the model and sampling the scene freed goes back to the system before the windows'
        # own peak builds up (else a run's resident memory is the sum of both high-water marks)
        release_freed_memory()
        t0 = time.perf_counter()
        stages = _Stages()
        if client is not None:
            from hsigeo.inference.cluster import stream_on_cluster

            n_valid, counts, n_windows = stream_on_cluster(client, scene, model, plan, options, run=run,
                                                           stages=stages, region=region)
        else:
            cpu_threads = options.threads if options.threads is not None else (
                default_threads() if dev == "cpu" else None)
            if cpu_threads is not None and options.model_workers > 1:  # shared out between the model steps
                cpu_threads = max(1, cpu_threads // options.model_workers)
            with torch_threads(cpu_threads):
                n_valid, counts, n_windows = _stream(scene, model, plan, options, run=run, stages=stages,
                                                     region=region)
        seconds = time.perf_counter() - t0
        if n_valid == 0:
            warnings.warn(f"{scene_path}: no valid pixel: every pixel is nodata ({scene.nodata}) or not finite, so "
                          f"{plan.class_map} holds only nodata (0). Check the scene's nodata value.", stacklevel=2)
        if plan.vector is not None:
            _vectorize(plan, model, overwrite=True)
        return ClassificationResult(
            out_path=plan.class_map, confidence_path=plan.rasters.get("confidence"),
            probabilities_path=plan.rasters.get("probabilities"), vector_path=plan.vector, width=region.width,
            height=region.height, n_windows=n_windows, tile_size=options.tile_size,
            batch_size=options.batch_size if options.batch_size is not None else default_batch_size("cpu"),
            device=dev, naive=naive, seconds=seconds, pixels_per_second=region.width * region.height / max(seconds, 1e-9),
            n_valid=n_valid, class_counts=counts, skipped=False, model_digest=digest,
            stage_seconds=stages.rounded(), products=dict(plan.rasters),
        )


def _run_record(scene: Scene, digest: str, region: Region) -> dict[str, Any]:
    from hsigeo import __version__

    record = {"model": digest, "scene": file_identity(scene.data_path), "hsigeo": __version__}
    # a whole-scene run keeps the record it always had; a partial one says which part
    if not region.whole_scene:
        record["region"] = region.description
    if scene.resampler is not None:
        record["resampled"] = True
    return record


def _replace(result: ClassificationResult, **changes: Any) -> ClassificationResult:
    from dataclasses import replace

    return replace(result, **changes)


def _summary_from_existing(plan: OutputPlan, region: Region, options: RunOptions, digest: str) -> ClassificationResult:
    """Result record for outputs that ``resume`` found complete (counts read back from the file)."""
    import rasterio

    counts: dict[int, int] = {}
    with rasterio.open(plan.class_map) as src:
        for _, win in src.block_windows(1):
            vals, n = np.unique(src.read(1, window=win), return_counts=True)
            for v, k in zip(vals.tolist(), n.tolist()):
                if v != 0:
                    counts[v] = counts.get(v, 0) + k
    return ClassificationResult(
        out_path=plan.class_map, confidence_path=plan.rasters.get("confidence"),
        probabilities_path=plan.rasters.get("probabilities"), vector_path=None, width=region.width,
        height=region.height, n_windows=0, tile_size=options.tile_size, batch_size=options.batch_size,
        device=options.device, naive=options.naive, seconds=0.0, pixels_per_second=0.0,
        n_valid=sum(counts.values()), class_counts=dict(sorted(counts.items())), skipped=True,
        model_digest=digest, products=dict(plan.rasters),
    )


def _vectorize(plan: OutputPlan, model: InferenceModel, *, overwrite: bool) -> None:
    """Polygonise the finished class raster into the plan's GeoPackage."""
    from hsigeo.io.classmaps import read_classification
    from hsigeo.io.vectors import vectorize_classes, write_vector

    assert plan.vector is not None
    class_da = read_classification(plan.class_map)
    gdf = vectorize_classes(class_da, model.classes, min_area=plan.min_area)
    write_vector(gdf, plan.vector, overwrite=overwrite)


def _stream(scene: Scene, model: InferenceModel, plan: OutputPlan, options: RunOptions, *, run: dict[str, Any],
            stages: _Stages, region: Region) -> tuple[int, dict[int, int], int]:
    """Read -> model -> write every window of ``region`` through bounded queues.

    Returns (valid pixels, counts, windows).  Windows are in region
    coordinates; the readers shift them onto the scene.  ``stages`` collects
    busy seconds per stage.  ``options.model_workers`` model steps run at once
    (the caller's thread and helpers), each taking the next window read.
    """
    import rasterio

    from hsigeo.progress import Progress

    radius = int(model.radius)
    windows = plan_windows(region.height, region.width, options.tile_size)
    values = class_values(model)
    dtype = class_dtype(model)
    n_readers = max(1, min(options.readers, len(windows)))
    n_models = max(1, min(options.model_workers, len(windows)))
    # one normalised tile waiting per model step keeps them busy; results are small
    read_q: queue.Queue = queue.Queue(maxsize=max(n_readers, n_models))
    write_q: queue.Queue = queue.Queue(maxsize=_WRITE_QUEUE_SIZE + n_models - 1)
    abort = threading.Event()
    errors: list[BaseException] = []  # from the writer and the helper model steps
    todo = iter(windows)
    lock = threading.Lock()
    readers_left = [n_readers]

    def next_window() -> tuple[int, int, int, int] | None:
        with lock:
            return next(todo, None)

    def reader() -> None:
        try:
            # each reader has its own dataset: a GDAL handle must not be shared between threads
            with rasterio.Env(GDAL_CACHEMAX=_READ_CACHE_BYTES), rasterio.open(scene.data_path) as src:
                while not abort.is_set():
                    window = next_window()
                    if window is None:
                        break
                    t0 = time.perf_counter()
                    item = (window, *read_region_tile(src, scene, region, window, radius, model))
                    stages.add("read", time.perf_counter() - t0)
                    if not _put(read_q, item, abort):
                        return
            with lock:
                readers_left[0] -= 1
                last = readers_left[0] == 0
            if last:  # one end marker per model step
                for _ in range(n_models):
                    _put(read_q, _Done(), abort)
        except BaseException as exc:  # noqa: BLE001 - handed to a model step, which re-raises
            _put(read_q, _Failed(exc), abort)

    def writer(outputs: ProductWriters, bar: Progress | None) -> None:
        try:
            while True:
                item = _get(write_q, abort)
                if isinstance(item, _Done):
                    return
                t0 = time.perf_counter()
                outputs.write(item.window, plan.render(item))
                stages.add("write", time.perf_counter() - t0)
                if bar is not None:
                    bar.update(item.pixels)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            abort.set()

    def model_step(counts: dict[int, int]) -> None:
        _compute_loop(read_q, write_q, abort, errors, model, values, dtype, counts, options,
                      keep_probabilities=plan.needs_probabilities, stages=stages)

    def helper_step(counts: dict[int, int]) -> None:
        try:
            model_step(counts)
        except BaseException as exc:  # noqa: BLE001 - the caller's thread re-raises it
            errors.append(exc)
            abort.set()

    bar = Progress(region.width * region.height, f"classify {scene.path.name}", unit="px", unit_scale=True) \
        if options.progress else None
    counts = [dict[int, int]() for _ in range(n_models)]
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.enter_context(bar)
        outputs = stack.enter_context(open_product_writers(plan, output_grid(scene, region), model,
                                                           tile_size=options.tile_size, overwrite=True))
        writer_thread = threading.Thread(target=writer, args=(outputs, bar), name="hsigeo-writer", daemon=True)
        threads = [threading.Thread(target=reader, name=f"hsigeo-reader-{i}", daemon=True) for i in range(n_readers)]
        helpers = [threading.Thread(target=helper_step, args=(counts[i],), name=f"hsigeo-model-{i}", daemon=True)
                   for i in range(1, n_models)]
        for t in (*threads, *helpers, writer_thread):
            t.start()
        try:
            model_step(counts[0])
            for t in helpers:
                t.join()
            if errors:
                raise errors[0]
            _put(write_q, _Done(), abort)
            writer_thread.join()
            if errors:
                raise errors[0]
            outputs.tag(run)
        except BaseException:
            # stop every thread before the writers close and delete their temporary files
            abort.set()
            raise
        finally:
            for t in (*threads, *helpers, writer_thread):
                t.join()
    total: dict[int, int] = {}
    for c in counts:
        add_counts(total, c)
    return sum(total.values()), dict(sorted(total.items())), len(windows)


def _compute_loop(read_q: queue.Queue, write_q: queue.Queue, abort: threading.Event,
                  errors: list[BaseException], model: InferenceModel, values: np.ndarray, dtype: np.dtype,
                  counts: dict[int, int], options: RunOptions, *, keep_probabilities: bool, stages: _Stages) -> None:
    """One model step: takes read windows until its end marker (or an abort), passes results to the writer."""
    while True:
        t0 = time.perf_counter()
        item = _get(read_q, abort)
        t1 = time.perf_counter()
        stages.add("wait", t1 - t0)
        if isinstance(item, _Done):
            if errors:
                raise errors[0]
            return
        if isinstance(item, _Failed):
            raise item.exc
        window, tile, valid = item
        result = classify_tile(model, tile, valid, values, dtype, window=window, device=options.device,
                               batch_size=options.batch_size, naive=options.naive,
                               keep_probabilities=keep_probabilities)
        del tile, item
        add_counts(counts, result.counts)
        stages.add("model", time.perf_counter() - t1)
        if not _put(write_q, result, abort):
            raise errors[0] if errors else HsigeoError("classification aborted")
