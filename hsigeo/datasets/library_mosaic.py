"""Semi-synthetic scenes made of real library spectra: clean, spectrally distinct classes.

The zero-shot development scenes (Indian Pines, Salinas-A, Berlin at 30 m) are hard for the
spectral angle mapper: mixed pixels, radiance, look-alike crops.  The scenes held back in issue 21
(Jasper Ridge, Samson) are the opposite: a few classes (tree, water, soil, road) that single
spectra tell apart, where the angle mapper scores 85-94 %.  A method tuned only on the first kind
can fail on the second, so these mosaics stand in for it during development:

- every pixel is a **real measured spectrum** (the 75 HyMap spectra of the Berlin urban-gradient
  library, :func:`hsigeo.datasets.scenes.load_berlin_library`), never one of hsigeo's training
  spectra;
- the layout is a Voronoi partition into regions of one class each, one primary library record per
  region, a share of pixels drawn from another record of the same class, an illumination factor,
  50/50 mixtures along region borders (the adjacency of real boundaries) and sensor noise.

The settings (size, region count, mixing, noise) were fixed before any method was run on the
mosaics; :data:`MOSAICS` holds them as data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["MosaicSpec", "MOSAICS", "library_mosaic", "load_mosaic"]


@dataclass(frozen=True)
class MosaicSpec:
    """How one mosaic scene is laid out.

    Attributes
    ----------
    classes
        Output value -> the library's level-3 class name whose records fill that class.
    names
        Output value -> record-name prefixes to keep of that class (all records when absent):
        the Berlin library's "pavement" holds cinder courts, artificial turf and tartan, which
        are not roads.
    size
        Scene side in pixels (square).
    regions
        Voronoi regions (each class gets at least one).
    max_nm
        Bands above this wavelength are dropped (a VNIR-only camera), or None.
    other_record
        Share of a region's pixels drawn from another record of the same class.
    illumination
        Half-width of the per-pixel brightness factor (1 ± this).
    noise
        Standard deviation of additive Gaussian noise, in reflectance.
    seed
        Random seed of the layout and the draws.
    """

    classes: dict[int, str]
    names: dict[int, tuple[str, ...]] | None = None
    size: int = 100
    regions: int = 12
    max_nm: float | None = None
    other_record: float = 0.2
    illumination: float = 0.1
    noise: float = 0.003
    seed: int = 0


#: The development mosaics: ``jasper-like`` (tree, water, soil, road; the full 460-2409 nm range),
#: ``samson-like`` (soil, tree, water; 460-889 nm, a VNIR camera) and ``city-like`` (the library's six
#: urban classes in smaller regions, every record).
MOSAICS: dict[str, MosaicSpec] = {
    "mosaic-jasper-like": MosaicSpec({1: "tree", 2: "water", 3: "soil", 4: "pavement"},
                                     names={4: ("asphalt", "concrete")}, size=100, seed=1),
    "mosaic-samson-like": MosaicSpec({1: "soil", 2: "tree", 3: "water"}, size=95, max_nm=889.0, seed=2),
    "mosaic-city-like": MosaicSpec({1: "roof", 2: "pavement", 3: "low vegetation", 4: "tree", 5: "soil", 6: "water"},
                                   size=100, regions=40, seed=3),
}


def library_mosaic(spectra: np.ndarray, classes: list[str], wavelengths: np.ndarray, spec: MosaicSpec,
                   record_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mosaic ``(cube (B, H, W) reflectance 0-1 float32, labels (H, W) int32, wavelengths (B,))``.

    Parameters
    ----------
    spectra
        Library records ``(N, B)``, reflectance 0-1.
    classes
        Class name of each record (matched to ``spec.classes`` case-insensitively).
    wavelengths
        Band centres (nm) of the records.
    spec
        The layout.
    record_names
        Name of each record (needed when ``spec.names`` selects records by name).
    """
    rng = np.random.default_rng(spec.seed)
    names = np.asarray([c.lower() for c in classes])
    records = {v: np.flatnonzero(names == n.lower()) for v, n in spec.classes.items()}
    for v, prefixes in (spec.names or {}).items():
        records[v] = np.asarray([i for i in records[v] if str(record_names[i]).lower().startswith(prefixes)], int)
    for v, idx in records.items():
        if idx.size == 0:
            raise ValueError(f"mosaic class {spec.classes[v]!r} has no library record")
    n, values = spec.size, list(spec.classes)
    # Voronoi regions; the first len(values) regions get each class once, the rest at random
    centres = rng.uniform(0, n, size=(spec.regions, 2))
    region_class = np.array(values + list(rng.choice(values, spec.regions - len(values))))
    yy, xx = np.mgrid[0:n, 0:n]
    d = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    region = np.argmin(d, axis=-1)
    labels = region_class[region].astype(np.int32)
    primary = np.array([rng.choice(records[c]) for c in region_class])
    rec = primary[region]
    other = rng.random((n, n)) < spec.other_record
    rec[other] = [rng.choice(records[c]) for c in labels[other]]
    x = spectra[rec] * rng.uniform(1 - spec.illumination, 1 + spec.illumination, (n, n, 1))
    # borders: a pixel with a 4-neighbour in another region is half its neighbour's primary record
    padded = np.pad(region, 1, mode="edge")  # the scene's outer edge is no border
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        nb = padded[1 + dy:1 + dy + n, 1 + dx:1 + dx + n]
        edge = nb != region
        x[edge] = 0.5 * x[edge] + 0.5 * spectra[primary[nb[edge]]]
    x = x + rng.normal(0.0, spec.noise, x.shape)
    keep = np.ones(len(wavelengths), bool) if spec.max_nm is None else np.asarray(wavelengths) <= spec.max_nm
    cube = np.moveaxis(np.clip(x[..., keep], 0.0, None), -1, 0).astype(np.float32)
    return cube, labels, np.asarray(wavelengths, dtype=np.float64)[keep]


def load_mosaic(name: str, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mosaic ``name`` of :data:`MOSAICS` built from the Berlin library (needs the data folder)."""
    from hsigeo.datasets.scenes import load_berlin_library

    lib = load_berlin_library(data_dir)
    return library_mosaic(lib.spectra, lib.classes, lib.wavelengths, MOSAICS[name], lib.names)
