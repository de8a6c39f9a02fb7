"""The command line's "last trained model" state (cli/state.py)."""

from __future__ import annotations

from hsigeo_cli.state import last_model_path, remember_model, state_dir


def test_last_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home"
    assert last_model_path() is None
    f = tmp_path / "x.hsigeo"
    f.write_bytes(b"")
    remember_model(f)
    assert (tmp_path / "home" / "last_model").read_text(encoding="utf-8") == f"{f.resolve()}\n"
    assert last_model_path() == f.resolve()
    f.unlink()
    assert last_model_path() is None
