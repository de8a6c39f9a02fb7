"""``hsigeo prompts``: write a prompts YAML from a layer of training polygons and its style."""

from __future__ import annotations

from pathlib import Path

import click

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("layer_path", metavar="LAYER")
@click.option("--field", required=True, help="The class field of the polygons (class values or names).")
@click.option("--layer", "layer_name", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option("--style", type=_FILE, default=None,
              help="QGIS style (.qml) with the layer's categorized symbology: class labels and colours. "
                   "Default: the GeoPackage's default style (layer_styles), else LAYER's .qml beside it.")
@click.option("--description-field", default=None,
              help="Field with descriptions of the classes; its texts become the prompts.")
@click.option("-o", "--output", type=_FILE, required=True, help="Prompts YAML to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def prompts(layer_path: str, field: str, layer_name: str | None, style: Path | None, description_field: str | None,
            output: Path, overwrite: bool) -> None:
    """Write class prompts for the classes of LAYER's --field.

    Names, values and colours follow the layer and its categorized style; the
    prompts are the description field's texts, else the readable class names:
    edit them to describe what each class looks like.  Train and classify take
    the file as it is, with LAYER and --field as labels.
    """
    from hsigeo.filesafety import Output, guard_outputs
    from hsigeo.io.layer_prompts import layer_files, prompts_from_layer
    from hsigeo.text.prompts import PromptSet, save_prompts

    # the layer (with its parts: a shapefile's .dbf, a GeoPackage's journal) and its style are inputs
    with guard_outputs([Output(output, "-o")], overwrite=overwrite, inputs=layer_files(layer_path, style)):
        prompt_set = PromptSet.from_dict(prompts_from_layer(layer_path, field, layer=layer_name, style=style,
                                                            description_field=description_field), source=layer_path)
        save_prompts(prompt_set, output, overwrite=overwrite)
    click.echo(f"Wrote {len(prompt_set)} classes to {output}:")
    for c in prompt_set.classes:
        click.echo(f"  {c.value:>5}  {c.name:<30} {c.colour_hex}  {c.prompts[0][:60]}")
