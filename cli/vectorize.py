"""``hsigeo vectorize``: turn a classification GeoTIFF into GeoPackage polygons."""

from __future__ import annotations

from pathlib import Path

import click

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("classes", type=_PATH)
@click.option("-o", "--output", type=_PATH, required=True,
              help="Vector file to write (.gpkg GeoPackage 1.2; .shp, .geojson and .fgb work too).")
@click.option("--min-area", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Drop polygons smaller than this area, in CRS units squared (m² for a metric CRS).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def vectorize(classes: Path, output: Path, min_area: float, overwrite: bool) -> None:
    """Polygonise CLASSES (a classification GeoTIFF, e.g. from `hsigeo classify`).

    Each polygon gets class_id, class_name (from the raster's class table) and area.
    """
    from hsigeo.filesafety import Output, guard_outputs
    from hsigeo.io.classmaps import read_classification
    from hsigeo.io.vectors import VECTOR_DRIVERS, area_unit, vectorize_classes, write_vector

    # fail before the work, not after
    with guard_outputs([Output(output, "-o", tuple(VECTOR_DRIVERS))], overwrite=overwrite, rasters=(classes,)):
        class_da = read_classification(classes)
        gdf = vectorize_classes(class_da, min_area=min_area)
        write_vector(gdf, output, overwrite=overwrite)
    click.echo(f"Wrote {len(gdf):,} polygons to {output}.")
    if len(gdf):
        unit = area_unit(class_da)
        summary = gdf.groupby(["class_id", "class_name"])["area"].agg(["count", "sum"])
        for (value, name), row in summary.iterrows():
            click.echo(f"  {value:>5}  {name:<30} {int(row['count']):>8,} polygons  {row['sum']:>14,.1f} {unit}")
