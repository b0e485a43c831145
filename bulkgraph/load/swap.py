"""Swap a verified store into the live instance, or leave the live one as it was.

Community Neo4j has one user database, so the swap works on store folders: the live
`data/databases/neo4j` and `data/transactions/neo4j` are moved aside, the staging ones moved
in (renames on one file system), and the live server started and checked. If it does not
come up with the new store, the old folders are moved back and it is started again. A
journal file marks the window in which the live store is not in place, so that a swap
killed half-way is undone by the next `recover()` (every bulk import calls it first).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from bulkgraph.errors import BulkgraphError
from bulkgraph.server import DEFAULT_DATABASE, Neo4jHome, server_pid, start, stop

log = logging.getLogger(__name__)

PREVIOUS_DIR = "bulkgraph-previous"
JOURNAL = "bulkgraph-swap.json"


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


def swap_in(staging: Neo4jHome, live: Neo4jHome, database: str = DEFAULT_DATABASE) -> None:
    """Replace the live store with the staging one, and (re)start the live server.

    The live server is stopped only for the renames and the restart. On failure the old
    store is back in place and serving, and BulkgraphError says what happened.
    """
    new_store, new_tx = _stores(staging, database)
    if not new_store.is_dir():
        raise BulkgraphError(f"{new_store}: the staging store is missing; nothing was swapped")
    previous = _previous(live)
    shutil.rmtree(previous.root, ignore_errors=True)
    if server_pid(live) is not None:
        stop(live)
    journal = live.root / JOURNAL
    journal.write_text(json.dumps({"database": database}) + "\n", encoding="utf-8")
    for live_dir, old_dir in zip(_stores(live, database), _stores(previous, database), strict=True):
        _move(live_dir, old_dir)
    _move(new_store, live.store_dir(database))
    _move(new_tx, live.transactions_dir(database))
    try:
        start(live)
    except BulkgraphError as exc:
        log.error("the live server did not start on the new store: putting the old one back")
        if server_pid(live) is not None:
            stop(live)
        for new_dir in _stores(live, database):
            shutil.rmtree(new_dir, ignore_errors=True)
        recover(live, database)
        start(live)
        raise BulkgraphError(
            f"the new store did not start in {live.root}; the previous graph is back "
            f"and serving. Cause: {exc}"
        ) from exc
    journal.unlink()
    shutil.rmtree(previous.root, ignore_errors=True)
