"""Shared fixtures: a real, managed Neo4j 5.26 for the whole test session.

Fixtures
--------
``neo4j_server`` (session)
    Installs (jars cached under BULKGRAPH_CACHE_DIR, shared by every run on the machine) and
    starts a private Neo4j instance in a tmp folder, on a free Bolt port, with a 512m heap
    and a 256m page cache; stops it at session end (no JVM left behind). It does NOT change
    the environment: request ``managed_neo4j`` or ``empty_db`` for that.

``managed_neo4j`` (function)
    The same server, made the configured one for the test: NEO4J_HOME points at it,
    NEO4J_URI / NEO4J_PASSWORD / NEO4J_USERNAME / NEO4J_DATABASE are removed, small memory
    settings are set, and ``get_settings()`` is refreshed. Library calls (``bulkgraph.db``,
    ``bulkgraph.server``) then talk to it; CLI subprocesses get the same through
    ``env=managed_neo4j.env()``. Starts the server if an earlier test left it stopped.

``empty_db`` (function)
    ``managed_neo4j`` with the database wiped first: all nodes, relationships,
    constraints and indexes (except Neo4j's built-in token lookup indexes).

``built_graphs`` (session)
    Graphs that modules only ask questions of (the samples' in each layout, the churn
    history's), built once by the first module that asks and put back by copying their store
    for the next ones: ``built_graphs.ensure(graph_key(sources, layout, account), build)``
    (tests/graph_cache.py). Tests of rebuild itself rebuild.

The server object (``ManagedNeo4j``)
    ``.home`` (``bulkgraph.server.Neo4jHome``: ``.import_dir``, ``.store_dir()``, ``.logs`` ...),
    ``.uri``, ``.password``, ``.env()``, ``.driver()`` (cached, reconnects after a restart),
    ``.run(query, **params) -> list[dict]``, ``.run_autocommit(query, **params)``,
    ``.stop()``, ``.start()``, ``.stopped()``, ``.admin(*args)``, ``.clear()``.

Bulk imports (``neo4j-admin database import full``) need the server stopped::

    def test_import(empty_db):
        with empty_db.stopped():  # server stopped here, restarted afterwards (even on error)
            empty_db.admin("database", "import", "full", "neo4j", "--overwrite-destination",
                           "--max-off-heap-memory=256m", f"--nodes={nodes_csv}")
        assert empty_db.run("MATCH (n) RETURN count(n) AS n") == [{"n": 2}]

Put the database name right after ``full`` (``--nodes`` would swallow it) and pass
``--overwrite-destination``: the server created ``neo4j`` at its first start.

Tests that use these fixtures get the ``neo4j`` marker automatically
(``pytest -m "not neo4j"`` skips them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import neo4j
import pytest
from xdist_groups import assign_groups, module_of

from bulkgraph.transform.workers import POLARS_ENGINE

# the tests' polars on the engine the command and its workers run (read when polars loads)
os.environ.setdefault("POLARS_ENGINE_AFFINITY", POLARS_ENGINE)

from bulkgraph import server
from bulkgraph.db import run_autocommit, run_query
from bulkgraph.server import Neo4jHome
from bulkgraph.server.config import bolt_port, bolt_uri
from bulkgraph.settings import Settings, get_settings

if TYPE_CHECKING:
    from graph_cache import BuiltGraphs
    from query_estate import QueryGraphs

T = TypeVar("T")
R = TypeVar("R")

NEO4J_FIXTURES = {"neo4j_server", "managed_neo4j", "empty_db", "built_graphs"}

#: Memory for test servers and imports: the machine is shared by parallel sessions.
TEST_MEMORY = {
    "BULKGRAPH_HEAP": "512m",
    "BULKGRAPH_PAGECACHE": "256m",
    "BULKGRAPH_IMPORT_MEMORY": "512m",
}
#: JVM options of every server and neo4j-admin the tests start (BULKGRAPH_JVM_OPTIONS),
#: also in the subprocesses they run: those JVMs live seconds to minutes on tiny graphs, where
#: the C2 compiler's work never pays back; with C1 alone an import of samples/ took ~40 % less
#: CPU (docs/benchmarks.md, "The test suite's JVMs"). Set the variable to "" to test without.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
os.environ.setdefault("BULKGRAPH_JVM_OPTIONS", TEST_JVM_OPTIONS)
_CONNECTION_VARS = ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USERNAME", "NEO4J_DATABASE")


class ManagedNeo4j:
    """A running managed Neo4j instance for tests (see the module docstring)."""

    def __init__(self, home: Neo4jHome) -> None:
        self.home = home
        self._driver: neo4j.Driver | None = None
        self._driver_uri: str | None = None

    @property
    def uri(self) -> str:
        port = bolt_port(self.home.conf_file)
        assert port is not None, f"no Bolt port in {self.home.conf_file}"
        return bolt_uri(port)  # read each time: a restart may move to another free port

    @property
    def password(self) -> str:
        password = self.home.read_password()
        assert password, f"no password in {self.home.password_file}"
        return password

    def env_vars(self) -> dict[str, str]:
        """The variables that make bulkgraph use this server (see also `env()`)."""
        return {"NEO4J_HOME": str(self.home.root), **TEST_MEMORY}

    def env(self, **extra: str) -> dict[str, str]:
        """A full environment for a CLI subprocess talking to this server."""
        env = {k: v for k, v in os.environ.items() if k not in _CONNECTION_VARS}
        env.update(self.env_vars())
        env.update(extra)
        return env

    def driver(self) -> neo4j.Driver:
        if self._driver is None or self._driver_uri != self.uri:
            self.close_driver()
            self._driver_uri = self.uri
            self._driver = neo4j.GraphDatabase.driver(self.uri, auth=("neo4j", self.password))
        return self._driver

    def close_driver(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def run(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a query (managed transaction) as dicts of driver values."""
        return run_query(query, params, driver=self.driver(), database="neo4j")

    def run_autocommit(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Like `run`, in an auto-commit transaction (`CALL {...} IN TRANSACTIONS`)."""
        return run_autocommit(query, params, driver=self.driver(), database="neo4j")

    def start(self) -> None:
        server.start(self.home)

    def stop(self) -> None:
        self.close_driver()
        server.stop(self.home)

    @contextmanager
    def stopped(self) -> Iterator[Neo4jHome]:
        """Server stopped inside the block (for neo4j-admin), started again after it."""
        self.close_driver()
        with server.stopped(self.home) as home:
            yield home

    def admin(self, *args: str) -> server.AdminResult:
        """`neo4j-admin ARGS` of this instance; raises BulkgraphError on failure."""
        # cwd: the importer writes import.report into the working directory by default
        return server.run_admin(list(args), self.home, on_line=None, cwd=self.home.root)

    def clear(self) -> None:
        """Delete all data, constraints and indexes (not the built-in lookup indexes)."""
        self.run_autocommit("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
        for row in self.run("SHOW CONSTRAINTS YIELD name RETURN name"):
            self.run_autocommit(f"DROP CONSTRAINT `{row['name']}` IF EXISTS")
        for row in self.run("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
            self.run_autocommit(f"DROP INDEX `{row['name']}` IF EXISTS")


def import_settings() -> Settings:
    """Settings for a bulk import into the test server from library code: small memory, and
    no developer's `.env` or NEO4J_* variables."""
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    return base.model_copy(
        update={
            "bulkgraph_heap": TEST_MEMORY["BULKGRAPH_HEAP"],
            "bulkgraph_pagecache": TEST_MEMORY["BULKGRAPH_PAGECACHE"],
            "bulkgraph_import_memory": TEST_MEMORY["BULKGRAPH_IMPORT_MEMORY"],
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )


def with_a_dangling_relationship(csv_dir: Path, into: Path) -> None:
    """A copy of a CSV folder that `neo4j-admin import` refuses early: one relationship row
    whose ends (`nope|...`) are no node's id; the importer's error quotes it."""
    shutil.copytree(csv_dir, into)
    part = next((into / "relationships" / "BELONGS_TO__Instance__VPC").glob("2*.csv"))
    with part.open("a", encoding="utf-8") as fh:
        fh.write("nope|Instance|i-0,nope|VPC|vpc-0\n")


def two_at_a_time(ask: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`ask` of every item, on two threads (each query on its own session of the shared
    driver), in order: one question at a time left one of the server's two cores idle."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(ask, items))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for moto, and no AWS profile or endpoint of the developer's."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedNeo4j]:
    root = tmp_path_factory.mktemp("neo4j") / "home"
    # explicit settings: a developer's .env or NEO4J_* variables must not leak in here
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    settings = base.model_copy(
        update={
            "bulkgraph_heap": TEST_MEMORY["BULKGRAPH_HEAP"],
            "bulkgraph_pagecache": TEST_MEMORY["BULKGRAPH_PAGECACHE"],
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )
    home = server.install(root, settings=settings)
    instance = ManagedNeo4j(home)
    try:
        server.start(home)
        yield instance
    finally:
        instance.close_driver()
        server.stop(home)


@pytest.fixture
def managed_neo4j(
    neo4j_server: ManagedNeo4j, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ManagedNeo4j]:
    for name in _CONNECTION_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in neo4j_server.env_vars().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    if get_settings().neo4j_uri:
        pytest.fail("a .env file in the working directory sets NEO4J_URI; tests need it unset")
    neo4j_server.start()  # no-op when running
    yield neo4j_server
    get_settings.cache_clear()


@pytest.fixture
def empty_db(managed_neo4j: ManagedNeo4j) -> ManagedNeo4j:
    managed_neo4j.clear()
    return managed_neo4j


@pytest.fixture(scope="session")
def query_graphs(
    tmp_path_factory: pytest.TempPathFactory, built_graphs: BuiltGraphs
) -> QueryGraphs:
    """The query tests' estate (tests/query_estate.py), transformed once per session; each
    graph imported once, then put back by `built_graphs`."""
    from query_estate import QueryGraphs  # it imports this module

    return QueryGraphs(tmp_path_factory.mktemp("query-estate"), built_graphs)


@pytest.fixture(scope="session")
def versions_history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """tests/versions_estate.py's six snapshots with churn of every kind, collected from moto
    once per session: the versions layout's tests and the report's read the same ones."""
    from versions_estate import build_history

    return build_history(tmp_path_factory.mktemp("versions-history"))


@pytest.fixture(scope="session")
def built_graphs(
    neo4j_server: ManagedNeo4j, tmp_path_factory: pytest.TempPathFactory
) -> BuiltGraphs:
    """Graphs that modules only ask questions of, built once and put back by copying their
    store (tests/graph_cache.py): `built_graphs.ensure(key, build)`."""
    from graph_cache import BuiltGraphs

    graphs = BuiltGraphs(neo4j_server, tmp_path_factory.mktemp("built-graphs"))
    _BUILT_GRAPHS.append(graphs)
    return graphs


#: the session's `built_graphs`, for the terminal summary
_BUILT_GRAPHS: list[BuiltGraphs] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for graphs in _BUILT_GRAPHS:
        if graphs.events:
            terminalreporter.write_line(f"built_graphs: {graphs.summary()}")


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test sees the environment it set up, not settings cached by an earlier one."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--report-screenshot",
        metavar="PNG",
        default=None,
        help="also save the screenshot of the samples' report here "
        "(docs/report.png: scripts/report-screenshot)",
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if NEO4J_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.neo4j)
    assign_groups(items)  # which xdist worker runs what (tests/xdist_groups.py)
    # The modules that ask `built_graphs` for a graph run last, one after the other. A graph
    # is copied aside only when the next one is asked for (tests/graph_cache.py), so a test
    # that writes to the server between two of them (empty_db clears it) threw the first one
    # away unkept: in file order the query estate was built three times. Stable: the order of
    # the modules within each part, and of the tests within a module, is kept.
    cached = {
        module_of(item) for item in items if "built_graphs" in getattr(item, "fixturenames", ())
    }
    items.sort(key=lambda item: module_of(item) in cached)
