"""Semi-synthetic mosaics of real library spectra (hsigeo/datasets/library_mosaic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.datasets.library_mosaic import MOSAICS, MosaicSpec, library_mosaic
from hsigeo.datasets.scenes import find_data_dir

DATA = find_data_dir()
needs_berlin = pytest.mark.skipif(
    DATA is None or not (DATA / "berlin" / "library_berlin.gpkg").is_file(),
    reason="Berlin library not found: set HSIGEO_DATA_DIR to the folder holding berlin/",
)


def _toy_library():
    wl = np.linspace(400.0, 2400.0, 50)
    spectra = np.stack([np.full(50, 0.1), np.full(50, 0.12), np.linspace(0.05, 0.5, 50), np.full(50, 0.02)])
    return spectra.astype(np.float32), ["a", "a", "b", "c"], wl, ["a one", "a two", "b one", "c one"]


def test_every_class_present_pixels_are_library_spectra_and_borders_mix():
    spectra, classes, wl, names = _toy_library()
    spec = MosaicSpec({1: "a", 2: "b", 3: "c"}, size=40, regions=6, illumination=0.0, noise=0.0, seed=3)
    cube, labels, w = library_mosaic(spectra, classes, wl, spec, names)
    assert cube.shape == (50, 40, 40) and labels.shape == (40, 40) and np.array_equal(w, wl)
    assert set(np.unique(labels)) == {1, 2, 3}
    pad = np.pad(labels, 1, mode="edge")
    border = np.zeros_like(labels, bool)
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        border |= pad[1 + dy:41 + dy, 1 + dx:41 + dx] != labels
    x = cube.reshape(50, -1).T
    # without noise or illumination every interior pixel is exactly one record of its own class
    interior = ~border.ravel()
    own = {1: spectra[:2], 2: spectra[2:3], 3: spectra[3:4]}
    for i in np.flatnonzero(interior)[::37]:
        assert np.isclose(own[labels.ravel()[i]], x[i]).all(1).any()
    # border pixels hold half of a neighbouring region's record: none equals a pure record
    for i in np.flatnonzero(border.ravel())[::11]:
        assert not np.isclose(spectra, x[i]).all(1).any()


def test_records_selected_by_name_and_vnir_cut():
    spectra, classes, wl, names = _toy_library()
    spec = MosaicSpec({1: "a", 2: "b"}, names={1: ("a two",)}, size=20, regions=4, max_nm=900.0,
                      illumination=0.0, noise=0.0)
    cube, labels, w = library_mosaic(spectra, classes, wl, spec, names)
    assert w.max() <= 900.0 and cube.shape[0] == int((wl <= 900).sum())
    interior = cube[:, labels == 1].T
    assert np.isclose(interior, 0.12).all(1).sum() > 0 and not np.isclose(interior, 0.1).all(1).any()
    with pytest.raises(ValueError, match="no library record"):
        library_mosaic(spectra, classes, wl, MosaicSpec({1: "missing"}), names)


@needs_berlin
@pytest.mark.parametrize("name", sorted(MOSAICS))
def test_mosaics_from_the_berlin_library(name):
    from hsigeo.datasets.library_mosaic import load_mosaic

    cube, labels, wl = load_mosaic(name, DATA)
    spec = MOSAICS[name]
    assert labels.shape == (spec.size, spec.size) and set(np.unique(labels)) == set(spec.classes)
    assert cube.dtype == np.float32 and np.isfinite(cube).all() and 0.0 < np.median(cube) < 0.5
    assert wl.min() >= 450 and (spec.max_nm is None or wl.max() <= spec.max_nm)
    # seeded: the same scene every time
    again, _, _ = load_mosaic(name, DATA)
    assert np.array_equal(cube, again)


def _independent_library():
    """One record per class, linearly independent, so a pixel can be unmixed exactly."""
    wl = np.linspace(400.0, 2400.0, 60)
    t = np.linspace(0.0, 1.0, 60)
    spectra = np.stack([np.full(60, 0.3), 0.05 + 0.45 * t, 0.2 + 0.1 * np.sin(6 * t), 0.1 + 0.3 * t ** 2])
    return spectra.astype(np.float32), ["a", "b", "c", "road"], wl, ["a", "b", "c", "road"]


def test_abundance_layout_labels_are_the_argmax_of_smooth_mixtures():
    spectra, classes, wl, names = _independent_library()
    spec = MosaicSpec({1: "a", 2: "b", 3: "c"}, size=60, regions=5, illumination=0.0, noise=0.0, other_record=0.0,
                      seed=4, layout="abundance")
    cube, labels, _ = library_mosaic(spectra, classes, wl, spec, names)
    x = cube.reshape(60, -1)
    ab, *_ = np.linalg.lstsq(spectra[:3].T.astype(np.float64), x.astype(np.float64), rcond=None)
    assert np.allclose(ab.sum(0), 1.0, atol=1e-3) and ab.min() > -1e-3  # convex mixtures of the records
    assert np.array_equal(labels.ravel(), np.array([1, 2, 3])[ab.argmax(0)])
    top = ab.max(0)
    # gradual transitions: a good share of pixels is mixed, and most are nearly pure
    assert 0.1 < (top < 0.8).mean() < 0.6 and (top > 0.9).mean() > 0.3
    assert set(np.unique(labels)) == {1, 2, 3}


def test_abundance_layout_roads_are_thin_lines():
    from scipy.ndimage import binary_erosion

    spectra, classes, wl, names = _independent_library()
    spec = MosaicSpec({1: "a", 2: "b", 3: "c", 4: "road"}, size=80, regions=5, illumination=0.0, noise=0.0,
                      other_record=0.0, seed=5, layout="abundance", roads={4: 3}, road_width=1.5)
    _, labels, _ = library_mosaic(spectra, classes, wl, spec, names)
    road = labels == 4
    assert 0.02 < road.mean() < 0.12
    # a 3 x 3 erosion removes nearly all of a road one to two pixels wide
    assert binary_erosion(road, np.ones((3, 3), bool)).sum() < 0.1 * road.sum()


def test_unknown_layout_is_refused():
    spectra, classes, wl, names = _toy_library()
    with pytest.raises(ValueError, match="unknown mosaic layout"):
        library_mosaic(spectra, classes, wl, MosaicSpec({1: "a"}, layout="hexagons"), names)
