"""Tiny sensor products built to their published layouts (the document is named on each builder).

Shared by tests/io/test_products.py and the CLI end-to-end tests.  Every builder
writes the product's real file names, element/variable names, dtypes, band
order and scaling convention, with few pixels.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

ENMAP_STEM = "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z"
DESIS_STEM = "DESIS-HSI-L2A-DT0483531728_001-20200820T081024-V0210"
UTM33 = "EPSG:32633"


def _spectra(h: int, w: int, wl: np.ndarray, seed: int = 0) -> np.ndarray:
    """Smooth 0-1 reflectance spectra: vegetation-like left half, soil-like right half."""
    rng = np.random.default_rng(seed)
    veg = 0.05 + 0.4 / (1 + np.exp(-(wl - 715) / 12)) - 0.03 * np.exp(-((wl - 670) / 30) ** 2)
    soil = 0.1 + 0.25 * (wl - wl.min()) / (wl.max() - wl.min())
    out = np.empty((wl.size, h, w))
    out[:, :, : w // 2] = veg[:, None, None]
    out[:, :, w // 2:] = soil[:, None, None]
    return np.clip(out + rng.normal(0, 0.003, out.shape), 0, 1)


def enmap_l2a(folder: Path, h: int = 12, w: int = 10, *, zip_it: bool = False, stem: str = ENMAP_STEM) -> Path:
    """EnMAP HSI L2A (EN-PCV-ICD-2022-3 / EN-PCV-TN-4006): int16 x 10000, GainOfBand 1e-4, nodata -32768.

    224 bands stored VNIR (91, 418-993 nm) then SWIR (133, 902-2445 nm), so the
    stored order is *not* ascending across the detector overlap.  Pixel (0, 0)
    is nodata.  Returns the product folder (or zip).
    """
    vnir = np.linspace(418.42, 993.0, 91)
    swir = np.linspace(902.0, 2445.5, 133)
    wl = np.concatenate([vnir, swir])
    fwhm = np.concatenate([np.linspace(6.5, 8.0, 91), np.linspace(8.5, 10.5, 133)])
    refl = _spectra(h, w, wl)
    dn = np.round(refl * 10000).astype(np.int16)
    dn[:, 0, 0] = -32768
    d = folder / stem
    d.mkdir(parents=True)
    with rasterio.open(d / f"{stem}-SPECTRAL_IMAGE.TIF", "w", driver="GTiff", count=224, height=h, width=w,
                       dtype="int16", crs=UTM33, transform=from_origin(383000, 5820000, 30, 30),
                       nodata=-32768) as dst:
        dst.write(dn)
    bands = "".join(
        f'<bandID number="{i + 1}"><wavelengthCenterOfBand>{wl[i]:.3f}</wavelengthCenterOfBand>'
        f"<FWHMOfBand>{fwhm[i]:.3f}</FWHMOfBand><GainOfBand>0.0001</GainOfBand>"
        "<OffsetOfBand>0</OffsetOfBand></bandID>" for i in range(224))
    (d / f"{stem}-METADATA.XML").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><level_X><metadata><name>'
        f"{stem}-METADATA.XML</name></metadata><base><temporalCoverage>"
        "<startTime>2022-07-24T10:45:26.000Z</startTime><stopTime>2022-07-24T10:45:30.000Z</stopTime>"
        f"</temporalCoverage></base><specific><bandCharacterisation>{bands}</bandCharacterisation>"
        "</specific></level_X>")
    _enmap_quality(d, stem, h, w)
    if zip_it:
        z = folder / f"{stem}.ZIP"
        with zipfile.ZipFile(z, "w") as zf:
            for f in d.iterdir():
                zf.write(f, f"{stem}/{f.name}")
        return z
    return d


# flagged pixels of the EnMAP fixture's quality layers (rows, cols)
ENMAP_CLOUD = (slice(2, 5), slice(6, 9))
ENMAP_SHADOW = (slice(8, 10), slice(1, 3))
ENMAP_DEFECTIVE = (5, 5)


def _enmap_quality(d: Path, stem: str, h: int, w: int) -> None:
    """EnMAP L2A quality layers (EN-PCV-ICD-2022-3): ``-QL_QUALITY_CLOUD.TIF``, ``-QL_QUALITY_CLOUDSHADOW.TIF``.

    One uint8 band each on the image's grid, 1 = flagged, 0 = clear; ``-QL_PIXELMASK.TIF`` flags
    defective pixels per spectral band (one band each here; the reader flags a pixel defective in
    any band, so a single-band layout reads the same).  No SNOW/HAZE/CIRRUS layer: a product
    without some of its quality files.
    """
    grid = {"driver": "GTiff", "height": h, "width": w, "dtype": "uint8", "crs": UTM33,
            "transform": from_origin(383000, 5820000, 30, 30)}
    for part, where in (("QL_QUALITY_CLOUD", ENMAP_CLOUD), ("QL_QUALITY_CLOUDSHADOW", ENMAP_SHADOW)):
        flag = np.zeros((h, w), dtype=np.uint8)
        flag[where] = 1
        with rasterio.open(d / f"{stem}-{part}.TIF", "w", count=1, **grid) as dst:
            dst.write(flag, 1)
    defective = np.zeros((224, h, w), dtype=np.uint8)
    defective[(100, *ENMAP_DEFECTIVE)] = 1
    with rasterio.open(d / f"{stem}-QL_PIXELMASK.TIF", "w", count=224, **grid) as dst:
        dst.write(defective)


def desis_l2a(folder: Path, h: int = 9, w: int = 8) -> Path:
    """DESIS L2A (DLR DESIS product specification): 235 bands 401-999 nm, int16, gain 1e-4, background -32768."""
    wl = np.linspace(401.0, 999.0, 235)
    refl = _spectra(h, w, wl, seed=1)
    dn = np.round(refl * 10000).astype(np.int16)
    dn[:, -1, -1] = -32768
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(folder / f"{DESIS_STEM}-SPECTRAL_IMAGE.tif", "w", driver="GTiff", count=235, height=h,
                       width=w, dtype="int16", crs="EPSG:32635", transform=from_origin(500010, 4400010, 30, 30)) as dst:
        dst.write(dn)
    bands = "".join(
        f"<band><bandNumber>{i + 1}</bandNumber><wavelengthCenterOfBand>{wl[i]:.3f}</wavelengthCenterOfBand>"
        f"<wavelengthWidthOfBand>3.5</wavelengthWidthOfBand><gainOfBand>0.0001</gainOfBand>"
        "<offsetOfBand>0.0</offsetOfBand></band>" for i in range(235))
    (folder / f"{DESIS_STEM}-METADATA.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><hsi_doc><base><mission>DESIS</mission><sensor>HSI</sensor>'
        "<productType>L2A</productType><version>02.10</version><startTime>2020-08-20T08:10:24.000Z</startTime>"
        f"<backgroundValue>-32768</backgroundValue></base><specific><bandCharacterisation>{bands}"
        "</bandCharacterisation></specific></hsi_doc>")
    _desis_quality(folder, h, w)
    return folder


# flagged pixels of the DESIS fixture's QL_QUALITY-2 (band -> pixels)
DESIS_CLOUD_LAND = (slice(1, 3), slice(1, 3))
DESIS_CLOUD_WATER = (6, 5)
DESIS_SHADOW = (4, slice(0, 2))


def _desis_quality(folder: Path, h: int, w: int) -> None:
    """DESIS L2A ``-QL_QUALITY-2.tif`` (DESIS product specification, L2A quality layer): 10 uint8 bands.

    1 shadow, 2 land, 3 snow, 4 haze over land, 5 haze over water, 6 cloud over land,
    7 cloud over water, 8 water (1 = flagged), 9 aerosol optical thickness, 10 water vapour
    (values).  Land is set everywhere and AOT/water vapour are nonzero everywhere: neither
    may mask anything.
    """
    q = np.zeros((10, h, w), dtype=np.uint8)
    q[0][DESIS_SHADOW] = 1
    q[1] = 1
    q[5][DESIS_CLOUD_LAND] = 1
    q[6][DESIS_CLOUD_WATER] = 1
    q[8], q[9] = 12, 140
    with rasterio.open(folder / f"{DESIS_STEM}-QL_QUALITY-2.tif", "w", driver="GTiff", count=10, height=h, width=w,
                       dtype="uint8", crs="EPSG:32635", transform=from_origin(500010, 4400010, 30, 30)) as dst:
        dst.write(q)


# --------------------------------------------------------------------------- #
# EMIT L2A RFL (netCDF-4 / HDF5, written with h5py as netCDF-4 files are)
# --------------------------------------------------------------------------- #
EMIT_NAME = "EMIT_L2A_RFL_001_20230401T081519_2309106_004.nc"


def emit_wavelengths() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """285 EMIT bands 381-2493 nm, ~8.5 nm FWHM; good_wavelengths 0 over the deep water-vapour bands."""
    wl = np.linspace(381.0, 2493.0, 285)
    fwhm = np.full(285, 8.5)
    good = (~(((wl > 1320) & (wl < 1450)) | ((wl > 1770) & (wl < 1960)))).astype(np.uint8)
    return wl, fwhm, good


def emit_glt(ny: int, nx: int, down: int, cross: int, angle_deg: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A GLT for a swath rotated by ``angle_deg``: 1-based (glt_x, glt_y), 0 where no swath pixel falls."""
    r, c = np.mgrid[0:ny, 0:nx].astype(np.float64)
    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    a = np.deg2rad(angle_deg)
    dy, dx = r - cy, c - cx
    sy = np.rint(np.cos(a) * dy - np.sin(a) * dx + (down - 1) / 2).astype(np.int64)
    sx = np.rint(np.sin(a) * dy + np.cos(a) * dx + (cross - 1) / 2).astype(np.int64)
    inside = (sy >= 0) & (sy < down) & (sx >= 0) & (sx < cross)
    return np.where(inside, sx + 1, 0).astype(np.int32), np.where(inside, sy + 1, 0).astype(np.int32)


