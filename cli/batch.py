"""Many scenes, one command: the driver behind ``hsigeo classify SCENE... -o FOLDER``.

``hsigeo classify`` hands every run to :func:`run_classify`.  One scene with
``-o FILE.tif`` is today's single classification; several scenes, a glob, or
``-o`` naming a folder classify scene after scene into that folder, each
output named after its scene, or after the product for a sensor product's file,
folder or zip (``<scene>_classes.tif`` and, when asked for,
``<scene>_confidence.tif``, ``<scene>_probabilities.tif``,
``<scene>_classes.gpkg``), with a progress bar across scenes and one within
each, and a summary table at the end.  ``--scheduler`` / ``--workers`` run the
windows on a dask cluster (:mod:`hsigeo.inference.cluster`); the outputs are
still written here, atomically.

Only light imports at module level: ``hsigeo --help`` must not import torch.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

# the product registry is light (numpy only): the command line's product options come from it
from hsigeo.inference.products import CLASSES, PRODUCTS

_GLOB_CHARS = frozenset("*?[")
# files a glob over a scene folder also matches, but that are never scenes (a product's metadata XML is
# recognised before this list is asked)
_NOT_SCENES = (".aux.xml", ".ovr", ".qml", ".msk", ".xml", ".gpkg", ".json", ".yaml", ".yml", ".txt", ".hsigeo")
_SCENE = "{scene}"
#: The raster products a run may add to the class map (one ``--NAME`` option each).
EXTRA_PRODUCTS = {name: p for name, p in PRODUCTS.items() if name != CLASSES}
#: Output name templates in an output folder; ``{scene}`` is the scene's file name without extension.
BATCH_NAMES = {
    "output": PRODUCTS[CLASSES].batch_name,
    **{name: p.batch_name for name, p in EXTRA_PRODUCTS.items()},
    "vector": "{scene}_classes.gpkg",
}


def product_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """One ``--NAME [PATH]`` option per extra raster product (:data:`EXTRA_PRODUCTS`), in registry order."""
    for name, product in reversed(EXTRA_PRODUCTS.items()):
        f = click.option(f"--{name}", name, is_flag=False, flag_value="", default=None,
                         help=f"Also write {product.description} (float32 GeoTIFF, NaN = nodata). Alone: named "
                              "after the classification (or the scene).")(f)
    return f


def cluster_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--scheduler`` and ``--workers`` options of ``hsigeo classify``."""
    f = click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Run on a local dask cluster of N worker processes (one thread each), started for this run.")(f)
    return click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="Run on an existing dask.distributed scheduler (e.g. tcp://host:8786, started with `dask scheduler`; "
             "workers with `dask worker ADDRESS`). Workers read the scenes by path: keep them on shared storage.")(f)


@dataclass(frozen=True)
class SceneJob:
    """One scene and the outputs it gets."""

    scene: Path
    output: Path
    extras: Mapping[str, Path] = field(default_factory=dict)  # product name -> path (asked-for products only)
    vector: Path | None = None

    def paths(self) -> list[Path]:
        """Every output path of the job."""
        return [self.output, *self.extras.values(), *([self.vector] if self.vector is not None else [])]


# --------------------------------------------------------------------------- #
# Planning
# --------------------------------------------------------------------------- #
def _is_glob(arg: str) -> bool:
    return any(ch in arg for ch in _GLOB_CHARS) and not Path(arg).exists()


def _names_folder(output: str | os.PathLike) -> bool:
    """Whether ``-o`` names a folder: it ends with a slash or is an existing folder."""
    text = os.fspath(output)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def is_batch(scene_args: Sequence[str], output: str | os.PathLike) -> bool:
    """Whether ``-o`` is an output folder: several scenes, a glob, or a folder (ending in ``/``, or existing).

    Raises
    ------
    InvalidInputError
        One scene and an ``-o`` with no extension that is no folder: a
        classification file name without its ``.tif`` (writing a folder
        there would surprise).
    """
    from hsigeo.errors import InvalidInputError

    many = len(scene_args) > 1 or any(_is_glob(a) for a in scene_args)
    if many or _names_folder(output):
        return True
    out = Path(output)
    if out.suffix == "":
        raise InvalidInputError(
            f"-o {output}: has no file extension. For one scene give the classification file (-o {out}.tif); "
            f"to write into a folder, end the name with a slash (-o {out}/).")
    return False


