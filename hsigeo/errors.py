"""The hsigeo exception hierarchy.

Every error raised on purpose by hsigeo derives from :class:`HsigeoError`, so
callers (the CLI, the QGIS plugin, scripts) can catch one type.  Messages name
the file, say what is wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "HsigeoError",
    "RasterReadError",
    "MissingCRSError",
    "BandMismatchError",
    "LabelError",
    "PromptError",
    "ModelFileError",
    "OutputExistsError",
    "OutputPathError",
    "OutputBusyError",
    "DatasetError",
]


class HsigeoError(Exception):
    """Base class of all hsigeo errors."""


class RasterReadError(HsigeoError):
    """A raster could not be opened or read (missing, corrupt, empty, wrong dimensions)."""


class MissingCRSError(HsigeoError):
    """An operation needs a coordinate reference system that the input lacks."""


class BandMismatchError(HsigeoError):
    """A scene's bands (count or wavelengths) do not match what the model expects."""


class LabelError(HsigeoError):
    """Training or reference labels are unusable (no samples, unknown classes, bad field)."""


class PromptError(HsigeoError):
    """A prompts file is invalid (schema, duplicates, empty prompts, colliding values)."""


class ModelFileError(HsigeoError):
    """A model file is missing, corrupt, of another format version, or unsafe."""


class OutputExistsError(HsigeoError):
    """An output exists already and overwriting was not asked for."""


class OutputPathError(HsigeoError):
    """An output path may not be written: it is an input, a foreign folder, a bad suffix or read-only."""


class OutputBusyError(HsigeoError):
    """Another hsigeo process is writing the same output right now."""


class DatasetError(HsigeoError):
    """A benchmark dataset file is missing or fails its checksum."""
