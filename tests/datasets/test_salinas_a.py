"""Salinas-A (real AVIRIS data): one seed at 5 % stratified training must reach OA >= 0.99.

Slow (about a minute on two CPU cores when the machine is quiet); needs the benchmark files
(``$HSIGEO_DATA_DIR`` or ``../shared/datasets``) and is skipped with a message otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def salinas_a():
    from hsigeo.datasets.scenes import find_data_dir, load_dataset

    folder = find_data_dir()
    if folder is None or not (folder / "SalinasA_corrected.mat").is_file():
        pytest.skip("Salinas-A files not found: set HSIGEO_DATA_DIR to the folder holding SalinasA_corrected.mat "
                    "and SalinasA_gt.mat (GIC 'Hyperspectral Remote Sensing Scenes').")
    return load_dataset("salinas-a", data_dir=folder)


def test_salinas_a_5_percent(salinas_a, tmp_path):
    from hsigeo.evaluation.metrics import accuracy_report
    from hsigeo.inference.core import classify_array
    from hsigeo.model.modelfile import load_model, save_model
    from hsigeo.model.training import train
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    labels = salinas_a.labels.values
    prompts = load_prompts(salinas_a.prompts_path)
    train_mask, test_mask = stratified_split(labels, fraction=0.05, seed=0)
    model, report = train(salinas_a.cube, salinas_a.labels, prompts, train_mask=train_mask, seed=0, device="cpu",
                          progress=False)
    predicted, _ = classify_array(salinas_a.cube.values, model)
    acc = accuracy_report(predicted, labels, classes=prompts, mask=test_mask)
    assert acc.overall_accuracy >= 0.99, acc.to_markdown()
    assert report.train_seconds < 300
    # the trainable share is small next to the frozen text model
    assert report.n_parameters["trainable"] < 0.02 * report.n_parameters["total"]
    # the saved model classifies identically, and band checks pass on its own scene
    loaded = load_model(save_model(model, tmp_path / "salinas_a.hsigeo"))
    loaded.check_bands(salinas_a.cube)
    again, _ = classify_array(salinas_a.cube.values, loaded)
    assert np.array_equal(again, predicted)
