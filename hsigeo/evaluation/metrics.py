"""Pixel-level accuracy: confusion matrix, OA, AA, Cohen's kappa, per-class accuracies, reports and plots.

The scores are scikit-learn's (:mod:`sklearn.metrics`); the functions that take a confusion
matrix hand its cells to scikit-learn as weighted samples.  This report counts labelled
pixels (benchmark splits); a map's class areas and accuracies with confidence intervals come
from a probability sample (:mod:`hsigeo.evaluation.area`).

Conventions: the confusion matrix has reference classes in rows and predicted classes in
columns.  Pixels whose reference is ``0`` (unlabelled) are ignored.  A labelled pixel predicted
as ``0`` (unclassified / nodata) or as a value outside the class list counts as an error, in
an extra "other" column.

Plots use matplotlib's object API with the Agg canvas (imported only when a plot is drawn), so
no global backend is switched and no display is needed.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError
from hsigeo.filesafety import atomic_folder, json_safe

__all__ = [
    "confusion_matrix",
    "overall_accuracy",
    "average_accuracy",
    "kappa",
    "per_class_accuracy",
    "AccuracyReport",
    "accuracy_report",
    "evaluate",
    "plot_confusion",
    "plot_class_map",
    "plot_training_curve",
]


# --------------------------------------------------------------------------- #
# Scores from a confusion matrix
# --------------------------------------------------------------------------- #
#: Stands for "unclassified or unknown" among predicted values (never a class value: those are >= 0).
_OTHER = -1


def confusion_matrix(reference: np.ndarray, predicted: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """Counts ``(C, C + 1)``: rows = reference ``values``, columns = predicted ``values`` + "other".

    Pixels whose reference is not in ``values`` are ignored.  Counting is
    scikit-learn's :func:`sklearn.metrics.confusion_matrix`; predictions outside
    ``values`` (unclassified 0, unknown values) go to the "other" column.
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    ref = np.asarray(reference).ravel()
    pred = np.asarray(predicted).ravel()
    if ref.shape != pred.shape:
        raise InvalidInputError(f"reference {np.shape(reference)} and predicted {np.shape(predicted)} differ in shape")
    values = np.asarray(list(values), dtype=np.int64)
    c = values.size
    keep = np.isin(ref, values)
    if c == 0 or not keep.any():
        return np.zeros((c, c + 1), dtype=np.int64)
    ref = ref[keep].astype(np.int64)
    pred = pred[keep].astype(np.int64)  # before the "other" marker: a uint8 map would wrap -1 to 255
    pred = np.where(np.isin(pred, values), pred, _OTHER)
    labels = [*values.tolist(), _OTHER]
    return sk_confusion_matrix(ref, pred, labels=labels)[:c].astype(np.int64)


