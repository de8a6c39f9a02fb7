"""``hsigeo info``: describe a scene, a classification raster or a model file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

_MODEL_SUFFIXES = (".hsigeo",)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def info(path: Path) -> None:
    """Describe PATH: a hyperspectral scene (bands, wavelengths, CRS, size, nodata),
    a classification raster (its classes) or a model file (classes, configuration,
    training summary, parameter counts)."""
    import zipfile

    # model files are zip archives (or a folder holding their two members)
    is_model = (path.suffix.lower() in _MODEL_SUFFIXES or (path.is_dir() and (path / "metadata.json").exists())
                or (path.is_file() and zipfile.is_zipfile(path)))
    if is_model:
        _model_info(path)
    else:
        _raster_info(path)


# --------------------------------------------------------------------------- #
# Rasters
# --------------------------------------------------------------------------- #
def _raster_info(path: Path) -> None:
    import numpy as np

    from hsigeo.errors import RasterReadError
    from hsigeo.io.raster import open_hsi

    try:
        da = open_hsi(path)
    except RasterReadError as exc:
        # a single-band raster: most likely a classification or label map
        if "band(s)" in str(exc):
            _classification_info(path)
            return
        raise
    count, height, width = (int(s) for s in da.shape)
    res = da.rio.resolution()
    _line("file", str(path))
    _line("driver", str(da.attrs.get("driver", "")))
    _product_lines(da)
    _line("size", f"{width} x {height} pixels ({width * height / 1e6:.2f} megapixels), {count} bands, "
                  f"{da.dtype}")
    _line("pixel size", f"{abs(res[0]):g} x {abs(res[1]):g}" + _units(da))
    _line("CRS", _crs_text(da.rio.crs) + (f"  ({da.attrs['crs_note']})" if "crs_note" in da.attrs else ""))
    b = da.rio.bounds()
    _line("bounds", f"{b[0]:.3f}, {b[1]:.3f}, {b[2]:.3f}, {b[3]:.3f} (left, bottom, right, top)")
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    _line("nodata", "none" if nodata is None else f"{nodata:g}")
    wl = np.asarray(da.coords["wavelength"].values, dtype=float)
    known = wl[np.isfinite(wl)]
    if known.size:
        step = np.median(np.diff(np.sort(known))) if known.size > 1 else math.nan
        _line("wavelengths", f"{known.min():.1f}-{known.max():.1f} nm, {known.size} of {count} bands known"
                             + (f", median step {step:.2f} nm" if math.isfinite(step) else ""))
    else:
        _line("wavelengths", f"unknown for all {count} bands (models will match bands by count only; "
                             "add them with `hsigeo set-wavelengths`)")
    if "fwhm" in da.coords:
        fw = np.asarray(da.coords["fwhm"].values, dtype=float)
        fw = fw[np.isfinite(fw)]
        if fw.size:
            _line("FWHM", f"{fw.min():.2f}-{fw.max():.2f} nm")
    if "bad_band" in da.coords:
        bad = np.asarray(da.coords["bad_band"].values, dtype=bool)
        _line("bad bands", f"{int(bad.sum())} flagged" + (f" ({_band_ranges(np.flatnonzero(bad) + 1)})"
                                                           if bad.any() else ""))


def _product_lines(da: Any) -> None:
    """Which product this is, what was read from where, how values were scaled and what they look like."""
    from hsigeo.io.products.scaling import sample_median, value_scale

    a = da.attrs
    if "sensor" in a:
        extra = ", ".join(f"{k.replace('_', ' ')} {a[k]}" for k in ("acquisition_time", "processing_version")
                          if a.get(k))
        _line("product", f"{a['sensor']} {a.get('product_level', '')}".strip()
              + (f" ({a['product_id']})" if a.get("product_id") else "") + (f"; {extra}" if extra else ""))
    if a.get("read_from"):
        _line("read", a["read_from"])
    if a.get("scaling"):
        _line("scaling", a["scaling"])
    if "sensor" in a:
        _line("quality", f"{a['quality_layers']} (mask them with --product-mask)" if a.get("quality_layers")
              else "no quality layers found beside the product")
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
    _line("values", a.get("values_note") or value_scale(sample_median(da.encoding.get("source", a["source"]),
                                                                       nodata, bad)))


def _classification_info(path: Path) -> None:
    import rasterio

    from hsigeo.io.classmaps import read_class_table

    with rasterio.open(path) as src:
        _line("file", str(path))
        _line("size", f"{src.width} x {src.height} pixels, {src.count} band, {src.dtypes[0]}")
        _line("CRS", _crs_text(src.crs))
        _line("nodata", "none" if src.nodata is None else f"{src.nodata:g}")
        run = src.tags().get("HSIGEO_RUN")
    table = read_class_table(path)
    _line("classes", f"{len(table)}" if table else "none named (not an hsigeo classification raster?)")
    for e in table:
        click.echo(f"    {e.value:>5}  {e.colour_hex}  {e.name}")
    if run:
        _line("made by", run)


def _crs_text(crs: Any) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    name = crs.to_dict().get("proj", "") if epsg is None else ""
    try:
        from pyproj import CRS

        name = CRS.from_user_input(crs.to_wkt()).name
    except Exception:  # noqa: BLE001 - the name is decoration
        pass
    return f"EPSG:{epsg} ({name})" if epsg else (name or crs.to_string())


def _units(da: Any) -> str:
    crs = da.rio.crs
    if crs is None:
        return " (pixel units)"
    try:
        return f" {crs.linear_units}" if crs.is_projected else " degrees"
    except Exception:  # noqa: BLE001
        return ""


def _band_ranges(bands: Any) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts: list[str] = []
    start = prev = None
    for b in list(bands) + [None]:
        if start is None:
            start = prev = b
        elif b is not None and b == prev + 1:
            prev = b
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = b
    return ", ".join(parts)


# --------------------------------------------------------------------------- #
# Models
# --------------------------------------------------------------------------- #
def _model_info(path: Path) -> None:
    import numpy as np

    from hsigeo.model.modelfile import load_model, model_type_of, read_metadata
    from hsigeo.spectra.grid import coverage_text

    # the bounded reader of every model type: metadata first, then the model (checked against it)
    meta = read_metadata(path)
    model = load_model(path)
    spec = model_type_of(model)
    _line("file", f"{path}  (format {meta.get('format_version')}, hsigeo {meta.get('hsigeo_version', '?')}, "
                  f"created {meta.get('created', '?')})")
    _line("model type", spec.name)
    if not spec.fitted:
        _base_info(model, meta)
        return
    _line("bands", f"{model.n_bands}")
    wl = model.wavelengths
    if wl is not None and np.isfinite(wl).any():
        _line("wavelengths", f"{np.nanmin(wl):.1f}-{np.nanmax(wl):.1f} nm ({int(np.isfinite(wl).sum())} known)")
    else:
        _line("wavelengths", "unknown (scenes are matched by band count only)")
    svm = getattr(model, "svm", None)  # an SVM or SVM + network model (hsigeo train --method svm|ensemble)
    net = model.net if svm is not None else model
    if svm is not None:
        fit = svm.info
        _line("method", f"{model.method}: RBF SVM ({svm.support_vectors.shape[0]} support vectors, C {fit.get('C', 0):g}, "
                        f"gamma {svm.gamma:.3g})" + ("" if net is None else f" + network, SVM weight {model.svm_weight:g}, "
                                                              f"{getattr(model, 'fusion', 'mean')} fusion"))
        cnn = getattr(model, "cnn", None)
        if cnn is not None:
            _line("CNN member", f"{cnn.patch} x {cnn.patch} patches of {cnn.basis.shape[0]} PCA components, "
                                f"{cnn.n_trainable:,} parameters, weight {model.cnn_weight:g}")
        members = (model.report or {}).get("members")
        if members:
            from hsigeo.model.fold_check import describe_members

            _line("members", describe_members(members))
        selftrained = (model.report or {}).get("self_training")
        if selftrained:
            _line("self-trained", f"the SVM refitted with {selftrained['n_added']} confidently mapped pixels of the "
                                   f"training scene (at most {selftrained['factor']:g}x each class's training pixels)")
    if getattr(net, "config", None) is not None:
        side = 2 * net.config.radius + 1
        _line("patch", f"{side} x {side} pixels (tiles need a {model.radius}-pixel halo)")
    else:
        _line("patch", f"per pixel (tiles need a {model.radius}-pixel halo for the spatial filter)")
    sp = getattr(model, "spatial", None)
    # an ensemble's filter depends on the scene (hsigeo.model.selection): say why it is what it is
    chosen_filter = (model.report or {}).get("spatial_filter") if svm is not None else None
    why = ""
    if chosen_filter:
        cv = chosen_filter.get("svm_cv_accuracy")
        why = f"; {chosen_filter['rule']}" + (f" (SVM cross-validated accuracy {100 * cv:.1f} %)" if cv is not None else "")
    if sp is not None:
        _line("filter", f"edge-aware, {2 * sp.radius + 1} x {2 * sp.radius + 1} neighbourhood, tau {sp.tau:g}, "
                        f"{sp.groups} band groups{why}")
    elif chosen_filter:
        _line("filter", f"none{why}")
    else:
        _line("filter", "none (per-pixel map)" if net is None else "none")
    pr = getattr(net, "prior", None)
    if net is not None and hasattr(net, "prior"):  # trained networks only (a zero-shot model is the base model)
        _line("base input", "none (--init scratch)" if pr is None else
              f"{pr.dim} channels of the base model's embedding (frozen, {pr.source.get('name', 'base')}), "
              f"radiometry {pr.binding.radiometry}, grid coverage {coverage_text(pr.binding.resampler.mask)}")
    _line("classes", f"{len(model.classes)}")
    for c in model.classes:
        click.echo(f"    {c.value:>5}  {'#{:02x}{:02x}{:02x}'.format(*c.colour)}  {c.name}"
                   + (f"  ({len(c.prompts)} prompt{'s' if len(c.prompts) != 1 else ''})" if c.prompts else ""))
    config = getattr(net, "config", None)
    if config is not None:
        _line("config", "")
        for k, v in config.to_dict().items():
            click.echo(f"    {k}: {v}")
    counts = model.n_parameters()
    _line("parameters", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    tm = getattr(net, "text_model", None) or {}
    if tm:
        _line("text model", f"{tm.get('id', '?')} ({tm.get('dim', '?')}-d, prompts combined by "
                            f"{tm.get('combine', '?')})")
    if hasattr(net, "temperature"):
        _line("temperature", f"{net.temperature:.2f}")
    report = model.report or {}
    if report:
        _line("training", "")
        for k, v in report.items():
            if isinstance(v, (dict, list)) and len(str(v)) > 160:
                continue  # per-epoch histories and matrices do not fit a summary
            click.echo(f"    {k}: {_fmt(v)}")
    else:
        _line("training", "no report (untrained or made outside `hsigeo train`)")


def _base_info(model: Any, meta: dict[str, Any]) -> None:
    """A base model: what it reads, its text model, its default threshold and its sources."""
    from hsigeo.model.base import net_members, net_sizes

    n_grid, text_dim, hidden, embed_dim = net_sizes(meta)
    k = net_members(meta)
    members = f"{k} networks from different seeds, their similarities averaged; each " if k > 1 else ""
    grid = meta.get("grid") or []
    span = f", {min(grid):.0f}-{max(grid):.0f} nm" if grid else ""
    _line("input", f"any sensor's spectra resampled onto its {n_grid}-band grid{span} (bind it to a scene and "
                   "prompts: hsigeo classify SCENE --prompts PROMPTS.yaml)")
    _line("network", f"{members}{text_dim}-d text, {hidden} hidden, {embed_dim}-d joint space; "
                     f"{sum(p.numel() for p in model.net.parameters()):,} parameters")
    tm = meta.get("text_model") or {}
    if isinstance(tm, dict) and tm:
        dim = f" ({tm['dim']}-d)" if tm.get("dim") else ""
        _line("text model", f"{tm.get('name') or tm.get('id') or '?'}{dim}")
    _line("threshold", f"{model.threshold:g} (pixels below it are left unknown, class 0)")
    sources = meta.get("sources")
    if isinstance(sources, dict) and sources:
        _line("sources", ", ".join(f"{k} {v.get('version', '')}".strip() if isinstance(v, dict) else str(k)
                                   for k, v in sources.items()))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _line(key: str, value: str) -> None:
    click.echo(f"{key + ':':<14}{value}")
