"""The hsigeo Processing provider and its one setting, the path of the ``hsigeo`` executable."""

from __future__ import annotations

from processing.core.ProcessingConfig import ProcessingConfig
from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .config import EXECUTABLE_SETTING, ICON_PATH, PROVIDER_ID, executable_setting, tr


class HsigeoProvider(QgsProcessingProvider):
    """Processing provider ``hsigeo``: prompts, classify from prompts, train, classify, vectorize, evaluate."""

    def id(self) -> str:  # noqa: A003 - QGIS API
        return PROVIDER_ID

    def name(self) -> str:
        return "hsigeo"

    def longName(self) -> str:  # noqa: N802 - QGIS API
        return tr("hsigeo: hyperspectral classification with vision-language models")

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return ICON_PATH

    def load(self) -> bool:
        """Declare the setting (shown under Processing > Providers > hsigeo) and the algorithms."""
        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(executable_setting(self.name()))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Withdraw the setting again."""
        if EXECUTABLE_SETTING in ProcessingConfig.settings:
            ProcessingConfig.removeSetting(EXECUTABLE_SETTING)

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for algorithm_class in ALGORITHMS:
            self.addAlgorithm(algorithm_class())

    # hsigeo writes GeoTIFF and GeoPackage files only; saying so makes the output
    # widgets offer just these (and no memory or database layers)
    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API
        return ["tif"]

    def defaultRasterFileExtension(self) -> str:  # noqa: N802 - QGIS API
        return "tif"

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API
        return ["gpkg"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802,N803 - QGIS API
        return "gpkg"

    def supportsNonFileBasedOutput(self) -> bool:  # noqa: N802 - QGIS API
        return False
