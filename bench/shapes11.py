"""The resources of snapshot format 1.1 in the exact shape boto3 returns them: network
interfaces, route tables, internet and NAT gateways, network ACLs, listeners, Lambda
functions and IAM roles (graph model 1.1).

As in `shapes.py`, every function draws from the `random.Random` it is given and from nothing
else. The estate gives these a generator of their own (`Estate.rng11`), so that the resources
of format 1 are drawn exactly as before the 1.1 families existed.
"""

from __future__ import annotations

import json
import random
from datetime import datetime

from bench.shapes import JSON, hexid, iso, private_dns, public_dns, tags

LAMBDA_RUNTIMES = ["python3.12", "python3.11", "nodejs20.x", "nodejs18.x", "java21", "go1.x"]
SSL_POLICIES = ["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-2016-08"]
#: AWS managed policies an EC2 or Lambda role commonly has
MANAGED_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
    "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]
LAMBDA_POLICIES = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
]
INLINE_ACTIONS = [
    ["s3:GetObject", "s3:PutObject"],
    ["ssm:GetParameter", "ssm:GetParametersByPath"],
    ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
    ["kms:Decrypt"],
    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
]


def upper_id(rng: random.Random, prefix: str) -> str:
    """An IAM-style unique id: AROA..., AIPA..."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(rng.choice(alphabet) for _ in range(17))


def uuid(rng: random.Random) -> str:
    h = hexid(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mac(rng: random.Random) -> str:
    h = hexid(rng, 10)
    return "02:" + ":".join(h[i : i + 2] for i in range(0, 10, 2))


def association(
    region: str, public_ip: str, owner: str, allocation: tuple[str, str] | None = None
) -> JSON:
    """The public address of an interface: AWS's own (`owner` `amazon`, `amazon-elb`), or an
    Elastic IP of the account (`allocation` = its allocation and association ids)."""
    item: JSON = {}
    if allocation is not None:
        item["AllocationId"], item["AssociationId"] = allocation
    item["IpOwnerId"] = owner
    item["PublicDnsName"] = public_dns(region, public_ip)
    item["PublicIp"] = public_ip
    return item


def network_interface(
    rng: random.Random,
    *,
    account: str,
    region: str,
    eni_id: str,
    subnet: JSON,
    private_ip: str,
    description: str,
    interface_type: str = "interface",
    requester: str | None = None,
    groups: list[JSON] | None = None,
) -> JSON:
    """An interface without attachment or public address (`attach`, `set_public` add them)."""
    item: JSON = {
        "AvailabilityZone": subnet["AvailabilityZone"],
        "Description": description,
        "Groups": groups or [],
        "InterfaceType": interface_type,
        "Ipv6Addresses": [],
        "MacAddress": mac(rng),
        "NetworkInterfaceId": eni_id,
        "OwnerId": account,
        "PrivateDnsName": private_dns(region, private_ip),
        "PrivateIpAddress": private_ip,
        "PrivateIpAddresses": [
            {
                "Primary": True,
                "PrivateDnsName": private_dns(region, private_ip),
                "PrivateIpAddress": private_ip,
            }
        ],
    }
    if requester is not None:
        item["RequesterId"] = requester
    item.update(
        {
            "RequesterManaged": requester is not None,
            "SourceDestCheck": True,
            "Status": "in-use",
            "SubnetId": subnet["SubnetId"],
            "TagSet": [],
            "VpcId": subnet["VpcId"],
        }
    )
    return item


def attachment(rng: random.Random, account: str, instance_id: str, index: int, at: str) -> JSON:
    return {
        "AttachTime": at,
        "AttachmentId": "eni-attach-" + hexid(rng),
        "DeleteOnTermination": index == 0,
        "DeviceIndex": index,
        "NetworkCardIndex": 0,
        "InstanceId": instance_id,
        "InstanceOwnerId": account,
        "Status": "attached",
    }


def set_public(item: JSON, public: JSON | None) -> None:
    """Give the interface's primary address the public address `public`, or take it away."""
    first = item["PrivateIpAddresses"][0]
    if public is None:
        item.pop("Association", None)
        first.pop("Association", None)
    else:
        item["Association"] = public
        first["Association"] = public


def internet_gateway(igw_id: str, account: str, vpc_id: str, attached: bool, name: str) -> JSON:
    return {
        "Attachments": [{"State": "available", "VpcId": vpc_id}] if attached else [],
        "InternetGatewayId": igw_id,
        "OwnerId": account,
        "Tags": tags({"Name": name}),
    }


