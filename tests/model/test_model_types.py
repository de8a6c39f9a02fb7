"""One registry of model types, one bounded loader: every type round-trips, hostile files end in one ``Error:``.

The hostile files are real ``.hsigeo`` archives (zip, JSON, safetensors) made from real models and
changed the way a damaged or malicious file would be; the CLI cases run ``hsigeo`` as a subprocess
and measure its peak memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _cli_runner import run_in_process
from _inference_models import WAVELENGTHS, random_cube, tiny_model, write_scene

from hsigeo.errors import ModelFileError
from hsigeo.model.base import BaseModel, ZeroShotModel, shipped_base_path
from hsigeo.model.classifier import HsigeoModel
from hsigeo.model.modelfile import (
    MODEL_TYPES,
    load_model,
    load_model_bytes,
    model_bytes,
    model_type_of,
    read_metadata,
    save_model,
)
from hsigeo.text.prompts import PromptSet

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))
PROMPTS = PromptSet.from_dict({"classes": [{"name": "vegetation", "value": 1, "prompts": ["green vegetation"]},
                                           {"name": "soil", "value": 2, "prompts": ["bare soil"]}]})
# peak memory of `hsigeo info` / `classify` on a hostile file: torch and GDAL loaded, nothing of the bomb
MAX_RSS_MB = 1000


def _base() -> BaseModel:
    if not shipped_base_path().is_file():
        pytest.skip("base model not built (python scripts/build_base_model.py)")
    return load_model("base")


def _zero_shot() -> ZeroShotModel:
    cube = random_cube(10, 12, seed=3).astype(np.float32)
    da = xr.DataArray(cube, dims=("band", "y", "x"), coords={"wavelength": ("band", WAVELENGTHS)})
    emb = np.random.default_rng(0).normal(size=(2, 384)).astype(np.float32)
    return _base().for_scene(da, PROMPTS, text_embeddings=emb, radiometry="reflectance", threshold=0.0)


def _adapted():
    """A zero-shot model adapted to a small scene (hsigeo.model.adapt): the scene-adapted type."""
    from hsigeo.model.adapt import AdaptedModel

    zs = _zero_shot()
    rng = np.random.default_rng(1)
    head_w = rng.normal(size=(zs.n_bands, zs.n_classes)).astype(np.float32) * 1e-3
    typ = {"proj": rng.normal(size=(zs.n_bands, 3)).astype(np.float32), "offset": np.zeros(3, np.float32),
           "means": rng.normal(size=(zs.n_classes, 3)).astype(np.float32),
           "quantiles": np.sort(rng.random((zs.n_classes, 11)), axis=1).astype(np.float32)}
    return AdaptedModel(zs, head_w, np.zeros(zs.n_classes, np.float32), {"rounds": 1}, typ, threshold=0.01)


def _combined(with_net: bool):
    """An SVM (or SVM + network ensemble) of random arrays on the tiny model's bands and classes."""
    from hsigeo.model.combined import CombinedModel
    from hsigeo.model.spatial import SpatialFilter
    from hsigeo.model.svm import KernelSVM

    net = tiny_model()
    k, s, b = net.n_classes, 9, net.n_bands
    pairs = k * (k - 1) // 2
    rng = np.random.default_rng(2)
    svm = KernelSVM(rng.normal(size=(s, b)).astype(np.float32), rng.normal(size=(s, pairs)).astype(np.float32),
                    rng.normal(size=pairs).astype(np.float32), -np.ones(pairs, np.float32),
                    np.zeros(pairs, np.float32), 0.1, k, {"C": 1.0})
    net = dataclasses.replace(net, spatial=None)  # the ensemble filters once, after the average
    return CombinedModel(svm=svm, classes=list(net.classes), mean=np.full(b, 1000.0, np.float32),
                         std=np.full(b, 400.0, np.float32), net=net if with_net else None,
                         svm_weight=0.5 if with_net else 1.0, wavelengths=net.wavelengths,
                         spatial=SpatialFilter.optional(1), fusion="confidence" if with_net else "mean")


MAKERS = {"trained": tiny_model, "spectral-base": _base, "zero-shot": _zero_shot, "scene-adapted": _adapted,
          "svm": lambda: _combined(False), "ensemble": lambda: _combined(True)}


def test_every_registered_type_has_a_maker():
    assert set(MODEL_TYPES) == set(MAKERS)


