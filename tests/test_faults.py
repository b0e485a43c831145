"""Fault injection: `bulkgraph rebuild` and `bulkgraph load` killed with SIGKILL at each phase.

Each command runs in its own process group with BULKGRAPH_TEST_PAUSE_AT naming a point of
the code (bulkgraph/pausepoint.py); when it gets there it writes a marker file and sleeps,
the test sees the file and kills the whole group (the servers it started are in sessions of
their own and survive, as they would a real kill). No fixed sleeps: the test waits for the
marker, the command's exit, or a server's JVM.

After each kill, whatever the next command does, the invariants:
- the graph served is exactly the old one or exactly the new (verified) one, which one is
  known for each phase, with all its constraints;
- no server JVM of the home runs that `neo4j status` does not list, and no staging one;
- the journal and the staging folder are gone.
At the end the next rebuild succeeds. One private home serves all the scenarios in order:
each rebuilds to the graph the home does not hold (two sample sets, A and B).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from conftest import TEST_MEMORY, with_a_dangling_relationship

from bulkgraph import server
from bulkgraph.load.settle import LOCK_FILE
from bulkgraph.load.staging import STAGING_DIR
from bulkgraph.load.swap import JOURNAL, PREVIOUS_DIR
from bulkgraph.server import Neo4jHome
from bulkgraph.server.config import bolt_port, bolt_uri
from bulkgraph.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.neo4j]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NATIVE = sorted(SAMPLES.glob("*.tar.gz"))
SETS = {"A": NATIVE[:2], "B": NATIVE}
_WAIT = 300.0  # seconds: a generous bound for one phase on a loaded machine
_SERVER_MAIN = "org.neo4j.server.CommunityEntryPoint"


# -- running and killing ------------------------------------------------------------------


def _env(home: Neo4jHome, **extra: str) -> dict[str, str]:
    drop = ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USERNAME", "NEO4J_DATABASE")
    env = {
        k: v for k, v in os.environ.items() if k not in drop and not k.startswith("BULKGRAPH_TEST")
    }
    env.update(TEST_MEMORY)
    env["NEO4J_HOME"] = str(home.root)
    env.update(extra)
    return env


def bulkgraph(home: Neo4jHome, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"bulkgraph {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def kill_at(home: Neo4jHome, point: str, args: list[str], scratch: Path) -> None:
    """Run `bulkgraph ARGS` until it pauses at `point`, then SIGKILL its process group."""
    pause_dir = scratch / f"pause-{point}-{time.monotonic_ns()}"
    log = pause_dir.with_suffix(".log")
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bulkgraph", *args],
            env=_env(home, BULKGRAPH_TEST_PAUSE_AT=point, BULKGRAPH_TEST_PAUSE_DIR=str(pause_dir)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, killed as a whole
        )
    marker = pause_dir / point.partition("#")[0]
    deadline = time.monotonic() + _WAIT
    try:
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"bulkgraph {' '.join(args)} exited {proc.returncode} before reaching "
                    f"{point}:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"bulkgraph {' '.join(args)} did not reach {point}")
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def server_jvms_under(root: Path) -> dict[int, Path]:
    """Every server JVM whose home is `root` or inside it, from /proc (not bulkgraph's code)."""
    found = {}
    top = root.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if _SERVER_MAIN not in args or state == "Z":
            continue
        for arg in args:
            if arg.startswith("--home-dir="):
                home_dir = Path(arg.partition("=")[2]).resolve()
                if home_dir.is_relative_to(top):
                    found[int(entry.name)] = home_dir
    return found


# -- what a graph is ----------------------------------------------------------------------


@dataclass(frozen=True)
class Graph:
    labels: dict[str, int]
    types: dict[str, int]
    snapshots: tuple[str, ...]
    constraints: frozenset[str]


def served_graph(home: Neo4jHome) -> Graph:
    port = bolt_port(home.conf_file)
    assert port is not None
    auth = ("neo4j", home.read_password() or "")
    with neo4j.GraphDatabase.driver(bolt_uri(port), auth=auth) as driver:

        def rows(query: str) -> list[dict[str, Any]]:
            return [r.data() for r in driver.execute_query(query, database_="neo4j").records]

        labels = rows("MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS n")
        types = rows("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")
        snaps = rows("MATCH (s:Snapshot) RETURN s.snapshot_id AS id ORDER BY id")
        constraints = rows("SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties RETURN *")
    return Graph(
        labels={r["l"]: r["n"] for r in labels},
        types={r["t"]: r["n"] for r in types},
        snapshots=tuple(r["id"] for r in snaps),
        constraints=frozenset(
            f"{c['name']}:{','.join(c['labelsOrTypes'])}:{','.join(c['properties'])}"
            for c in constraints
        ),
    )


# -- the shared home ----------------------------------------------------------------------


class Estate:
    """The home, the two sample sets' work folders, and what each set's graph is."""

    def __init__(self, home: Neo4jHome, scratch: Path) -> None:
        self.home = home
        self.scratch = scratch
        self.graphs: dict[str, Graph] = {}
        self.current: str | None = None

    def work(self, name: str) -> Path:
        return self.scratch / f"work-{name}"

    def rebuild_args(self, name: str, workdir: Path | None = None) -> list[str]:
        work = workdir or self.work(name)
        return ["rebuild", *map(str, SETS[name]), "--workdir", str(work), "--json"]

    @property
    def other(self) -> str:
        return "B" if self.current == "A" else "A"

    def rebuild(self, name: str) -> dict[str, Any]:
        proc = bulkgraph(self.home, *self.rebuild_args(name))
        self.current = name
        summary: dict[str, Any] = json.loads(proc.stdout)
        return summary

    def serving(self) -> bool:
        return server.server_pid(self.home) is not None

    def set_serving(self, wanted: bool) -> None:
        if wanted:
            server.start(self.home)
        else:
            server.stop(self.home)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    scratch = tmp_path_factory.mktemp("faults")
    settings = Settings(_env_file=None).model_copy(  # type: ignore[call-arg]
        update={
            "bulkgraph_heap": TEST_MEMORY["BULKGRAPH_HEAP"],
            "bulkgraph_pagecache": TEST_MEMORY["BULKGRAPH_PAGECACHE"],
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )
    home = server.install(scratch / "home", settings=settings)
    state = Estate(home, scratch)
    try:
        # both graphs once, in full: what each one is, and its work folder for reuse
        for name in ("A", "B"):
            state.rebuild(name)
            state.graphs[name] = served_graph(home)
        assert state.graphs["A"] != state.graphs["B"]
        assert state.graphs["A"].constraints == state.graphs["B"].constraints
        assert len(state.graphs["A"].constraints) >= 5
        yield state
    finally:
        for pid in server_jvms_under(home.root):
            os.kill(pid, signal.SIGKILL)


def assert_settled(estate: Estate, expected: str, *, serving: bool | None) -> dict[str, Any]:
    """The invariants after a kill and the next command; returns `neo4j status --json`."""
    home = estate.home
    status = json.loads(bulkgraph(home, "neo4j", "status", "--json").stdout)
    listed = {s["pid"] for s in status["servers"]}
    running = server_jvms_under(home.root)
    assert set(running) == listed, f"servers running {running}, status lists {listed}"
    assert set(running.values()) <= {home.root.resolve()}, "a staging server still runs"
    assert not (home.root / JOURNAL).exists()
    assert not (home.root / PREVIOUS_DIR).exists()
    assert not (home.root / STAGING_DIR).exists()
    if serving is not None:
        assert status["running"] is serving
    if not status["running"]:
        bulkgraph(home, "neo4j", "start")
    graph = served_graph(home)
    assert graph == estate.graphs[expected], f"expected graph {expected}"
    estate.current = expected
    return status


# -- the scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "serving_before", "keeps"),
    [
        # the live server runs: checked on staging, then swapped in ("staged")
        ("transform", True, "old"),
        ("import", True, "old"),
        ("live_stopped", True, "old"),
        ("journal_written", True, "old"),
        # the live server is stopped: moved in, then checked on it ("in_place"); killed
        # after the checks passed, before the journal was closed
        ("in_place_verified", False, "new"),
    ],
)
def test_a_rebuild_killed_at_any_phase_leaves_one_whole_graph(
    estate: Estate, point: str, serving_before: bool, keeps: str
) -> None:
    estate.set_serving(serving_before)
    old, new = estate.current, estate.other
    assert old is not None
    # the transform phase needs snapshots to transform: a fresh work folder
    workdir = estate.scratch / f"fresh-{time.monotonic_ns()}" if point == "transform" else None
    kill_at(estate.home, point, estate.rebuild_args(new, workdir), estate.scratch)
    status = assert_settled(estate, old if keeps == "old" else new, serving=None)
    if point in ("journal_written", "in_place_verified"):
        recovery = status["settled"]["recovery"]
        assert recovery["action"] == ("undone" if keeps == "old" else "completed")
        assert recovery["message"]


def test_an_orphaned_staging_server_is_shown_and_stopped(estate: Estate) -> None:
    """Defect 7: a rebuild killed during the staging server's post-load left that server
    running (400 MB, a port), and `neo4j status` did not show it."""
    estate.set_serving(True)
    old = estate.current
    assert old is not None
    kill_at(estate.home, "staging_post_load", estate.rebuild_args(estate.other), estate.scratch)
    staging = [p for p, h in server_jvms_under(estate.home.root).items() if h.name == STAGING_DIR]
    assert staging, "the kill left no staging server: the scenario tests nothing"
    status = assert_settled(estate, old, serving=True)
    assert status["settled"]["stopped_staging"] == staging
    assert not any(p in staging for p in server_jvms_under(estate.home.root))


def test_a_kill_after_the_staged_swap_started_keeps_the_new_graph(
    estate: Estate, tmp_path: Path
) -> None:
    """Defect 1: killed after the live server started on the new (verified) store, journal
    still open. The next import's recovery renamed the folders under the running server,
    and after a restart the old graph was served."""
    estate.set_serving(True)
    new = estate.other
    kill_at(estate.home, "swap_started", estate.rebuild_args(new), estate.scratch)
    assert (estate.home.root / JOURNAL).exists()
    assert estate.serving()

    # the next command is an import that fails: the importer refuses a relationship to a
    # node that does not exist (early, so that no staging server starts for nothing)
    broken = tmp_path / "broken"
    with_a_dangling_relationship(estate.work(estate.current or "A") / "csv", broken)
    failed = bulkgraph(estate.home, "import", str(broken), "--json", check=False)
    assert failed.returncode == 1
    assert "nope|" in failed.stderr  # the importer's refusal
    assert "interrupted swap was completed" in failed.stderr
    # the new graph, also after a restart of the server
    estate.set_serving(False)
    assert_settled(estate, new, serving=False)
    assert estate.serving()


def test_a_kill_during_the_in_place_post_load_puts_the_old_store_back(estate: Estate) -> None:
    """Defect 2: killed during the post-load on the live server (stopped before the rebuild):
    the server kept running on the new store with no constraints, journal open."""
    estate.set_serving(False)
    old = estate.current
    assert old is not None
    kill_at(estate.home, "in_place_post_load", estate.rebuild_args(estate.other), estate.scratch)
    assert estate.serving()  # what the kill left: a server on the unchecked store
    # the next command that touches the server: `neo4j start`
    started = bulkgraph(estate.home, "neo4j", "start", "--json")
    info = json.loads(started.stdout)
    assert info["settled"]["recovery"]["action"] == "undone"
    assert info["settled"]["recovery"]["stopped_server"] is True
    assert_settled(estate, old, serving=True)


def test_the_next_rebuild_succeeds(estate: Estate) -> None:
    new = estate.other
    mode = "staged" if estate.serving() else "in_place"
    summary = estate.rebuild(new)
    assert summary["swap_mode"] == mode
    assert_settled(estate, new, serving=True)
    # the operation lock was released by every killed run: nothing holds the home
    assert (estate.home.root / LOCK_FILE).exists()


def test_a_killed_load_rerun_equals_the_bulk_import(estate: Estate) -> None:
    """`bulkgraph load` killed in its second snapshot (rows in, temporal links not), then
    run again: the graph is the one `rebuild` made of the same CSVs."""
    home = estate.home
    estate.set_serving(True)
    port = bolt_port(home.conf_file)
    with neo4j.GraphDatabase.driver(
        bolt_uri(port or 0), auth=("neo4j", home.read_password() or "")
    ) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
        for c in driver.execute_query("SHOW CONSTRAINTS YIELD name", database_="neo4j").records:
            driver.execute_query(f"DROP CONSTRAINT `{c['name']}`", database_="neo4j")
    csv_dir = estate.work("B") / "csv"
    kill_at(home, "load_snapshot#2", ["load", str(csv_dir)], estate.scratch)
    half = served_graph(home)
    assert 0 < len(half.snapshots) < len(SETS["B"])
    bulkgraph(home, "load", str(csv_dir))
    assert served_graph(home) == estate.graphs["B"]
    estate.current = "B"
