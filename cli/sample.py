"""``hsigeo sample``: a reference sample of a class map, as points to label in QGIS."""

from __future__ import annotations

from pathlib import Path

import click

_FILE = click.Path(dir_okay=False, path_type=Path)


def _accuracies(text: str | None) -> list[float] | float:
    if text is None:
        return 0.85
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: give a number or comma-separated numbers in (0, 1).") from exc
    return values[0] if len(values) == 1 else values


@click.command()
@click.argument("classes_path", metavar="CLASSES.tif", type=_FILE)
@click.option("-o", "--output", "output", type=_FILE, required=True, help="Sample points to write (.gpkg).")
@click.option("--n", "n_points", type=click.IntRange(min=1), default=None,
              help="Total number of points (default: from --target-se).")
@click.option("--target-se", type=click.FloatRange(min=0, max=0.5, min_open=True, max_open=True), default=0.01,
              show_default=True,
              help="Standard error of the overall accuracy to aim at; sets the size (Olofsson et al. 2014, eq. 13).")
@click.option("--expected-accuracy", default=None,
              help="User's accuracy expected of each class: one value, or one per stratum in value order "
                   "(default 0.85). Used by --target-se and --allocation neyman.")
@click.option("--ua-se", type=click.FloatRange(min=0, max=0.5, min_open=True, max_open=True), default=None,
              help="Standard error wanted for each class's user's accuracy: raises each stratum's minimum to "
                   "U (1 - U) / SE^2 points (U: --expected-accuracy).")
@click.option("--allocation", type=click.Choice(["proportional", "equal", "neyman"]), default="proportional",
              show_default=True, help="How points are shared among the strata (before the minimum).")
@click.option("--min-per-class", type=click.IntRange(min=0), default=50, show_default=True,
              help="Smallest number of points per stratum (rare classes need it for a usable user's accuracy).")
@click.option("--design", type=click.Choice(["stratified", "simple", "systematic"]), default="stratified",
              show_default=True, help="Stratified random (by map class or --strata), simple random, or systematic.")
@click.option("--strata", "strata_path", type=_FILE, default=None,
              help="Raster of strata on the map's grid (default: the map's classes).")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sample only inside these polygons (or a raster on the map's grid, non-zero = inside).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (the same seed gives the same points).")
@click.option("--prompts", "prompts_path", type=_FILE, default=None,
              help="Prompts YAML naming the classes (default: the class table stored in CLASSES.tif).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output written by hsigeo.")
def sample(classes_path: Path, output: Path, n_points: int | None, target_se: float, expected_accuracy: str | None,
           ua_se: float | None, allocation: str, min_per_class: int, design: str, strata_path: Path | None, mask_path: Path | None,
           seed: int, prompts_path: Path | None, overwrite: bool) -> None:
    """Draw a reference sample of CLASSES.tif and write it as points to label.

    Each point sits at the centre of a sampled pixel, with its stratum, map class
    and name, and an empty `reference` field to fill in (in QGIS the field offers
    the class names).  Pixels of class 0, nodata and outside --mask are never
    drawn.  Then label the points and run `hsigeo evaluate CLASSES.tif --reference
    OUTPUT.gpkg -o REPORT/` for areas and accuracies with confidence intervals.
    """
    from hsigeo.filesafety import Output, guard_outputs

    if strata_path is not None and design != "stratified":
        raise click.UsageError("--strata applies to --design stratified only.")
    with guard_outputs([Output(output, "-o")], overwrite=overwrite, inputs=(prompts_path, mask_path),
                       rasters=(classes_path, strata_path)):
        _sample(classes_path, output, n_points, target_se, _accuracies(expected_accuracy), ua_se, allocation,
                min_per_class, design, strata_path, mask_path, seed, prompts_path, overwrite)


def _sample(classes_path: Path, output: Path, n_points: int | None, target_se: float,
            expected: list[float] | float, ua_se: float | None, allocation: str, min_per_class: int, design: str,
            strata_path: Path | None, mask_path: Path | None, seed: int, prompts_path: Path | None,
            overwrite: bool) -> None:
    """The work of :func:`sample`, once the output is secured."""
    import warnings

    from hsigeo.io.classmaps import read_class_table
    from hsigeo.io.sample_layer import write_sample_layer
    from hsigeo.sampling.design import allocate, class_sample_size, draw_sample, sample_size, scan_population

    if prompts_path is not None:
        from hsigeo.text.prompts import load_prompts

        table = list(load_prompts(prompts_path).classes)
    else:
        table = read_class_table(classes_path)
    names = {e.value: e.name for e in table}
    pop = scan_population(classes_path, strata=strata_path, mask=mask_path)
    strata_names = ([f"{v} {names.get(int(v), f'class {v}')}" for v in pop.strata] if pop.strata_are_map
                    else [f"stratum {v}" for v in pop.strata])
    if isinstance(expected, list) and len(expected) != pop.strata.size:
        raise click.BadParameter(f"{len(expected)} values for {pop.strata.size} strata "
                                 f"({', '.join(strata_names)}); give one value or one per stratum.",
                                 param_hint="--expected-accuracy")
    how = f"--n {n_points}"
    if n_points is None:
        n_points = sample_size(pop.weights, expected, target_se)
        how = f"standard error {target_se:g} of the overall accuracy, expected user's accuracy {expected}"
    allocated = {}
    minimum: int | list[int] = min_per_class
    if ua_se is not None:
        per = expected if isinstance(expected, list) else [expected] * pop.strata.size
        minimum = [max(min_per_class, class_sample_size(u, ua_se)) for u in per]
    if design == "stratified":
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # each run says it, even in one Python session
            counts = allocate(pop.stratum_pixels, n_points, allocation=allocation, min_per_stratum=minimum,
                              expected_accuracy=expected, names=strata_names)
        allocated = {int(v): int(k) for v, k in zip(pop.strata, counts, strict=True)}
        drawn = draw_sample(pop, allocated, design="stratified", seed=seed, allocation=allocation)
    else:
        drawn = draw_sample(pop, n_points, design=design, seed=seed)
    x, y = drawn.xy()
    write_sample_layer(output, x, y, stratum=drawn.stratum, map_class=drawn.map_class,
                       classes=table or [(int(v), f"class {v}") for v in pop.classes], crs=pop.crs,
                       record=drawn.record(), overwrite=overwrite)
    click.echo(f"{len(drawn):,} points ({design}; size from {how}) of {pop.n_pixels:,} px:")
    for k, v in enumerate(pop.strata):
        got = int((drawn.stratum == v).sum())
        click.echo(f"  {strata_names[k][:36]:<36} {int(pop.stratum_pixels[k]):>12,} px  {got:>6,} points")
    click.echo(f"Sample: {output}")
    click.echo("Next: label the 'reference' field of each point, then run "
               f"`hsigeo evaluate {classes_path.name} --reference {output.name} -o REPORT/`.")