def nat_gateway(
    rng: random.Random,
    *,
    nat_id: str,
    subnet: JSON,
    eni_id: str,
    private_ip: str,
    public_ip: str,
    allocation: tuple[str, str],
    created: datetime,
    name: str,
) -> JSON:
    return {
        "CreateTime": iso(created),
        "NatGatewayAddresses": [
            {
                "AllocationId": allocation[0],
                "NetworkInterfaceId": eni_id,
                "PrivateIp": private_ip,
                "PublicIp": public_ip,
                "AssociationId": allocation[1],
                "IsPrimary": True,
                "Status": "succeeded",
            }
        ],
        "NatGatewayId": nat_id,
        "State": "available",
        "SubnetId": subnet["SubnetId"],
        "VpcId": subnet["VpcId"],
        "Tags": tags({"Name": name}),
        "ConnectivityType": "public",
    }


def route(destination: str, target_key: str | None, target: str, state: str = "active") -> JSON:
    """A route; `target_key` None is the table's `local` route."""
    item: JSON = {}
    if destination.startswith("pl-"):
        item["DestinationPrefixListId"] = destination
    else:
        item["DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"] = (
            destination
        )
    if target_key is None:
        item["GatewayId"] = "local"
        item["Origin"] = "CreateRouteTable"
    else:
        item[target_key] = target
        item["Origin"] = "CreateRoute"
    item["State"] = state
    return item


def route_table(
    rng: random.Random,
    *,
    rtb_id: str,
    account: str,
    vpc_id: str,
    vpc_cidr: str,
    main: bool,
    subnet_ids: list[str],
    name: str,
) -> JSON:
    associations: list[JSON] = []
    if main:
        associations.append(
            {
                "Main": True,
                "RouteTableAssociationId": "rtbassoc-" + hexid(rng),
                "RouteTableId": rtb_id,
                "AssociationState": {"State": "associated"},
            }
        )
    for subnet_id in subnet_ids:
        associations.append(
            {
                "Main": False,
                "RouteTableAssociationId": "rtbassoc-" + hexid(rng),
                "RouteTableId": rtb_id,
                "SubnetId": subnet_id,
                "AssociationState": {"State": "associated"},
            }
        )
    return {
        "Associations": associations,
        "PropagatingVgws": [],
        "RouteTableId": rtb_id,
        "Routes": [route(vpc_cidr, None, "local")],
        "Tags": tags({"Name": name}),
        "VpcId": vpc_id,
        "OwnerId": account,
    }


def acl_entry(
    number: int,
    action: str,
    cidr: str,
    *,
    egress: bool,
    protocol: str = "-1",
    ports: tuple[int, int] | None = None,
) -> JSON:
    item: JSON = {"Ipv6CidrBlock" if ":" in cidr else "CidrBlock": cidr, "Egress": egress}
    if ports is not None:
        item["PortRange"] = {"From": ports[0], "To": ports[1]}
    item.update({"Protocol": protocol, "RuleAction": action, "RuleNumber": number})
    return item


def network_acl(
    rng: random.Random,
    *,
    acl_id: str,
    account: str,
    vpc_id: str,
    default: bool,
    subnet_ids: list[str],
    entries: list[JSON],
    name: str | None,
) -> JSON:
    # AWS lists the default rule (32767: deny everything) of each direction last
    closing = [acl_entry(32767, "deny", "0.0.0.0/0", egress=e) for e in (True, False)]
    return {
        "Associations": [
            {
                "NetworkAclAssociationId": "aclassoc-" + hexid(rng),
                "NetworkAclId": acl_id,
                "SubnetId": subnet_id,
            }
            for subnet_id in subnet_ids
        ],
        "Entries": sorted([*entries, *closing], key=lambda e: (not e["Egress"], e["RuleNumber"])),
        "IsDefault": default,
        "NetworkAclId": acl_id,
        "Tags": tags({"Name": name}) if name else [],
        "VpcId": vpc_id,
        "OwnerId": account,
    }


def forward(target_groups: list[str], weights: list[int]) -> JSON:
    """A forward action, as AWS describes it: one target group also as `TargetGroupArn`."""
    action: JSON = {"Type": "forward"}
    if len(target_groups) == 1:
        action["TargetGroupArn"] = target_groups[0]
    action["ForwardConfig"] = {
        "TargetGroups": [
            {"TargetGroupArn": arn, "Weight": weight}
            for arn, weight in zip(target_groups, weights, strict=True)
        ],
        "TargetGroupStickinessConfig": {"Enabled": False},
    }
    return action


