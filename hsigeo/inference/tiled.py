"""Windowed, streaming classification of a raster on disk.

:func:`classify_raster` cuts the scene into ``tile_size`` windows, reads each
with a halo of ``model.radius`` pixels, normalises it, runs the model and
writes the window's classes (and optionally confidence and per-class
probabilities) into tiled GeoTIFFs.  Three stages overlap::

    reader thread  --(queue: 1 tile)-->  model (caller's thread)  --(queue: 2 results)-->  writer thread

so reading/decompressing the next window and writing the last one happen
while the model runs, and at most a handful of tiles is ever in memory: peak
memory depends on ``tile_size`` and the band count, not on the scene size.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.device import default_threads, resolve_device, torch_threads
from hsigeo.errors import HsigeoError, InvalidInputError
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
from hsigeo.inference.protocol import InferenceModel, require_model
from hsigeo.inference.region import Region, plan_region
from hsigeo.inference.scene import Scene, open_scene, read_region_tile, warn_about_scene
from hsigeo.outputs import check_output, protect_inputs
from hsigeo.sampling.windows import plan_windows

__all__ = ["classify_raster", "ClassificationResult", "RUN_TAG"]

#: Metadata item (inside each output GeoTIFF) identifying the run that wrote it.
RUN_TAG = "HSIGEO_RUN"

# Tiles waiting between stages.  One normalised tile waiting (plus one being read and one
# in the model) keeps the model busy; results are small, so the writer may lag by two.
_READ_QUEUE_SIZE = 1
_WRITE_QUEUE_SIZE = 2
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
        stages overlap, so these add up to more than ``seconds``; a large
        ``wait`` means reading is the bottleneck.
    model_digest
        Identity of the model (see :func:`hsigeo.inference.core.model_digest`).
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


def _block_size(tile_size: int) -> int:
    """Output GeoTIFF tile size aligned with the windows, so each write fills whole tiles."""
    if tile_size % 256 == 0:
        return 256
    if tile_size % 16 == 0 and tile_size <= 512:
        return tile_size
    return 256


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
    tile_size: int | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    overwrite: bool = False,
    resume: bool = False,
    naive: bool = False,
    progress: bool = True,
    min_area: float = 0.0,
    threads: int | None = None,
    extent: Any = None,
    mask: str | os.PathLike | None = None,
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
    tile_size
        Window size in pixels (before the halo); ``None`` = 256 on CPU, 1024
        on CUDA (:func:`~hsigeo.inference.core.default_tile_size`).  Memory
        per tile is about ``bands * (tile_size + 2 * radius)**2 * 4`` bytes
        and three tiles are in flight.  The result does not depend on it.
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
    extent
        Classify only this rectangle: an :class:`~hsigeo.inference.region.Extent`
        or ``"xmin,ymin,xmax,ymax[,CRS]"`` (default CRS: the scene's).  The
        outputs cover it (snapped outward to whole scene pixels).
    mask
        Vector file of polygons: pixels whose centre is outside every polygon
        are nodata, windows outside them are not read, and the outputs cover
        the polygons' bounding box (within ``extent``).
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
    out_path = Path(out_path)
    extras = {
        "confidence": Path(confidence_path) if confidence_path is not None else None,
        "probabilities": Path(probabilities_path) if probabilities_path is not None else None,
    }
    vec = Path(vector_path) if vector_path is not None else None
    _check_distinct(scene_path, out_path, *extras.values(), vec)
    # the library protects its inputs too: no output (nor sidecar) may be the scene, its files, the mask (with its parts) or the model
    with protect_inputs(getattr(model, "source", None), mask, rasters=(scene_path,)):
        # on a cluster the workers' hardware decides what "auto" means
        dev = resolve_device(device) if client is None else (device or "auto").strip().lower()
        bs = batch_size if batch_size is not None else default_batch_size(dev)
        tile_size = int(tile_size) if tile_size is not None else default_tile_size(dev)
        if tile_size < 1:
            raise InvalidInputError(f"tile_size must be >= 1, not {tile_size}")
        model = require_model(model)
        scene = open_scene(scene_path, model, resample=resample)
        region = plan_region(scene.width, scene.height, scene.transform, scene.crs, extent=extent, mask=mask,
                             source=str(scene_path))
        digest = model_digest(model)
        run = _run_record(scene, digest, region)

        rasters = {"classes": out_path, **{k: p for k, p in extras.items() if p is not None}}
        if resume and all(_run_tag(p) == run for p in rasters.values()):
            result = _summary_from_existing(out_path, extras, region, tile_size, bs, dev, naive, digest)
            if vec is not None and (overwrite or not vec.exists()):
                _vectorize(out_path, vec, model, min_area=min_area, overwrite=overwrite)
            return _replace(result, vector_path=vec)

        for p in rasters.values():
            # an identical earlier run's output may be replaced under resume
            check_output(p, overwrite=overwrite or (resume and _run_tag(p) == run))
        if vec is not None:
            check_output(vec, overwrite=overwrite)

        warn_about_scene(scene, model)
        class_dtype(model)  # refuses class values the raster cannot hold, before any work
        t0 = time.perf_counter()
        stages: dict[str, float] = {"read": 0.0, "model": 0.0, "write": 0.0, "wait": 0.0}
        if client is not None:
            from hsigeo.inference.cluster import stream_on_cluster

            n_valid, counts, n_windows = stream_on_cluster(
                client, scene, model, out_path, extras, run=run, tile_size=tile_size, batch_size=batch_size,
                device=dev, naive=naive, progress=progress, overwrite=True, stages=stages, threads=threads,
                region=region,
            )
        else:
            with torch_threads(threads if threads is not None else (default_threads() if dev == "cpu" else None)):
                n_valid, counts, n_windows = _stream(
                    scene, model, out_path, extras, run=run, tile_size=tile_size, batch_size=bs, device=dev,
                    naive=naive, progress=progress, overwrite=True, stages=stages, region=region,
                )
        seconds = time.perf_counter() - t0
        if n_valid == 0:
            warnings.warn(f"{scene_path}: no valid pixel: every pixel is nodata ({scene.nodata}) or not finite, so "
                          f"{out_path} holds only nodata (0). Check the scene's nodata value.", stacklevel=2)
        if vec is not None:
            _vectorize(out_path, vec, model, min_area=min_area, overwrite=True)
        return ClassificationResult(
            out_path=out_path, confidence_path=extras["confidence"], probabilities_path=extras["probabilities"],
            vector_path=vec, width=region.width, height=region.height, n_windows=n_windows, tile_size=tile_size,
            batch_size=bs, device=dev, naive=naive, seconds=seconds,
            pixels_per_second=region.width * region.height / max(seconds, 1e-9), n_valid=n_valid,
            class_counts=counts, skipped=False, model_digest=digest,
            stage_seconds={k: round(v, 3) for k, v in stages.items()},
        )


def _check_distinct(scene: Path, *outputs: Path | None) -> None:
    paths = [p for p in outputs if p is not None]
    real = [os.path.realpath(p) for p in paths]
    if os.path.realpath(scene) in real:
        raise HsigeoError(f"{scene}: an output path is the input scene; choose another output name.")
    if len(set(real)) != len(real):
        raise HsigeoError(f"output paths must differ; got {', '.join(map(str, paths))}.")


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


def _summary_from_existing(out_path: Path, extras: dict[str, Path | None], region: Region, tile_size: int,
                           batch_size: int | None, device: str, naive: bool, digest: str) -> ClassificationResult:
    """Result record for outputs that ``resume`` found complete (counts read back from the file)."""
    import rasterio

    counts: dict[int, int] = {}
    with rasterio.open(out_path) as src:
        for _, win in src.block_windows(1):
            vals, n = np.unique(src.read(1, window=win), return_counts=True)
            for v, k in zip(vals.tolist(), n.tolist()):
                if v != 0:
                    counts[v] = counts.get(v, 0) + k
    return ClassificationResult(
        out_path=out_path, confidence_path=extras["confidence"], probabilities_path=extras["probabilities"],
        vector_path=None, width=region.width, height=region.height, n_windows=0, tile_size=tile_size,
        batch_size=batch_size, device=device, naive=naive, seconds=0.0, pixels_per_second=0.0,
        n_valid=sum(counts.values()), class_counts=dict(sorted(counts.items())), skipped=True,
        model_digest=digest,
    )


def _vectorize(classes_path: Path, vector_path: Path, model: InferenceModel, *, min_area: float, overwrite: bool) -> None:
    """Polygonise the finished class raster into a GeoPackage."""
    from hsigeo.io.classmaps import read_classification
    from hsigeo.io.vectors import vectorize_classes, write_vector

    class_da = read_classification(classes_path)
    gdf = vectorize_classes(class_da, model.classes, min_area=min_area)
    write_vector(gdf, vector_path, overwrite=overwrite)


@contextlib.contextmanager
def _open_outputs(scene: Scene, model: InferenceModel, out_path: Path, extras: dict[str, Path | None], *,
                  tile_size: int, overwrite: bool, region: Region) -> Iterator[dict[str, Any]]:
    """Open the block writers on the region's grid; all files appear together, only if the block exits cleanly."""
    grid = {"width": region.width, "height": region.height, "crs": scene.crs, "transform": region.transform}
    # identity of what the extras' paths hold now: if the class map fails after the extras were renamed
    # into place, the extras this run wrote are removed again (all of the run's outputs, or none)
    before = {p: _inode(p) for p in extras.values() if p is not None}
    try:
        with _writers(grid, model, out_path, extras, tile_size=tile_size, overwrite=overwrite) as writers:
            yield writers
    except BaseException:
        for p, old in before.items():
            now = _inode(p)
            if now is not None and now != old:
                with contextlib.suppress(OSError):
                    p.unlink()
        raise


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def _writers(grid: dict[str, Any], model: Any, out_path: Path, extras: dict[str, Path | None], *,
             tile_size: int, overwrite: bool) -> Iterator[dict[str, Any]]:
    from rasterio.errors import NotGeoreferencedWarning

    from hsigeo.io.qml import pseudocolor_raster_qml
    from hsigeo.io.writers import open_classification_writer, open_float_writer

    bs = _block_size(tile_size)
    entries = model.classes
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        # a scene without CRS gives outputs without CRS; the user was warned before the run
        warnings.simplefilter("ignore", category=NotGeoreferencedWarning)
        writers: dict[str, Any] = {}
        # the class map is entered first so it exits (is renamed into place) last:
        # a class map on disk then implies its extras are complete
        writers["classes"] = stack.enter_context(open_classification_writer(
            out_path, classes=entries, like=grid, dtype=str(class_dtype(model)), overwrite=overwrite,
            blocksize=bs))
        if extras["confidence"] is not None:
            writers["confidence"] = stack.enter_context(open_float_writer(
                extras["confidence"], count=1, band_names=["confidence"], like=grid, overwrite=overwrite,
                blocksize=bs, style=pseudocolor_raster_qml()))
        if extras["probabilities"] is not None:
            writers["probabilities"] = stack.enter_context(open_float_writer(
                extras["probabilities"], count=len(entries), band_names=[e.name for e in entries], like=grid,
                overwrite=overwrite, blocksize=bs, style=pseudocolor_raster_qml(band=1)))
        yield writers


