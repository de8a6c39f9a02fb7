"""The ``hsigeo`` command run in the test process (fast: torch is imported once)."""

from __future__ import annotations

from hsigeo_cli.main import main


def run_in_process(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``hsigeo ARGV`` in-process; return (exit status, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err
