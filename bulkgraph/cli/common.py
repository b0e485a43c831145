"""What every command shares: registration, error reporting, parameter parsing, progress.

Every command is a module-level function `<name>_command` of the module for its area, a few
lines over a library function, registered by that module's `register(app)` (groups of
commands through `add_group`). Results go to stdout through `bulkgraph.cli.output` only.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer

from bulkgraph.console import err, show_progress
from bulkgraph.errors import BulkgraphError, ExitCode

if TYPE_CHECKING:
    from bulkgraph.layout import Layout

ProgressFn = Callable[[str, int, int], None]

#: `--layout` of the commands that build a graph
LAYOUT_HELP = (
    "Graph layout: snapshots (a full copy per snapshot) or versions (one node per version; "
    "docs/versions-layout.md). Default: BULKGRAPH_LAYOUT, else snapshots."
)


def layout_option(text: str | None) -> Layout | None:
    """The `--layout` given, parsed (bad value: exit 2); None when not given (the setting)."""
    if text is None:
        return None
    from bulkgraph.layout import parse_layout  # it imports the driver: not for --help

    try:
        return parse_layout(text)
    except BulkgraphError as exc:
        raise BulkgraphError(str(exc), ExitCode.USAGE) from None


def add_group(app: typer.Typer, name: str, help: str) -> typer.Typer:
    """A group of commands (`bulkgraph NAME ...`) added to `app`."""
    group = typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(group, name=name)
    return group


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
    except _CLICK_ERRORS as exc:  # usage errors come through here in non-standalone mode
        exc.show()
        sys.exit(exc.exit_code)


def _click_errors() -> tuple[type[Exception], ...]:
    """The ClickException classes a parse error may be raised as. typer 0.2x parses with a
    copy of click of its own (`typer._click`), older typer with click itself: catching only
    `click.ClickException` let a missing option end in a traceback and exit 1 instead of
    the usage message and exit 2."""
    found = [c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"]
    try:
        import click

        found.append(click.ClickException)
    except ImportError:
        pass
    return tuple(dict.fromkeys(found))


_CLICK_ERRORS: tuple[type[Any], ...] = _click_errors()


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
