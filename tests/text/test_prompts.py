"""Tests for hsigeo.text.prompts: shipped prompt sets, schema validation, round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hsigeo.classes import DEFAULT_PALETTE, ClassInfo, parse_colour
from hsigeo.errors import OutputExistsError, PromptError
from hsigeo.text.prompts import (
    PromptSet,
    load_prompts,
    prompt_hash,
    save_prompts,
)

PROMPT_DIR = Path(__file__).resolve().parents[2] / "hsigeo" / "data" / "prompts"

SALINAS_NAMES = [
    "Brocoli_green_weeds_1", "Brocoli_green_weeds_2", "Fallow", "Fallow_rough_plow", "Fallow_smooth",
    "Stubble", "Celery", "Grapes_untrained", "Soil_vinyard_develop", "Corn_senesced_green_weeds",
    "Lettuce_romaine_4wk", "Lettuce_romaine_5wk", "Lettuce_romaine_6wk", "Lettuce_romaine_7wk",
    "Vinyard_untrained", "Vinyard_vertical_trellis",
]  # fmt: skip
INDIAN_PINES_NAMES = [
    "Alfalfa", "Corn-notill", "Corn-mintill", "Corn", "Grass-pasture", "Grass-trees",
    "Grass-pasture-mowed", "Hay-windrowed", "Oats", "Soybean-notill", "Soybean-mintill",
    "Soybean-clean", "Wheat", "Woods", "Buildings-Grass-Trees-Drives", "Stone-Steel-Towers",
]  # fmt: skip
PAVIA_NAMES = [
    "Asphalt", "Meadows", "Gravel", "Trees", "Painted metal sheets", "Bare Soil", "Bitumen",
    "Self-Blocking Bricks", "Shadows",
]  # fmt: skip
SALINAS_A = {1: "Brocoli_green_weeds_1", 10: "Corn_senesced_green_weeds", 11: "Lettuce_romaine_4wk",
             12: "Lettuce_romaine_5wk", 13: "Lettuce_romaine_6wk", 14: "Lettuce_romaine_7wk"}  # fmt: skip

SHIPPED = {
    "indian_pines.yaml": dict(zip(range(1, 17), INDIAN_PINES_NAMES, strict=True)),
    "pavia_university.yaml": dict(zip(range(1, 10), PAVIA_NAMES, strict=True)),
    "salinas.yaml": dict(zip(range(1, 17), SALINAS_NAMES, strict=True)),
    "salinas_a.yaml": SALINAS_A,
    "salinas_a_reworded.yaml": None,  # own names, checked below
}
# coarse, merged class sets for prompt-only mapping (their merge tables are in hsigeo/data/merges)
COARSE = ("indian_pines_coarse.yaml", "salinas_a_coarse.yaml", "berlin_coarse.yaml")
# the classes of a spectral library (the zero-shot protocol's library-naming measurement)
LIBRARY = ("berlin_library.yaml",)
# the supervised benchmark's Berlin prompts (hsigeo.datasets.berlin): mixed-pixel descriptions, checked on load
OTHER = ("berlin.yaml",)
# the zero-shot mosaics of library spectra (hsigeo.datasets.library_mosaic), written as a new user would: a
# sentence and a short phrase per class (merge tables in hsigeo/data/merges, checked by the protocol's tests)
MOSAIC = ("jasper_like.yaml", "samson_like.yaml")


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def from_dict(data: object) -> PromptSet:
    return PromptSet.from_dict(data, source="x.yaml")


# --------------------------------------------------------------------------- #
# Shipped prompt sets
# --------------------------------------------------------------------------- #
def test_shipped_files_are_all_listed() -> None:
    assert sorted(p.name for p in PROMPT_DIR.glob("*.yaml")) == sorted([*SHIPPED, *COARSE, *LIBRARY, *OTHER, *MOSAIC])


@pytest.mark.parametrize("fname", MOSAIC)
def test_mosaic_prompt_sets(fname: str) -> None:
    ps = load_prompts(PROMPT_DIR / fname)
    assert len(ps) in (3, 4) and all(len(c.prompts) == 2 for c in ps) and len(set(ps.colours)) == len(ps)


@pytest.mark.parametrize("fname", COARSE)
def test_coarse_prompt_sets_describe_each_class(fname: str) -> None:
    import yaml

    ps = load_prompts(PROMPT_DIR / fname)
    merge = yaml.safe_load((PROMPT_DIR.parent / "merges" / fname).read_text(encoding="utf-8"))
    assert len(ps) >= 4 and len(set(ps.colours)) == len(ps) and len({n.lower() for n in ps.names}) == len(ps)
    assert all(c.prompts and all(len(p.split()) >= 8 for p in c.prompts) for c in ps)  # sentences, not bare names
    # the merge table maps every coarse class value to ground-truth classes, each used once
    assert sorted(int(k) for k in merge["merge"]) == sorted(ps.values) and merge["prompts"] == fname
    merged = [v for group in merge["merge"].values() for v in group]
    assert len(merged) == len(set(merged))


@pytest.mark.parametrize("fname", sorted(SHIPPED))
def test_shipped_prompt_sets(fname: str) -> None:
    ps = load_prompts(PROMPT_DIR / fname)
    expected = SHIPPED[fname]
    if expected is not None:
        assert ps.class_names == expected
        assert ps.values == list(expected)  # file order = value order
    assert all(len(c.prompts) == 3 for c in ps)
    texts = [" ".join(t.lower().split()) for t in ps.texts()]
    assert len(set(texts)) == len(texts)
    assert len(set(ps.colours)) == len(ps)
    assert len({n.lower() for n in ps.names}) == len(ps)
    # descriptions, not the class name with a template around it: long, and no
    # shared opening or closing words across classes
    for c in ps:
        assert all(len(p.split()) >= 12 for p in c.prompts)
    for cut in (slice(0, 5), slice(-5, None)):
        owners: dict[tuple[str, ...], set[int]] = {}
        for i, c in enumerate(ps):
            for p in c.prompts:
                owners.setdefault(tuple(p.lower().split()[cut]), set()).add(i)
        assert max(len(v) for v in owners.values()) <= 3
    assert ps.name == fname.removesuffix(".yaml")


def test_salinas_a_reworded_matches_salinas_a() -> None:
    a = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    b = load_prompts(PROMPT_DIR / "salinas_a_reworded.yaml")
    assert b.values == a.values == [1, 10, 11, 12, 13, 14]
    assert b.colours == a.colours
    assert not set(n.lower() for n in a.names) & set(n.lower() for n in b.names)
    assert not set(a.texts()) & set(b.texts())


def test_salinas_a_prompts_match_salinas() -> None:
    full = load_prompts(PROMPT_DIR / "salinas.yaml")
    for c in load_prompts(PROMPT_DIR / "salinas_a.yaml"):
        assert full.by_value(c.value) == c


def test_shipped_prompts_agree_with_dataset_table() -> None:
    # hsigeo.datasets.scenes names each benchmark scene's prompt file and class table
    datasets = pytest.importorskip("hsigeo.datasets.scenes")
    for spec in datasets.DATASETS.values():
        if spec.prompts in COARSE:  # a coarse prompt set meets the class table through its merge file (tested above)
            continue
        assert load_prompts(PROMPT_DIR / spec.prompts).class_names == spec.classes, spec.name


def test_pavia_prompts_do_not_mention_swir() -> None:
    # ROSIS stops at 860 nm
    for text in load_prompts(PROMPT_DIR / "pavia_university.yaml").texts():
        low = text.lower()
        assert "shortwave" not in low and "swir" not in low and "2200" not in low


def test_examples_symlink_points_at_shipped_prompts() -> None:
    link = PROMPT_DIR.parents[2] / "examples" / "prompts"
    assert (link / "salinas_a.yaml").resolve() == (PROMPT_DIR / "salinas_a.yaml").resolve()


# --------------------------------------------------------------------------- #
# Defaults
# --------------------------------------------------------------------------- #
def test_defaults_values_colours_and_single_prompt() -> None:
    ps = from_dict({"classes": [{"name": "a", "prompts": "bare soil"}, {"name": "b", "prompts": ["grass"]}]})
    assert ps.values == [1, 2]
    assert ps.colours == list(DEFAULT_PALETTE[:2])
    assert ps[0].prompts == ("bare soil",)
    assert ps.name is None and ps.model_path is None


def test_mixed_values_fill_smallest_unused() -> None:
    ps = from_dict(
        {
            "classes": [
                {"name": "a", "prompts": "p a"},
                {"name": "b", "value": 1, "prompts": "p b"},
                {"name": "c", "prompts": "p c"},
                {"name": "d", "value": 3, "prompts": "p d"},
                {"name": "e", "prompts": "p e"},
            ]
        }
    )
    assert ps.values == [2, 1, 4, 3, 5]


def test_default_colours_skip_explicit_ones() -> None:
    first = "#%02x%02x%02x" % DEFAULT_PALETTE[0]
    ps = from_dict({"classes": [{"name": "a", "prompts": "x"}, {"name": "b", "colour": first, "prompts": "y"}]})
    assert ps.colours == [DEFAULT_PALETTE[1], DEFAULT_PALETTE[0]]


@pytest.mark.parametrize(
    ("raw", "rgb"),
    [("#1f77b4", (31, 119, 180)), ("1F77B4", (31, 119, 180)), ("#fff", (255, 255, 255)), ([1, 2, 3], (1, 2, 3))],
)
def test_parse_colour(raw: object, rgb: tuple[int, int, int]) -> None:
    assert parse_colour(raw) == rgb


def test_prompt_whitespace_is_normalised() -> None:
    ps = from_dict({"classes": [{"name": " a ", "prompts": ["  two\n  lines  "]}]})
    assert ps[0].name == "a"
    assert ps[0].prompts == ("two lines",)


def test_lookups_and_views() -> None:
    ps = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    assert ps.by_name("lettuce_romaine_4WK").value == 11
    assert ps.by_value(14).name == "Lettuce_romaine_7wk"
    assert ps.index_of_value(10) == 1
    assert ps.n_prompts == (3,) * 6
    assert len(ps.texts()) == 18 and ps.texts()[:3] == list(ps[0].prompts)
    assert ps[0].colour_hex.startswith("#") and len(ps[0].colour_hex) == 7
    with pytest.raises(KeyError, match="Lettuce_romaine_4wk"):
        ps.by_name("Lettuce_romaine_4")
    with pytest.raises(KeyError):
        ps.by_value(2)


def test_names_only() -> None:
    ps = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    bare = ps.names_only()
    assert bare.names == ps.names and bare.values == ps.values and bare.colours == ps.colours
    assert bare[0].prompts == ("Brocoli green weeds 1",)
    assert ps.names_only(readable=False)[0].prompts == ("Brocoli_green_weeds_1",)
    assert ps[0].prompts != bare[0].prompts  # the original is untouched


def test_without_leaves_out_one_class() -> None:
    """The open-set checks' prompt set: one class left out, the others as they were (prompts, values, colours)."""
    from hsigeo.errors import PromptError

    ps = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    drop = ps.values[1]
    sub = ps.without(drop)
    assert drop not in sub.values and len(sub) == len(ps) - 1
    assert [c for c in ps.classes if c.value != drop] == list(sub.classes) and sub.name == ps.name
    with pytest.raises(KeyError):
        ps.without(999)
    one = ps
    for v in ps.values[1:]:
        one = one.without(v)
    with pytest.raises(PromptError, match="only class"):
        one.without(ps.values[0])


