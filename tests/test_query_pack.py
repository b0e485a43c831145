"""The query pack as files: headers, parameters, packaging, snapshot choice (no Neo4j)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bulkgraph.errors import BulkgraphError, ExitCode, InputError
from bulkgraph.query import SnapshotRef, load_pack, pack_dir, parse_time, pick_pair, pick_snapshots
from bulkgraph.query.pack import Scope, get_query, parse_query

REPO = Path(__file__).resolve().parents[1]

EXPECTED_QUERIES = {
    "db-unrestricted-egress",
    "exposed-not-reachable",
    "group-reachability",
    "instance-egress",
    "instance-privileges",
    "instance-ingress",
    "instance-load-balancers",
    "instance-peered-vpcs",
    "internet-exposed-instances",
    "internet-reachable",
    "ip-at-time",
    "ip-owner",
    "lambda-in-vpc",
    "legacy-db-unrestricted-egress",
    "legacy-instance-egress-ranges",
    "legacy-instance-egress-ranges-by-group",
    "legacy-instance-ingress-ranges",
    "legacy-instance-load-balancer",
    "legacy-rds-unencrypted",
    "nacl-deny-shadowed",
    "rds-publicly-accessible",
    "rds-unencrypted",
    "rds-without-iam-auth",
    "snapshot-diff",
}


def test_pack_holds_every_query_with_its_header() -> None:
    pack = load_pack()
    assert set(pack) == EXPECTED_QUERIES
    assert list(pack) == sorted(pack)
    assert {q.rule_id: q.severity for q in pack.values() if q.is_alert} == {
        "BG-EC2-001": "high",
        "BG-EC2-002": "high",
        "BG-EC2-003": "medium",
        "BG-DB-001": "medium",
        "BG-RDS-001": "high",
        "BG-RDS-002": "high",
        "BG-RDS-003": "low",
    }
    assert pack["snapshot-diff"].scope is Scope.pair
    assert all(q.scope is Scope.snapshot for n, q in pack.items() if n != "snapshot-diff")
    assert [p.name for p in pack["instance-ingress"].params] == ["instance"]
    assert [p.name for p in pack["ip-at-time"].params] == ["ip"]
    assert [p.name for p in pack["ip-owner"].params] == ["ip"]
    for name in ("internet-reachable", "exposed-not-reachable"):
        assert [(p.name, p.default) for p in pack[name].params] == [
            ("port", None),
            ("protocol", None),
        ]
    assert {q.rule_id: q.kind for q in pack.values() if q.rule_id and q.rule_id < "BG-EC2-9"} == {
        "BG-DB-001": "db_unrestricted_egress",  # no `kind` header: the name
        "BG-EC2-001": "internet_exposed",
        "BG-EC2-002": "internet_reachable",
        "BG-EC2-003": "exposed_in_config",
    }
    assert all(q.description and not q.text.endswith(";") for q in pack.values())


def test_every_snapshot_query_uses_its_snapshot_parameter() -> None:
    for query in load_pack().values():
        for name in query.scope_params:
            assert f"${name}" in query.text, query.name


def test_repository_cypher_queries_is_the_package_folder() -> None:
    """One source of truth: cypher/ at the top of the repository links into the package."""
    top = REPO / "cypher" / "queries"
    assert top.resolve() == (REPO / "bulkgraph" / "cypher" / "queries").resolve()
    assert Path(str(pack_dir())).resolve() == top.resolve()
    assert len(list(top.glob("*.cypher"))) == len(EXPECTED_QUERIES)


def test_pack_is_package_data() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"cypher/queries/*.cypher"' in pyproject
    assert '"cypher/queries/versions/*.cypher"' in pyproject  # the versions-layout texts


def test_bind_fills_defaults_and_names_missing_and_unknown_parameters() -> None:
    query = parse_query(
        "// name: t\n// description: d\n// param ip: the address\n// param limit=5: how many\n"
        "MATCH (i:Instance {snapshot_id: $snapshot_id, private_ip: $ip}) RETURN i LIMIT $limit",
        "t.cypher",
    )
    assert query.bind({"ip": "10.0.0.1"}) == {"ip": "10.0.0.1", "limit": 5}
    with pytest.raises(BulkgraphError, match=r"missing parameter\(s\): --param ip=") as missing:
        query.bind({})
    assert missing.value.exit_code == ExitCode.USAGE
    with pytest.raises(BulkgraphError, match=r"unknown parameter\(s\) port; it accepts: ip, limit"):
        query.bind({"ip": "x", "port": 1})
    with pytest.raises(BulkgraphError, match="--snapshot"):
        query.bind({"ip": "x", "snapshot_id": "s1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("// description: d\nRETURN 1", "no `// name: ...` line"),
        ("// name: t\nRETURN 1", "no `// description: ...` line"),
        ("// name: t\n// description: d\n// scope: week\nRETURN 1", "scope 'week'"),
        ("// name: t\n// description: d\n// severity: high\nRETURN $snapshot_id", "both"),
        (
            "// name: t\n// description: d\n// severity: bad\n// rule_id: X\nRETURN $snapshot_id",
            "severity 'bad'",
        ),
        ("// name: t\n// description: d\nRETURN $snapshot_id, $ip", "undeclared parameter(s) ip"),
        ("// name: t\n// description: d\n// param ip: x\nRETURN $snapshot_id", "never uses: ip"),
        ("// name: t\n// description: d\nRETURN 1", "never uses: snapshot_id"),
        ("// name: T X\n// description: d\nRETURN $snapshot_id", "lowercase"),
        (
            "// name: t\n// description: d\n// severity: low\n// rule_id: X\n// param p: x\n"
            "RETURN $snapshot_id, $p",
            "an alert runs without parameters: give each one a default",
        ),
        ("// name: t\n// description: d\n// kind: k\nRETURN $snapshot_id", "`kind` is for alerts"),
    ],
)
def test_bad_headers_are_reported_with_the_file(text: str, message: str) -> None:
    with pytest.raises(InputError, match=r"^bad\.cypher: .*" + __import__("re").escape(message)):
        parse_query(text, "bad.cypher")


def test_a_quote_inside_a_comment_hides_no_parameter() -> None:
    """`//` comments and strings are read in one pass: the apostrophe of "the VPC's" in a
    comment starts no string that would hide the `$port` after it."""
    query = parse_query(
        "// name: t\n// description: d\n// param port: p\n"
        "MATCH (v:VPC {snapshot_id: $snapshot_id})\n// the VPC's main table\n"
        "WHERE v.x = $port AND v.y = 'it''s // no comment'\nRETURN v",
        "t.cypher",
    )
    assert [p.name for p in query.params] == ["port"]
    with pytest.raises(InputError, match=r"undeclared parameter\(s\) q"):
        parse_query(
            "// name: t\n// description: d\n// it's\nRETURN $snapshot_id, $q // '\n",
            "t.cypher",
        )


def _core(name: str) -> str:
    text = (REPO / "bulkgraph" / "cypher" / "queries" / f"{name}.cypher").read_text("utf-8")
    start = text.index("// -- reachability core")
    end = text.index("// -- end of the reachability core")
    return text[start:end]


def test_reachability_core_is_the_same_in_both_queries() -> None:
    """internet-reachable and exposed-not-reachable judge reachability with one text, so that
    a resource is always exactly one of the two findings."""
    assert _core("internet-reachable") == _core("exposed-not-reachable")
    assert "CALL (want_proto, owner, ni, att)" in _core("internet-reachable")


def test_snapshot_diff_covers_every_versioned_label_of_the_schema() -> None:
    import re

    from bulkgraph.transform.schema import NODES

    query = get_query("snapshot-diff")
    assert query.versions_text is not None
    for text in (query.text, query.versions_text):  # and its versions-layout text
        listed = re.search(r"^WITH \[(.*)\] AS labels$", text, re.M)
        assert listed, "snapshot-diff lists its labels on one `WITH [...] AS labels` line"
        labels = [x.strip().strip("'") for x in listed[1].split(",")]
        assert labels == [n.label for n in NODES if n.versioned]


def test_unknown_query_name_suggests_close_ones() -> None:
    with pytest.raises(
        BulkgraphError, match=r"no query named 'rds'.*did you mean .*rds-unencrypted"
    ):
        get_query("rds")


SNAPS = [
    SnapshotRef("s1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    SnapshotRef("s2", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
    SnapshotRef("s3", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
]


def ids(refs: list[SnapshotRef] | tuple[SnapshotRef, ...]) -> list[str]:
    return [r.snapshot_id for r in refs]


def test_pick_snapshots() -> None:
    assert ids(pick_snapshots(SNAPS)) == ["s3"]
    assert ids(pick_snapshots(SNAPS, snapshot="s1")) == ["s1"]
    assert ids(pick_snapshots(SNAPS, snapshot="latest")) == ["s3"]
    assert ids(pick_snapshots(SNAPS, all_snapshots=True)) == ["s1", "s2", "s3"]
    assert ids(pick_snapshots(SNAPS, as_of="2026-02-01T00:00:00Z")) == ["s2"]
    assert ids(pick_snapshots(SNAPS, as_of="2026-02-28")) == ["s2"]
    assert ids(pick_snapshots(SNAPS, as_of="20260301T000000Z")) == ["s3"]
    assert ids(pick_snapshots(SNAPS, as_of="2026-01-31T23:00:00-02:00")) == ["s2"]
    with pytest.raises(BulkgraphError, match="no snapshot was taken at or before 2025"):
        pick_snapshots(SNAPS, as_of="2025-12-31")
    with pytest.raises(BulkgraphError, match="no snapshot 's9'"):
        pick_snapshots(SNAPS, snapshot="s9")
    with pytest.raises(BulkgraphError, match="at most one of"):
        pick_snapshots(SNAPS, snapshot="s1", all_snapshots=True)
    with pytest.raises(BulkgraphError, match="holds no snapshot"):
        pick_snapshots([])


def test_pick_pair() -> None:
    assert ids(pick_pair(SNAPS)) == ["s2", "s3"]
    assert ids(pick_pair(SNAPS, "s1")) == ["s1", "s3"]
    assert ids(pick_pair(SNAPS, None, "s2")) == ["s1", "s2"]
    assert ids(pick_pair(SNAPS, "s1", "s2")) == ["s1", "s2"]
    with pytest.raises(BulkgraphError, match=r"s3 .* is not older than s1"):
        pick_pair(SNAPS, "s3", "s1")
    with pytest.raises(BulkgraphError, match="no snapshot before s1"):
        pick_pair(SNAPS, None, "s1")


def test_parse_time_rejects_nonsense() -> None:
    assert parse_time("2026-02-01") == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    with pytest.raises(BulkgraphError, match="--as-of 'yesterday': not an ISO 8601 time"):
        parse_time("yesterday")


def test_cli_lists_the_pack_as_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bulkgraph", "queries", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    listed = json.loads(proc.stdout)
    assert {q["name"] for q in listed} == EXPECTED_QUERIES
    ingress = next(q for q in listed if q["name"] == "instance-ingress")
    assert ingress["snapshot_scoped"] is True
    assert ingress["params"] == [
        {
            "name": "instance",
            "description": "the instance's private IP, id (i-...), private DNS name or short "
            "hostname (ip-10-0-0-5)",
            "required": True,
        }
    ]
    rds = next(q for q in listed if q["name"] == "rds-unencrypted")
    assert (rds["rule_id"], rds["severity"]) == ("BG-RDS-001", "high")
