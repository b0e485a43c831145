"""A realistic little AWS estate in moto, for every area's tests.

Call `build_estate()` inside `moto.mock_aws()` (or against a moto server via `endpoint_url`).
It returns an `Estate` with the ids it created, so tests can compute what the graph must hold.

Two regions (us-east-1 and eu-west-1), one VPC each (peered across regions) with two subnets,
instances running / stopped / terminated, security groups with IPv4, IPv6, group-to-group and
prefix-list rules (ingress and egress), tags, two RDS instances (one unencrypted, one
publicly accessible), an application load balancer (instance and lambda target groups) and a
network load balancer (ip target group).

moto versus real AWS: moto keeps VpcId/SubnetId/PrivateIpAddress/network interfaces on a
terminated instance, real AWS drops them. `realistic_session_factory` adds a botocore
`after-call` hook that strips them the way AWS does, so collections from moto look like real
ones. It is test scaffolding only: the collector itself stores what the API returned.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT_ID = "123456789012"  # moto's default account
REGIONS = ("us-east-1", "eu-west-1")
AMI = "ami-12c6146b"  # a moto built-in image in every region

#: what real AWS leaves off a terminated instance
_TERMINATED_DROP = (
    "VpcId",
    "SubnetId",
    "PrivateIpAddress",
    "PublicIpAddress",
    "NetworkInterfaces",
    "SecurityGroups",
)


@dataclass
class RegionIds:
    vpc: str = ""
    subnets: list[str] = field(default_factory=list)
    sg_web: str = ""
    sg_db: str = ""
    instances: dict[str, str] = field(default_factory=dict)  # name tag -> instance id
    states: dict[str, str] = field(default_factory=dict)  # instance id -> expected state
    private_ips: dict[str, str] = field(default_factory=dict)  # instance id -> private ip
    db_instances: list[str] = field(default_factory=list)
    load_balancers: dict[str, str] = field(default_factory=dict)  # name -> arn
    target_groups: dict[str, str] = field(default_factory=dict)  # name -> arn
    targets: dict[str, list[str]] = field(default_factory=dict)  # tg name -> target ids
    lambda_arn: str = ""


@dataclass
class Estate:
    account_id: str
    regions: dict[str, RegionIds]
    peering: str = ""

    @property
    def instance_ids(self) -> list[str]:
        return sorted(i for r in self.regions.values() for i in r.instances.values())


def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    session: Any = boto3.session.Session(region_name=region)  # stubs type literal names only
    return session.client(service, region_name=region, endpoint_url=endpoint_url)


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buf.getvalue()


def _region(region: str, cidr_base: int, endpoint_url: str | None) -> RegionIds:
    ids = RegionIds()
    ec2 = _client("ec2", region, endpoint_url)
    vpc = ec2.create_vpc(CidrBlock=f"10.{cidr_base}.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=_tags(Name=f"main-{region}", env="prod"))
    ids.vpc = vpc
    for n, az in enumerate(("a", "b")):
        sub = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.{cidr_base}.{n}.0/24", AvailabilityZone=f"{region}{az}"
        )["Subnet"]["SubnetId"]
        ids.subnets.append(sub)
    pl = ec2.create_managed_prefix_list(
        PrefixListName=f"office-{region}",
        AddressFamily="IPv4",
        MaxEntries=5,
        Entries=[{"Cidr": "198.51.100.0/24", "Description": "office"}],
    )["PrefixList"]["PrefixListId"]
    web = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    db = ec2.create_security_group(GroupName="db", Description="database tier", VpcId=vpc)[
        "GroupId"
    ]
    ids.sg_web, ids.sg_db = web, db
    ec2.create_tags(Resources=[web], Tags=_tags(Name="web"))
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https from anywhere"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "PrefixListIds": [{"PrefixListId": pl, "Description": "ssh from office"}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": web, "Description": "app to db"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": f"10.{cidr_base}.0.0/16"}],
            },
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": pl}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
            }
        ],
    )

    def launch(name: str, subnet: str, groups: list[str], **tags: str) -> str:
        inst = ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=subnet,
            SecurityGroupIds=groups,
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Name=name, **tags)}],
        )["Instances"][0]
        ids.instances[name] = inst["InstanceId"]
        ids.private_ips[inst["InstanceId"]] = inst["PrivateIpAddress"]
        ids.states[inst["InstanceId"]] = "running"
        return str(inst["InstanceId"])

    web1 = launch(f"web-1-{region}", ids.subnets[0], [web], owner="alice", role="web")
    web2 = launch(f"web-2-{region}", ids.subnets[1], [web], owner="alice", role="web")
    dbhost = launch(f"db-1-{region}", ids.subnets[1], [db], owner="bob", role="database")
    old = launch(f"old-{region}", ids.subnets[0], [web], owner="carol", role="batch")
    stopped = launch(f"idle-{region}", ids.subnets[0], [web], owner="carol", role="batch")
    ec2.terminate_instances(InstanceIds=[old])
    ids.states[old] = "terminated"
    ec2.stop_instances(InstanceIds=[stopped])
    ids.states[stopped] = "stopped"

    rds = _client("rds", region, endpoint_url)
    rds.create_db_subnet_group(
        DBSubnetGroupName="main",
        DBSubnetGroupDescription="main",
        SubnetIds=ids.subnets,
    )
    for name, encrypted, public in (("orders-db", False, False), ("reports-db", True, True)):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{region}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-123",
            AllocatedStorage=20,
            DBSubnetGroupName="main",
            VpcSecurityGroupIds=[db],
            StorageEncrypted=encrypted,
            PubliclyAccessible=public,
            DBName="app",
        )
        ids.db_instances.append(f"{name}-{region}")

    iam = _client("iam", region, endpoint_url)
    role_name = f"lambda-{region}"
    role_arn = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    lam = _client("lambda", region, endpoint_url)
    ids.lambda_arn = lam.create_function(
        FunctionName=f"hook-{region}",
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": _lambda_zip()},
    )["FunctionArn"]

    elb = _client("elbv2", region, endpoint_url)
    alb = elb.create_load_balancer(
        Name=f"web-{region}",
        Subnets=ids.subnets,
        SecurityGroups=[web],
        Scheme="internet-facing",
        Type="application",
        Tags=_tags(owner="alice"),
    )["LoadBalancers"][0]["LoadBalancerArn"]
    nlb = elb.create_load_balancer(
        Name=f"db-{region}", Subnets=ids.subnets, Scheme="internal", Type="network"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    ids.load_balancers = {f"web-{region}": alb, f"db-{region}": nlb}
    tg_web = elb.create_target_group(
        Name=f"web-{region}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    tg_hook = elb.create_target_group(Name=f"hook-{region}", TargetType="lambda")["TargetGroups"][
        0
    ]["TargetGroupArn"]
    tg_db = elb.create_target_group(
        Name=f"db-{region}", Protocol="TCP", Port=5432, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    ids.target_groups = {f"web-{region}": tg_web, f"hook-{region}": tg_hook, f"db-{region}": tg_db}
    elb.register_targets(TargetGroupArn=tg_web, Targets=[{"Id": web1}, {"Id": web2}])
    elb.register_targets(TargetGroupArn=tg_hook, Targets=[{"Id": ids.lambda_arn}])
    db_ip = ids.private_ips[dbhost]
    elb.register_targets(TargetGroupArn=tg_db, Targets=[{"Id": db_ip, "Port": 5432}])
    ids.targets = {
        f"web-{region}": sorted([web1, web2]),
        f"hook-{region}": [ids.lambda_arn],
        f"db-{region}": [db_ip],
    }
    elb.create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_web}],
    )
    elb.create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_hook}],
    )
    elb.create_listener(
        LoadBalancerArn=nlb,
        Protocol="TCP",
        Port=5432,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_db}],
    )
    return ids


def build_estate(endpoint_url: str | None = None) -> Estate:
    """Create the estate (inside `mock_aws()`, or on a moto server at `endpoint_url`)."""
    regions = {region: _region(region, 10 + n, endpoint_url) for n, region in enumerate(REGIONS)}
    a, b = REGIONS
    ec2 = _client("ec2", a, endpoint_url)
    peering = ec2.create_vpc_peering_connection(
        VpcId=regions[a].vpc, PeerVpcId=regions[b].vpc, PeerRegion=b
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    _client("ec2", b, endpoint_url).accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    ec2.create_tags(Resources=[peering], Tags=_tags(Name="us-eu"))
    return Estate(account_id=ACCOUNT_ID, regions=regions, peering=peering)


def _strip_terminated(parsed: dict[str, Any], **_: Any) -> None:
    for reservation in parsed.get("Reservations", []):
        for inst in reservation.get("Instances", []):
            if inst.get("State", {}).get("Name") == "terminated":
                for key in _TERMINATED_DROP:
                    inst.pop(key, None)
                inst["PrivateDnsName"] = ""
                inst["PublicDnsName"] = ""


def realistic_session_factory(**kwargs: Any) -> Any:
    """boto3 sessions whose DescribeInstances answers look like real AWS (see module doc)."""
    session = boto3.session.Session(**kwargs)
    session.events.register("after-call.ec2.DescribeInstances", _strip_terminated)
    return session
