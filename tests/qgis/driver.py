"""Run hsigeo Processing algorithms in a real headless QGIS and report what happened as JSON.

Run by QGIS's own interpreter (``/usr/bin/python3``), never by the project's
venv, whose numpy would break QGIS's GDAL bindings::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis/driver.py SPEC.json RESULT.json

``SPEC.json``::

    {"config_path": "<empty QGIS profile folder>",
     "plugin_parent": "<folder holding the installed plugin folder>",
     "plugin": "hsigeo_qgis",
     "executable": "<value for the 'hsigeo executable' setting>" | null,
     "describe": {"<key>": "<layer path>", ...},
     "runs": [{"key": "...", "algorithm": "hsigeo:classify", "parameters": {...},
               "load": false, "cancel_on_progress": false, "project_layers": [paths]}, ...]}

``describe_after`` (layers described after the runs, opened by hand:
default styles apply as when a user adds them) and ``render`` (``{"layers":
[paths, top first], "legend": [paths], "out": "map.png", "title": "..."}``: a
print layout with the map and its legend exported as PNG) are optional.

``RESULT.json`` holds the provider's algorithms and parameters, the
description of each layer in ``describe``, and per run: ``ok``, ``error``,
``results``, the progress values and texts, the log lines, the elapsed time
and, with ``"load": true``, the layers loaded into the project (after
Processing's post-processors ran).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsPrintLayout,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
    QgsUnitTypes,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QSettings
from qgis.PyQt.QtGui import QFont


class RecordingFeedback(QgsProcessingFeedback):
    """Feedback that remembers everything and can cancel at the first progress report."""

    def __init__(self, cancel_on_progress: bool = False) -> None:
        super().__init__()
        self.cancel_on_progress = cancel_on_progress
        self.cancelled_at: float | None = None
        self.record: dict[str, list[Any]] = {
            k: [] for k in ("progress", "texts", "infos", "warnings", "errors", "commands", "console")
        }
        # setProgress is not virtual: listen to the signal it emits instead
        self.progressChanged.connect(self._on_progress)

    def _on_progress(self, value: float) -> None:
        self.record["progress"].append(value)
        if self.cancel_on_progress and value > 0 and self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()

    def setProgressText(self, text: str) -> None:  # noqa: N802
        self.record["texts"].append(text)
        super().setProgressText(text)

    def pushInfo(self, info: str) -> None:  # noqa: N802
        self.record["infos"].append(info)
        super().pushInfo(info)

    def pushWarning(self, warning: str) -> None:  # noqa: N802
        self.record["warnings"].append(warning)
        super().pushWarning(warning)

    def pushCommandInfo(self, info: str) -> None:  # noqa: N802
        self.record["commands"].append(info)
        super().pushCommandInfo(info)

    def pushConsoleInfo(self, info: str) -> None:  # noqa: N802
        self.record["console"].append(info)
        super().pushConsoleInfo(info)

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802,N803
        self.record["errors"].append(error)
        super().reportError(error, fatalError)


def describe_layer(layer: QgsMapLayer) -> dict[str, Any]:
    """CRS, renderer classes and (for vectors) features and class names of ``layer``."""
    info: dict[str, Any] = {
        "name": layer.name(),
        "source": layer.source(),
        "valid": layer.isValid(),
        "crs": layer.crs().authid() or layer.crs().toWkt(),
        "renderer": type(layer.renderer()).__name__ if layer.renderer() is not None else None,
        "classes": [],
    }
    renderer = layer.renderer()
    if isinstance(renderer, QgsPalettedRasterRenderer):
        info["classes"] = [{"value": c.value, "label": c.label, "color": c.color.name()} for c in renderer.classes()]
    elif isinstance(renderer, QgsCategorizedSymbolRenderer):
        info["classes"] = [
            {"value": str(c.value()), "label": c.label(), "color": c.symbol().color().name()}
            for c in renderer.categories()
        ]
    if isinstance(layer, QgsRasterLayer):
        info["type"] = "raster"
        info["size"] = [layer.width(), layer.height(), layer.bandCount()]
        info["band_names"] = [layer.bandName(i) for i in range(1, layer.bandCount() + 1)]
        if hasattr(renderer, "band"):
            info["band"] = renderer.band()
        shader = renderer.shader() if isinstance(renderer, QgsSingleBandPseudoColorRenderer) else None
        if shader is not None:
            ramp = shader.rasterShaderFunction()
            info["ramp"] = [[item.value, item.color.name()] for item in ramp.colorRampItemList()]
    elif isinstance(layer, QgsVectorLayer):
        info["type"] = "vector"
        info["feature_count"] = layer.featureCount()
        info["fields"] = layer.fields().names()
        info["widgets"] = {name: layer.editorWidgetSetup(i).type() for i, name in enumerate(info["fields"])}
        info["widget_config"] = {name: layer.editorWidgetSetup(i).config() for i, name in enumerate(info["fields"])
                                 if layer.editorWidgetSetup(i).type() == "ValueMap"}
        index = layer.fields().indexOf("class_name")
        info["class_names"] = sorted(str(v) for v in layer.uniqueValues(index)) if index >= 0 else []
    return info


def open_layer(path: str) -> QgsMapLayer:
    """Open ``path`` as raster, else as vector."""
    layer: QgsMapLayer = QgsRasterLayer(path, os.path.basename(path), "gdal")
    if not layer.isValid():
        layer = QgsVectorLayer(path, os.path.basename(path), "ogr")
    return layer


def render(spec: dict[str, Any]) -> dict[str, Any]:
    """Export a print layout (title, map of ``layers``, legend of ``legend``) as a PNG; layers keep their default styles."""
    project = QgsProject.instance()
    project.removeAllMapLayers()
    layers = [open_layer(path) for path in spec["layers"]]
    for layer, path in zip(layers, spec["layers"]):
        layer.setName(spec.get("names", {}).get(path, layer.name()))
        project.addMapLayer(layer)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    page = layout.pageCollection().page(0)
    width_mm, height_mm = spec.get("page_mm", [240, 140])
    page.setPageSize(QgsLayoutSize(width_mm, height_mm, QgsUnitTypes.LayoutMillimeters))
    title = QgsLayoutItemLabel(layout)
    title.setText(spec.get("title", ""))
    title.setFont(QFont("Sans", 14))
    title.attemptMove(QgsLayoutPoint(6, 4, QgsUnitTypes.LayoutMillimeters))
    title.attemptResize(QgsLayoutSize(width_mm - 12, 10, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(title)
    map_item = QgsLayoutItemMap(layout)
    map_size = height_mm - 22
    map_item.attemptMove(QgsLayoutPoint(6, 16, QgsUnitTypes.LayoutMillimeters))
    map_item.attemptResize(QgsLayoutSize(map_size, map_size, QgsUnitTypes.LayoutMillimeters))
    map_item.setLayers(layers)
    extent = layers[-1].extent()
    for layer in layers[:-1]:
        extent.combineExtentWith(layer.extent())
    map_item.setExtent(extent)
    map_item.setFrameEnabled(True)
    layout.addLayoutItem(map_item)
    legend = QgsLayoutItemLegend(layout)
    legend.setLinkedMap(map_item)
    legend.setAutoUpdateModel(False)
    root = legend.model().rootGroup()
    keep = {os.path.abspath(p) for p in spec.get("legend", spec["layers"])}
    for node in list(root.findLayers()):
        if os.path.abspath(node.layer().source().split("|")[0]) not in keep:
            root.removeChildNode(node)
    legend.attemptMove(QgsLayoutPoint(map_size + 12, 16, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = spec.get("dpi", 96)
    status = QgsLayoutExporter(layout).exportToImage(spec["out"], settings)
    return {"status": int(status), "out": spec["out"], "layers": [describe_layer(layer) for layer in layers]}


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one algorithm as the spec says; never raises."""
    import processing

    feedback = RecordingFeedback(spec.get("cancel_on_progress", False))
    QgsProject.instance().removeAllMapLayers()
    # layers the user has in the project (default styles applied); a parameter naming their file uses them
    for path in spec.get("project_layers", []):
        QgsProject.instance().addMapLayer(open_layer(path))
    result: dict[str, Any] = {"ok": False, "error": None, "results": {}, "layers": []}
    started = time.monotonic()
    try:
        runner = processing.runAndLoadResults if spec.get("load") else processing.run
        outputs = runner(spec["algorithm"], dict(spec["parameters"]), feedback=feedback)
        result["ok"] = True
        result["results"] = {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in outputs.items()}
    except Exception as exc:  # QgsProcessingException and anything unexpected alike
        result["error"] = str(exc)
        result["error_type"] = type(exc).__name__
    finished = time.monotonic()
    result["elapsed"] = finished - started
    if feedback.cancelled_at is not None:
        result["stop_seconds"] = finished - feedback.cancelled_at
    result.update(feedback.record)
    result["layers"] = [describe_layer(layer) for layer in QgsProject.instance().mapLayers().values()]
    return result


