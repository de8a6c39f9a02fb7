"""Area and accuracy estimators: the worked example of Olofsson et al. (2014) and properties.

The example (Olofsson et al. 2014, Remote Sensing of Environment 148, section 5, Tables 8-9):
four strata = map classes (deforestation, forest gain, stable forest, stable non-forest),
10,000,000 Landsat pixels of 0.09 ha, 640 sample points.  The published figures are asserted
to the precision they are printed with.  Two producer's-accuracy half-widths are printed
inconsistently with the paper's own eq. 7 (forest gain 0.23, stable non-forest 0.01, where the
equation gives 0.254 and 0.018, as R's mapaccuracy also does); those two are asserted at the
equation's value.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hsigeo.evaluation.area.estimators import EmptyStratumError, SampleWarning, estimate
from hsigeo.sampling.design import allocate, class_sample_size, neyman_variance, sample_size

# Table 8: sample counts, rows map (= strata), columns reference
COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
PIXELS = np.array([200_000, 150_000, 3_200_000, 6_450_000])
HA_PER_PIXEL = 0.09


def points_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One (map, reference) pair per sample point of an error matrix of counts (classes 1..C)."""
    m, r = [], []
    for a in range(counts.shape[0]):
        for b in range(counts.shape[1]):
            m += [a + 1] * int(counts[a, b])
            r += [b + 1] * int(counts[a, b])
    return np.array(m), np.array(r)


@pytest.fixture(scope="module")
def paper():
    m, r = points_from_counts(COUNTS)
    return estimate(m, m, r, stratum_values=[1, 2, 3, 4], stratum_pixels=PIXELS)


def test_error_matrix_in_area_proportions(paper):
    # Table 9, printed to 4 decimals
    table9 = np.array([[0.0176, 0, 0.0013, 0.0011], [0, 0.0110, 0.0016, 0.0024],
                       [0.0019, 0, 0.2967, 0.0213], [0.0040, 0.0020, 0.0179, 0.6212]])
    assert np.round(paper.proportions, 4) == pytest.approx(table9, abs=1e-12)
    assert paper.counts.tolist() == COUNTS.tolist()
    assert paper.n == 640  # Table 8 holds 640 points (641 were planned, section 5.1.1)


def test_accuracies(paper):
    # section 5.2.1: estimate +/- 95 % half-width, printed to 2 decimals
    assert round(paper.overall.value, 2) == 0.95 and round(paper.overall.half_width, 2) == 0.02
    assert [round(u.value, 2) for u in paper.users] == [0.88, 0.73, 0.93, 0.96]
    assert [round(u.half_width, 2) for u in paper.users] == [0.07, 0.10, 0.04, 0.02]
    assert [round(p.value, 2) for p in paper.producers] == [0.75, 0.85, 0.93, 0.96]
    # printed 0.21, 0.23, 0.03, 0.01; eq. 7 gives 0.254 and 0.018 for classes 2 and 4 (see the module doc)
    assert [round(p.half_width, 2) for p in paper.producers] == [0.21, 0.25, 0.03, 0.02]


def test_areas(paper):
    # section 5.2.2: error-adjusted area and 95 % half-width in hectares, printed to the hectare
    total_ha = PIXELS.sum() * HA_PER_PIXEL
    areas = [s.scaled(total_ha) for s in paper.area_share]
    assert [round(a.value) for a in areas] == [21158, 11686, 285770, 581386]
    assert [round(a.half_width) for a in areas] == [6158, 3756, 15510, 16282]
    # the printed standard error of the deforestation area proportion, 0.0035
    assert round(paper.area_share[0].se, 4) == 0.0035


def test_sample_size_plan():
    # section 5.1.1: target SE(O) 0.01, conjectured user's accuracies 0.70, 0.60, 0.90, 0.95 -> n = 641
    w = PIXELS / PIXELS.sum()
    assert sample_size(w, [0.70, 0.60, 0.90, 0.95], 0.01) == 641
    # Table 5: proportional allocation 13, 10, 205, 413 and equal allocation 160 each (of 641)
    assert allocate(PIXELS, 641, allocation="proportional").tolist() == [13, 10, 205, 413]
    assert allocate(PIXELS, 640, allocation="equal").tolist() == [160, 160, 160, 160]


def test_areas_sum_to_the_map_and_proportions_are_consistent(paper):
    assert sum(s.value for s in paper.area_share) == pytest.approx(1.0, abs=1e-12)
    assert paper.proportions.sum(axis=1) == pytest.approx(PIXELS / PIXELS.sum())
    assert paper.overall.value == pytest.approx(np.trace(paper.proportions))


