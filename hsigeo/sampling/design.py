"""Reference-sample designs over a class map: the population, the sample size, its allocation, the draw.

An accuracy and area assessment (Olofsson et al. 2014, "Good practices for
estimating area and assessing accuracy of land change", Remote Sensing of
Environment 148, 42-57; the estimators are in :mod:`hsigeo.evaluation.area`)
starts from a probability sample of map pixels.  This module makes one:

* :func:`scan_population` counts the population, window by window, so a map
  of any size is read in bounded memory: pixels per stratum, per map class and
  both crossed.  The population is every pixel of the map that is not nodata,
  not class 0 (unclassified) and, with a mask, inside it.  The strata are the
  map's classes or the values of another raster on the same grid.
* :func:`sample_size` is Olofsson et al. (2014) eq. 13 (Cochran 1977, eq.
  5.25 without the finite-population term): the total sample that gives a
  target standard error of the overall accuracy, from the mapped class
  proportions ``W_i`` and the user's accuracies ``U_i`` one expects.
  :func:`class_sample_size` is the per-stratum count for a target standard
  error of one user's accuracy (binomial, Cochran eq. 4.2 without the fpc).
* :func:`allocate` shares a total among the strata: ``proportional`` (to
  ``W_h``), ``equal``, or ``neyman`` (to ``W_h S_h``, ``S_h = sqrt(U_h (1 -
  U_h))``, the allocation of least variance of the overall accuracy for a
  fixed total, Cochran 1977 section 5.5), each with a minimum per stratum (the
  paper's advice for rare classes, section 5.1.2), never more than a stratum
  holds.  A stratum that cannot reach the minimum gets all its pixels and a
  warning.
* :func:`draw_sample` draws the pixels: ``stratified`` (simple random within
  each stratum), ``simple`` (simple random over the population) or
  ``systematic`` (a square grid with a random start).  The random ranks are
  drawn first per stratum, then a second pass over the windows picks the
  pixels with those ranks, so memory is bounded by the sample and one window.

Everything is seeded (``numpy.random.default_rng(seed)``) and reproducible.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError, RasterReadError
from hsigeo.sampling.windows import plan_windows

__all__ = [
    "ALLOCATIONS",
    "SAMPLE_DESIGNS",
    "Population",
    "Sample",
    "SampleSizeWarning",
    "allocate",
    "class_sample_size",
    "draw_sample",
    "iter_population",
    "neyman_variance",
    "scan_population",
    "sample_size",
]

#: How a total sample is shared among strata.
ALLOCATIONS = ("proportional", "equal", "neyman")
#: Sample designs :func:`draw_sample` makes (and :mod:`hsigeo.evaluation.area` estimates from).
SAMPLE_DESIGNS = ("stratified", "simple", "systematic")
#: Pixels read per window side while scanning (a 1024 x 1024 int32 window is 4 MiB).
WINDOW = 1024


class SampleSizeWarning(UserWarning):
    """A stratum holds fewer pixels than the minimum sample asked of it."""


# --------------------------------------------------------------------------- #
# The population
# --------------------------------------------------------------------------- #
@dataclass
class Population:
    """The pixels a sample is drawn from, counted.

    Attributes
    ----------
    path
        The class map.
    height, width, transform, crs
        Its grid.
    strata
        Stratum values, sorted (the map's classes when no strata raster is given).
    stratum_pixels
        Pixels of each stratum in the population, ``(H,)``.
    classes
        Map class values present in the population, sorted.
    class_pixels
        Pixels of each map class, ``(C,)`` (the mapped, pixel-counting area).
    cross
        ``(H, C)`` pixels of stratum ``h`` mapped as class ``c``.
    strata_path, mask_path
        The strata raster and the mask, when given.
    """

    path: Path
    height: int
    width: int
    transform: Any
    crs: Any
    strata: np.ndarray
    stratum_pixels: np.ndarray
    classes: np.ndarray
    class_pixels: np.ndarray
    cross: np.ndarray
    strata_path: Path | None = None
    mask_path: Path | None = None
    nodata: float | None = None

    @property
    def n_pixels(self) -> int:
        """Pixels in the population."""
        return int(self.stratum_pixels.sum())

    @property
    def weights(self) -> np.ndarray:
        """Stratum weights ``W_h = N_h / N``."""
        return self.stratum_pixels / max(self.n_pixels, 1)

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in the CRS's units squared (``|det(transform)|``)."""
        t = self.transform
        return float(abs(t.a * t.e - t.b * t.d))

    def hectares_per_pixel(self) -> float | None:
        """Area of one pixel in hectares, or ``None`` when the CRS has no linear unit (none, geographic)."""
        crs = self.crs
        if crs is None or crs.is_geographic:
            return None
        try:
            factor = float(crs.linear_units_factor[1])  # metres per CRS unit
        except Exception:  # noqa: BLE001 - a CRS without a usable linear unit
            return None
        return self.pixel_area * float(factor) ** 2 / 10_000.0

    @property
    def strata_are_map(self) -> bool:
        """Whether the strata are the map's classes."""
        return self.strata_path is None

    def stratum_of(self, value: int) -> int:
        """Index of stratum ``value`` (``-1`` when it is not in the population)."""
        hit = np.flatnonzero(self.strata == int(value))
        return int(hit[0]) if hit.size else -1


def _open(path: Path, what: str) -> Any:
    import rasterio

    if not path.is_file():
        raise RasterReadError(f"{path}: {what} not found; check the path.")
    try:
        ds = rasterio.open(path)
    except Exception as exc:  # noqa: BLE001 - any GDAL failure means the same to the user
        raise RasterReadError(f"{path}: cannot read the {what} ({exc}).") from exc
    if ds.count != 1:
        ds.close()
        raise RasterReadError(f"{path}: the {what} must have one band; it has {ds.count}.")
    if np.dtype(ds.dtypes[0]).kind == "f":
        ds.close()
        raise RasterReadError(f"{path}: the {what} holds floating-point values; it must hold integer classes "
                              "(an `hsigeo classify` output does).")
    return ds


def _same_grid(ds: Any, ref: Any, path: Path, what: str, ref_path: Path) -> None:
    if (ds.height, ds.width) != (ref.height, ref.width) or not ds.transform.almost_equals(ref.transform):
        raise InvalidInputError(
            f"{path}: the {what} is not on the grid of {ref_path.name} ({ds.width} x {ds.height} px vs "
            f"{ref.width} x {ref.height}, or another origin/pixel size); resample it onto the class map "
            "(gdalwarp -te/-tr or QGIS 'Align rasters') and try again.")


class _MaskReader:
    """A mask on the class map's grid: a raster (non-zero = in) or polygons (inside = in)."""

    def __init__(self, path: Path, ref: Any, ref_path: Path) -> None:
        from hsigeo.io.vectors import VECTOR_DRIVERS

        self.path = path
        self.ds = None
        self.shapes: list[Any] = []
        if path.suffix.lower() in VECTOR_DRIVERS:
            import geopandas as gpd

            from hsigeo.io.vectors import feature_layer

            if not path.is_file():
                raise InvalidInputError(f"{path}: mask not found; check the path.")
            try:
                gdf = gpd.read_file(path, layer=feature_layer(path), engine="pyogrio")
            except Exception as exc:  # noqa: BLE001
                raise InvalidInputError(f"{path}: cannot read the mask polygons ({exc}).") from exc
            if ref.crs is not None and gdf.crs is not None and gdf.crs != ref.crs:
                gdf = gdf.to_crs(ref.crs)
            geoms = [g for g in gdf.geometry if g is not None and not g.is_empty
                     and g.geom_type in ("Polygon", "MultiPolygon")]
            if not geoms:
                raise InvalidInputError(f"{path}: the mask holds no polygons; give polygons (or a raster, "
                                        "non-zero = inside) that outline the area to sample.")
            self.shapes = geoms
        else:
            self.ds = _open(path, "mask raster")
            _same_grid(self.ds, ref, path, "mask raster", ref_path)

    def read(self, window: Any, transform: Any) -> np.ndarray:
        if self.ds is not None:
            block = self.ds.read(1, window=window)
            nd = self.ds.nodata
            inside = block != 0
            if nd is not None and np.isfinite(nd):
                inside &= block != nd
            return inside
        from rasterio.features import geometry_mask

        return geometry_mask(self.shapes, out_shape=(int(window.height), int(window.width)), transform=transform,
                             invert=True)

    def close(self) -> None:
        if self.ds is not None:
            self.ds.close()


def iter_population(map_path: str | os.PathLike, *, strata: str | os.PathLike | None = None,
                    mask: str | os.PathLike | None = None, window: int = WINDOW, desc: str | None = None
                    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Window by window: ``(row_off, col_off, map_block, strata_block, in_population)``.

    ``in_population`` is ``False`` on nodata, class 0 and outside the mask;
    ``strata_block`` is ``map_block`` when no strata raster is given.  Windows
    come in row-major order, always the same for the same map.  With ``desc``,
    progress is reported per window (:func:`hsigeo.progress.track`).
    """
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    from hsigeo.progress import track

    map_path = Path(map_path)
    ds = _open(map_path, "class map")
    sds = mds = None
    try:
        if strata is not None:
            sds = _open(Path(strata), "strata raster")
            _same_grid(sds, ds, Path(strata), "strata raster", map_path)
        if mask is not None:
            mds = _MaskReader(Path(mask), ds, map_path)
        nodata = ds.nodata
        s_nodata = sds.nodata if sds is not None else None
        windows = plan_windows(ds.height, ds.width, window)
        for r, c, h, w in (track(windows, desc=desc, unit="window") if desc else windows):
            win = Window(c, r, w, h)
            block = ds.read(1, window=win).astype(np.int64)
            valid = block != 0
            if nodata is not None and np.isfinite(nodata):
                valid &= block != int(nodata)
            if sds is not None:
                sblock = sds.read(1, window=win).astype(np.int64)
                if s_nodata is not None and np.isfinite(s_nodata):
                    valid &= sblock != int(s_nodata)
            else:
                sblock = block
            if mds is not None:
                valid &= mds.read(win, window_transform(win, ds.transform))
            yield r, c, block, sblock, valid
    finally:
        ds.close()
        if sds is not None:
            sds.close()
        if mds is not None:
            mds.close()


def scan_population(map_path: str | os.PathLike, *, strata: str | os.PathLike | None = None,
                    mask: str | os.PathLike | None = None, window: int = WINDOW) -> Population:
    """Count the population of ``map_path`` by stratum and map class (one pass over windows).

    Parameters
    ----------
    map_path
        Class map (integer GeoTIFF; 0 and nodata are not classes).
    strata
        Raster of strata on the same grid (default: the map's classes are the strata).
    mask
        Polygons (``.gpkg``/``.shp``/``.geojson``) or a raster on the same grid
        (non-zero = inside): only pixels inside belong to the population.
    window
        Window side in pixels.
    """
    import rasterio

    map_path = Path(map_path)
    pairs: dict[tuple[int, int], int] = {}
    for _, _, block, sblock, valid in iter_population(map_path, strata=strata, mask=mask, window=window,
                                                      desc="counting the map"):
        if not valid.any():
            continue
        s = sblock[valid]
        m = block[valid]
        keys, counts = np.unique(np.stack([s, m]), axis=1, return_counts=True)
        for (sv, mv), n in zip(keys.T.tolist(), counts.tolist(), strict=True):
            pairs[(sv, mv)] = pairs.get((sv, mv), 0) + n
    with rasterio.open(map_path) as ds:
        height, width, transform, crs, nodata = ds.height, ds.width, ds.transform, ds.crs, ds.nodata
    strata_values = np.array(sorted({s for s, _ in pairs}), dtype=np.int64)
    classes = np.array(sorted({m for _, m in pairs}), dtype=np.int64)
    cross = np.zeros((strata_values.size, classes.size), dtype=np.int64)
    for (sv, mv), n in pairs.items():
        cross[np.searchsorted(strata_values, sv), np.searchsorted(classes, mv)] = n
    if cross.sum() == 0:
        where = " inside the mask" if mask is not None else ""
        raise InvalidInputError(f"{map_path}: no classified pixel{where} (all are 0 or nodata); "
                                "check the map" + (" and the mask." if mask is not None else "."))
    return Population(map_path, height, width, transform, crs, strata_values, cross.sum(axis=1), classes,
                      cross.sum(axis=0), cross, Path(strata) if strata is not None else None,
                      Path(mask) if mask is not None else None, nodata)


# --------------------------------------------------------------------------- #
# Sample size and allocation
# --------------------------------------------------------------------------- #
def _check_accuracies(expected: float | Sequence[float], k: int) -> np.ndarray:
    u = np.broadcast_to(np.asarray(expected, dtype=np.float64), (k,)).copy() if np.ndim(expected) == 0 \
        else np.asarray(expected, dtype=np.float64)
    if u.shape != (k,):
        raise InvalidInputError(f"expected user's accuracies: give one value or one per stratum ({k}); got {u.size}")
    if not np.all((u > 0) & (u < 1)):
        raise InvalidInputError(f"expected user's accuracies must lie strictly between 0 and 1; got {u.tolist()}")
    return u


def sample_size(weights: Sequence[float], expected_accuracy: float | Sequence[float], target_se: float) -> int:
    """Total sample size for a target standard error of the overall accuracy.

    Olofsson et al. (2014), eq. 13 (Cochran 1977, eq. 5.25, the finite-population
    term dropped): ``n = (sum_i W_i S_i / S(O))^2`` with ``S_i = sqrt(U_i (1 - U_i))``.

    Parameters
    ----------
    weights
        Mapped proportion of each stratum ``W_i`` (normalised here).
    expected_accuracy
        The user's accuracy ``U_i`` one expects of each stratum (one value for all).
    target_se
        The standard error of the overall accuracy wanted (e.g. 0.01).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or np.any(w < 0) or w.sum() <= 0:
        raise InvalidInputError(f"stratum weights must be non-negative and not all zero; got {w.tolist()}")
    if not 0 < target_se < 0.5:
        raise InvalidInputError(f"target standard error must lie in (0, 0.5); got {target_se}")
    w = w / w.sum()
    u = _check_accuracies(expected_accuracy, w.size)
    s = np.sqrt(u * (1 - u))
    return int(math.ceil(round(float(np.sum(w * s) / target_se) ** 2, 9)))


def class_sample_size(expected_accuracy: float, target_se: float) -> int:
    """Points one stratum needs for a target standard error of its user's accuracy: ``U (1 - U) / SE^2``."""
    u = float(_check_accuracies(expected_accuracy, 1)[0])
    if not 0 < target_se < 0.5:
        raise InvalidInputError(f"target standard error must lie in (0, 0.5); got {target_se}")
    return int(math.ceil(round(u * (1 - u) / target_se**2, 9)))


def neyman_variance(allocation: Sequence[float], stratum_pixels: Sequence[float],
                    expected_accuracy: float | Sequence[float], *, fpc: bool = False) -> float:
    """Anticipated variance of the overall accuracy under an allocation.

    ``sum_h W_h^2 S_h^2 / n_h`` (times ``1 - n_h / N_h`` with ``fpc``): the
    design-stage form of Olofsson et al. (2014) eq. 5, with ``S_h^2 = U_h (1 - U_h)``.
    """
    n = np.asarray(allocation, dtype=np.float64)
    big_n = np.asarray(stratum_pixels, dtype=np.float64)
    w = big_n / big_n.sum()
    u = _check_accuracies(expected_accuracy, n.size)
    factor = (1 - n / big_n) if fpc else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(n > 0, w**2 * u * (1 - u) * factor / n, np.inf)))


def _round_to_total(raw: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Integers near ``raw`` summing to ``total`` (largest remainders), each at most ``cap``."""
    out = np.minimum(np.floor(raw).astype(np.int64), cap)
    short = total - int(out.sum())
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    while short > 0:
        room = out < cap
        if not room.any():
            break
        for i in order:
            if short == 0:
                break
            if out[i] < cap[i]:
                out[i] += 1
                short -= 1
    return out


def allocate(stratum_pixels: Sequence[int], n: int, *, allocation: str = "proportional",
             min_per_stratum: int | Sequence[int] = 0,
             expected_accuracy: float | Sequence[float] = 0.8, names: Sequence[str] | None = None) -> np.ndarray:
    """Share ``n`` sample points among strata.

    Strata below ``min_per_stratum`` under the rule are raised to it and the
    rest is shared by the rule among the others (repeated until stable); no
    stratum gets more points than pixels.  A stratum with fewer pixels than
    the minimum gets all of them, with a :class:`SampleSizeWarning`.

    Parameters
    ----------
    stratum_pixels
        ``N_h`` per stratum.
    n
        Total sample size (raised to the sum of the minimums when below it).
    allocation
        ``proportional`` (``n_h`` proportional to ``N_h``), ``equal`` or ``neyman``
        (proportional to ``N_h S_h``, ``S_h = sqrt(U_h (1 - U_h))``; Cochran 1977 eq. 5.60).
    min_per_stratum
        Smallest sample of a stratum (Olofsson et al. 2014 suggest 50 to 100 for rare classes); one
        value, or one per stratum (e.g. :func:`class_sample_size` for a target SE of each user's accuracy).
    expected_accuracy
        ``U_h`` for ``neyman`` (one value, or one per stratum).
    names
        Stratum names for the warning.

    Returns
    -------
    numpy.ndarray
        ``n_h``, int64.
    """
    big_n = np.asarray(stratum_pixels, dtype=np.int64)
    k = big_n.size
    if k == 0 or np.any(big_n < 0):
        raise InvalidInputError("allocate: give the pixel count of at least one stratum (non-negative).")
    if allocation not in ALLOCATIONS:
        raise InvalidInputError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}.")
    if n < 1:
        raise InvalidInputError(f"the sample size must be at least 1; got {n}.")
    minimum = np.broadcast_to(np.asarray(min_per_stratum, dtype=np.int64), (k,))
    if np.any(minimum < 0):
        raise InvalidInputError(f"the minimum per stratum must be >= 0; got {np.asarray(min_per_stratum).tolist()}.")
    names = list(names) if names is not None else [f"stratum {i + 1}" for i in range(k)]
    floor = np.minimum(big_n, minimum)
    short = [i for i in range(k) if big_n[i] < minimum[i]]
    if short:
        warnings.warn(
            "; ".join(f"{names[i]} has only {int(big_n[i])} pixel(s), fewer than the minimum of {int(minimum[i])}: "
                      "all of them are sampled" for i in short)
            + ". Estimates for such strata are imprecise; merge them with similar classes or accept the wider intervals.",
            SampleSizeWarning, stacklevel=2)
    n = int(min(max(n, int(floor.sum())), int(big_n.sum())))
    if allocation == "proportional":
        share = big_n.astype(np.float64)
    elif allocation == "equal":
        share = (big_n > 0).astype(np.float64)
    else:
        u = _check_accuracies(expected_accuracy, k)
        share = big_n * np.sqrt(u * (1 - u))
    fixed = np.zeros(k, dtype=bool)  # strata held at their floor or their size
    out = floor.copy()
    for _ in range(k + 1):
        free = ~fixed & (share > 0)
        left = n - int(out[fixed].sum())
        raw = np.zeros(k)
        if free.any() and share[free].sum() > 0:
            raw[free] = left * share[free] / share[free].sum()
        below = free & (raw < floor)
        above = free & (raw > big_n)
        if not below.any() and not above.any():
            out = np.where(fixed, out, 0)
            out[free] = _round_to_total(raw[free], left, big_n[free])
            break
        fixed |= below | above
        out = np.where(below, floor, np.where(above, big_n, out))
    out = np.maximum(out, floor)
    return out.astype(np.int64)


# --------------------------------------------------------------------------- #
# Drawing the sample
# --------------------------------------------------------------------------- #
@dataclass
class Sample:
    """Sample pixels and the design that drew them.

    Attributes
    ----------
    rows, cols
        Pixel indices on the map grid.
    stratum, map_class
        Stratum value and map class of each point.
    design, allocation, seed
        How it was drawn.
    population
        The counted population.
    allocated
        ``{stratum value: n_h}`` (stratified designs).
    """

    rows: np.ndarray
    cols: np.ndarray
    stratum: np.ndarray
    map_class: np.ndarray
    design: str
    population: Population
    seed: int
    allocation: str | None = None
    allocated: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.rows.size)

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates in the map's CRS."""
        t = self.population.transform
        c = self.cols + 0.5
        r = self.rows + 0.5
        return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f

    def record(self) -> dict[str, Any]:
        """The design as JSON-able facts (stored with the points, read back by the evaluation)."""
        pop = self.population
        return {
            "hsigeo_sample": 1,
            "design": self.design,
            "allocation": self.allocation,
            "seed": self.seed,
            "map": pop.path.name,
            "strata": pop.strata_path.name if pop.strata_path else None,
            "mask": pop.mask_path.name if pop.mask_path else None,
            "grid": [pop.width, pop.height],
            "stratum_pixels": {str(int(v)): int(nh) for v, nh in zip(pop.strata, pop.stratum_pixels, strict=True)},
            "allocated": {str(k): int(v) for k, v in self.allocated.items()},
            "n": len(self),
        }


def draw_sample(population: Population, n: int | Mapping[int, int], *, design: str = "stratified",
                seed: int = 0, window: int = WINDOW, allocation: str | None = None) -> Sample:
    """Draw sample pixels from the counted ``population`` (a second pass over its windows).

    Parameters
    ----------
    population
        From :func:`scan_population` (the same map, strata and mask are read again).
    n
        ``stratified``: ``{stratum value: n_h}`` (from :func:`allocate`);
        ``simple`` and ``systematic``: the total (systematic gives about that many:
        the grid step is ``sqrt(N / n)`` pixels, its nodes rounded down to pixels).
    design
        ``stratified``, ``simple`` or ``systematic``.
    seed
        Seed of :func:`numpy.random.default_rng`.
    allocation
        Recorded with the sample (how ``n`` was shared).
    """
    if design not in SAMPLE_DESIGNS:
        raise InvalidInputError(f"unknown sample design {design!r}; use one of {', '.join(SAMPLE_DESIGNS)}.")
    rng = np.random.default_rng(seed)
    pop = population
    strata_path, mask_path = pop.strata_path, pop.mask_path
    if design == "stratified":
        if not isinstance(n, Mapping):
            raise InvalidInputError("a stratified sample needs the sample size of each stratum ({stratum: n_h}).")
        wanted = np.array([int(n.get(int(v), 0)) for v in pop.strata], dtype=np.int64)
        unknown = sorted(set(int(k) for k in n) - set(pop.strata.tolist()))
        if unknown:
            raise InvalidInputError(f"sample sizes given for strata {unknown} that hold no pixel of the population.")
        if np.any(wanted > pop.stratum_pixels):
            raise InvalidInputError("a stratum's sample size exceeds its pixel count; use allocate().")
        # ranks (0-based, in window order) of the chosen pixels within each stratum
        ranks = [np.sort(rng.choice(int(nh), size=int(k), replace=False)) if k else np.empty(0, np.int64)
                 for nh, k in zip(pop.stratum_pixels, wanted, strict=True)]
        allocated = {int(v): int(k) for v, k in zip(pop.strata, wanted, strict=True)}
    elif design == "simple":
        total = int(n if not isinstance(n, Mapping) else sum(n.values()))
        if not 1 <= total <= pop.n_pixels:
            raise InvalidInputError(f"a simple random sample of {total} points from {pop.n_pixels} pixels is "
                                    "impossible; ask for between 1 and the pixel count.")
        chosen = np.sort(rng.choice(pop.n_pixels, size=total, replace=False))
        allocated = {}
    else:
        total = int(n if not isinstance(n, Mapping) else sum(n.values()))
        if total < 1:
            raise InvalidInputError("a systematic sample needs at least one point.")
        # a square grid of step sqrt(N / n) pixels (not rounded, so the size is near n), random start
        step = max(1.0, math.sqrt(pop.n_pixels / total))
        start_r, start_c = (float(x) for x in rng.uniform(0, step, size=2))
        row_hit = np.zeros(pop.height, dtype=bool)
        col_hit = np.zeros(pop.width, dtype=bool)
        row_hit[np.floor(np.arange(start_r, pop.height, step)).astype(np.int64)] = True
        col_hit[np.floor(np.arange(start_c, pop.width, step)).astype(np.int64)] = True
        allocated = {}

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    strat: list[np.ndarray] = []
    mapped: list[np.ndarray] = []
    seen = np.zeros(pop.strata.size, dtype=np.int64)
    seen_all = 0
    for r0, c0, block, sblock, valid in iter_population(pop.path, strata=strata_path, mask=mask_path, window=window,
                                                        desc="drawing the sample"):
        if not valid.any():
            continue
        if design == "systematic":
            rr, cc = np.nonzero(valid)
            keep = row_hit[rr + r0] & col_hit[cc + c0]
            rr, cc = rr[keep], cc[keep]
        elif design == "simple":
            count = int(valid.sum())
            lo, hi = np.searchsorted(chosen, [seen_all, seen_all + count])
            pick = chosen[lo:hi] - seen_all
            seen_all += count
            if pick.size == 0:
                continue
            rr, cc = np.nonzero(valid)
            rr, cc = rr[pick], cc[pick]
        else:
            rr_all, cc_all = np.nonzero(valid)
            s = sblock[rr_all, cc_all]
            idx = np.searchsorted(pop.strata, s)
            sel_parts = []
            for h in np.unique(idx):
                members = np.flatnonzero(idx == h)  # row-major order within the window
                lo, hi = np.searchsorted(ranks[h], [seen[h], seen[h] + members.size])
                sel_parts.append(members[ranks[h][lo:hi] - seen[h]])
                seen[h] += members.size
            if not sel_parts:
                continue
            sel = np.sort(np.concatenate(sel_parts))
            rr, cc = rr_all[sel], cc_all[sel]
        if rr.size == 0:
            continue
        rows.append(rr + r0)
        cols.append(cc + c0)
        strat.append(sblock[rr, cc])
        mapped.append(block[rr, cc])

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    out = Sample(cat(rows), cat(cols), cat(strat), cat(mapped), design, pop, int(seed), allocation, allocated)
    if len(out) == 0:
        raise InvalidInputError(f"{pop.path}: the {design} sample holds no point; ask for more points.")
    return out
