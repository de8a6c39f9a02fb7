"""``hsigeo.filesafety``: the rules every write follows (the CLI cases are in test_safety.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hsigeo.errors import OutputError, OutputExistsError
from hsigeo.filesafety import (
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


def test_free_space_probe_of_a_killed_run_is_recognised_and_swept(tmp_path, monkeypatch):
    """The probe written before an output (folder writable, space reserved) is named like a temporary.

    A signal landing while it exists must not leave a file the next run takes for the user's
    (an interrupted demo folder would then refuse ``--overwrite``).
    """
    import hsigeo.filesafety as outputs

    seen = []
    real_close = os.close

    def close(fd):  # look at the folder while the probe exists
        seen.extend(p.name for p in tmp_path.iterdir())
        real_close(fd)

    monkeypatch.setattr(outputs.os, "close", close)
    check_output(tmp_path / "c.tif", overwrite=False)
    monkeypatch.undo()
    assert len(seen) == 1 and seen[0].startswith(f".hsigeo-{os.getpid()}-probe-"), seen
    assert outputs.is_hsigeo_temporary(seen[0])
    assert list(tmp_path.iterdir()) == []  # removed after the check
    left = tmp_path / seen[0].replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")  # as a killed run leaves it
    left.write_bytes(b"")
    assert sweep_stale_temporaries(tmp_path / "c.tif") == [left] and not left.exists()


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


# --------------------------------------------------------------------------- #
# Issue 19 / 27: inputs' parts, long names, folders claimed before they are written
# --------------------------------------------------------------------------- #
def test_a_vector_inputs_parts_are_inputs_too(tmp_path):
    from hsigeo.filesafety import input_files

    shp = {p.name for p in input_files(tmp_path / "f.shp")}
    assert {"f.shp", "f.dbf", "f.shx", "f.prj", "f.cpg", "f.qpj", "f.shp.xml"} <= shp
    assert {"f.gpkg", "f.gpkg-wal", "f.gpkg-shm", "f.gpkg-journal"} <= {p.name for p in input_files(tmp_path / "f.gpkg")}
    (tmp_path / "f.dbf").write_bytes(b"table")
    with protect_inputs(tmp_path / "f.shp"), pytest.raises(OutputError, match="f.shp"):
        check_output(tmp_path / "f.dbf", overwrite=True)


def test_temporary_and_lock_names_stay_within_255_bytes(tmp_path):
    from hsigeo.filesafety import temporary_path

    for name in ("c" * 251 + ".tif", "é" * 120 + ".tif", "x." + "y" * 250):
        final = tmp_path / name
        tmp = temporary_path(final)
        assert len(os.fsencode(tmp.name)) <= 255 and tmp.name.startswith(".")
        tmp.write_bytes(b"x")  # the file system takes it
        with output_lock(final):
            (lock,) = [p for p in tmp_path.iterdir() if p.name.endswith(".hsigeo.lock")]
            assert len(os.fsencode(lock.name)) <= 255
        # a dead process's temporary of such a name is recognised and swept
        dead = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-"))
        tmp.rename(dead)
        assert sweep_stale_temporaries(final) == [dead]
    assert list(tmp_path.iterdir()) == []


def test_sweep_takes_any_dead_temporary_and_unheld_lock_of_the_folder(tmp_path):
    dead = tmp_path / f".other.tif.hsigeo-{_dead_pid()}-abc.part.tif"
    lock = tmp_path / ".other.tif.hsigeo.lock"
    for p in (dead, lock):
        p.write_text("1")
    os.utime(lock, (time.time() - 60, time.time() - 60))  # left by a killed run a minute ago
    fresh = tmp_path / ".new.tif.hsigeo.lock"
    fresh.write_text("2")  # just created: maybe about to be locked by its writer
    with atomic_output(tmp_path / "c.tif") as tmp:
        tmp.write_bytes(b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".new.tif.hsigeo.lock", "c.tif"]


def test_claimed_folder_lists_what_is_written_and_is_recognised_after_an_interruption(tmp_path):
    from hsigeo.filesafety import claim_folder

    out = tmp_path / "demo"
    with pytest.raises(KeyboardInterrupt), output_lock(out), claim_folder(out):
        assert json.loads((out / MANIFEST).read_text())["state"] == "in progress"
        with atomic_output(out / "scene" / "scene.tif") as tmp:
            tmp.write_bytes(b"scene")
        (out / ".model.hsigeo.hsigeo-1-x.part").mkdir()  # hsigeo's litter is never "the user's"
        raise KeyboardInterrupt
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["state"] == "in progress" and manifest["files"] == ["scene"]
    with pytest.raises(OutputExistsError, match="interrupted"):
        check_output(out, overwrite=False, folder=True)
    assert check_output(out, overwrite=True, folder=True) == out
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"):
        check_output(out, overwrite=True, folder=True)
    (out / "notes.txt").unlink()
    with output_lock(out), claim_folder(out):
        with atomic_output(out / "scene" / "scene.tif", overwrite=True) as tmp:
            tmp.write_bytes(b"scene 2")
        with atomic_folder(out / "report") as tmp:
            (tmp / "report.json").write_text("{}")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["state"] == "complete" and manifest["files"] == ["report", "scene"]


def test_a_claim_that_wrote_nothing_leaves_the_place_as_it_was(tmp_path):
    from hsigeo.filesafety import claim_folder

    out = tmp_path / "report"
    with pytest.raises(RuntimeError), output_lock(out), claim_folder(out):
        raise RuntimeError("bad labels")
    assert list(tmp_path.iterdir()) == []
    with atomic_folder(out) as tmp:
        (tmp / "report.json").write_text("{}")
    before = (out / MANIFEST).read_text()
    with pytest.raises(RuntimeError), output_lock(out), claim_folder(out):
        raise RuntimeError("bad labels")
    assert (out / MANIFEST).read_text() == before
