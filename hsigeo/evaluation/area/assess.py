"""Assess a class map from a labelled reference sample: checks, the estimates and the report.

:func:`assess_sample` reads the sample points (``hsigeo sample``'s GeoPackage,
or any point layer with a reference field), counts the map's population the
way the sample was drawn (same strata, same mask), looks up each point's map
class and stratum on the map itself, and returns an
:class:`~hsigeo.evaluation.area.report.AreaReport`.  Everything a user can get
wrong gets a message that says what and how to fix it: points outside the map
or on nodata, unlabelled points (left out, counted), labels that name no class,
strata without a labelled point, a strata raster or mask the sample was drawn
with but the evaluation was not given.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.classes import normalize_classes
from hsigeo.errors import InvalidInputError
from hsigeo.evaluation.area.estimators import estimate
from hsigeo.evaluation.area.report import AreaReport
from hsigeo.sampling.design import SAMPLE_DESIGNS, Population, iter_population, scan_population

__all__ = ["SampleNotice", "assess_sample"]


class SampleNotice(UserWarning):
    """Something about the sample the reader of the report must know (unlabelled points left out...)."""


def _ids(gdf: Any, which: np.ndarray, limit: int = 8) -> str:
    ids = gdf["point_id"].to_numpy()[which] if "point_id" in gdf.columns else np.flatnonzero(which) + 1
    shown = ", ".join(str(v) for v in ids[:limit])
    return shown + (f" and {ids.size - limit} more" if ids.size > limit else "")


def _values_at(pop: Population, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map class, stratum and population membership at pixels (one pass over the map's windows)."""
    mapped = np.zeros(rows.size, dtype=np.int64)
    strata = np.zeros(rows.size, dtype=np.int64)
    inside = np.zeros(rows.size, dtype=bool)
    for r0, c0, block, sblock, valid in iter_population(pop.path, strata=pop.strata_path, mask=pop.mask_path,
                                                        desc="reading the map under the points"):
        h, w = block.shape
        here = np.flatnonzero((rows >= r0) & (rows < r0 + h) & (cols >= c0) & (cols < c0 + w))
        if here.size == 0:
            continue
        rr, cc = rows[here] - r0, cols[here] - c0
        mapped[here] = block[rr, cc]
        strata[here] = sblock[rr, cc]
        inside[here] = valid[rr, cc]
    return mapped, strata, inside


