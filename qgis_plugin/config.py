"""Plugin-wide constants and the provider's one setting, which ``hsigeo`` program to run."""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

from processing.core.ProcessingConfig import ProcessingConfig, Setting
from qgis.PyQt.QtCore import QCoreApplication

from .runner import EXECUTABLE_ENV, resolve_executable

PROVIDER_ID = "hsigeo"
ICON_PATH = str(Path(__file__).resolve().parent / "icon.svg")
#: ProcessingConfig key, stored as ``Processing/Configuration/HSIGEO_EXECUTABLE`` in the QGIS profile.
EXECUTABLE_SETTING = "HSIGEO_EXECUTABLE"


def _docs_url() -> str:
    """The documentation's QGIS page, from ``homepage`` in metadata.txt; ``""`` until it is published.

    ``homepage`` is a release setting (RELEASING.md): no address is made up before there is one.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).resolve().parent / "metadata.txt", encoding="utf-8")
    homepage = parser.get("general", "homepage", fallback="").strip().rstrip("/")
    return f"{homepage}/qgis.html" if homepage else ""


#: The docs' QGIS page; each algorithm's help is the anchor of its own section there ("" before release).
DOCS_URL = _docs_url()


def tr(text: str) -> str:
    """Translate ``text`` in the plugin's context."""
    return QCoreApplication.translate("hsigeo", text)


def _check_executable(value: str) -> None:
    """Validator of the setting: empty, or a program that exists (a path, or a name on PATH)."""
    if value and shutil.which(str(value)) is None:
        raise ValueError(tr("Not an executable file:\n{0}").format(value))


def executable_setting(group: str) -> Setting:
    """The 'hsigeo executable' setting, shown under Processing > Providers > ``group``."""
    return Setting(
        group,
        EXECUTABLE_SETTING,
        tr("hsigeo executable (empty: ${0}, then 'hsigeo' on PATH)").format(EXECUTABLE_ENV),
        "",
        valuetype=Setting.FILE,
        validator=_check_executable,
        placeholder="/path/to/.venv/bin/hsigeo",
    )


def configured_executable() -> str:
    """The setting's value, or ``""`` when it is not set."""
    return str(ProcessingConfig.getSetting(EXECUTABLE_SETTING) or "").strip()


def hsigeo_executable() -> str:
    """The program to run: the setting, else ``$HSIGEO_EXECUTABLE``, else ``hsigeo`` on PATH.

    Raises
    ------
    QgsProcessingException
        When none of them names an executable (the message says how to fix it).
    """
    return resolve_executable(configured_executable())
