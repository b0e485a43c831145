"""What every command shares: error reporting, output formats, parameter parsing."""

from __future__ import annotations

import sys
from enum import Enum

import typer

from bulkgraph.console import err
from bulkgraph.errors import BulkgraphError, ExitCode


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def run_main(app: typer.Typer) -> None:
    """Run the app, turning a BulkgraphError into its message and exit code, no traceback."""
    try:
        app(standalone_mode=False)
    except BulkgraphError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(int(ExitCode.FAILED))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


def parse_params(pairs: list[str]) -> dict[str, object]:
    """`k=v` pairs to Cypher parameters. Values that read as JSON numbers/booleans/null
    become those; everything else is the string as given."""
    import json

    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BulkgraphError(f"--param {pair!r}: expected key=value", ExitCode.USAGE)
        try:
            parsed = json.loads(value)
            params[key] = parsed if isinstance(parsed, int | float | bool) or parsed is None else value
        except ValueError:
            params[key] = value
    return params
