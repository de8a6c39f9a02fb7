"""The edge-aware probability filter: what it keeps, what it fixes, and that every path agrees."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from hsigeo.errors import InvalidInputError
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth


def _two_fields(h: int = 20, w: int = 20, bands: int = 8, seed: int = 0):
    """Guide spectra of two fields split at column 10, a 1-px road at column 4, and class probabilities
    that follow them, with one wrong pixel inside the left field."""
    rng = np.random.default_rng(seed)
    a, b, road = rng.normal(size=(3, bands))
    guide = np.empty((bands, h, w), np.float32)
    guide[:, :, :10] = a[:, None, None]
    guide[:, :, 10:] = b[:, None, None]
    guide[:, :, 4] = road[:, None]
    guide += rng.normal(0, 0.02, guide.shape).astype(np.float32)
    probs = np.zeros((3, h, w), np.float32)
    probs[0, :, :10] = 0.8
    probs[1, :, 10:] = 0.8
    probs[2, :, 4] = 0.9
    probs[0, :, 4] = 0.05
    probs[:, 12, 6] = (0.3, 0.6, 0.1)  # an isolated error in the left field
    probs /= probs.sum(0, keepdims=True) + (probs.sum(0, keepdims=True) == 0)
    probs[:, probs.sum(0) == 0] = 1 / 3
    probs /= probs.sum(0, keepdims=True)
    return torch.from_numpy(guide), torch.from_numpy(probs)


def test_keeps_edges_and_narrow_features_fixes_isolated_errors():
    guide, probs = _two_fields()
    r = 2
    out = edge_aware_smooth(probs, guide, r, 0.2)
    assert out.shape == (3, 20 - 2 * r, 20 - 2 * r)
    assert torch.allclose(out.sum(0), torch.ones(out.shape[1:]), atol=1e-5)
    cls = out.argmax(0).numpy()
    # the 1-px road (column 4 -> 2 in the cropped frame) survives a radius-2 filter
    assert (cls[:, 4 - r] == 2).all()
    # the field border stays where it was, on every row
    assert (cls[:, 9 - r] == 0).all() and (cls[:, 10 - r] == 1).all()
    # the isolated wrong pixel is outvoted by its field
    assert probs[:, 12, 6].argmax() == 1 and cls[12 - r, 6 - r] == 0
    # a plain mean (tau large) would wipe the road out: the spectral weights are what keep it
    flat = edge_aware_smooth(probs, guide, r, 1e6).argmax(0).numpy()
    assert (flat[:, 4 - r] != 2).all()


def test_invalid_pixels_get_no_weight_and_strips_and_batches_agree():
    guide, probs = _two_fields()
    guide[:, 5:8, 12:15] = 0.0  # invalid pixels (all-zero standardised spectra)
    probs[:, 5:8, 12:15] = torch.tensor([0.0, 0.0, 1.0])[:, None, None]  # garbage there
    out = edge_aware_smooth(probs, guide, 2, 0.2)
    # neighbours of the hole are not pulled towards its garbage
    assert out[2, 3:8, 8:15].max() < 0.2
    # strips (small max_elements) and a batch of tiles give the same result
    strips = edge_aware_smooth(probs, guide, 2, 0.2, max_elements=100)
    assert torch.allclose(out, strips, atol=1e-6)
    batch = edge_aware_smooth(torch.stack([probs, probs.flip(-1)]), torch.stack([guide, guide.flip(-1)]), 2, 0.2)
    assert torch.allclose(batch[0], out, atol=1e-6)
    assert torch.allclose(batch[1], edge_aware_smooth(probs.flip(-1), guide.flip(-1), 2, 0.2), atol=1e-6)
    # a pixel whose whole neighbourhood is invalid keeps its own probabilities
    g = torch.zeros(8, 5, 5)
    p = torch.full((3, 5, 5), 1 / 3)
    p[:, 2, 2] = torch.tensor([0.7, 0.2, 0.1])
    assert torch.allclose(edge_aware_smooth(p, g, 2, 0.2)[:, 0, 0], p[:, 2, 2])


def test_settings_are_checked_and_round_trip():
    assert SpatialFilter.from_dict(None) is None and SpatialFilter.from_dict({}) is None
    f = SpatialFilter(3, 0.1)
    assert SpatialFilter.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    for bad in ({"radius": -1}, {"radius": 17}, {"tau": 0.0}):
        with pytest.raises(InvalidInputError):
            SpatialFilter(**bad)
    with pytest.raises(InvalidInputError, match="do not fit"):
        edge_aware_smooth(torch.zeros(3, 4, 4), torch.zeros(8, 5, 5), 1, 0.2)


def test_engines_apply_the_filter_and_old_files_load_without_it(tmp_path):
    from _inference_models import random_cube, tiny_model

    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.modelfile import load_model, save_model

    cube = random_cube(30, 27)
    plain = tiny_model(smooth_radius=0)
    smooth = tiny_model(smooth_radius=2)
    assert (plain.radius, smooth.radius) == (4, 6) and plain.digest() != smooth.digest()
    p0 = predict_proba_array(cube, plain, device="cpu")
    p1 = predict_proba_array(cube, smooth, device="cpu")
    assert not np.allclose(p0, p1)
    # the filter is a fixed function of the unfiltered probabilities and the standardised spectra
    r = 2
    norm = np.pad(smooth.normalize(cube), ((0, 0), (r, r), (r, r)), mode="reflect")
    p0_pad = np.pad(p0, ((0, 0), (r, r), (r, r)), mode="reflect")
    # away from the scene edge (where the ring is reflected probabilities vs probabilities of a reflected scene)
    ref = edge_aware_smooth(torch.from_numpy(p0_pad), torch.from_numpy(norm), r, 0.2,
                            groups=smooth.spatial.groups).numpy()
    assert np.allclose(ref[:, 6:-6, 6:-6], p1[:, 6:-6, 6:-6], atol=1e-5)
    # a model file written before the filter existed has no 'spatial_filter' and loads without one
    path = save_model(smooth, tmp_path / "m.hsigeo")
    assert load_model(path).spatial == smooth.spatial
    old = tmp_path / "old.hsigeo"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(old, "w") as zout:
        meta = json.loads(zin.read("metadata.json"))
        del meta["spatial_filter"]
        zout.writestr("metadata.json", json.dumps(meta))
        zout.writestr("weights.safetensors", zin.read("weights.safetensors"))
    legacy = load_model(old)
    assert legacy.spatial is None and legacy.radius == 4
    assert np.allclose(predict_proba_array(cube, legacy, device="cpu"), p0, atol=1e-6)


def test_band_groups_keep_the_angle_of_smooth_spectra():
    # 200 smooth spectra: group means over 20 runs of 10 bands keep the angle between them
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 200)
    shapes = np.stack([np.sin(6 * x + ph) + 0.01 * rng.normal(size=200) for ph in rng.uniform(0, 3, 50)])
    g = torch.from_numpy(shapes.T.reshape(200, 5, 10).astype(np.float32))
    from hsigeo.model.spatial import _unit

    full, _ = _unit(g, None)
    grouped, valid = _unit(g, 20)
    assert grouped.shape == (20, 5, 10) and bool(valid.all())
    cos_full = torch.einsum("bn,bm->nm", full.reshape(200, -1), full.reshape(200, -1))
    cos_grp = torch.einsum("bn,bm->nm", grouped.reshape(20, -1), grouped.reshape(20, -1))
    assert float((cos_full - cos_grp).abs().max()) < 0.02
