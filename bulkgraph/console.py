"""Terminal output: one rich console for humans (stderr), stdout kept for results."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

#: Messages, progress and warnings go to stderr so that stdout stays clean for results.
#: soft_wrap: never break a long line (a path, a message) into pieces for logs and greps.
err = Console(stderr=True, soft_wrap=True)
#: Results (tables, JSON) go to stdout.
#: Not on a terminal (a pipe, a file) tables get room instead of rich's default 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

log = logging.getLogger("bulkgraph")

#: Set by the global `-q/--quiet` option: no progress, no chatter, warnings and errors only.
_quiet = False


def is_quiet() -> bool:
    return _quiet


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    global _quiet
    _quiet = quiet
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=err, show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:  # cron, CI, pipes: one plain line per message
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("bulkgraph")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # The driver logs Cypher notices (e.g. "property `stub` does not exist" in a graph that
    # has no stubs) as warnings through Python's last-resort handler: debug output only.
    logging.getLogger("neo4j.notifications").setLevel(
        logging.DEBUG if verbose > 0 else logging.ERROR
    )


def show_progress(quiet: bool = False) -> bool:
    """Progress bars only on an interactive terminal and when not asked to be quiet."""
    return not (quiet or _quiet) and sys.stderr.isatty()
