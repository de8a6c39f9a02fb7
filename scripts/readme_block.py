"""The README block of the accuracy benchmark: a compact OA table, findings and commands.

A maintainer's tool, not part of the installed package: the block is for pasting into the
project README, so it lives with the repository.  ``benchmarks/accuracy.py`` writes it beside
its report; for a run of ``hsigeo benchmark`` (or any ``results.json``) write it with::

    python scripts/readme_block.py benchmarks/results          # the folder holding results.json
    python scripts/readme_block.py path/to/results.json

It writes ``README_block.md`` beside ``results.json`` and prints it.  The library's report
(:mod:`hsigeo.evaluation.report`) knows nothing of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hsigeo.evaluation.report import ablation_section, findings, format_count, oa_row
from hsigeo.filesafety import atomic_output

__all__ = ["readme_block", "paper_commands", "FULL_COMMAND", "write_readme_block", "main"]

#: The README's whole comparison and its language ablation in one invocation, two fits at a time.
FULL_COMMAND = ("hsigeo benchmark --dataset salinas-a --dataset indian-pines --dataset synthetic --seeds 3 "
                "--ablation --jobs 2")


def paper_commands(data_dir: str = "/path/to/gic") -> list[str]:
    """Commands for the Indian Pines / Pavia University protocol (10% and 5% stratified per class)."""
    return [
        f"python benchmarks/accuracy.py --dataset indian-pines --dataset pavia-university --data-dir {data_dir} "
        "--fractions 0.10,0.05 --no-block --seeds 3 --out benchmarks/results/ip_pu",
        f"hsigeo benchmark --dataset indian-pines --dataset pavia-university --data-dir {data_dir} "
        "--fractions 0.10,0.05 --no-block --seeds 3 --out benchmarks/results/ip_pu",
    ]


def readme_block(results: Mapping[str, Any]) -> str:
    """A compact Markdown block for the project README: OA per dataset/protocol/method, findings, commands."""
    meta, cfg = results["meta"], results["config"]
    methods = list(cfg["methods"])
    lines = ["### Accuracy benchmark", ""]
    lines += [f"Overall accuracy % (mean ± std over seeds {', '.join(map(str, cfg['seeds']))}); "
              "identical train/test masks for every method; best per row in bold. "
              f"Whole run: {meta.get('total_seconds', 0.0) / 60:.1f} min on a {meta.get('cpu_count')}-core CPU, "
              f"{meta.get('threads') or 'default'} thread(s) per method"
              f"{f', {jobs} fits at a time' if (jobs := meta.get('jobs', 1)) > 1 else ''}"
              f"{' (quick settings)' if cfg.get('quick') else ''}.", ""]
    lines += ["| dataset | protocol | " + " | ".join(methods) + " |", "| --- | --- |" + " ---: |" * len(methods)]
    skipped = []
    for dname, d in results["datasets"].items():
        if d.get("status") != "ok":
            skipped.append(dname)
            continue
        lines += [oa_row(dname, p, methods) for p in d["protocols"].values()]
    lines.append("")
    params = _param_line(results)
    if params:
        lines += [params, ""]
    if skipped:
        lines += [f"Not run (cube not in the data folder): {', '.join(skipped)}.", ""]
    lines += ["Findings:", ""] + [f"- {f}" for f in findings(results)] + [""]
    lines += ablation_section(results, heading="#### Language ablation")
    lines += ["Reproduce (Salinas-A, Indian Pines and synthetic, all protocols, 3 seeds, plus the language "
              "ablation over 5 seeds, two fits at a time), with the cubes in the data folder:", "", "```",
              FULL_COMMAND, "```", "",
              "Indian Pines / Pavia University at 10% and 5% stratified per class, with the `.mat` cubes "
              "from the GIC page in a folder (sha256 verified on load):", "", "```"]
    lines += paper_commands() + ["```", ""]
    return "\n".join(lines)


def _param_line(results: Mapping[str, Any]) -> str:
    counts: dict[str, float] = {}
    for d in results["datasets"].values():
        if d.get("status") != "ok":
            continue
        for p in d["protocols"].values():
            for m, v in p["methods"].items():
                n = v["summary"]["n_trainable"]["mean"]
                if n is not None and m not in counts:
                    counts[m] = n
    if not counts:
        return ""
    listed = ", ".join(f"{m} {format_count(n)}" for m, n in counts.items())
    return f"Trainable parameters (first dataset): {listed}."


def write_readme_block(results: Mapping[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write :func:`readme_block` to ``out_dir/README_block.md`` (replacing it); return the path."""
    path = Path(out_dir) / "README_block.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(readme_block(results), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Write and print the README block of a benchmark's ``results.json`` (a folder or the file)."""
    p = argparse.ArgumentParser(prog="readme_block.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="results.json of a benchmark run, or the folder holding it")
    args = p.parse_args(argv)
    path = args.results / "results.json" if args.results.is_dir() else args.results
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        block = write_readme_block(results, path.parent)
    except (OSError, ValueError, KeyError) as exc:  # no file, not JSON, not a benchmark's results
        print(f"Error: {path}: {exc!r}", file=sys.stderr)
        return 2
    print(block.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
