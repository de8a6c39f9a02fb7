"""``hsigeo demo``: the whole chain on the built-in synthetic scene."""

from __future__ import annotations

import click


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="demo_out", show_default=True,
              help="Folder for the demo's outputs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the scene, split and training.")
@click.option("--epochs", type=int, default=None, help="Training epochs (default: the training default).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace the outputs of an earlier demo run.")
def demo(out_dir: str, seed: int, epochs: int | None, device: str, overwrite: bool) -> None:
    """Make a synthetic georeferenced scene, train a model, classify it tile by tile,
    write the classification GeoTIFF, confidence raster, polygons and an accuracy report."""
    from pathlib import Path

    from hsigeo_cli.demo_chain import run_demo

    from hsigeo.filesafety import Output, guard_outputs

    # the demo folder is hsigeo's own: a non-empty folder of anything else is refused, never written into;
    # it is claimed (its manifest says "in progress") before the first file, so an interrupted demo leaves a
    # folder the next `hsigeo demo --overwrite` recognises and replaces
    with guard_outputs([Output(Path(out_dir), "--out", folder=True)], overwrite=overwrite):
        click.echo(f"hsigeo demo: synthetic scene, prompt-anchored model, outputs in {out_dir}/", err=True)
        result = run_demo(out_dir, overwrite=overwrite, seed=seed, epochs=epochs, device=device)
    click.echo(result.summary())