def _parts(data: bytes) -> tuple[dict, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        meta = json.loads(zf.read("metadata.json"))
        weights = zf.read("weights.safetensors")
    meta.pop("created", None)  # the one thing a second save changes
    return meta, weights


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_load_of_save_is_the_model_again(kind, tmp_path):
    """``load_model(save_model(m))`` holds the same weights and metadata, and maps the same, for every type."""
    model = MAKERS[kind]()
    assert model_type_of(model).name == kind
    path = save_model(model, tmp_path / f"{kind}.hsigeo")
    again = load_model(path)
    assert type(again) is type(model) and read_metadata(path)["model_type"] == kind
    assert _parts(model_bytes(again)) == _parts(model_bytes(model))
    assert _parts(model_bytes(load_model_bytes(model_bytes(model)))) == _parts(model_bytes(model))
    if model_type_of(model).fitted:
        from hsigeo.inference.core import classify_array

        cube = random_cube(10, 12, seed=5).astype(np.float32)
        np.testing.assert_array_equal(classify_array(cube, again)[0], classify_array(cube, model)[0])
        assert again.digest() == model.digest()


def test_base_model_file_is_rebuilt_byte_for_byte():
    assert model_bytes(_base()) == shipped_base_path().read_bytes()


def test_files_without_model_type_are_trained_models(tmp_path):
    """Files written before ``model_type`` existed load as trained models."""
    meta, weights = _parts(model_bytes(tiny_model()))
    del meta["model_type"]
    path = _write(tmp_path / "old.hsigeo", json.dumps(meta).encode(), weights)
    assert isinstance(load_model(path), HsigeoModel)


# --------------------------------------------------------------------------- #
# Hostile and damaged files
# --------------------------------------------------------------------------- #
def _write(path: Path, meta: bytes, weights: bytes) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", meta)
        zf.writestr("weights.safetensors", weights)
    return path


def _changed(model, path: Path, *, meta_fn=None, tensors_fn=None) -> Path:
    """``model``'s file with its metadata and/or weights changed (checksum kept consistent)."""
    from safetensors.torch import load, save

    meta, weights = _parts(model_bytes(model))
    if tensors_fn is not None:
        tensors = load(weights)
        tensors_fn(tensors)
        weights = save(tensors, metadata={"format": "hsigeo-model"})
        meta["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    if meta_fn is not None:
        meta_fn(meta)
    return _write(path, json.dumps(meta).encode(), weights)


def _cli(*args: str, tmp: Path) -> tuple[int, str, float]:
    """``hsigeo ARGS`` in a fresh process: (exit status, stderr, its peak memory in MB)."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stdout.write(r.stderr); "
             "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    env = {"OMP_NUM_THREADS": "1", "HSIGEO_HOME": str(tmp / "home"), "PATH": str(Path(sys.executable).parent)}
    import os

    res = subprocess.run([sys.executable, "-c", probe, HSIGEO, *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, **env})
    lines = res.stdout.splitlines()
    rss = float(lines[-1].split()[1]) / 1024
    return res.returncode, "\n".join(lines[:-1]), rss


def _assert_one_error(code: int, err: str, *words: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert code == 2 and len(errors) == 1, err
    assert "bug" not in err and "Traceback" not in err, err
    for w in words:
        assert w in errors[0], errors[0]


def _scene(tmp: Path) -> Path:
    return write_scene(tmp / "scene.tif", random_cube(20, 20, seed=1))


def test_base_model_with_two_million_hidden_units_is_refused_before_allocating(tmp_path):
    """The shipped base model with ``net.hidden = 2000000``: ``info`` and ``classify`` stop at the metadata."""
    base = _base()
    path = _changed(base, tmp_path / "huge.hsigeo", meta_fn=lambda m: m["net"].update(hidden=2_000_000))
    code, err, rss = _cli("info", str(path), tmp=tmp_path)
    _assert_one_error(code, err, str(path), "net hidden = 2000000 is outside 1..4096")
    assert rss < MAX_RSS_MB
    prompts = tmp_path / "p.yaml"
    prompts.write_text("classes:\n  - name: vegetation\n    prompts: [green vegetation]\n"
                       "  - name: soil\n    prompts: [bare soil]\n")
    code, err, rss = _cli("classify", str(_scene(tmp_path)), "--model", str(path), "--prompts", str(prompts),
                          "-o", str(tmp_path / "out.tif"), tmp=tmp_path)
    _assert_one_error(code, err, "net hidden")
    assert rss < MAX_RSS_MB and not (tmp_path / "out.tif").exists()


def test_settings_within_bounds_must_fit_the_weights(tmp_path):
    """``hidden = 4096`` is a legal size, but not that of the weights: refused from the shapes alone."""
    path = _changed(_base(), tmp_path / "wide.hsigeo", meta_fn=lambda m: m["net"].update(hidden=4096))
    with pytest.raises(ModelFileError, match=r"do not fit together \(net\.(members\.0\.)?encoder\.0\.bias: the metadata describes \(4096,\)"):
        load_model(path)


def _deflate_bomb(path: Path, size: int) -> Path:
    """A model file whose metadata.json inflates to ``size`` bytes (about 1/1000 of that on disk)."""
    head = b'{"format": "hsigeo-model", "format_version": 1, "model_type": "spectral-base", "pad": "'
    chunk = b" " * (16 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("metadata.json", "w", force_zip64=True) as f:
            f.write(head)
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.write(b'"}')
        zf.writestr("weights.safetensors", b"")
    return path


def test_deflate_bomb_metadata_ends_in_one_error_with_bounded_memory(tmp_path):
    bomb = _deflate_bomb(tmp_path / "bomb.hsigeo", 1536 << 20)
    assert bomb.stat().st_size < 10 << 20
    code, err, rss = _cli("info", str(bomb), tmp=tmp_path)
    _assert_one_error(code, err, str(bomb), "metadata.json is 1,536 MB")
    assert rss < MAX_RSS_MB


def test_member_larger_than_its_header_says_is_refused(tmp_path):
    """A zip header that understates the member's size does not get past the bounded read."""
    data = io.BytesIO()
    meta = json.dumps({"format": "hsigeo-model", "format_version": 1, "pad": " " * (9 << 20)}).encode()
    with zipfile.ZipFile(data, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", meta)
        zf.writestr("weights.safetensors", b"")
    raw = bytearray(data.getvalue())
    # rewrite the uncompressed size (local header offset 22, central directory offset 24) to 100 bytes
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        raw[i + off:i + off + 4] = (100).to_bytes(4, "little")
    path = tmp_path / "liar.hsigeo"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="liar.hsigeo"):
        load_model(path)


@pytest.mark.parametrize("case", ["deep", "latin1"])
def test_hostile_metadata_text_is_an_error_not_a_bug(case, tmp_path, capsys, monkeypatch):
    """JSON nested 100,000 deep (RecursionError) and non-UTF-8 metadata (UnicodeDecodeError) -> one Error line."""
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    _, weights = _parts(model_bytes(tiny_model()))
    raw = b"[" * 100_000 + b"]" * 100_000 if case == "deep" else \
        b'{"format": "hsigeo-model", "name": "caf\xe9"}'
    path = _write(tmp_path / f"{case}.hsigeo", raw, weights)
    code, _, err = run_in_process(capsys, "info", str(path))
    _assert_one_error(code, err, str(path), "nested too deeply" if case == "deep" else "not UTF-8")
    code, _, err = run_in_process(capsys, "classify", str(_scene(tmp_path)), "--model", str(path),
                                  "-o", str(tmp_path / "o.tif"))
    _assert_one_error(code, err, str(path))


def _nan_first_weight(tensors):
    key = sorted(k for k in tensors if k.startswith("net.") and tensors[k].is_floating_point())[0]
    tensors[key][...] = float("nan")


@pytest.mark.parametrize("case", ["nan weights", "zero std", "nan mean", "base nan weights", "zero-shot zero std"])
def test_non_finite_or_degenerate_numbers_are_refused_at_load(case, tmp_path):
    """Models that would map confidently wrong (NaN weights, a zero spread, a NaN mean) never load."""
    path = tmp_path / "bad.hsigeo"
    if case == "nan weights":
        _changed(tiny_model(), path, tensors_fn=_nan_first_weight)
        match = "NaN or infinite"
    elif case == "zero std":
        _changed(tiny_model(), path, meta_fn=lambda m: m["normalization"].update(std=[0.0] * 12))
        match = "normalization std .* at least one value above 0"
    elif case == "nan mean":
        _changed(tiny_model(), path, meta_fn=lambda m: m["normalization"]["mean"].__setitem__(3, float("nan")))
        match = "normalization mean .* not a finite number"
    elif case == "base nan weights":
        _changed(_base(), path, tensors_fn=_nan_first_weight)
        match = "NaN or infinite"
    else:
        _changed(_zero_shot(), path, meta_fn=lambda m: m["binding"].update(band_std=[0.0] * 12))
        match = "band_std .* above 0"
    with pytest.raises(ModelFileError, match=match):
        load_model(path)


def test_nan_weights_fail_classify_with_one_error_and_no_map(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    path = _changed(tiny_model(), tmp_path / "nan.hsigeo", tensors_fn=_nan_first_weight)
    code, _, err = run_in_process(capsys, "classify", str(_scene(tmp_path)), "--model", str(path),
                                  "-o", str(tmp_path / "o.tif"))
    _assert_one_error(code, err, str(path), "NaN")
    assert not (tmp_path / "o.tif").exists()


def test_unknown_model_type_is_refused(tmp_path):
    path = _changed(tiny_model(), tmp_path / "x.hsigeo", meta_fn=lambda m: m.update(model_type="from-the-future"))
    with pytest.raises(ModelFileError, match="unknown model_type 'from-the-future'"):
        load_model(path)


def test_text_model_path_in_a_model_file_is_never_opened(tmp_path):
    """Re-anchoring loads the packaged text model, never the folder a model file names."""
    from hsigeo.text.encoder import TextEncoder

    trap = tmp_path / "not-a-text-model"
    trap.mkdir()
    (trap / "config.json").write_text('{"model_type": "bert"}')
    (trap / "model.safetensors").write_bytes(b"this folder must never be loaded")
    (trap / "vocab.txt").write_text("[PAD]\n")
    model = tiny_model(text_dim=TextEncoder().dim)
    model.text_model = {"id": TextEncoder().model_id, "path": str(trap), "dim": TextEncoder().dim}
    loaded = load_model(save_model(model, tmp_path / "m.hsigeo"))
    assert loaded.text_model["path"] == str(trap)  # kept as a record
    again = loaded.with_prompts(PROMPTS)
    assert [c.name for c in again.classes] == ["vegetation", "soil"]
    assert again.text_model["path"] != str(trap)
