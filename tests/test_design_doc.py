"""DESIGN.md stays true to the code: every module, folder and dotted name it gives exists where it says.

The map of the package is read by people deciding where a change goes; a renamed or moved
module that the map still shows in its old place sends them to the wrong file.  These tests
parse DESIGN.md (paths like ``model/training.py`` or ``hsigeo/io/``, dotted names like
``hsigeo.inference.model_contract.InferenceModel``) and check each against the checkout, and
check that a name the modules table gives to a module is defined there.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "DESIGN.md"
#: Where a relative path in DESIGN.md may start: the repository, or the ``hsigeo`` package
#: (the modules table names ``io/raster.py`` for ``hsigeo/io/raster.py``).
BASES = (ROOT, ROOT / "hsigeo")
#: Top-level folders a path written from the repository root starts with.
TOP = ("hsigeo", "cli", "qgis_plugin", "scripts", "benchmarks", "tests", "docs", "examples")

_BACKTICKED = re.compile(r"`([^`]+)`")
_PATH = re.compile(r"^[\w.-]+(?:/[\w.-]+)*(?:\.py|/)$")
_BARE_PATH = re.compile(r"(?<![\w/.`])((?:%s)/[\w/.-]*?(?:\.py|/))(?![\w/])" % "|".join(TOP))
_DOTTED = re.compile(r"\bhsigeo(?:_cli)?(?:\.[A-Za-z_]\w*)+")
_LEADING_NAME = re.compile(r"^([A-Za-z_]\w*)(?:$|[(.\[])")


def _text() -> str:
    return DESIGN.read_text(encoding="utf-8")


def _resolve(token: str, near: Path | None) -> Path | None:
    """The file or folder a path token names, or None."""
    bases = (*BASES, near) if near is not None and "/" not in token.rstrip("/") else BASES
    for base in bases:
        if base is not None and (base / token).exists():
            return base / token
    return None


def _path_tokens() -> list[tuple[int, str, Path | None]]:
    """(line number, token, the folder of the path before it on the line) for every path DESIGN.md gives."""
    found = []
    for n, line in enumerate(_text().splitlines(), 1):
        near: Path | None = None
        for token in _BACKTICKED.findall(line):
            if "*" in token or " " in token or not _PATH.match(token):
                continue
            found.append((n, token, near))
            hit = _resolve(token, near)
            if hit is not None:
                near = hit if hit.is_dir() else hit.parent
        for token in _BARE_PATH.findall(_BACKTICKED.sub("", line)):  # paths outside backticks (the data-flow sketch)
            found.append((n, token, None))
    return found


def test_design_doc_names_paths():
    assert len(_path_tokens()) > 60  # the parser still finds the modules table


@pytest.mark.parametrize(("line", "token", "near"),
                         [pytest.param(*found, id=f"{found[0]}:{found[1]}") for found in _path_tokens()])
def test_every_path_exists(line, token, near):
    assert _resolve(token, near) is not None, f"DESIGN.md line {line}: {token} does not exist"


def _import(dotted: str) -> object:
    """The object a dotted name gives (``hsigeo_cli`` is the ``cli/`` folder's package)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _dotted_names() -> list[str]:
    return sorted(set(_DOTTED.findall(_text())))


@pytest.mark.parametrize("dotted", _dotted_names())
def test_every_dotted_name_imports(dotted):
    try:
        _import(dotted)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"DESIGN.md names {dotted}, which does not import: {exc}")


# --------------------------------------------------------------------------- #
# The modules table: what each module owns is defined there
# --------------------------------------------------------------------------- #
@cache
def _defined_names() -> frozenset[str]:
    """Every public top-level function, class and constant of the library and the command line."""
    names: set[str] = set()
    for folder in ("hsigeo", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return frozenset(n for n in names if not n.startswith("_"))


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "cli":
        parts[0] = "hsigeo_cli"
    return ".".join(parts)


def _module_rows() -> list[tuple[int, list[str], str]]:
    """(line, module names, the first name the row says it owns) for each row of the modules table naming .py files.

    A row's "owns" cell leads with what the module defines and goes on to say where it is
    used, so only its first name is an ownership claim.
    """
    text = _text()
    start = text.index("## Modules")
    end = text.index("\n## ", start + 1)
    first_line = text[:start].count("\n") + 1
    rows = []
    for n, line in enumerate(text[start:end].splitlines(), first_line):
        cells = line.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        near, modules = None, []
        for token in _BACKTICKED.findall(cells[1]):
            hit = _resolve(token, near)
            if hit is not None and hit.suffix == ".py":
                modules.append(_module_of(hit))
                near = hit.parent
        owned = [m.group(1) for t in _BACKTICKED.findall("|".join(cells[2:])) if (m := _LEADING_NAME.match(t))]
        if modules and owned and owned[0] in _defined_names():
            rows.append((n, modules, owned[0]))
    return rows


def test_modules_table_rows_found():
    assert len(_module_rows()) > 40


@pytest.mark.parametrize(("line", "modules", "name"),
                         [pytest.param(*row, id=row[1][0]) for row in _module_rows()])
def test_modules_table_names_live_in_their_module(line, modules, name):
    """The first function or class a row gives to a module is that module's (``read_classification`` once was not)."""
    loaded = [importlib.import_module(m) for m in modules]
    assert any(hasattr(m, name) for m in loaded), f"DESIGN.md line {line}: {name} is not in {modules}"
