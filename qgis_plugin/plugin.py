"""The plugin object QGIS creates: it only registers the Processing provider."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import QgsApplication

from .provider import HsigeoProvider


class HsigeoPlugin:
    """Registers the hsigeo Processing provider.

    ``initProcessing`` is what ``qgis_process`` calls for plugins with
    ``hasProcessingProvider=yes``; the desktop calls ``initGui``, which does the same.

    Parameters
    ----------
    iface
        The QGIS interface, or ``None`` headless (then no menu entry is added).
    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: Optional[HsigeoProvider] = None
        self.setup_action: Any = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        """Add the provider to the Processing registry (once)."""
        if self.provider is None:
            self.provider = HsigeoProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        """Desktop start-up: register the provider; Plugins > hsigeo > Set up hsigeo opens the set-up dialog."""
        self.initProcessing()
        if self.iface is None:
            return
        try:  # Qt 6 (QGIS 4) moved QAction to QtGui
            from qgis.PyQt.QtGui import QAction
        except ImportError:
            from qgis.PyQt.QtWidgets import QAction
        from qgis.PyQt.QtGui import QIcon

        from .config import ICON_PATH, tr

        self.setup_action = QAction(QIcon(ICON_PATH), tr("Set up hsigeo..."), self.iface.mainWindow())
        self.setup_action.triggered.connect(self.open_setup)
        self.iface.addPluginToMenu("hsigeo", self.setup_action)

    def open_setup(self) -> None:
        """Open the Processing dialog of 'Set up hsigeo'."""
        import processing

        processing.execAlgorithmDialog("hsigeo:setup", {})

    def unload(self) -> None:
        """Remove the provider (plugin disabled, reloaded or QGIS closing)."""
        if getattr(self, "setup_action", None) is not None and self.iface is not None:
            self.iface.removePluginMenu("hsigeo", self.setup_action)
            self.setup_action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
