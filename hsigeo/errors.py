"""The hsigeo exception hierarchy.

Every error raised on purpose by hsigeo derives from :class:`HsigeoError`, so
callers (the CLI, the QGIS plugin, scripts) can catch one type.  Each one also
derives from the builtin exception that fits the problem (like rasterio's and
rioxarray's errors do), so ``except ValueError`` or ``except FileNotFoundError``
in a user's script keeps working.  Messages name the file, say what is wrong
and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "HsigeoError",
    "InvalidInputError",
    "InvalidTypeError",
    "UnknownClassError",
    "NotFittedError",
    "DeviceError",
    "RasterReadError",
    "MissingCRSError",
    "BandMismatchError",
    "LabelError",
    "PromptError",
    "ModelFileError",
    "OutputExistsError",
    "OutputError",
    "OutputBusyError",
    "DatasetError",
]


class HsigeoError(Exception):
    """Base class of all hsigeo errors."""


class InvalidInputError(HsigeoError, ValueError):
    """An argument, option or array has a value hsigeo cannot use (shape, range, choice)."""


class InvalidTypeError(HsigeoError, TypeError):
    """An argument is of a type hsigeo cannot use."""


class UnknownClassError(HsigeoError, KeyError):
    """A class name or label value is not in the class set."""

    def __str__(self) -> str:  # KeyError quotes its message; these are sentences
        return str(self.args[0]) if self.args else ""


class NotFittedError(HsigeoError, ValueError, AttributeError):
    """A model or baseline is used before it was fitted (as scikit-learn's ``NotFittedError``)."""


class DeviceError(HsigeoError, RuntimeError):
    """The requested compute device (e.g. CUDA) is not available or not known."""


class RasterReadError(HsigeoError, OSError):
    """A raster could not be opened or read (missing, corrupt, empty, wrong dimensions)."""


class MissingCRSError(HsigeoError, ValueError):
    """An operation needs a coordinate reference system that the input lacks."""


class BandMismatchError(HsigeoError, ValueError):
    """A scene's bands (count or wavelengths) do not match what the model expects."""


class LabelError(HsigeoError, ValueError):
    """Training or reference labels are unusable (no samples, unknown classes, bad field)."""


class PromptError(HsigeoError, ValueError):
    """A prompts file is invalid (schema, duplicates, empty prompts, colliding values)."""


class ModelFileError(HsigeoError, ValueError):
    """A model file is missing, corrupt, of another format version, or unsafe."""


class OutputExistsError(HsigeoError, FileExistsError):
    """An output exists already and overwriting was not asked for."""


class OutputError(HsigeoError, OSError):
    """An output cannot be written there (it is an input, a foreign folder, not writable)."""


class OutputBusyError(OutputError):
    """Another hsigeo process is writing the same output right now."""


class ClusterError(HsigeoError, RuntimeError):
    """A dask cluster cannot be reached, has no usable workers, or lost a run."""


class DatasetError(HsigeoError, OSError):
    """A benchmark dataset file is missing or fails its checksum."""
