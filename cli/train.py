"""``hsigeo train``: train a prompt-anchored model on a scene (or a benchmark dataset) and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_FILE = click.Path(dir_okay=False, path_type=Path)
_ANY = click.Path(path_type=Path)
# disk room checked before training (an order of magnitude, not a measure): a model file, a report folder
_MODEL_BYTES = 512 * 1024
_REPORT_BYTES = 512 * 1024


@click.command()
@click.argument("scene", type=_ANY, required=False)
@click.option("--labels", "labels_path", type=_ANY, default=None,
              help="Training labels: a raster on the scene grid or a vector file (.gpkg/.shp/.geojson).")
@click.option("--label-field", default=None, help="Vector attribute holding the class (value or name).")
@click.option("--prompts", "prompts_path", type=_FILE, default=None,
              help="Prompts YAML naming the classes (values, colours, descriptive prompts). "
                   "Default with --dataset: the prompts shipped for it.")
@click.option("--dataset", default=None, help="Train on a benchmark scene instead of SCENE (e.g. salinas-a).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the benchmark .mat files. Default, the first that exists: $HSIGEO_DATA_DIR, "
                   "./shared/datasets and ../shared/datasets from the working folder, then shared/datasets "
                   "beside the hsigeo source folder.")
@click.option("-o", "--output", type=_FILE, required=True, help="Model file to write (MODEL.hsigeo).")
@click.option("--train-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Train on this share of each class's labelled pixels (at least one each); the rest are "
                   "the test set of the report. Default: all labels for SCENE, 0.05 for --dataset.")
@click.option("--train-count", type=click.IntRange(min=1), default=None,
              help="Train on this many pixels per class instead of a fraction.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs (default: the library default).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Patches per training step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Peak learning rate.")
@click.option("--loss", type=click.Choice(["hard_negative", "softmax"]), default=None,
              help="Contrastive loss: hard + semi-hard negatives (default) or all classes.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Share of each class's training pixels held out to pick the best epoch (default 0.1; "
                   "classes with fewer than 10 such pixels keep all for training; 0 = no validation).")
@click.option("--smooth-radius", type=click.IntRange(0, 16), default=None,
              help="Radius of the edge-aware probability filter the model applies at inference "
                   "(default 2; 0 = per-pixel map, no filter).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for training (default: torch's choice). On a busy machine 1 is often faster.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split and the training.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto = CUDA with mixed precision when available, else CPU.")
@click.option("--text-model", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local transformers folder of the frozen text encoder (default: all-MiniLM-L6-v2).")
@click.option("--on-unknown", type=click.Choice(["error", "drop"]), default="error", show_default=True,
              help="Label classes missing from the prompts: stop with an error naming them, or leave their "
                   "samples out (they are listed).")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Accuracy report folder (default: beside the model, MODEL_report/).")
@click.option("--init", "init", type=click.Choice(["auto", "scratch", "base"]), default="auto", show_default=True,
              help="base: the network also sees each pixel's embedding by the built-in base model (pretrained "
                   "on spectral libraries; 64 frozen input channels); needs band wavelengths. scratch: the bands "
                   "only. auto: base when the scene has wavelengths in 400-2450 nm, else scratch.")
# the default is hsigeo.model.training.DEFAULT_METHOD (written out: this module loads without torch)
@click.option("--method", type=click.Choice(["auto", "net", "svm", "ensemble"]), default="ensemble",
              show_default=True,
              help="What to train: net (the spectral-spatial network), svm (an RBF SVM on each pixel's spectrum, "
                   "then the edge-aware filter), ensemble (both and a small patch CNN, probabilities averaged with each "
                   "member weighted by its confidence at the pixel, then the filter; the SVM of svm and ensemble is refitted once "
                   "with the scene's most confidently mapped pixels, printed and stored in the report) or auto "
                   "(the best of the three by cross-validation on the training pixels; printed and stored in the "
                   "model's report). An svm or ensemble model cannot be re-anchored to other prompts at "
                   "classify time; use net for that.")
@click.option("--cnn-member/--no-cnn-member", default=True, show_default=True,
              help="ensemble (and auto): a third member, a small patch CNN (9 x 9 patches of 15 PCA components), "
                   "fused with the network and the SVM. What it gives and costs, measured: README, 'Few labels on "
                   "scenes nobody tuned on', sixth round.")
@click.option("--filter-rule", type=click.Choice(["separable", "dense", "training"]), default=None,
              help="How an ensemble chooses its filter: separable (default: where the SVM's cross-validated "
                   "accuracy reaches 90 %, none if the median class has at least 50 training pixels, else 3 x 3; "
                   "else 5 x 5), dense (none wherever the median class has at least 50 training pixels, else as "
                   "separable) or training (the widest filter that relabels at most 1 point of the training "
                   "pixels). Printed and stored in the report.")
@click.option("--fold-check/--no-fold-check", default=True, show_default=True,
              help="ensemble: where the filter rule keeps a filter, check it on the training pixels (SVM and CNN "
                   "fitted on each half, the other half scored with and without it) and drop it when the maps are "
                   "better without (exact McNemar test, p < 0.05). Printed and stored in the report; measured: "
                   "README, 'Few labels on scenes nobody tuned on', ninth round.")
@click.option("--member-check/--no-member-check", default=False, show_default=True,
              help="ensemble: check its SVM and CNN on the training pixels (each fitted on one half, the other half "
                   "scored) and leave one out where the other alone beats the two together (exact McNemar test, "
                   "p < 0.05). Off by default: its measured gain, mostly on block-shaped scenes, fell short of its rule; "
                   "README, 'Few labels on scenes nobody tuned on', tenth round.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model file and report folder.")
def train(scene: Path | None, labels_path: Path | None, label_field: str | None, prompts_path: Path | None,
          dataset: str | None, data_dir: Path | None, output: Path, train_fraction: float | None,
          train_count: int | None, epochs: int | None, batch_size: int | None, lr: float | None,
          loss: str | None, val_fraction: float | None, smooth_radius: int | None, threads: int | None, seed: int,
          device: str, text_model: Path | None, on_unknown: str, report_dir: Path | None, init: str,
          method: str | None, cnn_member: bool, filter_rule: str | None, fold_check: bool, member_check: bool,
          overwrite: bool) -> None:
    """Train a model on SCENE with --labels and --prompts, or on a benchmark --dataset.

    SCENE is a raster file or a sensor product as downloaded (its file,
    metadata XML, folder or zip; see the README's "Sensor products").

    Writes MODEL.hsigeo (weights + metadata, no pickle) and a report folder
    (report.json, report.md, report.html, confusion.png, classmap.png,
    training_curve.png).  With --train-fraction/--train-count the report scores
    the held-out labelled pixels; otherwise it scores the training pixels
    themselves, which flatters the model.  The model becomes the default of
    `hsigeo classify`.
    """
    from hsigeo.filesafety import Output, guard_outputs

    if (scene is None) == (dataset is None):
        raise click.UsageError("give either SCENE (with --labels and --prompts) or --dataset NAME.")
    if train_fraction is not None and train_count is not None:
        raise click.UsageError("--train-fraction and --train-count exclude each other.")
    report_dir = report_dir or output.with_name(output.stem + "_report")
    outputs = [Output(output, "-o", (".hsigeo",), reserve=_MODEL_BYTES),
               Output(report_dir, "--report-dir", folder=True, reserve=_REPORT_BYTES)]
    # outputs checked (not an input, writable, room on the disk, free) and locked before the data is read and
    # the model trained; the text model's folder is an input too
    with guard_outputs(outputs, overwrite=overwrite, inputs=(prompts_path, text_model), rasters=(scene, labels_path)):
        _train(scene, labels_path, label_field, prompts_path, dataset, data_dir, output, train_fraction,
               train_count, epochs, batch_size, lr, loss, seed, device, text_model, report_dir, overwrite,
               val_fraction=val_fraction, threads=threads, init=init, smooth_radius=smooth_radius,
               on_unknown=on_unknown, method=method, cnn_member=cnn_member, filter_rule=filter_rule,
               fold_check=fold_check, member_check=member_check)


def _train(scene: Path | None, labels_path: Path | None, label_field: str | None, prompts_path: Path | None,
           dataset: str | None, data_dir: Path | None, output: Path, train_fraction: float | None,
           train_count: int | None, epochs: int | None, batch_size: int | None, lr: float | None,
           loss: str | None, seed: int, device: str, text_model: Path | None, report_dir: Path,
           overwrite: bool, *, val_fraction: float | None, threads: int | None, init: str = "scratch",
           smooth_radius: int | None = None, on_unknown: str = "error", method: str | None = None,
           cnn_member: bool = True, filter_rule: str | None = None, fold_check: bool = True,
           member_check: bool = False) -> None:
    """The work of :func:`train`, once its outputs are secured."""
    import numpy as np

    from hsigeo.errors import LabelError

    cube, labels, prompts, title = _inputs(scene, labels_path, label_field, prompts_path, dataset, data_dir,
                                             on_unknown=on_unknown)
    if dataset is not None and train_fraction is None and train_count is None:
        train_fraction = 0.05
    lab = np.asarray(labels.values)
    valid_labels = lab > 0
    if train_fraction is not None or train_count is not None:
        from hsigeo.sampling.splits import stratified_split

        train_mask, test_mask = stratified_split(lab, fraction=train_fraction, count=train_count, seed=seed)
        scored = "held-out labelled pixels"
        if not test_mask.any():
            split = f"--train-fraction {train_fraction}" if train_fraction is not None else f"--train-count {train_count}"
            raise LabelError(
                f"{labels_path or title}: {split} leaves no labelled pixel to test ({int(valid_labels.sum())} labelled "
                "pixels, every class needs at least one for training); the accuracy would be undefined. Use a smaller "
                "--train-fraction / --train-count, or more labels."
            )
    else:
        train_mask, test_mask = valid_labels, valid_labels
        scored = "training pixels (no held-out set: optimistic)"

    from hsigeo_cli.state import remember_model

    from hsigeo.estimator import HsigeoClassifier
    from hsigeo.evaluation.metrics import evaluate

    options: dict[str, Any] = {"seed": seed}
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("loss", loss),
                       ("val_fraction", val_fraction), ("smooth_radius", smooth_radius), ("init", init),
                       ("method", method), ("filter_rule", filter_rule), ("cnn_member", cnn_member)):
        if value is not None:
            options[key] = value
    if not fold_check:
        options["fold_test"] = None
    if member_check:
        options["member_test"] = 0.05
    n_train = int(train_mask.sum())
    click.echo(f"Training on {n_train:,} labelled pixels of {title} ({len(prompts)} classes).",
               err=True)
    from hsigeo.device import torch_threads

    clf = HsigeoClassifier(device=device, progress=True, text_model=str(text_model) if text_model else None,
                           **options)
    with torch_threads(threads):
        clf.fit(cube, labels, prompts, train_mask=train_mask)
    path = clf.save(output, overwrite=overwrite)
    remember_model(path)

    model, report = clf.model_, clf.report_
    predicted = _predict_for_report(clf, cube, test_mask)
    counts = model.n_parameters()
    used = report.config.get("method_used", "net")
    chosen = (model.report or {}).get("selection")
    selftrained = (model.report or {}).get("self_training")
    filtered = (model.report or {}).get("spatial_filter")
    cnn_member = (model.report or {}).get("cnn")
    members = (model.report or {}).get("members")
    extra = {
        "model": str(path), "scene": title, "scored": scored, "train_pixels": n_train,
        "test_pixels": int(test_mask.sum()), "seed": seed, "train_seconds": round(report.train_seconds, 1),
        "trainable_parameters": counts["trainable"], "total_parameters": counts["total"],
        "trainable_share": f"{100 * counts['trainable'] / max(counts['total'], 1):.3f} %",
        "device": report.device, "config": report.config, "method": used,
        **({"method_selection": chosen} if chosen else {}),
        **({"self_training": selftrained} if selftrained else {}),
        **({"spatial_filter": filtered} if filtered else {}),
        **({"cnn_member": cnn_member} if cnn_member else {}),
        **({"members": members} if members else {}),
    }
    acc = evaluate(predicted, lab, classes=model.classes, mask=test_mask, out_dir=report_dir,
                   overwrite=overwrite, title=f"hsigeo model on {title}", history=report.history, extra=extra)
    how = (f" (chosen by --method auto: {_cv_text(chosen)})" if chosen else "")
    if used == "ensemble":
        how += f"; {report.config.get('fusion', 'mean')} fusion"
        if cnn_member:
            how += "; with a patch CNN member" if cnn_member["used"] else f"; no CNN member ({cnn_member['why']})"
        if members and members["left_out"] == "svm":  # a CNN left out says so in its own record
            how += "; the SVM left out by the member check"
    if filtered and filtered.get("radius", 2) != report.config.get("smooth_radius", 2):
        r = filtered.get("radius", 0)
        how += f"; spatial filter {f'{2 * r + 1} x {2 * r + 1}' if r else 'off'} ({filtered['rule']})"
    if selftrained:
        how += (f"; SVM self-trained with {selftrained['n_added']} confidently mapped pixels "
                f"(at most {selftrained['factor']:g}x each class's training pixels)")
    click.echo(f"Method: {used}{how}")
    click.echo(f"Model: {path}  ({counts['trainable']:,} trainable parameters = "
               f"{100 * counts['trainable'] / max(counts['total'], 1):.2f} % of {counts['total']:,} "
               f"with the frozen text model; trained in {report.train_seconds:.1f} s on {report.device})")
    click.echo(f"Accuracy on {acc.n_samples:,} {scored}: OA {100 * acc.overall_accuracy:.2f} %, "
               f"AA {100 * acc.average_accuracy:.2f} %, kappa {acc.kappa:.4f}")
    click.echo(f"Report: {report_dir}")


def _cv_text(selection: dict[str, Any]) -> str:
    """One line of the automatic choice: each candidate's cross-validated accuracy."""
    acc = ", ".join(f"{k} {100 * v:.1f} %" for k, v in selection["cv_accuracy"].items() if v is not None)
    return f"{selection['folds']}-fold cross-validation on {selection['n_scored']} training pixels: {acc}"


def _inputs(scene: Path | None, labels_path: Path | None, label_field: str | None, prompts_path: Path | None,
            dataset: str | None, data_dir: Path | None, *, on_unknown: str = "error"
            ) -> tuple[Any, Any, Any, str]:
    """(cube DataArray, labels DataArray, PromptSet, description) from the command line."""
    from hsigeo.text.prompts import load_prompts

    if dataset is not None:
        from hsigeo.datasets.scenes import load_dataset

        if labels_path is not None:
            raise click.UsageError("--labels goes with SCENE; --dataset brings its own labels.")
        ds = load_dataset(dataset, data_dir=data_dir)
        prompts = load_prompts(prompts_path or ds.prompts_path)
        return ds.cube, ds.labels, prompts, ds.name
    if labels_path is None or prompts_path is None:
        raise click.UsageError("training on SCENE needs --labels and --prompts.")
    from hsigeo.io.labels import read_labels
    from hsigeo.io.raster import open_hsi

    prompts = load_prompts(prompts_path)
    da = open_hsi(scene)
    labels = read_labels(labels_path, like=da, field=label_field, classes=prompts, on_unknown=on_unknown)
    rep = labels.attrs.get("label_report")
    if rep is not None and hasattr(rep, "summary"):
        click.echo(rep.summary(), err=True)
    return da, labels, prompts, str(scene)


def _predict_for_report(clf: Any, cube: Any, mask: Any) -> Any:
    """Predicted class values: the whole map for small scenes, else only at the scored pixels."""
    import numpy as np

    h, w = cube.shape[1:]
    if h * w <= 4_000_000:
        return np.asarray(clf.predict(cube))
    from hsigeo.model.train_data import scene_array

    arr, _, nodata, _ = scene_array(cube)  # the nodata value the whole-scene map is given
    rows, cols = np.nonzero(mask)
    out = np.zeros((h, w), dtype=np.int32)
    values, _ = clf.model_.predict_pixels(arr, rows, cols, nodata=nodata)
    out[rows, cols] = values
    return out
