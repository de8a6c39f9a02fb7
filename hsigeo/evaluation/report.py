"""The benchmark report: JSON results, the Markdown tables and findings, and the class-map figures.

:func:`write_report` writes what :func:`hsigeo.evaluation.runner.run_benchmark` returns, one
report whatever protocols the run had: ``results.json``, ``results.md`` (for the label
protocols one table per dataset and protocol, per-class tables, findings, and the language
ablation's own table when it ran; for the zero-shot protocol its tables,
:func:`hsigeo.evaluation.zero_shot.markdown`) and one class-map figure per dataset and
protocol in ``maps/`` (:mod:`.figures`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["markdown_report", "write_report", "findings", "ablation_findings", "ablation_section",
           "zero_shot_section", "format_pm", "format_count", "best_oa", "oa_row"]


def format_pm(stat: Mapping[str, Any], scale: float = 100.0, digits: int = 2) -> str:
    if stat.get("mean") is None:
        return "n/a"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"



def oa_row(dataset: str, protocol: Mapping[str, Any], methods: Sequence[str]) -> str:
    """One Markdown table row: mean ± std OA of each method on one protocol, the best in bold."""
    best = best_oa(protocol["methods"])
    cells = []
    for m in methods:
        s = protocol["methods"][m]["summary"]
        cell = "failed" if s["n_runs"] == 0 else format_pm(s["oa"])
        cells.append(f"**{cell}**" if m == best else cell)
    return f"| {dataset} | {protocol['name']} | " + " | ".join(cells) + " |"

def format_count(n: float | None) -> str:
    if n is None:
        return "n/a"
    n = float(n)
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else f"{n:.0f}"


def best_oa(methods: Mapping[str, Any]) -> str | None:
    scored = [(m, v["summary"]["oa"]["mean"]) for m, v in methods.items() if v["summary"]["oa"]["mean"] is not None]
    return max(scored, key=lambda t: t[1])[0] if scored else None


def findings(results: Mapping[str, Any]) -> list[str]:
    """Plain-language lines on where hsigeo wins or loses (OA means over seeds)."""
    lines = []
    for dname, d in results["datasets"].items():
        if d.get("status") != "ok":
            continue
        for p in d["protocols"].values():
            ms = p["methods"]
            ours = {m: v for m, v in ms.items() if m.startswith("hsigeo") and v["summary"]["oa"]["mean"] is not None}
            others = {m: v for m, v in ms.items() if not m.startswith("hsigeo") and v["summary"]["oa"]["mean"] is not None}
            failed = [f"{m} ({v['summary']['n_failed']} failed)" for m, v in ms.items() if v["summary"]["n_failed"]]
            if failed:
                lines.append(f"{dname} {p['name']}: runs failed: {', '.join(failed)}.")
            if not ours or not others:
                continue
            # the default is what a user gets: judge it, not the best of several variants
            best_ours = "hsigeo" if "hsigeo" in ours else max(ours, key=lambda m: ours[m]["summary"]["oa"]["mean"])
            best_other = max(others, key=lambda m: others[m]["summary"]["oa"]["mean"])
            a = ours[best_ours]["summary"]["oa"]
            b = others[best_other]["summary"]["oa"]
            diff = (a["mean"] - b["mean"]) * 100
            spread = max(a["std"] or 0.0, b["std"] or 0.0) * 100
            if min(a["n"], b["n"]) < 2:
                verdict = "single seed, no spread to judge by" if diff else "tied"
                verdict = ("hsigeo ahead, " if diff > 0 else "baseline ahead, " if diff < 0 else "") + verdict
            else:
                verdict = ("within one std of each other" if abs(diff) <= spread
                           else "hsigeo ahead" if diff > 0 else "**baseline ahead**")
            who = "the default, hsigeo," if best_ours == "hsigeo" else f"best hsigeo variant {best_ours}"
            lines.append(f"{dname} {p['name']}: {who} {format_pm(a)} vs best baseline "
                         f"{best_other} {format_pm(b)} OA ({diff:+.2f} points, {verdict}).")
    return lines


#: The ablation's question: are descriptive prompts worth more than bare class names?
_DESCRIPTIVE, _NAMES = "hsigeo", "hsigeo-names"
_ANCHOR_LABELS = {"hsigeo": "descriptive prompts", "hsigeo-names": "class names only",
                  "hsigeo-random": "random unit vectors of the text space", "hsigeo-notext": "one-hot anchors, no text"}


def _ablation_rows(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(dname, p) for dname, d in results["datasets"].items() if d.get("status") == "ok"
            for p in d.get("ablation", {}).values()]


def ablation_findings(results: Mapping[str, Any]) -> list[str]:
    """One line per ablation row: are descriptive prompts ahead of names by more than one std?

    "One std" is the larger of the two variants' sample stds over the ablation's seeds,
    as in :func:`findings`.  The best text-free variant (random anchors, no text) is
    named beside it, as the floor the language has to beat.
    """
    lines = []
    for dname, p in _ablation_rows(results):
        ms = p["methods"]
        seeds = ", ".join(map(str, p.get("seeds", [])))
        head = f"{dname} {p['name']} (seeds {seeds})"
        failed = [f"{m} ({v['summary']['n_failed']} failed)" for m, v in ms.items() if v["summary"]["n_failed"]]
        if failed:
            lines.append(f"{head}: runs failed: {', '.join(failed)}.")
        a = ms.get(_DESCRIPTIVE, {}).get("summary", {}).get("oa", {})
        b = ms.get(_NAMES, {}).get("summary", {}).get("oa", {})
        if a.get("mean") is None or b.get("mean") is None:
            lines.append(f"{head}: descriptive prompts vs names cannot be compared "
                         f"(needs successful {_DESCRIPTIVE} and {_NAMES} runs).")
            continue
        diff = (a["mean"] - b["mean"]) * 100
        spread = max(a["std"] or 0.0, b["std"] or 0.0) * 100
        if min(a["n"], b["n"]) < 2:
            verdict = "a single seed, no spread to judge by"
        elif diff > spread:
            verdict = "descriptive prompts **ahead of names by more than one std**"
        elif diff < -spread:
            verdict = "**names ahead of descriptive prompts by more than one std**"
        else:
            verdict = "descriptive prompts **not** ahead of names by more than one std"
        line = (f"{head}: descriptive prompts {format_pm(a)} vs names {format_pm(b)} OA ({diff:+.2f} points, "
                f"one std = {spread:.2f}): {verdict}")
        free = {m: v["summary"]["oa"] for m, v in ms.items()
                if m not in (_DESCRIPTIVE, _NAMES) and v["summary"]["oa"]["mean"] is not None}
        if free:
            best = max(free, key=lambda m: free[m]["mean"])
            line += f"; best variant without language: {best} {format_pm(free[best])}"
        lines.append(line + ".")
    return lines


def ablation_section(results: Mapping[str, Any], heading: str = "## Language ablation") -> list[str]:
    """The language ablation's table (dataset x fraction rows, anchor variants as columns) and findings.

    Empty when the run had no ablation.  Means are over the ablation's own seeds, so
    they differ from the main tables' for the same method and protocol.
    """
    ab = results.get("ablation")
    if not ab:
        return []
    methods = list(ab["methods"])
    lines = [heading, "",
             "hsigeo with different class anchors: "
             + ", ".join(f"{_ANCHOR_LABELS[m]} (`{m}`)" if m in _ANCHOR_LABELS else f"`{m}`" for m in methods) + ". "
             f"Overall accuracy % (mean ± std over seeds {', '.join(map(str, ab['seeds']))}, the ablation's own "
             "seeds, so not the main tables' means); stratified per class; best per row in bold; fits shared with "
             "the main comparison are reused, not repeated.", ""]
    rows = _ablation_rows(results)
    if rows:
        lines += ["| dataset | protocol | " + " | ".join(methods) + " |", "| --- | --- |" + " ---: |" * len(methods)]
        lines += [oa_row(dname, p, methods) for dname, p in rows]
        lines.append("")
    for name, reason in ab.get("skipped", {}).items():
        lines.append(f"Not run on {name}: {reason}.")
    if ab.get("skipped"):
        lines.append("")
    found = ablation_findings(results)
    if found:
        lines += ["Findings:", ""] + [f"- {f}" for f in found] + [""]
    return lines


def zero_shot_section(results: Mapping[str, Any], heading: str = "## Zero-shot (prompt-only)") -> list[str]:
    """The zero-shot protocol's tables (:func:`hsigeo.evaluation.zero_shot.markdown`); empty when it did not run."""
    from hsigeo.evaluation.zero_shot import markdown

    zs = results.get("zero_shot")
    if not zs:
        return []
    scenes = [d["zero_shot"] for d in results["datasets"].values() if "zero_shot" in d]
    lines = [heading, "", "Methods:", ""] + [f"- `{m}`: {note}" for m, note in zs.get("methods", {}).items()]
    lines += ["", markdown(scenes, zs), ""]
    lines += [f"Zero-shot not run on {name}: {reason}." for name, reason in zs.get("skipped", {}).items()]
    return lines + ([""] if zs.get("skipped") else [])


