"""Class prompt sets: the text side of the classifier.

A prompt set is a YAML file listing the classes of a scene, each with one or
more descriptive prompts that the frozen text encoder embeds::

    name: salinas_a                  # optional
    description: Salinas-A subscene  # optional
    model: salinas_a.hsigeo          # optional, relative to this YAML file
    classes:
      - name: Brocoli_green_weeds_1
        value: 1                     # optional label value, int >= 1, unique
        colour: "#1f77b4"            # optional, hex or [r, g, b]
        prompts:                     # one or more prompts (a single string too)
          - "A broccoli field with weeds between the rows ..."

Label values follow the label rasters (``0`` is unlabelled).  When no class
gives a value the classes are numbered 1..C in file order; when only some do,
the others get the smallest unused values, in file order.  Missing colours
come from a fixed qualitative palette, skipping colours other classes use.

Every problem found while loading raises :class:`~hsigeo.errors.PromptError`
naming the file, the class (index and name), the problem and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hsigeo.classes import DEFAULT_PALETTE, MAX_VALUE, ClassInfo, parse_colour
from hsigeo.errors import PromptError, UnknownClassError

__all__ = [
    "PromptSet",
    "load_prompts",
    "save_prompts",
    "prompt_hash",
    "MAX_VALUE",
    "MAX_FILE_BYTES",
    "MAX_CLASSES",
    "MAX_PROMPTS",
]

# Limits of a prompts file: far above any real prompt set (a few hundred classes, tens of prompts
# each), low enough that a hostile or mistaken file fails in milliseconds instead of exhausting
# memory or embedding for hours.
MAX_FILE_BYTES = 2 << 20
MAX_CLASSES = 1024
MAX_PROMPTS_PER_CLASS = 256
MAX_PROMPTS = 4096
MAX_PROMPT_CHARS = 4000
MAX_NAME_CHARS = 200

_TOP_KEYS = ("classes", "name", "description", "model")
_CLASS_KEYS = ("name", "value", "colour", "prompts")


# --------------------------------------------------------------------------- #
# Data classes
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class PromptSet:
    """An ordered, validated set of class prompts.

    Build one with :func:`load_prompts` or :meth:`from_dict`; constructing it
    directly skips validation.

    Attributes
    ----------
    classes
        The classes, in file order (this order is the model's class order).
    name, description
        Optional free-text metadata.
    model_path
        Optional path of the trained model file this prompt set goes with,
        resolved against the YAML file's folder.
    source
        The YAML file the set was read from, if any.
    """

    classes: tuple[ClassInfo, ...]
    name: str | None = None
    description: str | None = None
    model_path: Path | None = None
    source: Path | None = field(default=None, compare=False)

    # -- container protocol ------------------------------------------------ #
    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self) -> Iterator[ClassInfo]:
        return iter(self.classes)

    def __getitem__(self, index: int) -> ClassInfo:
        return self.classes[index]

    # -- views --------------------------------------------------------------- #
    @property
    def names(self) -> list[str]:
        """Class names in class order."""
        return [c.name for c in self.classes]

    @property
    def values(self) -> list[int]:
        """Label values in class order."""
        return [c.value for c in self.classes]

    @property
    def colours(self) -> list[tuple[int, int, int]]:
        """``(r, g, b)`` colours in class order."""
        return [c.colour for c in self.classes]

    @property
    def class_names(self) -> dict[int, str]:
        """``{value: name}``, the form label rasters keep in ``attrs["class_names"]``."""
        return {c.value: c.name for c in self.classes}

    @property
    def n_prompts(self) -> tuple[int, ...]:
        """Number of prompts of each class."""
        return tuple(len(c.prompts) for c in self.classes)

    def texts(self) -> list[str]:
        """All prompts, flattened in class order (class 0's prompts first).

        Use :attr:`n_prompts` to split an array of their embeddings back per class.
        """
        return [p for c in self.classes for p in c.prompts]

    def by_name(self, name: str) -> ClassInfo:
        """Return the class called ``name`` (case-insensitive).

        Raises
        ------
        KeyError
            When no class has that name; the message suggests the closest names.
        """
        key = str(name).strip().casefold()
        for c in self.classes:
            if c.name.casefold() == key:
                return c
        close = difflib.get_close_matches(str(name), self.names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownClassError(f"no class named {name!r} in {self._where()} (classes: {', '.join(self.names)}).{hint}")

    def by_value(self, value: int) -> ClassInfo:
        """Return the class whose label value is ``value``.

        Raises
        ------
        KeyError
            When no class has that value.
        """
        for c in self.classes:
            if c.value == value:
                return c
        raise UnknownClassError(f"no class with label value {value!r} in {self._where()} (values: {self.values}).")

    def index_of_value(self, value: int) -> int:
        """Return the class index (position) of label value ``value``."""
        for i, c in enumerate(self.classes):
            if c.value == value:
                return i
        raise UnknownClassError(f"no class with label value {value!r} in {self._where()} (values: {self.values}).")

    # -- derived sets -------------------------------------------------------- #
    def names_only(self, *, readable: bool = True) -> PromptSet:
        """Return a copy whose only prompt per class is the class name.

        Used by the benchmark ablation (descriptive prompts vs bare names).

        Parameters
        ----------
        readable
            Replace underscores by spaces (``"Fallow_rough_plow"`` ->
            ``"Fallow rough plow"``) so that the tokenizer sees words, as a user
            typing the name would; ``False`` keeps the name verbatim.
        """
        classes = tuple(
            replace(c, prompts=(c.name.replace("_", " ").strip() if readable else c.name,)) for c in self.classes
        )
        return replace(self, classes=classes, description=f"class names only ({self.name or 'prompt set'})")

    def without(self, value: int) -> PromptSet:
        """Return a copy without the class of label ``value`` (a cover the user did not name; the open-set checks).

        Raises
        ------
        UnknownClassError
            When no class has that value.
        PromptError
            When it is the only class (a prompt set needs at least one).
        """
        self.by_value(value)
        if len(self.classes) == 1:
            raise PromptError(f"{self._where()}: cannot leave out its only class (value {value}).")
        return replace(self, classes=tuple(c for c in self.classes if c.value != value))

    # -- (de)serialisation --------------------------------------------------- #
    @classmethod
    def from_dict(cls, data: Any, *, source: str | os.PathLike | None = None) -> PromptSet:
        """Validate a parsed YAML mapping and build a prompt set.

        Parameters
        ----------
        data
            The mapping (as from ``yaml.safe_load``).
        source
            The file it came from: named in error messages, and the folder a
            relative ``model`` path is resolved against.

        Raises
        ------
        PromptError
            On any schema problem; the message names the file, class, problem and fix.
        """
        return _parse(data, Path(source) if source is not None else None)

    def to_dict(self, *, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
        """Return a plain mapping in the YAML schema (every value and colour explicit).

        Parameters
        ----------
        relative_to
            Folder to write ``model`` relative to (the folder of the YAML being
            written); by default the path is written as stored.
        """
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.description is not None:
            out["description"] = self.description
        if self.model_path is not None:
            model = Path(self.model_path)
            if relative_to is not None:
                try:
                    model = Path(os.path.relpath(model.resolve(), Path(relative_to).resolve()))
                except ValueError:  # another drive on Windows: keep it absolute
                    model = model.resolve()
            out["model"] = model.as_posix()
        out["classes"] = [
            {"name": c.name, "value": c.value, "colour": c.colour_hex, "prompts": list(c.prompts)}
            for c in self.classes
        ]
        return out

    def save_prompts(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the set as YAML (atomically); see :func:`save_prompts`."""
        return save_prompts(self, path, overwrite=overwrite)

    def _where(self) -> str:
        return str(self.source) if self.source is not None else "the prompt set"


# --------------------------------------------------------------------------- #
# Loading and saving
# --------------------------------------------------------------------------- #
def load_prompts(path: str | os.PathLike) -> PromptSet:
    """Read and validate a prompts YAML file.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    PromptSet

    Raises
    ------
    PromptError
        When the file is missing or unreadable, is not valid YAML (the message
        gives the line), or breaks the schema.
    """
    import yaml  # light, but only needed here

    path = Path(path)
    if not path.exists():
        hint = ""
        shipped = _shipped_dir()
        if path.suffix in ("", ".yaml", ".yml") and (shipped / f"{path.stem}.yaml").exists():
            hint = f" A shipped prompt set of that name exists: {shipped / (path.stem + '.yaml')}."
        raise PromptError(f"{path}: prompts file not found. Check the path.{hint}")
    if path.is_dir():
        raise PromptError(f"{path}: is a folder, not a prompts YAML file. Pass the .yaml file itself.")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PromptError(f"{path}: cannot read the prompts file ({exc.strerror}).") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise PromptError(
            f"{path}: larger than {MAX_FILE_BYTES >> 20} MB; a prompts file holds a few descriptions per class. "
            "Check that this is the right file."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8.") from exc
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader without aliases
    except _AliasError as exc:
        raise PromptError(
            f"{path}: YAML {exc.kind} at line {exc.line}; prompts files may not use anchors (&) or aliases (*). "
            "Write each value out."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PromptError(
            f"{path}: YAML syntax error{where}: {_short(problem, 200, plain=True)}. Fix the YAML there "
            "(check indentation, and quote prompts that contain ': ' or start with a special character)."
        ) from exc
    return _parse(data, path)


def save_prompts(prompt_set: PromptSet, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``prompt_set`` to ``path`` as YAML, atomically.

    Values and colours are written explicitly; a ``model`` path is written
    relative to the new file's folder.

    Parameters
    ----------
    prompt_set
        The set to write.
    path
        Output ``.yaml`` file.
    overwrite
        Replace an existing file (otherwise :class:`~hsigeo.errors.OutputExistsError`).

    Returns
    -------
    Path
        ``path``.
    """
    import yaml

    from hsigeo.filesafety import atomic_output

    path = Path(path)
    data = prompt_set.to_dict(relative_to=path.parent)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def prompt_hash(texts: PromptSet | Sequence[str] | Sequence[Sequence[str]], model_id: str) -> str:
    """Return a sha256 hex digest identifying prompts embedded by one text model.

    Store it next to cached text embeddings; a different digest means the
    embeddings are stale.

    Parameters
    ----------
    texts
        A :class:`PromptSet` (hashed per class, so moving a prompt from one
        class to another changes the digest), a flat list of texts, or a list
        of per-class lists.
    model_id
        The text encoder's :attr:`~hsigeo.text.encoder.TextEncoder.model_id`.
    """
    if isinstance(texts, PromptSet):
        payload: Any = [list(c.prompts) for c in texts.classes]
    elif isinstance(texts, str):
        payload = [texts]
    else:
        payload = [t if isinstance(t, str) else list(t) for t in texts]
    blob = json.dumps({"model": model_id, "texts": payload}, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
class _AliasError(Exception):
    def __init__(self, kind: str, line: int) -> None:
        super().__init__(kind)
        self.kind, self.line = kind, line


def _no_alias_loader() -> type:
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses anchors and aliases (no "billion laughs" expansion)."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                raise _AliasError("alias", event.start_mark.line + 1)
            if getattr(event, "anchor", None) is not None:
                raise _AliasError("anchor", event.start_mark.line + 1)
            return super().compose_node(parent, index)

    return NoAliasLoader


class _LazyLoader:
    """Builds the loader class on first use, so importing this module does not import yaml."""

    _cls: type | None = None

    def __call__(self, stream: Any) -> Any:
        if _LazyLoader._cls is None:
            _LazyLoader._cls = _no_alias_loader()
        return _LazyLoader._cls(stream)


_NoAliasLoader = _LazyLoader()


def _short(value: Any, limit: int = 60, *, plain: bool = False) -> str:
    """``repr(value)`` (or ``str`` with ``plain``) cut to ``limit`` characters, for messages."""
    text = str(value) if plain else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _shipped_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "prompts"


def _unknown_key_message(key: Any, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {_short(key)}; did you mean {close[0]!r}? (known keys: {', '.join(known)})"
    return f"unknown key {_short(key)}; remove it (known keys: {', '.join(known)})"


def _norm_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def _parse(data: Any, source: Path | None) -> PromptSet:
    where = str(source) if source is not None else "prompt set"

    def fail(msg: str) -> PromptError:
        return PromptError(f"{where}: {msg}")

    if data is None:
        raise fail("the file is empty. Add a top-level 'classes:' list (see hsigeo/data/prompts/*.yaml).")
    if not isinstance(data, Mapping):
        raise fail(
            f"the top level is a {type(data).__name__}, not a mapping. "
            "Start the file with 'classes:' followed by a list of classes."
        )
    for key in data:
        if key not in _TOP_KEYS:
            raise fail(f"top level: {_unknown_key_message(key, _TOP_KEYS)}.")
    if "classes" not in data:
        raise fail("no 'classes' key. Add a top-level 'classes:' list with one entry per class.")
    entries = data["classes"]
    if not isinstance(entries, list):
        raise fail(
            f"'classes' is a {type(entries).__name__}, not a list. "
            "Write each class as a list item starting with '- name: ...'."
        )
    if not entries:
        raise fail("'classes' is empty. Add at least one class.")
    if len(entries) > MAX_CLASSES:
        raise fail(f"{len(entries)} classes; at most {MAX_CLASSES} are supported. Split the prompt set.")
    n_prompts = 0

    meta: dict[str, str | None] = {}
    for key in ("name", "description", "model"):
        v = data.get(key)
        if v is not None and not isinstance(v, str):
            raise fail(f"top-level '{key}' must be a string, got {type(v).__name__} {_short(v)}. Quote it.")
        meta[key] = v.strip() if isinstance(v, str) else None
    model_path: Path | None = None
    if meta["model"]:
        model_path = Path(meta["model"]).expanduser()
        if not model_path.is_absolute() and source is not None:
            model_path = source.parent / model_path

    names: list[str] = []
    given_values: list[int | None] = []
    given_colours: list[tuple[int, int, int] | None] = []
    prompt_lists: list[tuple[str, ...]] = []
    seen_names: dict[str, int] = {}
    seen_prompts: dict[str, tuple[int, str]] = {}

    for i, entry in enumerate(entries):
        cls_where = f"class {i}"
        if not isinstance(entry, Mapping):
            raise fail(
                f"{cls_where}: is a {type(entry).__name__} ({_short(entry)}), not a mapping. "
                "Write it as '- name: ...' with 'prompts:' below."
            )
        raw_name = entry.get("name")
        if raw_name is None:
            raise fail(f"{cls_where}: has no 'name'. Add 'name: <class name>'.")
        if not isinstance(raw_name, str):
            raise fail(f"{cls_where}: name {_short(raw_name)} is a {type(raw_name).__name__}; quote it so it is a string.")
        name = raw_name.strip()
        if not name:
            raise fail(f"{cls_where}: the name is empty. Give the class a name.")
        if len(name) > MAX_NAME_CHARS or not _printable(name):
            raise fail(
                f"{cls_where}: the name {_short(name)} is longer than {MAX_NAME_CHARS} characters or holds control "
                "characters (NUL, tab, newline...); they break raster category tables. Use a short plain name."
            )
        cls_where = f"class {i} ({name!r})"
        for key in entry:
            if key not in _CLASS_KEYS:
                raise fail(f"{cls_where}: {_unknown_key_message(key, _CLASS_KEYS)}.")
        folded = name.casefold()
        if folded in seen_names:
            j = seen_names[folded]
            raise fail(
                f"{cls_where}: duplicate class name (class {j} is {names[j]!r}; names are compared "
                "case-insensitively). Rename one of them or merge their prompts."
            )
        seen_names[folded] = i

        # value
        value = entry.get("value")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail(
                    f"{cls_where}: value {_short(value)} is not an integer. "
                    f"Use the class's integer label value (1..{MAX_VALUE}) without quotes."
                )
            if value < 1:
                raise fail(
                    f"{cls_where}: value {value} is < 1; 0 means unlabelled in label rasters. "
                    f"Use a value in 1..{MAX_VALUE}."
                )
            if value > MAX_VALUE:
                raise fail(
                    f"{cls_where}: value {value} is > {MAX_VALUE} (classification rasters are uint16). "
                    f"Use a value in 1..{MAX_VALUE}."
                )
            for j, other in enumerate(given_values):
                if other == value:
                    raise fail(
                        f"{cls_where}: value {value} collides with class {j} ({names[j]!r}). "
                        "Give each class its own label value."
                    )

        # colour
        colour = entry.get("colour")
        rgb: tuple[int, int, int] | None = None
        if colour is not None:
            try:
                rgb = parse_colour(colour)
            except ValueError as exc:
                raise fail(
                    f"{cls_where}: bad colour: {exc}. Use a quoted hex string like \"#1f77b4\" "
                    "or a list of three integers 0..255 like [31, 119, 180]."
                ) from None

        # prompts
        if "prompts" not in entry or entry["prompts"] is None:
            raise fail(f"{cls_where}: has no prompts. Add 'prompts:' with one or more descriptions of the class.")
        raw_prompts = entry["prompts"]
        if isinstance(raw_prompts, str):
            raw_prompts = [raw_prompts]
        if not isinstance(raw_prompts, list):
            raise fail(
                f"{cls_where}: 'prompts' is a {type(raw_prompts).__name__}; "
                "write a string or a list of strings."
            )
        if not raw_prompts:
            raise fail(f"{cls_where}: 'prompts' is empty. Add at least one description of the class.")
        n_prompts += len(raw_prompts)
        if len(raw_prompts) > MAX_PROMPTS_PER_CLASS or n_prompts > MAX_PROMPTS:
            raise fail(
                f"{cls_where}: too many prompts (at most {MAX_PROMPTS_PER_CLASS} per class and {MAX_PROMPTS} in "
                "all); a few good descriptions per class are enough. Remove some."
            )
        cleaned: list[str] = []
        for k, p in enumerate(raw_prompts):
            if not isinstance(p, str):
                raise fail(f"{cls_where}: prompt {k} ({_short(p)}) is not text but {type(p).__name__}. Quote it.")
            if len(p) > MAX_PROMPT_CHARS:
                raise fail(f"{cls_where}: prompt {k} has {len(p):,} characters; at most {MAX_PROMPT_CHARS} "
                           "(the text model reads only the first few hundred). Shorten it.")
            text = " ".join(p.split())  # YAML folded/literal blocks leave newlines and runs of spaces
            if not text:
                raise fail(f"{cls_where}: prompt {k} is empty or whitespace. Write a description or delete it.")
            key = _norm_text(text)
            if key in seen_prompts:
                j, _ = seen_prompts[key]
                if j == i:
                    raise fail(f"{cls_where}: prompt {k} repeats an earlier prompt of this class. Delete it.")
                raise fail(
                    f"{cls_where}: prompt {k} is also a prompt of class {j} ({names[j]!r}); a prompt shared by "
                    "two classes cannot tell them apart. Reword one of them."
                )
            seen_prompts[key] = (i, text)
            cleaned.append(text)

        names.append(name)
        given_values.append(value)
        given_colours.append(rgb)
        prompt_lists.append(tuple(cleaned))

    values = _fill_values(given_values)
    colours = _fill_colours(given_colours)
    classes = tuple(
        ClassInfo(value=v, name=n, colour=c, prompts=p)
        for n, v, c, p in zip(names, values, colours, prompt_lists, strict=True)
    )
    return PromptSet(
        classes=classes,
        name=meta["name"],
        description=meta["description"],
        model_path=model_path,
        source=source,
    )


def _fill_values(given: list[int | None]) -> list[int]:
    """Fill missing values with the smallest unused integers >= 1, in order."""
    used = {v for v in given if v is not None}
    out: list[int] = []
    candidate = 1
    for v in given:
        if v is None:
            while candidate in used:
                candidate += 1
            v = candidate
            used.add(v)
        out.append(v)
    return out


def _fill_colours(given: list[tuple[int, int, int] | None]) -> list[tuple[int, int, int]]:
    """Fill missing colours from the palette, skipping colours already in use."""
    used = {c for c in given if c is not None}
    free = [c for c in DEFAULT_PALETTE if c not in used]
    out: list[tuple[int, int, int]] = []
    k = 0
    for c in given:
        if c is None:
            # past the palette's end, cycle (colours repeat rather than fail)
            c = free[k % len(free)] if free else DEFAULT_PALETTE[k % len(DEFAULT_PALETTE)]
            k += 1
        out.append(c)
    return out
