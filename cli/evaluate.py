"""``hsigeo evaluate``: accuracy report of a classification raster against reference labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("classes_path", metavar="CLASSES.tif", type=_FILE)
@click.option("--reference", "reference_path", type=click.Path(path_type=Path), required=True,
              help="Reference labels: a raster on the classification grid or a vector file (.gpkg/.shp/.geojson).")
@click.option("--label-field", default=None, help="Vector attribute holding the reference class (value or name).")
@click.option("--prompts", "prompts_path", type=_FILE, default=None,
              help="Prompts YAML naming the classes (default: the class table stored in CLASSES.tif).")
@click.option("--model", "model_path", type=_FILE, default=None,
              help="Take the class table from this model file instead.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Report folder to write (report.json, report.md, report.html, confusion.png, classmap.png).")
@click.option("--design", type=click.Choice(["stratified", "simple", "systematic"]), default=None,
              help="The reference is a labelled sample drawn with this design (`hsigeo sample`): report areas and "
                   "accuracies with 95 % intervals (default for a sample written by `hsigeo sample`: its design).")
@click.option("--strata", "strata_path", type=_FILE, default=None,
              help="Strata raster the stratified sample was drawn with (default: the map's classes).")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The mask the sample was drawn within (same as `hsigeo sample --mask`).")
@click.option("--fpc", is_flag=True,
              help="Apply the finite-population correction to the variances (default: the paper's formulas "
                   "without it).")
@click.option("--on-unknown", type=click.Choice(["error", "drop"]), default="error", show_default=True,
              help="Reference classes missing from the class table: stop with an error naming them, or leave "
                   "their pixels out of the assessment (they are listed).")
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
def evaluate(classes_path: Path, reference_path: Path, label_field: str | None, prompts_path: Path | None,
             model_path: Path | None, out_dir: Path, design: str | None, strata_path: Path | None,
             mask_path: Path | None, fpc: bool, on_unknown: str, overwrite: bool) -> None:
    """Compare CLASSES.tif (an `hsigeo classify` output) with reference labels.

    With a labelled sample (`hsigeo sample`, or --design): the error matrix in
    estimated area proportions, overall, user's and producer's accuracies and
    each class's area with 95 % confidence intervals beside its mapped area
    (Olofsson et al. 2014): report.json/.md/.html, area.png, error_matrix.png.

    With reference polygons or a label raster (benchmark splits): a pixel-level
    report of every labelled pixel (overall and average accuracy, Cohen's kappa,
    per-class accuracies, confusion matrix).  Unlabelled reference pixels (0)
    are ignored; labelled pixels classified as nodata (0) count as errors.
    """
    from hsigeo.filesafety import Output, guard_outputs
    from hsigeo.io.sample_layer import read_design_record

    if prompts_path is not None and model_path is not None:
        raise click.UsageError("--prompts and --model exclude each other.")
    sample_based = design is not None or read_design_record(reference_path) is not None
    if not sample_based and (strata_path is not None or mask_path is not None or fpc):
        raise click.UsageError("--strata, --mask and --fpc apply to a sample-based report; give --design too.")
    from hsigeo_cli.train import _REPORT_BYTES

    with guard_outputs([Output(out_dir, "-o", folder=True, reserve=_REPORT_BYTES)], overwrite=overwrite,
                       inputs=(prompts_path, model_path, mask_path),
                       rasters=(classes_path, reference_path, strata_path)):
        if sample_based:
            _evaluate_sample(classes_path, reference_path, label_field, prompts_path, model_path, out_dir, design,
                             strata_path, mask_path, fpc, overwrite)
        else:
            _evaluate(classes_path, reference_path, label_field, prompts_path, model_path, out_dir, overwrite,
                      on_unknown=on_unknown)


def _evaluate_sample(classes_path: Path, reference_path: Path, label_field: str | None, prompts_path: Path | None,
                     model_path: Path | None, out_dir: Path, design: str | None, strata_path: Path | None,
                     mask_path: Path | None, fpc: bool, overwrite: bool) -> None:
    """Sample-based report: areas and accuracies with intervals."""
    from hsigeo.evaluation.area.assess import assess_sample
    from hsigeo.evaluation.area.report import write_area_report
    from hsigeo.io.classmaps import read_class_table

    table = None
    if prompts_path is not None or model_path is not None:
        table = _class_table(None, prompts_path, model_path)
    report = assess_sample(classes_path, reference_path, design=design, strata=strata_path, mask=mask_path, fpc=fpc,
                           reference_field=label_field or "reference", classes=table)
    if table is None and not read_class_table(classes_path):
        click.echo("Warning: CLASSES.tif carries no class names; classes are shown by value.", err=True)
    write_area_report(report, out_dir, overwrite=overwrite, title=f"Accuracy and area of {classes_path.name}")
    est = report.estimates
    click.echo(f"{est.n:,} labelled points ({report.design}): overall accuracy "
               f"{100 * est.overall.value:.1f} ± {100 * est.overall.half_width:.1f} % (95 % CI)")
    click.echo(report.table_markdown())
    click.echo(f"Report: {out_dir}")


def _evaluate(classes_path: Path, reference_path: Path, label_field: str | None, prompts_path: Path | None,
              model_path: Path | None, out_dir: Path, overwrite: bool, *, on_unknown: str = "error") -> None:
    """The work of :func:`evaluate`, once its report folder is secured."""
    import numpy as np

    from hsigeo.classes import normalize_classes
    from hsigeo.evaluation.metrics import evaluate as run_evaluation
    from hsigeo.io.classmaps import read_classification
    from hsigeo.io.labels import read_labels

    predicted = read_classification(classes_path)
    classes = _class_table(predicted, prompts_path, model_path)
    reference = read_labels(reference_path, like=predicted, field=label_field, classes=classes or None,
                            on_unknown=on_unknown)
    dropped = getattr(reference.attrs.get("label_report"), "unknown", None)
    if dropped:
        click.echo(f"Left out the reference pixels of {len(dropped)} class(es) not in the class table: "
                   + ", ".join(repr(str(u)) for u in dropped[:10]) + (" ..." if len(dropped) > 10 else ""), err=True)
    pred = np.asarray(predicted.values)
    ref = np.asarray(reference.values)
    if not classes:
        classes = [(int(v), str(n)) for v, n in sorted(reference.attrs.get("class_names", {}).items())]
    report = run_evaluation(
        pred, ref, classes=normalize_classes(classes), out_dir=out_dir, overwrite=overwrite,
        title=f"Accuracy of {classes_path.name}",
        extra={"classification": str(classes_path), "reference": str(reference_path)},
    )
    click.echo(f"{report.n_samples:,} reference pixels: OA {100 * report.overall_accuracy:.2f} %, "
               f"AA {100 * report.average_accuracy:.2f} %, kappa {report.kappa:.4f}"
               + (f"; {report.n_other:,} classified as nodata/other" if report.n_other else ""))
    for row in report.per_class:
        acc = "n/a" if row["accuracy"] is None else f"{100 * row['accuracy']:6.2f} %"
        click.echo(f"  {row['value']:>5}  {row['name'][:30]:<30} {row['support']:>10,} px  {acc}")
    click.echo(f"Report: {out_dir}")


def _class_table(predicted: Any | None, prompts_path: Path | None, model_path: Path | None) -> list[Any]:
    """Class entries (value, name, colour) from the prompts, the model, or the raster's own table."""
    if prompts_path is not None:
        from hsigeo.text.prompts import load_prompts

        return list(load_prompts(prompts_path).classes)
    if model_path is not None:
        from hsigeo.model.modelfile import read_metadata

        return [(int(c["value"]), str(c["name"]), tuple(c["colour"])) for c in read_metadata(model_path)["classes"]]
    names = predicted.attrs.get("class_names") or {}
    colours = predicted.attrs.get("class_colours") or {}
    return [(int(v), str(n), colours.get(v)) for v, n in sorted(names.items())]
