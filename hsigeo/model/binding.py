"""A scene's sensor bound to the base model's grid: band resampling plus radiometric correction.

The base model (:mod:`hsigeo.model.base`) reads spectra on its own 180-band grid
(:data:`hsigeo.spectra.grid.GRID`), as relative reflectance.  A :class:`SensorBinding` is what
turns one scene's raw band values into that input, per pixel:

1. the scene's bands are resampled onto the grid (:class:`~hsigeo.spectra.grid.GridResampler`:
   band centres, FWHM when known, bad-band flags; grid bands the sensor does not cover are
   masked);
2. radiance scenes get the scene-level offset and gain estimated at binding time
   (:mod:`hsigeo.spectra.radiometry`);
3. each spectrum is divided by its mean over the covered bands (its shape), and, for a base
   model that reads albedo, that mean goes beside it as reflectance when the scene's scale is
   known (reflectance 0-1 or x 10000, :func:`~hsigeo.spectra.radiometry.reflectance_scale`;
   radiance and unknown scales leave the albedo channel empty, flagged as such).

Both users of the base model bind this way: the prompt-only :class:`~hsigeo.model.base.ZeroShotModel`
and the base-model input channels of a trained model (:class:`~hsigeo.model.prior.BasePrior`,
``hsigeo train --init base``).  The binding is plain data, saved as JSON in model files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hsigeo.errors import BandMismatchError, HsigeoError, ModelFileError
from hsigeo.spectra.grid import ALBEDO_CENTRE, GridResampler
from hsigeo.spectra.radiometry import estimate_correction, looks_like_radiance
from hsigeo.spectra.radiometry import reflectance_scale as reflectance_scale_of

__all__ = ["SensorBinding", "bind_sensor", "grid_features", "grid_features_tensor", "sample_pixels", "json_floats",
           "float_array"]

#: Fewest grid bands a sensor must cover for the base model to say anything.
MIN_GRID_BANDS = 10


def grid_features(x: np.ndarray, mask: np.ndarray, *, albedo: bool = False,
                  scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Base-network input of grid spectra ``(..., G)`` and whether each spectrum is usable.

    ``(..., 2G)``: shape and mask; with ``albedo``, ``(..., 2G + 2)``: plus the albedo channel
    and its flag (:func:`~hsigeo.spectra.grid.albedo_channels`; empty when ``scale`` is ``None``).
    NumPy in and out; the arithmetic is :func:`grid_features_tensor`'s, so every engine and
    device computes the same input.
    """
    f, ok = grid_features_tensor(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                                 torch.from_numpy(np.asarray(mask, dtype=bool)), albedo=albedo, scale=scale)
    return f.numpy(), ok.numpy()