def _cells(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix as scikit-learn input: (reference index, predicted index, count) of its non-empty cells."""
    rows, cols = np.nonzero(cm)
    return rows, cols, np.asarray(cm, dtype=np.float64)[rows, cols]


def overall_accuracy(cm: np.ndarray) -> float:
    """Share of correctly classified samples (diagonal / total; :func:`sklearn.metrics.accuracy_score`)."""
    from sklearn.metrics import accuracy_score

    ref, pred, weight = _cells(np.asarray(cm))
    return float(accuracy_score(ref, pred, sample_weight=weight)) if weight.sum() else float("nan")


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Producer's accuracy (recall) per reference class; NaN for classes without samples."""
    return _per_class(cm, "recall")


def _per_class(cm: np.ndarray, score: str) -> np.ndarray:
    """scikit-learn's per-class ``recall`` or ``precision`` of the reference classes; NaN when undefined."""
    from sklearn.metrics import precision_score, recall_score

    cm = np.asarray(cm)
    c = cm.shape[0]
    ref, pred, weight = _cells(cm)
    if c == 0 or weight.sum() == 0:
        return np.full(c, np.nan)
    fn = {"recall": recall_score, "precision": precision_score}[score]
    return np.asarray(fn(ref, pred, labels=list(range(c)), average=None, sample_weight=weight,
                         zero_division=np.nan), dtype=np.float64)


def average_accuracy(cm: np.ndarray) -> float:
    """Mean of the per-class accuracies over classes that have reference samples."""
    acc = per_class_accuracy(cm)
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")


def kappa(cm: np.ndarray) -> float:
    """Cohen's kappa, ``(p_o - p_e) / (1 - p_e)`` (:func:`sklearn.metrics.cohen_kappa_score`).

    The "other" column counts as a prediction class of its own that no
    reference pixel has, so it lowers ``p_o`` and adds nothing to ``p_e``.
    """
    from sklearn.metrics import cohen_kappa_score

    cm = np.asarray(cm)
    ref, pred, weight = _cells(cm)
    if weight.sum() == 0:
        return float("nan")
    if np.unique(np.concatenate([ref, pred])).size == 1:
        return 1.0  # one class, all agree: p_e = 1 (scikit-learn returns NaN there)
    return float(cohen_kappa_score(ref, pred, labels=list(range(cm.shape[1])), sample_weight=weight))


# --------------------------------------------------------------------------- #
# Report
# --------------------------------------------------------------------------- #
#: What this report is: the sample-based report (:mod:`hsigeo.evaluation.area`) says its own kind.
PIXEL_LEVEL = ("pixel-level: every labelled reference pixel counted, for benchmark splits; it estimates neither "
               "class areas nor accuracy with intervals (for a map, use `hsigeo sample` and "
               "`hsigeo evaluate --design`)")

@dataclass
class AccuracyReport:
    """Accuracy of a classification against reference labels.

    Attributes
    ----------
    values, names
        The classes (label values and names), in matrix order.
    confusion
        ``(C, C + 1)`` counts; rows reference, columns predicted, last column "other"
        (unclassified or a value outside the class list).
    overall_accuracy, average_accuracy, kappa
        The summary scores (fractions in 0..1).
    colours
        Optional ``{value: (r, g, b)}`` for plots.
    """

    values: list[int]
    names: list[str]
    confusion: np.ndarray
    overall_accuracy: float
    average_accuracy: float
    kappa: float
    colours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of assessed (labelled) samples."""
        return int(self.confusion.sum())

    @property
    def n_other(self) -> int:
        """Labelled samples predicted as unclassified or an unknown value."""
        return int(self.confusion[:, -1].sum())

    @property
    def per_class(self) -> list[dict[str, Any]]:
        """Per class: value, name, support, producer's accuracy (recall), user's accuracy (precision), F1."""
        cm = self.confusion
        recall = per_class_accuracy(cm)
        precision = _per_class(cm, "precision")
        # F1 from the two, undefined (not 0) when either is: a class never predicted has no F1 in this report
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where((precision + recall) > 0, 2 * precision * recall / (precision + recall), np.nan)
        return [
            {"value": int(v), "name": n, "support": int(cm[i].sum()), "accuracy": _f(recall[i]),
             "user_accuracy": _f(precision[i]), "f1": _f(f1[i])}
            for i, (v, n) in enumerate(zip(self.values, self.names, strict=True))
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (NaN -> None)."""
        return {
            "kind": PIXEL_LEVEL,
            "overall_accuracy": _f(self.overall_accuracy),
            "average_accuracy": _f(self.average_accuracy),
            "kappa": _f(self.kappa),
            "n_samples": self.n_samples,
            "n_unclassified_or_other": self.n_other,
            "classes": self.per_class,
            "confusion_matrix": {
                "rows": "reference (in 'classes' order)",
                "columns": "predicted (in 'classes' order), then 'other'",
                "counts": self.confusion.tolist(),
            },
            **({"extra": json_safe(self.extra)} if self.extra else {}),
        }

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self, title: str = "Accuracy report") -> str:
        """The report as a Markdown document: summary scores, per-class table, confusion matrix."""
        lines = [f"# {title}", "", f"*{PIXEL_LEVEL}.*", ""]
        lines += [
            "| metric | value |", "| --- | ---: |",
            f"| overall accuracy (OA) | {_pct(self.overall_accuracy)} |",
            f"| average accuracy (AA) | {_pct(self.average_accuracy)} |",
            f"| Cohen's kappa | {_num(self.kappa)} |",
            f"| assessed pixels | {self.n_samples:,} |",
        ]
        if self.n_other:
            lines.append(f"| unclassified / other | {self.n_other:,} |")
        lines += ["", "## Per class", "", "| value | class | pixels | accuracy (producer's) | user's accuracy | F1 |",
                  "| ---: | --- | ---: | ---: | ---: | ---: |"]
        for row in self.per_class:
            lines.append(f"| {row['value']} | {_md(row['name'])} | {row['support']:,} | {_pct(row['accuracy'])} | "
                         f"{_pct(row['user_accuracy'])} | {_num(row['f1'])} |")
        c = len(self.values)
        show_other = self.n_other > 0
        head = [str(v) for v in self.values] + (["other"] if show_other else [])
        lines += ["", "## Confusion matrix (rows: reference, columns: predicted)", "",
                  "| reference \\ predicted | " + " | ".join(head) + " |",
                  "| --- |" + " ---: |" * len(head)]
        for i, v in enumerate(self.values):
            cells = self.confusion[i, : c + (1 if show_other else 0)]
            lines.append(f"| {v} {_md(self.names[i])} | " + " | ".join(f"{int(x):,}" for x in cells) + " |")
        if self.extra:
            lines += ["", "## Details", ""] + [f"- {k}: {v}" for k, v in json_safe(self.extra).items()
                                               if not isinstance(v, (dict, list))]
        return "\n".join(lines) + "\n"

    def to_html(self, title: str = "Accuracy report", images: Sequence[str] = ()) -> str:
        """A small stand-alone HTML page (tables + the given image files, by relative name)."""
        rows = "".join(
            f"<tr><td>{r['value']}</td><td>{html.escape(r['name'])}</td><td>{r['support']}</td>"
            f"<td>{_pct(r['accuracy'])}</td><td>{_pct(r['user_accuracy'])}</td><td>{_num(r['f1'])}</td></tr>"
            for r in self.per_class
        )
        imgs = "".join(f'<p><img src="{html.escape(i)}" style="max-width:100%"></p>' for i in images)
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
            "td:nth-child(n+3){text-align:right}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p><i>{html.escape(PIXEL_LEVEL)}</i></p><p>OA <b>{_pct(self.overall_accuracy)}</b> &middot; "
            f"AA {_pct(self.average_accuracy)} &middot; kappa {_num(self.kappa)} &middot; "
            f"{self.n_samples:,} pixels</p><table><tr><th>value</th><th>class</th><th>pixels</th>"
            f"<th>accuracy</th><th>user's acc.</th><th>F1</th></tr>{rows}</table>{imgs}</body></html>"
        )


