"""bulkgraph.db against the real server: connection resolution, queries, JSON values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ManagedNeo4j
from pydantic import SecretStr

from bulkgraph import db
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.server import install
from bulkgraph.server.config import bolt_port
from bulkgraph.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_connection_to_your_own_neo4j_comes_from_the_settings() -> None:
    conn = db.resolve_connection(
        _settings(
            neo4j_uri="neo4j://db.example:7687",
            neo4j_username="reader",
            neo4j_password=SecretStr("s3cret"),
            neo4j_database="estate",
        )
    )
    assert (conn.uri, conn.username, conn.password, conn.database) == (
        "neo4j://db.example:7687",
        "reader",
        "s3cret",
        "estate",
    )
    assert conn.home is None
    assert "s3cret" not in repr(conn)


@pytest.mark.neo4j  # installs a Neo4j home (Java, the cached jars)
def test_connection_to_the_managed_instance_reads_its_home(tmp_path: Path) -> None:
    settings = _settings(bulkgraph_heap="256m", bulkgraph_pagecache="64m")
    home = install(tmp_path / "h", settings=settings)
    conn = db.resolve_connection(_settings(neo4j_home=home.root))
    assert conn.uri == f"bolt://127.0.0.1:{bolt_port(home.conf_file)}"
    assert conn.password == home.read_password()
    assert conn.home == home


def test_no_managed_instance_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BulkgraphError, match="bulkgraph neo4j install"):
        db.resolve_connection(_settings(neo4j_home=tmp_path / "nothing"))


def test_run_query_uses_the_configured_server(managed_neo4j: ManagedNeo4j) -> None:
    assert db.run_query("RETURN $a + 1 AS b", {"a": 41}) == [{"b": 42}]
    with db.driver() as drv:
        assert db.run_query("RETURN 1 AS one", driver=drv, database=db.database()) == [{"one": 1}]


def _connect(conn: db.Connection) -> None:
    with db.open_driver(conn):
        pass


def test_unreachable_server_is_a_clear_error() -> None:
    conn = db.Connection(uri="bolt://127.0.0.1:9", username="neo4j", password="x", database="neo4j")
    with pytest.raises(BulkgraphError, match=r"cannot reach Neo4j at bolt://127\.0\.0\.1:9\."):
        _connect(conn)


def test_wrong_password_is_a_clear_error(managed_neo4j: ManagedNeo4j) -> None:
    conn = db.Connection(uri=managed_neo4j.uri, username="neo4j", password="nope", database="neo4j")
    with pytest.raises(BulkgraphError, match="refused user 'neo4j'"):
        _connect(conn)


def test_cypher_errors_become_query_errors(managed_neo4j: ManagedNeo4j) -> None:
    with pytest.raises(db.QueryError) as info:
        db.run_query("RETRN 1")
    assert info.value.code == "Neo.ClientError.Statement.SyntaxError"
    assert info.value.exit_code == ExitCode.USAGE


def test_call_in_transactions_needs_auto_commit(empty_db: ManagedNeo4j) -> None:
    batched = "UNWIND range(1, 25) AS i CALL (i) { CREATE (:N {i: i}) } IN TRANSACTIONS OF 10 ROWS"
    with pytest.raises(db.QueryError):
        db.run_query(batched)
    assert db.run_autocommit(batched) == []
    assert db.run_query("MATCH (n:N) RETURN count(n) AS c, sum(n.i) AS s") == [{"c": 25, "s": 325}]


def test_neo4j_values_as_json(empty_db: ManagedNeo4j) -> None:
    rows = db.run_query(
        """
        CREATE (a:Vpc:Resource {id: 'vpc-1', cidr: '10.0.0.0/16', tags: ['a', 'b']})
               -[r:CONTAINS {since: datetime('2024-05-01T12:00:00Z')}]->
               (b:Subnet {id: 'subnet-1'})
        WITH a, r, b
        MATCH p = (a)-[:CONTAINS]->(b)
        RETURN a, r, p,
               datetime('2024-05-01T12:30:00.5+02:00') AS dt,
               date('2024-05-01') AS d,
               localdatetime('2024-05-01T10:00:00') AS ldt,
               duration('P1DT2H') AS dur,
               point({x: 1.5, y: 2}) AS pt,
               {n: 1, l: [true, null]} AS m
        """
    )
    data = db.rows_to_jsonable(rows)
    assert data == [
        {
            "a": {"_labels": ["Resource", "Vpc"], "id": "vpc-1", "cidr": "10.0.0.0/16",
                  "tags": ["a", "b"]},
            "r": {"_type": "CONTAINS", "since": "2024-05-01T12:00:00.000000000+00:00"},
            "p": {
                "nodes": [
                    {"_labels": ["Resource", "Vpc"], "id": "vpc-1", "cidr": "10.0.0.0/16",
                     "tags": ["a", "b"]},
                    {"_labels": ["Subnet"], "id": "subnet-1"},
                ],
                "relationships": [
                    {"_type": "CONTAINS", "since": "2024-05-01T12:00:00.000000000+00:00"}
                ],
            },
            "dt": "2024-05-01T12:30:00.500000000+02:00",
            "d": "2024-05-01",
            "ldt": "2024-05-01T10:00:00.000000000",
            "dur": "P1DT2H",
            "pt": {"srid": 7203, "x": 1.5, "y": 2.0},
            "m": {"n": 1, "l": [True, None]},
        }
    ]  # fmt: skip
    json.dumps(data)  # really JSON-ready


def test_graph_counts_reads_every_label_and_type_in_one_go(empty_db: ManagedNeo4j) -> None:
    from bulkgraph.load.counts import graph_counts

    # labels and types other tests left behind are listed, at 0
    empty = graph_counts(empty_db.driver(), "neo4j")
    assert (empty.nodes, empty.relationships) == (0, 0)
    assert set(empty.labels.values()) <= {0} and set(empty.types.values()) <= {0}
    empty_db.run(
        "CREATE (a:Instance:`odd``label`)-[:BELONGS_TO]->(:SecurityGroup), "
        "(a)-[:`it's`]->(:`it's`), (:Instance)-[:BELONGS_TO]->(:SecurityGroup)"
    )
    # a label and a type whose last node and relationship are gone, as in a database a
    # test cleared: the count store keeps their tokens, at 0
    empty_db.run("CREATE (:Gone)-[:GONE]->(:Gone)")
    empty_db.run("MATCH (n:Gone) DETACH DELETE n")
    empty_db.run("CREATE INDEX gone_x IF NOT EXISTS FOR (n:Gone) ON (n.x)")
    found = graph_counts(empty_db.driver(), "neo4j")
    assert {k: v for k, v in found.labels.items() if v} == {
        "Instance": 2,
        "odd`label": 1,
        "SecurityGroup": 2,
        "it's": 1,
    }
    assert found.labels.get("Gone", 0) == 0 and found.types.get("GONE", 0) == 0
    assert {k: v for k, v in found.types.items() if v} == {"BELONGS_TO": 2, "it's": 1}
    assert (found.nodes, found.relationships) == (6, 3)
