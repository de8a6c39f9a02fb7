"""The end-to-end demo: synthetic scene -> trained model -> classified GeoTIFF, polygons and report.

It runs the same public calls a user's script would (``make_synthetic_scene``,
``open_hsi``, ``read_labels``, ``HsigeoClassifier`` (fit, save, predict_raster),
``evaluate``) and serves as the worked example of the library.  A last step maps the
scene from its prompts alone with the shipped base model and scores it on the same test
pixels (the scene's class spectra are library records held out of base-model pretraining).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """Paths of everything the demo wrote, and its headline figures."""

    out_dir: Path
    scene: Path
    labels: Path
    prompts: Path
    model: Path
    classes: Path
    confidence: Path
    polygons: Path
    report_dir: Path
    overall_accuracy: float
    kappa: float
    n_polygons: int
    seconds: dict[str, float] = field(default_factory=dict)
    zero_shot_accuracy: float | None = None
    zero_shot_classes: Path | None = None

    def summary(self) -> str:
        """A few readable lines for the terminal."""
        rows = [
            ("scene (synthetic HSI GeoTIFF)", self.scene),
            ("training labels", self.labels),
            ("prompts", self.prompts),
            ("model", self.model),
            ("classification GeoTIFF", self.classes),
            ("confidence GeoTIFF", self.confidence),
            (f"polygons GeoPackage ({self.n_polygons} features)", self.polygons),
            ("accuracy report", self.report_dir),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {path}" for name, path in rows]
        lines.append(f"test accuracy: OA {100 * self.overall_accuracy:.2f} %, kappa {self.kappa:.4f}")
        if self.zero_shot_accuracy is not None:
            lines.append(f"prompt-only (base model, no labels): OA {100 * self.zero_shot_accuracy:.2f} % on the same "
                         f"test pixels ({self.zero_shot_classes})")
        lines.append("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def run_demo(
    out_dir: str | os.PathLike = "demo_out",
    *,
    overwrite: bool = False,
    seed: int = 0,
    size: tuple[int, int] = (160, 200),
    bands: int = 120,
    train_fraction: float = 0.05,
    epochs: int | None = None,
    device: str = "auto",
) -> DemoResult:
    """Run the whole chain on a seeded synthetic scene.

    Parameters
    ----------
    out_dir
        Folder for every output (created).
    overwrite
        Replace outputs of an earlier demo run.
    seed
        Seed of the scene, the split and the training.
    size, bands
        Scene height/width in pixels, and spectral bands.
    train_fraction
        Share of each class's labelled pixels used for training; the rest is the test set.
    epochs
        Training epochs (``None`` = the training default).
    device
        ``auto``, ``cpu`` or ``cuda``.
    """
    import numpy as np

    from hsigeo.datasets.synthetic import make_synthetic_scene
    from hsigeo.estimator import HsigeoClassifier
    from hsigeo.evaluation.metrics import evaluate
    from hsigeo.io.classmaps import read_classification
    from hsigeo.io.labels import read_labels
    from hsigeo.io.raster import open_hsi
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    from hsigeo.datasets.synthetic import CLASS_LIBRARY
    from hsigeo.speclib.corpus import demo_class_spectra

    # class spectra: library records held out of base-model pretraining (when shipped), so the
    # prompt-only step below classifies materials the base model has not seen
    spectra = demo_class_spectra([c[0] for c in CLASS_LIBRARY[:6]])
    scene = make_synthetic_scene(out / "scene", height=size[0], width=size[1], bands=bands, seed=seed,
                                 overwrite=overwrite, class_spectra=spectra)
    prompts = load_prompts(scene.prompts_path)
    da = open_hsi(scene.scene_path)
    labels = read_labels(scene.labels_path, like=da, classes=prompts.classes)
    train_mask, test_mask = stratified_split(labels.values, fraction=train_fraction, seed=seed)
    seconds["scene"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    kwargs = {} if epochs is None else {"epochs": epochs}
    clf = HsigeoClassifier(seed=seed, device=device, progress=True, **kwargs)
    clf.fit(da, labels, prompts, train_mask=train_mask)
    model_path = clf.save(out / "model.hsigeo", overwrite=overwrite)
    seconds["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    classes_path, conf_path, gpkg_path = out / "classes.tif", out / "confidence.tif", out / "classes.gpkg"
    clf.predict_raster(scene.scene_path, classes_path, confidence_path=conf_path, vector_path=gpkg_path,
                       overwrite=overwrite)
    seconds["classify"] = time.perf_counter() - t0

    # accuracy on the held-out labelled pixels only (training pixels would flatter it)
    predicted = read_classification(classes_path)
    predicted_values = np.asarray(predicted.values if hasattr(predicted, "values") else predicted)
    reference = np.where(test_mask, labels.values, 0)
    report = evaluate(
        predicted_values, reference, classes=prompts.class_names, colours={c.value: c.colour for c in prompts.classes},
        out_dir=out / "report", overwrite=overwrite, title="hsigeo demo: held-out test pixels",
        history=clf.report_.history,
    )
    # prompt-only: the shipped base model maps the scene from the prompts alone (no labels)
    zs_acc, zs_path = None, None
    from hsigeo.model.base import shipped_base_path

    if shipped_base_path().is_file():
        from hsigeo.model.base import load_base

        t0 = time.perf_counter()
        zs = load_base().for_scene(da, prompts)
        zs_path = out / "classes_prompt_only.tif"
        from hsigeo.inference.tiled import classify_raster

        classify_raster(scene.scene_path, zs, zs_path, device=device, overwrite=overwrite)
        zs_values = np.asarray(read_classification(zs_path).values)
        sel = test_mask & (labels.values > 0)
        zs_acc = float((zs_values[sel] == labels.values[sel]).mean())
        seconds["prompt-only"] = time.perf_counter() - t0
    import geopandas as gpd

    n_polygons = len(gpd.read_file(gpkg_path, layer=gpkg_path.stem))
    return DemoResult(
        out_dir=out, scene=scene.scene_path, labels=scene.labels_path, prompts=scene.prompts_path,
        model=Path(model_path), classes=classes_path, confidence=conf_path, polygons=gpkg_path,
        report_dir=out / "report", overall_accuracy=report.overall_accuracy, kappa=report.kappa,
        n_polygons=n_polygons, seconds=seconds, zero_shot_accuracy=zs_acc, zero_shot_classes=zs_path,
    )
