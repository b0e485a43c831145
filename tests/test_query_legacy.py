"""The older aws_neo4j_map queries: unchanged on a one-snapshot database, and the pack's
snapshot-aware versions give the same rows inside one snapshot of a multi-snapshot one.

tests/fixtures/legacy-queries.cypher is a verbatim copy of the users' queries.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import query_estate as estate
from query_estate import QueryGraphs

from bulkgraph.db import rows_to_jsonable
from bulkgraph.query import run_query

LEGACY_FILE = Path(__file__).parent / "fixtures" / "legacy-queries.cypher"

#: pack query for each legacy statement, in file order, and its parameters
PACK_VERSIONS = [
    ("legacy-db-unrestricted-egress", {}),
    ("legacy-rds-unencrypted", {}),
    ("legacy-instance-egress-ranges", {"ip": "10.0.1.30"}),
    ("legacy-instance-egress-ranges-by-group", {"ip": "10.0.1.30"}),
    ("legacy-instance-ingress-ranges", {"ip": "10.0.1.40"}),
    ("legacy-instance-load-balancer", {"ip": "10.0.1.10"}),
]


def legacy_statements() -> list[str]:
    text = re.sub(r"^//[^\n]*\n", "", LEGACY_FILE.read_text(encoding="utf-8"), flags=re.M)
    return [s.strip() for s in text.split(";") if s.strip()]


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    """Order-free comparison: the legacy queries have no ORDER BY."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def by_id(value: dict[str, Any]) -> str:
    return str(value.get("id") or value.get("name") or value.get("DBInstanceIdentifier"))


@pytest.mark.slow  # two bulk imports: one snapshot, then three
def test_legacy_queries_on_one_snapshot_then_pack_versions_on_three(
    neo4j_server: Any, query_graphs: QueryGraphs
) -> None:
    statements = legacy_statements()
    assert len(statements) == len(PACK_VERSIONS)

    query_graphs.load(neo4j_server, [estate.S1])
    legacy = [
        rows_to_jsonable(neo4j_server.run(stmt, **params))
        for stmt, (_, params) in zip(statements, PACK_VERSIONS, strict=True)
    ]

    db_egress, rds, egress, egress_by_group, ingress, lb = legacy
    assert canonical(db_egress) == canonical(
        [
            {"(p.value)": "carol", "i.private_ip": "10.0.1.30", "t.value": "db1"},
            {"(p.value)": "carol", "i.private_ip": "10.0.1.30", "t.value": "database"},
            {"(p.value)": "carol", "i.private_ip": "10.0.1.31", "t.value": "db2"},
        ]
    )
    assert [(r["n"]["DBInstanceIdentifier"], r["n"]["StorageEncrypted"]) for r in rds] == [
        ("rds-1", False)
    ]
    assert rds[0]["n"]["_labels"] == ["RDSInstance"]
    all_out = {"ip.cidr": "0.0.0.0/0", "a.fromPort": None, "a.toPort": None, "a.protocol": "-1"}
    assert egress == [all_out]
    assert egress_by_group == [all_out | {"sg.name": "db"}]
    # i-admin1 is in two groups that both admit the office range on 22 (no DISTINCT)
    office = {"ip.cidr": "10.0.0.0/8", "a.fromPort": 22, "a.toPort": 22, "a.protocol": "tcp"}
    assert ingress == [office, office]
    assert [(by_id(r["n"]), by_id(r["t"]), by_id(r["lb"])) for r in lb] == [
        ("i-web1", "tg-web", "alb-1")
    ]

    query_graphs.load(neo4j_server)
    drv = neo4j_server.driver()
    for (name, params), expected in zip(PACK_VERSIONS, legacy, strict=True):
        result = run_query(drv, name, params, snapshot=estate.S1, database="neo4j")
        assert canonical(result.rows) == canonical(expected), name
    # and in the latest snapshot they see the latest state: sg-admin admits the internet
    latest = run_query(drv, "legacy-instance-ingress-ranges", {"ip": "10.0.1.40"}, database="neo4j")
    assert canonical(latest.rows) == canonical([office, office | {"ip.cidr": "0.0.0.0/0"}])


@pytest.mark.parametrize("name", [name for name, _ in PACK_VERSIONS])
def test_pack_versions_keep_the_legacy_return_clause(name: str) -> None:
    from bulkgraph.query import get_query

    pack_return = get_query(name).text.split("RETURN", 1)[1].strip()
    index = [n for n, _ in PACK_VERSIONS].index(name)
    legacy_return = legacy_statements()[index].split("RETURN", 1)[1].strip()
    assert pack_return == legacy_return
