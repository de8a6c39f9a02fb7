"""The accuracy and area report of a sample-based assessment: JSON, Markdown, HTML and two PNG figures.

``area.png`` sets each class's mapped (pixel-counting) area beside its area
estimated from the sample with the 95 % interval; ``error_matrix.png`` shows the
error matrix in estimated area proportions (Olofsson et al. 2014, Table 9's
form).  Plots use matplotlib's object API on the Agg canvas (no display).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.evaluation.area.estimators import Estimate, SampleEstimates
from hsigeo.filesafety import atomic_folder, json_safe

__all__ = ["AreaReport", "KIND", "write_area_report", "plot_areas", "plot_error_matrix"]

#: What this report is (the pixel-level report of :mod:`hsigeo.evaluation.metrics` says its own kind).
KIND = "sample-based: area-adjusted accuracy and class areas with 95 % intervals (Olofsson et al. 2014)"

DESIGN_TEXT = {
    "stratified": "stratified random sample",
    "simple": "simple random sample, post-stratified by the map's classes",
    "systematic": "systematic sample, post-stratified by the map's classes (variance as for a simple random sample)",
}


@dataclass
class AreaReport:
    """Estimates of one map from one labelled sample, with what is needed to read them.

    Attributes
    ----------
    estimates
        The numbers (:func:`~hsigeo.evaluation.area.estimators.estimate`).
    names, colours
        Class names and ``{value: (r, g, b)}`` in ``estimates.classes`` order.
    mapped_pixels
        Pixels mapped as each class in the population (pixel counting).
    hectares_per_pixel
        Area of one pixel; ``None`` when the CRS has no linear unit (areas are then in pixels).
    design
        ``stratified``, ``simple`` or ``systematic``.
    strata_source
        ``"map"`` or the strata raster's name.
    notes
        Messages for the reader (unlabelled points left out, classes absent from the map...).
    """

    estimates: SampleEstimates
    names: list[str]
    mapped_pixels: np.ndarray
    hectares_per_pixel: float | None
    design: str
    strata_source: str = "map"
    colours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[int]:
        return self.estimates.classes

    @property
    def unit(self) -> str:
        """``"ha"`` or ``"px"``."""
        return "ha" if self.hectares_per_pixel is not None else "px"

    @property
    def total_pixels(self) -> int:
        return int(self.estimates.stratum_pixels.sum())

    @property
    def _per_pixel(self) -> float:
        return self.hectares_per_pixel if self.hectares_per_pixel is not None else 1.0

    def area(self, k: int) -> Estimate:
        """Estimated area of class index ``k`` (Olofsson eq. 9 times the total area; SE eq. 11)."""
        return self.estimates.area_share[k].scaled(self.total_pixels * self._per_pixel)

    def mapped_area(self, k: int) -> float:
        """Mapped (pixel-counting) area of class index ``k``."""
        return float(self.mapped_pixels[k]) * self._per_pixel

    def rows(self) -> list[dict[str, Any]]:
        """Per class: value, name, mapped area and share, estimated area and share, accuracies, sample counts."""
        est = self.estimates
        total = self.total_pixels
        out = []
        for k, v in enumerate(est.classes):
            out.append({
                "value": v, "name": self.names[k],
                "mapped_pixels": int(self.mapped_pixels[k]),
                "mapped_area": self.mapped_area(k),
                "mapped_share": float(self.mapped_pixels[k]) / total if total else None,
                "area": self.area(k).to_dict(),
                "share": est.area_share[k].to_dict(),
                "users_accuracy": est.users[k].to_dict(),
                "producers_accuracy": est.producers[k].to_dict(),
                "sample_mapped": int(est.counts[k].sum()),
                "sample_reference": int(est.counts[:, k].sum()),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        est = self.estimates
        return {
            "kind": KIND,
            "design": self.design,
            "design_text": DESIGN_TEXT.get(self.design, self.design),
            "strata_source": self.strata_source,
            "finite_population_correction": est.fpc,
            "variance": ("with the finite-population correction 1 - n_h/N_h" if est.fpc else
                         "Olofsson et al. (2014) eqs. 5-7, 10, without finite-population correction"),
            "confidence": "95 %: estimate +/- 1.96 SE",
            "area_unit": self.unit,
            "hectares_per_pixel": self.hectares_per_pixel,
            "population_pixels": self.total_pixels,
            "population_area": self.total_pixels * self._per_pixel,
            "n_sample": est.n,
            "overall_accuracy": est.overall.to_dict(),
            "classes": self.rows(),
            "strata": [{"value": v, "pixels": int(nh), "sample": int(n)}
                       for v, nh, n in zip(est.stratum_values, est.stratum_pixels, est.stratum_sample, strict=True)],
            "error_matrix": {
                "rows": "map class (in 'classes' order)", "columns": "reference class (in 'classes' order)",
                "counts": est.counts.tolist(),
                "area_proportions": est.proportions.tolist(),
            },
            "notes": list(self.notes) + list(est.notes),
            **({"extra": json_safe(self.extra)} if self.extra else {}),
        }

    def to_json(self) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=2, ensure_ascii=False)

    def _area_text(self, e: Estimate | float) -> str:
        fmt = "{:,.0f}"
        if self.unit == "ha":  # enough decimals for a small scene's classes (Salinas-A is 9.8 ha)
            total = self.total_pixels * self._per_pixel
            fmt = "{:,.1f}" if total >= 1000 else "{:,.2f}" if total >= 100 else "{:,.3f}"
        if isinstance(e, Estimate):
            if not np.isfinite(e.value):
                return "n/a"
            hw = "n/a" if not np.isfinite(e.se) else fmt.format(e.half_width)
            return f"{fmt.format(e.value)} ± {hw}"
        return fmt.format(e)

    def table_markdown(self) -> str:
        """The per-class table (mapped vs estimated area, accuracies) as Markdown."""
        u = self.unit
        lines = [f"| class | mapped area ({u}) | mapped share | estimated area ({u}, 95 % CI) | estimated share | "
                 "user's accuracy | producer's accuracy | points (map) |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        est = self.estimates
        total = self.total_pixels
        for k, v in enumerate(est.classes):
            lines.append(
                f"| {v} {_md(self.names[k])} | {self._area_text(self.mapped_area(k))} | "
                f"{_pct(self.mapped_pixels[k] / total if total else np.nan)} | {self._area_text(self.area(k))} | "
                f"{_pct_ci(est.area_share[k])} | {_pct_ci(est.users[k])} | {_pct_ci(est.producers[k])} | "
                f"{int(est.counts[k].sum())} |")
        return "\n".join(lines)

    def to_markdown(self, title: str = "Accuracy and area report") -> str:
        est = self.estimates
        lines = [f"# {title}", "", f"*{KIND}.*", "",
                 f"Design: {DESIGN_TEXT.get(self.design, self.design)}; strata: {self.strata_source}; "
                 f"{est.n:,} labelled points; population {self.total_pixels:,} px"
                 + (f" ({self._area_text(self.total_pixels * self._per_pixel)} ha)" if self.unit == "ha" else "")
                 + f". Variance {'with' if est.fpc else 'without'} finite-population correction; 95 % intervals "
                 "are ± 1.96 standard errors.", "",
                 f"**Overall accuracy: {_pct_ci(est.overall)}**", "", self.table_markdown(), "",
                 "## Error matrix in estimated area proportions (rows: map, columns: reference, %)", ""]
        head = [str(v) for v in est.classes]
        lines += ["| map \\ reference | " + " | ".join(head) + " | total |", "| --- |" + " ---: |" * (len(head) + 1)]
        for k, v in enumerate(est.classes):
            cells = " | ".join(f"{100 * p:.2f}" for p in est.proportions[k])
            lines.append(f"| {v} {_md(self.names[k])} | {cells} | {100 * est.proportions[k].sum():.2f} |")
        lines.append("| total | " + " | ".join(f"{100 * p:.2f}" for p in est.proportions.sum(axis=0)) + " | 100.00 |")
        lines += ["", "## Sample counts (rows: map, columns: reference)", "",
                  "| map \\ reference | " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(head)]
        for k, v in enumerate(est.classes):
            lines.append(f"| {v} {_md(self.names[k])} | " + " | ".join(str(int(c)) for c in est.counts[k]) + " |")
        notes = list(self.notes) + list(est.notes)
        if notes:
            lines += ["", "## Notes", ""] + [f"- {_md(n)}" for n in notes]
        return "\n".join(lines) + "\n"

    def to_html(self, title: str = "Accuracy and area report", images: Sequence[str] = ()) -> str:
        est = self.estimates
        u = self.unit
        rows = "".join(
            f"<tr><td>{v}</td><td>{html.escape(self.names[k])}</td><td>{self._area_text(self.mapped_area(k))}</td>"
            f"<td>{html.escape(self._area_text(self.area(k)))}</td><td>{_pct_ci(est.users[k])}</td>"
            f"<td>{_pct_ci(est.producers[k])}</td><td>{int(est.counts[k].sum())}</td></tr>"
            for k, v in enumerate(est.classes))
        imgs = "".join(f'<p><img src="{html.escape(i)}" style="max-width:100%"></p>' for i in images)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in list(self.notes) + list(est.notes))
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
            "td:nth-child(n+3){text-align:right}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p><i>{html.escape(KIND)}</i></p>"
            f"<p>{html.escape(DESIGN_TEXT.get(self.design, self.design))}; {est.n:,} labelled points. "
            f"Overall accuracy <b>{html.escape(_pct_ci(est.overall))}</b></p>"
            f"<table><tr><th>value</th><th>class</th><th>mapped area ({u})</th><th>estimated area ({u}, 95 % CI)</th>"
            f"<th>user's acc.</th><th>producer's acc.</th><th>points</th></tr>{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else "") + f"{imgs}</body></html>"
        )


def write_area_report(report: AreaReport, out_dir: str | os.PathLike, *, overwrite: bool = False,
                      title: str = "Accuracy and area report", plots: bool = True) -> Path:
    """Write ``report.json``, ``report.md``, ``report.html``, ``area.png`` and ``error_matrix.png`` atomically."""
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:
        (tmp / "report.json").write_text(report.to_json(), encoding="utf-8")
        (tmp / "report.md").write_text(report.to_markdown(title), encoding="utf-8")
        images = []
        if plots:
            plot_areas(report, tmp / "area.png")
            plot_error_matrix(report, tmp / "error_matrix.png")
            images = ["area.png", "error_matrix.png"]
        (tmp / "report.html").write_text(report.to_html(title, images), encoding="utf-8")
    return Path(out_dir)


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_areas(report: AreaReport, path: str | os.PathLike) -> Path:
    """Mapped area (pixel counting) and estimated area with its 95 % interval, per class (PNG)."""
    est = report.estimates
    c = len(est.classes)
    fig = _figure((7.5, 1.2 + 0.45 * max(c, 2)))
    ax = fig.add_subplot(1, 1, 1)
    ypos = np.arange(c)
    mapped = [report.mapped_area(k) for k in range(c)]
    areas = [report.area(k) for k in range(c)]
    colours = [tuple(x / 255 for x in report.colours.get(v, (120, 120, 120))) for v in est.classes]
    ax.barh(ypos + 0.2, mapped, height=0.38, color=colours, alpha=0.45, edgecolor="black", linewidth=0.4,
            label="mapped (pixel counting)")
    values = [a.value if np.isfinite(a.value) else 0.0 for a in areas]
    errors = [a.half_width if np.isfinite(a.se) else 0.0 for a in areas]
    ax.barh(ypos - 0.2, values, height=0.38, color=colours, edgecolor="black", linewidth=0.4, xerr=errors,
            error_kw={"elinewidth": 1.2, "capsize": 3}, label="estimated from the sample (95 % CI)")
    ax.set_yticks(ypos, [f"{v} {n}"[:28] for v, n in zip(est.classes, report.names, strict=True)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"area ({report.unit})")
    ax.set_xlim(left=0)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Overall accuracy {_pct_ci(est.overall)}  ({est.n} points, {report.design})", fontsize=9)
    fig.savefig(path)
    return Path(path)


def plot_error_matrix(report: AreaReport, path: str | os.PathLike) -> Path:
    """The error matrix in estimated area proportions (% of the area), sample counts in brackets (PNG)."""
    est = report.estimates
    c = len(est.classes)
    n = max(c, 2)
    fig = _figure((2.6 + 0.65 * n, 1.4 + 0.55 * n))
    ax = fig.add_subplot(1, 1, 1)
    p = 100 * est.proportions
    # shade by the share of each map class's row, so small classes show their errors too
    row = p.sum(axis=1, keepdims=True)
    shade = np.divide(p, np.where(row > 0, row, 1))
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(c), [f"{v} {nm}"[:24] for v, nm in zip(est.classes, report.names, strict=True)], fontsize=7)
    ax.set_xticks(range(c), [str(v) for v in est.classes], fontsize=7)
    ax.set_ylabel("map")
    ax.set_xlabel("reference")
    ax.set_title("Error matrix, % of the area (points)", fontsize=9)
    if c <= 25:
        for i in range(c):
            for j in range(c):
                if est.counts[i, j]:
                    ax.text(j, i, f"{p[i, j]:.2f}\n({int(est.counts[i, j])})", ha="center", va="center", fontsize=6,
                            color="white" if shade[i, j] > 0.6 else "black")
    fig.savefig(path)
    return Path(path)


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def _pct_ci(e: Estimate) -> str:
    if not np.isfinite(e.value):
        return "n/a"
    if not np.isfinite(e.se):
        return f"{100 * e.value:.1f} % ± n/a"
    return f"{100 * e.value:.1f} ± {100 * e.half_width:.1f} %"


def _md(s: str) -> str:
    return s.replace("|", "\\|")