def test_census_equals_pixel_count_and_fpc_gives_zero_width():
    rng = np.random.default_rng(3)
    mapped = rng.integers(1, 4, size=(40, 50))
    truth = np.where(rng.random(mapped.shape) < 0.8, mapped, rng.integers(1, 4, size=mapped.shape))
    values, pixels = np.unique(mapped, return_counts=True)
    m, r = mapped.ravel(), truth.ravel()
    for fpc in (False, True):
        est = estimate(m, m, r, stratum_values=values, stratum_pixels=pixels, fpc=fpc)
        shares = np.array([s.value for s in est.area_share])
        assert shares * mapped.size == pytest.approx(np.bincount(r, minlength=4)[1:])
        assert est.overall.value == pytest.approx(np.mean(m == r))
        widths = [e.half_width for e in [est.overall, *est.users, *est.producers, *est.area_share]]
        if fpc:
            assert widths == [0.0] * len(widths)
        else:
            assert min(widths) > 0


def test_other_strata_than_the_map():
    """Strata from another raster (Stehman 2014): a census with the fpc still gives the truth exactly."""
    rng = np.random.default_rng(5)
    mapped = rng.integers(1, 4, size=2000)
    truth = np.where(rng.random(2000) < 0.7, mapped, rng.integers(1, 4, size=2000))
    strata = rng.integers(10, 12, size=2000)
    values, pixels = np.unique(strata, return_counts=True)
    est = estimate(strata, mapped, truth, stratum_values=values, stratum_pixels=pixels, fpc=True)
    ua_true = [np.mean(truth[mapped == k] == k) for k in (1, 2, 3)]
    pa_true = [np.mean(mapped[truth == k] == k) for k in (1, 2, 3)]
    assert [u.value for u in est.users] == pytest.approx(ua_true)
    assert [p.value for p in est.producers] == pytest.approx(pa_true)
    assert all(e.se == 0 for e in est.users + est.producers)
    # a sample of the same population: unbiased on average over many draws
    draws = []
    for seed in range(300):
        pick = np.random.default_rng(seed).choice(2000, 200, replace=False)
        e = estimate(strata[pick], mapped[pick], truth[pick], stratum_values=values, stratum_pixels=pixels)
        draws.append(e.area_share[0].value)
    assert np.mean(draws) == pytest.approx(np.mean(truth == 1), abs=0.01)


def test_empty_stratum_and_single_point_messages():
    m = np.array([1, 1, 1, 2])
    with pytest.raises(EmptyStratumError, match="stratum 3 .* no labelled sample point"):
        estimate(m, m, m, stratum_values=[1, 2, 3], stratum_pixels=[10, 10, 10])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimate(m, m, m, stratum_values=[1, 2], stratum_pixels=[10, 10])
    assert any(issubclass(w.category, SampleWarning) for w in caught)
    assert np.isnan(est.users[1].se) and est.users[0].se == 0


def test_reference_class_absent_from_the_map():
    m = np.array([1, 1, 1, 1, 2, 2, 2, 2])
    r = np.array([1, 1, 3, 1, 2, 2, 2, 3])
    est = estimate(m, m, r, stratum_values=[1, 2], stratum_pixels=[600, 400], classes=[1, 2, 3])
    assert np.isnan(est.users[2].value)  # class 3 is never mapped
    assert est.producers[2].value == 0.0
    assert est.area_share[2].value == pytest.approx(0.6 / 4 + 0.4 / 4)


def test_neyman_allocation_minimises_the_variance():
    # N_h and U_h chosen so that the Neyman shares N_h S_h / sum are whole numbers of 320 points
    pixels = np.array([10_000, 40_000, 50_000])
    u = np.array([0.5, 0.9, 0.9])  # S = 0.5, 0.3, 0.3 -> N S = 5000, 12000, 15000
    ney = allocate(pixels, 320, allocation="neyman", expected_accuracy=u)
    assert ney.tolist() == [50, 120, 150]
    best = neyman_variance(ney, pixels, u)
    for other in ("proportional", "equal"):
        assert neyman_variance(allocate(pixels, 320, allocation=other), pixels, u) > best
    # no move of points between strata lowers it
    for a in range(3):
        for b in range(3):
            for step in (1, 5, 20):
                if a != b:
                    moved = ney.copy()
                    moved[a] -= step
                    moved[b] += step
                    assert neyman_variance(moved, pixels, u) >= best


def test_allocation_minimum_and_small_strata():
    from hsigeo.sampling.design import SampleSizeWarning

    with pytest.warns(SampleSizeWarning, match="a has only 30 pixel"):
        out = allocate([30, 1000, 100_000], 500, allocation="proportional", min_per_stratum=50,
                       names=["a", "b", "c"])
    assert out.tolist()[0] == 30 and out[1] == 50 and out.sum() == 500
    assert class_sample_size(0.8, 0.05) == 64
