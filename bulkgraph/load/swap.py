"""Swap a verified store into the live instance, or leave the live one as it was.

Community Neo4j has one user database, so the swap works on store folders: the live
`data/databases/neo4j` and `data/transactions/neo4j` are moved aside ("parked"), the staging
ones moved in (renames on one file system), and the live server started and checked. If it
does not come up with the new store, the old folders are moved back and it is started again.

A journal file (`bulkgraph-swap.json` in the live home) is open for as long as the parked
store may still be needed, and from the moment a serving live server is stopped for the
swap. It records what a process killed half-way leaves for `recover()`
to decide on: the mode (`staged`: verified on a staging server while the live one served;
`in_place`: moved in first and checked on the live server), whether the live server ran
before, which folders existed, whether the new store is fully moved in (`stage`), and
whether it passed its checks (`verified`). Recovery then either completes the swap (the new
store is in place and verified: only the parked folders are removed, nothing a running
server holds is touched) or undoes it, stopping the live server cleanly first if it runs;
either way the server ends as the rebuild would have left it: running if it ran before.

When the live server is not running there is nobody to keep serving, so `swap_in_then_check`
moves the new store in first and runs the checks (post-load, counts) on the live instance
itself: one server start instead of two (staging, then live), with the same guarantee: until
the checks pass the previous store stays parked and the journal open, and a failure (or a
kill, through `recover()`) puts it back and leaves the server stopped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from bulkgraph.errors import BulkgraphError
from bulkgraph.pausepoint import pause_point
from bulkgraph.server import DEFAULT_DATABASE, Neo4jHome, server_pid, start, stop
from bulkgraph.server.pids import open_paths

log = logging.getLogger(__name__)

PREVIOUS_DIR = "bulkgraph-previous"
JOURNAL = "bulkgraph-swap.json"

T = TypeVar("T")


@dataclass(frozen=True)
class Recovery:
    """What `recover()` found and did about an interrupted swap."""

    #: "completed" (the new store kept) or "undone" (the previous store back)
    action: str
    #: why, from the journal
    reason: str
    #: "staged" or "in_place": how the interrupted rebuild was swapping; "unknown" for a
    #: journal of an older bulkgraph
    mode: str
    #: the live server was running during the recovery and had to be stopped first
    stopped_server: bool
    #: the live server runs after the recovery (it did before the interrupted rebuild)
    server_running: bool

    def message(self) -> str:
        kept = (
            "completed: the new store is kept"
            if self.action == "completed"
            else "undone: the previous store is back"
        )
        stopped = "; the live server was stopped cleanly first" if self.stopped_server else ""
        state = "running" if self.server_running else "stopped"
        return f"an interrupted swap was {kept} ({self.reason}){stopped}; the server is {state}"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": self.message()}


def _stores(home: Neo4jHome, database: str) -> tuple[Path, Path]:
    return home.store_dir(database), home.transactions_dir(database)


def _previous(live: Neo4jHome) -> Neo4jHome:
    """The old store folders, parked in the same layout under the live home."""
    return Neo4jHome(live.root / PREVIOUS_DIR)


def _move(src: Path, dst: Path) -> None:
    if src.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)


def _write_journal(live: Neo4jHome, entry: dict[str, Any]) -> None:
    """Replace the journal in one rename, flushed: a kill leaves the old entry or the new."""
    journal = live.root / JOURNAL
    tmp = journal.with_name(f".{JOURNAL}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, journal)


def read_journal(live: Neo4jHome) -> dict[str, Any] | None:
    """The open journal of `live`, or None. An unreadable one reads as an empty entry
    (nothing known: recovery undoes)."""
    journal = live.root / JOURNAL
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}


def _holds_parked(pid: int, live: Neo4jHome) -> bool:
    """Does the server hold files of the parked store open (it ran on the old store)?"""
    parked = _previous(live).root
    return any(path.is_relative_to(parked) for path in open_paths(pid))


def recover(live: Neo4jHome, database: str = DEFAULT_DATABASE) -> Recovery | None:
    """Finish or undo a swap that was interrupted; None if there is none (no journal).

    The caller must hold the home's operation lock (see `settle.py`), so that the journal
    is not that of a rebuild still running. Never removes or renames a store folder a running
    server holds: the server is stopped (cleanly) first when one would have to be.
    """
    entry = read_journal(live)
    if entry is None:
        return None
    database = str(entry.get("database") or database)
    mode = str(entry.get("mode") or "unknown")
    served_before = entry.get("served_before") is True
    pid = server_pid(live)
    stopped_server = False
    if entry.get("verified") is True and entry.get("stage") == "moved":
        action = "completed"
        reason = (
            "the journal records the new store as verified "
            + ("on the staging server" if mode == "staged" else "on the live server")
            + " and fully moved in"
        )
        if pid is not None and _holds_parked(pid, live):
            stop(live)  # it would lose the files of the store it serves
            stopped_server, pid = True, None
        _commit(live)
    else:
        action = "undone"
        reason = _UNDO_REASONS.get(str(entry.get("stage")), "the journal does not say more")
        if pid is not None:
            stop(live)
            stopped_server, pid = True, None
        _undo(live, database, entry)
    if pid is None and served_before:
        start(live)
        pid = server_pid(live)
    recovery = Recovery(
        action=action,
        reason=reason,
        mode=mode,
        stopped_server=stopped_server,
        server_running=pid is not None,
    )
    log.warning("%s: %s", live.root, recovery.message())
    return recovery


_UNDO_REASONS = {
    "stopping": "it was killed while the live server stopped for the swap",
    "parking": "it was killed while the store folders were being moved",
    "moved": "the new store had not passed its checks yet",
}


def _undo(live: Neo4jHome, database: str, entry: dict[str, Any]) -> None:
    """Put the parked store back (server stopped), dropping what was moved in; idempotent,
    so a recovery killed half-way is finished by the next one."""
    existed = entry.get("existed")
    pairs = zip(_stores(live, database), _stores(_previous(live), database), strict=True)
    for index, (live_dir, old_dir) in enumerate(pairs):
        if old_dir.exists():
            if live_dir.exists():
                shutil.rmtree(live_dir)
            _move(old_dir, live_dir)
        elif isinstance(existed, list) and index < len(existed) and existed[index] is False:
            # there was no such folder before: whatever is there now was moved in
            shutil.rmtree(live_dir, ignore_errors=True)
        # else: not parked yet, the live folder is still the old one
    (live.root / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(_previous(live).root, ignore_errors=True)


def _require_store(staging: Neo4jHome, database: str) -> None:
    new_store = staging.store_dir(database)
    if not new_store.is_dir():
        raise BulkgraphError(f"{new_store}: the staging store is missing; nothing was swapped")


def _park_and_move_in(
    staging: Neo4jHome,
    live: Neo4jHome,
    database: str,
    *,
    mode: str,
    verified: bool,
    served_before: bool,
) -> dict[str, Any]:
    """Open the journal, park the live store, move the staging one in (server stopped).
    Returns the journal entry, `stage` "moved"."""
    new_store, new_tx = _stores(staging, database)
    previous = _previous(live)
    shutil.rmtree(previous.root, ignore_errors=True)
    entry: dict[str, Any] = {
        "database": database,
        "mode": mode,
        "verified": verified,
        "served_before": served_before,
        "existed": [d.exists() for d in _stores(live, database)],
        "stage": "parking",
    }
    _write_journal(live, entry)
    pause_point("journal_written")
    for live_dir, old_dir in zip(_stores(live, database), _stores(previous, database), strict=True):
        _move(live_dir, old_dir)
    _move(new_store, live.store_dir(database))
    _move(new_tx, live.transactions_dir(database))
    entry["stage"] = "moved"
    _write_journal(live, entry)
    return entry


def _put_back(live: Neo4jHome, database: str) -> None:
    """Drop the new store and restore the parked one; the server is left stopped."""
    if server_pid(live) is not None:
        stop(live)
    _undo(live, database, read_journal(live) or {})


def _commit(live: Neo4jHome) -> None:
    (live.root / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(_previous(live).root, ignore_errors=True)


def swap_in(staging: Neo4jHome, live: Neo4jHome, database: str = DEFAULT_DATABASE) -> None:
    """Replace the live store with the verified staging one, and (re)start the live server.

    The live server is stopped only for the renames and the restart. On failure the old
    store is back in place and serving, and BulkgraphError says what happened.
    """
    _require_store(staging, database)
    served_before = server_pid(live) is not None
    if served_before:
        # journaled from here: whoever finds the server stopped by a kill starts it again
        _write_journal(
            live,
            {"database": database, "mode": "staged", "served_before": True, "stage": "stopping"},
        )
        stop(live)
    pause_point("live_stopped")
    _park_and_move_in(
        staging, live, database, mode="staged", verified=True, served_before=served_before
    )
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
    pause_point("swap_started")
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
    one put back and the server left stopped, as it was; then the exception propagates. A
    kill leaves that to the next `recover()`.
    """
    if server_pid(live) is not None:
        raise BulkgraphError(f"the server of {live.root} is running: use swap_in")
    _require_store(staging, database)
    entry = _park_and_move_in(
        staging, live, database, mode="in_place", verified=False, served_before=False
    )
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
    entry["verified"] = True
    _write_journal(live, entry)  # from here on a kill completes the swap instead
    pause_point("in_place_verified")
    _commit(live)
    return checked
