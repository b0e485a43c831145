"""Single resources in the exact shape boto3 returns them (timestamps already ISO strings).

Every function draws from the `random.Random` it is given and from nothing else, so an
estate built from one seed is always the same estate.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

JSON = dict[str, Any]

STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

INSTANCE_TYPES = [
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t3.large",
    "m5.large",
    "m5.xlarge",
    "m6i.large",
    "m6i.2xlarge",
    "c5.xlarge",
    "c6g.large",
    "r5.large",
    "r6i.xlarge",
]
TEAMS = ["payments", "search", "platform", "data", "identity", "mobile", "ads", "infra"]
APPS = ["api", "web", "worker", "cache", "etl", "gateway", "scheduler", "indexer", "auth"]
ENVS = ["prod", "staging", "dev", "qa"]
COST_CENTERS = [f"cc-{n:04d}" for n in range(1000, 1040)]
#: Where a changed tag takes its new value from, by key.
TAG_VALUES = {
    "team": TEAMS,
    "owner": TEAMS,
    "app": APPS,
    "env": ENVS,
    "cost-center": COST_CENTERS,
    "tier": ["public", "private", "dmz"],
}
PORTS = [22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9200, 27017, 3389, 25, 2049, 9092]
RDS_ENGINES = [
    ("postgres", ["15.4", "15.7", "16.1", "16.3"], 5432, "postgresql-license"),
    ("mysql", ["8.0.35", "8.0.36", "8.0.39"], 3306, "general-public-license"),
    ("mariadb", ["10.11.6", "10.11.8"], 3306, "general-public-license"),
]
RDS_CLASSES = ["db.t3.medium", "db.t4g.large", "db.m5.large", "db.m6g.xlarge", "db.r6g.large"]
#: Account that owns the "foreign" resources some rules and peerings point at (stubs).
FOREIGN_ACCOUNT = "999988887777"
ELB_ZONE_IDS = {"us-east-1": "Z35SXDOTRQ7X7K", "eu-west-1": "Z32O12XQLNTSW2"}
NLB_ZONE_IDS = {"us-east-1": "Z26RNL4JYFTOTI", "eu-west-1": "Z2IFOLAFXWLO4F"}


def hexid(rng: random.Random, digits: int = 17) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def iso(moment: datetime) -> str:
    """What boto3's datetimes give with `isoformat()`: always an explicit offset."""
    return moment.isoformat()


def tags(pairs: dict[str, str]) -> list[JSON]:
    return [{"Key": key, "Value": value} for key, value in pairs.items()]


