"""Estimators of accuracy and class area from a stratified (or post-stratified) reference sample.

hsigeo writes these itself: no maintained Python library implements them (R has
``mapaccuracy``; EnMAP-Box and SCP keep theirs inside their applications).

Every estimate is a stratified mean of an indicator variable, or a ratio of two
such means, over the sample points (Stehman 2014, "Estimating area and map
accuracy for stratified random sampling when the strata are different from the
map classes", International Journal of Remote Sensing 35, 4923-4939).  With the
map's classes as strata, these are exactly the estimators of Olofsson et al.
(2014, "Good practices for estimating area and assessing accuracy of land
change", Remote Sensing of Environment 148, 42-57), whose equation numbers are
given beside each formula; with other strata they are Stehman's.  Simple random
and systematic samples are post-stratified by the map's classes, as Olofsson et
al. (2014, section 5.2.2) do; a systematic sample's variance is estimated as a
simple random sample's (the usual, mostly conservative, approximation).

Variance formula: by default the paper's, without finite-population correction
(fpc), as the paper prints it and R's ``mapaccuracy`` computes it; ``fpc=True``
multiplies each stratum's term by ``1 - n_h / N_h`` (Stehman 2014, eq. 25), so a
census has zero variance.  The fpc matters only when a stratum's sample is a
noticeable share of its pixels.

Intervals are ``estimate +/- 1.96 SE`` (Olofsson et al. 2014, eq. 12).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hsigeo.errors import InvalidInputError

__all__ = ["Z95", "Estimate", "SampleEstimates", "estimate", "EmptyStratumError", "SampleWarning"]

#: Normal quantile of the 95 % intervals (Olofsson et al. 2014, eq. 12).
Z95 = 1.96


class EmptyStratumError(InvalidInputError):
    """A stratum of the population has no labelled sample point, so nothing can be estimated for it."""


class SampleWarning(UserWarning):
    """The sample allows the estimates but not all their standard errors (a stratum with one point)."""


@dataclass(frozen=True)
class Estimate:
    """An estimate, its standard error and 95 % interval (``value +/- 1.96 SE``); NaN when undefined."""

    value: float
    se: float

    @property
    def half_width(self) -> float:
        """Half-width of the 95 % confidence interval."""
        return Z95 * self.se

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width

    def scaled(self, factor: float) -> Estimate:
        """The estimate of ``factor`` times the quantity."""
        return Estimate(self.value * factor, self.se * abs(factor))

    def to_dict(self) -> dict[str, float | None]:
        def f(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {"estimate": f(self.value), "se": f(self.se), "ci95_low": f(self.low), "ci95_high": f(self.high)}


@dataclass
class SampleEstimates:
    """What a sample says about the map (classes in ``classes`` order; rows map, columns reference).

    Attributes
    ----------
    classes
        Class values.
    counts
        ``(C, C)`` sample counts, rows map class, columns reference class.
    proportions
        ``(C, C)`` estimated area proportions ``p_ij`` (Olofsson eq. 4 / 9).
    proportions_se
        Their standard errors.
    overall, users, producers
        Overall accuracy; user's accuracy per map class; producer's accuracy per reference class.
    area_share
        Estimated share of the population's area per (reference) class.
    stratum_values, stratum_pixels, stratum_sample
        ``N_h`` and ``n_h`` of each stratum.
    fpc
        Whether the finite-population correction was applied.
    notes
        What a reader should know (strata with one point, classes absent from the map).
    """

    classes: list[int]
    counts: np.ndarray
    proportions: np.ndarray
    proportions_se: np.ndarray
    overall: Estimate
    users: list[Estimate]
    producers: list[Estimate]
    area_share: list[Estimate]
    stratum_values: list[int]
    stratum_pixels: np.ndarray
    stratum_sample: np.ndarray
    fpc: bool
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.stratum_sample.sum())


class _Strata:
    """Per-point stratum index, with ``W_h``, ``n_h`` and the variance factor ``(1 - f_h) / n_h``."""

    def __init__(self, index: np.ndarray, pixels: np.ndarray, fpc: bool) -> None:
        self.index = index
        self.pixels = pixels.astype(np.float64)
        self.weights = self.pixels / self.pixels.sum()  # W_h = N_h / N
        self.n = np.bincount(index, minlength=pixels.size).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = (1 - self.n / self.pixels) if fpc else np.ones_like(self.n)
            self.factor = np.where(self.n > 0, keep / self.n, 0.0)
        self.census = keep <= 0

    def mean(self, y: np.ndarray, zero: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stratified mean of each column of ``y`` ``(n, K)`` and its variance.

        Mean: ``sum_h W_h ybar_h``, the stratified estimator (Olofsson eqs. 4 and 9 when the strata are the map).
        Variance: ``sum_h W_h^2 (1 - f_h) s_yh^2 / n_h`` (Stehman 2014, eq. 25); with the map as strata and
        ``s^2 = n/(n-1) p (1-p)`` this is Olofsson eq. 5 (overall accuracy) and eq. 10 (area proportions).
        ``zero`` ``(H, K)`` marks strata where a variable is zero on every pixel (a map class absent from the
        stratum): they add no variance, even when their one sample point cannot estimate one.
        """
        h = self.pixels.size
        k = y.shape[1]
        sums = np.zeros((h, k))
        np.add.at(sums, self.index, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = sums / self.n[:, None]
        means = np.where(self.n[:, None] > 0, means, 0.0)
        dev = y - means[self.index]
        ss = np.zeros((h, k))
        np.add.at(ss, self.index, dev * dev)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = ss / (self.n[:, None] - 1)  # sample variance within each stratum (NaN with one point)
        term = self.weights[:, None] ** 2 * self.factor[:, None] * s2
        # a census stratum (fpc, n_h = N_h) adds nothing, even with a single pixel
        term = np.where(self.census[:, None] | (self.n[:, None] == 0), 0.0, term)
        if zero is not None:
            term = np.where(zero, 0.0, term)
        return self.weights @ means, term.sum(axis=0)

    def ratio(self, y: np.ndarray, x: np.ndarray, zero: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ratio of stratified means ``R = Y / X`` per column and its variance.

        ``V(R) = V_str(y - R x) / X^2`` (Stehman 2014, eq. 28).  For user's accuracy with the map as
        strata this is Olofsson eq. 6; for producer's accuracy, Olofsson eq. 7.
        """
        ybar, _ = self.mean(y)
        xbar, _ = self.mean(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(xbar > 0, ybar / xbar, np.nan)
        z = y - np.nan_to_num(r)[None, :] * x
        _, vz = self.mean(z, zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            return r, np.where(xbar > 0, vz / xbar**2, np.nan)


def _index(values: np.ndarray, table: np.ndarray, what: str) -> np.ndarray:
    pos = np.searchsorted(table, values)
    pos = np.clip(pos, 0, max(table.size - 1, 0))
    bad = table[pos] != values if table.size else np.ones(values.shape, bool)
    if np.any(bad):
        raise InvalidInputError(f"{what} {sorted(set(values[bad].tolist()))[:10]} not in {table.tolist()[:20]}")
    return pos


def estimate(
    strata: Sequence[int],
    map_class: Sequence[int],
    reference: Sequence[int],
    *,
    stratum_values: Sequence[int],
    stratum_pixels: Sequence[int],
    classes: Sequence[int] | None = None,
    fpc: bool = False,
    stratum_names: Sequence[str] | None = None,
    stratum_classes: np.ndarray | None = None,
) -> SampleEstimates:
    """Estimate the error matrix in area proportions, accuracies and class area shares.

    Parameters
    ----------
    strata, map_class, reference
        Per labelled sample point: its stratum value, map class and reference class.
    stratum_values, stratum_pixels
        Every stratum of the population and its pixel count ``N_h``.  For simple random and
        systematic samples, pass the map's classes (post-stratification).
    classes
        Class values in report order (default: every map and reference class seen, sorted).
    fpc
        Apply the finite-population correction ``1 - n_h / N_h`` (default off: the paper's formulas).
    stratum_names
        Names of the strata for messages.
    stratum_classes
        ``(H, C)`` pixels of each stratum mapped as each class (``Population.cross`` in ``classes``
        order), so that a stratum without a map class adds nothing to that class's user's accuracy
        variance.  Default: inferred when every point's stratum is its map class (the map is the strata).

    Raises
    ------
    EmptyStratumError
        A stratum with pixels has no sample point (its share of the area cannot be estimated).
    """
    s = np.asarray(strata, dtype=np.int64).ravel()
    m = np.asarray(map_class, dtype=np.int64).ravel()
    r = np.asarray(reference, dtype=np.int64).ravel()
    if not (s.size == m.size == r.size):
        raise InvalidInputError(f"strata ({s.size}), map classes ({m.size}) and references ({r.size}) "
                                "must give one value per sample point")
    sv = np.asarray(stratum_values, dtype=np.int64)
    big_n = np.asarray(stratum_pixels, dtype=np.int64)
    order = np.argsort(sv)
    sv, big_n = sv[order], big_n[order]
    names = ([list(stratum_names)[i] for i in order] if stratum_names is not None
             else [f"stratum {v}" for v in sv])
    if sv.size == 0 or np.any(big_n < 0) or big_n.sum() == 0:
        raise InvalidInputError("the population has no pixels (every stratum count is 0)")
    if classes is None:
        classes = sorted(set(m.tolist()) | set(r.tolist()))
    cls = np.asarray(list(classes), dtype=np.int64)
    if stratum_classes is not None and np.shape(stratum_classes) != (sv.size, cls.size):
        raise InvalidInputError(f"stratum_classes must be (strata, classes) = ({sv.size}, {cls.size})")
    corder = np.argsort(cls)
    h_idx = _index(s, sv, "sample points in strata")
    i_sorted = _index(m, cls[corder], "map classes")
    j_sorted = _index(r, cls[corder], "reference classes")
    i, j = corder[i_sorted], corder[j_sorted]  # positions in the caller's class order
    st = _Strata(h_idx, big_n, fpc)
    empty = [k for k in range(sv.size) if big_n[k] > 0 and st.n[k] == 0]
    if empty:
        raise EmptyStratumError(
            "; ".join(f"{names[k]} ({int(big_n[k]):,} px, {100 * st.weights[k]:.2f} % of the area) has no labelled "
                      "sample point" for k in empty)
            + ". Its area and accuracy cannot be estimated: label points in it (or draw a sample that reaches it, "
              "e.g. `hsigeo sample --min-per-class`).")
    notes = []
    single = [k for k in range(sv.size) if st.n[k] == 1 and not st.census[k]]
    if single:
        text = ", ".join(names[k] for k in single)
        notes.append(f"{text}: one sample point only, so no variance can be estimated there; the standard errors "
                     "that depend on it are reported as n/a.")
        warnings.warn(notes[-1], SampleWarning, stacklevel=2)
    c = cls.size
    n = s.size
    eye = np.eye(c)
    map_1h = eye[i]  # (n, C): x = [map class is i]
    ref_1h = eye[j]  # (n, C): [reference class is j]
    hit = (i == j).astype(np.float64)[:, None]

    # p_ij = sum_h W_h n_hij / n_h  (Olofsson eq. 4 when the strata are the map: W_i n_ij / n_i.)
    cell = np.zeros((n, c * c))
    cell[np.arange(n), i * c + j] = 1.0
    p, vp = st.mean(cell)
    # overall accuracy O = sum_k p_kk (Olofsson eq. 1), variance Olofsson eq. 5
    o, vo = st.mean(hit)
    # user's accuracy U_i = p_ii / p_i. (Olofsson eq. 2), variance Olofsson eq. 6
    if stratum_classes is not None:
        absent = np.asarray(stratum_classes)[order] == 0
    elif np.array_equal(s, m):  # the strata are the map: stratum h holds map class h only
        absent = sv[:, None] != cls[None, :]
    else:
        absent = None
    ua, vua = st.ratio(map_1h * hit, map_1h, absent)
    # producer's accuracy P_j = p_jj / p_.j (Olofsson eq. 3), variance Olofsson eq. 7
    pa, vpa = st.ratio(ref_1h * hit, ref_1h)
    # area proportion p_.k = sum_i W_i n_ik / n_i. (Olofsson eq. 9), its standard error Olofsson eq. 10
    share, vshare = st.mean(ref_1h)
    counts = np.zeros((c, c), dtype=np.int64)
    np.add.at(counts, (i, j), 1)

    def ests(v: np.ndarray, var: np.ndarray) -> list[Estimate]:
        return [Estimate(float(a), float(np.sqrt(b)) if np.isfinite(b) else float("nan")) for a, b in zip(v, var,
                                                                                                       strict=True)]

    return SampleEstimates(
        classes=[int(x) for x in cls], counts=counts, proportions=p.reshape(c, c),
        proportions_se=np.sqrt(vp).reshape(c, c), overall=ests(o, vo)[0], users=ests(ua, vua),
        producers=ests(pa, vpa), area_share=ests(share, vshare), stratum_values=[int(x) for x in sv],
        stratum_pixels=big_n, stratum_sample=st.n.astype(np.int64), fpc=bool(fpc), notes=notes,
    )