def _stream(scene: Scene, model: InferenceModel, out_path: Path, extras: dict[str, Path | None], *, run: dict[str, Any],
            tile_size: int, batch_size: int | None, device: str, naive: bool, progress: bool,
            overwrite: bool, stages: dict[str, float], region: Region) -> tuple[int, dict[int, int], int]:
    """Read -> model -> write every window of ``region`` through bounded queues.

    Returns (valid pixels, counts, windows).  Windows are in region
    coordinates; the reader shifts them onto the scene.  ``stages`` collects
    busy seconds per stage (each stage updates only its own key).
    """
    import rasterio

    from hsigeo.progress import Progress

    radius = int(model.radius)
    windows = plan_windows(region.height, region.width, tile_size)
    values = class_values(model)
    dtype = class_dtype(model)
    counts: dict[int, int] = {}
    read_q: queue.Queue = queue.Queue(maxsize=_READ_QUEUE_SIZE)
    write_q: queue.Queue = queue.Queue(maxsize=_WRITE_QUEUE_SIZE)
    abort = threading.Event()
    writer_error: list[BaseException] = []

    def reader() -> None:
        try:
            with rasterio.Env(GDAL_CACHEMAX=_READ_CACHE_BYTES), rasterio.open(scene.data_path) as src:
                for window in windows:
                    if abort.is_set():
                        return
                    t0 = time.perf_counter()
                    item = (window, *read_region_tile(src, scene, region, window, radius, model))
                    stages["read"] += time.perf_counter() - t0
                    if not _put(read_q, item, abort):
                        return
            _put(read_q, _Done(), abort)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises
            _put(read_q, _Failed(exc), abort)

    def writer(outputs: dict[str, Any], bar: Progress | None) -> None:
        try:
            while True:
                item = _get(write_q, abort)
                if isinstance(item, _Done):
                    return
                t0 = time.perf_counter()
                _write_result(outputs, *item)
                stages["write"] += time.perf_counter() - t0
                window = item[0]
                if bar is not None:
                    bar.update(window[2] * window[3])
        except BaseException as exc:  # noqa: BLE001
            writer_error.append(exc)
            abort.set()

    bar = Progress(region.width * region.height, f"classify {scene.path.name}", unit="px", unit_scale=True) \
        if progress else None
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.enter_context(bar)
        outputs = stack.enter_context(
            _open_outputs(scene, model, out_path, extras, tile_size=tile_size, overwrite=overwrite, region=region))
        threads = [threading.Thread(target=reader, name="hsigeo-reader", daemon=True),
                   threading.Thread(target=writer, args=(outputs, bar), name="hsigeo-writer", daemon=True)]
        for t in threads:
            t.start()
        try:
            _compute_loop(read_q, write_q, abort, writer_error, model, values, dtype, counts,
                          device=device, batch_size=batch_size, naive=naive,
                          want_probs=extras["probabilities"] is not None, stages=stages)
            _put(write_q, _Done(), abort)
            threads[1].join()
            if writer_error:
                raise writer_error[0]
            _tag_outputs(outputs, run)
        except BaseException:
            # stop both threads before the writers close and delete their temporary files
            abort.set()
            raise
        finally:
            for t in threads:
                t.join()
    return sum(counts.values()), dict(sorted(counts.items())), len(windows)