def ip_text(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def ip_to_int(text: str) -> int:
    a, b, c, d = (int(part) for part in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def public_ip(rng: random.Random) -> str:
    first = rng.choice([3, 18, 34, 35, 44, 52, 54, 63, 100])
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def zone_id(region: str, letter: str) -> str:
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return f"{short}-az{ord(letter) - ord('a') + 1}"


def private_dns(region: str, ip: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    if region == "us-east-1":
        return f"{host}.ec2.internal"
    return f"{host}.{region}.compute.internal"


def public_dns(region: str, ip: str) -> str:
    host = "ec2-" + ip.replace(".", "-")
    if region == "us-east-1":
        return f"{host}.compute-1.amazonaws.com"
    return f"{host}.{region}.compute.amazonaws.com"


def vpc(rng: random.Random, account: str, vpc_id: str, cidr: str, name: str) -> JSON:
    return {
        "CidrBlock": cidr,
        "DhcpOptionsId": "dopt-" + hexid(rng),
        "State": "available",
        "VpcId": vpc_id,
        "OwnerId": account,
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-" + hexid(rng),
                "CidrBlock": cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "IsDefault": False,
        "Tags": tags({"Name": name, "env": rng.choice(ENVS)}),
    }


def subnet(
    rng: random.Random,
    account: str,
    region: str,
    vpc_id: str,
    subnet_id: str,
    cidr: str,
    az_letter: str,
    public: bool,
    name: str,
) -> JSON:
    return {
        "AvailabilityZone": region + az_letter,
        "AvailabilityZoneId": zone_id(region, az_letter),
        "AvailableIpAddressCount": rng.randrange(700, 1000),
        "CidrBlock": cidr,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": public,
        "State": "available",
        "SubnetId": subnet_id,
        "VpcId": vpc_id,
        "OwnerId": account,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Tags": tags({"Name": name, "tier": "public" if public else "private"}),
        "SubnetArn": f"arn:aws:ec2:{region}:{account}:subnet/{subnet_id}",
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
    }


def security_group(
    account: str,
    region: str,
    vpc_id: str,
    group_id: str,
    name: str,
    description: str,
    ingress: list[JSON],
    egress: list[JSON],
    tag_pairs: dict[str, str],
) -> JSON:
    group: JSON = {
        "GroupId": group_id,
        "IpPermissionsEgress": egress,
        "VpcId": vpc_id,
        "SecurityGroupArn": f"arn:aws:ec2:{region}:{account}:security-group/{group_id}",
        "OwnerId": account,
        "GroupName": name,
        "Description": description,
        "IpPermissions": ingress,
    }
    if tag_pairs:
        group["Tags"] = tags(tag_pairs)
    return group


def permission(
    protocol: str,
    from_port: int | None,
    to_port: int | None,
    *,
    cidrs: list[JSON] | None = None,
    ipv6: list[JSON] | None = None,
    groups: list[JSON] | None = None,
    prefix_lists: list[JSON] | None = None,
) -> JSON:
    rule: JSON = {"IpProtocol": protocol}
    if from_port is not None and to_port is not None:
        rule["FromPort"] = from_port
        rule["ToPort"] = to_port
    rule["UserIdGroupPairs"] = groups or []
    rule["IpRanges"] = cidrs or []
    rule["Ipv6Ranges"] = ipv6 or []
    rule["PrefixListIds"] = prefix_lists or []
    return rule


def all_traffic_egress() -> JSON:
    return permission("-1", None, None, cidrs=[{"CidrIp": "0.0.0.0/0"}])


def instance(
    rng: random.Random,
    *,
    account: str,
    region: str,
    instance_id: str,
    vpc_id: str,
    subnet_id: str,
    az: str,
    private_ip: str,
    public: str | None,
    groups: list[JSON],
    image_id: str,
    launch_time: datetime,
    name: str,
) -> JSON:
    team = rng.choice(TEAMS)
    app = rng.choice(APPS)
    item: JSON = {
        "AmiLaunchIndex": 0,
        "ImageId": image_id,
        "InstanceId": instance_id,
        "InstanceType": rng.choice(INSTANCE_TYPES),
        "KeyName": f"{team}-key",
        "LaunchTime": iso(launch_time),
        "Monitoring": {"State": "disabled"},
        "Placement": {"AvailabilityZone": az, "GroupName": "", "Tenancy": "default"},
        "PrivateDnsName": private_dns(region, private_ip),
        "PrivateIpAddress": private_ip,
        "ProductCodes": [],
        "PublicDnsName": public_dns(region, public) if public else "",
    }
    if public:
        item["PublicIpAddress"] = public
    item.update(
        {
            "State": {"Code": STATE_CODES["running"], "Name": "running"},
            "StateTransitionReason": "",
            "SubnetId": subnet_id,
            "VpcId": vpc_id,
            "Architecture": "x86_64",
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/xvda",
                    "Ebs": {
                        "AttachTime": iso(launch_time),
                        "DeleteOnTermination": True,
                        "Status": "attached",
                        "VolumeId": "vol-" + hexid(rng),
                    },
                }
            ],
            "ClientToken": "",
            "EbsOptimized": True,
            "EnaSupport": True,
            "Hypervisor": "xen",
            "RootDeviceName": "/dev/xvda",
            "RootDeviceType": "ebs",
            "SecurityGroups": groups,
            "SourceDestCheck": True,
            "Tags": tags(
                {
                    "Name": name,
                    "team": team,
                    "app": app,
                    "env": rng.choice(ENVS),
                    "cost-center": rng.choice(COST_CENTERS),
                }
            ),
            "VirtualizationType": "hvm",
            "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
            "MetadataOptions": {
                "State": "applied",
                "HttpTokens": "required",
                "HttpPutResponseHopLimit": 2,
                "HttpEndpoint": "enabled",
            },
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
        }
    )
    return item


def rds_instance(
    rng: random.Random,
    *,
    account: str,
    region: str,
    identifier: str,
    vpc_id: str,
    subnets: list[JSON],
    group_ids: list[str],
    created: datetime,
    team: str,
) -> JSON:
    engine, versions, port, license_model = rng.choice(RDS_ENGINES)
    version = rng.choice(versions)
    encrypted = rng.random() < 0.8
    az = subnets[0]["AvailabilityZone"]
    item: JSON = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": rng.choice(RDS_CLASSES),
        "Engine": engine,
        "DBInstanceStatus": "available",
        "MasterUsername": "dbadmin",
    }
    if rng.random() < 0.7:
        item["DBName"] = team.replace("-", "_")
    item["Endpoint"] = {
        "Address": f"{identifier}.c{hexid(rng, 11)}.{region}.rds.amazonaws.com",
        "Port": port,
        "HostedZoneId": "Z2R2ITUGPM61AM",
    }
    item["AllocatedStorage"] = rng.choice([20, 50, 100, 200, 500])
    # RDS reports creation times with milliseconds, unlike EC2.
    item["InstanceCreateTime"] = iso(created.replace(microsecond=rng.randrange(1000) * 1000))
    item.update(
        {
            "PreferredBackupWindow": "03:00-03:30",
            "BackupRetentionPeriod": rng.choice([1, 7, 7, 14, 35]),
            "DBSecurityGroups": [],
            "VpcSecurityGroups": [
                {"VpcSecurityGroupId": group_id, "Status": "active"} for group_id in group_ids
            ],
            "DBParameterGroups": [
                {
                    "DBParameterGroupName": f"default.{engine}{version.split('.')[0]}",
                    "ParameterApplyStatus": "in-sync",
                }
            ],
        }
    )
    item["AvailabilityZone"] = az
    item.update(
        {
            "DBSubnetGroup": {
                "DBSubnetGroupName": f"{team}-db-subnets",
                "DBSubnetGroupDescription": f"database subnets for {team}",
                "VpcId": vpc_id,
                "SubnetGroupStatus": "Complete",
                "Subnets": [
                    {
                        "SubnetIdentifier": s["SubnetId"],
                        "SubnetAvailabilityZone": {"Name": s["AvailabilityZone"]},
                        "SubnetOutpost": {},
                        "SubnetStatus": "Active",
                    }
                    for s in subnets
                ],
            },
            "PreferredMaintenanceWindow": "sun:05:00-sun:05:30",
            "PendingModifiedValues": {},
            "MultiAZ": rng.random() < 0.4,
            "EngineVersion": version,
            "AutoMinorVersionUpgrade": True,
            "ReadReplicaDBInstanceIdentifiers": [],
            "LicenseModel": license_model,
            "OptionGroupMemberships": [
                {
                    "OptionGroupName": f"default:{engine}-{version.split('.')[0]}",
                    "Status": "in-sync",
                }
            ],
            "PubliclyAccessible": rng.random() < 0.05,
            "StorageType": "gp3",
            "DbInstancePort": 0,
            "StorageEncrypted": encrypted,
        }
    )
    if encrypted:
        item["KmsKeyId"] = f"arn:aws:kms:{region}:{account}:key/{hexid(rng, 32)}"
    item.update(
        {
            "DbiResourceId": "db-" + hexid(rng, 26).upper(),
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "DomainMemberships": [],
            "CopyTagsToSnapshot": True,
            "MonitoringInterval": 0,
            "DBInstanceArn": f"arn:aws:rds:{region}:{account}:db:{identifier}",
            "IAMDatabaseAuthenticationEnabled": rng.random() < 0.3,
            "PerformanceInsightsEnabled": False,
            "DeletionProtection": rng.random() < 0.5,
            "AssociatedRoles": [],
            "TagList": tags({"team": team, "env": rng.choice(ENVS)}),
            "CustomerOwnedIpEnabled": False,
            "BackupTarget": "region",
            "NetworkType": "IPV4",
            "StorageThroughput": 125,
            "DedicatedLogVolume": False,
        }
    )
    return item