def accuracy_report(
    predicted: np.ndarray,
    reference: np.ndarray,
    *,
    classes: Mapping[int, str] | Sequence[Any] | None = None,
    mask: np.ndarray | None = None,
    colours: Mapping[int, Sequence[int]] | None = None,
) -> AccuracyReport:
    """Compare predicted class values with reference labels.

    Parameters
    ----------
    predicted
        Predicted class values (any shape; ``0`` = unclassified).
    reference
        Reference labels of the same shape (``0`` = unlabelled, ignored).
    classes
        ``{value: name}``, or a sequence of objects with ``value``/``name`` (and optionally
        ``colour``) such as a prompt set's classes or a model's ``classes``.  Default: the
        values present in the reference, named ``class <value>``.
    mask
        Optional boolean array: only these pixels are assessed (e.g. the test set).
    colours
        ``{value: (r, g, b)}`` for plots (taken from ``classes`` when they carry colours).
    """
    ref = np.asarray(reference)
    pred = np.asarray(predicted)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        ref = np.where(m, ref, 0)
    values, names, cols = _class_table(classes, ref)
    if colours:
        cols.update({int(k): tuple(int(x) for x in v) for k, v in colours.items()})
    cm = confusion_matrix(ref, pred, values)
    return AccuracyReport(values, names, cm, overall_accuracy(cm), average_accuracy(cm), kappa(cm), cols)


