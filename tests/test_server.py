"""The managed Neo4j on the real thing: install, auth, bulk import, LOAD CSV, stop."""

from __future__ import annotations

import secrets
import stat
import subprocess
from pathlib import Path

import neo4j
import pytest
from conftest import ManagedNeo4j
from neo4j.exceptions import AuthError

from bulkgraph import server
from bulkgraph.errors import BulkgraphError
from bulkgraph.server.config import bolt_port, jvm_options
from bulkgraph.server.java import SERVER_MAIN
from bulkgraph.settings import Settings

#: the tests without a server fixture install (and some start) a server of their own
pytestmark = pytest.mark.neo4j


def test_bolt_answers_with_the_stored_password(neo4j_server: ManagedNeo4j) -> None:
    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=("neo4j", neo4j_server.password)) as d:
        records, _, _ = d.execute_query("RETURN 1 AS one", database_="neo4j")
        assert [r["one"] for r in records] == [1]
        assert d.get_server_info().agent == "Neo4j/5.26.30"


def test_wrong_password_is_refused(neo4j_server: ManagedNeo4j) -> None:
    with (
        neo4j.GraphDatabase.driver(neo4j_server.uri, auth=("neo4j", "not-the-password")) as d,
        pytest.raises(AuthError),
    ):
        d.execute_query("RETURN 1", database_="neo4j")


def test_instance_layout_and_config(neo4j_server: ManagedNeo4j) -> None:
    home = neo4j_server.home
    assert stat.S_IMODE(home.password_file.stat().st_mode) == 0o600
    assert len(neo4j_server.password) >= 24
    assert home.lib.is_symlink()
    assert any(home.lib.glob("neo4j-import-tool-5.26.30.jar"))
    conf = home.conf_file.read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    assert "server.http.enabled=false" in conf
    assert "server.memory.heap.max_size=512m" in conf
    assert "server.jvm.additional=--add-opens=java.base/java.nio=ALL-UNNAMED" in conf
    # BULKGRAPH_JVM_OPTIONS (tests/conftest.py), after ours; the running server has it
    assert conf.index("--enable-native-access") < conf.index("=-XX:TieredStopAtLevel=1\n")
    pid = server.server_pid(home)
    assert pid is not None
    assert b"-XX:TieredStopAtLevel=1" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    # the password is nowhere but in its file
    for path in [*home.logs.iterdir(), home.conf_file, home.metadata_file]:
        assert neo4j_server.password not in path.read_text(errors="replace"), path


def test_status_reports_the_running_server(neo4j_server: ManagedNeo4j) -> None:
    info = server.status(neo4j_server.home)
    assert info.running and info.installed and info.managed
    assert info.version == "5.26.30"
    assert info.bolt_uri == neo4j_server.uri
    assert info.pid is not None
    assert SERVER_MAIN in Path(f"/proc/{info.pid}/cmdline").read_text()
    # every server in the home, with the store it holds open
    assert info.servers == [
        {
            "role": "live",
            "home": str(neo4j_server.home.root.resolve()),
            "pid": info.pid,
            "bolt_uri": neo4j_server.uri,
            "store": str(neo4j_server.home.store_dir().resolve()),
        }
    ]


def test_second_install_is_cached_and_keeps_port_and_password(tmp_path: Path) -> None:
    # a stopped second instance: installing it twice must not re-fetch or re-key anything
    settings = Settings(_env_file=None, bulkgraph_heap="256m", bulkgraph_pagecache="64m")  # type: ignore[call-arg]
    home = server.install(tmp_path / "other", settings=settings)
    password, port = home.read_password(), bolt_port(home.conf_file)
    auth_ini = home.auth_file.read_bytes()  # salted hash: a new set-initial-password changes it
    lib_stat = home.lib.resolve().stat()
    again = server.install(tmp_path / "other", settings=settings)
    assert again == home
    assert (again.read_password(), bolt_port(again.conf_file)) == (password, port)
    assert again.auth_file.read_bytes() == auth_ini
    assert home.lib.resolve().stat().st_ino == lib_stat.st_ino  # the cached jars, not new ones
    assert not server.status(home).running


def test_a_password_starting_with_a_dash_is_set_and_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # secrets.token_urlsafe starts with "-" once in 64: neo4j-admin must not take it for an
    # option (it failed the install with "Missing required parameter: '<password>'")
    password = "-dash-first-" + "x" * 20
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: password)
    settings = Settings(_env_file=None, bulkgraph_heap="256m", bulkgraph_pagecache="64m")  # type: ignore[call-arg]
    home = server.install(tmp_path / "dash", settings=settings)
    assert home.read_password() == password
    server.start(home)
    try:
        uri = f"bolt://127.0.0.1:{bolt_port(home.conf_file)}"
        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
            assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
    finally:
        server.stop(home)


