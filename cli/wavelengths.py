"""``hsigeo set-wavelengths``: write a copy of a scene with band wavelengths from a list."""

from __future__ import annotations

from pathlib import Path

import click

_PATH = click.Path(dir_okay=False, path_type=Path)
# rows a strip when the copy is written: flat memory for any scene size
_CHUNKS = {"band": -1, "y": 512, "x": -1}


@click.command(name="set-wavelengths")
@click.argument("scene", type=_PATH)
@click.option("--wavelengths", "wavelength_list", type=_PATH, required=True,
              help="Text file with one centre wavelength per band, in band order (nm; micrometres when all "
                   "are below 30), separated by line breaks, commas or spaces; '#' starts a comment line.")
@click.option("-o", "--output", type=_PATH, required=True, help="GeoTIFF to write (the scene is never changed).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def set_wavelengths(scene: Path, wavelength_list: Path, output: Path, overwrite: bool) -> None:
    """Copy SCENE to a GeoTIFF whose bands carry the centre wavelengths of a list.

    The copy stores them as the per-band GDAL metadata items `wavelength` and
    `wavelength_units` (what `hsigeo info` and every hsigeo command read), keeps
    CRS, transform, nodata and data type, and is tiled and compressed.
    """
    from hsigeo.filesafety import Output, guard_outputs
    from hsigeo.io.raster import open_hsi, write_hsi
    from hsigeo.io.wavelengths import read_wavelength_list, with_wavelengths

    with guard_outputs([Output(output, "-o", (".tif", ".tiff"))], overwrite=overwrite,
                       inputs=(wavelength_list,), rasters=(scene,)):
        da = open_hsi(scene, chunks=_CHUNKS)
        wl = read_wavelength_list(wavelength_list, da.sizes["band"])
        written = write_hsi(with_wavelengths(da, wl), output, overwrite=overwrite)
    click.echo(f"Wrote {written}: {da.sizes['band']} bands, {wl.min():.1f}-{wl.max():.1f} nm.")