def _tag_outputs(outputs: dict[str, Any], run: dict[str, Any]) -> None:
    """Record the run (``HSIGEO_RUN``) in every output: what ``resume`` compares later."""
    tag = json.dumps(run, sort_keys=True)
    for w in outputs.values():
        w.update_tags(**{RUN_TAG: tag})


def _write_result(outputs: dict[str, Any], window: tuple[int, int, int, int], classes: np.ndarray,
                  conf: np.ndarray, probs: np.ndarray | None) -> None:
    """Write one window's results into the open block writers (those that were asked for)."""
    outputs["classes"].write_window(window, classes)
    if "confidence" in outputs:
        outputs["confidence"].write_window(window, conf)
    if "probabilities" in outputs:
        outputs["probabilities"].write_window(window, probs)


def _compute_loop(read_q: queue.Queue, write_q: queue.Queue, abort: threading.Event,
                  writer_error: list[BaseException], model: InferenceModel, values: np.ndarray, dtype: np.dtype,
                  counts: dict[int, int], *, device: str, batch_size: int | None, naive: bool,
                  want_probs: bool, stages: dict[str, float]) -> None:
    """The model stage: runs in the caller's thread so Ctrl-C lands here."""
    while True:
        t0 = time.perf_counter()
        item = _get(read_q, abort)
        t1 = time.perf_counter()
        stages["wait"] += t1 - t0
        if isinstance(item, _Done):
            if writer_error:
                raise writer_error[0]
            return
        if isinstance(item, _Failed):
            raise item.exc
        window, tile, valid = item
        classes, conf, probs, found = classify_tile(model, tile, valid, values, dtype, device=device,
                                                     batch_size=batch_size, naive=naive, want_probs=want_probs,
                                                     shape=window[2:])
        del tile
        add_counts(counts, found)
        stages["model"] += time.perf_counter() - t1
        if not _put(write_q, (window, classes, conf, probs), abort):
            raise writer_error[0] if writer_error else HsigeoError("classification aborted")
