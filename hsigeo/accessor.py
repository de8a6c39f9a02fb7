"""The ``.hsi`` DataArray accessor (registered when :mod:`hsigeo` is imported).

In the rioxarray style: methods return new objects and take keyword-only
options.  Works on scenes from :func:`hsigeo.io.raster.open_hsi` (dims
``("band", "y", "x")`` with a ``wavelength`` coordinate in nm), eager or
dask-backed::

    import hsigeo
    da = hsigeo.open_hsi("scene.tif", chunks={"y": 512, "x": 512})
    vnir = da.hsi.sel_wavelength(min=400, max=1000)
    clean = da.hsi.drop_bad_bands(ranges=hsigeo.accessor.WATER_ABSORPTION)
    stats = clean.hsi.band_stats().compute()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.errors import InvalidInputError

__all__ = ["HSIAccessor", "WATER_ABSORPTION"]

#: Atmospheric water-vapour absorption windows (nm) usually dropped from airborne data.
WATER_ABSORPTION: tuple[tuple[float, float], ...] = ((1340.0, 1450.0), (1790.0, 1960.0), (2450.0, float("inf")))


@xr.register_dataarray_accessor("hsi")
class HSIAccessor:
    """Hyperspectral helpers on a ``("band", "y", "x")`` DataArray (``da.hsi``)."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    # -- properties ------------------------------------------------------- #
    @property
    def wavelengths(self) -> np.ndarray:
        """Band centre wavelengths in nm (NaN where unknown; all NaN without the coordinate)."""
        da = self._obj
        if "wavelength" in da.coords:
            return np.asarray(da.coords["wavelength"].values, dtype="float64")
        return np.full(da.sizes.get("band", 0), np.nan)

    def _require_wavelengths(self, what: str) -> np.ndarray:
        wl = self.wavelengths
        if wl.size == 0 or not np.isfinite(wl).any():
            from hsigeo.errors import BandMismatchError

            src = self._obj.attrs.get("source", "this scene")
            raise BandMismatchError(
                f"{src}: {what} needs band wavelengths, but the file gives none; add 'wavelength' to the ENVI "
                "header or band metadata, or select bands by index with da.isel(band=...)."
            )
        return wl

    # -- selection -------------------------------------------------------- #
    def sel_wavelength(
        self,
        *,
        min: float | None = None,  # noqa: A002 - mirrors the documented API
        max: float | None = None,  # noqa: A002
        nearest: float | Sequence[float] | None = None,
    ) -> xr.DataArray:
        """Select bands by wavelength (nm).

        Parameters
        ----------
        min, max
            Keep bands with ``min <= wavelength <= max`` (either may be None).
        nearest
            A wavelength or a list of them: keep the band nearest to each (in
            the order given; duplicates are kept once).  Exclusive with
            ``min``/``max``.

        Returns
        -------
        xarray.DataArray
            The selected bands (lazy when the input is).
        """
        wl = self._require_wavelengths("sel_wavelength")
        if nearest is not None:
            if min is not None or max is not None:
                raise InvalidInputError("give nearest= or min=/max=, not both")
            targets = np.atleast_1d(np.asarray(nearest, dtype="float64"))
            finite = np.where(np.isfinite(wl), wl, np.inf)
            idx = [int(np.argmin(np.abs(finite - t))) for t in targets]
            idx = list(dict.fromkeys(idx))
            return self._obj.isel(band=idx)
        keep = np.isfinite(wl)
        if min is not None:
            keep &= wl >= float(min)
        if max is not None:
            keep &= wl <= float(max)
        return self._obj.isel(band=np.flatnonzero(keep))

    def drop_bad_bands(
        self,
        *,
        ranges: Sequence[tuple[float, float]] | None = None,
        use_flags: bool = True,
    ) -> xr.DataArray:
        """Drop bands flagged bad and/or lying in wavelength ranges.

        Parameters
        ----------
        ranges
            ``(low, high)`` nm windows to drop, inclusive, e.g.
            :data:`WATER_ABSORPTION` = 1340-1450, 1790-1960, 2450+.
        use_flags
            Drop bands whose ``bad_band`` coordinate is True.

        Returns
        -------
        xarray.DataArray
            The remaining bands.
        """
        da = self._obj
        drop = np.zeros(da.sizes["band"], dtype=bool)
        if use_flags and "bad_band" in da.coords:
            drop |= np.asarray(da.coords["bad_band"].values, dtype=bool)
        if ranges:
            wl = self._require_wavelengths("drop_bad_bands(ranges=...)")
            for lo, hi in ranges:
                drop |= (wl >= float(lo)) & (wl <= float(hi))
        if drop.all():
            raise InvalidInputError("drop_bad_bands would drop every band; check the ranges and the bad_band flags")
        return da.isel(band=np.flatnonzero(~drop))

    # -- statistics ------------------------------------------------------- #
    def valid_mask(self, **kwargs: Any) -> xr.DataArray:
        """Valid pixels (not nodata, NaN or inf); see :func:`hsigeo.io.raster.valid_mask`."""
        from hsigeo.io.raster import valid_mask

        return valid_mask(self._obj, **kwargs)

    def band_stats(self, *, mask: xr.DataArray | np.ndarray | None = None) -> xr.Dataset:
        """Per-band mean, std, min, max and count over valid pixels.

        Nodata, NaN and inf are ignored per band (a pixel missing in one band
        still counts in the others).  Lazy for dask-backed input: call
        ``.compute()`` on the result.

        Parameters
        ----------
        mask
            Optional bool ``(y, x)``: only pixels where it is True count.

        Returns
        -------
        xarray.Dataset
            Variables ``mean``, ``std`` (population), ``min``, ``max``
            (float64) and ``count`` (int64), each on ``band`` with the band
            coordinates (``wavelength``...).
        """
        da = self._obj
        data = da.astype("float64")
        ok = np.isfinite(data)
        nodata = da.rio.nodata if hasattr(da, "rio") else None
        if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
            ok = ok & (da != nodata)
        if mask is not None:
            # positional (no coordinates): a mask comes from the same grid, float coords may differ in the last bit
            raw = mask.data if isinstance(mask, xr.DataArray) else np.asarray(mask)
            ok = ok & xr.DataArray(raw, dims=("y", "x")).astype(bool)
        vals = data.where(ok)
        dims = ("y", "x")
        out = xr.Dataset(
            {
                "mean": vals.mean(dims, skipna=True),
                "std": vals.std(dims, skipna=True),
                "min": vals.min(dims, skipna=True),
                "max": vals.max(dims, skipna=True),
                "count": ok.sum(dims).astype("int64"),
            }
        )
        drop = [c for c in out.coords if c != "band" and "band" not in out.coords[c].dims]
        return out.drop_vars(drop)

    # -- models (delegated to hsigeo.inference) --------------------------- #
    def classify(self, model: Any = None, *, prompts: Any = None, threshold: float | None = None,
                 radiometry: str = "auto", adapt: bool | str = "auto", **kwargs: Any) -> Any:
        """Classify the scene lazily; see :func:`hsigeo.inference.distributed.classify_dataarray`.

        ``model`` is an :class:`~hsigeo.estimator.HsigeoClassifier` (e.g. from
        :func:`hsigeo.load_model`), an :class:`~hsigeo.model.classifier.HsigeoModel`, or the
        path of a ``.hsigeo`` file.  With ``prompts`` (a PromptSet or a prompts YAML path) and
        no model, or with the base model (``hsigeo.load_model("base")``), the scene is mapped
        from the words alone by the built-in base model (label-free; needs a ``wavelength``
        band coordinate).  ``threshold`` sets the unknown outcome (class 0): with ``adapt`` a share
        of each class's seed pixels (:class:`hsigeo.model.adapt.AdaptedModel`), without it the
        lowest best-class probability; ``radiometry`` is ``"auto"``, ``"reflectance"`` or ``"radiance"``
        (see :meth:`hsigeo.model.base.BaseModel.for_scene`); ``adapt`` adapts the prompt-only map
        to the scene by self-training on its own spectra (:mod:`hsigeo.model.adapt`): ``"auto"``
        (default: reflectance scenes, :data:`hsigeo.model.adapt.AUTO_CONFIG`), ``"on"``/``True``,
        ``"off"``/``False``, ``"endmembers"`` (on, first seeds weighted by the scene's named cluster means
        whatever the words' confidence in them: :data:`hsigeo.model.adapt.ENDMEMBER_CONFIG`), ``"plain"`` (on,
        three rounds from the base model's seeds: the default before round 11).
        """
        from hsigeo.inference.distributed import classify_dataarray

        if model is None and prompts is not None:
            model = "base"  # words alone: the built-in base model
        model = _as_model(model, bindable=True)
        if _needs_binding(model):
            if prompts is None:
                from hsigeo.errors import InvalidTypeError

                raise InvalidTypeError(
                    "classify needs a model, got the base model without prompts: pass prompts= to map the scene "
                    "from words alone, or hsigeo.load_model('model.hsigeo') / the path of a .hsigeo file.")
            from hsigeo.model.adapt import AdaptedModel, adapt_if_wanted

            model = adapt_if_wanted(adapt, model.for_scene(self._obj, prompts, radiometry=radiometry), self._obj,
                                    unknown=threshold)
            if not isinstance(model, AdaptedModel) and threshold is not None:
                model = model.with_threshold(threshold)
        elif prompts is not None and hasattr(model, "with_prompts"):
            from hsigeo.text.prompts import PromptSet, load_prompts

            model = model.with_prompts(prompts if isinstance(prompts, PromptSet) else load_prompts(prompts))
        return classify_dataarray(self._obj, model, **kwargs)

    def embed(self, model: Any, **kwargs: Any) -> Any:
        """Per-pixel embeddings; see :func:`hsigeo.inference.distributed.embed_dataarray`."""
        from hsigeo.inference.distributed import embed_dataarray

        return embed_dataarray(self._obj, _as_model(model), **kwargs)