def _dims(f, names_sizes):
    import h5py  # noqa: F401

    scales = {}
    for name, size in names_sizes:
        d = f.create_dataset(name, data=np.arange(size, dtype=np.float32))
        d.make_scale(name)
        scales[name] = d
    return scales


def emit_l2a(folder: Path, down: int = 20, cross: int = 16, *, glt: bool = True, rows_per_write: int = 64,
             spectra=None, angle: float = 30.0, name: str = EMIT_NAME, mask: bool = False) -> Path:
    """EMIT L2A RFL granule (EMIT L2A ATBD / LP DAAC netCDF layout), tiny unless sizes are given.

    ``reflectance(downtrack, crosstrack, bands)`` float32 with ``_FillValue`` -9999;
    ``sensor_band_parameters/{wavelengths,fwhm,good_wavelengths}``;
    ``location/{glt_x,glt_y}(ortho_y, ortho_x)`` int32, 1-based, 0 = none; global
    ``geotransform`` and ``spatial_ref``.  Swath pixel (row, col) has the value
    ``0.1 + 0.001 * row + 0.0001 * col`` in band 0 (so placement is checkable), a
    vegetation spectrum elsewhere; swath pixel (0, 0) is fill.
    """
    import h5py

    wl, fwhm, good = emit_wavelengths()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    diag = int(np.ceil(np.hypot(down, cross))) + 2
    ny, nx = diag, diag
    with h5py.File(path, "w") as f:
        f.attrs["geotransform"] = np.array([30.0, 0.000542232520256, 0.0, 12.0, 0.0, -0.000542232520256])
        f.attrs["spatial_ref"] = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
                                  'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]')
        f.attrs["time_coverage_start"] = "2023-04-01T08:15:19+0000"
        f.attrs["product_version"] = "V001"
        f.attrs["processing_level"] = "L2A"
        dims = _dims(f, [("downtrack", down), ("crosstrack", cross), ("bands", 285)])
        refl = f.create_dataset("reflectance", shape=(down, cross, 285), dtype="float32",
                                chunks=(min(down, 64), min(cross, 64), 285), fillvalue=-9999.0)
        refl.attrs["_FillValue"] = np.float32(-9999.0)
        refl.attrs["units"] = "unitless"
        for i, d in enumerate(("downtrack", "crosstrack", "bands")):
            refl.dims[i].attach_scale(dims[d])
        veg = (0.05 + 0.4 / (1 + np.exp(-(wl - 715) / 12))).astype(np.float32)
        for r0 in range(0, down, rows_per_write):
            r1 = min(down, r0 + rows_per_write)
            if spectra is not None:
                block = spectra(r0, r1, cross)
            else:
                block = np.broadcast_to(veg, (r1 - r0, cross, 285)).copy()
                rr, cc = np.mgrid[r0:r1, 0:cross]
                block[:, :, 0] = 0.1 + 0.001 * rr + 0.0001 * cc
                if r0 == 0:
                    block[0, 0, :] = -9999.0
            refl[r0:r1] = block
        g = f.create_group("sensor_band_parameters")
        g.create_dataset("wavelengths", data=wl.astype(np.float32)).attrs["units"] = "nm"
        g.create_dataset("fwhm", data=fwhm.astype(np.float32)).attrs["units"] = "nm"
        g.create_dataset("good_wavelengths", data=good)
        if glt:
            loc = f.create_group("location")
            gx, gy = emit_glt(ny, nx, down, cross, angle)
            loc.create_dataset("glt_x", data=gx)
            loc.create_dataset("glt_y", data=gy)
    if mask:
        emit_mask(folder, down, cross, angle=angle, name=name.replace("_RFL_", "_MASK_"))
    return path


