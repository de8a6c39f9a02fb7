"""Training options grouped by concern: flat keywords in, groups inside, the same flat record out."""

from __future__ import annotations

import dataclasses

import pytest

from hsigeo.errors import InvalidInputError
from hsigeo.model.train_options import (
    _GROUPS,
    DEFAULTS,
    FilterOptions,
    OptimOptions,
    TrainConfig,
)


def test_every_flat_option_has_one_home():
    """A flat name lives in exactly one group (or at the top, or in the backbone): the two forms are inverses."""
    homes: dict[str, list[str]] = {}
    for group, kind in _GROUPS.items():
        for f in dataclasses.fields(kind):
            homes.setdefault(f.name, []).append(group)
    top = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in _GROUPS and f.name != "backbone"]
    for name in top:
        homes.setdefault(name, []).append("top")
    assert all(len(v) == 1 for v in homes.values()), homes
    assert not set(_GROUPS) & set(DEFAULTS)  # a group's name is no option's name
    backbone = set(DEFAULTS) - set(homes)
    assert backbone == {f.name for f in dataclasses.fields(TrainConfig().backbone)} - {"n_bands"}


def test_groups_are_frozen_and_filled_from_flat_options():
    cfg = TrainConfig.from_options(epochs=5, lr=0.01, loss="softmax", noise=0.1, patience=3, smooth_radius=0,
                                   method="svm", seed=7)
    assert cfg.optim == OptimOptions(epochs=5, lr=0.01)
    assert (cfg.objective.loss, cfg.patches.noise, cfg.validation.patience) == ("softmax", 0.1, 3)
    assert cfg.spatial == FilterOptions(smooth_radius=0)
    assert (cfg.method, cfg.seed) == ("svm", 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.optim.epochs = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]
    assert TrainConfig.from_options(**cfg.options()) == cfg
    assert TrainConfig(optim=OptimOptions(epochs=5, lr=0.01)).options()["epochs"] == 5


def test_with_options_changes_only_what_it_names():
    cfg = TrainConfig.from_options(epochs=9, width=32, heads=2)
    short = cfg.with_options(epochs=3)
    assert short.optim.epochs == 3 and short.backbone == cfg.backbone
    assert {k: v for k, v in short.options().items() if k != "epochs"} == \
        {k: v for k, v in cfg.options().items() if k != "epochs"}
    assert cfg.optim.epochs == 9  # the original is untouched


@pytest.mark.parametrize(("option", "value", "match"), [
    ("method", "forest", "method must be one of"),
    ("stem_init", "zeros", "stem_init must be one of"),
    ("init", "pretrained", "init must be one of"),
    ("loss", "hinge", "loss must be one of"),
    ("epochs", 0, "epochs = 0"),
])
def test_validate_names_the_option(option, value, match):
    with pytest.raises(InvalidInputError, match=match):
        TrainConfig.from_options(**{option: value}).validate()
