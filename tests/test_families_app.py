"""Graph model 1.1, the application side: listeners, load balancer and target group tags,
Lambda functions, IAM roles and instance profiles, and what instances, load balancers and RDS
instances gain (tests/fixtures/native/app11.json, responses as AWS returns them)."""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ManagedNeo4j, import_settings
from test_transform import by
from test_transform import rows as rows_of
from transform_fixtures import NATIVE, from_dict, load

from bulkgraph.extract.sources import discover
from bulkgraph.load.bulk import bulk_import
from bulkgraph.transform.families.iam_roles import policy_text
from bulkgraph.transform.run import transform
from bulkgraph.transform.unknown import unknown_labels

SID = "20260115T000000Z"
A = "111111111111"
ELB = f"arn:aws:elasticloadbalancing:us-east-1:{A}"
ALB = f"{ELB}:loadbalancer/app/web/50dc6c495c0c9188"
NLB = f"{ELB}:loadbalancer/net/edge/73e2d6bc24d8a067"
LISTENER = f"{ELB}:listener/app/web/50dc6c495c0c9188"
FN = f"arn:aws:lambda:us-east-1:{A}:function"
IAM = f"arn:aws:iam::{A}"
IAM_OP = "iam:GetAccountAuthorizationDetails"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

Raw = dict[str, Any]


def rows(out: Path, kind: str, group: str, sid: str = SID) -> list[dict[str, str]]:
    return rows_of(out, kind, group, sid)


def _raw() -> Raw:
    raw: Raw = json.loads((NATIVE / "app11.json").read_text(encoding="utf-8"))
    return raw


def _response(raw: Raw, operation: str) -> Raw:
    [found] = [r for r in raw["responses"] if r["operation"] == operation]
    return found


def _transform(tmp: Path, change: Callable[[Raw], None] | None = None, sid: str = SID) -> Path:
    """app11.json, changed by `change`, transformed into `tmp`."""
    raw = _raw()
    if change is not None:
        change(raw)
    out = tmp / "csv"
    result = transform([from_dict(raw)], out, workers=1)
    assert result.transformed == [sid] and not result.failed
    return out


def _ends(out: Path, group: str) -> set[tuple[str, str]]:
    """(start key, end key) of a relationship group's rows: the uids' last part."""
    return {
        (r[":START_ID"].split("|", 2)[2], r[":END_ID"].split("|", 2)[2])
        for r in rows(out, "relationships", group)
    }