def assess_sample(
    map_path: str | os.PathLike,
    sample_path: str | os.PathLike,
    *,
    design: str | None = None,
    strata: str | os.PathLike | None = None,
    mask: str | os.PathLike | None = None,
    fpc: bool = False,
    reference_field: str = "reference",
    classes: Any = None,
) -> AreaReport:
    """Estimate the accuracy and class areas of ``map_path`` from the labelled points of ``sample_path``.

    Parameters
    ----------
    map_path
        The class map (integer GeoTIFF, 0/nodata = no class).
    sample_path
        Sample points with the reference class in ``reference_field`` (value or name).
    design
        ``stratified``, ``simple`` or ``systematic``; default: the design stored in the
        sample by ``hsigeo sample``, else ``stratified``.
    strata
        Raster of the strata the sample was drawn with (stratified; default the map's classes).
    mask
        The mask the sample was drawn within (polygons or raster), so the population is the same.
    fpc
        Apply the finite-population correction (default off, as in the paper).
    reference_field
        Field with the reference class.
    classes
        Class table (names, colours); default the map's own.
    """
    from hsigeo.io.classmaps import read_class_table
    from hsigeo.io.sample_layer import read_design_record, read_sample_layer

    map_path = Path(map_path)
    sample_path = Path(sample_path)
    record = read_design_record(sample_path) or {}
    design = design or record.get("design") or "stratified"
    if design not in SAMPLE_DESIGNS:
        raise InvalidInputError(f"unknown design {design!r}; use one of {', '.join(SAMPLE_DESIGNS)}.")
    if strata is not None and design != "stratified":
        raise InvalidInputError(f"--strata applies to a stratified sample; a {design} sample is post-stratified by "
                                "the map's classes. Leave --strata out or use --design stratified.")
    if record.get("strata") and strata is None and design == "stratified":
        raise InvalidInputError(
            f"{sample_path}: the sample was stratified by the raster {record['strata']!r}, not by the map; give it "
            "with --strata so that the strata's areas are the ones the sample was drawn from.")
    if record.get("mask") and mask is None:
        raise InvalidInputError(
            f"{sample_path}: the sample was drawn inside the mask {record['mask']!r}; give the same mask with --mask "
            "so that the areas are those of the sampled population.")

    table = normalize_classes(classes) if classes is not None else read_class_table(map_path)
    gdf, ref = read_sample_layer(sample_path, reference_field=reference_field, classes=table or None)
    pop = scan_population(map_path, strata=strata if design == "stratified" else None, mask=mask)

    # points -> pixels of the map grid
    if pop.crs is not None and gdf.crs is not None and gdf.crs != pop.crs:
        gdf = gdf.to_crs(pop.crs)
    elif pop.crs is not None and gdf.crs is None:
        warnings.warn(f"{sample_path}: the points have no CRS; taken to be in the map's ({pop.crs}).", SampleNotice,
                      stacklevel=2)
    inv = ~pop.transform
    x = gdf.geometry.x.to_numpy()
    y = gdf.geometry.y.to_numpy()
    colf, rowf = inv * (x, y)
    cols = np.floor(np.asarray(colf)).astype(np.int64)
    rows = np.floor(np.asarray(rowf)).astype(np.int64)
    outside = (rows < 0) | (rows >= pop.height) | (cols < 0) | (cols >= pop.width) | ~np.isfinite(x)
    if outside.any():
        raise InvalidInputError(
            f"{sample_path}: {int(outside.sum())} of {len(gdf)} points lie outside {map_path.name} (point_id "
            f"{_ids(gdf, outside)}). Was the sample drawn on another map? Remove those points or evaluate the map "
            "they belong to.")
    mapped, stratum, inside = _values_at(pop, rows, cols)
    if not inside.all():
        why = "class 0/nodata" + (" or outside the mask" if mask is not None else "")
        raise InvalidInputError(
            f"{sample_path}: {int((~inside).sum())} points fall on pixels of {map_path.name} that are not part of the "
            f"mapped population ({why}; point_id {_ids(gdf, ~inside)}). A sample must be drawn from the map it "
            "assesses: draw it with `hsigeo sample` on this map (and the same --mask).")
    notes: list[str] = []
    if "map_class" in gdf.columns:
        stored = gdf["map_class"].to_numpy()
        changed = np.isfinite(stored.astype(float)) & (stored.astype(float) != mapped)
        if changed.any():
            notes.append(f"{int(changed.sum())} points carry a map_class other than the map's class under them "
                         f"(point_id {_ids(gdf, changed)}): the map changed after the sample was drawn; the map's "
                         "classes are used.")
            warnings.warn(notes[-1], SampleNotice, stacklevel=2)
    labelled = ref > 0
    if not labelled.any():
        raise InvalidInputError(
            f"{sample_path}: none of the {len(gdf)} points has a reference class in {reference_field!r}; label them "
            "first (in QGIS: toggle editing, then pick each point's class in the attribute form).")
    if not labelled.all():
        notes.append(f"{int((~labelled).sum())} of {len(gdf)} points have no reference label and are left out "
                     f"(point_id {_ids(gdf, ~labelled)}). The estimates stay unbiased only if the missing labels are "
                     "unrelated to the class; label them for a sound estimate.")
        warnings.warn(notes[-1], SampleNotice, stacklevel=2)

    # the class list: the map's table, every mapped class, every reference class
    names = {e.value: e.name for e in table}
    colours = {e.value: tuple(e.colour) for e in table}
    values = sorted(set(names) | set(pop.classes.tolist()) | set(ref[labelled].tolist()))
    values = [v for v in values if v != 0]
    if table:
        unknown = sorted(set(ref[labelled].tolist()) - set(names))
        if unknown:
            raise InvalidInputError(
                f"{sample_path}: reference classes {unknown} are not classes of {map_path.name} "
                f"({', '.join(f'{v} {n}' for v, n in sorted(names.items()))}). Fix those labels, or give the class "
                "table with --prompts if the map's is incomplete.")
    absent = [v for v in sorted(set(ref[labelled].tolist())) if v not in set(pop.classes.tolist())]
    if absent:
        notes.append("reference class(es) " + ", ".join(f"{v} {names.get(v, '')}".strip() for v in absent)
                     + " never appear on the map: their user's accuracy is undefined and their area comes from "
                       "the map's omission errors only.")
    cls = np.array(values, dtype=np.int64)
    # points' strata: the strata raster, or the map's classes (stratified by the map, or post-stratified)
    if pop.strata_are_map:
        point_strata = mapped[labelled]
        stratum_values, stratum_pixels = pop.classes, pop.class_pixels
        cross = np.zeros((pop.classes.size, cls.size), dtype=np.int64)
        cross[np.arange(pop.classes.size), np.searchsorted(cls, pop.classes)] = pop.class_pixels
        stratum_names = [f"map class {v} {names.get(int(v), '')}".strip() for v in pop.classes]
    else:
        point_strata = stratum[labelled]
        stratum_values, stratum_pixels = pop.strata, pop.stratum_pixels
        cross = np.zeros((pop.strata.size, cls.size), dtype=np.int64)
        cross[:, np.searchsorted(cls, pop.classes)] = pop.cross
        stratum_names = [f"stratum {v}" for v in pop.strata]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimate(point_strata, mapped[labelled], ref[labelled], stratum_values=stratum_values,
                       stratum_pixels=stratum_pixels, classes=cls, fpc=fpc, stratum_names=stratum_names,
                       stratum_classes=cross)
    for w in caught:
        warnings.warn(str(w.message), SampleNotice, stacklevel=2)
    mapped_pixels = np.zeros(cls.size, dtype=np.int64)
    mapped_pixels[np.searchsorted(cls, pop.classes)] = pop.class_pixels
    return AreaReport(
        estimates=est, names=[names.get(v, f"class {v}") for v in values], mapped_pixels=mapped_pixels,
        hectares_per_pixel=pop.hectares_per_pixel(), design=design,
        strata_source="the map's classes" if pop.strata_are_map else Path(strata).name,  # type: ignore[arg-type]
        colours={v: colours[v] for v in values if v in colours}, notes=notes,
        extra={"map": str(map_path), "sample": str(sample_path), "mask": str(mask) if mask else None,
               "points": len(gdf), "labelled": int(labelled.sum()), "seed": record.get("seed")},
    )
