"""Entry point of the ``hsigeo`` command.

Subcommands live in their own modules and are imported only when run, so
``hsigeo --help`` stays fast and never imports torch.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import warnings
from typing import Any

import click

# name -> "module:attribute"; each module imports its heavy dependencies inside the command body
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hsigeo_cli.demo:demo", "Run the whole chain on the built-in synthetic demo scene."),
    "prompts": ("hsigeo_cli.prompts:prompts", "Write class prompts from a layer of training polygons and its style."),
    "train": ("hsigeo_cli.train:train", "Train a prompt-anchored model on a scene and labels."),
    "evaluate": ("hsigeo_cli.evaluate:evaluate",
                 "Accuracy report: areas and accuracies with intervals from a sample, or pixel-level."),
    "sample": ("hsigeo_cli.sample:sample", "Draw a reference sample of a class map, as points to label."),
    "classify": ("hsigeo_cli.classify:classify", "Classify a scene, tile by tile, into a GeoTIFF (and polygons)."),
    "vectorize": ("hsigeo_cli.vectorize:vectorize", "Turn a classification GeoTIFF into GeoPackage polygons."),
    "info": ("hsigeo_cli.info:info", "Describe a scene or a model file."),
    "set-wavelengths": ("hsigeo_cli.wavelengths:set_wavelengths",
                        "Copy a scene with band wavelengths from a list (for GeoTIFFs without them)."),
    "benchmark": ("hsigeo_cli.benchmark:benchmark", "Compare hsigeo with baselines on benchmark scenes."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        target, _ = SUBCOMMANDS[cmd_name]
        module_name, attr = target.split(":")
        if not _debug():
            _quiet_libtiff()
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # short help from the table above, so --help imports no subcommand module
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in SUBCOMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hsigeo")
@click.option(
    "--progress",
    type=click.Choice(["bar", "plain", "none"]),
    default=None,
    help="Progress display: a bar, machine-readable 'hsigeo-progress:' lines, or none "
    "(default: bar on a terminal, none otherwise).",
)
@click.option("--debug", is_flag=True, default=False,
              help="Show the full traceback of an unexpected error (also: HSIGEO_DEBUG=1).")
def cli(progress: str | None, debug: bool) -> None:
    """hsigeo: classify hyperspectral scenes with prompt-anchored vision-language models."""
    from hsigeo import progress as _progress

    _progress.set_mode(progress)
    if debug:
        os.environ["HSIGEO_DEBUG"] = "1"


#: Where users report bugs (printed with an unexpected error).
BUG_REPORTS = "the hsigeo issue tracker (include the command line and the output of `hsigeo --debug ...`)"
#: Longest error message printed; longer ones (a pasted file?) are cut.
MAX_MESSAGE = 2000


class Terminated(BaseException):
    """SIGTERM (``timeout``, Slurm, ``docker stop``) or SIGHUP (the terminal or ssh session closed) arrived:
    unwind like Ctrl-C so temporaries and locks go."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# signal -> (exit status, what the user is told): 128 + the signal's number, as a shell reports it
_STOP_SIGNALS: dict[int, tuple[int, str]] = {signal.SIGTERM: (143, "Terminated (SIGTERM)")}
if hasattr(signal, "SIGHUP"):  # POSIX only
    _STOP_SIGNALS[signal.SIGHUP] = (129, "Hangup (SIGHUP: the terminal or ssh session closed)")
_stopping: list[int] = []  # the stop signal being handled; later ones are ignored while its cleanup runs


