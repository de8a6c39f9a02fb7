"""The Berlin urban-gradient scene (EnMAP-Box test data) as a benchmark dataset.

A simulated EnMAP scene (30 m, 177 bands, 460-2409 nm, reflectance x 10000, UTM 33N) made from
real HyMap reflectance, with land-cover polygons.  The labels are the polygons' ``Level_2_ID``
burnt onto the 30 m grid (pixel centres inside a polygon), classes roof, pavement, low
vegetation, tree and soil; ``other`` (6) is left out.  The polygons are coarse blocks, so most
labelled 30 m pixels are mixtures: a scene with noisy labels, unlike the GIC benchmark scenes.

The files are read as delivered (gzip-compressed ENVI, wavelengths in micrometres, ignore
value -99) from ``berlin/`` in the data folder (:func:`hsigeo.datasets.scenes.find_data_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["BERLIN", "BERLIN_CLASSES", "load_berlin", "berlin_prompts_path"]

BERLIN = "berlin"
#: Level_2_ID -> Level_2 name of the classes kept (6, "other", is dropped).
BERLIN_CLASSES: dict[int, str] = {1: "roof", 2: "pavement", 3: "low vegetation", 4: "tree", 5: "soil"}


def berlin_prompts_path() -> Path:
    """The prompts file shipped for the scene."""
    return Path(__file__).resolve().parents[1] / "data" / "prompts" / "berlin.yaml"


def load_berlin(data_dir: str | os.PathLike | None = None) -> tuple[object, np.ndarray]:
    """The scene ``(band, y, x)`` (float32 DataArray, wavelengths in nm) and its ``(y, x)`` int32 labels.

    Read by the one Berlin loader, :func:`hsigeo.datasets.scenes.load_dataset` (``"berlin"``);
    here ``other`` (6) is dropped, since no prompt can name it.

    Raises
    ------
    DatasetError
        When the folder or one of its files is missing.
    """
    from hsigeo.datasets.scenes import load_dataset

    ds = load_dataset(BERLIN, data_dir=data_dir)
    lab = np.asarray(ds.labels.values if hasattr(ds.labels, "values") else ds.labels, dtype=np.int32)
    lab[~np.isin(lab, list(BERLIN_CLASSES))] = 0
    cube = ds.cube.astype(np.float32).load()
    cube.name = BERLIN
    return cube, lab
