"""The pack on a graph built by the real pipeline: the bundled samples/ (three native
snapshots and one legacy aws_neo4j_map archive) -> transform -> neo4j-admin bulk import.

Expected rows are those of the committed samples, named as scripts/make-samples names them:
ids and addresses are looked up by those names in the samples' own data (`ID`), so
regenerating samples/ keeps these tests unless what the estate holds changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
from graph_cache import BuiltGraphs, graph_key

from bulkgraph.extract.sources import discover
from bulkgraph.layout import Layout
from bulkgraph.pipeline.rebuild import rebuild
from bulkgraph.query import diff_snapshots, run_query, write_alerts
from bulkgraph.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ACCT = "123456789012"
LEGACY, D25, D26, D27 = (
    "archive_20261124_020000",
    "20261125T020000Z",
    "20261126T020000Z",
    "20261127T020000Z",
)

pytestmark = pytest.mark.slow


def _sample_ids() -> dict[str, str]:
    """From the newest native sample: instance Name tag -> id, `ip:<Name tag>` -> private
    IP, `public:<Name tag>` -> public IP, `sg:<region>:<group name>`, `vpc:<region>` (the
    estate's VPC, 10.x/16) and `pl:<region>` (the prefix list sg web admits ssh from) -> id."""
    found = discover([str(SAMPLES / f"{D27}.tar.gz")])
    (snapshot,) = found.snapshots
    ids: dict[str, str] = {}
    for response in snapshot.responses():
        region = response.region
        for page in response.pages():
            for reservation in page.get("Reservations", []):
                for i in reservation["Instances"]:
                    name = next(t["Value"] for t in i["Tags"] if t["Key"] == "Name")
                    ids[name] = i["InstanceId"]
                    if i.get("PrivateIpAddress"):
                        ids[f"ip:{name}"] = i["PrivateIpAddress"]
                    if i.get("PublicIpAddress"):  # web-3 on day 3: the Elastic IP that moved
                        ids[f"public:{name}"] = i["PublicIpAddress"]
            for g in page.get("SecurityGroups", []):
                ids.setdefault(f"sg:{region}:{g['GroupName']}", g["GroupId"])
                for rule in g["IpPermissions"]:
                    for pl in rule.get("PrefixListIds", []):
                        ids[f"pl:{region}"] = pl["PrefixListId"]
            for v in page.get("Vpcs", []):
                if not v.get("IsDefault"):
                    ids[f"vpc:{region}"] = v["VpcId"]
    return ids


ID = _sample_ids()


def _interface_of(snapshot_id: str, instance_id: str) -> tuple[str, str]:
    """The id and private IP of the interface attached to `instance_id` in a sample."""
    (snapshot,) = discover([str(SAMPLES / f"{snapshot_id}.tar.gz")]).snapshots
    for response in snapshot.responses():
        for page in response.pages():
            for eni in page.get("NetworkInterfaces", []):
                if (eni.get("Attachment") or {}).get("InstanceId") == instance_id:
                    return eni["NetworkInterfaceId"], eni["PrivateIpAddress"]
    raise AssertionError(f"no interface of {instance_id} in {snapshot_id}")


@pytest.fixture(scope="module")
def drv(neo4j_server: Any, built_graphs: BuiltGraphs) -> Iterator[neo4j.Driver]:
    settings = Settings(_env_file=None).model_copy(  # type: ignore[call-arg]
        update={
            "bulkgraph_heap": "512m",
            "bulkgraph_pagecache": "256m",
            "bulkgraph_import_memory": "512m",
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )
    sources = [str(p) for p in sorted(SAMPLES.glob("*.tar.gz"))]
    sources.append(str(SAMPLES / LEGACY))

    def build() -> None:
        summary = rebuild(sources, home=neo4j_server.home, workers=1, settings=settings)
        assert summary.snapshots == [LEGACY, D25, D26, D27]
        assert summary.layout == Layout.snapshots.value

    # the legacy archive without --account-id: its account is "unknown"
    built_graphs.ensure(graph_key(sources, Layout.snapshots, None), build)
    yield neo4j_server.driver()


def rows(drv: neo4j.Driver, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    params = kwargs.pop("params", {})
    return run_query(drv, name, params, database="neo4j", **kwargs).rows


def exposed(
    region: str, iid: str, ip: str, state: str, ports: list[str], sgs: list[str], lb: str | None
) -> dict[str, Any]:
    return {
        "account_id": ACCT,
        "region": region,
        "resource": iid,
        "private_ip": ip,
        "public_ip": None,
        "state": state,
        "ports": ports,
        "groups": sorted(sgs),
        "behind_load_balancer": lb is not None,
        "load_balancers": [lb] if lb else [],
    }


def test_internet_exposed_instances(drv: neo4j.Driver) -> None:
    def row(name: str, region: str, state: str, port: str, group: str, lb: bool) -> dict[str, Any]:
        ports, groups = [port], [ID[f"sg:{region}:{group}"]]
        if name.startswith("web-1-"):  # graph model 1.1: its second interface's group counts
            ports, groups = ["tcp/22", *ports], [*groups, ID[f"sg:{region}:admin"]]
        found = exposed(
            region,
            ID[name],
            ID[f"ip:{name}"],
            state,
            ports,
            groups,
            f"web-{region}" if lb else None,
        )
        return {**found, "public_ip": ID.get(f"public:{name}")}

    want = [
        row("web-1-eu-west-1", "eu-west-1", "running", "tcp/443", "web", True),
        row("web-2-eu-west-1", "eu-west-1", "running", "tcp/443", "web", True),
        row("idle-eu-west-1", "eu-west-1", "stopped", "tcp/443", "web", False),
        row("db-1-us-east-1", "us-east-1", "running", "tcp/3306", "db", False),
        row("web-3-us-east-1", "us-east-1", "running", "tcp/443", "web", False),
        row("web-1-us-east-1", "us-east-1", "running", "tcp/443", "web", True),
        row("idle-us-east-1", "us-east-1", "stopped", "tcp/443", "web", False),
    ]
    # the query's order: account, region, instance id
    want.sort(key=lambda r: (r["account_id"], r["region"], r["resource"]))
    assert rows(drv, "internet-exposed-instances") == want


def test_rds_and_database_queries(drv: neo4j.Driver) -> None:
    assert [r["resource"] for r in rows(drv, "rds-unencrypted")] == [
        "orders-db-eu-west-1",
        "orders-db-us-east-1",
    ]
    assert [r["resource"] for r in rows(drv, "rds-publicly-accessible")] == [
        "reports-db-eu-west-1",
        "reports-db-us-east-1",
    ]
    db = rows(drv, "db-unrestricted-egress")
    want = [
        ("Instance", ID["db-1-eu-west-1"], "bob"),
        ("RDSInstance", "orders-db-eu-west-1", None),
        ("RDSInstance", "reports-db-eu-west-1", None),
        ("Instance", ID["db-1-us-east-1"], "bob"),
        ("RDSInstance", "orders-db-us-east-1", None),
        ("RDSInstance", "reports-db-us-east-1", None),
    ]
    assert [(r["kind"], r["resource"], r["owner"]) for r in db] == want


def test_one_instance(drv: neo4j.Driver) -> None:
    web1 = ID["web-1-us-east-1"]
    ip = ID["ip:web-1-us-east-1"]
    ingress = rows(drv, "instance-ingress", params={"instance": ip})
    assert [(r["group_name"], r["source_type"], r["source"], r["from_port"]) for r in ingress] == [
        ("web", "cidr", "0.0.0.0/0", 443),
        ("web", "cidr", "::/0", 443),
        ("web", "prefix-list", ID["pl:us-east-1"], 22),
        # graph model 1.1: the group of its second interface
        ("admin", "cidr", "0.0.0.0/0", 22),
    ]
    lbs = rows(drv, "instance-load-balancers", params={"instance": web1})
    assert [(r["load_balancer"], r["scheme"], r["via"]) for r in lbs] == [
        ("web-us-east-1", "internet-facing", [])
    ]
    hostname = "ip-" + ip.replace(".", "-")
    peers = rows(drv, "instance-peered-vpcs", params={"instance": hostname})
    assert [(r["peer_vpc"], r["peer_cidr"], r["peer_region"], r["role"]) for r in peers] == [
        (ID["vpc:eu-west-1"], "10.11.0.0/16", "eu-west-1", "requester")
    ]
    reach = rows(drv, "group-reachability", params={"group": ID["sg:us-east-1:web"]})
    assert [(r["to_group_name"], r["hops"], r["last_hop_ports"]) for r in reach] == [
        ("db", 1, ["tcp/5432"])
    ]


def test_time_travel_and_diff(drv: neo4j.Driver) -> None:
    web1 = ID["web-1-us-east-1"]
    history = rows(drv, "ip-at-time", params={"ip": ID["ip:web-1-us-east-1"]}, all_snapshots=True)
    assert [(r["snapshot_id"], r["instance"], r["account_id"]) for r in history] == [
        (LEGACY, web1, "unknown"),
        (D25, web1, ACCT),
        (D26, web1, ACCT),
        (D27, web1, ACCT),
    ]
    result = diff_snapshots(drv, database="neo4j")
    assert (result.old.snapshot_id, result.new.snapshot_id) == (D26, D27)
    # web-2 terminated: its interface and its address went with it (graph model 1.1)
    eni, address = _interface_of(D26, ID["web-2-us-east-1"])
    assert result.changes == [
        {
            "change": "removed",
            "label": "IPAddress",
            "resource": None,
            "resource_key": f"IPAddress|{address}",
            "field": None,
            "before": None,
            "after": None,
        },
        {
            "change": "removed",
            "label": "NetworkInterface",
            "resource": eni,
            "resource_key": f"NetworkInterface|{eni}",
            "field": None,
            "before": None,
            "after": None,
        },
        {
            "change": "state-changed",
            "label": "Instance",
            "resource": ID["web-2-us-east-1"],
            "resource_key": f"Instance|{ID['web-2-us-east-1']}",
            "field": "state",
            "before": "running",
            "after": "terminated",
        },
        {
            "change": "tag-changed",
            "label": "Instance",
            "resource": web1,
            "resource_key": f"Instance|{web1}",
            "field": "owner",
            "before": "alice",
            "after": "dave",
        },
    ]


def test_alerts(drv: neo4j.Driver, tmp_path: Path) -> None:
    summary = write_alerts(drv, tmp_path / "a.jsonl", database="neo4j")
    assert summary.by_rule == {
        "BG-DB-001": 6,
        "BG-EC2-001": 7,
        # graph model 1.1: of BG-EC2-001's 7 instances 3 are reachable and 4 are not;
        # BG-EC2-002 also holds the two internet-facing load balancers
        "BG-EC2-002": 5,
        "BG-EC2-003": 4,
        "BG-RDS-001": 2,
        "BG-RDS-002": 2,
        "BG-RDS-003": 4,
    }