def test_install_leaves_a_running_instance_alone(neo4j_server: ManagedNeo4j) -> None:
    conf = neo4j_server.home.conf_file.read_text()
    pid = server.status(neo4j_server.home).pid
    assert server.install(neo4j_server.home.root) == neo4j_server.home
    assert neo4j_server.home.conf_file.read_text() == conf
    assert server.status(neo4j_server.home).pid == pid
    with pytest.raises(BulkgraphError, match=r"stop it before installing 5\.26\.1"):
        server.install(neo4j_server.home.root, version="5.26.1")


def test_bulk_import_into_the_stopped_database(empty_db: ManagedNeo4j, tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text('uid:ID(N),name,size:int,:LABEL\na,Alpha,1,Thing\nb,"Be, ta",2,Thing;Big\n')
    rels = tmp_path / "rels.csv"
    rels.write_text(":START_ID(N),:END_ID(N),:TYPE,w:double\na,b,LINKS,0.5\n")
    with empty_db.stopped() as home:
        assert not server.status(home).running
        result = empty_db.admin(
            "database", "import", "full", "neo4j",
            "--overwrite-destination", "--max-off-heap-memory=256m",
            f"--nodes={nodes}", f"--relationships={rels}",
        )  # fmt: skip
        assert result.returncode == 0
        assert "IMPORT DONE" in result.tail
    assert server.status(empty_db.home).running
    rows = empty_db.run(
        "MATCH (a:Thing)-[r:LINKS]->(b:Big) RETURN a.name AS a, b.name AS b, b.size AS size, "
        "r.w AS w, b.uid AS uid"
    )
    assert rows == [{"a": "Alpha", "b": "Be, ta", "size": 2, "w": 0.5, "uid": "b"}]
    assert empty_db.run("MATCH (n) RETURN count(n) AS n") == [{"n": 2}]


def test_import_needs_the_database_name_before_the_file_options(
    managed_neo4j: ManagedNeo4j, tmp_path: Path
) -> None:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("uid:ID\nx\n")
    # the server runs: neo4j-admin must refuse (and leave the store alone)
    result = server.run_admin(
        ["database", "import", "full", "neo4j", "--overwrite-destination", f"--nodes={nodes}"],
        managed_neo4j.home,
        check=False,
        on_line=None,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "in use" in result.tail
    # measured from the child itself: a JVM that starts and reads its configuration
    assert result.cpu_seconds > 0.3


def test_load_csv_from_the_import_dir(empty_db: ManagedNeo4j) -> None:
    (empty_db.home.import_dir / "people.csv").write_text(
        'id,name,age\n1,Ann,33\n2,"B ""Bob"" C",41\n'
    )
    empty_db.run_autocommit(
        "LOAD CSV WITH HEADERS FROM 'file:///people.csv' AS row "
        "CALL (row) { CREATE (:Person {id: toInteger(row.id), name: row.name, "
        "age: toInteger(row.age)}) } IN TRANSACTIONS OF 1 ROWS"
    )
    rows = empty_db.run(
        "MATCH (p:Person) RETURN p.id AS id, p.name AS name, p.age AS age ORDER BY id"
    )
    assert rows == [
        {"id": 1, "name": "Ann", "age": 33},
        {"id": 2, "name": 'B "Bob" C', "age": 41},
    ]


def _server_jvms(home: Path) -> list[str]:
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True
    )
    return [
        line
        for line in out.stdout.splitlines()
        if SERVER_MAIN in line and f"--home-dir={home}" in line
    ]


def test_stop_leaves_no_java_process(managed_neo4j: ManagedNeo4j) -> None:
    home = managed_neo4j.home
    pid = server.status(home).pid
    assert pid is not None and _server_jvms(home.root)
    managed_neo4j.stop()
    assert _server_jvms(home.root) == []
    assert server.server_pid(home) is None
    assert not home.pid_file.exists()
    assert server.stop(home).running is False  # stopping again is a no-op
    managed_neo4j.start()
    assert managed_neo4j.run("RETURN 1 AS one") == [{"one": 1}]


def test_jvm_options_are_checked_and_split() -> None:
    assert jvm_options("") == []
    assert jvm_options(" -XX:TieredStopAtLevel=1  '-Dx=a b' ") == [
        "-XX:TieredStopAtLevel=1",
        "-Dx=a b",
    ]
    with pytest.raises(BulkgraphError, match="'Xmx1g' is not a JVM option"):
        jvm_options("Xmx1g")
    with pytest.raises(BulkgraphError, match="BULKGRAPH_JVM_OPTIONS="):
        jvm_options("-Dx='open")
