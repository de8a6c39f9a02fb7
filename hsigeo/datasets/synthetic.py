"""Synthetic hyperspectral scenes for demos, tests and scale benchmarks.

Spectra are built from smooth functions (logistic edges, broad bumps) and
Gaussian absorption features at physically plausible positions: vegetation
has a green peak, chlorophyll absorption at ~670 nm, a red edge at ~715 nm and
leaf-water absorptions at ~970, 1200, 1450 and 1940 nm; soils rise steadily
with clay (2200 nm) and water features; water is dark beyond 750 nm; asphalt
is dark and flat with hydrocarbon features at 1730/2310 nm; and so on.  Class
regions are spatially coherent (argmax of smoothed random fields), each pixel
gets brightness variation and noise, and bands in the atmospheric water
windows (1340-1450, 1790-1960 nm, > 2450 nm) are noisier and flagged bad.

On disk (:func:`make_synthetic_scene`, :func:`write_large_synthetic`) scenes
are **int16 reflectance x 10000** (``0.2531`` -> ``2531``) with nodata
``-9999`` (a value no reflectance takes, unlike 0, which dark water can reach),
in EPSG:32611 (UTM 11N) with 2 m pixels; wavelengths in nm are stored per band
(see :func:`hsigeo.io.raster.write_hsi`).  In memory (:func:`synthetic_cube`)
cubes are float32 reflectance in 0..1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsigeo.classes import ClassInfo, parse_colour
from hsigeo.errors import InvalidInputError
from hsigeo.filesafety import atomic_output, check_output

__all__ = [
    "SyntheticScene",
    "SyntheticCube",
    "CLASS_LIBRARY",
    "make_synthetic_scene",
    "synthetic_cube",
    "write_large_synthetic",
    "class_spectrum",
    "synthetic_wavelengths",
    "SCALE",
    "NODATA",
    "CRS",
    "PIXEL_SIZE",
    "ORIGIN",
]

#: Reflectance scale of the int16 files: stored = round(reflectance * SCALE).
SCALE = 10000
#: Nodata of the int16 files.
NODATA = -9999
#: CRS, pixel size (m) and upper-left corner (x, y) of synthetic scenes.
CRS = "EPSG:32611"
PIXEL_SIZE = 2.0
ORIGIN = (493_000.0, 3_765_000.0)  # near Los Angeles, UTM 11N

#: Atmospheric water-vapour windows (nm) that are noisy in airborne data.
BAD_WINDOWS: tuple[tuple[float, float], ...] = ((1340.0, 1450.0), (1790.0, 1960.0), (2450.0, 1.0e9))


# --------------------------------------------------------------------------- #
# Spectral library
# --------------------------------------------------------------------------- #
def _logistic(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(wl - centre) / width))


def _gauss(wl: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / sigma) ** 2)


def _absorb(r: np.ndarray, wl: np.ndarray, features: Sequence[tuple[float, float, float]]) -> np.ndarray:
    # multiplicative bands keep reflectance positive however deep they are
    for centre, sigma, depth in features:
        r = r * (1.0 - depth * _gauss(wl, centre, sigma))
    return r


def _vegetation(wl: np.ndarray) -> np.ndarray:
    vis = 0.035 + 0.05 * _gauss(wl, 550, 35) - 0.015 * _gauss(wl, 670, 25)
    nir = 0.46 * _logistic(wl, 715, 12) * (1.0 - 0.45 * _logistic(wl, 1500, 200))
    r = vis * (1 - _logistic(wl, 715, 12)) + nir
    return _absorb(r, wl, [(970, 30, 0.06), (1200, 40, 0.15), (1450, 60, 0.55), (1940, 70, 0.7), (2500, 150, 0.3)])


def _dry_grass(wl: np.ndarray) -> np.ndarray:
    r = 0.06 + 0.22 * _logistic(wl, 620, 60) + 0.12 * _logistic(wl, 1100, 250) - 0.08 * _logistic(wl, 2000, 150)
    return _absorb(r, wl, [(1450, 60, 0.25), (1940, 70, 0.35), (2100, 50, 0.15), (2300, 40, 0.12), (670, 25, 0.08)])


def _soil(wl: np.ndarray) -> np.ndarray:
    r = 0.08 + 0.27 * _logistic(wl, 800, 250) - 0.05 * _logistic(wl, 2100, 200)
    return _absorb(r, wl, [(900, 80, 0.06), (1410, 40, 0.12), (1910, 50, 0.18), (2200, 30, 0.15)])


def _water(wl: np.ndarray) -> np.ndarray:
    r = 0.012 + 0.055 * _gauss(wl, 480, 90) * (1 - _logistic(wl, 700, 30)) + 0.01 * _gauss(wl, 810, 20)
    return r * (1 - 0.6 * _logistic(wl, 900, 40))


def _asphalt(wl: np.ndarray) -> np.ndarray:
    r = 0.05 + 0.06 * _logistic(wl, 1000, 400)
    return _absorb(r, wl, [(1730, 30, 0.12), (2310, 35, 0.15), (1450, 60, 0.05)])


def _red_roof(wl: np.ndarray) -> np.ndarray:
    r = 0.06 + 0.28 * _logistic(wl, 580, 20) + 0.06 * _logistic(wl, 1200, 300)
    return _absorb(r, wl, [(870, 70, 0.15), (2200, 40, 0.1), (1410, 30, 0.05)])


def _sand(wl: np.ndarray) -> np.ndarray:
    r = 0.22 + 0.22 * _logistic(wl, 600, 120) + 0.04 * _logistic(wl, 1500, 300)
    return _absorb(r, wl, [(1410, 30, 0.05), (1910, 40, 0.08), (2210, 25, 0.06)])


def _concrete(wl: np.ndarray) -> np.ndarray:
    r = 0.24 + 0.08 * _logistic(wl, 500, 60) + 0.03 * _logistic(wl, 1300, 300)
    return _absorb(r, wl, [(2340, 40, 0.15), (1450, 50, 0.06), (1940, 60, 0.1)])


#: Synthetic classes in scene order: (name, colour, spectrum function, prompts).
CLASS_LIBRARY: tuple[tuple[str, str, object, tuple[str, ...]], ...] = (
    ("Healthy vegetation", "#2ca02c", _vegetation, (
        "Dense green vegetation canopy with strong near-infrared reflectance and a sharp red edge",
        "Healthy leafy plants absorbing red light with a green reflectance peak and deep leaf water absorptions",
        "Irrigated crops or trees with high near-infrared plateau",
    )),
    ("Bare soil", "#8c564b", _soil, (
        "Bare dry soil whose reflectance rises steadily from visible to shortwave infrared",
        "Exposed earth with clay absorption near 2200 nm and no red edge",
        "Ploughed field without vegetation cover",
    )),
    ("Water", "#1f77b4", _water, (
        "Open water that is dark in the near-infrared and shortwave infrared",
        "A lake or river with slight blue-green reflectance and almost no infrared signal",
        "Calm water surface absorbing nearly all infrared light",
    )),
    ("Asphalt road", "#7f7f7f", _asphalt, (
        "Dark asphalt pavement with low flat reflectance",
        "A road surface of bitumen with hydrocarbon absorptions near 1730 and 2310 nm",
        "Paved parking lot, dark grey and spectrally flat",
    )),
    ("Red tile roof", "#d62728", _red_roof, (
        "Red clay tile roof with a steep rise in reflectance near 580 nm",
        "Building roof of fired clay, reddish with iron oxide absorption near 870 nm",
        "Rooftops of terracotta tiles",
    )),
    ("Dry grass", "#bcbd22", _dry_grass, (
        "Senescent dry grass, yellow-brown with cellulose and lignin absorptions",
        "Dead or dormant vegetation with a weak red edge and high shortwave infrared reflectance",
        "Straw-coloured grassland in the dry season",
    )),
    ("Sand", "#e7ba52", _sand, (
        "Bright sand with high reflectance across the spectrum",
        "A sandy beach or dune, pale and spectrally smooth",
        "Quartz-rich sand with weak absorption features",
    )),
    ("Concrete", "#c7c7c7", _concrete, (
        "Bright grey concrete pavement with a carbonate absorption near 2340 nm",
        "Concrete building or plaza, light grey and flat in the visible",
        "Cement surface of moderate brightness",
    )),
)


def synthetic_wavelengths(bands: int, *, start: float = 400.0, stop: float = 2500.0) -> np.ndarray:
    """``bands`` evenly spaced centre wavelengths in nm, ``start``..``stop`` inclusive."""
    return np.linspace(start, stop, int(bands)).astype("float64")


def class_spectrum(index: int, wavelengths: np.ndarray) -> np.ndarray:
    """Reflectance (0..1) of library class ``index`` (0-based) at ``wavelengths`` (nm)."""
    fn = CLASS_LIBRARY[index][2]
    return np.clip(fn(np.asarray(wavelengths, dtype="float64")), 0.001, 0.95)  # type: ignore[operator]


def _bad_band_mask(wavelengths: np.ndarray) -> np.ndarray:
    bad = np.zeros(wavelengths.shape, dtype=bool)
    for lo, hi in BAD_WINDOWS:
        bad |= (wavelengths >= lo) & (wavelengths <= hi)
    return bad


def _classes(n_classes: int) -> list[ClassInfo]:
    if not 1 <= n_classes <= len(CLASS_LIBRARY):
        raise InvalidInputError(f"n_classes must be 1..{len(CLASS_LIBRARY)}, not {n_classes}")

    return [ClassInfo(i + 1, CLASS_LIBRARY[i][0], parse_colour(CLASS_LIBRARY[i][1]))  # type: ignore[arg-type]
            for i in range(n_classes)]


# --------------------------------------------------------------------------- #
# Spatial layout
# --------------------------------------------------------------------------- #
class _Field:
    """Smooth random fields on a coarse grid, sampled at any pixel window.

    Region maps and brightness are argmax / value of bilinearly interpolated
    coarse fields, so a big scene can be generated window by window with
    identical results to generating it whole.
    """

    def __init__(self, height: int, width: int, n: int, rng: np.random.Generator, *, cell: float) -> None:
        from scipy.ndimage import gaussian_filter

        self.cell = float(cell)
        gh, gw = int(np.ceil(height / cell)) + 3, int(np.ceil(width / cell)) + 3
        raw = rng.standard_normal((n, gh, gw))
        self.grid = np.stack([gaussian_filter(r, 1.0, mode="reflect") for r in raw]).astype("float32")
        self.grid /= self.grid.std(axis=(1, 2), keepdims=True) + 1e-6

    def force_present(self, rng: np.random.Generator) -> None:
        """Make every field win somewhere on the coarse grid (small scenes lose classes otherwise)."""
        n, gh, gw = self.grid.shape
        if n < 2:
            return
        inner = self.grid[:, 1:-2, 1:-2]
        winners = set(np.unique(inner.argmax(0)).tolist())
        for k in range(n):
            if k not in winners:
                r, c = rng.integers(0, inner.shape[1]), rng.integers(0, inner.shape[2])
                rs, cs = slice(max(0, r), r + 2), slice(max(0, c), c + 2)
                inner[k, rs, cs] = inner[:, rs, cs].max(0) + 1.5

    def sample(self, rows: slice, cols: slice) -> np.ndarray:
        """Interpolated fields ``(n, h, w)`` at pixel rows/cols."""
        r = (np.arange(rows.start, rows.stop) + 0.5) / self.cell + 1.0
        c = (np.arange(cols.start, cols.stop) + 0.5) / self.cell + 1.0
        r0 = np.clip(np.floor(r).astype(int), 0, self.grid.shape[1] - 2)
        c0 = np.clip(np.floor(c).astype(int), 0, self.grid.shape[2] - 2)
        fr = (r - r0)[:, None].astype("float32")
        fc = (c - c0)[None, :].astype("float32")
        g = self.grid
        top = g[:, r0][:, :, c0] * (1 - fc) + g[:, r0][:, :, c0 + 1] * fc
        bot = g[:, r0 + 1][:, :, c0] * (1 - fc) + g[:, r0 + 1][:, :, c0 + 1] * fc
        return top * (1 - fr) + bot * fr


class _Generator:
    """Deterministic scene generator; any window can be rendered on its own."""

    def __init__(self, height: int, width: int, bands: int, n_classes: int, seed: int, *, noise: float,
                 class_spectra: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.height, self.width, self.bands = int(height), int(width), int(bands)
        self.n_classes = n_classes
        self.seed = int(seed)
        self.noise = float(noise)
        rng = np.random.default_rng([self.seed, 1])
        self.classes = _classes(n_classes)
        self.wavelengths = synthetic_wavelengths(bands)
        self.bad = _bad_band_mask(self.wavelengths)
        if class_spectra is None:
            self.spectra = np.stack([class_spectrum(i, self.wavelengths) for i in range(n_classes)]).astype("float32")
        else:
            if len(class_spectra) < n_classes:
                raise InvalidInputError(f"class_spectra has {len(class_spectra)} spectra for {n_classes} classes")
            self.spectra = np.stack([np.clip(np.interp(self.wavelengths, wl, r), 0.001, 0.95)
                                     for wl, r in class_spectra[:n_classes]]).astype("float32")
        # regions ~1/8 of the short side across, capped so big scenes have many regions
        cell = float(np.clip(min(height, width) / 8.0, 6.0, 64.0))
        self.regions = _Field(height, width, n_classes, rng, cell=cell)
        self.regions.force_present(rng)
        self.bright = _Field(height, width, 2, rng, cell=cell / 2.0)
        # a second, per-class spectral end-member gives within-class variety
        self.variant = (self.spectra * rng.uniform(0.8, 1.2, size=(n_classes, 1))
                        + rng.normal(0, 0.01, size=(n_classes, 1))).astype("float32")

    def class_map(self, rows: slice, cols: slice) -> np.ndarray:
        """Class index 0..C-1 per pixel of the window."""
        return self.regions.sample(rows, cols).argmax(0).astype("int32")

    def render(self, rows: slice, cols: slice, band_slice: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Reflectance ``(B, h, w)`` float32 and class indices ``(h, w)`` for one window."""
        cls = self.class_map(rows, cols)
        bs = band_slice or slice(0, self.bands)
        f = self.bright.sample(rows, cols)
        brightness = 1.0 + 0.08 * f[0]
        mix = 1.0 / (1.0 + np.exp(-1.5 * f[1]))  # 0..1 share of the variant end-member
        spec = self.spectra[:, bs][cls]  # (h, w, b)
        var = self.variant[:, bs][cls]
        cube = (spec * (1 - mix[..., None]) + var * mix[..., None]) * brightness[..., None]
        cube = np.moveaxis(cube, -1, 0)
        # per-window RNG keyed by position keeps windows independent and reproducible
        rng = np.random.default_rng([self.seed, 2, rows.start, cols.start, bs.start])
        sigma = np.where(self.bad[bs], 6.0, 1.0).astype("float32") * self.noise
        cube = cube + rng.standard_normal(cube.shape, dtype="float32") * sigma[:, None, None]
        return np.clip(cube, 0.0, 1.0).astype("float32"), cls


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class SyntheticCube:
    """An in-memory synthetic scene.

    Attributes
    ----------
    cube
        float32 reflectance in 0..1, ``(bands, height, width)``.
    labels
        int32 class values ``1..n_classes`` for every pixel, ``(height, width)``.
    wavelengths
        Band centres in nm.
    class_names
        ``class_names[v - 1]`` is the name of class value ``v``.
    classes
        The class table (value, name, colour).
    bad_bands
        True for bands in atmospheric water windows.
    """

    cube: np.ndarray
    labels: np.ndarray
    wavelengths: np.ndarray
    class_names: list[str]
    classes: list[ClassInfo] = field(default_factory=list)
    bad_bands: np.ndarray | None = None


