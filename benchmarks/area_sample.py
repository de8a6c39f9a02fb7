#!/usr/bin/env python
"""The sample-based accuracy and area chain on a benchmark scene: train -> classify -> sample -> label -> evaluate.

Protocol (Salinas-A or Indian Pines, the real cubes with a ground truth here):

1. the scene is written as a GeoTIFF.  The benchmark files carry no georeferencing, so the scene
   is placed in its UTM zone with AVIRIS's pixel size (Salinas-A 3.7 m, Indian Pines 20 m): areas
   are then in hectares; the placement is illustrative, the pixel size is the sensor's;
2. a stratified split keeps ``--train-count`` labelled pixels per class for training
   (``hsigeo train``, shipped prompts, default options); the other labelled pixels are the
   held-out set, written as a mask raster;
3. ``hsigeo classify`` maps the whole scene;
4. ``hsigeo sample --mask heldout.tif`` draws a stratified random sample of the map inside the
   held-out pixels (so training pixels are never assessed);
5. each point is labelled from the scene's ground truth (the person with the imagery);
6. ``hsigeo evaluate --mask heldout.tif`` reports areas and accuracies with 95 % intervals.

Because the ground truth covers every held-out pixel, the census truth (true area of each class,
true overall accuracy) is known and printed beside the estimates: the intervals should cover it
(about 95 % of them, over repeated samples).

Example::

    python benchmarks/area_sample.py --out area_run/ --train-count 1 --epochs 2   # the README's run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: Illustrative placement of each scene (the benchmark files have none): (CRS, pixel size in m, origin).
#: Salinas-A: UTM 10N (Salinas Valley), AVIRIS at 3.7 m; Indian Pines: UTM 16N (Indiana), AVIRIS at 20 m.
PLACEMENT = {
    "salinas-a": ("EPSG:32610", 3.7, (620_000.0, 4_060_000.0)),
    "indian-pines": ("EPSG:32616", 20.0, (500_000.0, 4_480_000.0)),
}
CRS, PIXEL, ORIGIN = PLACEMENT["salinas-a"]


def _cli(*argv: str) -> None:
    from hsigeo_cli.main import main

    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise RuntimeError(f"hsigeo {' '.join(map(str, argv))} exited with {exc.code}") from None


def run_chain(out: Path, *, data_dir: str | None = None, train_count: int = 3, epochs: int | None = None,
              n_points: int = 400, min_per_class: int = 40, seed: int = 0, dataset: str = "salinas-a"
              ) -> dict[str, Any]:
    """Run the chain on ``dataset`` into ``out`` (a new folder); return the report JSON, the truth and the paths."""
    import geopandas as gpd
    import numpy as np
    import rioxarray  # noqa: F401
    from affine import Affine

    from hsigeo.datasets.scenes import load_dataset
    from hsigeo.io.raster import write_hsi
    from hsigeo.io.sample_layer import read_design_record, write_sample_layer
    from hsigeo.io.writers import write_classification
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(dataset, data_dir=data_dir)
    crs, pixel, origin = PLACEMENT[dataset]
    transform = Affine(pixel, 0, origin[0], 0, -pixel, origin[1])
    cube = ds.cube.rio.write_crs(crs).rio.write_transform(transform)
    h, w = ds.labels.shape
    cube = cube.assign_coords(y=origin[1] - pixel * (np.arange(h) + 0.5), x=origin[0] + pixel * (np.arange(w) + 0.5))
    labels = np.asarray(ds.labels.values)
    prompts = load_prompts(ds.prompts_path)
    train_mask, test_mask = stratified_split(labels, count=train_count, seed=seed)

    def grid(arr: Any) -> Any:
        import xarray as xr

        da = xr.DataArray(arr, dims=("y", "x"), coords={"y": cube.y, "x": cube.x})
        return da.rio.write_crs(crs).rio.write_transform(transform)

    scene = write_hsi(cube, out / "scene.tif", overwrite=True)
    classes = list(prompts.classes)
    write_classification(grid(np.where(train_mask, labels, 0)), out / "train_labels.tif", classes=classes,
                         overwrite=True)
    write_classification(grid(test_mask.astype(np.uint8)), out / "heldout.tif", classes={1: "held out"},
                         overwrite=True)
    _cli("--progress", "none", "train", scene, "--labels", out / "train_labels.tif", "--prompts", ds.prompts_path,
         "-o", out / "model.hsigeo", "--seed", seed, *(["--epochs", epochs] if epochs else []), "--overwrite")
    _cli("--progress", "none", "classify", scene, "--model", out / "model.hsigeo", "-o", out / "classes.tif",
         "--overwrite")
    _cli("sample", out / "classes.tif", "-o", out / "sample.gpkg", "--mask", out / "heldout.tif", "--n", n_points,
         "--min-per-class", min_per_class, "--seed", seed, "--overwrite")
    # the labelling step: each point's class from the ground truth under it
    pts = gpd.read_file(out / "sample.gpkg", layer="sample")
    t = ~transform
    cols, rows = t * (pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    ref = labels[np.floor(rows).astype(int), np.floor(cols).astype(int)]
    write_sample_layer(out / "sample_labelled.gpkg", pts.geometry.x, pts.geometry.y, stratum=pts["stratum"],
                       map_class=pts["map_class"], classes=classes, crs=crs,
                       record=read_design_record(out / "sample.gpkg"), reference=ref, overwrite=True)
    _cli("evaluate", out / "classes.tif", "--reference", out / "sample_labelled.gpkg", "--mask", out / "heldout.tif",
         "-o", out / "report", "--overwrite")
    report = json.loads((out / "report" / "report.json").read_text())
    # the census truth over the held-out pixels
    import rasterio

    with rasterio.open(out / "classes.tif") as src:
        mapped = src.read(1)
    ha = pixel * pixel / 10_000
    truth = {
        "overall_accuracy": float(np.mean(mapped[test_mask] == labels[test_mask])),
        "area_ha": {int(v): float(np.sum(labels[test_mask] == v) * ha) for v in (c.value for c in classes)},
        "users_accuracy": {int(v): (float(np.mean(labels[test_mask & (mapped == v)] == v))
                                    if np.any(test_mask & (mapped == v)) else None) for v in (c.value for c in classes)},
    }
    return {"report": report, "truth": truth, "out": out, "train_pixels": int(train_mask.sum()),
            "heldout_pixels": int(test_mask.sum()), "dataset": ds.name}


def truth_table(result: dict[str, Any]) -> str:
    """Markdown: estimated area (95 % CI) beside the held-out census truth, per class."""
    rep, truth = result["report"], result["truth"]
    lines = ["| class | mapped (ha) | estimated (ha, 95 % CI) | true (ha) | covered |", "| --- | ---: | ---: | ---: | :---: |"]
    for row in rep["classes"]:
        a = row["area"]
        true = truth["area_ha"][row["value"]]
        covered = a["ci95_low"] - 1e-9 <= true <= a["ci95_high"] + 1e-9  # float slack: a zero-width interval
        lines.append(f"| {row['value']} {row['name']} | {row['mapped_area']:.3f} | {a['estimate']:.3f} "
                     f"[{a['ci95_low']:.3f}, {a['ci95_high']:.3f}] | {true:.3f} | {'yes' if covered else 'no'} |")
    oa = rep["overall_accuracy"]
    lines.append("")
    lines.append(f"Overall accuracy: estimated {100 * oa['estimate']:.1f} % [{100 * oa['ci95_low']:.1f}, "
                 f"{100 * oa['ci95_high']:.1f}], held-out census {100 * truth['overall_accuracy']:.1f} %.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the chain's files (created)")
    p.add_argument("--dataset", default="salinas-a", choices=sorted(PLACEMENT), help="benchmark scene")
    p.add_argument("--data-dir", default=None, help="folder with the benchmark files (default $HSIGEO_DATA_DIR)")
    p.add_argument("--train-count", type=int, default=3, help="training pixels per class (default 3)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: hsigeo train's)")
    p.add_argument("--n", type=int, default=400, help="sample points (default 400)")
    p.add_argument("--min-per-class", type=int, default=40, help="minimum points per map class (default 40)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    result = run_chain(Path(args.out), data_dir=args.data_dir, train_count=args.train_count, epochs=args.epochs,
                       n_points=args.n, min_per_class=args.min_per_class, seed=args.seed, dataset=args.dataset)
    print(f"\n# {result['dataset']}: {result['train_pixels']} training pixels, {result['heldout_pixels']} held-out pixels "
          "(the sampled population)\n")
    print(truth_table(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
