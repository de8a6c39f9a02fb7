"""Fixtures shared by the model tests."""

from __future__ import annotations

import pytest

from hsigeo.model.base import load_base, shipped_base_path


@pytest.fixture(scope="module")
def base():
    """The base model shipped in the package (skips when it was not built)."""
    if not shipped_base_path().is_file():
        pytest.skip("base model not built (python scripts/build_base_model.py)")
    return load_base()
