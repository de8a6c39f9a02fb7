"""Sample draws over windows: every design, exact stratum sizes, uniform inclusion, the mask."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.sampling.design import draw_sample, scan_population


@pytest.fixture(scope="module")
def small_map(tmp_path_factory):
    """A 23 x 31 map (three classes, unclassified pixels, nodata 0) written by hsigeo."""
    import rioxarray  # noqa: F401
    import xarray as xr
    from affine import Affine

    from hsigeo.io.writers import write_classification

    rng = np.random.default_rng(0)
    arr = rng.choice([0, 1, 2, 3], p=[0.1, 0.5, 0.3, 0.1], size=(23, 31))
    da = xr.DataArray(arr, dims=("y", "x"), coords={"y": 100 - 2 * (np.arange(23) + 0.5),
                                                    "x": 2 * (np.arange(31) + 0.5)})
    da = da.rio.write_crs("EPSG:32633").rio.write_transform(Affine(2, 0, 0, 0, -2, 100))
    path = tmp_path_factory.mktemp("design") / "map.tif"
    write_classification(da, path, classes={1: "a", 2: "b", 3: "c"})
    return path, arr


def test_population_counts_match_the_array(small_map):
    path, arr = small_map
    for window in (5, 1024):
        pop = scan_population(path, window=window)
        assert pop.strata.tolist() == [1, 2, 3]
        assert pop.stratum_pixels.tolist() == [int((arr == v).sum()) for v in (1, 2, 3)]
        assert pop.hectares_per_pixel() == pytest.approx(4 / 10_000)


@pytest.mark.parametrize("window", [4, 7, 1024])
def test_stratified_draw_across_windows(small_map, window):
    path, arr = small_map
    pop = scan_population(path, window=window)
    sample = draw_sample(pop, {1: 20, 2: 10, 3: 5}, seed=1, window=window)
    assert len(sample) == 35
    assert len(set(zip(sample.rows.tolist(), sample.cols.tolist(), strict=True))) == 35  # no pixel twice
    assert (arr[sample.rows, sample.cols] == sample.map_class).all() and (sample.map_class > 0).all()
    assert np.bincount(sample.stratum, minlength=4)[1:].tolist() == [20, 10, 5]


def test_inclusion_is_uniform_within_strata(small_map):
    """Over many seeds each pixel of a stratum is drawn n_h / N_h of the time (window 7: many windows)."""
    path, arr = small_map
    pop = scan_population(path, window=7)
    hits = np.zeros(arr.shape)
    draws = 600
    for seed in range(draws):
        s = draw_sample(pop, {1: 0, 2: 0, 3: 6}, seed=seed, window=7)
        hits[s.rows, s.cols] += 1
    n3 = int((arr == 3).sum())
    freq = hits[arr == 3] / draws
    expected = 6 / n3
    # binomial SE of one pixel's frequency; every pixel within 5 SE, the mean exact
    se = np.sqrt(expected * (1 - expected) / draws)
    assert np.abs(freq - expected).max() < 5 * se
    assert freq.mean() == pytest.approx(expected)
    assert hits[arr != 3].sum() == 0


def test_simple_and_systematic_and_raster_mask(small_map, tmp_path):
    import rasterio

    path, arr = small_map
    pop = scan_population(path, window=6)
    simple = draw_sample(pop, 40, design="simple", seed=2, window=6)
    assert len(simple) == 40 and (arr[simple.rows, simple.cols] > 0).all()
    syst = draw_sample(pop, 60, design="systematic", seed=2, window=6)
    assert 40 <= len(syst) <= 80 and (arr[syst.rows, syst.cols] > 0).all()
    # a raster mask on the same grid: only its non-zero pixels
    mask = tmp_path / "mask.tif"
    with rasterio.open(path) as src:
        profile = src.profile | {"dtype": "uint8", "nodata": None}
    inside = np.zeros(arr.shape, np.uint8)
    inside[:, :10] = 1
    with rasterio.open(mask, "w", **profile) as dst:
        dst.write(inside, 1)
    masked = scan_population(path, mask=mask, window=6)
    assert masked.n_pixels == int(((arr > 0) & (inside == 1)).sum())
    s = draw_sample(masked, 30, design="simple", seed=0, window=6)
    assert (s.cols < 10).all()