def test_prompt_hash() -> None:
    ps = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    h = prompt_hash(ps, "m1")
    assert len(h) == 64 and int(h, 16) >= 0
    assert prompt_hash(ps, "m1") == h
    assert prompt_hash(ps, "m2") != h
    assert prompt_hash(ps.names_only(), "m1") != h
    assert prompt_hash(["a", "b"], "m") == prompt_hash(("a", "b"), "m")
    # regrouping the same texts into other classes is a different prompt set
    assert prompt_hash([["a", "b"], ["c"]], "m") != prompt_hash([["a"], ["b", "c"]], "m")


def test_model_path_resolved_relative_to_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "model: models/m.hsigeo\nclasses:\n  - name: a\n    prompts: x\n")
    ps = load_prompts(path)
    assert ps.model_path == tmp_path / "models" / "m.hsigeo"
    assert ps.source == path


# --------------------------------------------------------------------------- #
# Round trip
# --------------------------------------------------------------------------- #
def test_round_trip(tmp_path: Path) -> None:
    ps = load_prompts(PROMPT_DIR / "indian_pines.yaml")
    out = ps.save_prompts(tmp_path / "ip.yaml")
    back = load_prompts(out)
    assert back == ps
    assert back.source == out


def test_round_trip_model_path_rewritten_relative(tmp_path: Path) -> None:
    text = "model: m.hsigeo\nclasses:\n  - name: a\n    value: 7\n    colour: [1, 2, 3]\n    prompts: x\n"
    src = write(tmp_path, text)
    ps = load_prompts(src)
    out = save_prompts(ps, tmp_path / "sub" / "copy.yaml")
    data = yaml.safe_load(out.read_text())
    assert data["model"] == "../m.hsigeo"
    assert data["classes"] == [{"name": "a", "value": 7, "colour": "#010203", "prompts": ["x"]}]
    assert load_prompts(out).model_path.resolve() == (tmp_path / "m.hsigeo").resolve()


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    ps = from_dict({"classes": [{"name": "a", "prompts": "x"}]})
    path = ps.save_prompts(tmp_path / "p.yaml")
    with pytest.raises(OutputExistsError):
        ps.save_prompts(path)
    ps.save_prompts(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"]  # no temporary left behind


def test_dataclasses_are_frozen() -> None:
    c = ClassInfo(1, "a", (0, 0, 0), ("x",))
    with pytest.raises(AttributeError):
        c.name = "b"  # type: ignore[misc]


# --------------------------------------------------------------------------- #
# Validation errors
# --------------------------------------------------------------------------- #
def cls(name: str = "a", **kw: object) -> dict:
    return {"name": name, "prompts": kw.pop("prompts", f"prompt for {name}"), **kw}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (["a"], ["x.yaml", "not a mapping", "classes:"]),
        ({"clases": []}, ["x.yaml", "unknown key 'clases'", "did you mean 'classes'"]),
        ({"name": "n"}, ["no 'classes' key"]),
        ({"classes": {"a": 1}}, ["'classes' is a dict, not a list"]),
        ({"classes": []}, ["'classes' is empty"]),
        ({"classes": ["just a name"]}, ["class 0", "not a mapping"]),
        ({"classes": [{"prompts": "x"}]}, ["class 0", "has no 'name'"]),
        ({"classes": [{"name": 5, "prompts": "x"}]}, ["class 0", "quote it"]),
        ({"classes": [cls("a", color="#000000")]}, ["class 0 ('a')", "unknown key 'color'", "did you mean 'colour'"]),
        ({"classes": [cls("a", promts="x")]}, ["did you mean 'prompts'"]),
        ({"classes": [cls("a", weight=2)]}, ["unknown key 'weight'", "remove it"]),
        ({"classes": [cls("Soil"), cls("soil ")]}, ["class 1 ('soil')", "duplicate class name", "class 0 is 'Soil'"]),
        ({"classes": [cls("a", prompts=["ok", "   "])]}, ["class 0 ('a')", "prompt 1 is empty or whitespace"]),
        ({"classes": [cls("a", prompts=[])]}, ["class 0 ('a')", "'prompts' is empty"]),
        ({"classes": [{"name": "a"}]}, ["class 0 ('a')", "has no prompts"]),
        ({"classes": [cls("a", prompts=[1])]}, ["prompt 0 (1) is not text", "Quote it"]),
        ({"classes": [cls("a", prompts=["x", "X "])]}, ["repeats an earlier prompt"]),
        (
            {"classes": [cls("a", prompts="same"), cls("b", prompts="same")]},
            ["class 1 ('b')", "also a prompt of class 0 ('a')", "Reword"],
        ),
        ({"classes": [cls("a", value=3), cls("b", value=3)]}, ["class 1 ('b')", "value 3 collides with class 0 ('a')"]),
        ({"classes": [cls("a", value=0)]}, ["class 0 ('a')", "value 0 is < 1", "1..65535"]),
        ({"classes": [cls("a", value=-4)]}, ["value -4 is < 1"]),
        ({"classes": [cls("a", value=65536)]}, ["value 65536 is > 65535", "uint16"]),
        ({"classes": [cls("a", value="3")]}, ["value '3' is not an integer", "without quotes"]),
        ({"classes": [cls("a", value=True)]}, ["value True is not an integer"]),
        ({"classes": [cls("a", colour="#12345")]}, ["class 0 ('a')", "bad colour", "#1f77b4"]),
        ({"classes": [cls("a", colour=[1, 2])]}, ["bad colour", "2 components, not 3"]),
        ({"classes": [cls("a", colour=[0, 0, 256])]}, ["bad colour", "outside 0..255"]),
        ({"classes": [cls("a", colour="red")]}, ["bad colour", "not a hex colour"]),
        ({"classes": [cls("a")], "description": 3}, ["'description' must be a string"]),
    ],
)
def test_validation_errors(data: object, fragments: list[str]) -> None:
    with pytest.raises(PromptError) as info:
        from_dict(data)
    msg = str(info.value)
    assert msg.startswith("x.yaml: ")
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "classes:\n  - name: a\n    prompts: [unclosed\n  - name: b\n")
    with pytest.raises(PromptError, match=r"p\.yaml: YAML syntax error at line \d+") as info:
        load_prompts(path)
    assert "line 4" in str(info.value) or "line 5" in str(info.value)


def test_yaml_bad_indentation_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "classes:\n  - name: a\n    prompts:\n      - ok\n     - bad\n")
    with pytest.raises(PromptError, match="line 5"):
        load_prompts(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="file is empty"):
        load_prompts(write(tmp_path, "# nothing\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"missing\.yaml: prompts file not found"):
        load_prompts(tmp_path / "missing.yaml")


def test_missing_file_suggests_shipped_set(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="shipped prompt set"):
        load_prompts(tmp_path / "salinas_a.yaml")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="is a folder"):
        load_prompts(tmp_path)


def test_errors_are_hsigeo_errors(tmp_path: Path) -> None:
    from hsigeo.errors import HsigeoError

    with pytest.raises(HsigeoError):
        load_prompts(tmp_path / "nope.yaml")


def test_import_is_light() -> None:
    code = "import sys, hsigeo.text.prompts, hsigeo.text.encoder; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
