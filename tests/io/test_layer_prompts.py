"""``hsigeo.io.layer_prompts`` and ``hsigeo prompts``: class prompts from training polygons and their style."""

from __future__ import annotations

import geopandas as gpd
import pytest
from hsigeo_cli.main import main
from shapely.geometry import box

from hsigeo.errors import PromptError
from hsigeo.io.layer_prompts import prompts_from_layer as layer_mapping
from hsigeo.io.layer_prompts import read_categories
from hsigeo.io.qml import categorized_vector_qml
from hsigeo.io.vectors import embed_layer_style, write_vector
from hsigeo.text.prompts import PromptSet, load_prompts


def prompts_from_layer(*args, **kwargs) -> PromptSet:
    """The mapping the module builds, validated as the CLI does."""
    return PromptSet.from_dict(layer_mapping(*args, **kwargs))


def _polygons(path, values, **fields):
    gdf = gpd.GeoDataFrame({"cls": values, **fields},
                           geometry=[box(i, 0, i + 1, 1) for i in range(len(values))], crs="EPSG:32611")
    return write_vector(gdf, path)


def test_names_with_a_stored_style_and_descriptions(tmp_path):
    path = _polygons(tmp_path / "fields.gpkg", ["Bare_soil", "Water", "Water", "Meadow"],
                     note=["", "Open water, dark in the infrared", "A lake", None])
    # the style lists Water first; Meadow is not in it
    style = categorized_vector_qml([(1, "Water", "#0050ff"), (2, "Bare soil", "#c08040")], field="cls")
    embed_layer_style(path, "fields", style.replace('value="1"', 'value="Water"').replace('value="2"', 'value="Bare_soil"'))
    prompts = prompts_from_layer(path, "CLS", description_field="note")
    assert [(c.value, c.name, c.prompts) for c in prompts.classes] == [
        (1, "Water", ("Open water, dark in the infrared", "A lake")),
        (2, "Bare_soil", ("Bare soil",)),  # the legend label
        (3, "Meadow", ("Meadow",)),
    ]
    assert [c.colour_hex for c in prompts.classes][:2] == ["#0050ff", "#c08040"]
    assert "colours from" in prompts.description and "layer_styles" in prompts.description


def test_integer_values_take_labels_from_a_qml_beside_the_file(tmp_path):
    path = _polygons(tmp_path / "f.gpkg", [12, 3, 12])
    (tmp_path / "f.qml").write_text(categorized_vector_qml([(3, "Asphalt road", "#505050"),
                                                           (12, "Pine_forest", "#00aa00")], field="cls"))
    prompts = prompts_from_layer(path, "cls")
    assert [(c.value, c.name, c.colour_hex, c.prompts) for c in prompts.classes] == [
        (3, "Asphalt road", "#505050", ("Asphalt road",)),
        (12, "Pine_forest", "#00aa00", ("Pine forest",)),
    ]


def test_style_of_another_field_is_ignored_and_no_style_uses_the_palette(tmp_path):
    path = _polygons(tmp_path / "f.gpkg", ["b", "a"], other=["x", "y"])
    (tmp_path / "s.qml").write_text(categorized_vector_qml([(1, "A", "#ffffff")], field="other"))
    prompts = prompts_from_layer(path, "cls", style=tmp_path / "s.qml")
    assert [(c.value, c.name) for c in prompts.classes] == [(1, "a"), (2, "b")]
    assert prompts.classes[0].colour_hex != "#ffffff"
    assert read_categories("<qgis><renderer-v2 type='singleSymbol'/></qgis>") == (None, [])


def test_errors_name_the_file_and_field(tmp_path):
    path = _polygons(tmp_path / "f.gpkg", ["a"])
    with pytest.raises(PromptError, match=r"f\.gpkg: no field 'crop'; the layer has 'cls'"):
        prompts_from_layer(path, "crop")
    with pytest.raises(PromptError, match="not found"):
        prompts_from_layer(tmp_path / "missing.gpkg", "cls")


def test_cli_writes_a_file_that_train_reads(tmp_path, capsys):
    path = _polygons(tmp_path / "f.gpkg", ["Water", "Forest"])
    out = tmp_path / "prompts.yaml"
    main(["prompts", str(path), "--field", "cls", "-o", str(out)])
    assert "Wrote 2 classes" in capsys.readouterr().out
    assert [c.name for c in load_prompts(out).classes] == ["Forest", "Water"]
    with pytest.raises(SystemExit) as exit_info:
        main(["prompts", str(path), "--field", "cls", "-o", str(out)])
    assert exit_info.value.code == 2 and "exists" in capsys.readouterr().err
