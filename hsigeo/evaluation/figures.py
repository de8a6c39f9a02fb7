"""Class-map figures of the accuracy benchmark (matplotlib, Agg backend).

One PNG per dataset and protocol: the reference labels with the training pixels marked,
then each method's class map for the first seed, with a shared legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["map_figure"]


def _rgb(colours: Mapping[str, Sequence[int]], values: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    import matplotlib

    out: dict[int, tuple[float, float, float]] = {}
    cmap = matplotlib.colormaps["tab20"]
    for i, v in enumerate(values):
        c = colours.get(str(v))
        out[v] = tuple(x / 255 for x in c) if c else cmap(i % 20)[:3]  # type: ignore[assignment]
    return out


def map_figure(path: Path, dname: str, proto: Mapping[str, Any], maps: Mapping[str, np.ndarray],
                labels_meta: Mapping[str, Any], reference: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from hsigeo.outputs import atomic_output

    values = [int(v) for v in labels_meta["classes"]]
    rgb = _rgb(labels_meta.get("colours", {}), values)

    def paint(arr: np.ndarray) -> np.ndarray:
        img = np.ones(arr.shape + (3,))  # unlabelled / unclassified: white (no class palette uses it)
        for v, c in rgb.items():
            img[arr == v] = c
        return img

    methods = [m for m in proto["methods"] if m in maps]
    n = 1 + len(methods)
    h, w = reference.shape
    panel_w = 2.6
    fig, axes = plt.subplots(1, n, figsize=(panel_w * n, panel_w * h / w + 1.3), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(paint(reference), interpolation="nearest")
    train = maps.get("train")
    if train is not None:
        ys, xs = np.nonzero(train)
        ax.scatter(xs, ys, s=1.5, c="black", marker=".", linewidths=0)
    ax.set_title("reference\n(black dots: training)", fontsize=8)
    first: Mapping[str, Any] = next(iter(proto["splits"]), {})
    for ax, m in zip(axes[0, 1:], methods, strict=True):
        run = next((r for r in proto["methods"][m]["runs"] if r.get("seed") == first.get("seed") and "oa" in r), None)
        ax.imshow(paint(maps[m]), interpolation="nearest")
        ax.set_title(f"{m}\nOA {run['oa'] * 100:.1f}%" if run else m, fontsize=8)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=rgb[v], label=f"{v} {labels_meta['classes'][str(v)]}") for v in values]
    handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.5, label="0 unlabelled / unclassified"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    fig.suptitle(f"{dname}, {proto['name']} (seed {first.get('seed', '?')})", fontsize=9)
    fig.tight_layout(rect=(0, 0.12 + 0.02 * (len(handles) // 4), 1, 1))
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
