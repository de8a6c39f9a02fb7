"""Shared fixtures: a tiny seeded synthetic scene on disk and small georeferenced arrays."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable

import numpy as np
import pytest
import xarray as xr

# A test run started in the background of a non-interactive shell (`make test &`, some CI
# runners) inherits SIGINT *ignored*, and every child process then ignores it too, so the
# Ctrl-C / QGIS-cancel tests would test the shell instead of hsigeo.  A Python-level handler
# is reset to the default on exec, so children start with SIGINT working.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)



@pytest.fixture(autouse=True, scope="session")
def _product_cache(tmp_path_factory):
    """Sensor-product caches (EMIT/PRISMA cubes, scaled VRTs) go to the session's temporary folder, not ~/.cache.

    Set in the environment, so the CLI subprocesses and dask workers the tests start use it too.
    """
    import os

    before = os.environ.get("HSIGEO_CACHE_DIR")
    os.environ["HSIGEO_CACHE_DIR"] = str(tmp_path_factory.mktemp("product_cache"))
    yield
    if before is None:
        os.environ.pop("HSIGEO_CACHE_DIR", None)
    else:
        os.environ["HSIGEO_CACHE_DIR"] = before


# small enough to keep the data-layer tests fast on a shared 2-core machine
SCENE_KW = dict(height=48, width=56, bands=40, n_classes=5, seed=0, nodata_border=2)


@pytest.fixture(scope="session")
def synthetic_scene_kw() -> dict:
    """The arguments :func:`synthetic_scene` was made with."""
    return dict(SCENE_KW)


@pytest.fixture(scope="session")
def synthetic_scene(tmp_path_factory):
    """A :class:`hsigeo.datasets.synthetic.SyntheticScene` written once per session (read-only: copy before changing)."""
    from hsigeo.datasets.synthetic import make_synthetic_scene

    out = tmp_path_factory.mktemp("synthetic_scene")
    return make_synthetic_scene(out, **SCENE_KW)


@pytest.fixture
def gdalinfo() -> str:
    """Path of the ``gdalinfo`` program (tests using it skip when it is absent)."""
    exe = shutil.which("gdalinfo")
    if exe is None:
        pytest.skip("gdalinfo (gdal-bin) not installed")
    return exe


@pytest.fixture
def make_da() -> Callable[..., xr.DataArray]:
    """Factory for small georeferenced DataArrays on a UTM 11N grid with 2 m pixels."""
    import rioxarray  # noqa: F401
    from rasterio.transform import from_origin

    def _make(data: np.ndarray, *, crs: str | None = "EPSG:32611", origin=(500000.0, 4000000.0), res: float = 2.0,
              nodata=None, wavelengths=None, **band_coords) -> xr.DataArray:
        data = np.asarray(data)
        h, w = data.shape[-2:]
        coords = {
            "y": origin[1] - (np.arange(h) + 0.5) * res,
            "x": origin[0] + (np.arange(w) + 0.5) * res,
        }
        dims: tuple[str, ...] = ("y", "x")
        if data.ndim == 3:
            dims = ("band", "y", "x")
            coords["band"] = np.arange(1, data.shape[0] + 1)
            if wavelengths is not None:
                coords["wavelength"] = ("band", np.asarray(wavelengths, dtype="float64"))
            for k, v in band_coords.items():
                coords[k] = ("band", np.asarray(v))
        da = xr.DataArray(data, dims=dims, coords=coords)
        if crs is not None:
            da = da.rio.write_crs(crs)
        da = da.rio.write_transform(from_origin(origin[0], origin[1], res, res))
        if nodata is not None:
            da = da.rio.write_nodata(nodata)
        return da

    return _make