def main(spec_path: str, result_path: str) -> int:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    # keep QgsSettings in the throw-away profile (a bare PyQGIS app writes them to ~/.config)
    QCoreApplication.setOrganizationName("QGIS")
    QCoreApplication.setOrganizationDomain("qgis.org")
    QCoreApplication.setApplicationName("QGIS3")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, spec["config_path"])
    app = QgsApplication([], False, spec["config_path"])
    app.initQgis()
    report: dict[str, Any] = {"qgis_version": Qgis.QGIS_VERSION}
    try:
        sys.path.insert(0, os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
        from processing.core.Processing import Processing
        from processing.core.ProcessingConfig import ProcessingConfig

        Processing.initialize()
        sys.path.insert(0, spec["plugin_parent"])
        plugin = importlib.import_module(spec["plugin"]).classFactory(None)
        plugin.initProcessing()
        config = importlib.import_module(spec["plugin"] + ".config")
        if spec.get("executable") is not None:
            try:
                ProcessingConfig.setSettingValue(config.EXECUTABLE_SETTING, spec["executable"])
            except ValueError as exc:  # the setting's validator refused the value, as the options dialog would
                report["setting_error"] = str(exc)

        provider = QgsApplication.processingRegistry().providerById("hsigeo")
        report["provider"] = None if provider is None else {
            "id": provider.id(),
            "name": provider.name(),
            "long_name": provider.longName(),
            "algorithms": {
                alg.id(): {
                    "display_name": alg.displayName(),
                    "group": alg.group(),
                    "parameters": [p.name() for p in alg.parameterDefinitions()],
                    "advanced": [p.name() for p in alg.parameterDefinitions()
                                 if p.flags() & p.FlagAdvanced],
                    "defaults": {p.name(): p.defaultValue() for p in alg.parameterDefinitions()
                                 if isinstance(p.defaultValue(), (int, float, bool, str))},
                    "help_url": alg.helpUrl(),
                    "help_anchor": getattr(alg, "help_anchor", ""),
                    "outputs": [o.name() for o in alg.outputDefinitions()],
                    "can_execute": list(alg.canExecute()),
                }
                for alg in provider.algorithms()
            },
        }
        report["setting"] = {
            "value": ProcessingConfig.getSetting(config.EXECUTABLE_SETTING),
            "in_providers_group": config.EXECUTABLE_SETTING
            in [s.name for s in ProcessingConfig.getSettings().get("hsigeo", [])],
        }
        report["describe"] = {key: describe_layer(open_layer(path)) for key, path in spec.get("describe", {}).items()}
        report["runs"] = {run["key"]: run_one(run) for run in spec.get("runs", [])}
        report["setting_after"] = ProcessingConfig.getSetting(config.EXECUTABLE_SETTING)
        QgsProject.instance().removeAllMapLayers()
        report["describe_after"] = {
            key: describe_layer(open_layer(path)) for key, path in spec.get("describe_after", {}).items()
        }
        if spec.get("render"):
            report["render"] = render(spec["render"])
        plugin.unload()
        report["unloaded"] = QgsApplication.processingRegistry().providerById("hsigeo") is None
    except Exception:
        report["fatal"] = traceback.format_exc()
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, default=str)
    # exitQgis() may crash while tearing down in headless mode; the report is written, so leave now
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if "fatal" not in report else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
