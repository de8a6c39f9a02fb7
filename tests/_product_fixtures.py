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


def enmap_l2a(folder: Path, h: int = 12, w: int = 10, *, zip_it: bool = False) -> Path:
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
    d = folder / ENMAP_STEM
    d.mkdir(parents=True)
    with rasterio.open(d / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF", "w", driver="GTiff", count=224, height=h, width=w,
                       dtype="int16", crs=UTM33, transform=from_origin(383000, 5820000, 30, 30),
                       nodata=-32768) as dst:
        dst.write(dn)
    bands = "".join(
        f'<bandID number="{i + 1}"><wavelengthCenterOfBand>{wl[i]:.3f}</wavelengthCenterOfBand>'
        f"<FWHMOfBand>{fwhm[i]:.3f}</FWHMOfBand><GainOfBand>0.0001</GainOfBand>"
        "<OffsetOfBand>0</OffsetOfBand></bandID>" for i in range(224))
    (d / f"{ENMAP_STEM}-METADATA.XML").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><level_X><metadata><name>'
        f"{ENMAP_STEM}-METADATA.XML</name></metadata><base><temporalCoverage>"
        "<startTime>2022-07-24T10:45:26.000Z</startTime><stopTime>2022-07-24T10:45:30.000Z</stopTime>"
        f"</temporalCoverage></base><specific><bandCharacterisation>{bands}</bandCharacterisation>"
        "</specific></level_X>")
    (d / f"{ENMAP_STEM}-QL_QUALITY_CLOUD.TIF").write_bytes(b"")  # present in products, not read
    if zip_it:
        z = folder / f"{ENMAP_STEM}.ZIP"
        with zipfile.ZipFile(z, "w") as zf:
            for f in d.iterdir():
                zf.write(f, f"{ENMAP_STEM}/{f.name}")
        return z
    return d


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
    return folder
