"""The network trainer's named steps: run in order by fit, replaceable one at a time."""

from __future__ import annotations

import numpy as np
from _model_helpers import TINY, block_scene, prompt_set, text_embeddings

from hsigeo.model.train_data import prepare_training
from hsigeo.model.train_options import TrainConfig
from hsigeo.model.trainer import NetworkTrainer, RunSettings
from hsigeo.model.training import train
from hsigeo.sampling.splits import stratified_split

_STEPS = ("setup_data", "setup_model", "configure_optimizer", "start_sampler", "train_epoch", "validation_epoch",
          "select", "finalise")


def _setup(**options):
    cube, labels, _ = block_scene()
    mask, _ = stratified_split(labels, fraction=0.2, seed=0)
    cfg = TrainConfig.from_options(**{**TINY, "epochs": 3, **options})
    data = prepare_training(cube, labels, prompt_set(), train_mask=mask, seed=cfg.seed)
    return cube, labels, mask, cfg, data


def test_fit_runs_the_steps_in_order_and_matches_train():
    cube, labels, mask, cfg, data = _setup()
    calls: list[str] = []

    class Recording(NetworkTrainer):
        pass

    for name in _STEPS:
        def step(self, *args, _name=name, **kwargs):
            calls.append(_name)
            return getattr(NetworkTrainer, _name)(self, *args, **kwargs)
        setattr(Recording, name, step)

    settings = RunSettings(text_embeddings=text_embeddings(), progress=False)
    model, report = Recording(cfg, settings).fit(data)
    per_epoch = ["train_epoch", "validation_epoch", "select"]
    assert calls == ["setup_data", "setup_model", "configure_optimizer", "start_sampler", *per_epoch * 3, "finalise"]
    # the same seed through train(): the same curves and weights
    model2, report2 = train(cube, labels, prompt_set(), train_mask=mask, text_embeddings=text_embeddings(),
                            progress=False, **{**TINY, "epochs": 3})
    assert report.history["loss"] == report2.history["loss"]
    for a, b in zip(model.net.state_dict().values(), model2.net.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())


def test_a_replaced_selection_step_stops_early():
    """One hook replaced (the kept epoch and stopping), the rest of the run unchanged."""
    *_, cfg, data = _setup(epochs=5)

    class StopAfterTwo(NetworkTrainer):
        def select(self, epoch, val_acc):
            super().select(epoch, val_acc)
            return epoch >= 2

    model, report = StopAfterTwo(cfg, RunSettings(text_embeddings=text_embeddings(), progress=False)).fit(data)
    assert report.history["epoch"] == [1, 2] and report.stopped_early and report.best_epoch == 2
    assert model.report["epochs_run"] == 2


def test_validation_keeps_the_best_epoch_and_patience_stops():
    *_, cfg, data = _setup(epochs=6, val_fraction=0.3, min_val_per_class=2, patience=1)
    model, report = NetworkTrainer(cfg, RunSettings(text_embeddings=text_embeddings(), progress=False)).fit(data)
    val = report.history["val_accuracy"]
    assert report.n_val > 0 and report.val_accuracy == max(val)
    assert val[report.best_epoch - 1] == report.val_accuracy
    if report.stopped_early:
        assert len(val) < 6 and val[-1] < report.val_accuracy


def test_a_second_fit_is_a_new_run():
    *_, cfg, data = _setup(epochs=2)
    trainer = NetworkTrainer(cfg, RunSettings(text_embeddings=text_embeddings(), progress=False))
    _, first = trainer.fit(data)
    _, second = trainer.fit(data)
    assert second.history["epoch"] == [1, 2] and second.history["loss"] == first.history["loss"]
