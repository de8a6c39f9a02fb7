"""Entry point of the ``hsigeo`` command.

Subcommands live in their own modules and are imported only when run, so
``hsigeo --help`` stays fast and never imports torch.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute"; each module imports its heavy dependencies inside the command body
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hsigeo_cli.demo:demo", "Run the whole chain on the built-in synthetic demo scene."),
    "prompts": ("hsigeo_cli.prompts:prompts", "Write class prompts from a layer of training polygons and its style."),
    "train": ("hsigeo_cli.train:train", "Train a prompt-anchored model on a scene and labels."),
    "evaluate": ("hsigeo_cli.evaluate:evaluate", "Accuracy report of a classification against reference labels."),
    "classify": ("hsigeo_cli.classify:classify", "Classify a scene, tile by tile, into a GeoTIFF (and polygons)."),
    "vectorize": ("hsigeo_cli.vectorize:vectorize", "Turn a classification GeoTIFF into GeoPackage polygons."),
    "info": ("hsigeo_cli.info:info", "Describe a scene or a model file."),
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
    "(default: bar on a terminal, plain otherwise).",
)
def cli(progress: str | None) -> None:
    """hsigeo: classify hyperspectral scenes with prompt-anchored vision-language models."""
    from hsigeo import progress as _progress

    _progress.set_mode(progress)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; hsigeo errors become one 'Error:' line and exit status 2."""
    import warnings

    from hsigeo.errors import HsigeoError

    # one "Warning: ..." line per warning (no source line), which the QGIS plugin shows as a warning
    warnings.formatwarning = _format_warning
    try:
        cli.main(args=argv, prog_name="hsigeo", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HsigeoError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted; no partial output was kept.", err=True)
        sys.exit(130)


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    """``warnings`` display for the command line: ``Warning: <message>``."""
    return f"Warning: {message}\n"


if __name__ == "__main__":
    main()
