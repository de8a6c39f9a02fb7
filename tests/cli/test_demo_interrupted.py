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
import time
from pathlib import Path

import pytest

from hsigeo.filesafety import MANIFEST, is_hsigeo_temporary

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))
# few epochs keep the runs short; the interruption points are found from the progress lines, not timing
DEMO = ["--progress", "plain", "demo", "--epochs", "3", "--device", "cpu"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HSIGEO_HOME": str(tmp_path / "home")}


def _interrupt(out: Path, tmp_path: Path, sig: int, point: str | Path, nth: int = 1) -> tuple[int, str]:
    """Start ``hsigeo demo --out OUT --overwrite``; send ``sig`` at ``point``.

    ``point``: the ``nth`` stderr line containing this text, or a file that appears.
    """
    started = time.time()
    proc = subprocess.Popen([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)

    def reached() -> bool:
        if isinstance(point, Path):  # written by this run (an earlier run's copy does not count)
            return point.exists() and point.stat().st_mtime >= started
        return sum(point in ln for ln in list(lines)) >= nth

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while not reached():
            assert proc.poll() is None and time.monotonic() < deadline, \
                f"the demo never reached {point!r}: {''.join(lines)}"
            time.sleep(0.01)
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


@pytest.mark.slow  # seven `hsigeo demo` processes, four of them run until a late point
def test_demo_interrupted_anywhere_is_replaced_by_the_next_run(tmp_path):
    out = tmp_path / "demo_out"
    scene_done = out / "scene" / "prompts.yaml"  # the scene's last file
    # each interrupted run is itself the "next run" of the one before: it got past the folder check
    for sig, status, point, nth in [
        (signal.SIGTERM, 143, scene_done, 1),  # after the scene
        (signal.SIGINT, 130, " train ", 1),  # during training (after its first of 3 epochs)
        (signal.SIGTERM, 143, "classify scene.tif", 1),  # the map is being finished (then polygons, report)
        (signal.SIGINT, 130, "classify scene.tif", 1),
    ]:
        code, err = _interrupt(out, tmp_path, sig, point, nth)
        assert code == status, err
        assert "Error:" not in err and "Traceback" not in err, err
        manifest = _manifest(out)
        assert manifest["state"] == "in progress"
        # everything the run left is listed (hsigeo's own temporaries aside)
        assert "scene" in manifest["files"], manifest
        # (a signal landing while a sidecar's temporary is being renamed, or while a writer's lock file is being
        # created, can leave that temporary or lock; the next write into the folder sweeps it once its process
        # is gone, which the runs below rely on)
        left = {p.name for p in out.iterdir() if not is_hsigeo_temporary(p.name)} - {MANIFEST}
        assert left <= set(manifest["files"]), (left, manifest)

    # a file of the user's in the folder: refused, never deleted, before any work
    notes = out / "my_notes.txt"
    notes.write_text("mine")
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], capture_output=True, text=True,
                       env=_env(tmp_path), timeout=300)
    assert r.returncode == 2 and "my_notes.txt" in r.stderr and "did not write" in r.stderr, r.stderr
    assert "hsigeo-progress" not in r.stderr and notes.read_text() == "mine"
    notes.unlink()
    # without --overwrite the interrupted folder is not replaced either, and the message says what it is
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out)], capture_output=True, text=True, env=_env(tmp_path),
                       timeout=300)
    assert r.returncode == 2 and "interrupted" in r.stderr and "--overwrite" in r.stderr, r.stderr

    # `make demo` (hsigeo demo --out DIR --overwrite) now simply works
    r = subprocess.run([HSIGEO, *DEMO, "--out", str(out), "--overwrite"], capture_output=True, text=True,
                       env=_env(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr
    assert "test accuracy: OA" in r.stdout
    manifest = _manifest(out)
    assert manifest["state"] == "complete"
    assert {"scene", "model.hsigeo", "classes.tif", "confidence.tif", "classes.gpkg", "report"} <= set(manifest["files"])
    assert {p.name for p in out.iterdir()} - {MANIFEST} == set(manifest["files"])
    assert not [p for p in out.rglob("*") if p.name != MANIFEST and (".hsigeo-" in p.name or p.name.endswith(".lock"))]
