"""Scenes on the wrong value scale warn on every path: the dask path (``.hsi.classify``) as the tiled one,
and prompt-only mapping of all-negative or absurdly large values (one ``Warning:`` line in the CLI)."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray  # noqa: F401 - registers .rio, which the engines read
import xarray as xr
from _cli_runner import run_in_process
from _inference_models import WAVELENGTHS, random_cube, tiny_model, write_scene

from hsigeo.model.base import shipped_base_path

PROMPTS_YAML = ("classes:\n  - name: vegetation\n    prompts: [green vegetation, a full canopy]\n"
                "  - name: soil\n    prompts: [bare soil]\n")


def test_dask_path_warns_about_a_scene_on_another_scale():
    """The tiny model was trained on values around 1000; the same scene as 0-1 reflectance warns, lazily or not."""
    cube = random_cube(24, 24, seed=2).astype(np.float32)
    model = tiny_model()
    for scale, chunks in ((1e-4, None), (1e-4, {"y": 12, "x": 12})):
        da = xr.DataArray(cube * scale, dims=("band", "y", "x"), coords={"wavelength": ("band", WAVELENGTHS)})
        da = da.chunk(chunks) if chunks else da
        with pytest.warns(UserWarning, match="times smaller than those the model was trained on"):
            da.hsi.classify(model)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the training scale itself: no warning
        xr.DataArray(cube, dims=("band", "y", "x")).hsi.classify(model)


@pytest.mark.parametrize("case, words", [
    ("negative", "have a negative or zero mean value"),
    ("huge", "far beyond reflectance"),
])
def test_prompt_only_mapping_warns_about_impossible_values(case, words, tmp_path, capsys, monkeypatch):
    if not shipped_base_path().is_file():
        pytest.skip("base model not built")
    cube = random_cube(24, 24, seed=4).astype(np.float32)
    cube = cube - 3000.0 if case == "negative" else cube * 1e27
    scene = write_scene(tmp_path / "scene.tif", cube, nodata=None)
    prompts = tmp_path / "p.yaml"
    prompts.write_text(PROMPTS_YAML)
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    code, _, err = run_in_process(capsys, "classify", str(scene), "--prompts", str(prompts),
                                  "-o", str(tmp_path / "out.tif"))
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("Warning: ") and words in line]
    assert len(warned) == 1 and "scene.tif" in warned[0], err
