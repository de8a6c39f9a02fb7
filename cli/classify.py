"""``hsigeo classify``: classify scenes tile by tile into GeoTIFFs (and polygons), in process or on a dask cluster.

Running one scene or many, and where, is :mod:`hsigeo_cli.batch`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from hsigeo_cli.batch import cluster_options, product_options

_PATH = click.Path(dir_okay=False, path_type=Path)


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Refuse NaN (which every range check lets through)."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number in the range 0<=x<=1.")
    return value


def _flags(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    """``--product-mask cloud,shadow`` -> ``("cloud", "shadow")``; unknown names are an ``Error:`` line."""
    if value is None:
        return None
    from hsigeo.io.products.quality import parse_flags

    return parse_flags(value)


@click.command()
@click.argument("scenes", nargs=-1, required=True)
@click.option("--model", "model_path", type=_PATH, default=None,
              help="Trained model file (.hsigeo). Default: the model named by --prompts (its 'model:' key), "
                   "else the one `hsigeo train` wrote last.")
@click.option("--prompts", "prompts_path", type=_PATH, default=None,
              help="Prompts YAML. When its classes differ from the model's, the model is re-anchored to them "
                   "(zero-shot / open-set classes).")
@click.option("-o", "--output", "output", type=click.Path(), required=True,
              help="Classification GeoTIFF to write; with several scenes or a glob, the output folder "
                   "(a name ending in / or an existing folder is a folder for one scene too).")
# the extras take an optional path: alone, they are named after the classification (or the scene)
@click.option("--vector", is_flag=False, flag_value="", default=None, help="Also write class polygons (GeoPackage).")
@product_options
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where the model runs; auto picks CUDA when available (mixed precision there).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Pixels per forward pass (default 2048 on CPU, 65536 on CUDA).")
@click.option("--tile-size", type=click.IntRange(min=16), default=None,
              help="Window size in pixels (default 256 on CPU, 1024 on CUDA). Smaller uses less memory; "
                   "the result does not change.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for the model (default: all cores but one, which reads the scene). "
                   "On a machine busy with other work, 1 is often much faster.")
@click.option("--extent", default=None, metavar="XMIN,YMIN,XMAX,YMAX[,CRS]",
              help="Classify only this rectangle (map units; CRS default: the scene's, e.g. EPSG:4326). "
                   "The outputs cover it, on the scene's pixel grid.")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Polygons (GeoPackage, Shapefile...): pixels outside them are nodata, and only the windows "
                   "they touch are read. The outputs cover their bounding box (within --extent).")
@click.option("--product-mask", "product_mask", default=None, metavar="FLAGS", callback=_flags,
              help="Sensor products: pixels the product's own quality files flag are nodata, e.g. cloud,shadow. "
                   "Flags: cloud, cirrus, dilated-cloud, shadow, haze, snow, water, spacecraft, aggregate, defective "
                   "(read from the EMIT L2A MASK granule beside the .nc, EnMAP -QL_QUALITY_*.TIF and "
                   "-QL_PIXELMASK.TIF, DESIS -QL_QUALITY-2.tif; `hsigeo info PRODUCT` lists a product's).")
@click.option("--resample", is_flag=True,
              help="When the scene's bands differ from the model's and both know their wavelengths, interpolate "
                   "the scene onto the model's bands, tile by tile (warns when it covers the model's spectrum "
                   "only partly; refuses under half).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None, callback=_finite,
              help="Base model only: the unknown outcome (class 0). On an adapted map (--adapt), a share of each "
                   "class's seed pixels: a pixel is unknown when it is less typical of its class than all but this "
                   "share of them (default 0.003; see the README on what it does per scene). Without adaptation: pixels whose "
                   "best class probability is below this (default: the base model's, 0.5). 0: forced choice.")
@click.option("--radiometry", type=click.Choice(["auto", "reflectance", "radiance"]), default=None,
              help="Base model only: whether the scene is reflectance or at-sensor radiance (radiance gets a "
                   "scene-level correction); auto (the default) looks at the 940/1130 nm water-vapour bands.")
@click.option("--adapt", "adapt_scene", type=click.Choice(["auto", "on", "off", "endmembers", "plain"]), default="auto",
              show_default=True,
              help="Base model only: adapt the prompt-only map to the scene by self-training on its own spectra "
                   "(the base model's confident pixels train a per-scene model). auto: on reflectance scenes "
                   "(see the README's zero-shot table); where the prompts name the scene's own cluster means "
                   "confidently, the first seeds are weighted by those clusters and each class gets several linear "
                   "modes, and clusters the base model's own vocabulary calls none of the classes give no seeds, "
                   "so a cover the prompts do not name is left unknown (README, 'Words alone', rounds 11 and 13); "
                   "on: adapt any scene so; off keeps the base model's per-pixel map; endmembers: the "
                   "cluster-weighted seeds whatever the confidence; plain: three rounds from the base model's "
                   "seeds (the default before round 11).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--resume", is_flag=True,
              help="Reuse outputs that an identical earlier run (same model, same scene file) finished; "
                   "only missing outputs are made.")
@cluster_options
def classify(scenes: tuple[str, ...], model_path: Path | None, prompts_path: Path | None, output: str,
             vector: str | None, device: str,
             batch_size: int | None, tile_size: int | None, threads: int | None, extent: str | None,
             mask: Path | None, product_mask: tuple[str, ...] | None, resample: bool, threshold: float | None,
             radiometry: str | None, adapt_scene: str,
             overwrite: bool, resume: bool, scheduler: str | None, workers: int | None, **extras: str | None) -> None:
    """Classify SCENES (GeoTIFF/COG/ENVI paths or quoted globs) with a trained model, window by window.

    Writes a tiled classification GeoTIFF (class values, 0 = nodata, colour
    table, category names, a .qml style beside it), optionally confidence,
    probabilities and polygons.  Memory stays flat whatever the scene size;
    outputs appear only when complete.  Several scenes go into the -o folder,
    named after each scene (SCENE_classes.tif...), with a summary table.

    Without a model, --prompts alone maps the scenes with the built-in base
    model (label-free, from the words only; needs band wavelengths; with
    several scenes it is bound to the first one's bands and radiometry);
    pixels matching no prompt well enough are left unknown (class 0).
    """
    from hsigeo_cli.batch import run_classify

    prompts, model_path, why = _pick_model(model_path, prompts_path)
    options = {"tile_size": tile_size, "batch_size": batch_size, "device": device, "overwrite": overwrite,
               "resume": resume, "threads": threads, "extent": extent, "mask": mask, "product_mask": product_mask,
               "resample": resample}

    def load() -> Any:
        from hsigeo_cli.batch import expand_scenes

        from hsigeo.model.modelfile import load_model, model_type_of
        from hsigeo.text.encoder import clear_cache

        # one bounded loader for every model type ("base": the shipped base model)
        model = load_model(model_path)
        if not model_type_of(model).fitted:  # a base model: bound to the (first) scene's bands and the prompts
            model = _base_model(model, expand_scenes(scenes)[0], prompts, prompts_path, why, threshold,
                                radiometry or "auto", adapt_scene)
        else:
            _refuse_base_only_options(model_path, threshold=threshold, radiometry=radiometry)
            model = _fitted_model(model, model_path, why, prompts, prompts_path)
        # the prompts are embedded now: the text model (~160 MB resident) is not needed for the windows
        clear_cache()
        return model
    if str(model_path) == "base":
        from hsigeo.model.base import shipped_base_path

        # the shipped base model is an input too: nothing may be written over it
        inputs: tuple[Path | None, ...] = (prompts_path, mask, shipped_base_path())
    else:
        inputs = (model_path, prompts_path, mask)
    run_classify(load, scenes, output, extras=extras, vector=vector,
                 scheduler=scheduler, workers=workers, options=options, inputs=inputs, report=_report)


def _refuse_base_only_options(model_path: Path, *, threshold: float | None, radiometry: str | None) -> None:
    """Options of the built-in base model given with a trained model: they would silently do nothing."""
    from hsigeo.errors import InvalidInputError

    given = [f"--{name} {value}" for name, value in (("threshold", threshold), ("radiometry", radiometry))
             if value is not None]
    if given:
        raise InvalidInputError(
            f"{' and '.join(given)}: only the built-in base model (prompt-only mapping, --prompts without a model) "
            f"uses {'these' if len(given) > 1 else 'this'}; the trained model {model_path} gives every pixel its "
            "most likely class and reads the scene as it was trained. Leave the option out, or map with "
            "--prompts alone.")


def raster_outputs(output: Path, *, extras: Mapping[str, Path] | None = None,
                   vector: Path | None = None) -> list[Any]:
    """The :class:`~hsigeo.filesafety.Output` records of a classification run (GeoTIFFs, polygons)."""
    from hsigeo.filesafety import Output
    from hsigeo.io.vectors import VECTOR_DRIVERS

    tif = (".tif", ".tiff")
    out = [Output(output, "-o", tif, sidecars=(output.with_name(output.name + ".aux.xml"), output.with_suffix(".qml")))]
    for name, path in (extras or {}).items():
        out.append(Output(path, f"--{name}", tif, sidecars=(path.with_name(path.name + ".aux.xml"),
                                                             path.with_suffix(".qml"))))
    if vector is not None:
        out.append(Output(vector, "--vector", tuple(VECTOR_DRIVERS)))
    return out


def _pick_model(model_path: Path | None, prompts_path: Path | None) -> tuple[Any, Path, str]:
    """(prompts or None, model file, why that model) without loading the model."""
    from hsigeo_cli.state import last_model_path

    from hsigeo.errors import ModelFileError
    from hsigeo.text.prompts import load_prompts

    prompts = load_prompts(prompts_path) if prompts_path is not None else None
    if model_path is not None:
        return prompts, model_path, "--model" if str(model_path) != "base" else "--model base"
    if prompts is not None and prompts.model_path is not None:
        return prompts, prompts.model_path, f"named by {prompts_path} (model:)"
    if prompts is not None:
        # words alone: the built-in base model maps the prompts' classes without labels
        return prompts, Path("base"), "no model given"
    last = last_model_path()
    if last is None:
        raise ModelFileError(
            "no model to run: pass --model MODEL.hsigeo, name one under 'model:' in the prompts file, "
            "train one first with `hsigeo train`, or pass --prompts PROMPTS.yaml alone to map the scene "
            "with the built-in base model (label-free)."
        )
    return prompts, last, "the most recent `hsigeo train` output"


def _fitted_model(model: Any, model_path: Path, why: str, prompts: Any, prompts_path: Path | None) -> Any:
    """Say which model runs and why; re-anchor it to the prompts when they differ."""
    click.echo(f"Model: {model_path} ({why}); {len(model.classes)} classes, {model.n_bands} bands.", err=True)
    if prompts is not None and not _same_classes(model, prompts):
        if not hasattr(model, "with_prompts"):
            from hsigeo.errors import PromptError

            raise PromptError(
                f"{model_path}: this model was bound to its own prompts and cannot take the classes of "
                f"{prompts_path}; map them with the base model instead (--prompts {prompts_path} without --model).")
        model = model.with_prompts(prompts)
        click.echo(f"Classes: re-anchored to the {len(prompts)} classes of {prompts_path} "
                   f"({', '.join(prompts.names)}).", err=True)
    return model


def _base_model(base: Any, scene: Path, prompts: Any, prompts_path: Path | None, why: str, threshold: float | None,
                radiometry: str, adapt_scene: str = "auto") -> Any:
    """A base model bound to the scene's bands and the prompts (and adapted to the scene), with what to expect."""
    from hsigeo.errors import PromptError
    from hsigeo.io.raster import open_hsi

    if prompts is None:
        raise PromptError("the base model needs --prompts PROMPTS.yaml: its classes come from the words alone.")
    from hsigeo.model.adapt import AdaptedModel, adapt_if_wanted, describe

    # lazy without dask: the binding and the adaptation read small windows, and GDAL reads just those (a dask
    # chunk of 512 x 512 pixels with every band would be computed whole for each: 300 MB of an EMIT granule)
    da = open_hsi(scene)
    model = adapt_if_wanted(adapt_scene, base.for_scene(da, prompts, radiometry=radiometry), da, unknown=threshold)
    # the threshold is a share of seed pixels on an adapted map, a probability on the base model's own
    if not isinstance(model, AdaptedModel) and threshold is not None:
        model = model.with_threshold(threshold)
    adapted, unknown = "", f"pixels below probability {model.threshold:.2f} are left unknown (class 0)"
    if isinstance(model, AdaptedModel):
        adapted = f"; {describe(model)}"
        unknown = (f"pixels less typical of their class than all but {100 * model.threshold:g} % of its seed pixels "
                   "are left unknown (class 0)")
    click.echo(
        f"Model: the built-in base model ({why}): label-free, prompt-only mapping of the {len(prompts)} classes "
        f"of {prompts_path}; bands on its grid: {model.report['coverage']}; radiometry: {model.radiometry}; "
        f"{unknown}{adapted}.", err=True)
    click.echo(
        "Expect coarse land cover, not crop types; how well words alone map scenes, including the ones where they "
        "fail, is measured on several scenes in the README's zero-shot benchmark table. "
        "For better maps label a few pixels per class and train (the trained model builds on the base model): "
        "hsigeo train SCENE --labels LABELS --prompts PROMPTS.yaml -o MODEL.hsigeo.", err=True)
    return model


def _same_classes(model: Any, prompts: Any) -> bool:
    """Whether the prompts file describes exactly the model's classes (names, values and prompt texts)."""
    own = getattr(model, "prompts", None)
    if own is not None and hasattr(own, "classes"):
        return [(c.name, c.value, tuple(c.prompts)) for c in own.classes] == \
            [(c.name, c.value, tuple(c.prompts)) for c in prompts.classes]
    return [(c.name, c.value) for c in model.classes] == [(c.name, c.value) for c in prompts.classes]


def _report(result: Any, model: Any) -> None:
    """One summary line, the outputs, and the class areas."""
    if result.skipped:
        click.echo(f"Up to date: {result.out_path} was made by this model from this scene (--resume); "
                   "nothing recomputed.")
    else:
        click.echo(
            f"Classified {result.width} x {result.height} pixels ({result.n_valid:,} valid) in "
            f"{result.seconds:.1f} s, {result.pixels_per_second:,.0f} px/s on {result.device} "
            f"({result.n_windows} windows of {result.tile_size} px)."
        )
    written = {**(result.products or {"classes": result.out_path}), "polygons": result.vector_path}
    for label, path in written.items():
        if path is not None:
            click.echo(f"  {label:<13} {path}")
    names = {int(c.value): c.name for c in model.classes}
    total = max(result.n_valid, 1)
    for value, count in result.class_counts.items():
        click.echo(f"  {value:>5}  {names.get(value, '?'):<30} {count:>12,} px  {100 * count / total:5.1f} %")