def evaluate(
    predicted: np.ndarray,
    reference: np.ndarray,
    *,
    classes: Mapping[int, str] | Sequence[Any] | None = None,
    mask: np.ndarray | None = None,
    colours: Mapping[int, Sequence[int]] | None = None,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    title: str = "Accuracy report",
    history: Mapping[str, Sequence[float]] | None = None,
    extra: Mapping[str, Any] | None = None,
    plots: bool = True,
) -> AccuracyReport:
    """Assess a classification and optionally write the report folder.

    Parameters
    ----------
    predicted, reference, classes, mask, colours
        As in :func:`accuracy_report`.
    out_dir
        When given, written atomically with ``report.json``, ``report.md``, ``report.html``
        and, with ``plots``, ``confusion.png``, ``classmap.png`` (2-D inputs) and
        ``training_curve.png`` (when ``history`` is given).
    overwrite
        Replace an existing ``out_dir``.
    title
        Report title.
    history
        Per-epoch training curves (``TrainReport.history``) to plot.
    extra
        More facts to record (model, split, timings...), JSON-able.
    plots
        Draw the PNG figures.

    Returns
    -------
    AccuracyReport
    """
    report = accuracy_report(predicted, reference, classes=classes, mask=mask, colours=colours)
    if extra:
        report.extra.update(extra)
    if out_dir is None:
        return report
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:
        (tmp / "report.json").write_text(report.to_json(), encoding="utf-8")
        (tmp / "report.md").write_text(report.to_markdown(title), encoding="utf-8")
        images = []
        if plots:
            plot_confusion(report, tmp / "confusion.png")
            images.append("confusion.png")
            pred, ref = np.asarray(predicted), np.asarray(reference)
            if pred.ndim == 2 and ref.shape == pred.shape:
                plot_class_map(pred, ref, report, tmp / "classmap.png", mask=mask)
                images.append("classmap.png")
            if history:
                plot_training_curve(history, tmp / "training_curve.png")
                images.append("training_curve.png")
        (tmp / "report.html").write_text(report.to_html(title, images), encoding="utf-8")
    return report


# --------------------------------------------------------------------------- #
# Plots
# --------------------------------------------------------------------------- #
def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_confusion(report: AccuracyReport, path: str | os.PathLike, *, normalize: bool = True) -> Path:
    """Draw the confusion matrix (row-normalised shading, counts written in the cells) to a PNG."""
    c = len(report.values)
    cm = report.confusion if report.n_other else report.confusion[:, :c]
    support = cm.sum(axis=1, keepdims=True)
    shade = np.divide(cm, np.maximum(support, 1)) if normalize else cm
    n = max(c, 2)
    fig = _figure((1.6 + 0.55 * n, 1.2 + 0.5 * n))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    labels = [f"{v} {nm}"[:24] for v, nm in zip(report.values, report.names, strict=True)]
    ax.set_yticks(range(c), labels, fontsize=7)
    ax.set_xticks(range(cm.shape[1]), [str(v) for v in report.values] + (["other"] if report.n_other else []),
                  fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(f"OA {_pct(report.overall_accuracy)}  AA {_pct(report.average_accuracy)}  "
                 f"kappa {_num(report.kappa)}", fontsize=9)
    if c <= 30:
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=6,
                            color="white" if shade[i, j] > 0.6 else "black")
    fig.savefig(path)
    return Path(path)


