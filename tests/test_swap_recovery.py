"""What recovery decides from the swap journal, on store folders without a server (fast).

The same decisions with real servers killed at each phase: test_faults.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bulkgraph.load.settle import HomeBusy, operation_lock, settle
from bulkgraph.load.swap import JOURNAL, PREVIOUS_DIR, read_journal, recover
from bulkgraph.server import Neo4jHome


def _home(tmp_path: Path) -> Neo4jHome:
    live = Neo4jHome(tmp_path / "home")
    live.make_dirs()
    live.conf_file.write_text("server.bolt.listen_address=127.0.0.1:1\n")
    live.lib.mkdir()
    return live


def _store(home: Neo4jHome, content: str) -> None:
    home.store_dir().mkdir(parents=True)
    (home.store_dir() / "neostore").write_text(content)
    home.transactions_dir().mkdir(parents=True)
    (home.transactions_dir() / "tx.0").write_text(content)


def _journal(live: Neo4jHome, **entry: object) -> None:
    base = {"database": "neo4j", "mode": "in_place", "served_before": False}
    (live.root / JOURNAL).write_text(json.dumps({**base, **entry}))


def _content(live: Neo4jHome) -> tuple[str | None, str | None]:
    store, tx = live.store_dir() / "neostore", live.transactions_dir() / "tx.0"
    return (
        store.read_text() if store.exists() else None,
        tx.read_text() if tx.exists() else None,
    )


def test_a_verified_store_fully_moved_in_is_kept(tmp_path: Path) -> None:
    live = _home(tmp_path)
    _store(Neo4jHome(live.root / PREVIOUS_DIR), "old")
    _store(live, "new")
    _journal(live, verified=True, stage="moved", existed=[True, True])

    recovery = recover(live)
    assert recovery is not None
    assert (recovery.action, recovery.stopped_server, recovery.server_running) == (
        "completed",
        False,
        False,
    )
    assert "verified" in recovery.reason and "completed" in recovery.message()
    assert _content(live) == ("new", "new")
    assert not (live.root / PREVIOUS_DIR).exists() and read_journal(live) is None


def test_an_unverified_store_is_dropped_for_the_parked_one(tmp_path: Path) -> None:
    live = _home(tmp_path)
    _store(Neo4jHome(live.root / PREVIOUS_DIR), "old")
    _store(live, "new")
    _journal(live, verified=False, stage="moved", existed=[True, True])

    recovery = recover(live)
    assert recovery is not None and recovery.action == "undone"
    assert "not passed its checks" in recovery.reason
    assert _content(live) == ("old", "old")
    assert not (live.root / PREVIOUS_DIR).exists() and read_journal(live) is None


def test_a_half_parked_store_is_put_back_whole(tmp_path: Path) -> None:
    """Killed between parking the store folder and the transactions folder."""
    live = _home(tmp_path)
    _store(live, "old")
    previous = Neo4jHome(live.root / PREVIOUS_DIR)
    previous.store_dir().parent.mkdir(parents=True)
    live.store_dir().rename(previous.store_dir())
    _journal(live, verified=True, stage="parking", existed=[True, True])

    recovery = recover(live)
    assert recovery is not None and recovery.action == "undone"
    assert _content(live) == ("old", "old")


def test_a_first_build_undone_leaves_no_store(tmp_path: Path) -> None:
    """Nothing existed before: what was moved in is removed, not mistaken for the old one."""
    live = _home(tmp_path)
    _store(live, "new")
    _journal(live, verified=False, stage="moved", existed=[False, False])

    assert recover(live) is not None
    assert _content(live) == (None, None)
    assert not live.store_dir().exists()


def test_a_swap_killed_while_stopping_the_server_changes_no_folder(tmp_path: Path) -> None:
    live = _home(tmp_path)
    _store(live, "old")
    _journal(live, stage="stopping")  # served_before False here: nothing to start

    recovery = recover(live)
    assert recovery is not None and recovery.action == "undone"
    assert "stopped for the swap" in recovery.reason
    assert _content(live) == ("old", "old")


def test_an_unreadable_journal_undoes(tmp_path: Path) -> None:
    live = _home(tmp_path)
    _store(Neo4jHome(live.root / PREVIOUS_DIR), "old")
    _store(live, "new")
    (live.root / JOURNAL).write_text("{not json")

    recovery = recover(live)
    assert recovery is not None and recovery.action == "undone"
    assert _content(live) == ("old", "old")


def test_nothing_is_touched_while_another_process_holds_the_home(tmp_path: Path) -> None:
    live = _home(tmp_path)
    _store(Neo4jHome(live.root / PREVIOUS_DIR), "old")
    _store(live, "new")
    _journal(live, verified=False, stage="moved")
    staging = live.root / "bulkgraph-staging"
    staging.mkdir()

    with operation_lock(live):  # as a running rebuild holds it (flock: per open file)
        settled = settle(live)
        assert settled.busy == str(os.getpid())
        assert not settled.acted
        with pytest.raises(HomeBusy, match=f"pid {os.getpid()}"), operation_lock(live):
            pass
    assert _content(live) == ("new", "new") and staging.is_dir()

    settled = settle(live)  # the lock is free: a killed run's leftovers go
    assert settled.busy is None and settled.removed_staging
    assert settled.recovery is not None and settled.recovery.action == "undone"
    assert _content(live) == ("old", "old") and not staging.exists()
    assert settled.to_dict()["messages"]