def _rejects(out: Path) -> list[dict[str, Any]]:
    text = (out / "rejects.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _snapshot(out: Path, sid: str = SID) -> dict[str, str]:
    [snap] = rows(out, "nodes", "Snapshot", sid)
    return snap


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _transform(tmp_path_factory.mktemp("app11"))


def test_the_fixture_reads_without_rejects(out: Path) -> None:
    assert _rejects(out) == []


def test_listeners_forward_to_default_and_weighted_target_groups(out: Path) -> None:
    listeners = by(rows(out, "nodes", "Listener"), "arn")
    assert (listeners[f"{LISTENER}/l443"]["port"], listeners[f"{LISTENER}/l443"]["protocol"]) == (
        "443",
        "HTTPS",
    )
    assert _ends(out, "HAS_LISTENER__LoadBalancer__Listener") == {
        (ALB, f"{LISTENER}/l443"),
        (ALB, f"{LISTENER}/l8443"),
        (ALB, f"{LISTENER}/l80"),
        (NLB, f"{ELB}:listener/net/edge/73e2d6bc24d8a067/t443"),
    }
    forwards = rows(out, "relationships", "FORWARDS_TO__Listener__TargetGroup")
    assert {(s.rsplit("/", 1)[1], e.split("/")[-2]) for s, e in _ends_of(forwards)} == {
        ("l443", "blue"),  # TargetGroupArn and its ForwardConfig: one relationship
        ("l8443", "green"),  # ForwardConfig only, after an authenticate action
        ("l8443", "canary"),
        ("t443", "fn"),
    }
    assert len(forwards) == 4  # the redirect listener (l80) forwards nowhere


def _ends_of(rows_: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(r[":START_ID"], r[":END_ID"]) for r in rows_]


def test_a_listener_without_its_load_balancer_arn_takes_the_request_and_bad_actions_are_rejected(
    tmp_path: Path,
) -> None:
    def change(raw: Raw) -> None:
        calls = _response(raw, "elbv2:DescribeListeners")["calls"]
        [nlb_listener] = calls[1]["pages"][0]["Listeners"]
        del nlb_listener["LoadBalancerArn"]
        actions = calls[0]["pages"][0]["Listeners"][1]["DefaultActions"]
        actions.append("forward")  # not an action object
        actions[1]["ForwardConfig"]["TargetGroups"].append({"Weight": 5})  # no target group

    out = _transform(tmp_path, change)
    assert (NLB, f"{ELB}:listener/net/edge/73e2d6bc24d8a067/t443") in _ends(
        out, "HAS_LISTENER__LoadBalancer__Listener"
    )
    file = f"{A}/us-east-1/elbv2/DescribeListeners.json.gz"
    assert sorted((r["file"], r["record"], r["reason"]) for r in _rejects(out)) == [
        (file, 1, "DefaultActions[1]: ForwardConfig.TargetGroups[2]: missing $.TargetGroupArn"),
        (file, 1, "DefaultActions[2]: expected an object, got str"),
    ]
    # the listener and its good target groups stay
    forwards = {e for s, e in _ends(out, "FORWARDS_TO__Listener__TargetGroup")}
    assert {f"{ELB}:targetgroup/green/bbb2", f"{ELB}:targetgroup/canary/ccc3"} <= forwards


def test_tags_of_load_balancers_and_target_groups_from_their_batches(out: Path) -> None:
    assert _ends(out, "TAGGED__LoadBalancer__Tag") == {(ALB, "team|web"), (ALB, "env|prod")}
    assert _ends(out, "TAGGED__TargetGroup__Tag") == {
        (f"{ELB}:targetgroup/blue/aaa1", "env|prod"),
        (f"{ELB}:targetgroup/green/bbb2", "color|green"),
    }
    # one Tag node per distinct pair, whoever carries it
    tags = [(t["name"], t["value"]) for t in rows(out, "nodes", "Tag")]
    assert tags.count(("env", "prod")) == 1


def test_tags_of_another_kind_of_resource_are_rejected(tmp_path: Path) -> None:
    def change(raw: Raw) -> None:
        page = _response(raw, "elbv2:DescribeTags")["calls"][0]["pages"][0]
        page["TagDescriptions"].append(
            {"ResourceArn": f"{LISTENER}/l443", "Tags": [{"Key": "k", "Value": "v"}]}
        )

    out = _transform(tmp_path, change)
    assert [(r["record"], r["reason"]) for r in _rejects(out)] == [
        (2, "$.ResourceArn: not a load balancer or target group ARN")
    ]
    result = json.loads((out / "state" / SID / "result.json").read_text())
    assert result["families"]["elbv2:DescribeTags"] == {"read": 7, "rejected": 1, "written": 6}


def test_lambda_functions_their_role_and_vpc_config(out: Path) -> None:
    functions = by(rows(out, "nodes", "LambdaFunction"), "arn")
    api = functions[f"{FN}:api"]
    assert (api["name"], api["runtime"], api["role_arn"], api["vpc_id"]) == (
        "api",
        "python3.12",
        f"{IAM}:role/service-role/api-exec",
        "vpc-a",
    )
    # a container image has no runtime; a function outside any VPC has VpcId ""
    thumb = functions[f"{FN}:thumbnailer"]
    assert (thumb["runtime"], thumb["vpc_id"], thumb["stub"]) == ("", "", "")
    # known only as a target: its key alone, and no stub (the target makes the node)
    elsewhere = functions[f"{FN}:elsewhere"]
    assert (elsewhere["name"], elsewhere["role_arn"], elsewhere["stub"]) == ("", "", "")
    assert elsewhere["fingerprint"] != ""
    # `api` is a target too (DescribeTargetHealth runs first): the described node wins
    assert (f"{ELB}:targetgroup/fn/ddd4", f"{FN}:api") in _ends(
        out, "CONTAINS__TargetGroup__LambdaFunction"
    )
    assert _ends(out, "HAS_ROLE__LambdaFunction__IAMRole") == {
        (f"{FN}:api", f"{IAM}:role/service-role/api-exec"),
        (f"{FN}:thumbnailer", f"{IAM}:role/thumbnailer"),
    }
    roles = by(rows(out, "nodes", "IAMRole"), "arn")
    assert roles[f"{IAM}:role/thumbnailer"]["stub"] == "true"  # not in the IAM file
    assert _ends(out, "BELONGS_TO__LambdaFunction__Subnet") == {
        (f"{FN}:api", "subnet-a"),
        (f"{FN}:api", "subnet-b"),
    }
    assert _ends(out, "BELONGS_TO__LambdaFunction__SecurityGroup") == {(f"{FN}:api", "sg-fn")}


def test_iam_roles_their_policies_and_trust_policy_text(out: Path) -> None:
    header = (out / "nodes" / "IAMRole" / "header.csv").read_text().strip().split(",")
    assert "account_id" not in header and "region" not in header
    assert "managed_policy_arns:string[]" in header
    roles = by(rows(out, "nodes", "IAMRole"), "arn")
    web = roles[f"{IAM}:role/web"]
    assert (web["name"], web["path"], web["stub"]) == ("web", "/", "")
    assert web["managed_policy_arns"] == (
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess;"
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    )  # sorted, whatever order AWS lists them in
    assert web["inline_policy_names"] == "assets-bucket;write-logs"
    assert web["trust_policy"] == json.dumps(EC2_TRUST, sort_keys=True)
    assert json.loads(web["trust_policy"]) == EC2_TRUST
    # a role with no policies: absent, not an empty list
    batch = roles[f"{IAM}:role/batch"]
    assert (batch["managed_policy_arns"], batch["inline_policy_names"]) == ("", "")
    assert roles[f"{IAM}:role/service-role/api-exec"]["path"] == "/service-role/"
    profiles = by(rows(out, "nodes", "InstanceProfile"), "arn")
    assert profiles[f"{IAM}:instance-profile/web"]["name"] == "web"
    assert _ends(out, "HAS_ROLE__InstanceProfile__IAMRole") == {
        (f"{IAM}:instance-profile/web", f"{IAM}:role/web"),
        (f"{IAM}:instance-profile/batch", f"{IAM}:role/batch"),
    }


def test_a_url_encoded_trust_policy_reads_as_the_decoded_one(tmp_path: Path) -> None:
    """The raw API sends the document URL-encoded; boto3 decodes it. Either gives the same
    text, and one that is no policy document is rejected, its role kept."""

    def change(raw: Raw) -> None:
        pages = _response(raw, IAM_OP)["calls"][0]["pages"]
        pages[0]["RoleDetailList"][0]["AssumeRolePolicyDocument"] = urllib.parse.quote(
            json.dumps(EC2_TRUST)
        )
        pages[1]["RoleDetailList"][1]["AssumeRolePolicyDocument"] = "%7Bnot json"

    out = _transform(tmp_path, change)
    roles = by(rows(out, "nodes", "IAMRole"), "arn")
    assert roles[f"{IAM}:role/web"]["trust_policy"] == json.dumps(EC2_TRUST, sort_keys=True)
    assert roles[f"{IAM}:role/batch"]["trust_policy"] == ""
    assert roles[f"{IAM}:role/batch"]["name"] == "batch"
    assert [(r["record"], r["reason"]) for r in _rejects(out)] == [
        (2, "$.AssumeRolePolicyDocument: not a JSON policy document")
    ]
    assert policy_text(json.dumps(EC2_TRUST)) == policy_text(EC2_TRUST)
    assert policy_text(42) is None


def test_iam_is_no_region_and_is_known_for_the_account(out: Path) -> None:
    regions = rows(out, "nodes", "Region")
    assert [(r["account_id"], r["name"]) for r in regions] == [(A, "us-east-1")]
    assert [a["account_id"] for a in rows(out, "nodes", "Account")] == [A]
    unknown = _snapshot(out)["unknown"].split(";")
    assert not any("iam:" in u or "/global/" in u for u in unknown)


def test_an_account_known_only_through_iam_has_no_region(tmp_path: Path) -> None:
    def change(raw: Raw) -> None:
        iam = copy.deepcopy(_response(raw, IAM_OP))
        other = "222222222222"
        iam.update(account_id=other, path=f"{other}/global/iam/GetAccountAuthorizationDetails")
        raw["responses"].append(iam)

    out = _transform(tmp_path, change)
    assert [a["account_id"] for a in rows(out, "nodes", "Account")] == [A, "222222222222"]
    assert [r["account_id"] for r in rows(out, "nodes", "Region")] == [A]


def test_a_snapshot_without_iam_leaves_it_unknown_once_per_account(tmp_path: Path) -> None:
    """A pre-1.1 archive (s1.json has no 1.1 operation), and the same fixture over two
    regions: one entry for the account's IAM, none per region."""
    transform([load("s1.json")], tmp_path / "s1", workers=1)
    snap = _snapshot(tmp_path / "s1", "20260101T000000Z")
    unknown = snap["unknown"].split(";")
    assert [u for u in unknown if IAM_OP in u] == [f"{A}/global/{IAM_OP}"]
    labels = snap["unknown_labels"].split(";")
    assert {f"IAMRole/{A}/*", f"InstanceProfile/{A}/*"} <= set(labels)
    assert not any(label.startswith(("IAMRole/", "InstanceProfile/")) for label in labels[2:])

    two = load("s1.json", accounts=[{"account_id": A, "regions": ["us-east-1", "eu-west-1"]}])
    transform([two], tmp_path / "two", workers=1)
    unknown = _snapshot(tmp_path / "two", "20260101T000000Z")["unknown"].split(";")
    assert [u for u in unknown if IAM_OP in u] == [f"{A}/global/{IAM_OP}"]
    assert f"{A}/eu-west-1/lambda:ListFunctions" in unknown
    assert [r["name"] for r in rows(tmp_path / "two", "nodes", "Region", "20260101T000000Z")] == [
        "eu-west-1",
        "us-east-1",
    ]


def test_unknown_labels_of_the_account_wide_operation() -> None:
    assert unknown_labels([f"{A}/global/{IAM_OP}"]) == [f"IAMRole/{A}/*", f"InstanceProfile/{A}/*"]
    # the IAM client failed altogether: IAM's labels only, and no Region called `global`
    assert unknown_labels([f"{A}/global/*"]) == [f"IAMRole/{A}/*", f"InstanceProfile/{A}/*"]
    # a region lost says nothing of the account's IAM; the whole account lost does
    region = unknown_labels([f"{A}/eu-west-1/*"])
    assert f"LambdaFunction/{A}/eu-west-1" in region
    assert not any(u.startswith(("IAMRole/", "InstanceProfile/")) for u in region)
    assert f"IAMRole/{A}/*" in unknown_labels([f"{A}/*/sts:AssumeRole"])


def test_instances_key_profile_and_imds(out: Path) -> None:
    inst = by(rows(out, "nodes", "Instance"), "id")
    assert (inst["i-web"]["key_name"], inst["i-web"]["imds_v1_allowed"]) == ("ops-2025", "true")
    assert (inst["i-batch"]["key_name"], inst["i-batch"]["imds_v1_allowed"]) == ("", "false")
    assert inst["i-legacy"]["imds_v1_allowed"] == ""  # AWS said nothing of it
    assert inst["i-web"]["iam_instance_profile_arn"] == f"{IAM}:instance-profile/web"
    assert _ends(out, "HAS_INSTANCE_PROFILE__Instance__InstanceProfile") == {
        ("i-web", f"{IAM}:instance-profile/web"),
        ("i-batch", f"{IAM}:instance-profile/batch"),
        ("i-legacy", f"{IAM}:instance-profile/deleted-long-ago"),
    }
    profiles = by(rows(out, "nodes", "InstanceProfile"), "arn")
    assert profiles[f"{IAM}:instance-profile/deleted-long-ago"]["stub"] == "true"
    assert profiles[f"{IAM}:instance-profile/web"]["stub"] == ""


def test_without_iam_an_instance_profile_is_a_stub(tmp_path: Path) -> None:
    def change(raw: Raw) -> None:
        raw["responses"] = [r for r in raw["responses"] if r["operation"] != IAM_OP]

    out = _transform(tmp_path, change)
    profiles = by(rows(out, "nodes", "InstanceProfile"), "arn")
    assert {p["stub"] for p in profiles.values()} == {"true"}
    assert f"{IAM}:instance-profile/web" in profiles
    assert f"{A}/global/{IAM_OP}" in _snapshot(out)["unknown"].split(";")


def test_load_balancer_and_rds_subnets(out: Path) -> None:
    assert _ends(out, "BELONGS_TO__LoadBalancer__Subnet") == {
        (ALB, "subnet-a"),
        (ALB, "subnet-b"),
        (NLB, "subnet-a"),
    }
    assert _ends(out, "BELONGS_TO__RDSInstance__Subnet") == {
        (f"{A}|us-east-1|orders", "subnet-a"),
        (f"{A}|us-east-1|orders", "subnet-c"),
    }
    subnets = by(rows(out, "nodes", "Subnet"), "id")
    assert subnets["subnet-c"]["stub"] == "true"  # a subnet of the group not described


def test_the_legacy_archive_still_transforms(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parent.parent / "samples"
    found = discover([str(samples / "archive_20261124_020000")], account_id="123456789012")
    result = transform(found.snapshots, tmp_path, workers=1)
    [sid] = result.transformed
    assert not result.failed
    regions = {r["name"] for r in rows(tmp_path, "nodes", "Region", sid)}
    assert "global" not in regions and regions
    unknown = _snapshot(tmp_path, sid)["unknown"].split(";")
    assert [u for u in unknown if IAM_OP in u] == [f"123456789012/global/{IAM_OP}"]
    assert not (tmp_path / "nodes" / "IAMRole" / f"{sid}.csv").exists()


@pytest.mark.slow
def test_instance_privileges_in_neo4j(managed_neo4j: ManagedNeo4j, out: Path) -> None:
    """The fixture bulk-imported into the real server: instance -> profile -> role ->
    policy ARNs, typed as declared."""
    managed_neo4j.start()  # no-op when running
    managed_neo4j.stop()  # the import moves the new store in, no staging server beside it
    summary = bulk_import(out, managed_neo4j.home, settings=import_settings())
    assert summary.snapshots == [SID] and summary.report_lines == 0
    managed_neo4j.start()
    got = managed_neo4j.run(
        "MATCH (i:Instance)-[:HAS_INSTANCE_PROFILE]->(p:InstanceProfile) "
        "OPTIONAL MATCH (p)-[:HAS_ROLE]->(r:IAMRole) "
        "RETURN i.id AS id, i.imds_v1_allowed AS imds, p.name AS profile, p.stub AS stub, "
        "r.name AS role, r.managed_policy_arns AS managed, r.inline_policy_names AS inline, "
        "valueType(r.managed_policy_arns) AS type ORDER BY id"
    )
    assert got == [
        {
            "id": "i-batch",
            "imds": False,
            "profile": "batch",
            "stub": None,
            "role": "batch",
            "managed": None,
            "inline": None,
            "type": "NULL",
        },
        {
            "id": "i-legacy",
            "imds": None,
            "profile": None,
            "stub": True,
            "role": None,
            "managed": None,
            "inline": None,
            "type": "NULL",
        },
        {
            "id": "i-web",
            "imds": True,
            "profile": "web",
            "stub": None,
            "role": "web",
            "managed": [
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ],
            "inline": ["assets-bucket", "write-logs"],
            "type": "LIST<STRING NOT NULL> NOT NULL",
        },
    ]
    [trust] = managed_neo4j.run(
        "MATCH (r:IAMRole {name: 'web'}) RETURN r.trust_policy AS text, keys(r) AS keys"
    )
    assert json.loads(trust["text"]) == EC2_TRUST
    assert "region" not in trust["keys"] and "account_id" not in trust["keys"]
    [regions] = managed_neo4j.run("MATCH (r:Region) RETURN collect(r.name) AS names")
    assert regions["names"] == ["us-east-1"]
    forwards = managed_neo4j.run(
        "MATCH (:LoadBalancer {name: 'web'})-[:HAS_LISTENER]->(l:Listener)"
        "-[:FORWARDS_TO]->(t:TargetGroup) RETURN l.port AS port, t.name AS tg ORDER BY port, tg"
    )
    assert forwards == [
        {"port": 443, "tg": "blue"},
        {"port": 8443, "tg": "canary"},
        {"port": 8443, "tg": "green"},
    ]
