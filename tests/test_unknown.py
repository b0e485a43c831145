"""What a snapshot does not know is unknown, not empty (issue 17, defects 4 and 8).

Real snapshot folders (written with the collector's SnapshotWriter, tests/unknown_estate.py),
the real transform, and a real Neo4j through both `rebuild` (neo4j-admin) and `load`
(LOAD CSV append).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import ManagedNeo4j
from unknown_estate import ACCOUNT, EU, S1, S2, S3, US, write_snapshots

from bulkgraph.extract.model import AccountInfo, ApiResponse, CollectionError, SnapshotInfo
from bulkgraph.extract.operations import BY_NAME
from bulkgraph.extract.sources import discover
from bulkgraph.load.append import append
from bulkgraph.query import diff_snapshots, write_alerts
from bulkgraph.transform.families import FAMILIES, Graph
from bulkgraph.transform.run import transform
from bulkgraph.transform.unknown import PRODUCES, unknown_calls, unknown_labels

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DENIED = [
    f"{ACCOUNT}/{EU}/ec2:DescribeSecurityGroups",
    f"{ACCOUNT}/{EU}/rds:DescribeDBInstances",
    f"{ACCOUNT}/{US}/ec2:DescribeSecurityGroups",
]
EXTRA_OP = "ec2:DescribeFooBars"


def _info(errors: list[CollectionError], regions: tuple[str, ...] = (US, EU)) -> SnapshotInfo:
    return SnapshotInfo(
        snapshot_id="s",
        taken_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        source="bulkgraph-snapshot/1",
        location="test",
        accounts=(AccountInfo(ACCOUNT, regions),),
        errors=tuple(errors),
    )


def _everything(regions: tuple[str, ...] = (US, EU)) -> set[tuple[str, str, str]]:
    """A data file of every operation read: in each region, or in `global` (IAM)."""
    return {(ACCOUNT, r, op) for op in PRODUCES for r in BY_NAME[op].regions(regions)}


def test_unknown_calls_are_the_errors_and_the_operations_without_a_file() -> None:
    assert unknown_calls(_info([]), _everything()) == []
    denied = CollectionError(ACCOUNT, EU, "rds:DescribeDBInstances", "AccessDenied")
    # an error, with the file absent as the collector leaves it
    held = _everything() - {(ACCOUNT, EU, "rds:DescribeDBInstances")}
    assert unknown_calls(_info([denied]), held) == [f"{ACCOUNT}/{EU}/rds:DescribeDBInstances"]
    # no error but no file either (an archive written before the format had the operation)
    assert unknown_calls(_info([]), held) == [f"{ACCOUNT}/{EU}/rds:DescribeDBInstances"]
    # a whole region and a whole account: one entry each, not one per operation
    region = CollectionError(ACCOUNT, EU, "*", "EndpointConnectionError")
    assert unknown_calls(_info([region]), _everything((US,))) == [f"{ACCOUNT}/{EU}/*"]
    role = CollectionError("222222222222", "*", "sts:AssumeRole", "AccessDenied")
    assert unknown_calls(_info([role]), _everything()) == ["222222222222/*/sts:AssumeRole"]


def test_unknown_labels_say_what_the_graph_lacks() -> None:
    assert unknown_labels([f"{ACCOUNT}/{EU}/rds:DescribeDBInstances"]) == [
        f"RDSInstance/{ACCOUNT}/{EU}",
        f"Tag/{ACCOUNT}/{EU}",
    ]
    whole_region = unknown_labels([f"{ACCOUNT}/{EU}/*"])
    assert f"Region/{ACCOUNT}/{EU}" in whole_region
    assert f"Instance/{ACCOUNT}/{EU}" in whole_region
    assert not any(u.startswith("Account/") for u in whole_region)
    whole_account = unknown_labels(["222222222222/*/sts:AssumeRole"])
    assert "Account/222222222222/*" in whole_account
    assert "RDSInstance/222222222222/*" in whole_account
    # an operation of a later format, unknown in an old archive: its labels everywhere
    assert unknown_labels(["*/*/rds:DescribeDBInstances"]) == ["RDSInstance/*/*", "Tag/*/*"]
    # a failed call this version does not read tells nothing about the graph
    assert unknown_labels([f"{ACCOUNT}/{EU}/ecs:ListClusters"]) == []


def test_every_family_gives_only_the_labels_declared_for_it() -> None:
    """PRODUCES comes from the families' declarations: check it against what the
    families really write from the bundled samples (native and legacy)."""
    assert set(PRODUCES) == set(FAMILIES)
    found = discover([str(SAMPLES)], account_id=ACCOUNT)
    assert found.snapshots and not found.problems
    seen: dict[str, set[str]] = defaultdict(set)
    for snapshot in found.snapshots:
        by_op: dict[str, list[ApiResponse]] = defaultdict(list)
        for response in snapshot.responses():
            by_op[response.operation].append(response)
        for op, responses in by_op.items():
            if op not in FAMILIES:  # test_operations holds every operation to having one
                continue
            g = Graph(snapshot.info.snapshot_id)
            FAMILIES[op](g, responses)
            seen[op] |= {lb for lb, frames in g.nodes.items() if any(f.height for f in frames)}
    for op, labels in seen.items():
        assert labels <= set(PRODUCES[op]), op
    # the samples exercise the main labels: the check is not vacuous
    assert {"Instance", "SecurityGroup", "RDSInstance", "VPC"} <= set().union(*seen.values())


def _add_ignored_input(root: Path) -> None:
    """S1 gets a file its manifest does not list; S3 lists an operation this version does
    not read."""
    (root / S1 / "notes.txt").write_text("left here by hand\n")
    folder = root / S3
    rel = f"{ACCOUNT}/{US}/ec2/DescribeFooBars.json.gz"
    data = b"{}"
    (folder / rel).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].append(
        {
            "path": rel,
            "operation": EXTRA_OP,
            "account_id": ACCOUNT,
            "region": US,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _bulkgraph(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkgraph", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )


def _assert_warned(summary: dict[str, Any], stderr: str) -> None:
    assert summary["warnings"] == {
        S1: ["notes.txt: present but not listed in the manifest, ignored"],
        S3: [
            f"{ACCOUNT}/{US}/ec2/DescribeFooBars.json.gz: unknown operation '{EXTRA_OP}', skipped"
        ],
    }
    assert summary["skipped_operations"] == {S3: [EXTRA_OP]}
    assert summary["unknown"] == {S2: DENIED}
    assert f"{S1}: notes.txt: present but not listed" in stderr
    assert f"'{EXTRA_OP}', skipped" in stderr


def test_transform_reports_ignored_input_and_exits_3(tmp_path: Path) -> None:
    write_snapshots(tmp_path / "snaps")
    clean = _bulkgraph("transform", str(tmp_path / "snaps"), "--out", str(tmp_path / "a"))
    # an unknown call is recorded in the graph, not a failure of the transform
    assert clean.returncode == 0, clean.stderr
    assert f"{S2}: not known: {', '.join(DENIED)}" in clean.stderr

    _add_ignored_input(tmp_path / "snaps")
    as_json = _bulkgraph(
        "transform", str(tmp_path / "snaps"), "--out", str(tmp_path / "b"), "--json"
    )
    assert as_json.returncode == 3, as_json.stderr
    _assert_warned(json.loads(as_json.stdout), as_json.stderr)
    text = _bulkgraph("transform", str(tmp_path / "snaps"), "--out", str(tmp_path / "b"))
    assert text.returncode == 3, text.stderr
    assert "3 reused" in text.stdout  # reused snapshots still report their warnings
    assert f"'{EXTRA_OP}', skipped" in text.stderr


def test_the_transform_records_unknown_on_the_snapshot_node(tmp_path: Path) -> None:
    found = discover([str(p) for p in write_snapshots(tmp_path / "snaps")])
    result = transform(found.snapshots, tmp_path / "csv", workers=1)
    assert result.unknown == {S2: DENIED}
    header = (tmp_path / "csv" / "nodes" / "Snapshot" / "header.csv").read_text().strip()
    assert header.endswith(",unknown:string[],unknown_labels:string[]")
    part = (tmp_path / "csv" / "nodes" / "Snapshot" / f"{S2}.csv").read_text()
    assert f'"{";".join(DENIED)}"' in part
    assert f"RDSInstance/{ACCOUNT}/{EU}" in part
    # a snapshot that knows everything: the properties are absent, not empty lists
    assert (tmp_path / "csv" / "nodes" / "Snapshot" / f"{S1}.csv").read_text().endswith(",,\n")


def _change(kind: str, label: str, resource: str) -> tuple[str, str, str]:
    return (kind, label, resource)


def _changes(db: ManagedNeo4j, old: str, new: str) -> list[tuple[str, str, str]]:
    diff = diff_snapshots(db.driver(), old, new, database="neo4j")
    return [(c["change"], c["label"], c["resource"]) for c in diff.changes]


def _check_graph(db: ManagedNeo4j, tmp_path: Path) -> None:
    """What both load paths must give: diff, alerts and NEXT_VERSION see unknown as unknown."""
    snaps = db.run(
        "MATCH (s:Snapshot) RETURN s.snapshot_id AS id, s.unknown AS unknown, "
        "s.unknown_labels AS labels ORDER BY id"
    )
    assert [(s["id"], s["unknown"]) for s in snaps] == [(S1, None), (S2, DENIED), (S3, None)]
    assert f"RDSInstance/{ACCOUNT}/{EU}" in snaps[1]["labels"]

    # the databases and the group of eu-west-1 were not removed: S2 did not know them;
    # the real removals of us-east-1 are still reported
    assert _changes(db, S1, S2) == [
        _change("removed", "Instance", "i-us-gone"),
        _change("removed", "RDSInstance", "db-us-gone"),
    ]
    # nor added back, nor their internet rule "opened" again
    assert _changes(db, S2, S3) == []
    # across the unknown snapshot, what really changed
    assert _changes(db, S1, S3) == [
        _change("added", "RDSInstance", "db-eu-new"),
        _change("removed", "Instance", "i-us-gone"),
        _change("removed", "RDSInstance", "db-us-gone"),
    ]
    diff = diff_snapshots(db.driver(), S1, S2, database="neo4j")
    assert diff.to_json()["unknown"] == {S2: DENIED}

    # NEXT_VERSION links the snapshots that hold a resource: S1 -> S3, unchanged
    chains = db.run(
        "MATCH (a)-[r:NEXT_VERSION]->(b) WHERE a.resource_key IN $keys "
        "RETURN a.resource_key AS key, a.snapshot_id AS a, b.snapshot_id AS b, "
        "r.changed AS changed ORDER BY key",
        keys=[f"RDSInstance|{ACCOUNT}|{EU}|db-eu", "SecurityGroup|sg-eu", "SecurityGroup|sg-us"],
    )
    assert chains == [
        {"key": f"RDSInstance|{ACCOUNT}|{EU}|db-eu", "a": S1, "b": S3, "changed": False},
        {"key": "SecurityGroup|sg-eu", "a": S1, "b": S3, "changed": False},
        # i-us-gone left it between S1 and S3: a real change
        {"key": "SecurityGroup|sg-us", "a": S1, "b": S3, "changed": True},
    ]

    # alerts: nothing fires in S2 for what it did not know, and the summary says so; db-us
    # is known to be public, but whether its groups admit the internet is not known there
    out = tmp_path / "alerts.jsonl"
    summary = write_alerts(db.driver(), out, snapshot=S2, database="neo4j")
    assert (summary.by_rule, summary.unknown) == ({"BG-RDS-002": 1}, {S2: DENIED})
    later = write_alerts(db.driver(), out, snapshot=S3, database="neo4j")
    found = [json.loads(line) for line in out.read_text().splitlines()]
    assert later.unknown == {}
    assert [(f["snapshot_id"], f["rule_id"], f["resource"]) for f in found] == [
        (S2, "BG-RDS-002", "db-us"),
        (S3, "BG-EC2-001", "i-eu"),
        # open to the internet by its group, with no interface S3 knows of: not reachable
        (S3, "BG-EC2-003", "i-eu"),
        (S3, "BG-RDS-001", "db-eu"),
        (S3, "BG-RDS-002", "db-us"),
    ]
    assert [f["evidence"]["internet_ingress"] for f in found if f["rule_id"] == "BG-RDS-002"] == [
        None,
        False,
    ]
    out.unlink()


@pytest.mark.slow
def test_rebuild_and_load_treat_unknown_as_unknown(empty_db: ManagedNeo4j, tmp_path: Path) -> None:
    write_snapshots(tmp_path / "snaps")
    _add_ignored_input(tmp_path / "snaps")
    work = tmp_path / "work"
    proc = _bulkgraph(
        "rebuild", str(tmp_path / "snaps"), "--workdir", str(work), "--json", env=empty_db.env()
    )
    # rebuilt, with the ignored input named: exit 3
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["snapshots"] == [S1, S2, S3] and summary["exit_code"] == 3
    _assert_warned(summary, proc.stderr)
    _check_graph(empty_db, tmp_path)

    # the diff command names what the snapshots did not know
    cli = _bulkgraph("diff", S1, S2, "--format", "json", env=empty_db.env(), cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["unknown"] == {S2: DENIED}
    assert f"{S2} does not know {', '.join(DENIED)}" in cli.stderr

    # the same CSVs appended with LOAD CSV give the same answers
    empty_db.clear()
    loaded = append(work / "csv")
    assert loaded.loaded == [S1, S2, S3]
    _check_graph(empty_db, tmp_path)
