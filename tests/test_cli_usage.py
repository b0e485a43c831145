"""Bad command lines, run as a user would (a subprocess): the usage message and exit 2,
never a traceback. No server or AWS is involved: the command line fails before either."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bulkgraph.errors import ExitCode


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["transform", "snaps"], "Missing option '--out'"),
        (["transform", "--nope", "--out", "csv", "snaps"], "No such option: --nope"),
        (["transform", "--workers", "many", "--out", "csv", "snaps"], "'--workers'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_a_bad_command_line_is_a_usage_error(tmp_path: Path, args: list[str], says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "Traceback" not in proc.stderr
    assert says in proc.stderr
    assert "Usage: " in proc.stderr