def plot_class_map(predicted: np.ndarray, reference: np.ndarray, report: AccuracyReport,
                   path: str | os.PathLike, *, mask: np.ndarray | None = None) -> Path:
    """Predicted map, reference map and error map side by side (PNG)."""
    from matplotlib.colors import ListedColormap

    values = report.values
    lut_vals = np.array([0, *values])
    colours = [(1.0, 1.0, 1.0)] + [tuple(x / 255 for x in report.colours.get(v, _default_colour(i)))
                                   for i, v in enumerate(values)]
    cmap = ListedColormap(colours)

    def to_index(a: np.ndarray) -> np.ndarray:
        idx = np.zeros(a.shape, dtype=np.int64)
        for i, v in enumerate(lut_vals):
            idx[a == v] = i
        return idx

    ref = np.asarray(reference)
    if mask is not None:
        ref = np.where(np.asarray(mask, dtype=bool), ref, 0)
    pred = np.asarray(predicted)
    err = np.full(ref.shape, np.nan)
    lab = ref > 0
    err[lab] = (pred[lab] != ref[lab]).astype(float)
    h, w = ref.shape
    fig = _figure((11, 4.2 * max(0.6, min(2.0, h / max(w, 1)))))
    for k, (img, name) in enumerate(((to_index(pred), "predicted"), (to_index(ref), "reference"))):
        ax = fig.add_subplot(1, 3, k + 1)
        ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=len(lut_vals) - 0.5, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    ax = fig.add_subplot(1, 3, 3)
    ax.imshow(err, cmap=ListedColormap([(0.75, 0.9, 0.75), (0.85, 0.1, 0.1)]), vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_title(f"errors ({int(np.nansum(err))} of {int(lab.sum())} px)", fontsize=9)
    ax.set_axis_off()
    from matplotlib.patches import Patch

    handles = [Patch(color=colours[i + 1], label=f"{v} {n}"[:28]) for i, (v, n) in
               enumerate(zip(values, report.names, strict=True))]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize=7, frameon=False)
    fig.savefig(path)
    return Path(path)


def plot_training_curve(history: Mapping[str, Sequence[float]], path: str | os.PathLike) -> Path:
    """Loss and accuracies per epoch (PNG)."""
    epochs = list(history.get("epoch") or range(1, len(history.get("loss", [])) + 1))
    fig = _figure((8, 3.4))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(epochs, history.get("loss", []), label="training loss")
    if any(_finite(v) for v in history.get("val_loss", []) or []):
        ax.plot(epochs, [np.nan if v is None else v for v in history["val_loss"]], label="validation loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(epochs, history.get("train_accuracy", []), label="training accuracy")
    if any(_finite(v) for v in history.get("val_accuracy", []) or []):
        ax.plot(epochs, [np.nan if v is None else v for v in history["val_accuracy"]], label="validation accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=7)
    fig.savefig(path)
    return Path(path)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _class_table(classes: Any, ref: np.ndarray) -> tuple[list[int], list[str], dict[int, tuple[int, int, int]]]:
    colours: dict[int, tuple[int, int, int]] = {}
    if classes is None:
        vals = [int(v) for v in np.unique(ref) if v > 0]
        return vals, [f"class {v}" for v in vals], colours
    if hasattr(classes, "classes") and not isinstance(classes, Mapping):
        classes = classes.classes  # a PromptSet
    if isinstance(classes, Mapping):
        pairs = [(int(k), str(v)) for k, v in classes.items()]
    else:
        pairs = []
        for c in classes:
            pairs.append((int(c.value), str(c.name)))
            if getattr(c, "colour", None) is not None:
                colours[int(c.value)] = tuple(int(x) for x in c.colour)
    # reference values missing from the class list still get a row, so nothing is silently dropped
    known = {v for v, _ in pairs}
    pairs += [(int(v), f"class {int(v)}") for v in np.unique(ref) if v > 0 and int(v) not in known]
    return [v for v, _ in pairs], [n for _, n in pairs], colours


def _default_colour(i: int) -> tuple[int, int, int]:
    palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
               (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
    return palette[i % len(palette)]


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and np.isfinite(v)


def _f(v: Any) -> float | None:
    return float(v) if _finite(float(v)) else None


def _pct(v: Any) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.2f} %"


def _num(v: Any) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.4f}"


def _md(s: str) -> str:
    return s.replace("|", "\\|")
