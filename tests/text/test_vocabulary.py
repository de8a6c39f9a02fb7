"""Prompt robustness on the real text model: negations that do not pull, bare names that land on concepts."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.text.vocabulary import split_negations, vocabulary_embeddings


@pytest.mark.parametrize(("text", "positive", "negated"), [
    ("Green grass and herbs, without trees.", "Green grass and herbs.", ["without trees"]),
    ("Exposed bare earth or sand with no vegetation.", "Exposed bare earth or sand.", ["with no vegetation"]),
    ("not water, only grass", "only grass", ["not water"]),
    ("no trees but grass", "grass", ["no trees"]),
    ("A forest of broadleaf trees", "A forest of broadleaf trees", []),
    ("no trees", "no trees", []),  # nothing but a negation keeps its words
])
def test_split_negations(text, positive, negated):
    assert split_negations(text) == (positive, negated)


@pytest.fixture(scope="module")
def encoder():
    from hsigeo.text.encoder import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="module")
def vocabulary():
    from hsigeo.model.base import load_base, shipped_base_path

    if not shipped_base_path().is_file():
        pytest.skip("base model not built")
    return {k: c["sentences"] for k, c in load_base().meta["concepts"].items()}


def test_negation_does_not_pull_towards_the_negated_class(encoder):
    trees, grass = encoder.encode(["trees", "green grass"])
    raw = encoder.encode(["green grass without trees"])[0]
    emb, _ = vocabulary_embeddings([["green grass without trees"]], encoder)
    # the raw sentence embedding is pulled towards "trees"; with the negation cut it is not
    assert float(emb[0] @ trees) < float(raw @ trees) - 0.1
    assert float(emb[0] @ grass) > float(raw @ grass) + 0.1 and float(emb[0] @ grass) > 0.9


def test_bare_names_land_on_rich_concepts(encoder, vocabulary):
    names = [["tree"], ["roof"], ["pavement"], ["grass"], ["water"], ["no trees"],
             ["A closed canopy of tall broadleaf trees in a park, with shade between the crowns."]]
    emb, matches = vocabulary_embeddings(names, encoder, vocabulary)
    assert [m[0] for m in matches] == ["forest_broadleaf", "roof_shingle", "urban_pavement", "grass_green", "water_clear",
                                       None, None]  # a negation alone and a long description are kept as written
    forest = encoder.encode(list(vocabulary["forest_broadleaf"])).mean(0)
    forest /= np.linalg.norm(forest)
    bare = encoder.encode(["tree"])[0]
    # "tree" alone sits far from the forest sentences the base model learnt; expanded, it is close
    assert float(emb[0] @ forest) > max(0.85, float(bare @ forest) + 0.1)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