#: Swath rows the EMIT MASK fixture flags as cloud, and swath columns it flags as water.
EMIT_CLOUD_ROWS = range(5, 8)
EMIT_WATER_COLS = range(0, 2)
EMIT_MASK_BANDS = ["Cloud flag", "Cirrus flag", "Water flag", "Spacecraft Flag", "Dilated Cloud Flag", "AOD550",
                   "H2O (g cm-2)", "Aggregate Flag"]


def emit_mask(folder: Path, down: int, cross: int, *, angle: float = 30.0, name: str) -> Path:
    """EMIT L2A MASK granule (EMIT L2A Mask product, LP DAAC netCDF layout; same swath and GLT as the RFL).

    ``mask(downtrack, crosstrack, bands)`` float32, ``_FillValue`` -9999, band names in
    ``sensor_band_parameters/mask_bands``; flags 1 where set.  Cloud on swath rows
    :data:`EMIT_CLOUD_ROWS`, water on columns :data:`EMIT_WATER_COLS`, Aggregate = either;
    AOD550 0.1 and H2O 1.5 everywhere (values, never a mask); swath pixel (0, 0) is fill.
    """
    import h5py

    diag = int(np.ceil(np.hypot(down, cross))) + 2
    m = np.zeros((down, cross, 8), dtype=np.float32)
    m[list(EMIT_CLOUD_ROWS), :, 0] = 1
    m[:, list(EMIT_WATER_COLS), 2] = 1
    m[:, :, 5], m[:, :, 6] = 0.1, 1.5
    m[:, :, 7] = np.maximum(m[:, :, 0], m[:, :, 2])
    m[0, 0, :] = -9999.0
    path = folder / name
    with h5py.File(path, "w") as f:
        f.attrs["geotransform"] = np.array([30.0, 0.000542232520256, 0.0, 12.0, 0.0, -0.000542232520256])
        dims = _dims(f, [("downtrack", down), ("crosstrack", cross), ("bands", 8)])
        ds = f.create_dataset("mask", data=m, fillvalue=-9999.0)
        ds.attrs["_FillValue"] = np.float32(-9999.0)
        for i, d in enumerate(("downtrack", "crosstrack", "bands")):
            ds.dims[i].attach_scale(dims[d])
        g = f.create_group("sensor_band_parameters")
        g.create_dataset("mask_bands", data=np.array(EMIT_MASK_BANDS, dtype=h5py.string_dtype()))
        loc = f.create_group("location")
        gx, gy = emit_glt(diag, diag, down, cross, angle)
        loc.create_dataset("glt_x", data=gx)
        loc.create_dataset("glt_y", data=gy)
    return path


