"""Accuracy metrics against scikit-learn and hand values; report files and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion

from hsigeo.errors import OutputExistsError
from hsigeo.evaluation.metrics import (
    accuracy_report,
    average_accuracy,
    confusion_matrix,
    evaluate,
    kappa,
    overall_accuracy,
)


def test_hand_values():
    # rows reference, cols predicted: 2 classes, 10 samples
    cm = np.array([[4, 1, 0], [2, 3, 0]])
    assert overall_accuracy(cm) == pytest.approx(0.7)
    assert average_accuracy(cm) == pytest.approx((0.8 + 0.6) / 2)
    # p_o = 0.7, p_e = (5*6 + 5*4) / 100 = 0.5 -> kappa = 0.4
    assert kappa(cm) == pytest.approx(0.4)


def test_against_sklearn():
    rng = np.random.default_rng(0)
    ref = rng.choice([1, 3, 7, 9], size=500)
    pred = np.where(rng.random(500) < 0.8, ref, rng.choice([1, 3, 7, 9], size=500))
    rep = accuracy_report(pred, ref, classes={1: "a", 3: "b", 7: "c", 9: "d"})
    assert np.array_equal(rep.confusion[:, :4], sk_confusion(ref, pred, labels=[1, 3, 7, 9]))
    assert rep.overall_accuracy == pytest.approx(accuracy_score(ref, pred))
    assert rep.average_accuracy == pytest.approx(balanced_accuracy_score(ref, pred))
    assert rep.kappa == pytest.approx(cohen_kappa_score(ref, pred))


def test_unlabelled_ignored_and_unclassified_counted():
    ref = np.array([[0, 1, 1], [2, 2, 0]])
    pred = np.array([[5, 1, 0], [2, 4, 1]])
    rep = accuracy_report(pred, ref, classes={1: "a", 2: "b"})
    assert rep.n_samples == 4
    assert rep.n_other == 2  # predicted 0 and 4 at labelled pixels
    assert rep.overall_accuracy == pytest.approx(0.5)
    assert rep.confusion.tolist() == [[1, 0, 1], [0, 1, 1]]


def test_mask_and_missing_class():
    ref = np.array([1, 1, 2, 2, 3])
    pred = np.array([1, 2, 2, 2, 3])
    rep = accuracy_report(pred, ref, classes={1: "a", 2: "b"}, mask=np.array([1, 1, 1, 1, 0], bool))
    assert rep.values == [1, 2] and rep.n_samples == 4
    rep = accuracy_report(pred, ref, classes={1: "a", 2: "b"})
    assert rep.values == [1, 2, 3]  # reference class absent from the list still gets a row
    assert confusion_matrix(ref, pred, [1, 2, 3]).shape == (3, 4)


def test_per_class_precision_recall():
    ref = np.array([1, 1, 1, 2, 2])
    pred = np.array([1, 1, 2, 2, 2])
    pc = accuracy_report(pred, ref).per_class
    assert pc[0]["accuracy"] == pytest.approx(2 / 3) and pc[0]["user_accuracy"] == pytest.approx(1.0)
    assert pc[1]["accuracy"] == pytest.approx(1.0) and pc[1]["user_accuracy"] == pytest.approx(2 / 3)


def test_evaluate_writes_report_folder(tmp_path):
    ref = np.zeros((20, 30), int)
    ref[:10] = 1
    ref[10:, :15] = 2
    pred = ref.copy()
    pred[0, :5] = 2
    history = {"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.2], "train_accuracy": [0.5, 0.8, 0.9],
               "val_accuracy": [None, None, None], "val_loss": [None, None, None]}
    out = tmp_path / "rep"
    rep = evaluate(pred, ref, classes={1: "crop", 2: "soil"}, out_dir=out, history=history, extra={"seed": 1})
    for name in ("report.json", "report.md", "report.html", "confusion.png", "classmap.png", "training_curve.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    data = json.loads((out / "report.json").read_text())
    assert data["overall_accuracy"] == pytest.approx(rep.overall_accuracy)
    assert data["extra"]["seed"] == 1
    md = (out / "report.md").read_text()
    assert "| 1 | crop |" in md and "overall accuracy" in md
    with pytest.raises(OutputExistsError):
        evaluate(pred, ref, out_dir=out)
    evaluate(pred, ref, out_dir=out, overwrite=True, plots=False)
    assert not (out / "confusion.png").exists()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_map_dtypes_count_the_same(dtype):
    """A uint8 class map (the usual GeoTIFF) scores like an int64 one: unclassified 0 is an error, not dropped."""
    ref = np.array([1, 1, 2, 2, 2, 0])
    pred = np.array([1, 0, 2, 0, 250, 1])
    rep = accuracy_report(pred.astype(dtype), ref.astype(dtype), classes={1: "a", 2: "b"})
    assert rep.n_samples == 5 and rep.n_other == 3 and rep.overall_accuracy == pytest.approx(0.4)
    assert rep.confusion.tolist() == [[1, 0, 1], [0, 1, 2]]
