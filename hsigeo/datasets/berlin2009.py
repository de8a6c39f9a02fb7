"""The older Berlin urban-gradient cut (``berlin/urban_gradient_2009/``) as held-out scenes.

EnMAP-Box's "Berlin Urban Gradient 2009" test data also holds a small cut north of the
``berlin`` development scene (the two do not overlap): simulated EnMAP at 30 m (244 bands) and
HyMap airborne reflectance at 9 m (111 bands), with per-pixel **cover fractions** of the level-2
classes at 30 m.  Unlike the polygons of the development scene these are fractions, so a pixel's
label can be its dominant class where that class truly dominates.

Both scenes are held out (``benchmarks/results/heldout/PROTOCOL.md``): defined before any run on
them and used only to report.  Their headers carry no ``wavelength`` field; the band centres are
in the band names (``band 1 (0.455400 Micrometers)``), which is how EnMAP-Box wrote them and
where :func:`hsigeo.io.raster.open_hsi` finds them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hsigeo.errors import DatasetError

__all__ = ["BERLIN_2009", "DOMINANT", "berlin_2009_labels", "load_berlin_2009"]

#: Scene name -> (cube file in ``berlin/urban_gradient_2009/``, sensor).
BERLIN_2009: dict[str, tuple[str, str]] = {
    "berlin-2009": ("EnMAP02_Berlin_Urban_Gradient_2009.bsq", "EnMAP (simulated from HyMap), 30 m"),
    "berlin-2009-hymap": ("HyMap02_Berlin_Urban_Gradient_2009.bsq", "HyMap, 9 m"),
}
_FRACTIONS = "LandCov_Layer_Level2_Berlin_Urban_Gradient_2009.bsq"
_FOLDER = Path("berlin") / "urban_gradient_2009"
#: A pixel is labelled with its dominant level-2 class when that class covers at least this share.
DOMINANT = 0.5
# level-2 band order of the fraction file: roof, pavement, low vegetation, tree, soil, other;
# the class values are the development scene's (hsigeo.datasets.berlin.BERLIN_CLASSES), "other" unscored
_SCORED = 5


def _file(data_dir: str | os.PathLike | None, name: str) -> Path:
    from hsigeo.datasets.scenes import DATASETS, _need, find_data_dir

    return _need(find_data_dir(data_dir), str(_FOLDER / name), DATASETS["berlin"])


def berlin_2009_labels(fractions: np.ndarray, dominant: float = DOMINANT) -> np.ndarray:
    """Labels ``(y, x)`` (1-5, 0 = unscored) from level-2 fractions ``(6, y, x)`` (-99 = nodata).

    The dominant class where it covers at least ``dominant`` of the pixel; "other" (the sixth
    band), nodata and pixels without a dominant class are 0.
    """
    f = np.asarray(fractions, dtype=np.float64)
    valid = np.isfinite(f).all(0) & (f >= 0).all(0)
    top = f.argmax(0)
    keep = valid & (f.max(0) >= dominant) & (top < _SCORED)
    return np.where(keep, top + 1, 0).astype(np.int32)


def load_berlin_2009(name: str, data_dir: str | os.PathLike | None = None) -> tuple[object, np.ndarray]:
    """The scene ``name`` of :data:`BERLIN_2009`: ``(band, y, x)`` float32 DataArray (wavelengths in nm, CRS) and labels.

    ``berlin-2009`` is on the fractions' own 30 m grid; ``berlin-2009-hymap`` (9 m) gives each
    pixel the label of the 30 m cell that holds its centre.

    Raises
    ------
    DatasetError
        When a file is missing or not the one expected.
    """
    import rasterio

    from hsigeo.io.raster import open_hsi

    if name not in BERLIN_2009:
        raise DatasetError(f"{name!r} is not a Berlin 2009 scene; choose one of {', '.join(BERLIN_2009)}.")
    cube_path = _file(data_dir, BERLIN_2009[name][0])
    frac_path = _file(data_dir, _FRACTIONS)
    with rasterio.open(frac_path) as src:
        if src.count != 6:
            raise DatasetError(f"{frac_path}: {src.count} bands, expected the 6 level-2 fractions")
        frac_labels = berlin_2009_labels(src.read())
        to_cell = ~src.transform
    da = open_hsi(cube_path).astype(np.float32).load()
    missing = np.flatnonzero(~np.isfinite(da.wavelength.values))
    if len(missing):
        names = da.attrs.get("long_name") or ()
        text = names[missing[0]] if len(names) > missing[0] else None
        raise DatasetError(f"{cube_path}: band {missing[0] + 1} is named {text!r}, without a centre wavelength in "
                           "micrometres; is this EnMAP-Box's urban_gradient_2009 file?")
    # the 30 m cell holding each pixel centre (the grids share their origin)
    xs, ys = np.meshgrid(da.x.values, da.y.values)
    col, row = to_cell * (xs, ys)
    row, col = np.floor(row).astype(int), np.floor(col).astype(int)
    inside = (row >= 0) & (row < frac_labels.shape[0]) & (col >= 0) & (col < frac_labels.shape[1])
    labels = np.zeros(xs.shape, np.int32)
    labels[inside] = frac_labels[row[inside], col[inside]]
    da.name = name
    da.attrs.update(dataset=name, sensor=BERLIN_2009[name][1])
    return da, labels
