"""Tiny real models and scenes for the inference tests (test_tiled, test_distributed, test_cli_classify)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_BANDS = 12
NODATA = -9999
WAVELENGTHS = np.linspace(450.0, 2400.0, N_BANDS)


def tiny_model(*, n_bands: int = N_BANDS, n_classes: int = 4, text_dim: int = 16, seed: int = 0,
               kernel: int = 3, grid: int = 3, smooth_radius: int = 1):
    """A small untrained :class:`~hsigeo.model.classifier.HsigeoModel` (radius 4 + 1 by default).

    It carries a spatial filter (``smooth_radius``), as trained models do, so the engines'
    halo tests cover the filter's ring too.

    Untrained weights are fine here: these tests check that engines reproduce
    whole-scene inference, not accuracy.  The class anchors are spread out
    (random text embeddings, a larger temperature) so class maps are varied.
    """
    import torch

    from hsigeo.classes import ClassInfo
    from hsigeo.model.backbone import BackboneConfig
    from hsigeo.model.classifier import HsigeoModel, HsigeoNet
    from hsigeo.model.spatial import SpatialFilter

    torch.manual_seed(seed)
    cfg = BackboneConfig(n_bands=n_bands, stem_dim=8, kernel=kernel, grid=grid, width=8, depth=1, heads=2,
                         embed_dim=8)
    net = HsigeoNet(cfg, text_dim=text_dim)
    rng = np.random.default_rng(seed)
    palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
    classes = [ClassInfo(10 * (i + 1), f"class {i + 1}", palette[i % len(palette)], (f"class {i + 1}",))
               for i in range(n_classes)]
    return HsigeoModel(
        net=net, config=cfg, mean=np.full(n_bands, 1000.0), std=np.full(n_bands, 400.0), classes=classes,
        text_embeddings=rng.normal(size=(n_classes, text_dim)).astype(np.float32),
        wavelengths=WAVELENGTHS if n_bands == N_BANDS else None,
        spatial=SpatialFilter.optional(smooth_radius),
    )


def random_cube(height: int, width: int, *, bands: int = N_BANDS, seed: int = 0) -> np.ndarray:
    """int16 scene with spatial structure (smooth fields plus noise), so classes vary across it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cube = np.empty((bands, height, width), dtype=np.int16)
    for b in range(bands):
        fy, fx, ph = rng.uniform(0.02, 0.15, 2).tolist() + [rng.uniform(0, 6.3)]
        field = 1000 + 500 * np.sin(fy * yy + ph) * np.cos(fx * xx) + rng.normal(0, 150, (height, width))
        cube[b] = field.astype(np.int16)
    return cube


def write_scene(path: Path, cube: np.ndarray, *, nodata: float | None = NODATA, crs: str | None = "EPSG:32611",
                blocksize: int = 32) -> Path:
    """A tiled GeoTIFF with wavelengths, CRS and transform (UTM 11N, 2 m)."""
    import rasterio
    from rasterio.transform import from_origin

    bands, height, width = cube.shape
    profile = {"driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": cube.dtype.name,
               "crs": crs, "transform": from_origin(500000.0, 4000000.0, 2.0, 2.0), "nodata": nodata,
               "tiled": True, "blockxsize": blocksize, "blockysize": blocksize, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(cube)
        if bands == N_BANDS:
            for b in range(bands):
                dst.update_tags(b + 1, wavelength=f"{WAVELENGTHS[b]:.3f}", wavelength_units="nm")
    return path


def assert_same_classes(got: np.ndarray, want: np.ndarray, probs: np.ndarray, *, tie: float = 1e-5) -> None:
    """Class maps equal, except where the two best probabilities tie within float noise."""
    diff = got != want
    if diff.any():
        top2 = np.sort(np.nan_to_num(probs, nan=0.0), axis=0)[-2:]
        gap = (top2[1] - top2[0])[diff]
        assert (gap < tie).all(), f"{int(diff.sum())} pixels differ, largest top-2 gap {gap.max():.2e}"