# --------------------------------------------------------------------------- #
# PRISMA L2D (HDF-EOS5)
# --------------------------------------------------------------------------- #
PRISMA_NAME = "PRS_L2D_STD_20200209102459_20200209102503_0001.he5"


def prisma_bands() -> dict[str, np.ndarray]:
    """PRISMA band tables in *stored* order (descending wavelength), as the PSD lists them.

    VNIR: 66 slots, the first 3 not delivered (centre 0, flag 0), then 63 bands 1010 -> 402 nm.
    SWIR: 173 slots, 171 bands 2497 -> 920 nm, the last 2 not delivered.
    """
    v = np.concatenate([np.zeros(3), np.linspace(1010.0, 402.0, 63)])
    vf = np.concatenate([np.zeros(3), np.ones(63)]).astype(np.int8)
    s = np.concatenate([np.linspace(2497.0, 920.0, 171), np.zeros(2)])
    sf = np.concatenate([np.ones(171), np.zeros(2)]).astype(np.int8)
    return {"vnir": v, "vnir_flags": vf, "vnir_fwhm": np.where(v > 0, 11.0, 0.0),
            "swir": s, "swir_flags": sf, "swir_fwhm": np.where(s > 0, 9.5, 0.0)}


def prisma_l2d(folder: Path, rows: int = 14, cols: int = 12, *, zip_it: bool = False,
               materials: bool = False) -> Path:
    """PRISMA L2D (ASI PRISMA Product Specification Document, L2D HDF-EOS5).

    ``VNIR_Cube``/``SWIR_Cube`` uint16 ``(rows, bands, cols)`` in stored (descending) band
    order; DN = (reflectance - Min) / (Max - Min) * 65535 with L2ScaleVnir 0..1 and
    L2ScaleSwir 0..0.5; UTM 32N, corner attributes at pixel centres (30 m).  Row 0,
    column 0 is all-zero (outside the swath).  The DN of stored VNIR slot ``k`` at
    (r, c) is ``1000 * k + 10 * r + c`` (so band order and placement are checkable); with
    ``materials``, the DNs encode the vegetation (left half) / soil (right half) spectra of
    :func:`_spectra` instead, through the same scaling.
    """
    import h5py

    b = prisma_bands()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PRISMA_NAME
    rr, cc = np.mgrid[0:rows, 0:cols]
    vnir = np.stack([1000 * k + 10 * rr + cc for k in range(66)], axis=1).astype(np.uint16)
    swir = np.stack([20000 + 100 * k + 10 * rr + cc for k in range(173)], axis=1).astype(np.uint16)
    if materials:
        for cube, centres, top in ((vnir, b["vnir"], 1.0), (swir, b["swir"], 0.5)):
            refl = _spectra(rows, cols, np.where(centres > 0, centres, 1000.0), seed=2)  # (bands, rows, cols)
            cube[:] = np.clip(np.round(refl / top * 65535), 1, 65535).transpose(1, 0, 2).astype(np.uint16)
    vnir[0, :, 0] = 0
    swir[0, :, 0] = 0
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["List_Cw_Vnir"] = b["vnir"].astype(np.float32)
        a["List_Cw_Vnir_Flags"] = b["vnir_flags"]
        a["List_Fwhm_Vnir"] = b["vnir_fwhm"].astype(np.float32)
        a["List_Cw_Swir"] = b["swir"].astype(np.float32)
        a["List_Cw_Swir_Flags"] = b["swir_flags"]
        a["List_Fwhm_Swir"] = b["swir_fwhm"].astype(np.float32)
        a["L2ScaleVnirMin"], a["L2ScaleVnirMax"] = np.float32(0.0), np.float32(1.0)
        a["L2ScaleSwirMin"], a["L2ScaleSwirMax"] = np.float32(0.0), np.float32(0.5)
        a["Epsg_Code"] = np.int32(32632)
        a["Product_ULcorner_easting"], a["Product_ULcorner_northing"] = 500015.0, 5000015.0
        a["Product_LRcorner_easting"] = 500015.0 + 30.0 * (cols - 1)
        a["Product_LRcorner_northing"] = 5000015.0 - 30.0 * (rows - 1)
        a["Product_StartTime"] = np.bytes_("2020-02-09T10:24:59.000")
        a["Processor_Version"] = np.bytes_("3.9-3")
        a["Product_ID"] = np.bytes_("PRS_L2D_STD")
        g = f.create_group("HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields")
        g.create_dataset("VNIR_Cube", data=vnir)
        g.create_dataset("SWIR_Cube", data=swir)
        f.create_group("HDFEOS/SWATHS/PRS_L2D_HCO/Geolocation Fields")
    if zip_it:
        z = folder / (PRISMA_NAME[:-4] + ".zip")
        with zipfile.ZipFile(z, "w") as zf:
            zf.write(path, PRISMA_NAME)
        path.unlink()
        return z
    return path


