"""Set up hsigeo: find or create its own Python environment, install it there, remember the program.

This is the step QGIS users on Windows and macOS otherwise do by hand (make an
environment, pip install, paste the path of ``hsigeo.exe`` into the settings).
Nothing goes into QGIS's own Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processing.core.ProcessingConfig import ProcessingConfig
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
)
from qgis.PyQt.QtGui import QIcon

from ..compat import FILE_FOLDER
from ..config import DOCS_URL, EXECUTABLE_SETTING, ICON_PATH, tr
from ..runner import HsigeoRun, clean_environment
from ..setup_env import (
    MIN_PYTHON,
    default_env_dir,
    env_program,
    find_python,
    install_command,
    is_venv,
    python_version,
    venv_command,
    version_of,
)


class SetupAlgorithm(QgsProcessingAlgorithm):
    """``hsigeo:setup``: a dedicated environment with hsigeo, and the provider's setting pointing at it."""

    help_anchor = "installing-hsigeo-for-the-plugin"

    def name(self) -> str:
        return "setup"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return tr("Set up hsigeo")

    def group(self) -> str:
        return tr("Setup")

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return "setup"

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        return f"{DOCS_URL}#{self.help_anchor}" if DOCS_URL else ""

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return tr(
            "<p>Installs hsigeo for this plugin: makes a Python environment of its own (never QGIS's Python), "
            "installs hsigeo and its dependencies into it with pip, checks <code>hsigeo --version</code> and "
            "sets Settings &gt; Options &gt; Processing &gt; Providers &gt; hsigeo &gt; hsigeo executable.</p>"
            "<p><b>Folder of wheels</b>: install offline from a folder holding the hsigeo wheel and the wheels "
            "of its dependencies (the torch wheel there decides CPU or CUDA); empty: from the package index.</p>"
            "<p><b>Environment folder</b>: default <code>hsigeo/env</code> in the QGIS profile folder; an "
            "environment already there with a working hsigeo is reused. <b>Python</b>: the interpreter "
            "(3.11 or newer) the environment is made from; default: the first on PATH.</p>"
        )

    def createInstance(self) -> "SetupAlgorithm":  # noqa: N802 - QGIS API
        return SetupAlgorithm()

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterFile(
            "WHEELS", tr("Folder of wheels (offline install; empty: the package index)"), behavior=FILE_FOLDER,
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "ENV_DIR", tr("Environment folder (empty: hsigeo/env in the QGIS profile)"), behavior=FILE_FOLDER,
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "PYTHON", tr("Python 3.11+ to make the environment with (empty: the first on PATH)"), optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "UPGRADE", tr("Install again even when the environment already has hsigeo"), defaultValue=False))
        self.addOutput(QgsProcessingOutputString("EXECUTABLE", tr("hsigeo executable")))
        self.addOutput(QgsProcessingOutputString("VERSION", tr("hsigeo version")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        wheels = self.parameterAsString(parameters, "WHEELS", context).strip()
        env_dir = Path(self.parameterAsString(parameters, "ENV_DIR", context).strip()
                       or default_env_dir(QgsApplication.qgisSettingsDirPath()))
        python = self.parameterAsString(parameters, "PYTHON", context).strip()
        upgrade = self.parameterAsBool(parameters, "UPGRADE", context)
        if wheels and not Path(wheels).is_dir():
            raise QgsProcessingException(tr("{0}: not a folder of wheels.").format(wheels))
        program = env_program(env_dir, "hsigeo")

        version = None if upgrade else self._version(program)
        if version is not None:
            feedback.pushInfo(tr("Found hsigeo {0} in {1}; nothing to install.").format(version, env_dir))
        else:
            if not is_venv(env_dir):
                # never fill a folder that holds something else (the user's files)
                if env_dir.exists() and any(env_dir.iterdir()):
                    raise QgsProcessingException(tr(
                        "{0}: the folder holds files and is not a Python environment; choose an empty or new "
                        "folder.").format(env_dir))
                python = python or find_python() or ""
                found = python_version(python) if python else None
                if found is None or found < MIN_PYTHON:
                    raise QgsProcessingException(tr(
                        "No Python {0}.{1} or newer with the venv module was found{2}. Install Python from "
                        "python.org (or your system's packages) and give its path as 'Python'.").format(
                        *MIN_PYTHON, f" ({python})" if python else " on PATH"))
                feedback.setProgressText(tr("Creating the environment {0}").format(env_dir))
                self._run(venv_command(python, env_dir), feedback, "python -m venv")
            if feedback.isCanceled():
                raise QgsProcessingException(tr("Cancelled."))
            feedback.setProgress(10)
            feedback.setProgressText(tr("Installing hsigeo and its dependencies (pip)"))
            self._run(install_command(env_dir, wheels=wheels or None), feedback, "pip")
            feedback.setProgress(90)
            version = self._version(program)
            if version is None:
                raise QgsProcessingException(tr(
                    "{0}: installed, but `hsigeo --version` does not answer; see the log above.").format(program))
        feedback.setProgress(100)
        feedback.pushInfo(tr("hsigeo {0}: {1}").format(version, program))
        self._executable = str(program)
        return {"EXECUTABLE": str(program), "VERSION": version}

    def postProcessAlgorithm(  # noqa: N802 - QGIS API
        self, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        # in the main thread: the provider's setting, stored in the QGIS profile
        ProcessingConfig.setSettingValue(EXECUTABLE_SETTING, self._executable)
        feedback.pushInfo(tr("The hsigeo algorithms now run {0}.").format(self._executable))
        return {}

    @staticmethod
    def _run(argv: list[str], feedback: QgsProcessingFeedback, tool: str) -> None:
        """Run a step with its output in the log; cancelling stops it."""
        HsigeoRun(argv[0], argv[1:], feedback, tool=tool).run()

    @staticmethod
    def _version(program: Path) -> str | None:
        """hsigeo's version when ``program`` runs, else ``None``."""
        import subprocess

        if not program.exists():
            return None
        try:
            out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=300,
                                 env=clean_environment(), stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return None
        return version_of(out.stdout) if out.returncode == 0 else None