def _written_by_hsigeo(path: Path) -> bool:
    """Whether ``path`` is an hsigeo output: listed in its folder's manifest, or carrying an ``HSIGEO_RUN`` record."""
    from hsigeo.filesafety import read_manifest

    manifest = read_manifest(path.parent)
    if manifest is not None and path.name in manifest["files"]:
        return True
    if path.suffix.lower() not in (".tif", ".tiff"):
        return False
    import rasterio

    from hsigeo.inference.tiled import RUN_TAG

    try:
        with rasterio.Env(CPL_LOG="/dev/null"), rasterio.open(path) as src:
            return RUN_TAG in src.tags()
    except Exception:  # noqa: BLE001 - not readable here: the scene check reports it
        return False


def expand_scenes(scene_args: Sequence[str]) -> list[Path]:
    """Scene paths from paths and glob patterns, in order, each scene once.

    Sidecar files a pattern also matches (``.aux.xml``, ``.ovr``...) are
    skipped, and an ENVI header is dropped when its data file matched too.
    Sensor products (:func:`hsigeo.io.products.product_member`) count once
    however many of their files match: a pattern over product folders
    (``'dl/*/'``), metadata XMLs (``'dl/*-METADATA.XML'``) or all their files
    (``'dl/*/*'``) gives each product once, and their quality layers and the
    EMIT MASK granule are never scenes.  Folders that are not one product are
    skipped.  Files hsigeo wrote (listed in a folder's manifest, or
    classifications with an ``HSIGEO_RUN`` record) are never scenes of a
    pattern: an output folder inside the scenes' folder is not classified by
    the next run.
    """
    from hsigeo.errors import RasterReadError
    from hsigeo.io.products import product_member

    paths: list[Path] = []
    for arg in scene_args:
        if not _is_glob(arg):
            paths.append(Path(arg))
            continue
        found = [Path(p) for p in sorted(glob.glob(os.path.expanduser(arg), recursive=True))]
        found = [p for p in found if _may_be_scene(p, product_member(p))]
        stems = {p.with_suffix("") for p in found if p.suffix.lower() != ".hdr"}
        found = [p for p in found if not (p.suffix.lower() == ".hdr" and p.with_suffix("") in stems)]
        found = [p for p in found if not _written_by_hsigeo(p)]
        if not found:
            raise RasterReadError(f"{arg}: no scene matches this pattern; check the folder and the pattern.")
        paths.extend(found)
    seen: set[str] = set()
    unique = []
    for p in paths:
        # a product's files share its key: its image and its XML (or its folder) are one scene
        member = product_member(p)
        key = f"product:{member.key}" if member is not None else os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _may_be_scene(path: Path, member: Any) -> bool:
    """Whether a path a glob matched is a scene: a product's opening file or folder, or a plain raster file."""
    if member is not None:
        return bool(member.opens)
    return path.is_file() and not path.name.lower().endswith(_NOT_SCENES)


def scene_name(scene: Path) -> str:
    """The name a scene's outputs in a folder are named after: the product's name, else the file name's stem."""
    from hsigeo.io.products import product_member

    member = product_member(scene)
    return member.name if member is not None and member.opens else scene.stem


def _extra(value: str | None, option: str, *, batch: bool, folder: Path, stem: str, default: Path) -> Path | None:
    """Path of an optional output: ``None`` not asked, ``""`` the default name, else the given path/template."""
    from hsigeo.errors import InvalidInputError

    if value is None:
        return None
    if value == "":
        return default
    if not batch:
        return Path(value)
    if _SCENE not in value:
        raise InvalidInputError(
            f"--{option} {value}: with several scenes, give --{option} without a value (each output is named "
            f"after its scene) or a name containing {_SCENE}, e.g. '{BATCH_NAMES[option]}'.")
    return folder / value.replace(_SCENE, stem)