def _needs_binding(model: Any) -> bool:
    """Whether ``model`` is of a registered model type that maps no classes until bound (the base model)."""
    from hsigeo.model.modelfile import MODEL_TYPES

    return any(type(model) is spec.python_type and not spec.fitted for spec in MODEL_TYPES.values())


def _as_model(model: Any, *, bindable: bool = False) -> Any:
    """The model the engines run, from an estimator, a model or a model-file path; a clear error otherwise.

    ``bindable``: a base model (bound to the scene by the caller) is accepted too.
    """
    from hsigeo.errors import InvalidTypeError
    from hsigeo.estimator import HsigeoClassifier

    if isinstance(model, HsigeoClassifier):
        return model.fitted_model()
    if isinstance(model, (str, os.PathLike)):
        from hsigeo.model.modelfile import load_model

        model = load_model(model)
    if bindable and _needs_binding(model):
        return model
    if model is None or not (hasattr(model, "classes") and hasattr(model, "predict_tile")):
        got = "None" if model is None else ("the base model (it needs prompts)" if _needs_binding(model)
                                            else type(model).__name__)
        raise InvalidTypeError(
            f"classify needs a model, got {got}: pass hsigeo.load_model('model.hsigeo') or the path of a "
            ".hsigeo file (train one with `hsigeo train`), or prompts= with the base model."
        )
    return model