def _has_label_protocols(cfg: Mapping[str, Any]) -> bool:
    return any(p.get("kind") != "zero-shot" for p in cfg.get("protocols", []))


def markdown_report(results: Mapping[str, Any]) -> str:
    """The full Markdown report: the label protocols' tables and findings, then the zero-shot protocol's."""
    meta, cfg = results["meta"], results["config"]
    labels = _has_label_protocols(cfg)
    lines = ["# hsigeo accuracy benchmark" if labels else "# hsigeo zero-shot benchmark", ""]
    lines += [f"Run {meta.get('started', '?')}, total {meta.get('total_seconds', 0.0) / 60:.1f} min on "
              f"{meta.get('cpu_count')} CPU(s) ({meta.get('platform', '')}), "
              f"{meta.get('threads') or 'default'} thread(s) per method, {meta.get('jobs', 1)} fit(s) at a time; "
              f"torch {meta.get('torch', 'n/a')}, "
              f"scikit-learn {meta.get('scikit-learn')}, hsigeo {meta.get('hsigeo')}."
              + (" **Quick smoke-test settings: not for comparison.**" if cfg.get("quick") else ""), ""]
    if labels:
        lines += _label_sections(results)
    else:
        lines += [f"## {dname}\n\nSkipped: {d.get('reason', '')}\n" for dname, d in results["datasets"].items()
                  if d.get("status") != "ok"]
    lines += zero_shot_section(results)
    return "\n".join(lines)