def plan_jobs(scenes: Sequence[Path], output: Path, *, batch: bool, extras: Mapping[str, str | None] | None = None,
              vector: str | None = None) -> list[SceneJob]:
    """The outputs of every scene (see the module notes for the names).

    ``extras`` maps product names (:data:`EXTRA_PRODUCTS`) to their option's value: ``None`` not
    asked, ``""`` the default name, else a path (a name with ``{scene}`` in a batch).

    Raises
    ------
    InvalidInputError
        When ``-o`` names a file but there are several scenes, or two scenes
        would write the same output.
    """
    from hsigeo.errors import InvalidInputError

    asked = {k: v for k, v in (extras or {}).items() if v is not None}
    if not batch and len(scenes) == 1:
        out = output
        names = {**{k: out.with_name(f"{out.stem}_{k}.tif") for k in asked}, "vector": out.with_suffix(".gpkg")}
        folder, stem = out.parent, out.stem
    elif output.suffix and not _names_folder(output):
        raise InvalidInputError(f"-o {output}: names a file, but {len(scenes)} scenes were given; "
                          "give an output folder (e.g. -o classified/).")
    jobs, owner = [], {}
    for scene in scenes:
        if batch:
            folder, stem = output, scene_name(scene)
            out = folder / BATCH_NAMES["output"].replace(_SCENE, stem)
            names = {k: folder / BATCH_NAMES[k].replace(_SCENE, stem) for k in (*asked, "vector")}
        paths = {k: _extra(v, k, batch=batch, folder=folder, stem=stem, default=names[k]) for k, v in asked.items()}
        job = SceneJob(scene, out, {k: p for k, p in paths.items() if p is not None},
                       _extra(vector, "vector", batch=batch, folder=folder, stem=stem, default=names["vector"]))
        for p in job.paths():
            other = owner.setdefault(os.path.realpath(p), scene)
            if other != scene:
                raise InvalidInputError(f"{scene} and {other} would both write {p} (same file name); "
                                  "rename one or classify them into different folders.")
        jobs.append(job)
    return jobs


def check_scenes(jobs: Sequence[SceneJob], model: Any) -> None:
    """Fail before any work: every scene opens and its bands fit the model."""
    from hsigeo.io.raster import open_hsi

    for job in jobs:
        model.check_bands(open_hsi(job.scene))


def check_product_masks(jobs: Sequence[SceneJob], flags: Sequence[str]) -> None:
    """Fail before any work: every scene is a product whose quality files carry the ``--product-mask`` flags."""
    from hsigeo.io.products.quality import quality_mask

    for job in jobs:
        quality_mask(job.scene, flags)


# --------------------------------------------------------------------------- #
# Running
# --------------------------------------------------------------------------- #
def check_resume(jobs: Sequence[SceneJob]) -> None:
    """Under ``--resume``: fail before any work when a planned output exists that hsigeo did not write.

    ``--resume`` replaces only outputs of an earlier identical run; a file of
    anyone else's in the way would otherwise be found only when its scene's
    turn comes, after the scenes before it were classified.
    """
    from hsigeo.errors import OutputExistsError
    from hsigeo.filesafety import read_manifest

    for job in jobs:
        for p in job.paths():
            if not p.exists():
                continue
            if p.suffix.lower() in (".tif", ".tiff"):
                ours = _written_by_hsigeo(p)
            else:  # polygons carry no record; in an output folder its manifest says whose they are
                manifest = read_manifest(p.parent)
                ours = manifest is None or p.name in manifest["files"]
            if not ours:
                raise OutputExistsError(
                    f"{p}: output exists already and hsigeo did not write it (no HSIGEO_RUN record, not in the "
                    "folder's manifest), so --resume may not replace it. Move it away, or pass --overwrite to "
                    "replace it.")


