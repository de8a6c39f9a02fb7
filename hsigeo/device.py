"""Compute devices and threads: the one device resolver every entry point uses.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

from hsigeo.errors import DeviceError, InvalidInputError

__all__ = ["resolve_device", "torch_device", "default_threads", "torch_threads", "autocast", "release_freed_memory"]


def resolve_device(device: str | None = "auto") -> str:
    """Turn ``"auto"``/``None``/``"cpu"``/``"cuda"``/``"cuda:N"`` into a usable torch device string.

    Raises
    ------
    DeviceError
        When CUDA is asked for but torch sees no GPU.
    """
    import torch

    dev = (device or "auto").strip().lower()
    if dev == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {device!r} was asked for but torch {torch.__version__} sees no CUDA GPU; "
                "use --device cpu (or auto), or install a CUDA build of torch."
            )
        return dev
    if dev == "mps":
        return dev
    if dev != "cpu":
        raise DeviceError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N.")
    return dev


def torch_device(device: object = "auto") -> "torch.device":  # noqa: F821 (torch imported lazily)
    """:func:`resolve_device` as a ``torch.device`` (a ``torch.device`` passes through)."""
    import torch

    if isinstance(device, torch.device):
        return device
    return torch.device(resolve_device(None if device is None else str(device)))


def default_threads() -> int | None:
    """torch CPU threads for tiled inference: all usable cores but one, or ``None`` to leave torch alone.

    The reader thread (decompression, normalisation) needs a core too; when it
    preempts one of torch's threads, every parallel op waits for that thread.
    Measured on 2 shared cores: 1 torch thread ran the pipeline at 56-72k px/s,
    2 threads at 3.6-5.6k px/s.  An explicit ``OMP_NUM_THREADS`` wins.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (``None``: leave the setting alone), then restore it.

    torch's thread count is process-wide; it is restored on exit.
    """
    import torch

    if n is None:
        yield
        return
    if n < 1:
        raise InvalidInputError(f"threads must be >= 1, not {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def autocast(device: str) -> Iterator[None]:
    """Mixed precision on CUDA (bf16 where supported, else fp16); nothing on CPU."""
    import torch

    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        with torch.autocast(device_type="cuda", dtype=dtype):
            yield
    else:
        yield


def release_freed_memory() -> None:
    """Hand the heap memory freed so far back to the operating system (glibc ``malloc_trim``; elsewhere nothing).

    glibc keeps freed blocks in its arenas for reuse, so the resident memory of a run stays at
    the high-water mark of every phase before it: the scene sample, the base model's binding and
    adaptation read and drop hundreds of MB, and without this the tiled classification's own
    peak comes on top of that (measured on an EMIT granule, README "Sensor products").
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or ``None`` (looked up once: finding libc may run ``ldconfig``)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator returns memory its own way
        return None
