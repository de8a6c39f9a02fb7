"""hsigeo QGIS plugin: Processing algorithms that run the ``hsigeo`` command line program.

QGIS imports this package by its folder name and calls :func:`classFactory`.
Nothing here imports numpy, torch or hsigeo: the work happens in the ``hsigeo``
executable of the environment where hsigeo is installed.
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    """Create the plugin (QGIS entry point).

    Parameters
    ----------
    iface : qgis.gui.QgisInterface or None
        The QGIS interface; ``None`` in headless use (qgis_process, scripts).
    """
    # imported here so that the package stays importable without QGIS (tests of runner.py)
    from .plugin import HsigeoPlugin

    return HsigeoPlugin(iface)
