"""``hsigeo info`` on the base model file shipped with hsigeo (a model file of another kind than a trained one)."""

from __future__ import annotations

from _cli_runner import run_in_process

from hsigeo.model.base import shipped_base_path
from hsigeo.model.modelfile import read_metadata


def test_info_describes_the_shipped_base_model(capsys):
    path = shipped_base_path()
    grid = read_metadata(path)["grid"]
    code, out, err = run_in_process(capsys, "info", str(path))
    assert code == 0, err
    assert "model type:   spectral-base" in out
    assert f"onto its {len(grid)}-band grid, {min(grid):.0f}-{max(grid):.0f} nm" in out
    assert "all-MiniLM-L6-v2 (384-d)" in out
    # labels line up: every value starts in the same column
    assert len({line.index(":") + len(line.split(":", 1)[1]) - len(line.split(":", 1)[1].lstrip())
                for line in out.splitlines()}) == 1
