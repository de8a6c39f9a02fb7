"""Run the ``hsigeo`` command line program on behalf of a Processing algorithm.

The plugin imports nothing of hsigeo: QGIS's Python and the hsigeo virtual
environment carry incompatible numpy/GDAL builds, so, like QGIS's GRASS and
SAGA providers, every algorithm runs the ``hsigeo`` executable in a
subprocess.  This module owns that subprocess:

* finding the executable (Processing setting, ``HSIGEO_EXECUTABLE``, ``PATH``);
* an environment without QGIS's Python/GDAL/PROJ variables;
* streaming its output: ``hsigeo-progress: <percent> <text>`` lines drive the
  progress bar, other lines go to the log;
* cancelling: interrupt, then terminate, then kill, without blocking QGIS;
* turning a failure into a :class:`QgsProcessingException` that carries the
  CLI's ``Error:`` message unchanged.

It uses only the standard library and ``qgis.core``.
"""

from __future__ import annotations

import collections
import os
import queue
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

try:
    from qgis.core import QgsProcessingException
except ImportError:  # pragma: no cover - only outside QGIS (unit tests of the pure helpers)

    class QgsProcessingException(Exception):  # type: ignore[no-redef]
        """Stand-in used when ``qgis.core`` is not importable."""


__all__ = [
    "EXECUTABLE_ENV",
    "PROGRESS_PREFIX",
    "HsigeoRun",
    "clean_environment",
    "format_command",
    "parse_progress",
    "progress_stage",
    "resolve_executable",
    "run_hsigeo",
]

#: Environment variable naming the executable (used when the setting is empty).
EXECUTABLE_ENV = "HSIGEO_EXECUTABLE"
#: Prefix of the CLI's machine-readable progress lines (``hsigeo --progress plain``).
PROGRESS_PREFIX = "hsigeo-progress:"
#: Prefix of the line the CLI prints before exiting with status 2.
ERROR_PREFIX = "Error:"

# Variables that point an interpreter or GDAL/PROJ at QGIS's own copies.
# Inherited by the hsigeo venv they make it import QGIS's numpy/GDAL bindings
# or read a proj.db of another PROJ version, so they are never passed on.
LEAKY_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "PROJ_LIB",
    "PROJ_DATA",
)

POLL_SECONDS = 0.1
# How long the CLI gets to clean up after an interrupt, then after SIGTERM.
INTERRUPT_GRACE_SECONDS = 3.0
TERMINATE_GRACE_SECONDS = 2.0
# After the CLI exits, how long to wait for a helper process still holding the pipe.
DRAIN_SECONDS = 2.0
# Output lines kept to explain a failure that printed no "Error:" line (a traceback).
TAIL_LINES = 30

_EOF = object()


def resolve_executable(configured: str | None = None) -> str:
    """Find the ``hsigeo`` executable.

    Parameters
    ----------
    configured
        The provider setting; empty or ``None`` means "not set".

    Returns
    -------
    str
        The path of the executable: the setting when set, else the
        ``HSIGEO_EXECUTABLE`` environment variable, else ``hsigeo`` on ``PATH``.

    Raises
    ------
    QgsProcessingException
        When the chosen path is not an executable file, or nothing is found.
    """
    for origin, value in (
        ("the Processing setting 'hsigeo executable'", configured),
        (f"the environment variable {EXECUTABLE_ENV}", os.environ.get(EXECUTABLE_ENV)),
    ):
        value = os.path.expanduser((value or "").strip())
        if value:
            # an explicit choice that does not work is an error, not a reason to guess
            found = shutil.which(value)
            if found is None:
                raise QgsProcessingException(
                    f"{value}: {origin} does not name an executable file. Point it at the "
                    "'hsigeo' program of the environment where hsigeo is installed "
                    "(e.g. /path/to/.venv/bin/hsigeo), or clear it to search PATH."
                )
            return found
    found = shutil.which("hsigeo")
    if found is None:
        raise QgsProcessingException(
            "The 'hsigeo' program was not found on PATH. Install hsigeo into a Python environment of its own "
            "(Processing Toolbox > hsigeo > Set up hsigeo does it, also offline from a folder of wheels), or set "
            "Settings > Options > Processing > Providers > hsigeo > 'hsigeo executable' to its path "
            f"(e.g. /path/to/.venv/bin/hsigeo), or set the environment variable {EXECUTABLE_ENV}."
        )
    return found