def grid_features_tensor(x: torch.Tensor, mask: torch.Tensor, *, albedo: bool = False,
                         scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`grid_features` on tensors, on their device: ``x (..., G)`` float32, ``mask (G,)`` bool.

    The brightness normalisation of :func:`~hsigeo.spectra.grid.brightness_normalize` (spectrum
    over its mean on the covered bands; a spectrum whose mean is not positive is unusable and
    all zero) and the albedo channel of :func:`~hsigeo.spectra.grid.albedo_channels` (log of
    the mean as reflectance over :data:`~hsigeo.spectra.grid.ALBEDO_CENTRE`, and a flag).
    """
    m = mask.to(device=x.device, dtype=torch.bool).expand_as(x)
    mf = m.to(x.dtype)
    mean = (x * mf).sum(-1) / mf.sum(-1).clamp(min=1)
    ok = torch.isfinite(mean) & (mean > 0)
    safe = torch.where(ok, mean, torch.ones_like(mean)).unsqueeze(-1)
    xn = torch.where(m, x / safe, torch.zeros_like(x)) * ok.unsqueeze(-1)
    parts = [xn * mf, mf]
    if albedo:
        a = torch.zeros(x.shape[:-1] + (2,), dtype=x.dtype, device=x.device)
        if scale is not None:
            # float64 as in the NumPy form, so both give the same channel to float32 rounding
            refl = (mean.double() * float(scale)).clamp(1e-4, 10.0)
            a[..., 0] = torch.log(refl / ALBEDO_CENTRE).to(x.dtype)
            a[..., 1] = 1.0
        parts.append(a * ok.unsqueeze(-1))
    return torch.cat(parts, dim=-1), ok


def sample_pixels(scene: Any, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` valid pixel spectra ``(n, B)`` on a regular stride (a few reads on lazy scenes).

    ``seed`` is kept for the call signature's stability; the stride makes the draw deterministic.
    """
    shape = np.shape(scene)
    h, w = int(shape[1]), int(shape[2])
    step = max(1, int(np.sqrt(h * w / max(n, 1))))
    if hasattr(scene, "isel") and getattr(scene, "encoding", {}).get("source") and hasattr(scene, "rio"):
        # a scene on disk: one row at a time (a strided isel reads the whole cube first: 5 GB for an EMIT granule)
        from hsigeo.io.raster import sample_spectra

        flat = sample_spectra(scene, n, start=0)
    else:
        sub = scene.isel(y=slice(0, None, step), x=slice(0, None, step)).values if hasattr(scene, "isel") \
            else np.asarray(scene)[:, ::step, ::step]
        flat = np.asarray(sub, dtype=np.float32).reshape(sub.shape[0], -1).T
    ok = np.isfinite(flat).all(1) & (np.abs(flat).sum(1) > 0)
    return flat[ok]


def json_floats(a: Any) -> list[float] | None:
    """An optional array as a JSON list of floats."""
    return None if a is None else [float(v) for v in np.asarray(a, dtype=np.float64)]


def float_array(a: Any, dtype: Any = np.float32) -> np.ndarray | None:
    """An optional JSON list as an array."""
    return None if a is None else np.asarray(a, dtype=dtype)


@dataclass(frozen=True)
class SensorBinding:
    """How one sensor's raw band values become base-model input (see the module docstring).

    Attributes
    ----------
    resampler
        Scene bands -> grid.
    n_bands
        Bands of the scene it was bound to.
    wavelengths
        Their centres (nm).
    offset, gain
        Scene-level radiometric correction on the grid (``None``: reflectance, used as it is).
    radiometry
        ``"reflectance"`` or ``"radiance"`` (what binding decided or was told).
    albedo
        Whether the bound encoder reads the albedo channels (base models built since issue 21).
    scale
        Factor from the scene's units to reflectance 0-1 (``None``: unknown or radiance; the
        albedo channel stays empty).
    """

    resampler: GridResampler
    n_bands: int
    wavelengths: np.ndarray
    offset: np.ndarray | None
    gain: np.ndarray | None
    radiometry: str
    albedo: bool = False
    scale: float | None = None

    def features(self, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network input ``(h*w, F)`` and validity ``(h*w,)`` of a raw ``(B, h, w)`` block (NumPy).

        Non-finite values count as 0; an all-zero pixel (nodata, as the engines leave it) is invalid.
        """
        b = tile.shape[0]
        flat = torch.from_numpy(np.ascontiguousarray(np.asarray(tile, dtype=np.float32).reshape(b, -1).T))
        f, ok = self.features_tensor(flat)
        return f.numpy(), ok.numpy()

    def features_tensor(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`features` of raw pixels ``(N, B)`` on their own device (CPU or GPU), as tensors."""
        x = torch.nan_to_num(flat.to(torch.float32), nan=0.0, posinf=0.0, neginf=0.0)
        weights, mask, offset, gain = self._tensors(x.device)
        g = x @ weights.t()
        if offset is not None:
            g = ((g - offset) / gain).clamp(min=0.0)  # hsigeo.spectra.radiometry.apply_correction
        f, ok = grid_features_tensor(g, mask, albedo=self.albedo, scale=self.scale)
        ok = ok & (x.abs().sum(-1) > 0)
        return f * ok.unsqueeze(-1), ok

    def __getstate__(self) -> dict[str, Any]:
        # the per-device tensors are a cache: never pickled (a dask worker may have no GPU)
        return {k: v for k, v in self.__dict__.items() if k != "_device_tensors"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
        """The resampling weights, grid mask and correction as tensors on ``device`` (made once per device)."""
        cache = self.__dict__.setdefault("_device_tensors", {})  # frozen dataclass: a private cache
        key = str(device)
        if key not in cache:
            def t(a: Any) -> Any:
                return None if a is None else torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)

            cache[key] = (t(self.resampler.weights), torch.as_tensor(np.asarray(self.resampler.mask, dtype=bool),
                                                                      device=device), t(self.offset), t(self.gain))
        return cache[key]

    def digest_parts(self) -> list[bytes]:
        """Bytes that identify the binding (for model digests)."""
        parts = [self.resampler.weights.tobytes()]
        parts += [np.asarray(a).tobytes() for a in (self.offset, self.gain) if a is not None]
        if self.albedo:  # older bindings keep their digests
            parts.append(f"albedo {self.scale}".encode())
        return parts

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (model files)."""
        rs = self.resampler
        return {"n_bands": self.n_bands, "wavelengths": json_floats(rs.wavelengths), "fwhm": json_floats(rs.fwhm),
                "bad_band": None if rs.bad_band is None else [bool(b) for b in np.asarray(rs.bad_band)],
                "offset": json_floats(self.offset), "gain": json_floats(self.gain), "radiometry": self.radiometry,
                "albedo": self.albedo, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "model file") -> SensorBinding:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ModelFileError
            When the record is incomplete or inconsistent.
        """
        try:
            wl = np.asarray(d["wavelengths"], dtype=np.float64)
            rs = GridResampler(wl, float_array(d.get("fwhm"), np.float64), float_array(d.get("bad_band"), bool))
            offset, gain = float_array(d.get("offset")), float_array(d.get("gain"))
            n = int(d["n_bands"])
            albedo = bool(d.get("albedo", False))
            scale = None if d.get("scale") is None else float(d["scale"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{source}: its sensor binding is incomplete or damaged ({exc}).") from exc
        if wl.shape != (n,) or (offset is None) != (gain is None) \
                or (offset is not None and (offset.shape != rs.mask.shape or gain.shape != rs.mask.shape)):
            raise ModelFileError(f"{source}: its sensor binding does not fit together (bands, offset, gain).")
        return cls(rs, n, wl, offset, gain, str(d.get("radiometry", "reflectance")), albedo, scale)


def bind_sensor(scene: Any, *, reference: np.ndarray, library: np.ndarray | None = None, wavelengths: Any = None,
                fwhm: Any = None, bad_band: Any = None, radiometry: str = "auto", sample: int = 20000,
                seed: int = 0, pixels: np.ndarray | None = None, albedo: bool = False,
                reflectance_scale: Any = "auto") -> SensorBinding:
    """Bind a scene's bands (and radiometry) to the base model's grid.

    Parameters
    ----------
    scene
        A ``(band, y, x)`` DataArray (wavelengths, FWHM and bad-band flags are read from its
        coordinates), a ``(B, H, W)`` array, or ``None`` (then ``wavelengths`` is needed and
        the radiometry cannot be estimated).
    reference, library
        The base model's radiometric reference spectrum and library (pseudo-targets of the
        correction).
    wavelengths, fwhm, bad_band
        Override / supply the band centres (nm), widths and flags.
    radiometry
        ``"reflectance"``, ``"radiance"`` (estimate a scene-level offset and gain) or ``"auto"``
        (radiance when the scene shows deep 940/1130 nm water-vapour bands).
    sample, seed
        Pixels sampled to estimate the correction.
    pixels
        The scene's sampled spectra ``(n, B)`` (:func:`sample_pixels`) when the caller has
        them already, so a lazy scene is not read twice.
    albedo
        Whether the encoder reads the albedo channels.
    reflectance_scale
        Factor from the scene's units to reflectance 0-1, ``None`` (not known: albedo unread),
        or ``"auto"``: recognised from the sampled pixels of a reflectance scene
        (:func:`hsigeo.spectra.radiometry.reflectance_scale`); radiance scenes get ``None``.

    Raises
    ------
    HsigeoError
        When the scene has no wavelengths (the message says how to supply them), or
        ``"radiance"`` is asked without pixels.
    BandMismatchError
        When the bands cover fewer than 10 grid bands.
    """
    source = "the scene"
    if scene is not None and hasattr(scene, "coords"):
        source = scene.attrs.get("source", scene.name or "the scene")
        if wavelengths is None and "wavelength" in scene.coords:
            wavelengths = np.asarray(scene.coords["wavelength"].values, dtype=np.float64)
        if fwhm is None and "fwhm" in scene.coords:
            fwhm = np.asarray(scene.coords["fwhm"].values, dtype=np.float64)
        if bad_band is None and "bad_band" in scene.coords:
            bad_band = np.asarray(scene.coords["bad_band"].values, dtype=bool)
    n_bands = int(np.shape(scene)[0]) if scene is not None else (len(wavelengths) if wavelengths is not None else 0)
    if wavelengths is None or not np.isfinite(np.asarray(wavelengths, dtype=np.float64)).any():
        raise HsigeoError(
            f"{source}: no band wavelengths, so its pixels cannot be placed on the base model's 400-2450 nm grid. "
            "Supply them: in an ENVI header ('wavelength = {...}', 'wavelength units = Nanometers'), as GeoTIFF band "
            "descriptions/metadata read by hsigeo.open_hsi, or in Python with "
            "da.assign_coords(wavelength=('band', centres_nm)); or train a model on labels instead (hsigeo train)."
        )
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    if np.nanmax(wavelengths) < 10:  # micrometres
        wavelengths = wavelengths * 1000.0
        fwhm = None if fwhm is None else np.asarray(fwhm, dtype=np.float64) * 1000.0
    rs = GridResampler(wavelengths, None if fwhm is None else np.asarray(fwhm, dtype=np.float64), bad_band)
    if rs.mask.sum() < MIN_GRID_BANDS:
        raise BandMismatchError(
            f"{source}: its bands ({np.nanmin(wavelengths):.0f}-{np.nanmax(wavelengths):.0f} nm) cover only "
            f"{int(rs.mask.sum())} of the base model's grid bands (400-2450 nm); at least {MIN_GRID_BANDS} are needed."
        )
    if radiometry not in ("auto", "reflectance", "radiance"):
        raise ValueError(f"radiometry must be auto, reflectance or radiance, got {radiometry!r}")
    offset = gain = None
    mode = "reflectance" if radiometry == "auto" else radiometry
    auto_scale = isinstance(reflectance_scale, str)
    if auto_scale and reflectance_scale != "auto":
        raise ValueError(f"reflectance_scale must be 'auto', None or a number, got {reflectance_scale!r}")
    scale = None if auto_scale or reflectance_scale is None else float(reflectance_scale)
    grid = None
    if scene is not None and (radiometry != "reflectance" or (albedo and auto_scale)):
        grid = rs(sample_pixels(scene, sample, seed) if pixels is None else pixels)
        grid = grid[np.isfinite(grid).all(1) & (grid[:, rs.mask].mean(1) > 0)]
    if radiometry != "reflectance" and grid is not None:
        if grid.shape[0] >= 50:
            if radiometry == "radiance" or looks_like_radiance(grid, rs.mask):
                offset, gain = estimate_correction(grid, rs.mask, reference, library, seed=seed)
                mode = "radiance"
            else:
                mode = "reflectance"
    elif radiometry == "radiance":
        raise HsigeoError("radiometry='radiance' needs the scene's pixels to estimate the correction")
    if mode == "radiance":
        scale = None  # corrected radiance is relative reflectance: its level means nothing
    elif albedo and auto_scale and grid is not None and grid.shape[0]:
        scale = reflectance_scale_of(grid, rs.mask)
    return SensorBinding(rs, n_bands, wavelengths, offset, gain, mode, albedo, scale if albedo else None)
