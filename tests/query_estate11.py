"""A graph model 1.1 estate for the 1.1 queries, alerts and diff (tests/test_query_graph11.py).

Raw API responses in boto3's shapes, written by the product's snapshot writer, transformed and
bulk-imported by the product's own code (`QueryGraphs` of tests/query_estate.py).

Account 111111111111, us-east-1. Three snapshots:
- S0 (March) is a snapshot format 1.0 archive: the 1.0 operations only, so network
  interfaces, routes, ACLs, Lambda and IAM are unknown there;
- S1 (April) and S2 (May) are 1.1. Between them 10.20.1.50 moves from i-move1 (eni-m1) to
  i-move2 (eni-m2).

vpc-n (10.20.0.0/16 and 2600:1f18::/56), igw-1 attached, four subnets:
- subnet-pub: rtb-pub (explicit) routes 0.0.0.0/0 and ::/0 to igw-1; acl-pub allows
  everything from both (100, 101) and denies tcp/3389 from 10.0.0.0/8 at 120 (shadowed);
- subnet-acl: rtb-pub too; acl-strict denies tcp/22 from 0.0.0.0/0 at 90 and tcp/8000-8049
  at 95, allows tcp/0-65535 at 100, allows tcp/22 at 110 (shadowed by 90);
- subnet-nat: rtb-nat (explicit) routes 0.0.0.0/0 to nat-1 only;
- subnet-priv: no association: the main table rtb-main, whose only route goes to a transit
  gateway.
Every subnet but subnet-acl uses acl-pub.

Instances (sg-open: tcp/22 and tcp/443 from 0.0.0.0/0, tcp/443 from ::/0; sg-v6: tcp/80
from ::/0 only):
- i-pub (subnet-pub, 54.1.1.1 and 2600:1f18::10, sg-open): reachable from both ranges;
- i-priv (subnet-priv, Elastic IP 54.1.1.2 on its interface, sg-open): no route to an IGW;
- i-nat (subnet-nat, no public address, sg-open): NAT only;
- i-acl (subnet-acl, 54.1.1.4, sg-open and on its interface sg-range: tcp/8000-8100):
  reachable on 443 and 8050-8100, not on 22 (ACL deny 90 < 100) nor 8000-8049 (deny 95);
- i-sec (subnet-pub): its primary interface has no public address, its secondary eni-sec1
  (device 1, sg-open) has 54.1.1.5;
- i-v6 (subnet-pub, IPv6 2600:1f18::20 only, sg-v6): reachable from ::/0 on 80;
- i-enisg (subnet-pub, 54.1.1.7): lists no group itself, its interface is in sg-open;
- i-twin in vpc-m holds 10.20.1.10 as i-pub does in vpc-n (private addresses repeat);
- i-move1 (S0, S1) / i-move2 (S2): 10.20.1.50 in subnet-priv.
Other owners of addresses: nat-1 (10.20.1.9, 3.3.3.3), alb-n (10.20.1.30, internal), the
Lambda fn1 (10.20.2.40), the RDS db-n (10.20.2.50, sg-db), a VPC endpoint (10.20.2.60).
i-pub has instance profile prof-web with role web-role; i-pub and i-acl allow IMDSv1.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bulkgraph.extract.writer import SnapshotWriter

ACCOUNT = "111111111111"
REGION = "us-east-1"
S0, S1, S2 = "20260301T000000Z", "20260401T000000Z", "20260501T000000Z"
SNAPSHOT_ORDER = [S0, S1, S2]
TAKEN = {
    S0: dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    S1: dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    S2: dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
}
ALB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/alb-n/abc123"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn1"
PROFILE_ARN = f"arn:aws:iam::{ACCOUNT}:instance-profile/prof-web"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web-role"
FN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/fn-role"

JSON = dict[str, Any]


def _any(cidr: str) -> JSON:
    return {"CidrIpv6": cidr} if ":" in cidr else {"CidrIp": cidr}


def _rule(port: int, *cidrs: str, to: int | None = None) -> JSON:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": to or port,
        "IpRanges": [_any(c) for c in cidrs if ":" not in c],
        "Ipv6Ranges": [_any(c) for c in cidrs if ":" in c],
        "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }


def _groups() -> list[JSON]:
    rules = {
        "sg-open": [_rule(22, "0.0.0.0/0"), _rule(443, "0.0.0.0/0", "::/0")],
        "sg-v6": [_rule(80, "::/0")],
        "sg-db": [_rule(5432, "10.20.0.0/16")],
        "sg-alb": [_rule(443, "0.0.0.0/0")],
        "sg-range": [_rule(8000, "0.0.0.0/0", to=8100)],
    }
    return [
        {
            "GroupId": gid,
            "GroupName": gid.removeprefix("sg-"),
            "Description": gid,
            "VpcId": "vpc-n",
            "OwnerId": ACCOUNT,
            "IpPermissions": ingress,
            "IpPermissionsEgress": [],
        }
        for gid, ingress in rules.items()
    ]


#: instance -> (VPC, subnet, primary private IP, the instance's own groups, public IPv4, extra)
def _instances(n: int) -> dict[str, tuple[str, str, str, list[str], str | None, JSON]]:
    web = {
        "IamInstanceProfile": {"Arn": PROFILE_ARN, "Id": "AIPA1"},
        "MetadataOptions": {"HttpTokens": "optional"},
        "KeyName": "ops-key",
    }
    found: dict[str, tuple[str, str, str, list[str], str | None, JSON]] = {
        "i-pub": ("vpc-n", "subnet-pub", "10.20.1.10", ["sg-open"], "54.1.1.1", web),
        "i-priv": ("vpc-n", "subnet-priv", "10.20.2.10", ["sg-open"], "54.1.1.2", {}),
        "i-nat": ("vpc-n", "subnet-nat", "10.20.3.10", ["sg-open"], None, {}),
        "i-acl": (
            "vpc-n",
            "subnet-acl",
            "10.20.4.10",
            ["sg-open"],
            "54.1.1.4",
            {"MetadataOptions": {"HttpTokens": "optional"}},
        ),
        "i-sec": ("vpc-n", "subnet-pub", "10.20.1.20", ["sg-v6"], None, {}),
        "i-v6": ("vpc-n", "subnet-pub", "10.20.1.21", ["sg-v6"], None, {}),
        "i-enisg": ("vpc-n", "subnet-pub", "10.20.1.22", [], "54.1.1.7", {}),
        "i-twin": ("vpc-m", "subnet-m", "10.20.1.10", [], None, {}),
    }
    mover = "i-move2" if n == 2 else "i-move1"
    found[mover] = ("vpc-n", "subnet-priv", "10.20.1.50", [], None, {})
    return found


def _instance_records(n: int) -> list[JSON]:
    out = []
    for iid, (vpc, subnet, ip, groups, public, extra) in _instances(n).items():
        item: JSON = {
            "InstanceId": iid,
            "ImageId": "ami-1",
            "InstanceType": "t3.micro",
            "LaunchTime": "2026-01-01T00:00:00+00:00",
            "State": {"Code": 16, "Name": "running"},
            "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
            "PrivateIpAddress": ip,
            "VpcId": vpc,
            "SubnetId": subnet,
            "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in groups],
            "Tags": [{"Key": "Name", "Value": iid.removeprefix("i-")}],
        } | extra
        if public:
            item["PublicIpAddress"] = public
        out.append({"ReservationId": f"r-{iid}", "Instances": [item]})
    return out


def _eni(
    eni: str,
    subnet: str,
    ip: str,
    groups: list[str],
    *,
    public: str | None = None,
    ipv6: list[str] | None = None,
    instance: str | None = None,
    device: int = 0,
    description: str = "",
    interface_type: str = "interface",
    requester: str | None = None,
    secondary: list[str] | None = None,
) -> JSON:
    assoc = {"Association": {"PublicIp": public}} if public else {}
    item: JSON = {
        "NetworkInterfaceId": eni,
        "InterfaceType": interface_type,
        "Description": description,
        "Status": "in-use",
        "RequesterManaged": requester is not None,
        "MacAddress": "02:00:00:00:00:01",
        "PrivateIpAddress": ip,
        "SubnetId": subnet,
        "VpcId": "vpc-m" if subnet == "subnet-m" else "vpc-n",
        "OwnerId": ACCOUNT,
        "Groups": [{"GroupId": g, "GroupName": g} for g in groups],
        "PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": True} | assoc]
        + [{"PrivateIpAddress": s, "Primary": False} for s in secondary or []],
        "Ipv6Addresses": [{"Ipv6Address": a, "IsPrimaryIpv6": False} for a in ipv6 or []],
        "TagSet": [],
    } | assoc
    if requester:
        item["RequesterId"] = requester
    if instance:
        item["Attachment"] = {
            "AttachmentId": f"att-{eni}",
            "InstanceId": instance,
            "DeviceIndex": device,
            "Status": "attached",
        }
    return item


def _interfaces(n: int) -> list[JSON]:
    found = [
        _eni(
            "eni-pub",
            "subnet-pub",
            "10.20.1.10",
            ["sg-open"],
            public="54.1.1.1",
            ipv6=["2600:1f18::10"],
            instance="i-pub",
        ),
        _eni(
            "eni-priv",
            "subnet-priv",
            "10.20.2.10",
            ["sg-open"],
            public="54.1.1.2",
            instance="i-priv",
        ),
        _eni("eni-nat", "subnet-nat", "10.20.3.10", ["sg-open"], instance="i-nat"),
        _eni(
            "eni-acl",
            "subnet-acl",
            "10.20.4.10",
            ["sg-open", "sg-range"],
            public="54.1.1.4",
            instance="i-acl",
        ),
        _eni("eni-sec0", "subnet-pub", "10.20.1.20", ["sg-v6"], instance="i-sec"),
        _eni(
            "eni-sec1",
            "subnet-pub",
            "10.20.1.23",
            ["sg-open"],
            public="54.1.1.5",
            instance="i-sec",
            device=1,
        ),
        _eni(
            "eni-v6", "subnet-pub", "10.20.1.21", ["sg-v6"], ipv6=["2600:1f18::20"], instance="i-v6"
        ),
        _eni(
            "eni-enisg",
            "subnet-pub",
            "10.20.1.22",
            ["sg-open"],
            public="54.1.1.7",
            instance="i-enisg",
        ),
        _eni("eni-twin", "subnet-m", "10.20.1.10", [], instance="i-twin"),
        _eni(
            "eni-natgw",
            "subnet-pub",
            "10.20.1.9",
            [],
            public="3.3.3.3",
            description="Interface for NAT Gateway nat-1",
            interface_type="nat_gateway",
            requester="amazon-nat",
        ),
        _eni(
            "eni-alb",
            "subnet-pub",
            "10.20.1.30",
            ["sg-alb"],
            description="ELB app/alb-n/abc123",
            requester="amazon-elb",
        ),
        _eni(
            "eni-fn",
            "subnet-priv",
            "10.20.2.40",
            ["sg-db"],
            description="AWS Lambda VPC ENI-fn1-0f3e5c8a-1b2c-4d5e-8f90-123456789abc",
            interface_type="lambda",
            requester="amazon-lambda",
        ),
        _eni(
            "eni-rds",
            "subnet-priv",
            "10.20.2.50",
            ["sg-db"],
            description="RDSNetworkInterface",
            requester="amazon-rds",
        ),
        _eni(
            "eni-vpce",
            "subnet-priv",
            "10.20.2.60",
            [],
            description="VPC Endpoint Interface vpce-1",
            interface_type="vpc_endpoint",
            requester="amazon-vpce",
        ),
    ]
    mover = "i-move2" if n == 2 else "i-move1"
    found.append(
        _eni(f"eni-m{2 if n == 2 else 1}", "subnet-priv", "10.20.1.50", [], instance=mover)
    )
    return found


def _route(dest: str, **target: str) -> JSON:
    key = "DestinationIpv6CidrBlock" if ":" in dest else "DestinationCidrBlock"
    return {key: dest, "State": "active", "Origin": "CreateRoute"} | target


def _table(rtb: str, subnets: list[str], routes: list[JSON], main: bool = False) -> JSON:
    local = {"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "State": "active"}
    assoc = [
        {
            "RouteTableAssociationId": f"rtbassoc-{s}",
            "RouteTableId": rtb,
            "SubnetId": s,
            "Main": False,
        }
        for s in subnets
    ]
    if main:
        assoc.append(
            {"RouteTableAssociationId": f"rtbassoc-{rtb}", "RouteTableId": rtb, "Main": True}
        )
    return {
        "RouteTableId": rtb,
        "VpcId": "vpc-n",
        "Associations": assoc,
        "Routes": [local, *routes],
        "Tags": [],
    }


def _entry(
    number: int,
    action: str,
    cidr: str,
    protocol: str = "-1",
    ports: tuple[int, int] | None = None,
    egress: bool = False,
) -> JSON:
    entry: JSON = {
        "RuleNumber": number,
        "Protocol": protocol,
        "RuleAction": action,
        "Egress": egress,
        "Ipv6CidrBlock" if ":" in cidr else "CidrBlock": cidr,
    }
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def _acl(acl: str, subnets: list[str], entries: list[JSON], default: bool = False) -> JSON:
    fallback = [_entry(32767, "deny", "0.0.0.0/0"), _entry(32767, "deny", "::/0")]
    fallback += [
        _entry(32767, "deny", "0.0.0.0/0", egress=True),
        _entry(100, "allow", "0.0.0.0/0", egress=True),
    ]
    return {
        "NetworkAclId": acl,
        "IsDefault": default,
        "VpcId": "vpc-n",
        "Associations": [
            {"NetworkAclAssociationId": f"aclassoc-{s}", "NetworkAclId": acl, "SubnetId": s}
            for s in subnets
        ],
        "Entries": entries + fallback,
        "Tags": [],
    }


def _one(key: str, items: list[JSON]) -> list[JSON]:
    return [{"request": {}, "pages": [{key: items}]}]


def records(n: int) -> dict[str, list[JSON]]:
    """operation -> the calls of snapshot `n` (0: format 1.0, 1 and 2: 1.1)."""
    subnets = [
        {"SubnetId": s, "CidrBlock": c, "AvailabilityZone": "us-east-1a", "VpcId": v}
        for s, c, v in (
            ("subnet-pub", "10.20.1.0/24", "vpc-n"),
            ("subnet-priv", "10.20.2.0/24", "vpc-n"),
            ("subnet-nat", "10.20.3.0/24", "vpc-n"),
            ("subnet-acl", "10.20.4.0/24", "vpc-n"),
            ("subnet-m", "10.20.1.0/24", "vpc-m"),
        )
    ]
    out: dict[str, list[JSON]] = {
        "ec2:DescribeInstances": _one("Reservations", _instance_records(n)),
        "ec2:DescribeSecurityGroups": _one("SecurityGroups", _groups()),
        "ec2:DescribeVpcs": _one(
            "Vpcs",
            [
                {
                    "VpcId": "vpc-n",
                    "CidrBlock": "10.20.0.0/16",
                    "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18::/56"}],
                    "IsDefault": False,
                    "State": "available",
                },
                {
                    "VpcId": "vpc-m",
                    "CidrBlock": "10.20.0.0/16",
                    "IsDefault": False,
                    "State": "available",
                },
            ],
        ),
        "ec2:DescribeSubnets": _one("Subnets", subnets),
        "ec2:DescribeVpcPeeringConnections": _one("VpcPeeringConnections", []),
        "rds:DescribeDBInstances": _one(
            "DBInstances",
            [
                {
                    "DBInstanceIdentifier": "db-n",
                    "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db-n",
                    "DBInstanceStatus": "available",
                    "Engine": "postgres",
                    "DBSubnetGroup": {
                        "VpcId": "vpc-n",
                        "Subnets": [{"SubnetIdentifier": "subnet-priv"}],
                    },
                    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-db", "Status": "active"}],
                    "StorageEncrypted": True,
                    "PubliclyAccessible": False,
                }
            ],
        ),
        "elbv2:DescribeLoadBalancers": _one(
            "LoadBalancers",
            [
                {
                    "LoadBalancerArn": ALB_ARN,
                    "LoadBalancerName": "alb-n",
                    "DNSName": "internal-alb-n.example.com",
                    "Scheme": "internal",
                    "State": {"Code": "active"},
                    "Type": "application",
                    "VpcId": "vpc-n",
                    "SecurityGroups": ["sg-alb"],
                    "AvailabilityZones": [{"ZoneName": "us-east-1a", "SubnetId": "subnet-pub"}],
                }
            ],
        ),
        "elbv2:DescribeTargetGroups": _one("TargetGroups", []),
    }
    if n == 0:
        # format 1.0 held DescribeTargetHealth (no target group here: no call)
        return out | {"elbv2:DescribeTargetHealth": []}
    return out | {
        "elbv2:DescribeTargetHealth": [],
        "elbv2:DescribeListeners": [
            {"request": {"LoadBalancerArn": ALB_ARN}, "pages": [{"Listeners": []}]}
        ],
        "elbv2:DescribeTags": [
            {
                "request": {"ResourceArns": [ALB_ARN]},
                "pages": [{"TagDescriptions": [{"ResourceArn": ALB_ARN, "Tags": []}]}],
            }
        ],
        "ec2:DescribeNetworkInterfaces": _one("NetworkInterfaces", _interfaces(n)),
        "ec2:DescribeRouteTables": _one(
            "RouteTables",
            [
                _table(
                    "rtb-pub",
                    ["subnet-pub", "subnet-acl"],
                    [_route("0.0.0.0/0", GatewayId="igw-1"), _route("::/0", GatewayId="igw-1")],
                ),
                _table("rtb-nat", ["subnet-nat"], [_route("0.0.0.0/0", NatGatewayId="nat-1")]),
                _table("rtb-main", [], [_route("0.0.0.0/0", TransitGatewayId="tgw-1")], main=True),
            ],
        ),
        "ec2:DescribeInternetGateways": _one(
            "InternetGateways",
            [
                {
                    "InternetGatewayId": "igw-1",
                    "Attachments": [{"VpcId": "vpc-n", "State": "available"}],
                    "Tags": [],
                }
            ],
        ),
        "ec2:DescribeNatGateways": _one(
            "NatGateways",
            [
                {
                    "NatGatewayId": "nat-1",
                    "State": "available",
                    "ConnectivityType": "public",
                    "SubnetId": "subnet-pub",
                    "VpcId": "vpc-n",
                    "NatGatewayAddresses": [
                        {
                            "PrivateIp": "10.20.1.9",
                            "PublicIp": "3.3.3.3",
                            "NetworkInterfaceId": "eni-natgw",
                            "IsPrimary": True,
                        }
                    ],
                }
            ],
        ),
        "ec2:DescribeNetworkAcls": _one(
            "NetworkAcls",
            [
                _acl(
                    "acl-pub",
                    ["subnet-pub", "subnet-priv", "subnet-nat"],
                    [
                        _entry(100, "allow", "0.0.0.0/0"),
                        _entry(101, "allow", "::/0"),
                        _entry(120, "deny", "10.0.0.0/8", "6", (3389, 3389)),
                    ],
                    default=True,
                ),
                _acl(
                    "acl-strict",
                    ["subnet-acl"],
                    [
                        _entry(90, "deny", "0.0.0.0/0", "6", (22, 22)),
                        _entry(95, "deny", "0.0.0.0/0", "6", (8000, 8049)),
                        _entry(100, "allow", "0.0.0.0/0", "6", (0, 65535)),
                        _entry(110, "allow", "0.0.0.0/0", "6", (22, 22)),
                    ],
                ),
            ],
        ),
        "lambda:ListFunctions": _one(
            "Functions",
            [
                {
                    "FunctionName": "fn1",
                    "FunctionArn": FN_ARN,
                    "Runtime": "python3.12",
                    "Role": FN_ROLE_ARN,
                    "VpcConfig": {
                        "SubnetIds": ["subnet-priv"],
                        "SecurityGroupIds": ["sg-db"],
                        "VpcId": "vpc-n",
                    },
                },
                {
                    "FunctionName": "fn-out",
                    "FunctionArn": FN_ARN + "-out",
                    "Runtime": "nodejs20.x",
                    "Role": FN_ROLE_ARN,
                },
            ],
        ),
    }


IAM = [
    {
        "request": {"Filter": ["Role"]},
        "pages": [
            {
                "RoleDetailList": [
                    {
                        "Arn": ROLE_ARN,
                        "RoleName": "web-role",
                        "Path": "/",
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "ec2.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ],
                        },
                        "AttachedManagedPolicies": [
                            {
                                "PolicyName": "AmazonS3ReadOnlyAccess",
                                "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                            }
                        ],
                        "RolePolicyList": [{"PolicyName": "write-logs", "PolicyDocument": {}}],
                        "InstanceProfileList": [
                            {"Arn": PROFILE_ARN, "InstanceProfileName": "prof-web"}
                        ],
                    }
                ]
            }
        ],
    }
]


def write_snapshot(out: Path, snapshot_id: str) -> Path:
    n = SNAPSHOT_ORDER.index(snapshot_id)
    writer = SnapshotWriter(out, snapshot_id, TAKEN[snapshot_id])
    for operation, calls in records(n).items():
        writer.write(operation, ACCOUNT, REGION, calls)
    if n > 0:
        writer.write("iam:GetAccountAuthorizationDetails", ACCOUNT, "global", IAM)
    writer.finish({ACCOUNT: [REGION]}, [], TAKEN[snapshot_id] + dt.timedelta(minutes=1))
    return writer.folder
