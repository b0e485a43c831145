"""What every command shares: error reporting, output formats, parameter parsing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum

import typer

from bulkgraph.console import err, show_progress
from bulkgraph.errors import BulkgraphError, ExitCode

ProgressFn = Callable[[str, int, int], None]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def run_main(app: typer.Typer) -> None:
    """Run the app, turning a BulkgraphError into its message and exit code, no traceback."""
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
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
            params[key] = (
                parsed if isinstance(parsed, int | float | bool) or parsed is None else value
            )
        except ValueError:
            params[key] = value
    return params


@contextlib.contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[ProgressFn | None]:
    """A rich progress bar on an interactive stderr, as a `(message, done, total)` callback.

    Yields None when there is no terminal (cron, pipes, CI) so that logs stay clean.
    """
    if not show_progress(quiet):
        yield None
        return
    from rich.progress import Progress

    bar = Progress(console=err, transient=True)
    task = bar.add_task(description, total=None)

    def update(message: str, done: int, total: int) -> None:
        bar.update(task, description=message, completed=done, total=total)

    with bar:
        yield update


def print_json(data: object) -> None:
    """Machine-readable output on stdout: plain JSON, no colours, no wrapping."""
    import json

    sys.stdout.write(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
