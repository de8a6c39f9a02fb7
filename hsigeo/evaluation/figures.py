"""Class-map figures of the benchmarks (matplotlib, Agg backend).

:func:`class_maps_figure` draws class maps side by side with one legend; the accuracy
benchmark (:func:`map_figure`: the reference labels with the training pixels marked, then each
method's class map for the first seed) and the zero-shot protocol both draw with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["class_maps_figure", "map_figure"]


def _rgb(colours: Mapping[str, Sequence[int]], values: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    import matplotlib

    out: dict[int, tuple[float, float, float]] = {}
    cmap = matplotlib.colormaps["tab20"]
    for i, v in enumerate(values):
        c = colours.get(str(v))
        out[v] = tuple(x / 255 for x in c) if c else cmap(i % 20)[:3]  # type: ignore[assignment]
    return out


def class_maps_figure(path: Path, title: str, panels: Mapping[str, np.ndarray],
                      colours: Mapping[int, Sequence[float]], names: Mapping[int, str], *,
                      dots: np.ndarray | None = None, zero_label: str | None = None, dpi: int = 130) -> None:
    """Class maps side by side with one legend, written atomically to ``path`` (PNG).

    Parameters
    ----------
    path
        The PNG to write.
    title
        The figure's title.
    panels
        Panel title -> ``(y, x)`` class values (0: unlabelled or unclassified, drawn white).
    colours
        Class value -> RGB in 0..1.
    names
        Class value -> legend name, in legend order.
    dots
        Optional ``(y, x)`` mask marked with black dots on the first panel (training pixels).
    zero_label
        Legend entry for the white 0 (None: no entry).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from hsigeo.filesafety import atomic_output

    def paint(arr: np.ndarray) -> np.ndarray:
        img = np.ones(arr.shape + (3,))  # unlabelled / unclassified: white (no class palette uses it)
        for v, c in colours.items():
            img[arr == v] = c
        return img

    n = len(panels)
    h, w = next(iter(panels.values())).shape
    panel_w = 2.6
    fig, axes = plt.subplots(1, n, figsize=(panel_w * n, panel_w * h / w + 1.3), squeeze=False)
    for i, (ax, (label, arr)) in enumerate(zip(axes[0], panels.items(), strict=True)):
        ax.imshow(paint(arr), interpolation="nearest")
        if i == 0 and dots is not None:
            ys, xs = np.nonzero(dots)
            ax.scatter(xs, ys, s=1.5, c="black", marker=".", linewidths=0)
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=colours[v], label=nm) for v, nm in names.items()]
    if zero_label is not None:
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.5, label=zero_label))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.12 + 0.02 * (len(handles) // 4), 1, 1))
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def map_figure(path: Path, dname: str, proto: Mapping[str, Any], maps: Mapping[str, np.ndarray],
               labels_meta: Mapping[str, Any], reference: np.ndarray) -> None:
    """The accuracy benchmark's figure of one dataset and protocol (first seed's maps)."""
    values = [int(v) for v in labels_meta["classes"]]
    first: Mapping[str, Any] = next(iter(proto["splits"]), {})
    panels = {"reference\n(black dots: training)": reference}
    for m in (m for m in proto["methods"] if m in maps):
        run = next((r for r in proto["methods"][m]["runs"] if r.get("seed") == first.get("seed") and "oa" in r), None)
        panels[f"{m}\nOA {run['oa'] * 100:.1f}%" if run else m] = maps[m]
    class_maps_figure(path, f"{dname}, {proto['name']} (seed {first.get('seed', '?')})", panels,
                      _rgb(labels_meta.get("colours", {}), values),
                      {v: f"{v} {labels_meta['classes'][str(v)]}" for v in values},
                      dots=maps.get("train"), zero_label="0 unlabelled / unclassified")