def _label_sections(results: Mapping[str, Any]) -> list[str]:
    """The label protocols' part of the report: legend, per-dataset tables, findings, the ablation."""
    cfg = results["config"]
    lines = [f"Seeds {', '.join(map(str, cfg['seeds']))}; values are mean ± sample std (ddof=1) over seeds, "
             "in percent for OA/AA/κ. Every method gets the same train/test masks per protocol and seed; "
             "params = trainable parameters (see notes); train s = wall-clock fit time; px/s = full-scene "
             "inference pixels per second. Timings come from a shared machine and are indicative only.", ""]
    lines += ["Methods:", ""] + [f"- `{m}`: {note}" for m, note in results.get("methods", {}).items()] + [""]
    for dname, d in results["datasets"].items():
        lines.append(f"## {dname}")
        lines.append("")
        if d.get("status") != "ok":
            lines += [f"Skipped: {d.get('reason', '')}", ""]
            continue
        shape = "x".join(map(str, d["shape"]))
        lines += [f"Cube {shape} (band x y x x), {len(d['classes'])} classes, {d['labelled_pixels']} labelled pixels"
                  f"{'; ' + d['note'] if d.get('note') else ''}; {d.get('seconds', 0.0):.0f} s of fitting for "
                  "this dataset's tables.", ""]
        for p in d["protocols"].values():
            sp = p["splits"]
            lines += [f"### {dname}: {p['name']}", "", p["description"] + ".",
                      f"Train pixels per seed: {', '.join(str(s['n_train']) for s in sp)}; test pixels: "
                      f"{', '.join(str(s['n_test']) for s in sp)}.", ""]
            best = best_oa(p["methods"])
            lines += ["| method | OA % | AA % | κ × 100 | params | train s | infer px/s |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for m, v in p["methods"].items():
                s = v["summary"]
                if s["n_runs"] == 0:
                    err = next((r.get("error", "") for r in v["runs"] if "error" in r), "")
                    lines.append(f"| {m} | failed: {err[:80]} | | | | | |")
                    continue
                oa = format_pm(s["oa"])
                oa = f"**{oa}**" if m == best else oa
                lines.append(f"| {m} | {oa} | {format_pm(s['aa'])} | {format_pm(s['kappa'])} "
                             f"| {format_count(s['n_trainable']['mean'])} "
                             f"| {s['train_seconds']['mean']:.1f} | {format_count(s['infer_pixels_per_s']['mean'])} |")
            lines += ["", "Per-class accuracy %:", ""]
            names = list(p["methods"])
            lines += ["| class | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
            for v, cname in d["classes"].items():
                cells = [format_pm(p["methods"][m]["summary"]["per_class"][v], digits=1) for m in names]
                lines.append(f"| {v} {cname} | " + " | ".join(cells) + " |")
            lines.append("")
            if cfg.get("maps", True):
                fig = Path("maps") / f"{dname}_{next(k for k, q in d['protocols'].items() if q is p)}.png"
                lines += [f"Class maps (seed {cfg['seeds'][0]}): `{fig.as_posix()}`", ""]
    lines += ["## Findings", ""] + [f"- {f}" for f in findings(results)] + [""]
    return lines + ablation_section(results)


def write_report(results: dict[str, Any], out_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and the class-map figures.

    Parameters
    ----------
    results
        From :func:`hsigeo.evaluation.runner.run_benchmark`.
    out_dir
        Output folder (default: the configuration's ``out_dir``).  Existing
        report files there are replaced.

    Returns
    -------
    dict
        ``{"json": ..., "markdown": ..., "maps": [...]}`` paths.
    """
    from hsigeo.evaluation.benchmark_config import ZeroShotProtocol
    from hsigeo.evaluation.figures import class_maps_figure, map_figure
    from hsigeo.filesafety import atomic_output, json_safe

    out = Path(out_dir if out_dir is not None else results["config"]["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    maps = results.get("_maps", {})
    clean = {k: v for k, v in results.items() if not k.startswith("_")}
    paths: dict[str, Any] = {"json": out / "results.json", "markdown": out / "results.md", "maps": []}
    with atomic_output(paths["json"], overwrite=True) as tmp:
        tmp.write_text(json.dumps(json_safe(clean), indent=1, allow_nan=False), encoding="utf-8")
    with atomic_output(paths["markdown"], overwrite=True) as tmp:
        tmp.write_text(markdown_report(clean), encoding="utf-8")
    if results["config"].get("maps", True):
        for dname, per_proto in maps.items():
            if results["datasets"].get(dname, {}).get("status") != "ok":
                continue
            d = results["datasets"][dname]
            for slug, m in per_proto.items():
                if slug.startswith("_"):
                    continue
                path = out / "maps" / f"{dname}_{slug}.png"
                map_figure(path, dname, d["protocols"][slug], m, d, per_proto["_reference"])
                paths["maps"].append(path)
        for dname, args in results.get("_zero_shot_maps", {}).items():
            path = out / "maps" / f"{dname}_{ZeroShotProtocol().slug}.png"
            class_maps_figure(path, **args)
            paths["maps"].append(path)
    return paths