@dataclass(frozen=True)
class SyntheticScene:
    """Paths of a synthetic scene written by :func:`make_synthetic_scene`.

    Attributes
    ----------
    scene_path
        int16 reflectance x 10000 GeoTIFF, nodata -9999, wavelengths per band.
    labels_path
        uint8 label raster (0 = unlabelled) on the same grid, with colour
        table and class names.
    prompts_path
        Prompts YAML for the classes.
    classes
        The class table (value, name, colour).
    wavelengths
        Band centres in nm.
    """

    scene_path: Path
    labels_path: Path
    prompts_path: Path
    classes: list[ClassInfo]
    wavelengths: np.ndarray


def synthetic_cube(
    *,
    height: int = 64,
    width: int = 64,
    bands: int = 120,
    n_classes: int = 6,
    seed: int = 0,
    noise: float = 0.005,
    class_spectra: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> SyntheticCube:
    """Generate a synthetic scene in memory.

    Parameters
    ----------
    height, width, bands
        Size of the cube.
    n_classes
        Number of classes (1..8, taken in :data:`CLASS_LIBRARY` order).
    seed
        Random seed; the same seed gives the same cube.
    noise
        Standard deviation of the per-pixel reflectance noise (6x in bad bands).
    class_spectra
        Optional ``(wavelengths nm, reflectance)`` per class, in :data:`CLASS_LIBRARY` order,
        replacing the built-in analytic spectra (the demo uses library records held out of
        base-model pretraining, :func:`hsigeo.speclib.corpus.demo_class_spectra`).

    Returns
    -------
    SyntheticCube
    """
    gen = _Generator(height, width, bands, n_classes, seed, noise=noise, class_spectra=class_spectra)
    cube, cls = gen.render(slice(0, height), slice(0, width))
    return SyntheticCube(
        cube=cube,
        labels=(cls + 1).astype("int32"),
        wavelengths=gen.wavelengths,
        class_names=[c.name for c in gen.classes],
        classes=gen.classes,
        bad_bands=gen.bad,
    )


def _prompts_yaml(classes: Sequence[ClassInfo]) -> str:
    import yaml

    doc = {
        "name": "synthetic",
        "description": "Classes of the hsigeo synthetic demo scene",
        "classes": [
            {"name": c.name, "value": c.value, "colour": c.colour_hex,
             "prompts": list(CLASS_LIBRARY[c.value - 1][3])}
            for c in classes
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=200)


def _scene_da(cube: np.ndarray, wavelengths: np.ndarray, bad: np.ndarray, *, name: str = "synthetic"):
    import rioxarray  # noqa: F401
    import xarray as xr
    from rasterio.transform import from_origin

    b, h, w = cube.shape
    transform = from_origin(ORIGIN[0], ORIGIN[1], PIXEL_SIZE, PIXEL_SIZE)
    xs = ORIGIN[0] + (np.arange(w) + 0.5) * PIXEL_SIZE
    ys = ORIGIN[1] - (np.arange(h) + 0.5) * PIXEL_SIZE
    da = xr.DataArray(
        cube, dims=("band", "y", "x"), name=name,
        coords={"band": np.arange(1, b + 1), "y": ys, "x": xs,
                "wavelength": ("band", wavelengths), "bad_band": ("band", bad)},
    )
    return da.rio.write_crs(CRS).rio.write_transform(transform)


def make_synthetic_scene(
    out_dir: str | os.PathLike,
    *,
    height: int = 120,
    width: int = 140,
    bands: int = 120,
    n_classes: int = 6,
    seed: int = 0,
    nodata_border: int = 3,
    labelled_fraction: float = 0.5,
    overwrite: bool = False,
    class_spectra: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> SyntheticScene:
    """Write a georeferenced synthetic scene, its labels and prompts to ``out_dir``.

    Writes ``scene.tif`` (int16 reflectance x 10000, nodata -9999 on a border
    ``nodata_border`` pixels wide, EPSG:32611, 2 m pixels, wavelengths
    400-2500 nm and water-window ``bad_band`` flags per band),
    ``labels.tif`` (uint8, 0 = unlabelled: region edges, the border and
    random patches are left unlabelled) with its ``.aux.xml`` / ``.qml``
    sidecars, and ``prompts.yaml``.

    Parameters
    ----------
    out_dir
        Output folder (created when missing).
    height, width, bands, n_classes, seed
        As in :func:`synthetic_cube`.
    nodata_border
        Width in pixels of the nodata frame.
    labelled_fraction
        Rough share of interior pixels that get a label.
    overwrite
        Replace existing files (else :class:`~hsigeo.errors.OutputExistsError`
        before anything is written).
    class_spectra
        As in :func:`synthetic_cube`.

    Returns
    -------
    SyntheticScene
    """
    import xarray as xr
    from scipy.ndimage import binary_erosion, gaussian_filter

    from hsigeo.io.raster import write_hsi
    from hsigeo.io.writers import write_classification

    out = Path(out_dir)
    paths = {k: out / f for k, f in (("scene", "scene.tif"), ("labels", "labels.tif"), ("prompts", "prompts.yaml"))}
    for p in paths.values():
        check_output(p, overwrite=overwrite)  # fail before writing anything
    out.mkdir(parents=True, exist_ok=True)

    syn = synthetic_cube(height=height, width=width, bands=bands, n_classes=n_classes, seed=seed,
                         class_spectra=class_spectra)
    stored = np.round(syn.cube * SCALE).astype("int16")
    border = np.zeros((height, width), dtype=bool)
    if nodata_border > 0:
        border[:nodata_border], border[-nodata_border:] = True, True
        border[:, :nodata_border], border[:, -nodata_border:] = True, True
    stored[:, border] = NODATA
    da = _scene_da(stored, syn.wavelengths, syn.bad_bands, name="scene").rio.write_nodata(NODATA)
    write_hsi(da, paths["scene"], overwrite=overwrite)

    # labels: interiors of regions (edges are mixed in real data), minus random gaps
    rng = np.random.default_rng([seed, 3])
    labels = np.zeros((height, width), dtype="uint8")
    for v in range(1, n_classes + 1):
        labels[binary_erosion(syn.labels == v, iterations=1)] = v
    gaps = gaussian_filter(rng.standard_normal((height, width)), 4.0)
    labels[gaps > np.quantile(gaps, labelled_fraction)] = 0
    labels[border] = 0
    lab = xr.DataArray(labels, dims=("y", "x"), coords={"y": da.y, "x": da.x})
    lab = lab.rio.write_crs(CRS).rio.write_transform(da.rio.transform())
    write_classification(lab, paths["labels"], classes=syn.classes, overwrite=overwrite)

    with atomic_output(paths["prompts"], overwrite=overwrite) as tmp:
        tmp.write_text(_prompts_yaml(syn.classes), encoding="utf-8")
    return SyntheticScene(paths["scene"], paths["labels"], paths["prompts"], list(syn.classes), syn.wavelengths)


def write_large_synthetic(
    path: str | os.PathLike,
    *,
    height: int,
    width: int,
    bands: int = 200,
    n_classes: int = 6,
    seed: int = 0,
    block: int = 512,
    band_chunk: int = 50,
    labels_path: str | os.PathLike | None = None,
    compress: str = "deflate",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write a large synthetic scene window by window, never holding it in memory.

    The scene is the same kind as :func:`make_synthetic_scene` writes
    (int16 reflectance x 10000, EPSG:32611, 2 m, wavelengths per band, no
    nodata border), generated per ``block`` x ``block`` window and per
    ``band_chunk`` bands, so peak memory is about
    ``block**2 * band_chunk * 12`` bytes (~150 MB at the defaults) whatever
    the scene size.  Region layout and spectra do not depend on ``block``;
    the noise is seeded per window, so it does (the same arguments always
    give the same file).

    Parameters
    ----------
    path
        Output ``.tif`` (BigTIFF when needed).
    height, width, bands, n_classes, seed
        Scene size, classes and seed.
    block
        Window size in pixels (a multiple of 256 matches the file tiles).
    band_chunk
        Bands generated at a time within a window.
    labels_path
        Also write the full label raster (uint8, every pixel labelled) here.
    compress
        GDAL compression; ``"none"`` writes about twice as fast (noisy
        spectra compress only ~1.4x) at ~1.4x the size.
    overwrite
        Replace existing outputs.
    progress
        Report progress through :mod:`hsigeo.progress`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from hsigeo.io.writers import open_classification_writer
    from hsigeo.progress import Progress

    gen = _Generator(height, width, bands, n_classes, seed, noise=0.005)
    transform = from_origin(ORIGIN[0], ORIGIN[1], PIXEL_SIZE, PIXEL_SIZE)
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": "int16",
        "crs": CRS, "transform": transform, "nodata": NODATA, "tiled": True,
        "blockxsize": 256, "blockysize": 256, "interleave": "band", "BIGTIFF": "IF_SAFER",
    }
    if compress and compress.lower() != "none":
        profile.update(compress=compress, predictor=2)
    if labels_path is not None:
        check_output(labels_path, overwrite=overwrite)
    windows = [(r, c) for r in range(0, height, block) for c in range(0, width, block)]
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_output(path, overwrite=overwrite))
        dst = stack.enter_context(rasterio.open(tmp, "w", **profile))
        lab_out = None
        if labels_path is not None:
            lab_out = stack.enter_context(
                open_classification_writer(labels_path, classes=gen.classes, like=profile, overwrite=overwrite))
        bar = stack.enter_context(Progress(len(windows), "synthetic scene", unit="block")) if progress else None
        for i, wl in enumerate(gen.wavelengths):
            dst.update_tags(i + 1, wavelength=f"{wl:.10g}", wavelength_units="nm",
                            bad_band="1" if gen.bad[i] else "0")
            dst.update_tags(i + 1, ns="IMAGERY", CENTRAL_WAVELENGTH_UM=f"{wl / 1000.0:.10g}")
            dst.set_band_description(i + 1, f"Band {i + 1} ({wl:.6g} nm)")
        for r, c in windows:
            rows, cols = slice(r, min(height, r + block)), slice(c, min(width, c + block))
            win = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
            for b0 in range(0, bands, band_chunk):
                bs = slice(b0, min(bands, b0 + band_chunk))
                cube, cls = gen.render(rows, cols, bs)
                dst.write(np.round(cube * SCALE).astype("int16"), window=win,
                          indexes=list(range(bs.start + 1, bs.stop + 1)))
            if lab_out is not None:
                lab_out.write_window(win, cls + 1)
            if bar is not None:
                bar.update(1)
    return Path(path)