def clean_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the CLI: ``base`` (default ``os.environ``) without QGIS's interpreter variables.

    Output is forced to unbuffered UTF-8 so that lines arrive as they are
    printed and class names in any script survive a non-UTF-8 locale.
    """
    env = dict(os.environ if base is None else base)
    for name in LEAKY_VARIABLES:
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def parse_progress(line: str) -> tuple[float, str] | None:
    """Parse ``hsigeo-progress: <percent> <description>``.

    Returns
    -------
    tuple of (float, str) or None
        The percentage clamped to [0, 100] and the description, or ``None``
        when ``line`` is not a well-formed progress line.
    """
    if not line.startswith(PROGRESS_PREFIX):
        return None
    percent_text, _, description = line[len(PROGRESS_PREFIX) :].strip().partition(" ")
    try:
        percent = float(percent_text)
    except ValueError:
        return None
    if percent != percent:  # NaN
        return None
    return min(100.0, max(0.0, percent)), description.strip()


def progress_stage(description: str) -> str:
    """The stage name of a progress description, without trailing ``key=value`` figures.

    ``"training loss=0.31 acc=0.9"`` -> ``"training"``; the stage only changes a
    few times per run, so it is what the log shows.
    """
    words = description.split()
    while words and "=" in words[-1]:
        words.pop()
    return " ".join(words)


def format_command(argv: Sequence[str]) -> str:
    """``argv`` as a line that can be pasted into a terminal."""
    if os.name == "nt":
        return subprocess.list2cmdline(list(argv))
    return shlex.join(argv)


class HsigeoRun:
    """One run of the CLI, reporting to a Processing feedback object.

    Parameters
    ----------
    executable
        Path of the ``hsigeo`` program.
    arguments
        Subcommand and its arguments, e.g. ``["vectorize", "c.tif", "-o", "c.gpkg"]``.
    feedback
        A ``QgsProcessingFeedback`` (or anything with ``isCanceled``,
        ``setProgress``, ``setProgressText``, ``pushInfo``, ``pushWarning``,
        ``pushCommandInfo``).
    outputs
        Output paths of this run; temporary files hsigeo leaves beside them
        when it is killed are removed.
    """

    def __init__(self, executable: str, arguments: Sequence[str], feedback: Any, outputs: Iterable[str] = (),
                 *, tool: Optional[str] = None) -> None:
        self.arguments = [str(a) for a in arguments]
        #: what the messages call the program; another ``tool`` (the set-up's python, pip) runs as given
        self.tool = tool or "hsigeo"
        # hsigeo: plain progress lines whatever the terminal or HSIGEO_PROGRESS say
        self.argv = ([str(executable), "--progress", "plain", *self.arguments] if tool is None
                     else [str(executable), *self.arguments])
        self.feedback = feedback
        self.outputs = [Path(p) for p in outputs if p]
        self.lines: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.error_lines: list[str] = []
        self.returncode: Optional[int] = None
        self.removed: list[Path] = []
        #: the user cancelled after hsigeo had finished (its outputs are complete)
        self.late_cancel = False
        self._stage = ""
        # qgis_process prints progress as "0...10...20" with no line end: text printed right after
        # it would stick to the number ("10reading scene"), so it starts a new line there
        self._console = _is_console()
        self._dots_open = False

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Run to completion or cancellation.

        Raises
        ------
        QgsProcessingException
            When the user cancels, the program cannot be started, or it exits
            with a non-zero status.
        """
        self.feedback.pushCommandInfo(format_command(self.argv))
        proc = self._start()
        pipe: "queue.Queue[object]" = queue.Queue()
        # a thread does the blocking reads so this loop can watch the cancel flag (portable, unlike select)
        reader = threading.Thread(target=_pump, args=(proc.stdout, pipe), name="hsigeo-output", daemon=True)
        reader.start()
        try:
            self._follow(proc, pipe)
        finally:
            if proc.poll() is None:  # this loop failed unexpectedly: don't leave hsigeo running
                _signal_group(proc, _SIGKILL)
                proc.wait()
            # the reader ends once every process holding the pipe is gone; only then may it be closed
            reader.join(timeout=1.0)
            if not reader.is_alive() and proc.stdout is not None:
                proc.stdout.close()
        if self.returncode != 0:
            _signal_group(proc, _SIGKILL)  # helpers of a failed run have nothing left to do
            self._remove_partial_outputs()
            raise QgsProcessingException(self.failure_message())
        for line in self.error_lines:  # "Error:" lines of a run that succeeded after all
            self._say(self.feedback.pushWarning, line)
        if self.late_cancel:
            self._say(self.feedback.pushWarning,
                      "The cancel arrived after hsigeo had finished: its outputs are complete and were kept.")

    def _follow(self, proc: subprocess.Popen, pipe: "queue.Queue[object]") -> None:
        """Report output lines until the program has ended; stop it when the user cancels."""
        end_of_output = False
        exited_at: Optional[float] = None
        while True:
            if self.feedback.isCanceled() and not self.late_cancel:
                if proc.poll() is not None:
                    self.late_cancel = True  # nothing left to stop: report the run as it ended
                    continue
                self._cancel(proc)
                if self.returncode == 0:  # it finished between the click and the signal
                    self.late_cancel = True
                    self._drain(pipe)
                    return
                removed = (f" {len(self.removed)} temporary file(s) it left were removed." if self.removed else "")
                if self.tool != "hsigeo":
                    raise QgsProcessingException(f"Cancelled: {self.tool} was stopped before it finished.")
                raise QgsProcessingException(
                    f"Cancelled: hsigeo was stopped before it finished (exit status {self.returncode}). It puts "
                    "outputs in place only when they are complete, so this run wrote none; earlier files of the "
                    f"same names are unchanged.{removed}"
                )
            try:
                item = pipe.get(timeout=POLL_SECONDS)
            except queue.Empty:
                item = None
            if item is _EOF:
                end_of_output = True
            elif isinstance(item, str):
                self._handle(item)
            if proc.poll() is not None:
                if end_of_output:
                    break
                # a left-over helper process may hold the pipe open; don't wait for it forever
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > DRAIN_SECONDS:
                    self._drain(pipe)
                    break
        self.returncode = proc.returncode

    def _start(self) -> subprocess.Popen:
        kwargs: dict[str, Any] = dict(
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream keeps messages in the order they were printed
            env=clean_environment(),
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        if os.name == "posix":
            # own process group: cancelling reaches helper processes too, and a Ctrl+C
            # meant for QGIS (or qgis_process) does not reach hsigeo
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(
                subprocess, "CREATE_NO_WINDOW", 0
            )
        try:
            return subprocess.Popen(self.argv, **kwargs)
        except OSError as exc:
            if self.tool != "hsigeo":
                raise QgsProcessingException(f"{self.argv[0]}: could not start {self.tool} "
                                             f"({exc.strerror or exc}).") from exc
            raise QgsProcessingException(
                f"{self.argv[0]}: could not start hsigeo ({exc.strerror or exc}). Check the Processing "
                "setting 'hsigeo executable' (Settings > Options > Processing > Providers > hsigeo)."
            ) from exc

    def _drain(self, pipe: "queue.Queue[object]") -> None:
        """Handle the lines already read, without waiting for more."""
        while True:
            try:
                item = pipe.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, str):
                self._handle(item)

    def _handle(self, line: str) -> None:
        progress = parse_progress(line)
        if progress is not None:
            percent, description = progress
            stage = progress_stage(description)
            if stage and stage != self._stage:
                # the stage first, then the figure: in qgis_process the text goes on its own line
                self._stage = stage
                self._say(self.feedback.setProgressText, stage)
            self.feedback.setProgress(percent)
            self._dots_open = True
            return
        self.lines.append(line)
        # from the first "Error:" line on, everything belongs to the (possibly multi-line) message
        if self.error_lines or line.startswith(ERROR_PREFIX):
            self.error_lines.append(line)
        elif "Warning" in line:
            self._say(self.feedback.pushWarning, line)
        elif line.strip():
            self._say(self.feedback.pushInfo, line)

    def _say(self, push: Any, text: str) -> None:
        """``push(text)``, on a line of its own after qgis_process's progress dots."""
        if self._console and self._dots_open:
            text = "\n" + text
        self._dots_open = False
        push(text)

    def failure_message(self) -> str:
        """The exception text for a failed run: the CLI's error, or the end of its output."""
        if self.error_lines:
            # the CLI's message as printed, without its "Error:" label
            return "\n".join(self.error_lines)[len(ERROR_PREFIX) :].strip()
        what = " ".join([self.tool, *self.arguments[:1]])
        tail = "\n".join(self.lines).strip() or "(no output)"
        return f"{what} failed with exit status {self.returncode}. Its last output:\n{tail}"

    # -- stopping ---------------------------------------------------------------------------

    def _cancel(self, proc: subprocess.Popen) -> None:
        """Stop the CLI: interrupt, then terminate, then kill; never leave a process behind."""
        self._say(self.feedback.pushInfo, f"Cancelling {self.tool}...")
        # SIGINT first: hsigeo turns it into KeyboardInterrupt and its writers delete their temporary files
        for sig, grace in ((_SIGINT, INTERRUPT_GRACE_SECONDS), (_SIGTERM, TERMINATE_GRACE_SECONDS)):
            _signal_group(proc, sig)
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            _signal_group(proc, _SIGKILL)
            proc.wait()
        _signal_group(proc, _SIGKILL)  # helpers that outlived the main process
        self.returncode = proc.returncode
        if self.returncode != 0:
            self._remove_partial_outputs()

    def _remove_partial_outputs(self) -> None:
        """Delete the temporaries of the outputs and their sidecars (``.<stem>.*.part*``).

        hsigeo writes every file (``c.tif``, ``c.tif.aux.xml``, ``c.qml``) to
        ``.<name>.hsigeo-<pid>-<random>.part<suffix>`` beside it and renames it
        when done (``hsigeo.filesafety``); a killed process cannot remove them
        itself.  What was removed is kept in :attr:`removed`.
        """
        for output in self.outputs:
            try:
                leftovers = list(output.parent.glob(f".{output.stem}.*.part*"))
            except OSError:
                continue
            for leftover in leftovers:
                try:
                    if leftover.is_dir():
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink()
                    self.removed.append(leftover)
                except OSError:
                    pass