def _on_stop_signal(signum: int, frame: object) -> None:
    if _stopping:
        return  # the first signal's cleanup is running: interrupting it would leave temporaries behind
    _stopping.append(signum)
    # from now on the process is ending: further stop signals are ignored by the OS itself (a Python handler
    # would be reset to the default, "die at once", when the interpreter shuts down)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def _one_line(text: str) -> str:
    """``text`` on one line of printable characters, cut to :data:`MAX_MESSAGE`."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in line).strip()
                    for line in str(text).splitlines() if line.strip())
    return flat if len(flat) <= MAX_MESSAGE else flat[:MAX_MESSAGE] + "... (cut)"


def _os_error_message(exc: OSError) -> str:
    """``<file>: <what went wrong>`` for an operating-system error (disk full, read-only, permission)."""
    name = exc.filename if exc.filename is not None else None
    reason = exc.strerror or str(exc.__cause__ or exc) or type(exc).__name__
    import errno

    hint = {errno.ENOSPC: " Free some space or write elsewhere.", errno.EROFS: " Write to another folder.",
            errno.EACCES: " Check the permissions or write elsewhere."}.get(exc.errno or 0, "")
    return f"{name}: {reason}.{hint}" if name else f"{reason}.{hint}"


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """Warnings as one ``Warning:`` line (the QGIS plugin shows those as warnings)."""
    click.echo(f"Warning: {_one_line(str(message))}", err=True)


def _quiet_libtiff() -> None:
    """Stop libtiff printing its own errors ("_tiffWriteProc: No space left on device." a dozen times).

    GDAL reports every such failure through its own error, which hsigeo turns
    into one ``Error:`` line naming the file; libtiff's global handler would
    print to the terminal besides.  rasterio's wheels ship libtiff as a library
    of their own, loaded here by the same path (so the same instance) and told
    to keep quiet.  Nothing changes when it cannot be found.
    """
    import ctypes
    from pathlib import Path

    try:
        import rasterio  # loads GDAL and its libtiff (whose own dependencies only GDAL's RPATH finds)

        libs = Path(rasterio.__file__).parent.parent / "rasterio.libs"
        for lib in sorted(libs.glob("libtiff*.so*")) if libs.is_dir() else []:
            ctypes.CDLL(str(lib)).TIFFSetErrorHandler(None)
    except (ImportError, OSError, AttributeError, ValueError):
        pass


def _debug() -> bool:
    return os.environ.get("HSIGEO_DEBUG", "").strip() not in ("", "0", "false", "no")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.

    Exit statuses: 0 done; 2 an ``Error:`` line (bad input, an output that may
    not be written, an operating-system error such as a full disk); 1 a bug
    (one line, the traceback with ``--debug`` or ``HSIGEO_DEBUG=1``); 130
    Ctrl-C, 143 SIGTERM and 129 SIGHUP (no partial output kept; a second
    SIGTERM or SIGHUP while the first one's cleanup runs is ignored, so the
    cleanup completes and the status stays).
    """
    from hsigeo.errors import HsigeoError

    _stopping.clear()
    previous: dict[int, Any] = {}
    try:
        for sig in _STOP_SIGNALS:
            previous[sig] = signal.signal(sig, _on_stop_signal)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        previous = {}
    try:
        with warnings.catch_warnings():  # restores the caller's warning display afterwards
            # hsigeo's own warnings (UserWarning) show every run, even when main() runs twice in one process
            warnings.filterwarnings("default", category=UserWarning)
            warnings.showwarning = _show_warning
            cli.main(args=argv, prog_name="hsigeo", standalone_mode=False)
    except click.exceptions.Abort:  # click's form of Ctrl-C (KeyboardInterrupt)
        click.echo("Interrupted; no partial output was kept.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HsigeoError as exc:
        _print_debug_traceback()
        click.echo(f"Error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except MemoryError:
        _print_debug_traceback()
        click.echo("Error: out of memory. Use a smaller --tile-size / --batch-size, or a machine with more memory.",
                   err=True)
        sys.exit(2)
    except OSError as exc:
        _print_debug_traceback()
        click.echo(f"Error: {_one_line(_os_error_message(exc))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted; no partial output was kept.", err=True)
        sys.exit(130)
    except Terminated as exc:
        status, what = _STOP_SIGNALS.get(exc.signum, (143, "Terminated"))
        with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) cannot be written to
            click.echo(f"{what}; no partial output was kept.", err=True)
        sys.exit(status)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        _print_debug_traceback()
        click.echo(f"Error: internal error ({type(exc).__name__}: {_one_line(str(exc))[:300]}). This is a bug in "
                   f"hsigeo; please report it on {BUG_REPORTS}.", err=True)
        sys.exit(1)
    finally:
        # after a stop signal the process is ending: the signals stay ignored, so a second one cannot cut short
        # the interpreter's own cleanup and change the exit status
        if not _stopping:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _print_debug_traceback() -> None:
    if _debug():
        import traceback

        traceback.print_exc()


if __name__ == "__main__":
    main()
