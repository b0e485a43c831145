"""Write a native `bulkgraph-snapshot/1` folder as the `aws_neo4j_map` archive of the same
estate (test helper).

The record shapes are those of the legacy section of snapshot-format.md: what the old
collector would have written had it seen the same API answers. It reads the snapshot's raw
data files directly (plain JSON, no bulkgraph code), so that a legacy-vs-native comparison
does not depend on the reader under test.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LEGACY_FILES = (
    "instance_data.json",
    "security_group_data.json",
    "rds_data.json",
    "vpc_peering_data.json",
    "alb_data.json",
)


def native_pages(snapshot_dir: Path) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(operation, region, request, page) of every page of every data file in the manifest."""
    manifest = json.loads((snapshot_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        raw = (snapshot_dir / entry["path"]).read_bytes()
        doc = json.loads(gzip.decompress(raw) if entry["path"].endswith(".gz") else raw)
        for call in doc["calls"]:
            for page in call["pages"]:
                yield doc["operation"], doc["region"], call.get("request") or {}, page


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def instance_record(i: dict[str, Any]) -> dict[str, Any]:
    # the old collector read boto3 ec2.Instance attributes: "" for a missing DNS name,
    # None for a missing IP or VPC
    return {
        "FQDN": i.get("PublicDnsName") or "",
        "Hostname": i.get("PrivateDnsName") or "",
        "Internal IP": i.get("PrivateIpAddress"),
        "External IP": i.get("PublicIpAddress"),
        "VPC": i.get("VpcId"),
        "State": i["State"]["Name"],
        "Subnet ID": i.get("SubnetId"),
        "Instance ID": i["InstanceId"],
        "Security Groups": [
            {"GroupName": g.get("GroupName"), "GroupId": g["GroupId"]}
            for g in i.get("SecurityGroups") or []
        ],
        "Tags": _tag_dict(i.get("Tags")),
    }


def security_group_record(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "GroupName": g["GroupName"],
        "GroupId": g["GroupId"],
        "Description": g.get("Description"),
        "InboundRules": g.get("IpPermissions", []),
        "OutboundRules": g.get("IpPermissionsEgress", []),
    }


def rds_record(d: dict[str, Any]) -> dict[str, Any]:
    rec = {
        key: d.get(key)
        for key in (
            "DBInstanceIdentifier",
            "DBInstanceStatus",
            "Engine",
            "EngineVersion",
            "DBInstanceClass",
            "MasterUsername",
            "MultiAZ",
            "PubliclyAccessible",
            "StorageEncrypted",
            "IAMDatabaseAuthenticationEnabled",
            "BackupRetentionPeriod",
        )
    }
    rec["VPCId"] = (d.get("DBSubnetGroup") or {}).get("VpcId")
    rec["Endpoint"] = (d.get("Endpoint") or {}).get("Address")
    rec["Port"] = (d.get("Endpoint") or {}).get("Port")
    if d.get("DBName") is not None:
        rec["DBName"] = d["DBName"]
    rec["VpcSecurityGroups"] = [
        {"VpcSecurityGroupId": g["VpcSecurityGroupId"], "Status": g.get("Status")}
        for g in d.get("VpcSecurityGroups") or []
    ]
    return rec


def peering_record(p: dict[str, Any]) -> dict[str, Any]:
    rec = {
        "PeeringConnectionId": p["VpcPeeringConnectionId"],
        "Status": p["Status"]["Code"],
        "RequesterVPC": p["RequesterVpcInfo"]["VpcId"],
        "AccepterVPC": p["AccepterVpcInfo"]["VpcId"],
    }
    if p.get("Tags"):
        rec["Tags"] = _tag_dict(p["Tags"])
    return rec


def load_balancer_records(
    lbs: list[dict[str, Any]],
    tgs: list[dict[str, Any]],
    health: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The old tool's one record per load balancer, its target groups and targets inlined."""
    out = []
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        groups = [tg for tg in tgs if arn in (tg.get("LoadBalancerArns") or [])]
        out.append(
            {
                "LoadBalancerArn": arn,
                "DNSName": lb.get("DNSName"),
                "VpcId": lb.get("VpcId"),
                "State": lb.get("State"),
                "Scheme": lb.get("Scheme"),
                "CreatedTime": lb.get("CreatedTime"),
                "SecurityGroups": lb.get("SecurityGroups") or [],
                "TargetGroups": [
                    {
                        "TargetGroupName": tg["TargetGroupName"],
                        "TargetGroupArn": tg["TargetGroupArn"],
                        "Targets": [
                            {"Target": d["Target"]["Id"], "Health": d["TargetHealth"]["State"]}
                            for d in health.get(tg["TargetGroupArn"], [])
                        ],
                    }
                    for tg in groups
                ],
            }
        )
    return out


def write_legacy_archive(snapshot_dir: Path, dest: Path) -> Path:
    """Write the five `*_data.json` files of `snapshot_dir`'s estate into folder `dest`."""
    files: dict[str, dict[str, list[Any]]] = {name: {} for name in LEGACY_FILES}
    lbs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    tgs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    health: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    regions: set[str] = set()
    for op, region, request, page in native_pages(snapshot_dir):
        regions.add(region)

        def put(name: str, records: list[dict[str, Any]], region: str = region) -> None:
            files[name].setdefault(region, []).extend(records)

        if op == "ec2:DescribeInstances":
            put(
                "instance_data.json",
                [instance_record(i) for r in page["Reservations"] for i in r["Instances"]],
            )
        elif op == "ec2:DescribeSecurityGroups":
            put(
                "security_group_data.json",
                [security_group_record(g) for g in page["SecurityGroups"]],
            )
        elif op == "rds:DescribeDBInstances":
            put("rds_data.json", [rds_record(d) for d in page["DBInstances"]])
        elif op == "ec2:DescribeVpcPeeringConnections":
            put("vpc_peering_data.json", [peering_record(p) for p in page["VpcPeeringConnections"]])
        elif op == "elbv2:DescribeLoadBalancers":
            lbs[region].extend(page["LoadBalancers"])
        elif op == "elbv2:DescribeTargetGroups":
            tgs[region].extend(page["TargetGroups"])
        elif op == "elbv2:DescribeTargetHealth":
            health[region][request["TargetGroupArn"]].extend(page["TargetHealthDescriptions"])
    for region in sorted(regions):
        for name in LEGACY_FILES:
            files[name].setdefault(region, [])
        files["alb_data.json"][region] = load_balancer_records(
            lbs[region], tgs[region], health[region]
        )
    dest.mkdir(parents=True)
    for name, doc in files.items():
        (dest / name).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return dest