def run_hsigeo(
    arguments: Sequence[str],
    feedback: Any,
    *,
    executable: str,
    outputs: Iterable[str] = (),
) -> HsigeoRun:
    """Run ``<executable> --progress plain <arguments...>`` and report to ``feedback``.

    Parameters
    ----------
    arguments
        Subcommand and its arguments, e.g. ``["vectorize", "c.tif", "-o", "c.gpkg"]``.
    feedback
        The algorithm's ``QgsProcessingFeedback``.
    executable
        Path of the ``hsigeo`` program (see :func:`resolve_executable`).
    outputs
        Output paths, for the clean-up of temporaries after a kill.

    Returns
    -------
    HsigeoRun
        The finished run (its ``lines`` hold the last output lines).

    Raises
    ------
    QgsProcessingException
        On cancellation, on start failure, or when the CLI exits non-zero;
        the message is the CLI's ``Error:`` message when it printed one.
    """
    run = HsigeoRun(executable, arguments, feedback, outputs)
    run.run()
    return run


# -- helpers ------------------------------------------------------------------------------------

_SIGINT = signal.SIGINT
_SIGTERM = signal.SIGTERM
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def _is_console() -> bool:
    """Whether this runs inside ``qgis_process`` (text output on a terminal) rather than the QGIS window."""
    try:
        from qgis.core import QgsApplication

        return QgsApplication.platform() == "qgis_process"
    except Exception:  # noqa: BLE001 - outside QGIS (unit tests of the runner)
        return False


