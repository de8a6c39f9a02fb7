"""``hsigeo.outputs``: the rules every write follows (the CLI cases are in test_safety.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsigeo.errors import OutputError, OutputExistsError
from hsigeo.outputs import (
    MANIFEST,
    atomic_folder,
    atomic_output,
    check_output,
    json_safe,
    output_lock,
    protect_inputs,
    sweep_stale_temporaries,
)


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_failed_report_leaves_the_previous_one_and_no_temporary(tmp_path):
    report = tmp_path / "report"
    with atomic_folder(report) as tmp:
        (tmp / "report.json").write_text('{"oa": 0.9}')
    assert json.loads((report / MANIFEST).read_text())["files"] == ["report.json"]
    with pytest.raises(RuntimeError), atomic_folder(report, overwrite=True) as tmp:
        (tmp / "report.json").write_text('{"oa": 0.1}')
        raise RuntimeError("plot failed")
    assert (report / "report.json").read_text() == '{"oa": 0.9}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_files_and_folders_never_replace_each_other(tmp_path):
    folder, file = tmp_path / "d", tmp_path / "f.txt"
    folder.mkdir()
    (folder / "x").write_text("x")
    file.write_text("f")
    with pytest.raises(OutputError, match="is a folder"):
        check_output(folder, overwrite=True)
    with pytest.raises(OutputError, match="is a file"):
        check_output(file, overwrite=True, folder=True)
    with pytest.raises(OutputExistsError):
        check_output(file, overwrite=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output(empty, overwrite=False, folder=True) == empty  # nothing to lose
    assert (folder / "x").read_text() == "x" and file.read_text() == "f"


def test_protected_inputs_are_refused_by_every_write_within_the_block(tmp_path):
    src = tmp_path / "labels.gpkg"
    src.write_bytes(b"labels")
    os.link(src, tmp_path / "twin.gpkg")
    with protect_inputs(src):
        for target in (src, tmp_path / "twin.gpkg"):
            with pytest.raises(OutputError, match="never writes over what it reads"):
                with atomic_output(target, overwrite=True) as tmp:
                    tmp.write_bytes(b"oops")
    with atomic_output(tmp_path / "twin.gpkg", overwrite=True) as tmp:  # outside the block: a plain output
        tmp.write_bytes(b"new")
    assert src.read_bytes() == b"labels"


def test_sweep_removes_only_hsigeo_temporaries_of_ended_processes(tmp_path):
    final = tmp_path / "c.tif"
    dead = tmp_path / f".c.tif.hsigeo-{_dead_pid()}-abc.part.tif"
    dead_pam = tmp_path / f"{dead.name}.aux.xml"
    live = tmp_path / f".c.tif.hsigeo-{os.getppid()}-abc.part.tif"  # the parent of this test runs
    mine = tmp_path / ".c.tif.backup.part.tif"  # the user's, whatever it looks like
    for p in (dead, dead_pam, live, mine):
        p.write_bytes(b"x")
    assert sorted(sweep_stale_temporaries(final)) == sorted([dead, dead_pam])
    assert live.exists() and mine.exists()


def test_lock_is_reentrant_within_a_process_and_removed_after(tmp_path):
    out = tmp_path / "c.tif"
    with output_lock(out), output_lock(out):
        assert (tmp_path / ".c.tif.hsigeo.lock").read_text() == str(os.getpid())
    assert list(tmp_path.iterdir()) == []


def test_json_safe_values():
    data = {
        1: np.float32(0.5), "nan": float("nan"), "inf": np.float64(np.inf), "arr": np.array([[1.0, np.nan], [3, 4]]),
        "ints": (np.int64(7), np.uint8(3)), "flag": np.bool_(True), "path": Path("/tmp/x.tif"), "none": None,
        "obj": object,
    }
    out = json_safe(data)
    assert out == {"1": 0.5, "nan": None, "inf": None, "arr": [[1.0, None], [3.0, 4.0]], "ints": [7, 3],
                   "flag": True, "path": "/tmp/x.tif", "none": None, "obj": str(object)}
    assert type(out["ints"][0]) is int and type(out["flag"]) is bool
    assert json.loads(json.dumps(out, allow_nan=False)) == out  # strict JSON
