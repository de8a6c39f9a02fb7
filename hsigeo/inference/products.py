"""Output products as data: what a classification run can write, and the plan of one run.

Every raster a run can produce is one :class:`Product` in :data:`PRODUCTS` (its name, data
type, bands, nodata, QGIS style, the file name it gets in a many-scene folder, and how it is
computed from a window's :class:`TileResult`).  A run's request becomes one
:class:`OutputPlan` (which products, at which paths, plus the polygons), built once from the
user's options; the engines compute one :class:`TileResult` per window, the plan turns it into
the arrays to write (:meth:`OutputPlan.render`), and :func:`open_product_writers` opens one block
writer per planned raster.  The in-process pipeline (:mod:`hsigeo.inference.tiled`) and the
cluster back end (:mod:`hsigeo.inference.cluster`) share all of it, so adding a raster product
is one :data:`PRODUCTS` entry (plus its CLI option and QGIS parameter), not a change to the
engines; this is the plan-apart-from-execution shape of xbatcher's ``BatchSchema``.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hsigeo.errors import HsigeoError, InvalidInputError

__all__ = [
    "Product", "PRODUCTS", "CLASSES", "TileResult", "OutputPlan", "ProductWriters", "open_product_writers",
    "RUN_TAG", "output_grid",
]

#: Metadata item (inside each output GeoTIFF) identifying the run that wrote it.
RUN_TAG = "HSIGEO_RUN"

#: The class map's product name: every plan has it, and its writer closes last.
CLASSES = "classes"


@dataclass(frozen=True)
class TileResult:
    """What the model step produced for one window (the engines' only result type).

    Attributes
    ----------
    window
        ``(row, col, height, width)`` in the run's region.
    classes
        Class values ``(h, w)``; 0 at nodata and unknown pixels.
    confidence
        The winning class's probability ``(h, w)``; NaN at nodata.
    probabilities
        ``(C, h, w)`` class probabilities, NaN at nodata; ``None`` when no planned product needs them
        (they are the largest array of a window, so they are kept only on request).
    counts
        Pixels per class value (valid pixels only).
    """

    window: tuple[int, int, int, int]
    classes: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray | None
    counts: dict[int, int] = field(default_factory=dict)

    @property
    def pixels(self) -> int:
        """Pixels of the window (valid or not)."""
        return int(self.window[2] * self.window[3])


def _margin(result: TileResult) -> np.ndarray:
    """Best minus second-best class probability: near 0 where two classes compete (NaN at nodata)."""
    probs = result.probabilities
    assert probs is not None  # guaranteed by needs_probabilities
    if probs.shape[0] < 2:
        return np.where(np.isfinite(result.confidence), 1.0, np.nan).astype(np.float32)[None]
    top2 = -np.partition(-probs, 1, axis=0)[:2]  # NaN columns stay NaN
    return (top2[0] - top2[1]).astype(np.float32)[None]


@dataclass(frozen=True)
class Product:
    """One raster a classification run can write.

    Attributes
    ----------
    name
        Key in plans and results (``"classes"``, ``"confidence"``, ...).
    description
        One line for help texts.
    batch_name
        File name pattern in a many-scene output folder (``{scene}`` = the scene's stem).
    needs_probabilities
        Whether computing it needs the window's full class probabilities.
    compute
        ``TileResult -> (bands, h, w)`` float32 array (unused for the class map, which has its
        own writer with the colour table and category names).
    band_names
        ``model -> names`` of its bands.
    style_band
        Band the QGIS pseudocolor style shows (float products).
    """

    name: str
    description: str
    batch_name: str
    needs_probabilities: bool = False
    compute: Callable[[TileResult], np.ndarray] | None = None
    band_names: Callable[[Any], list[str]] = field(default=lambda model: [])
    style_band: int = 1

    @property
    def is_class_map(self) -> bool:
        return self.name == CLASSES


#: Every raster product, by name.  Float products are NaN at nodata.
PRODUCTS: Mapping[str, Product] = MappingProxyType({
    CLASSES: Product(CLASSES, "class values with names and colours (0 = nodata / unknown)", "{scene}_classes.tif"),
    "confidence": Product(
        "confidence", "the winning class's probability", "{scene}_confidence.tif",
        compute=lambda r: r.confidence[None], band_names=lambda model: ["confidence"]),
    "probabilities": Product(
        "probabilities", "each class's probability, one band per class", "{scene}_probabilities.tif",
        needs_probabilities=True, compute=lambda r: r.probabilities,
        band_names=lambda model: [e.name for e in model.classes]),
    "margin": Product(
        "margin", "the margin: best minus second-best class probability, low where two classes compete",
        "{scene}_margin.tif",
        needs_probabilities=True, compute=_margin, band_names=lambda model: ["margin"]),
})


@dataclass(frozen=True)
class OutputPlan:
    """Which products one run writes, and where: built once from the user's request.

    Attributes
    ----------
    rasters
        Product name -> output path; always holds :data:`CLASSES`.
    vector
        GeoPackage of class polygons made from the class map, or ``None``.
    min_area
        Smallest polygon area (map units²) kept in ``vector``.
    """

    rasters: Mapping[str, Path]
    vector: Path | None = None
    min_area: float = 0.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rasters) - set(PRODUCTS))
        if unknown:
            raise InvalidInputError(f"unknown output product(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(PRODUCTS)}")
        if CLASSES not in self.rasters:
            raise InvalidInputError("an output plan needs the class map ('classes')")
        object.__setattr__(self, "rasters", MappingProxyType({k: Path(v) for k, v in self.rasters.items()}))
        if self.vector is not None:
            object.__setattr__(self, "vector", Path(self.vector))

    @classmethod
    def build(cls, out_path: str | os.PathLike, *, vector: str | os.PathLike | None = None, min_area: float = 0.0,
              **products: str | os.PathLike | None) -> OutputPlan:
        """The plan of a request: ``build("c.tif", confidence="conf.tif", probabilities=None, vector=...)``.

        Products given as ``None`` are not written.
        """
        rasters = {CLASSES: Path(out_path), **{k: Path(v) for k, v in products.items() if v is not None}}
        return cls(rasters, vector=Path(vector) if vector is not None else None, min_area=float(min_area))

    @property
    def class_map(self) -> Path:
        return self.rasters[CLASSES]

    @property
    def needs_probabilities(self) -> bool:
        """Whether the model step must keep each window's full probabilities."""
        return any(PRODUCTS[k].needs_probabilities for k in self.rasters)

    @property
    def extras(self) -> dict[str, Path]:
        """The planned rasters other than the class map."""
        return {k: p for k, p in self.rasters.items() if k != CLASSES}

    def paths(self) -> list[Path]:
        """Every output path of the plan (rasters, then the polygons)."""
        return [*self.rasters.values(), *([self.vector] if self.vector is not None else [])]

    def check_distinct(self, scene: Path) -> None:
        """Refuse a plan whose outputs collide with each other or with the scene."""
        paths = self.paths()
        real = [os.path.realpath(p) for p in paths]
        if os.path.realpath(scene) in real:
            raise HsigeoError(f"{scene}: an output path is the input scene; choose another output name.")
        if len(set(real)) != len(real):
            raise HsigeoError(f"output paths must differ; got {', '.join(map(str, paths))}.")

    def render(self, result: TileResult) -> dict[str, np.ndarray]:
        """The arrays to write for one window: product name -> array (the class map as ``(h, w)``)."""
        out: dict[str, np.ndarray] = {CLASSES: result.classes}
        for name in self.rasters:
            product = PRODUCTS[name]
            if product.compute is not None:
                out[name] = product.compute(result)
        return out


class ProductWriters:
    """The open block writers of one plan (from :func:`open_product_writers`)."""

    def __init__(self, writers: Mapping[str, Any]) -> None:
        self._writers = dict(writers)

    def write(self, window: tuple[int, int, int, int], arrays: Mapping[str, np.ndarray]) -> None:
        """Write one window's rendered arrays (see :meth:`OutputPlan.render`) into every planned raster."""
        for name, writer in self._writers.items():
            writer.write_window(window, arrays[name])

    def tag(self, run: Mapping[str, Any]) -> None:
        """Record the run (``HSIGEO_RUN``) in every output: what ``resume`` compares later."""
        text = json.dumps(dict(run), sort_keys=True)
        for writer in self._writers.values():
            writer.update_tags(**{RUN_TAG: text})


def output_grid(scene: Any, region: Any) -> dict[str, Any]:
    """The outputs' grid: the run's region (:class:`~hsigeo.inference.region.Region`) of the scene."""
    return {"width": region.width, "height": region.height, "crs": scene.crs, "transform": region.transform}


def _block_size(tile_size: int) -> int:
    """Output GeoTIFF tile size aligned with the windows, so each write fills whole tiles."""
    if tile_size % 256 == 0:
        return 256
    if tile_size % 16 == 0 and tile_size <= 512:
        return tile_size
    return 256


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def open_product_writers(plan: OutputPlan, grid: Mapping[str, Any], model: Any, *, tile_size: int,
                         overwrite: bool) -> Iterator[ProductWriters]:
    """Open one block writer per planned raster; all files appear together, only if the block exits cleanly.

    Parameters
    ----------
    plan
        The run's outputs.
    grid
        ``width``, ``height``, ``crs``, ``transform`` of the outputs (the run's region).
    model
        The model (its classes name the class map's categories and the probability bands).
    tile_size
        The run's window size (the GeoTIFF blocks are aligned with it).
    overwrite
        Replace existing files.
    """
    # identity of what the extras' paths hold now: if the class map fails after the extras were renamed
    # into place, the extras this run wrote are removed again (all of the run's outputs, or none)
    before = {p: _inode(p) for p in plan.extras.values()}
    try:
        with _writers(plan, grid, model, tile_size=tile_size, overwrite=overwrite) as writers:
            yield writers
    except BaseException:
        for p, old in before.items():
            now = _inode(p)
            if now is not None and now != old:
                with contextlib.suppress(OSError):
                    p.unlink()
        raise


@contextlib.contextmanager
def _writers(plan: OutputPlan, grid: Mapping[str, Any], model: Any, *, tile_size: int,
             overwrite: bool) -> Iterator[ProductWriters]:
    from rasterio.errors import NotGeoreferencedWarning

    from hsigeo.inference.core import class_dtype
    from hsigeo.io.qml import pseudocolor_raster_qml
    from hsigeo.io.writers import open_classification_writer, open_float_writer

    bs = _block_size(tile_size)
    like = dict(grid)
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        # a scene without CRS gives outputs without CRS; the user was warned before the run
        warnings.simplefilter("ignore", category=NotGeoreferencedWarning)
        writers: dict[str, Any] = {}
        # the class map is entered first so it exits (is renamed into place) last:
        # a class map on disk then implies its extras are complete
        writers[CLASSES] = stack.enter_context(open_classification_writer(
            plan.class_map, classes=model.classes, like=like, dtype=str(class_dtype(model)), overwrite=overwrite,
            blocksize=bs))
        for name, path in plan.extras.items():
            product = PRODUCTS[name]
            names = product.band_names(model)
            writers[name] = stack.enter_context(open_float_writer(
                path, count=len(names), band_names=names, like=like, overwrite=overwrite, blocksize=bs,
                style=pseudocolor_raster_qml(band=product.style_band)))
        yield ProductWriters(writers)
