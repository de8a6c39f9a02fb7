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
        The QGIS interface, or ``None`` headless; not used (the plugin adds no GUI).
    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: Optional[HsigeoProvider] = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        """Add the provider to the Processing registry (once)."""
        if self.provider is None:
            self.provider = HsigeoProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        """Desktop start-up: register the provider."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider (plugin disabled, reloaded or QGIS closing)."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