def load_balancer(
    rng: random.Random,
    *,
    account: str,
    region: str,
    name: str,
    kind: str,
    vpc_id: str,
    subnets: list[JSON],
    group_ids: list[str],
    created: datetime,
) -> JSON:
    """`kind` is `application` or `network`."""
    internet = rng.random() < 0.5
    short = "app" if kind == "application" else "net"
    tail = hexid(rng, 16)
    if kind == "application":
        prefix = "" if internet else "internal-"
        dns = f"{prefix}{name}-{rng.randrange(10**9, 10**10)}.{region}.elb.amazonaws.com"
        zone = ELB_ZONE_IDS.get(region, "Z35SXDOTRQ7X7K")
    else:
        dns = f"{name}-{tail}.elb.{region}.amazonaws.com"
        zone = NLB_ZONE_IDS.get(region, "Z26RNL4JYFTOTI")
    item: JSON = {
        "LoadBalancerArn": (
            f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{short}/{name}/{tail}"
        ),
        "DNSName": dns,
        "CanonicalHostedZoneId": zone,
        "CreatedTime": iso(created),
        "LoadBalancerName": name,
        "Scheme": "internet-facing" if internet else "internal",
        "VpcId": vpc_id,
        "State": {"Code": "active"},
        "Type": kind,
        "AvailabilityZones": [
            {
                "ZoneName": subnet["AvailabilityZone"],
                "SubnetId": subnet["SubnetId"],
                "LoadBalancerAddresses": [],
            }
            for subnet in subnets
        ],
    }
    if group_ids:
        item["SecurityGroups"] = group_ids
    item["IpAddressType"] = "ipv4"
    return item