def listener(
    rng: random.Random,
    *,
    lb_arn: str,
    port: int,
    protocol: str,
    actions: list[JSON],
    account: str,
    region: str,
) -> JSON:
    tail = lb_arn.split(":loadbalancer/", 1)[1]
    item: JSON = {
        "ListenerArn": (
            f"arn:aws:elasticloadbalancing:{region}:{account}:listener/{tail}/{hexid(rng, 16)}"
        ),
        "LoadBalancerArn": lb_arn,
        "Port": port,
        "Protocol": protocol,
    }
    if protocol in ("HTTPS", "TLS"):
        item["Certificates"] = [
            {"CertificateArn": f"arn:aws:acm:{region}:{account}:certificate/{uuid(rng)}"}
        ]
        item["SslPolicy"] = rng.choice(SSL_POLICIES)
    item["DefaultActions"] = [{**a, "Order": n + 1} for n, a in enumerate(actions)]
    if protocol in ("HTTPS", "TLS"):
        item["AlpnPolicy"] = ["HTTP2Preferred"] if protocol == "TLS" else []
    return item


def lambda_function(
    rng: random.Random,
    *,
    arn: str,
    role_arn: str,
    vpc: JSON | None,
    modified: datetime,
) -> JSON:
    """`vpc`: {SubnetIds, SecurityGroupIds, VpcId} of a function in a VPC, else None."""
    runtime = rng.choice(LAMBDA_RUNTIMES)
    item: JSON = {
        "FunctionName": arn.rsplit(":", 1)[1],
        "FunctionArn": arn,
        "Runtime": runtime,
        "Role": role_arn,
        "Handler": "index.handler" if runtime.startswith("nodejs") else "app.handler",
        "CodeSize": rng.randrange(2_000, 40_000_000),
        "Description": "",
        "Timeout": rng.choice([3, 10, 30, 60, 300, 900]),
        "MemorySize": rng.choice([128, 256, 512, 1024, 2048]),
        "LastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "CodeSha256": hexid(rng, 43),
        "Version": "$LATEST",
    }
    if vpc is not None:
        item["VpcConfig"] = {**vpc, "Ipv6AllowedForDualStack": False}
    item.update(
        {
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": uuid(rng),
            "PackageType": "Zip",
            "Architectures": [rng.choice(["x86_64", "arm64"])],
            "EphemeralStorage": {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {
                "LogFormat": "Text",
                "LogGroup": f"/aws/lambda/{arn.rsplit(':', 1)[1]}",
            },
        }
    )
    return item


def trust(service: str) -> JSON:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def inline_policy(rng: random.Random, name: str) -> JSON:
    actions = rng.choice(INLINE_ACTIONS)
    resource = "*" if rng.random() < 0.3 else f"arn:aws:{actions[0].split(':')[0]}:::{name}/*"
    return {
        "PolicyName": name,
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        },
    }


def role(
    rng: random.Random,
    *,
    account: str,
    name: str,
    path: str,
    service: str,
    managed: list[str],
    inline: list[JSON],
    profile: bool,
    created: datetime,
) -> JSON:
    """A `RoleDetailList` element; `profile`: the role has an instance profile of its name."""
    arn = f"arn:aws:iam::{account}:role{path}{name}"
    role_id = upper_id(rng, "AROA")
    document = trust(service)
    item: JSON = {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id,
        "Arn": arn,
        "CreateDate": iso(created),
        "AssumeRolePolicyDocument": document,
        "InstanceProfileList": [],
        "RolePolicyList": inline,
        "AttachedManagedPolicies": [
            {"PolicyName": p.rsplit("/", 1)[1], "PolicyArn": p} for p in managed
        ],
        "Tags": [],
        "RoleLastUsed": {},
    }
    if profile:
        item["InstanceProfileList"] = [
            {
                "Path": path,
                "InstanceProfileName": name,
                "InstanceProfileId": upper_id(rng, "AIPA"),
                "Arn": profile_arn(account, path, name),
                "CreateDate": iso(created),
                "Roles": [
                    {
                        "Path": path,
                        "RoleName": name,
                        "RoleId": role_id,
                        "Arn": arn,
                        "CreateDate": iso(created),
                        "AssumeRolePolicyDocument": json.loads(json.dumps(document)),
                    }
                ],
                "Tags": [],
            }
        ]
    return item


def profile_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:instance-profile{path}{name}"
