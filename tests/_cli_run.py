"""Run the ``hsigeo`` CLI in-process from a test (shared by the CLI and safety tests)."""

from __future__ import annotations

from hsigeo_cli.main import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``hsigeo --progress none ARGV`` in-process: (exit status, stdout, stderr)."""
    try:
        main(["--progress", "none", *argv])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err