# --------------------------------------------------------------------------- #
# AVIRIS-NG L2 reflectance (ENVI)
# --------------------------------------------------------------------------- #
AVIRIS_NAME = "ang20170228t170016_rfl_v2p5_img"


def aviris_ng_l2(folder: Path, h: int = 12, w: int = 10) -> Path:
    """AVIRIS-NG L2 reflectance (AVIRIS-NG Distribution Document): ENVI BIL float32 0-1, 425 bands.

    Header with ``wavelength units = Nanometers``, ``fwhm``, ``data ignore value = -9999`` and a UTM
    ``map info`` (5 m); vegetation left half, soil right half (:func:`_spectra`); pixel (0, 0) is
    the ignore value.  Returns the data file.
    """
    wl = np.linspace(376.86, 2500.0, 425)
    refl = _spectra(h, w, wl, seed=3).astype("<f4")
    refl[:, 0, 0] = -9999.0
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / AVIRIS_NAME
    refl.transpose(1, 0, 2).tofile(path)  # BIL: line, band, sample
    (folder / f"{AVIRIS_NAME}.hdr").write_text(
        f"ENVI\ndescription = {{AVIRIS-NG reflectance}}\nsamples = {w}\nlines = {h}\nbands = 425\n"
        "header offset = 0\nfile type = ENVI Standard\ndata type = 4\ninterleave = bil\nbyte order = 0\n"
        "map info = {UTM, 1, 1, 724522.0, 4074620.0, 5.0, 5.0, 11, North, WGS-84, units=Meters}\n"
        "wavelength units = Nanometers\ndata ignore value = -9999\n"
        "wavelength = {" + ", ".join(f"{v:.2f}" for v in wl) + "}\n"
        "fwhm = {" + ", ".join("5.5" for _ in wl) + "}\n")
    return path


def emit_materials(r0: int, r1: int, cross: int) -> np.ndarray:
    """``spectra`` for :func:`emit_l2a`: vegetation in the left half of the swath's columns, soil in the right."""
    wl, _, _ = emit_wavelengths()
    refl = _spectra(r1 - r0, cross, wl, seed=4).astype(np.float32)  # (bands, rows, cols)
    block = refl.transpose(1, 2, 0).copy()
    if r0 == 0:
        block[0, 0, :] = -9999.0
    return block