def run_classify(load_model: Callable[[], Any], scene_args: Sequence[str], output: str | os.PathLike, *,
                 extras: Mapping[str, str | None], vector: str | None, scheduler: str | None,
                 workers: int | None, options: dict[str, Any], inputs: Sequence[Path | None],
                 report: Callable[[Any, Any], None]) -> list[Any]:
    """Classify one scene or many, in process or on a dask cluster; print the report.

    Every output of every scene is checked and locked (and the inputs
    protected) before the model is loaded and any work starts.

    Parameters
    ----------
    load_model
        Loads the (possibly re-anchored) model; called once the outputs are secured.
    scene_args
        Scene paths and glob patterns from the command line.
    output
        ``-o``: a classification GeoTIFF for one scene, else a folder.
    extras, vector
        Raster products by name (``confidence``, ``probabilities``, ``margin``...) and the polygons:
        ``None`` (not asked), ``""`` (asked, default name) or a path (a name with ``{scene}`` in a
        batch).
    scheduler, workers
        Where the windows run (see :func:`hsigeo.inference.cluster.open_client`).
    options
        Keyword arguments for :func:`hsigeo.inference.tiled.classify_raster`
        (``overwrite``, ``resume``, ``device``, ``tile_size``...).
    inputs
        Files the run reads besides the scenes (model, prompts): no output may replace them.
    report
        Prints one scene's result (single-scene runs).

    Returns
    -------
    list of ClassificationResult
        One per scene, in order.
    """
    from hsigeo_cli.classify import raster_outputs

    from hsigeo.filesafety import Output, guard_outputs
    from hsigeo.inference.cluster import cluster_description, open_client

    batch = is_batch(scene_args, output)
    output = Path(output)
    jobs = plan_jobs(expand_scenes(scene_args), output, batch=batch, extras=extras, vector=vector)
    outputs = [o for job in jobs for o in raster_outputs(job.output, extras=job.extras, vector=job.vector)]
    if batch:
        # the folder is claimed: its manifest lists what hsigeo wrote there, the user's files stay theirs
        outputs.append(Output(output, "-o", folder=True, shared=True))
    if options.get("resume") and not options.get("overwrite"):
        check_resume(jobs)
    # every output checked (suffix, not an input, writable, free) and locked before any work
    with guard_outputs(outputs, overwrite=bool(options.get("overwrite") or options.get("resume")), inputs=inputs,
                       rasters=[job.scene for job in jobs]):
        if options.get("product_mask"):
            check_product_masks(jobs, options["product_mask"])
        model = load_model()
        if batch and not options.get("resample"):  # resampling plans (and checks) each scene's bands itself
            check_scenes(jobs, model)
        with open_client(scheduler, workers) as client:
            if client is not None:
                click.echo(f"Cluster: {cluster_description(client)}.", err=True)
            results = _run_jobs(jobs, model, client, options, batch=batch)
    if not batch:
        report(results[0], model)
    else:
        click.echo(f"Classified {len(jobs)} scenes into {output}:")
        click.echo(summary_table(jobs, results, model))
    return results


def _run_jobs(jobs: Sequence[SceneJob], model: Any, client: Any, options: dict[str, Any], *,
              batch: bool) -> list[Any]:
    """Scene after scene; on a failure, say what is done and how to continue, then re-raise."""
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.progress import Progress

    results: list[Any] = []
    with Progress(len(jobs), "scenes", unit="scene") if batch else contextlib.nullcontext() as bar:
        for job in jobs:
            try:
                results.append(classify_raster(
                    job.scene, model, job.output, products=job.extras, vector_path=job.vector, progress=True,
                    client=client,
                    **options))
            except BaseException:
                if results:
                    click.echo(f"{len(results)} of {len(jobs)} scenes were done and are kept; rerun with "
                               "--resume to skip them.", err=True)
                raise
            if bar is not None:
                bar.update(1)
    return results


def summary_table(jobs: Sequence[SceneJob], results: Sequence[Any], model: Any) -> str:
    """Markdown table: scene, pixels, seconds and the share (% of valid pixels) of every class, plus a total."""
    classes = [(int(c.value), str(c.name)) for c in model.classes]
    header = ["scene", "pixels", "seconds", *[f"{name} %" for _, name in classes]]
    rows = []
    totals: dict[int, int] = {}
    for job, r in zip(jobs, results):
        for v, n in r.class_counts.items():
            totals[v] = totals.get(v, 0) + n
        rows.append([job.scene.name, f"{r.width * r.height:,}", "up to date" if r.skipped else f"{r.seconds:.1f}",
                     *_shares(r.class_counts, classes)])
    rows.append(["all", f"{sum(r.width * r.height for r in results):,}", f"{sum(r.seconds for r in results):.1f}",
                 *_shares(totals, classes)])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    right = [False] + [True] * (len(header) - 1)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _shares(counts: dict[int, int], classes: Sequence[tuple[int, str]]) -> list[str]:
    total = max(sum(counts.values()), 1)
    return [f"{100 * counts.get(v, 0) / total:.1f}" for v, _ in classes]
