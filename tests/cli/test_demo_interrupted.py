"""An interrupted ``hsigeo demo`` never blocks the next one (issue 27).

The demo folder is claimed before its first file (its manifest says "in
progress" and lists every file as it is completed), so ``make demo``
(``hsigeo demo --out DIR --overwrite``) after Ctrl-C or SIGTERM at any point
replaces it without manual cleanup; a file of the user's in it is still never
deleted.  Real subprocesses, real signals, sent when the run's own progress
lines on stderr say it reached the point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hsigeo.outputs import MANIFEST

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))
# few epochs keep the runs short; the interruption points are found from the progress lines, not timing
DEMO = ["--progress", "plain", "demo", "--epochs", "3", "--device", "cpu"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HSIGEO_HOME": str(tmp_path / "home")}


def _interrupt(out: Path, tmp_path: Path, sig: int, point: str) -> tuple[int, str]:
    """Start ``hsigeo demo --out OUT --overwrite``; send ``sig`` when a stderr line contains ``point``."""
    proc = subprocess.Popen([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    lines: list[str] = []
    reached = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if point in line:
                reached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert reached.wait(timeout=300), f"the demo never reached {point!r}: {''.join(lines)}"
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    proc.stdout.close()
    return proc.returncode, "".join(lines)


def _manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text(encoding="utf-8"))


def test_demo_interrupted_anywhere_is_replaced_by_the_next_run(tmp_path):
    out = tmp_path / "demo_out"
    # each interrupted run is itself the "next run" of the one before: it got past the folder check
    for sig, status, point in [
        (signal.SIGTERM, 143, "hsigeo-progress: 100.0 synthetic scene"),  # after the scene
        (signal.SIGINT, 130, "hsigeo-progress: 100.0 synthetic scene"),
        (signal.SIGTERM, 143, "train"),  # during training
        (signal.SIGINT, 130, "train"),
        (signal.SIGINT, 130, "classify scene.tif"),  # during classification
        (signal.SIGTERM, 143, "classify scene.tif"),
    ]:
        code, err = _interrupt(out, tmp_path, sig, point)
        assert code == status, err
        assert "Error:" not in err and "Traceback" not in err, err
        manifest = _manifest(out)
        assert manifest["state"] == "in progress"
        # everything the run left is listed (or is hsigeo's own temporary of a file being written)
        assert set(manifest["files"]) >= {"scene"}, manifest
        left = {p.name for p in out.iterdir()} - {MANIFEST}
        assert left <= set(manifest["files"]), (left, manifest)
    # `make demo` now simply works
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], capture_output=True, text=True,
                       env=_env(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr
    assert "test accuracy: OA" in r.stdout
    manifest = _manifest(out)
    assert manifest["state"] == "complete"
    assert {"scene", "model.hsigeo", "classes.tif", "confidence.tif", "classes.gpkg", "report"} <= set(manifest["files"])
    assert {p.name for p in out.iterdir()} - {MANIFEST} == set(manifest["files"])
    assert not [p for p in out.rglob("*") if ".hsigeo-" in p.name or p.name.endswith(".hsigeo.lock")]


def test_interrupted_demo_folder_holding_a_users_file_is_refused(tmp_path):
    out = tmp_path / "demo_out"
    code, err = _interrupt(out, tmp_path, signal.SIGTERM, "train")
    assert code == 143, err
    notes = out / "my_notes.txt"
    notes.write_text("mine")
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], capture_output=True, text=True,
                       env=_env(tmp_path), timeout=300)
    assert r.returncode == 2 and "my_notes.txt" in r.stderr and "did not write" in r.stderr, r.stderr
    assert "Training on" not in r.stderr and "hsigeo-progress" not in r.stderr
    assert notes.read_text() == "mine"
    # without --overwrite the interrupted folder is not replaced either, and the message says what it is
    notes.unlink()
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out)], capture_output=True, text=True, env=_env(tmp_path),
                       timeout=300)
    assert r.returncode == 2 and "interrupted" in r.stderr and "--overwrite" in r.stderr, r.stderr