def target_group(
    rng: random.Random,
    *,
    account: str,
    region: str,
    name: str,
    target_type: str,
    vpc_id: str,
    lb_arn: str,
    network: bool,
) -> JSON:
    arn = f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{hexid(rng, 16)}"
    if target_type == "lambda":
        return {
            "TargetGroupArn": arn,
            "TargetGroupName": name,
            "HealthCheckEnabled": False,
            "HealthCheckIntervalSeconds": 35,
            "HealthCheckTimeoutSeconds": 30,
            "HealthyThresholdCount": 5,
            "UnhealthyThresholdCount": 2,
            "HealthCheckPath": "/",
            "Matcher": {"HttpCode": "200"},
            "LoadBalancerArns": [lb_arn],
            "TargetType": "lambda",
            "IpAddressType": "ipv4",
        }
    port = rng.choice([80, 443, 8080, 8443]) if not network else rng.choice([80, 443, 6379])
    item: JSON = {
        "TargetGroupArn": arn,
        "TargetGroupName": name,
        "Protocol": "TCP" if network else "HTTP",
        "Port": port,
        "VpcId": vpc_id,
        "HealthCheckProtocol": "TCP" if network and target_type != "alb" else "HTTP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": 30,
        "HealthCheckTimeoutSeconds": 10 if network else 5,
        "HealthyThresholdCount": 5,
        "UnhealthyThresholdCount": 2,
    }
    if not network or target_type == "alb":
        item["HealthCheckPath"] = "/health"
        item["Matcher"] = {"HttpCode": "200"}
    item["LoadBalancerArns"] = [lb_arn]
    item["TargetType"] = target_type
    if not network:
        item["ProtocolVersion"] = "HTTP1"
    item["IpAddressType"] = "ipv4"
    return item


def peering(
    rng: random.Random,
    peering_id: str,
    requester: JSON,
    accepter: JSON,
    name: str,
) -> JSON:
    """`requester`/`accepter`: {VpcId, OwnerId, CidrBlock, Region}."""

    def side(info: JSON) -> JSON:
        return {
            "CidrBlock": info["CidrBlock"],
            "CidrBlockSet": [{"CidrBlock": info["CidrBlock"]}],
            "OwnerId": info["OwnerId"],
            "PeeringOptions": {
                "AllowDnsResolutionFromRemoteVpc": False,
                "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
                "AllowEgressFromLocalVpcToRemoteClassicLink": False,
            },
            "VpcId": info["VpcId"],
            "Region": info["Region"],
        }

    return {
        "AccepterVpcInfo": side(accepter),
        "RequesterVpcInfo": side(requester),
        "Status": {"Code": "active", "Message": "Active"},
        "Tags": tags({"Name": name, "owner": rng.choice(TEAMS)}),
        "VpcPeeringConnectionId": peering_id,
    }


def at(start: datetime, span: timedelta, rng: random.Random) -> datetime:
    """A whole-second moment in [start, start + span)."""
    seconds = max(1, int(span.total_seconds()))
    return start + timedelta(seconds=rng.randrange(seconds))