def quiet_failure_log() -> None:
    """In ``qgis_process``, keep a failure from being printed three times.

    Processing logs an algorithm's exception to the message log and reports
    it to the feedback, which logs it again; ``qgis_process`` prints every log
    message to the terminal besides the feedback's own ``ERROR:`` line.  The
    process ends with the algorithm, so the log is simply silenced there.
    """
    if _is_console():
        from qgis.core import QgsApplication

        QgsApplication.messageLog().blockSignals(True)


def _pump(stream: Any, pipe: "queue.Queue[object]") -> None:
    """Copy ``stream`` line by line into ``pipe``, then put the end marker."""
    try:
        for line in iter(stream.readline, ""):
            pipe.put(line.rstrip("\r\n"))
    except (OSError, ValueError):  # stream closed under us after a kill
        pass
    finally:
        pipe.put(_EOF)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group of ``proc`` (to ``proc`` alone on Windows)."""
    if os.name == "posix":
        try:
            # the group id is the child's pid (start_new_session); the kernel does not
            # reuse it while any member of the group lives, so this cannot hit strangers
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        return
    if proc.poll() is not None:  # pragma: no cover - Windows
        return
    try:  # pragma: no cover - Windows
        if sig == _SIGINT:
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            proc.kill()
    except OSError:  # pragma: no cover
        pass
