"""Swap a verified store into the live instance, or leave the live one as it was.

Community Neo4j has one user database, so the swap works on store folders: the live
`data/databases/neo4j` and `data/transactions/neo4j` are moved aside, the staging ones moved
in (renames on one file system), and the live server started and checked. If it does not
come up with the new store, the old folders are moved back and it is started again. A
journal file marks the window in which the live store is not in place, so that a swap
killed half-way is undone by the next `recover()` (every bulk import calls it first).

When the live server is not running there is nobody to keep serving, so `swap_in_then_check`
moves the new store in first and runs the checks (post-load, counts) on the live instance
itself: one server start instead of two (staging, then live), with the same guarantee: until
the checks pass the previous store stays parked and the journal open, and a failure puts it
back.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import DEFAULT_DATABASE, Neo4jHome, server_pid, start, stop

log = logging.getLogger(__name__)

PREVIOUS_DIR = "bulkgraph-previous"
JOURNAL = "bulkgraph-swap.json"

T = TypeVar("T")


def _stores(home: Neo4jHome, database: str) -> tuple[Path, Path]:
    return home.store_dir(database), home.transactions_dir(database)


def _previous(live: Neo4jHome) -> Neo4jHome:
    """The old store folders, parked in the same layout under the live home."""
    return Neo4jHome(live.root / PREVIOUS_DIR)


def _move(src: Path, dst: Path) -> None:
    if src.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)


def recover(live: Neo4jHome, database: str = DEFAULT_DATABASE) -> bool:
    """Undo a swap that was interrupted: put the parked store back. True if it did."""
    journal = live.root / JOURNAL
    if not journal.exists():
        return False
    previous = _previous(live)
    restored = False
    for live_dir, old_dir in zip(_stores(live, database), _stores(previous, database), strict=True):
        if old_dir.exists():
            if live_dir.exists():
                shutil.rmtree(live_dir)
            _move(old_dir, live_dir)
            restored = True
    journal.unlink()
    shutil.rmtree(previous.root, ignore_errors=True)
    if restored:
        log.warning("an interrupted swap was undone: %s has its previous store back", live.root)
    return restored


def _require_store(staging: Neo4jHome, database: str) -> None:
    new_store = staging.store_dir(database)
    if not new_store.is_dir():
        raise BulkgraphError(f"{new_store}: the staging store is missing; nothing was swapped")


def _park_and_move_in(staging: Neo4jHome, live: Neo4jHome, database: str) -> None:
    """Open the journal, park the live store, move the staging one in (server stopped)."""
    new_store, new_tx = _stores(staging, database)
    previous = _previous(live)
    shutil.rmtree(previous.root, ignore_errors=True)
    journal = live.root / JOURNAL
    journal.write_text(json.dumps({"database": database}) + "\n", encoding="utf-8")
    for live_dir, old_dir in zip(_stores(live, database), _stores(previous, database), strict=True):
        _move(live_dir, old_dir)
    _move(new_store, live.store_dir(database))
    _move(new_tx, live.transactions_dir(database))


def _put_back(live: Neo4jHome, database: str) -> None:
    """Drop the new store and restore the parked one; the server is left stopped."""
    if server_pid(live) is not None:
        stop(live)
    for new_dir in _stores(live, database):
        shutil.rmtree(new_dir, ignore_errors=True)
    recover(live, database)


def _commit(live: Neo4jHome) -> None:
    (live.root / JOURNAL).unlink()
    shutil.rmtree(_previous(live).root, ignore_errors=True)


def swap_in(staging: Neo4jHome, live: Neo4jHome, database: str = DEFAULT_DATABASE) -> None:
    """Replace the live store with the staging one, and (re)start the live server.

    The live server is stopped only for the renames and the restart. On failure the old
    store is back in place and serving, and BulkgraphError says what happened.
    """
    _require_store(staging, database)
    if server_pid(live) is not None:
        stop(live)
    _park_and_move_in(staging, live, database)
    try:
        start(live)
    except BulkgraphError as exc:
        log.error("the live server did not start on the new store: putting the old one back")
        _put_back(live, database)
        start(live)
        raise BulkgraphError(
            f"the new store did not start in {live.root}; the previous graph is back "
            f"and serving. Cause: {exc}"
        ) from exc
    _commit(live)


def swap_in_then_check(
    staging: Neo4jHome,
    live: Neo4jHome,
    check: Callable[[], T],
    database: str = DEFAULT_DATABASE,
) -> T:
    """Move the staging store into a live instance whose server is not running, then run
    `check` (which starts the live server, runs the post-load and verifies the counts) and
    return what it returns.

    If `check` raises (or the process is interrupted), the new store is dropped, the previous
    one put back and the server left stopped, as it was; then the exception propagates.
    """
    if server_pid(live) is not None:
        raise BulkgraphError(f"the server of {live.root} is running: use swap_in")
    _require_store(staging, database)
    _park_and_move_in(staging, live, database)
    try:
        checked = check()
    except BulkgraphError as exc:
        log.error("the new store failed its checks in %s: putting the old one back", live.root)
        _put_back(live, database)
        raise BulkgraphError(
            f"{exc}\nThe previous store is back in {live.root}; its server stays stopped, "
            "as it was before the rebuild."
        ) from exc
    except BaseException:  # e.g. Ctrl-C: the same clean-up, then let it through
        _put_back(live, database)
        raise
    _commit(live)
    return checked
