"""The synthetic estate generator: determinism, manifest, ratios, churn, AWS shapes."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.genestate import EstateSpec, generate, parse_interval
from bulkgraph.errors import BulkgraphError
from bulkgraph.extract.operations import OPERATIONS
from bulkgraph.extract.sources import discover
from bulkgraph.transform.run import transform

ROOT = Path(__file__).resolve().parents[1]
#: data files of one snapshot of one account in two regions: every regional operation
#: twice, IAM once (under `global`)
FILES = 2 * (len(OPERATIONS) - 1) + 1
N = 1000
SNAPSHOTS = 3
CHURN = 0.05
SPEC = EstateSpec(instances=N, snapshots=SNAPSHOTS, churn=CHURN, seed=7)


@pytest.fixture(scope="module")
def estate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("estate")
    generate(out, SPEC)
    return out


def snapshot_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def load(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """operation -> every call of every account and region."""
    manifest = json.loads((folder / "manifest.json").read_text())
    result: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest["files"]:
        doc = json.loads(gzip.decompress((folder / entry["path"]).read_bytes()))
        result.setdefault(doc["operation"], []).extend(doc["calls"])
    return result


def items(calls: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [item for call in calls for page in call["pages"] for item in page[key]]


def instances(data: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    reservations = items(data["ec2:DescribeInstances"], "Reservations")
    return [i for r in reservations for i in r["Instances"]]


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_same_arguments_give_byte_identical_output(tmp_path: Path, estate_dir: Path) -> None:
    generate(tmp_path / "again", SPEC)
    generate(tmp_path / "parallel", SPEC, jobs=2)
    first = tree_bytes(estate_dir)
    assert len(first) == SNAPSHOTS * (1 + FILES)
    assert tree_bytes(tmp_path / "again") == first
    assert tree_bytes(tmp_path / "parallel") == first


def test_another_seed_gives_another_estate(tmp_path: Path, estate_dir: Path) -> None:
    spec = EstateSpec(instances=N, snapshots=1, churn=CHURN, seed=8)
    generate(tmp_path, spec)
    ids_7 = {i["InstanceId"] for i in instances(load(snapshot_dirs(estate_dir)[0]))}
    ids_8 = {i["InstanceId"] for i in instances(load(snapshot_dirs(tmp_path)[0]))}
    assert not ids_7 & ids_8


def test_manifest_lists_every_file_with_its_sha256_and_size(estate_dir: Path) -> None:
    folders = snapshot_dirs(estate_dir)
    assert [f.name for f in folders] == [
        "20260101T020000Z",
        "20260102T020000Z",
        "20260103T020000Z",
    ]
    taken = []
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["format"] == "bulkgraph-snapshot/1"
        assert manifest["snapshot_id"] == folder.name
        taken.append(datetime.fromisoformat(manifest["taken_at"]))
        assert manifest["accounts"] == [
            {"account_id": "123456789012", "regions": ["eu-west-1", "us-east-1"]}
        ]
        on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*.json.gz")}
        listed = {e["path"] for e in manifest["files"]}
        assert listed == on_disk
        assert len(listed) == FILES
        for entry in manifest["files"]:
            data = (folder / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["bytes"]
            account, region, service, name = entry["path"].split("/")
            assert entry["operation"] == f"{service}:{name.removesuffix('.json.gz')}"
            assert (entry["account_id"], entry["region"]) == (account, region)
            doc = json.loads(gzip.decompress(data))
            assert (doc["operation"], doc["account_id"], doc["region"]) == (
                entry["operation"],
                account,
                region,
            )
    assert [b - a for a, b in itertools.pairwise(taken)] == [timedelta(days=1)] * 2
    assert taken[0].isoformat() == "2026-01-01T02:00:00+00:00"


def test_counts_per_family_follow_the_ratios(estate_dir: Path) -> None:
    data = load(snapshot_dirs(estate_dir)[0])
    all_instances = instances(data)
    live = [i for i in all_instances if i["State"]["Name"] != "terminated"]
    assert len(live) == N
    assert all(len(i["Tags"]) == 5 for i in all_instances)
    groups = items(data["ec2:DescribeSecurityGroups"], "SecurityGroups")
    assert len(groups) == N // 5
    rules = [len(g["IpPermissions"]) + len(g["IpPermissionsEgress"]) for g in groups]
    assert 7 <= sum(rules) / len(rules) <= 9
    rds = items(data["rds:DescribeDBInstances"], "DBInstances")
    assert len(rds) == N // 20
    vpcs = items(data["ec2:DescribeVpcs"], "Vpcs")
    assert len(vpcs) == N // 200
    assert len(items(data["ec2:DescribeSubnets"], "Subnets")) == 4 * N // 200
    peerings = items(data["ec2:DescribeVpcPeeringConnections"], "VpcPeeringConnections")
    assert len({p["VpcPeeringConnectionId"] for p in peerings}) == N // 500
    lbs = items(data["elbv2:DescribeLoadBalancers"], "LoadBalancers")
    assert len(lbs) == N // 50
    assert {lb["Type"] for lb in lbs} == {"application", "network"}
    target_groups = items(data["elbv2:DescribeTargetGroups"], "TargetGroups")
    assert len(target_groups) == 3 * len(lbs)
    per_lb = Counter(arn for tg in target_groups for arn in tg["LoadBalancerArns"])
    assert set(per_lb.values()) == {3}
    assert set(per_lb) == {lb["LoadBalancerArn"] for lb in lbs}
    health_calls = data["elbv2:DescribeTargetHealth"]
    assert sorted(c["request"]["TargetGroupArn"] for c in health_calls) == sorted(
        tg["TargetGroupArn"] for tg in target_groups
    )
    kind_of = {tg["TargetGroupArn"]: tg["TargetType"] for tg in target_groups}
    for call in health_calls:
        targets = items([call], "TargetHealthDescriptions")
        single = kind_of[call["request"]["TargetGroupArn"]] in ("lambda", "alb")
        assert len(targets) == (1 if single else 10)
    assert {"instance", "ip", "lambda"} <= set(kind_of.values())


def test_rules_cover_every_kind_of_source(estate_dir: Path) -> None:
    groups = items(
        load(snapshot_dirs(estate_dir)[0])["ec2:DescribeSecurityGroups"], "SecurityGroups"
    )
    ingress = [r for g in groups for r in g["IpPermissions"]]
    egress = [r for g in groups for r in g["IpPermissionsEgress"]]
    cidrs = {c["CidrIp"] for r in ingress for c in r["IpRanges"]}
    assert "0.0.0.0/0" in cidrs
    assert any(r["Ipv6Ranges"] for r in ingress)
    assert any(r["UserIdGroupPairs"] for r in ingress)
    assert any(r["PrefixListIds"] for r in ingress)
    assert any(r["IpProtocol"] == "-1" and "FromPort" not in r for r in egress)
    assert all(("FromPort" in r) == (r["IpProtocol"] != "-1") for r in ingress + egress)


def _fingerprints(items_: list[dict[str, Any]], key: str) -> dict[str, str]:
    return {i[key]: json.dumps(i, sort_keys=True) for i in items_}


def _changed_fraction(before: dict[str, str], after: dict[str, str]) -> float:
    changed = set(before) ^ set(after)
    changed |= {k for k in set(before) & set(after) if before[k] != after[k]}
    return len(changed) / len(before)


def test_churn_changes_about_the_requested_fraction(estate_dir: Path) -> None:
    snaps = [load(folder) for folder in snapshot_dirs(estate_dir)]
    for previous, current in itertools.pairwise(snaps):
        for op, key, ident in (
            ("ec2:DescribeInstances", None, "InstanceId"),
            ("ec2:DescribeSecurityGroups", "SecurityGroups", "GroupId"),
            ("rds:DescribeDBInstances", "DBInstances", "DBInstanceIdentifier"),
        ):
            if key is None:
                before = _fingerprints(instances(previous), ident)
                after = _fingerprints(instances(current), ident)
            else:
                before = _fingerprints(items(previous[op], key), ident)
                after = _fingerprints(items(current[op], key), ident)
            fraction = _changed_fraction(before, after)
            assert CHURN * 0.5 <= fraction <= CHURN * 1.5, (op, fraction)
        launched = {i["InstanceId"] for i in instances(current)} - {
            i["InstanceId"] for i in instances(previous)
        }
        assert launched


def test_timestamps_are_iso_8601_with_an_offset(estate_dir: Path) -> None:
    data = load(snapshot_dirs(estate_dir)[1])
    stamps = [i["LaunchTime"] for i in instances(data)]
    stamps += [
        r["InstanceCreateTime"]
        for r in items(data["rds:DescribeDBInstances"], "DBInstances")
        if "InstanceCreateTime" in r
    ]
    stamps += [
        lb["CreatedTime"] for lb in items(data["elbv2:DescribeLoadBalancers"], "LoadBalancers")
    ]
    assert len(stamps) > N
    for stamp in stamps:
        moment = datetime.fromisoformat(stamp)
        assert moment.utcoffset() == timedelta(0), stamp
        assert stamp.endswith("+00:00")
        assert moment < datetime.fromisoformat("2026-01-02T02:00:00+00:00")


def test_terminated_instances_lack_vpc_subnet_and_addresses(estate_dir: Path) -> None:
    data = load(snapshot_dirs(estate_dir)[1])
    terminated = [i for i in instances(data) if i["State"]["Name"] == "terminated"]
    assert terminated
    for item in terminated:
        assert item["State"]["Code"] == 48
        for key in ("VpcId", "SubnetId", "PrivateIpAddress", "PublicIpAddress"):
            assert key not in item
        assert item["PrivateDnsName"] == "" and item["PublicDnsName"] == ""
    running = [i for i in instances(data) if i["State"]["Name"] == "running"]
    assert all(i["VpcId"].startswith("vpc-") and i["PrivateIpAddress"] for i in running)
    assert any("PublicIpAddress" in i for i in running)
    stopped = [i for i in instances(data) if i["State"]["Name"] == "stopped"]
    assert all("PublicIpAddress" not in i and "VpcId" in i for i in stopped)


def _interfaces(data: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return items(data["ec2:DescribeNetworkInterfaces"], "NetworkInterfaces")


def test_every_instance_has_the_interfaces_its_record_implies(estate_dir: Path) -> None:
    """Graph model 1.1: the primary interface agrees with the instance (address, public
    address, subnet, groups) whatever the night; ~15 % have a second one, some of those an
    Elastic IP; terminated instances have none."""
    for folder in snapshot_dirs(estate_dir):
        data = load(folder)
        attached: dict[str, list[dict[str, Any]]] = {}
        for eni in _interfaces(data):
            if "Attachment" in eni:
                attached.setdefault(eni["Attachment"]["InstanceId"], []).append(eni)
        every = instances(data)
        live = [i for i in every if i["State"]["Name"] != "terminated"]
        assert {i["InstanceId"] for i in live} == set(attached)
        for item in live:
            by_index = {e["Attachment"]["DeviceIndex"]: e for e in attached[item["InstanceId"]]}
            primary = by_index[0]
            assert primary["PrivateIpAddress"] == item["PrivateIpAddress"]
            assert primary["SubnetId"] == item["SubnetId"]
            assert primary.get("Association", {}).get("PublicIp") == item.get("PublicIpAddress")
            assert [g["GroupId"] for g in primary["Groups"]] == [
                g["GroupId"] for g in item["SecurityGroups"]
            ]
        seconds = [e for enis in attached.values() for e in enis if e["Attachment"]["DeviceIndex"]]
        assert 0.10 * len(live) <= len(seconds) <= 0.20 * len(live)
        elastic = [e for e in seconds if "AllocationId" in e.get("Association", {})]
        assert 0.2 * len(seconds) <= len(elastic) <= 0.6 * len(seconds)
    stopped = [i for i in instances(data) if i["State"]["Name"] == "stopped"]
    assert stopped  # and their primary interfaces lost the public address (above)


def test_services_have_the_interfaces_aws_makes_for_them(estate_dir: Path) -> None:
    data = load(snapshot_dirs(estate_dir)[1])
    enis = _interfaces(data)
    described = Counter(
        e["Description"].split(" ")[0] if e["Description"].startswith("ELB ") else
        "lambda" if e["InterfaceType"] == "lambda" else
        "nat" if e["InterfaceType"] == "nat_gateway" else e["Description"]
        for e in enis
        if "Attachment" not in e and e["Status"] == "in-use"
    )  # fmt: skip
    lbs = items(data["elbv2:DescribeLoadBalancers"], "LoadBalancers")
    rds = items(data["rds:DescribeDBInstances"], "DBInstances")
    nats = items(data["ec2:DescribeNatGateways"], "NatGateways")
    functions = items(data["lambda:ListFunctions"], "Functions")
    in_vpc = [f for f in functions if "VpcConfig" in f]
    assert described == {
        "ELB": 2 * len(lbs),  # one per subnet
        "RDSNetworkInterface": len(rds),
        "nat": len(nats),
        "lambda": sum(len(f["VpcConfig"]["SubnetIds"]) for f in in_vpc),
    }
    assert in_vpc and len(in_vpc) <= 0.15 * len(functions)
    assert len(functions) >= N // 25
    # an internet-facing load balancer's interfaces have public addresses, an internal one's not
    scheme = {lb["LoadBalancerArn"].split(":loadbalancer/")[1]: lb["Scheme"] for lb in lbs}
    for eni in enis:
        if eni["Description"].startswith("ELB "):
            public = "Association" in eni
            assert public == (scheme[eni["Description"][4:]] == "internet-facing")
    ids = [e["NetworkInterfaceId"] for e in enis]
    assert len(ids) == len(set(ids))


def test_routing_acls_listeners_tags_and_roles_in_proportion(estate_dir: Path) -> None:
    data = load(snapshot_dirs(estate_dir)[0])
    vpcs = items(data["ec2:DescribeVpcs"], "Vpcs")
    subnets = items(data["ec2:DescribeSubnets"], "Subnets")
    tables = items(data["ec2:DescribeRouteTables"], "RouteTables")
    mains = [t for t in tables if any(a["Main"] for a in t["Associations"])]
    assert sorted(t["VpcId"] for t in mains) == sorted(v["VpcId"] for v in vpcs)
    associated = [a["SubnetId"] for t in tables for a in t["Associations"] if "SubnetId" in a]
    assert len(associated) == len(set(associated))
    assert 0.75 * len(subnets) <= len(associated) <= len(subnets)
    targets = Counter(k for t in tables for r in t["Routes"] for k in r if k.endswith("Id"))
    assert targets["NatGatewayId"] and targets["VpcPeeringConnectionId"]
    assert sum(1 for t in tables for r in t["Routes"] if r.get("GatewayId", "").startswith("igw-"))
    gateways = items(data["ec2:DescribeInternetGateways"], "InternetGateways")
    assert len(gateways) == len(vpcs)
    assert len(vpcs) / 2 <= sum(1 for g in gateways if g["Attachments"]) <= len(vpcs)
    nats = items(data["ec2:DescribeNatGateways"], "NatGateways")
    assert len(nats) == (len(vpcs) + 1) // 2
    acls = items(data["ec2:DescribeNetworkAcls"], "NetworkAcls")
    assert sorted(a["VpcId"] for a in acls if a["IsDefault"]) == sorted(v["VpcId"] for v in vpcs)
    custom = [a for a in acls if not a["IsDefault"]]
    assert custom and all(
        any(e["RuleAction"] == "deny" and e["RuleNumber"] < 32767 for e in a["Entries"])
        for a in custom
    )
    assert sorted(s["SubnetId"] for a in acls for s in a["Associations"]) == sorted(
        s["SubnetId"] for s in subnets
    )
    lbs = items(data["elbv2:DescribeLoadBalancers"], "LoadBalancers")
    calls = data["elbv2:DescribeListeners"]
    assert sorted(c["request"]["LoadBalancerArn"] for c in calls) == sorted(
        lb["LoadBalancerArn"] for lb in lbs
    )
    per_lb = [len(items([c], "Listeners")) for c in calls]
    assert set(per_lb) == {1, 2, 3}
    forwarded = {
        w["TargetGroupArn"]
        for c in calls
        for listener in items([c], "Listeners")
        for action in listener["DefaultActions"]
        for w in action.get("ForwardConfig", {}).get("TargetGroups", [])
    }
    groups = items(data["elbv2:DescribeTargetGroups"], "TargetGroups")
    assert forwarded == {g["TargetGroupArn"] for g in groups}
    tag_calls = data["elbv2:DescribeTags"]
    assert all(len(c["request"]["ResourceArns"]) <= 20 for c in tag_calls)
    described = [d["ResourceArn"] for d in items(tag_calls, "TagDescriptions")]
    assert sorted(described) == sorted(
        [lb["LoadBalancerArn"] for lb in lbs] + [g["TargetGroupArn"] for g in groups]
    )
    [iam] = data["iam:GetAccountAuthorizationDetails"]
    assert iam["request"] == {"Filter": ["Role"]}
    roles = items([iam], "RoleDetailList")
    profiles = {p["Arn"] for r in roles for p in r["InstanceProfileList"]}
    assert len(profiles) == N // 20
    live = [i for i in instances(data) if i["State"]["Name"] != "terminated"]
    with_profile = [i for i in live if "IamInstanceProfile" in i]
    assert {i["IamInstanceProfile"]["Arn"] for i in with_profile} <= profiles
    assert 0.6 * len(live) <= len(with_profile) <= 0.9 * len(live)
    role_arns = {r["Arn"] for r in roles}
    assert {f["Role"] for f in items(data["lambda:ListFunctions"], "Functions")} <= role_arns


def test_one_internet_gateway_in_ten_is_detached_and_its_routes_are_blackholes(
    tmp_path: Path,
) -> None:
    generate(tmp_path, EstateSpec(instances=2000, snapshots=1, seed=2))
    data = load(snapshot_dirs(tmp_path)[0])
    gateways = items(data["ec2:DescribeInternetGateways"], "InternetGateways")
    detached = {g["InternetGatewayId"] for g in gateways if not g["Attachments"]}
    assert (len(gateways), len(detached)) == (10, 1)
    routes = [
        r
        for t in items(data["ec2:DescribeRouteTables"], "RouteTables")
        for r in t["Routes"]
        if r.get("GatewayId", "").startswith("igw-")
    ]
    assert {r["State"] for r in routes if r["GatewayId"] in detached} == {"blackhole"}
    assert {r["State"] for r in routes if r["GatewayId"] not in detached} == {"active"}


def test_the_11_families_change_from_night_to_night(estate_dir: Path) -> None:
    snaps = [load(folder) for folder in snapshot_dirs(estate_dir)]
    for previous, current in itertools.pairwise(snaps):
        for op, key, ident in (
            ("ec2:DescribeRouteTables", "RouteTables", "RouteTableId"),
            ("elbv2:DescribeListeners", "Listeners", "ListenerArn"),
            ("elbv2:DescribeTags", "TagDescriptions", "ResourceArn"),
            ("lambda:ListFunctions", "Functions", "FunctionArn"),
            ("iam:GetAccountAuthorizationDetails", "RoleDetailList", "Arn"),
        ):
            before = _fingerprints(items(previous[op], key), ident)
            after = _fingerprints(items(current[op], key), ident)
            fraction = _changed_fraction(before, after)
            assert CHURN * 0.5 <= fraction <= CHURN * 1.5, (op, fraction)
        # interfaces follow their instances: launches, terminations, stops, group changes
        before = _fingerprints(_interfaces(previous), "NetworkInterfaceId")
        after = _fingerprints(_interfaces(current), "NetworkInterfaceId")
        assert CHURN * 0.2 <= _changed_fraction(before, after) <= CHURN


#: the labels of graph model 1.1 and, per live instance of the estate, how many of each a
#: snapshot holds (the bench measures the share of these in the records)
LABELS_11 = {
    "NetworkInterface": (1.15, 1.35),
    "RouteTable": (0.02, 0.03),
    "InternetGateway": (0.004, 0.006),
    "NatGateway": (0.002, 0.004),
    "NetworkAcl": (0.005, 0.008),
    "Listener": (0.03, 0.05),
    "LambdaFunction": (0.04, 0.05),
    "IAMRole": (0.06, 0.07),
    "InstanceProfile": (0.05, 0.05),
}


def test_the_transform_reads_every_11_family_without_rejects(tmp_path: Path) -> None:
    """The records are ones the transform reads: each 1.1 label in its proportion, nothing
    rejected, nothing unknown."""
    instances_ = 1000
    generate(tmp_path / "snap", EstateSpec(instances=instances_, snapshots=1, seed=3))
    found = discover([str(tmp_path / "snap")])
    transform(found.snapshots, tmp_path / "csv", workers=1)
    assert (tmp_path / "csv" / "rejects.jsonl").read_text() == ""
    manifest = json.loads((tmp_path / "csv" / "import-manifest.json").read_text())
    labels = manifest["nodes_per_label"]
    for label, (low, high) in LABELS_11.items():
        assert low * instances_ <= labels.get(label, 0) <= high * instances_, (label, labels)
    relationships = manifest["relationships_per_type"]
    for kind in ("ROUTES_VIA", "ROUTE", "NACL_RULE", "HAS_LISTENER", "FORWARDS_TO", "HAS_ROLE"):
        assert relationships.get(kind), kind
    assert relationships["HAS_INSTANCE_PROFILE"] >= 0.6 * instances_
    snapshot_csv = (tmp_path / "csv" / "nodes" / "Snapshot").glob("2*.csv")
    [row] = [line for part in snapshot_csv for line in part.read_text().splitlines()]
    assert row.endswith(",,"), row  # `unknown` and `unknown_labels` empty


def test_big_responses_are_split_into_pages(tmp_path: Path) -> None:
    generate(tmp_path, EstateSpec(instances=2500, snapshots=1, regions=("us-east-1",)))
    data = load(snapshot_dirs(tmp_path)[0])
    [call] = data["ec2:DescribeInstances"]
    sizes = [sum(len(r["Instances"]) for r in page["Reservations"]) for page in call["pages"]]
    assert len(sizes) == 3 and sizes[:2] == [1000, 1000]
    [call] = data["rds:DescribeDBInstances"]
    assert [len(p["DBInstances"]) for p in call["pages"]] == [100, 25]


def test_existing_snapshot_is_kept_unless_forced(tmp_path: Path) -> None:
    spec = EstateSpec(instances=100, snapshots=1)
    generate(tmp_path, spec)
    with pytest.raises(BulkgraphError, match="already exists"):
        generate(tmp_path, spec)
    generate(tmp_path, spec, force=True)
    assert [p.name for p in snapshot_dirs(tmp_path)] == ["20260101T020000Z"]


def test_intervals() -> None:
    assert parse_interval("1d") == timedelta(days=1)
    assert parse_interval("1d12h") == timedelta(hours=36)
    assert parse_interval("90m") == timedelta(minutes=90)
    with pytest.raises(BulkgraphError):
        parse_interval("1 day")


def test_the_reader_accepts_generated_snapshots(estate_dir: Path, tmp_path: Path) -> None:
    from bulkgraph.extract.verify import verify

    result = discover([str(estate_dir)], cache_dir=tmp_path)
    assert result.problems == []
    assert [s.info.snapshot_id for s in result.snapshots] == [
        f.name for f in snapshot_dirs(estate_dir)
    ]
    for snapshot in result.snapshots:
        assert snapshot.info.warnings == ()
        assert verify(snapshot) == []
        operations = Counter(r.operation for r in snapshot.responses())
        assert set(operations) == {op.name for op in OPERATIONS}
        assert operations.pop("iam:GetAccountAuthorizationDetails") == 1
        assert set(operations.values()) == {2}


def test_script_runs_and_reports_one_line_per_snapshot(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "gen-estate"
    args = [str(script), "--instances", "200", "--snapshots", "2", "--out", str(tmp_path)]
    done = subprocess.run(
        [*args, "--interval", "6h", "--accounts", "2", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["snapshot_id"] for line in lines] == ["20260101T020000Z", "20260101T080000Z"]
    assert lines[0]["counts"]["instances"] == 200
    manifest = json.loads((tmp_path / "20260101T080000Z" / "manifest.json").read_text())
    assert len(manifest["accounts"]) == 2
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = subprocess.run([*args, "--interval", "soon"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--interval" in bad.stderr
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "--churn" in helped.stdout


def test_reused_instance_json_matches_a_fresh_rendering() -> None:
    from bench.estate import Estate, _instance_calls, account_ids
    from bench.genestate import DEFAULT_START
    from bulkgraph.extract.writer import dumps

    estate = Estate(
        seed=1,
        instances=600,
        accounts=account_ids(1),
        regions=("us-east-1",),
        churn=0.2,
        start=DEFAULT_START,
    )
    [cell] = estate.cells
    for day in range(3):
        cached = _instance_calls(cell)
        # the pieces join to the text the snapshot writer gives the whole calls
        assert cached == dumps(json.loads(cached))
        cell.reservation_json.clear()
        assert _instance_calls(cell) == cached
        moment = DEFAULT_START + timedelta(days=day)
        changes = estate.advance(moment, moment + timedelta(days=1))
        assert changes.modified["instances"] > 0
        assert _instance_calls(cell) != cached


#: sha256 over (relative path, bytes) of every file, the output folder's path masked. The
#: snapshots' digest was recorded on commit 7cc1194, when gen-estate still had a snapshot
#: writer of its own. The transform's was recorded again when Snapshot nodes gained `unknown`
#: and `unknown_labels` and the state files of dynamic properties were renamed: its CSVs then
#: differed from 7cc1194's only in the Snapshot parts, their header and the manifest. Again
#: for graph model 1.1's network families (net11): VPC.cidrs and Subnet.map_public_ip_on_launch
#: (their headers, parts and so fingerprints, keys.parquet), Snapshot.unknown naming the network
#: operations the estate lacks, the manifest and result.json; nothing else differed. Again when
#: net11 and app11 were merged: the application families' columns (Instance.key_name...),
#: LoadBalancer/RDSInstance BELONGS_TO Subnet, and the unknown entries and labels of every 1.1
#: operation the estate lacks. Again when the bench estate gained the nine operations of
#: snapshot format 1.1 (issue #18): their data files and manifest entries are new, the
#: instances carry an instance profile and some allow IMDSv1 (DescribeInstances), every other
#: file of format 1 is byte for byte what it was (the 1.1 resources are drawn from a generator
#: of their own); the transform has the 1.1 labels and relationships, Instance's new columns
#: filled, and Snapshot.unknown empty. Again when the manifest gained `layout` and
#: `versions_groups` (the versions layout, issue #20): only import-manifest.json differs.
#: Again when each worker began to write the versions pass's input (compared-text.parquet,
#: TRANSFORM_REVISION 4): that file is new and result.json's `layout` differs, nothing else.
#: Again when results and the manifest's snapshots said whether their parts were written
#: (`parts: true` in result.json and import-manifest.json, nothing else).
RECORDED_DIGESTS = {
    "snapshots": "6d5baca0ebbf2afde74ff8987f9f48dcf0eaf4502a311cbdb3411b1eb49d73ce",
    "transform": "43c7b20f4996837cd62fc81d546a90b1ddabc636ab323fe33bb9e11b8fdbf484",
}


def _folder_digest(folder: Path, mask: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes().replace(str(mask).encode(), b"OUT")
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def test_generated_estate_and_its_transform_keep_their_bytes(tmp_path: Path) -> None:
    """gen-estate writes through the product's snapshot writer: the same snapshots, and so
    the same graph, byte for byte, as when it wrote them itself."""
    generate(tmp_path / "snap", EstateSpec(instances=200, snapshots=2, seed=5))
    found = discover([str(tmp_path / "snap")])
    assert found.problems == []
    transform(found.snapshots, tmp_path / "csv", workers=1)
    assert {
        "snapshots": _folder_digest(tmp_path / "snap", tmp_path),
        "transform": _folder_digest(tmp_path / "csv", tmp_path),
    } == RECORDED_DIGESTS
