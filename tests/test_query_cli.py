"""The query commands as a user runs them: subprocesses against the test Neo4j."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import query_estate as estate
from query_estate import QueryGraphs

S1, S2, S3 = estate.S1, estate.S2, estate.S3


@pytest.fixture(scope="module")
def server(neo4j_server: Any, query_graphs: QueryGraphs) -> Any:
    query_graphs.load(neo4j_server)
    return neo4j_server


def bulkgraph(server: Any, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        capture_output=True,
        text=True,
        env=server.env(),
        cwd=cwd,
        timeout=120,
    )


def test_query_piped_defaults_to_json(server: Any, tmp_path: Path) -> None:
    proc = bulkgraph(
        server, "query", "internet-exposed-instances", "--as-of", "2026-01-20", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["query"] == "internet-exposed-instances"
    assert [s["snapshot_id"] for s in doc["snapshots"]] == [S1]
    assert [r["resource"] for r in doc["rows"]] == ["i-web1"]
    assert "1 row(s) in 20260101T000000Z" in proc.stderr


def test_query_csv_with_a_parameter(server: Any, tmp_path: Path) -> None:
    proc = bulkgraph(
        server,
        "query",
        "instance-ingress",
        "--param",
        "instance=i-admin1",
        "-f",
        "csv",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "instance,group_id,group_name,source_type,source,protocol,from_port,to_port,description\n"
        "i-admin1,sg-admin,admin,cidr,0.0.0.0/0,tcp,22,22,\n"
        "i-admin1,sg-app,app,cidr,10.0.0.0/8,tcp,22,22,office vpn\n"
        "i-admin1,sg-app,app,security-group,sg-web,tcp,8080,8080,\n"
    )


def test_query_all_snapshots_as_jsonl(server: Any, tmp_path: Path) -> None:
    proc = bulkgraph(
        server,
        "query",
        "ip-at-time",
        "-p",
        "ip=10.0.1.60",
        "--all",
        "--format",
        "jsonl",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["snapshot_id"], r["instance"]) for r in lines] == [(S1, "i-old1"), (S3, "i-reuse1")]


def test_query_table_format(server: Any, tmp_path: Path) -> None:
    proc = bulkgraph(server, "query", "rds-unencrypted", "--format", "table", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "rds-1" in proc.stdout and "rds-2" not in proc.stdout


def test_query_errors_exit_2_with_the_reason(server: Any, tmp_path: Path) -> None:
    missing = bulkgraph(server, "query", "instance-egress", cwd=tmp_path)
    assert missing.returncode == 2
    assert "missing parameter(s): --param instance=" in missing.stderr
    unknown = bulkgraph(server, "query", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no query named 'nope'" in unknown.stderr
    both = bulkgraph(server, "query", "rds-unencrypted", "--all", "--snapshot", S1, cwd=tmp_path)
    assert both.returncode == 2
    assert "at most one of --snapshot, --as-of and --all" in both.stderr


def test_diff_command(server: Any, tmp_path: Path) -> None:
    proc = bulkgraph(server, "diff", S1, S2, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["old"]["snapshot_id"], doc["new"]["snapshot_id"]) == (S1, S2)
    assert doc["summary"] == {
        "added": 1,
        "internet-ingress-opened": 1,
        "removed": 1,
        "state-changed": 1,
        "tag-changed": 1,
    }
    assert [c["resource"] for c in doc["changes"]] == [
        "i-new1",
        "sg-admin",
        "i-old1",
        "i-app1",
        "i-web1",
    ]


def test_alerts_command_is_idempotent(server: Any, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    first = bulkgraph(server, "alerts", "--out", str(out), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["written"] == 9
    second = bulkgraph(server, "alerts", "--out", str(out), "--snapshot", S3, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "9 finding(s) in 20260301T000000Z: 0 written" in second.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 9


def test_query_and_cypher_print_the_same_value_the_same_way(server: Any, tmp_path: Path) -> None:
    # one output path: a datetime, lists and nulls read the same through either command
    from bulkgraph.query import get_query

    text = get_query("ip-at-time").text
    via_query = ["query", "ip-at-time", "-p", "ip=10.0.1.60", "--snapshot", S1]
    via_cypher = ["cypher", text, "-p", "ip=10.0.1.60", "-p", f"snapshot_id={S1}"]
    for fmt in ("csv", "jsonl"):
        query = bulkgraph(server, *via_query, "-f", fmt, cwd=tmp_path)
        cypher = bulkgraph(server, *via_cypher, "-f", fmt, cwd=tmp_path)
        assert query.returncode == 0, query.stderr
        assert cypher.returncode == 0, cypher.stderr
        assert query.stdout == cypher.stdout
    csv_out = bulkgraph(server, *via_query, "-f", "csv", cwd=tmp_path).stdout
    header, row = csv_out.splitlines()
    cells = dict(zip(header.split(","), next(csv.reader([row])), strict=True))
    assert cells["taken_at"].startswith("2026-01-01T00:00:00")
    assert cells["groups"].startswith('["') and cells["tags"].startswith("[")
