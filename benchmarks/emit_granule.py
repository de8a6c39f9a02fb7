"""A full-size synthetic EMIT L2A granule: time and peak memory of the two ways to map it.

Builds an EMIT L2A RFL netCDF with the real granule's size (1,280 downtrack x
1,242 crosstrack x 285 bands, float32, 1.8 GB) and layout (tests/_product_fixtures.py
``emit_l2a``), its swath rotated 30 degrees in the north-up GLT grid, and four
materials in 64-pixel blocks with mixing and noise.  Then, each step in its own
process under ``/usr/bin/time -v`` (wall time and peak RSS):

ortho-the-cube (what ``hsigeo classify granule.nc`` does)
    1. ``open_hsi`` writes the north-up cube through the GLT into the cache;
    2. ``hsigeo classify granule.nc --prompts p.yaml``.

swath-classify-then-ortho (the alternative)
    1. the swath cube written as a (band, y, x) GeoTIFF without georeferencing;
    2. ``hsigeo classify swath.tif --prompts p.yaml``;
    3. the class map placed north-up through the GLT (``glt_gather``).

and the agreement of the two north-up class maps.  Usage::

    python benchmarks/emit_granule.py --work /tmp/emit_bench [--down 1280 --cross 1242] [--build-only]

Prints a JSON record and a Markdown table row; writes benchmarks/results/emit_granule.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

PROMPTS = """\
name: emit_bench
classes:
  - name: Vegetation
    value: 1
    colour: "#2ca02c"
    prompts: ["Dense green vegetation canopy with a strong red edge and a high near-infrared plateau."]
  - name: Bare soil
    value: 2
    colour: "#8c564b"
    prompts: ["Dry bare soil whose reflectance rises smoothly from the visible to the shortwave infrared."]
  - name: Water
    value: 3
    colour: "#1f77b4"
    prompts: ["Open water, dark at every wavelength, slightly brighter in the blue and near zero beyond 900 nm."]
  - name: Roofs
    value: 4
    colour: "#7f7f7f"
    prompts: ["Grey concrete and asphalt roofs, flat moderately bright spectrum without a red edge."]
