"""Bad command lines, run as a user would (a subprocess): the usage message and exit 2,
never a traceback. No server or AWS is involved: the command line fails before either."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


#: Libraries that take a good part of a second to import: only the commands that use them do.
HEAVY = (
    "neo4j",
    "polars",
    "boto3",
    "botocore",
    "matplotlib",
    "dask",
    "distributed",
    "plotly",
    "jinja2",
    "playwright",
)

_IMPORTS_FOR_HELP = """
import sys

import typer.main
from typer.testing import CliRunner

from bulkgraph.cli import app

after_import = sorted(m for m in HEAVY if m in sys.modules)


def paths(command, prefix):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, [*prefix, name])


runner = CliRunner()
helped = []
for args in paths(typer.main.get_command(app), []):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)
    helped.append(" ".join(args))
print(after_import)
print(sorted(m for m in HEAVY if m in sys.modules))
print(helped)
"""


def test_help_imports_no_heavy_library() -> None:
    # `bulkgraph --help` took seconds when cli/query.py imported the driver for a type hint
    proc = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{_IMPORTS_FOR_HELP}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    after_import, after_help, helped = proc.stdout.splitlines()
    assert after_import == "[]", "import bulkgraph.cli imported " + after_import
    assert after_help == "[]", "--help of the commands imported " + after_help
    assert "query" in helped and "neo4j status" in helped and "snapshots list" in helped
    assert "report" in helped
    assert "snapshots from-config" in helped


def test_every_command_is_a_module_level_function_tests_can_call() -> None:
    # one way to register: `<name>_command` at module level, added by its module's register()
    import importlib

    import typer.main

    from bulkgraph.cli import app

    def callbacks(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        subs = getattr(command, "commands", {})
        if not subs:
            yield path, command.callback
        for name, sub in subs.items():
            yield from callbacks(sub, f"{path} {name}".strip())

    found = dict(callbacks(typer.main.get_command(app), ""))
    assert {"transform", "query", "cypher", "neo4j status", "snapshots list"} <= set(found)
    for path, callback in found.items():
        # typer wraps the function; the original is kept as __wrapped__ when it is
        original = getattr(callback, "__wrapped__", callback)
        assert original.__name__.endswith("_command"), path
        assert "<locals>" not in original.__qualname__, path
        module = importlib.import_module(original.__module__)
        assert getattr(module, original.__name__) is original, path
