"""Physically based simulation where the libraries are thin.

- :func:`prosail_canopy`: PROSPECT-D + 4SAIL canopy reflectance over a given soil (the
  ``prosail`` package; run only when the base model is built).
- :func:`tree_crowns`: a tree canopy as a sensor sees it: sunlit crowns, crown shadows lit
  by leaf-transmitted light, and woody parts (branches, bark) between the leaves.
- :func:`water_spectra`: clear, turbid (suspended sediment) and algal water.
- :func:`mix`: linear (areal) mixtures such as crop rows on soil or buildings among lawns,
  and the adjacency effect (a share of the surroundings' signal in every pixel).

Every function takes a :class:`numpy.random.Generator` so a build is reproducible.
"""

from __future__ import annotations

import numpy as np

from hsigeo.spectra.grid import GRID, GridResampler

__all__ = ["prosail_canopy", "tree_crowns", "water_spectra", "mix", "PROSAIL_WL"]

#: PROSAIL's output grid (nm).
PROSAIL_WL = np.arange(400.0, 2501.0)
_TO_GRID: GridResampler | None = None


def _to_grid(x: np.ndarray) -> np.ndarray:
    global _TO_GRID
    if _TO_GRID is None:
        _TO_GRID = GridResampler(PROSAIL_WL, fwhm=np.ones(PROSAIL_WL.size))
    return _TO_GRID(x)


def prosail_canopy(rng: np.random.Generator, soil: np.ndarray, *, lai: tuple[float, float],
                   cab: tuple[float, float] = (30.0, 65.0), cbrown: tuple[float, float] = (0.0, 0.1),
                   cw: tuple[float, float] = (0.008, 0.025), cm: tuple[float, float] = (0.004, 0.012),
                   n: tuple[float, float] = (1.3, 2.2), ala: tuple[float, float] = (35.0, 65.0)) -> np.ndarray:
    """One canopy reflectance spectrum on :data:`GRID`, parameters drawn uniformly from the ranges.

    Parameters
    ----------
    rng
        Random generator.
    soil
        ``(G,)`` soil background on the grid (interpolated to PROSAIL's 1 nm grid).
    lai, cab, cbrown, cw, cm, n, ala
        Ranges of leaf area index, chlorophyll (ug/cm2), brown pigment, equivalent water
        thickness (cm), dry matter (g/cm2), leaf structure and mean leaf angle (deg).
    """
    import prosail

    def u(r: tuple[float, float]) -> float:
        return float(rng.uniform(*r))

    rsoil0 = np.interp(PROSAIL_WL, GRID, soil)
    cab_v = u(cab)
    refl = prosail.run_prosail(
        n=u(n), cab=cab_v, car=cab_v / 4.5, cbrown=u(cbrown), cw=u(cw), cm=u(cm), lai=u(lai),
        lidfa=u(ala), hspot=0.05, tts=float(rng.uniform(20, 50)), tto=float(rng.uniform(0, 15)),
        psi=float(rng.uniform(0, 180)), prospect_version="D", ant=0.0, rsoil0=rsoil0,
    )
    return _to_grid(np.asarray(refl, dtype=np.float64))


def tree_crowns(rng: np.random.Generator, canopy: np.ndarray, wood: np.ndarray,
                shade: tuple[float, float] = (0.2, 0.7), woody: tuple[float, float] = (0.05, 0.2)) -> np.ndarray:
    """A tree canopy as an imaging sensor sees it, from a PROSAIL canopy spectrum.

    PROSAIL's turbid-medium canopy is a uniform carpet of leaves; real crowns are not.  A
    share ``shade`` of the pixel is crown shadow, lit mostly by light transmitted through
    leaves (near-infrared: the canopy's own shape, 10-30 % as bright), and a share ``woody``
    is branches and bark (``wood``, at 30-100 % of its brightness) seen between the
    leaves.  Both make real tree canopies darker and flatter than the carpet: red over mean
    reflectance about 0.2 instead of PROSAIL's 0.05-0.1 (the Berlin library's 13 measured
    trees: median 0.21, see the README's base-model section).  The shadow share reaches 70 %:
    a closed canopy seen at 10-30 m can be that dark (the same 13 trees have a mean reflectance
    of 0.07-0.16, half of them below what a 50 % shadow share gave).
    """
    fs = float(rng.uniform(*shade))
    shadow = canopy * (canopy / max(float(canopy.max()), 1e-6)) * float(rng.uniform(0.1, 0.3))
    crown = (1 - fs) * canopy + fs * shadow
    fw = float(rng.uniform(*woody))
    return ((1 - fw) * crown + fw * wood * float(rng.uniform(0.3, 1.0))).astype(np.float32)


def water_spectra(rng: np.random.Generator, kind: str, soil: np.ndarray | None = None) -> np.ndarray:
    """A water-leaving + surface reflectance spectrum on the grid.

    ``kind``: ``"clear"`` (blue-green maximum, near zero beyond 750 nm), ``"turbid"``
    (sediment backscatter raises the red, limited by water absorption in the NIR) or
    ``"algae"`` (chlorophyll: green peak, 670 nm absorption, 700 nm fluorescence/backscatter
    peak).
    """
    lam = GRID
    glint = rng.uniform(0.001, 0.01)
    body = rng.uniform(0.01, 0.05) * np.exp(-(((lam - rng.uniform(450, 500)) / rng.uniform(80, 130)) ** 2))
    # pure-water absorption makes the NIR vanish; an exponential is a fair shape for it
    atten = np.exp(-np.clip(lam - 580.0, 0, None) / rng.uniform(60, 140))
    r = body + glint
    if kind == "turbid":
        sed = soil if soil is not None else np.interp(lam, [400, 2500], [0.1, 0.3])
        r = r + rng.uniform(0.2, 0.8) * sed * atten
    elif kind == "algae":
        chl = rng.uniform(0.01, 0.04)
        r = r + chl * (np.exp(-(((lam - 560) / 30) ** 2)) + 0.6 * np.exp(-(((lam - 705) / 15) ** 2))
                       - 0.3 * np.exp(-(((lam - 670) / 12) ** 2)))
        r = r * np.where(lam > 720, atten, 1.0)
    elif kind != "clear":
        raise ValueError(f"kind must be clear, turbid or algae, got {kind!r}")
    return np.clip(r, 1e-4, None).astype(np.float32)


def mix(rng: np.random.Generator, parts: list[np.ndarray], fractions: list[tuple[float, float]]) -> np.ndarray:
    """Linear mixture of spectra; each part's fraction is drawn from its range, then all sum to 1.

    The last range is a placeholder: the last part takes whatever is left (clipped at 0).
    """
    f = [float(rng.uniform(*r)) for r in fractions[:-1]]
    rest = max(0.0, 1.0 - sum(f))
    f.append(rest)
    tot = sum(f)
    return (sum(fi / tot * p for fi, p in zip(f, parts, strict=True))).astype(np.float32)