"""


def _materials(wl: np.ndarray) -> np.ndarray:
    veg = 0.04 + 0.42 / (1 + np.exp(-(wl - 715) / 12)) - 0.25 * np.clip((wl - 1400) / 1100, 0, 1)
    soil = 0.08 + 0.28 * np.clip((wl - 400) / 1800, 0, 1)
    water = 0.06 * np.exp(-(wl - 450) / 150)
    roof = np.full_like(wl, 0.18)
    return np.stack([veg, soil, water, roof]).astype(np.float32)


def build(work: Path, down: int, cross: int) -> Path:
    from _product_fixtures import EMIT_NAME, emit_l2a, emit_wavelengths

    nc = work / EMIT_NAME
    if nc.is_file():
        return nc
    wl = emit_wavelengths()[0]
    mats = _materials(wl)
    rng = np.random.default_rng(0)

    def spectra(r0: int, r1: int, n: int) -> np.ndarray:
        rr, cc = np.mgrid[r0:r1, 0:n]
        kind = ((rr // 64) + 3 * (cc // 64)) % 4
        other = (kind + 1) % 4
        frac = (0.7 + 0.3 * rng.random(kind.shape)).astype(np.float32)[..., None]
        out = mats[kind] * frac + mats[other] * (1 - frac)
        return out + rng.normal(0, 0.004, out.shape).astype(np.float32)

    t = time.perf_counter()
    emit_l2a(work, down=down, cross=cross, spectra=spectra, rows_per_write=64)
    print(f"built {nc} ({nc.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return nc


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd`` under /usr/bin/time -v: wall seconds and peak RSS (MB)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 1024
    return {"seconds": round(wall, 1), "peak_rss_mb": round(peak)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the granule, cache and outputs")
    ap.add_argument("--down", type=int, default=1280)
    ap.add_argument("--cross", type=int, default=1242)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build-only", action="store_true",
                    help="write the granule and p.yaml into --work and stop (for a measurement of its own)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    nc = build(args.work, args.down, args.cross)
    (args.work / "p.yaml").write_text(PROMPTS)
    if args.build_only:
        print(nc)
        return
    env = {**os.environ, "HSIGEO_CACHE_DIR": str(args.work / "cache"), "OMP_NUM_THREADS": str(args.threads),
           "HSIGEO_PROGRESS": "off"}
    py = sys.executable
    hsigeo = str(Path(py).with_name("hsigeo"))
    rec: dict[str, object] = {"granule": f"{args.down} x {args.cross} x 285", "file_gb": round(nc.stat().st_size / 1e9, 2)}
    for f in (args.work / "ortho.tif", args.work / "swath.tif", args.work / "swath_classes.tif"):
        f.unlink(missing_ok=True)

    # ortho-the-cube
    rec["ortho_open"] = timed([py, "-c", f"import hsigeo; d = hsigeo.open_hsi({str(nc)!r}); print(d.shape)"], env)
    rec["ortho_classify"] = timed([hsigeo, "classify", str(nc), "--prompts", str(args.work / "p.yaml"),
                                   "-o", str(args.work / "ortho.tif"), "--threads", str(args.threads)], env)
    # swath-classify-then-ortho
    rec["swath_write"] = timed([py, str(HERE / "emit_granule.py"), "--_swath", str(nc), str(args.work / "swath.tif")],
                               env)
    rec["swath_classify"] = timed([hsigeo, "classify", str(args.work / "swath.tif"), "--prompts",
                                   str(args.work / "p.yaml"), "-o", str(args.work / "swath_classes.tif"),
                                   "--threads", str(args.threads)], env)
    rec["swath_ortho_map"] = timed([py, str(HERE / "emit_granule.py"), "--_ortho_map", str(nc),
                                    str(args.work / "swath_classes.tif"), str(args.work / "swath_ortho.npy")], env)
    import rasterio

    with rasterio.open(args.work / "ortho.tif") as src:
        a = src.read(1)
        rec["ortho_pixels"] = int(a.size)
    b = np.load(args.work / "swath_ortho.npy")
    both = (a > 0) & (b > 0)
    rec["filled_pixels"] = int((b > 0).sum())
    rec["agreement"] = round(float((a[both] == b[both]).mean()), 4)
    rec["ortho_total_s"] = round(rec["ortho_open"]["seconds"] + rec["ortho_classify"]["seconds"], 1)
    rec["swath_total_s"] = round(rec["swath_write"]["seconds"] + rec["swath_classify"]["seconds"]
                                 + rec["swath_ortho_map"]["seconds"], 1)
    rec["date"] = time.strftime("%Y-%m-%d")
    rec["command"] = "python benchmarks/emit_granule.py --work " + str(args.work)
    print(json.dumps(rec, indent=1))
    out = HERE / "results" / "emit_granule.json"
    out.write_text(json.dumps(rec, indent=1) + "\n")
    print(f"| EMIT L2A {rec['granule']} ({rec['file_gb']} GB) | ortho the cube | {rec['ortho_total_s']} s "
          f"(GLT {rec['ortho_open']['seconds']} s + classify {rec['ortho_classify']['seconds']} s) | "
          f"{max(rec['ortho_open']['peak_rss_mb'], rec['ortho_classify']['peak_rss_mb'])} MB |")
    print(f"| EMIT L2A {rec['granule']} | classify the swath, ortho the map | {rec['swath_total_s']} s "
          f"(swath TIF {rec['swath_write']['seconds']} s + classify {rec['swath_classify']['seconds']} s + map "
          f"{rec['swath_ortho_map']['seconds']} s) | "
          f"{max(rec['swath_write']['peak_rss_mb'], rec['swath_classify']['peak_rss_mb'])} MB |")


def _swath(nc: str, out: str) -> None:
    """The swath cube as a (band, y, x) GeoTIFF with wavelength metadata, 64 rows at a time."""
    import h5py
    import rasterio

    with h5py.File(nc, "r") as f:
        refl = f["reflectance"]
        wl = f["sensor_band_parameters/wavelengths"][:]
        fw = f["sensor_band_parameters/fwhm"][:]
        good = f["sensor_band_parameters/good_wavelengths"][:]
        down, cross, bands = refl.shape
        with rasterio.open(out, "w", driver="GTiff", count=bands, height=down, width=cross, dtype="float32",
                           nodata=float("nan"), tiled=True, blockxsize=128, blockysize=128, interleave="pixel",
                           compress="deflate", predictor=3) as dst:
            for i in range(bands):
                dst.update_tags(i + 1, wavelength=f"{wl[i]:.4f}", wavelength_units="nm", fwhm=f"{fw[i]:.4f}",
                                bad_band="0" if good[i] else "1")
            for r0 in range(0, down, 64):
                block = refl[r0:r0 + 64]
                block = np.where(block == -9999.0, np.nan, block)
                dst.write(np.ascontiguousarray(block.transpose(2, 0, 1)),
                          window=rasterio.windows.Window(0, r0, cross, block.shape[0]))


def _ortho_map(nc: str, classes: str, out: str) -> None:
    import h5py
    import rasterio

    from hsigeo.io.products.emit import glt_gather

    with rasterio.open(classes) as src:
        swath = src.read(1)
    with h5py.File(nc, "r") as f:
        ortho = glt_gather(swath, f["location/glt_x"][:], f["location/glt_y"][:], fill=0)
    np.save(out, ortho)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_swath":
        _swath(*sys.argv[2:4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--_ortho_map":
        _ortho_map(*sys.argv[2:5])
    else:
        main()
