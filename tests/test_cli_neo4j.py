"""The neo4j and cypher commands, run as a user would: subprocesses with the test env."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import ManagedNeo4j


def _cli(server: ManagedNeo4j, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _status(server: ManagedNeo4j) -> dict[str, Any]:
    return json.loads(_cli(server, "neo4j", "status", "--json").stdout)


def test_install_start_status_stop(managed_neo4j: ManagedNeo4j) -> None:
    home = str(managed_neo4j.home.root)
    running = _status(managed_neo4j)
    assert running["running"] is True
    assert running["home"] == home
    assert running["version"] == "5.26.30"
    assert running["bolt_uri"] == managed_neo4j.uri
    assert isinstance(running["pid"], int)

    managed_neo4j.close_driver()
    stopped = json.loads(_cli(managed_neo4j, "neo4j", "stop", "--json").stdout)
    assert stopped["running"] is False and stopped["pid"] is None

    installed = _cli(managed_neo4j, "neo4j", "install", "--json")  # idempotent, nothing fetched
    assert json.loads(installed.stdout)["home"] == home
    assert managed_neo4j.password not in installed.stdout + installed.stderr

    started = json.loads(_cli(managed_neo4j, "neo4j", "start", "--json").stdout)
    assert started["running"] is True and started["pid"] != running["pid"]
    assert _status(managed_neo4j)["pid"] == started["pid"]


def test_install_while_running_is_a_no_op(managed_neo4j: ManagedNeo4j) -> None:
    pid = _status(managed_neo4j)["pid"]
    info = json.loads(_cli(managed_neo4j, "neo4j", "install", "--json").stdout)
    assert info["running"] is True and info["pid"] == pid


def test_cypher_json_with_params(empty_db: ManagedNeo4j) -> None:
    _cli(empty_db, "cypher", "CREATE (:T {name: $name, n: $n})", "-p", "name=x y", "-p", "n=3")
    proc = _cli(
        empty_db, "cypher", "MATCH (t:T) RETURN t, t.n + 1 AS m, date('2024-01-02') AS d",
        "--format", "json",
    )  # fmt: skip
    assert json.loads(proc.stdout) == [
        {"t": {"_labels": ["T"], "name": "x y", "n": 3}, "m": 4, "d": "2024-01-02"}
    ]


def test_cypher_jsonl_and_csv(managed_neo4j: ManagedNeo4j) -> None:
    query = "UNWIND [1, 2] AS i RETURN i, 'v' + i AS s"
    jsonl = _cli(managed_neo4j, "cypher", query, "--format", "jsonl").stdout
    assert [json.loads(line) for line in jsonl.splitlines()] == [
        {"i": 1, "s": "v1"},
        {"i": 2, "s": "v2"},
    ]
    assert _cli(managed_neo4j, "cypher", query, "--format", "csv").stdout == "i,s\n1,v1\n2,v2\n"


def test_cypher_syntax_error_exits_2(managed_neo4j: ManagedNeo4j) -> None:
    proc = _cli(managed_neo4j, "cypher", "RETRN 1", check=False)
    assert proc.returncode == 2
    assert "SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_admin_passes_arguments_and_exit_code(managed_neo4j: ManagedNeo4j) -> None:
    version = _cli(managed_neo4j, "neo4j", "admin", "--", "--version")
    assert "5.26.30" in version.stdout
    in_use = _cli(managed_neo4j, "neo4j", "admin", "database", "info", "neo4j", check=False)
    assert in_use.returncode == 1
    assert "in use" in in_use.stdout
