"""A realistic little AWS estate in moto, for every area's tests.

Call `build_estate()` inside `moto.mock_aws()` (or against a moto server via `endpoint_url`).
It returns an `Estate` with the ids it created, so tests can compute what the graph must hold.

Two regions (us-east-1 and eu-west-1), one VPC each (peered across regions) with two subnets,
instances running / stopped / terminated, security groups with IPv4, IPv6, group-to-group and
prefix-list rules (ingress and egress), tags, two RDS instances (one unencrypted, one
publicly accessible), an application load balancer (instance and lambda target groups) and a
network load balancer (ip target group).

Snapshot format 1.1 (graph model 1.1), per region:
- routing: an internet gateway attached to the VPC; subnet 0 is public (an explicit route
  table: 0.0.0.0/0 and ::/0 to the internet gateway), subnet 1 private (the VPC's main
  table: 0.0.0.0/0 to a NAT gateway in subnet 0); the VPC and subnet 0 have IPv6 CIDRs;
- a network ACL on subnet 0 that denies tcp/22 from 0.0.0.0/0 at rule 90, below the allow
  of everything at rule 100 (subnet 1 keeps the default ACL);
- web-1: a second interface (device 1) with an Elastic IP of its own (web-1's primary
  interface has no public address) and only security group `admin`, which web-1's own
  list lacks; a secondary private IP and an IPv6 address on its primary interface; key
  pair `ops`; instance profile `web-instance` (role `web-instance`: a managed and an inline
  policy); IMDSv2 required (HttpTokens `required`); every other instance allows IMDSv1;
- the interfaces AWS makes for others (moto makes none, or a bare one): one per subnet for
  each load balancer (the ALB's with an Elastic IP), one for each RDS instance, one for the
  Lambda function (now in the VPC, subnet 1, group `lambda`), the NAT gateway's; each
  described the way AWS describes it (see `_AWS_SHAPE`);
- the ALB's listeners forward to its target groups; load balancers and target groups are
  tagged (DescribeTags); the Lambda's role has an inline policy.

moto versus real AWS: moto keeps VpcId/SubnetId/PrivateIpAddress/network interfaces on a
terminated instance, real AWS drops them. `realistic_session_factory` adds a botocore
`after-call` hook that strips them the way AWS does, so collections from moto look like real
ones. moto cannot create an interface of type `lambda` or `nat_gateway`, nor one managed by
a service: the estate tags each such interface with how AWS would describe it
(`_AWS_SHAPE`), and the same factory's hook on DescribeNetworkInterfaces applies it and
drops the tag; its hook on ListFunctions gives a function in a VPC that VPC's id (moto says
`vpc-123abc`). A terminated instance's interface is deleted (AWS deletes it, moto keeps
it). It is test scaffolding only: the collector itself stores what the API returned.
Known moto leftovers: a NAT gateway's private IP is not in its subnet's range.
"""

from __future__ import annotations

import io
import json
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
    # graph model 1.1
    sg_admin: str = ""
    sg_lambda: str = ""
    igw: str = ""
    nat: str = ""
    acl: str = ""  # the custom ACL of subnet 0
    route_tables: dict[str, str] = field(default_factory=dict)  # "main" / "public" -> id
    enis: dict[str, str] = field(default_factory=dict)  # what it is for -> interface id
    eips: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (allocation, ip)
    secondary_ip: str = ""  # web-1's secondary private IP
    ipv6: str = ""  # web-1's IPv6 address


@dataclass
class Estate:
    account_id: str
    regions: dict[str, RegionIds]
    peering: str = ""
    roles: dict[str, str] = field(default_factory=dict)  # role name -> arn
    instance_profile: str = ""  # web-instance's arn

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


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _policy(actions: list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        }
    )


#: the tag by which the estate asks `realistic_session_factory` to describe an interface as
#: AWS describes those it makes for a service: `<kind> <description>`
SHAPE_TAG = "estate:aws-shape"
#: kind -> how AWS describes such an interface (besides its description); "groups": False =
#: it has none (moto gives it the VPC's default group)
_AWS_SHAPE: dict[str, dict[str, Any]] = {
    "elb": {"InterfaceType": "interface", "RequesterId": "amazon-elb", "groups": True},
    "nlb": {
        "InterfaceType": "network_load_balancer",
        "RequesterId": "amazon-elb",
        "groups": False,
    },
    "rds": {"InterfaceType": "interface", "RequesterId": "amazon-rds", "groups": True},
    "lambda": {
        "InterfaceType": "lambda",
        "RequesterId": "AROAESTATELAMBDAROLE:lambda",
        "groups": True,
    },
    "nat": {"InterfaceType": "nat_gateway", "RequesterId": "AIDAESTATENATGATEWAY", "groups": False},
}


def _shape(ec2: Any, eni: str, kind: str, description: str) -> None:
    ec2.create_tags(Resources=[eni], Tags=_tags(**{SHAPE_TAG: f"{kind} {description}"}))


def _service_eni(ec2: Any, subnet: str, groups: list[str], kind: str, description: str) -> str:
    """An interface AWS would make for a service (a load balancer, RDS, Lambda)."""
    kwargs: dict[str, Any] = {"SubnetId": subnet, "Description": description}
    if groups:
        kwargs["Groups"] = groups
    eni = str(ec2.create_network_interface(**kwargs)["NetworkInterface"]["NetworkInterfaceId"])
    _shape(ec2, eni, kind, description)
    return eni


def _eip(ec2: Any) -> tuple[str, str]:
    address = ec2.allocate_address(Domain="vpc")
    return str(address["AllocationId"]), str(address["PublicIp"])


def terminate(ec2: Any, instance_id: str) -> None:
    """Terminate an instance as AWS does: its interfaces (deleted on termination) go too."""
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["NetworkInterfaces"]
    ec2.terminate_instances(InstanceIds=[instance_id])
    for eni in enis:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])


def _network(ec2: Any, ids: RegionIds, region: str, cidr_base: int, web1: str) -> None:
    """The routing, ACL and interfaces of graph model 1.1 (see the module doc)."""
    vpc = ids.vpc
    public, private = ids.subnets
    v6 = ec2.associate_vpc_cidr_block(VpcId=vpc, AmazonProvidedIpv6CidrBlock=True)[
        "Ipv6CidrBlockAssociation"
    ]["Ipv6CidrBlock"]
    v6_subnet = v6.replace("/56", "/64")
    ec2.associate_subnet_cidr_block(SubnetId=public, Ipv6CidrBlock=v6_subnet)

    ids.igw = ec2.create_internet_gateway(
        TagSpecifications=[
            {"ResourceType": "internet-gateway", "Tags": _tags(Name=f"igw-{region}")}
        ]
    )["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=ids.igw, VpcId=vpc)
    nat_alloc, nat_ip = _eip(ec2)
    ids.eips["nat"] = (nat_alloc, nat_ip)
    nat = ec2.create_nat_gateway(
        SubnetId=public,
        AllocationId=nat_alloc,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": _tags(Name=f"nat-{region}")}],
    )["NatGateway"]
    ids.nat = nat["NatGatewayId"]
    ids.enis["nat"] = nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]
    _shape(ec2, ids.enis["nat"], "nat", f"Interface for NAT Gateway {ids.nat}")

    # subnet 0 public (its own table), subnet 1 private (the main table, through the NAT)
    main = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=ids.nat)
    rt_public = ec2.create_route_table(
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "route-table", "Tags": _tags(Name="public")}],
    )["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_public, DestinationCidrBlock="0.0.0.0/0", GatewayId=ids.igw)
    ec2.create_route(RouteTableId=rt_public, DestinationIpv6CidrBlock="::/0", GatewayId=ids.igw)
    ec2.associate_route_table(RouteTableId=rt_public, SubnetId=public)
    ids.route_tables = {"main": main, "public": rt_public}

    # subnet 0's ACL: ssh denied (rule 90) before everything is allowed (rule 100)
    ids.acl = ec2.create_network_acl(
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": _tags(Name="public")}],
    )["NetworkAcl"]["NetworkAclId"]
    for number, action, protocol, ports, cidr, egress in (
        (90, "deny", "6", {"From": 22, "To": 22}, "0.0.0.0/0", False),
        (100, "allow", "-1", None, "0.0.0.0/0", False),
        (101, "allow", "-1", None, "::/0", False),
        (100, "allow", "-1", None, "0.0.0.0/0", True),
        (101, "allow", "-1", None, "::/0", True),
    ):
        entry: dict[str, Any] = {
            "NetworkAclId": ids.acl,
            "RuleNumber": number,
            "Protocol": protocol,
            "RuleAction": action,
            "Egress": egress,
        }
        entry["Ipv6CidrBlock" if ":" in cidr else "CidrBlock"] = cidr
        if ports:
            entry["PortRange"] = ports
        ec2.create_network_acl_entry(**entry)
    default_acl = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [public]}]
    )["NetworkAcls"][0]
    (association,) = [a for a in default_acl["Associations"] if a["SubnetId"] == public]
    ec2.replace_network_acl_association(
        AssociationId=association["NetworkAclAssociationId"], NetworkAclId=ids.acl
    )

    # web-1: a second interface with a public IP of its own and group admin only; a
    # secondary private IP and an IPv6 address on its primary interface
    admin = ec2.create_network_interface(
        SubnetId=public, Groups=[ids.sg_admin], Description="web-1 admin interface"
    )["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=admin, InstanceId=web1, DeviceIndex=1)
    ids.eips["web-1-admin"] = _eip(ec2)
    ec2.associate_address(AllocationId=ids.eips["web-1-admin"][0], NetworkInterfaceId=admin)
    ids.enis["web-1-admin"] = admin
    (primary,) = [
        eni["NetworkInterfaceId"]
        for eni in ec2.describe_network_interfaces(
            Filters=[{"Name": "attachment.instance-id", "Values": [web1]}]
        )["NetworkInterfaces"]
        if eni["Attachment"]["DeviceIndex"] == 0
    ]
    ids.enis["web-1"] = primary
    ids.secondary_ip = f"10.{cidr_base}.0.200"
    ids.ipv6 = v6_subnet.split("/")[0] + "10"
    ec2.assign_private_ip_addresses(
        NetworkInterfaceId=primary, PrivateIpAddresses=[ids.secondary_ip]
    )
    ec2.assign_ipv6_addresses(NetworkInterfaceId=primary, Ipv6Addresses=[ids.ipv6])

    # the interfaces AWS makes for the load balancers, RDS and the Lambda function
    for name, arn in ids.load_balancers.items():
        # the ALB is web-<region>; the NLB's ARN says app/ in moto too, so its name decides
        kind = "elb" if name.startswith("web-") else "nlb"
        groups = [ids.sg_web] if kind == "elb" else []
        for n, subnet in enumerate(ids.subnets):
            eni = _service_eni(
                ec2, subnet, groups, kind, "ELB " + arn.split(":loadbalancer/", 1)[1]
            )
            ids.enis[f"{name}-{n}"] = eni
            if kind == "elb":  # internet-facing: a public address in each subnet
                ids.eips[f"{name}-{n}"] = _eip(ec2)
                ec2.associate_address(
                    AllocationId=ids.eips[f"{name}-{n}"][0], NetworkInterfaceId=eni
                )
    for db in ids.db_instances:
        ids.enis[db] = _service_eni(ec2, private, [ids.sg_db], "rds", "RDSNetworkInterface")
    function = ids.lambda_arn.rsplit(":", 1)[1]
    ids.enis[function] = _service_eni(
        ec2,
        private,
        [ids.sg_lambda],
        "lambda",
        f"AWS Lambda VPC ENI-{function}-4f1b8a2e-0c3d-4e5f-9a6b-{cidr_base:012d}",
    )


def _iam(endpoint_url: str | None) -> tuple[dict[str, str], str]:
    """The roles (IAM is global: once per account) and web-1's instance profile."""
    iam = _client("iam", REGIONS[0], endpoint_url)
    orders = iam.create_policy(
        PolicyName="orders-read", PolicyDocument=_policy(["s3:GetObject"], "arn:aws:s3:::orders/*")
    )["Policy"]["Arn"]
    audit = iam.create_policy(
        PolicyName="audit-read", PolicyDocument=_policy(["ec2:Describe*", "iam:Get*"])
    )["Policy"]["Arn"]
    roles = {}
    roles["web-instance"] = iam.create_role(
        RoleName="web-instance", Path="/app/", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com")
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName="web-instance", PolicyArn=orders)
    iam.put_role_policy(
        RoleName="web-instance",
        PolicyName="ssm-parameters",
        PolicyDocument=_policy(["ssm:GetParameter"], "arn:aws:ssm:*:*:parameter/app/*"),
    )
    # a role no instance uses: managed policy only
    roles["audit"] = iam.create_role(
        RoleName="audit", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com")
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName="audit", PolicyArn=audit)
    profile = iam.create_instance_profile(InstanceProfileName="web-instance", Path="/app/")[
        "InstanceProfile"
    ]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="web-instance", RoleName="web-instance")
    return roles, str(profile)


def _region(region: str, cidr_base: int, endpoint_url: str | None, profile: str) -> RegionIds:
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
    # on web-1's second interface only: web-1's own list of groups lacks it
    ids.sg_admin = ec2.create_security_group(
        GroupName="admin", Description="admin access", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=ids.sg_admin,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}],
            }
        ],
    )
    ids.sg_lambda = ec2.create_security_group(
        GroupName="lambda", Description="functions in the VPC", VpcId=vpc
    )["GroupId"]
    ec2.create_key_pair(KeyName="ops")
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

    def launch(
        name: str, subnet: str, groups: list[str], extra: dict[str, Any] | None = None, **tags: str
    ) -> str:
        inst = ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            ClientToken=name,  # else boto3 makes a random one, and samples/ would differ
            SubnetId=subnet,
            SecurityGroupIds=groups,
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Name=name, **tags)}],
            **(extra or {}),
        )["Instances"][0]
        ids.instances[name] = inst["InstanceId"]
        ids.private_ips[inst["InstanceId"]] = inst["PrivateIpAddress"]
        ids.states[inst["InstanceId"]] = "running"
        return str(inst["InstanceId"])

    web1 = launch(
        f"web-1-{region}",
        ids.subnets[0],
        [web],
        {
            "KeyName": "ops",
            "IamInstanceProfile": {"Arn": profile},
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        },
        owner="alice",
        role="web",
    )
    web2 = launch(f"web-2-{region}", ids.subnets[1], [web], owner="alice", role="web")
    dbhost = launch(
        f"db-1-{region}", ids.subnets[1], [db], {"KeyName": "ops"}, owner="bob", role="database"
    )
    old = launch(f"old-{region}", ids.subnets[0], [web], owner="carol", role="batch")
    stopped = launch(f"idle-{region}", ids.subnets[0], [web], owner="carol", role="batch")
    terminate(ec2, old)
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
        AssumeRolePolicyDocument=_trust("lambda.amazonaws.com"),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="logs",
        PolicyDocument=_policy(["logs:CreateLogStream", "logs:PutLogEvents"]),
    )
    lam = _client("lambda", region, endpoint_url)
    ids.lambda_arn = lam.create_function(
        FunctionName=f"hook-{region}",
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": _lambda_zip()},
        VpcConfig={"SubnetIds": [ids.subnets[1]], "SecurityGroupIds": [ids.sg_lambda]},
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
        Name=f"web-{region}",
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        TargetType="instance",
        Tags=_tags(owner="alice", tier="web"),
    )["TargetGroups"][0]["TargetGroupArn"]
    tg_hook = elb.create_target_group(
        Name=f"hook-{region}", TargetType="lambda", Tags=_tags(owner="carol")
    )["TargetGroups"][0]["TargetGroupArn"]
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
    _network(ec2, ids, region, cidr_base, web1)
    return ids


def build_estate(endpoint_url: str | None = None) -> Estate:
    """Create the estate (inside `mock_aws()`, or on a moto server at `endpoint_url`)."""
    roles, profile = _iam(endpoint_url)
    regions = {
        region: _region(region, 10 + n, endpoint_url, profile) for n, region in enumerate(REGIONS)
    }
    a, b = REGIONS
    ec2 = _client("ec2", a, endpoint_url)
    peering = ec2.create_vpc_peering_connection(
        VpcId=regions[a].vpc, PeerVpcId=regions[b].vpc, PeerRegion=b
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    _client("ec2", b, endpoint_url).accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    ec2.create_tags(Resources=[peering], Tags=_tags(Name="us-eu"))
    # each main table routes the peer VPC's range through the peering
    for here, peer_base in ((a, 11), (b, 10)):
        _client("ec2", here, endpoint_url).create_route(
            RouteTableId=regions[here].route_tables["main"],
            DestinationCidrBlock=f"10.{peer_base}.0.0/16",
            VpcPeeringConnectionId=peering,
        )
    for region in REGIONS:
        roles[f"lambda-{region}"] = f"arn:aws:iam::{ACCOUNT_ID}:role/lambda-{region}"
    return Estate(
        account_id=ACCOUNT_ID,
        regions=regions,
        peering=peering,
        roles=roles,
        instance_profile=profile,
    )


def _strip_terminated(parsed: dict[str, Any], **_: Any) -> None:
    for reservation in parsed.get("Reservations", []):
        for inst in reservation.get("Instances", []):
            if inst.get("State", {}).get("Name") == "terminated":
                for key in _TERMINATED_DROP:
                    inst.pop(key, None)
                inst["PrivateDnsName"] = ""
                inst["PublicDnsName"] = ""


def _aws_shaped(parsed: dict[str, Any], **_: Any) -> None:
    for eni in parsed.get("NetworkInterfaces", []):
        tags = eni.get("TagSet") or []
        shape = [t["Value"] for t in tags if t["Key"] == SHAPE_TAG]
        if not shape:
            continue
        eni["TagSet"] = [t for t in tags if t["Key"] != SHAPE_TAG]
        kind, description = shape[0].split(" ", 1)
        how = _AWS_SHAPE[kind]
        eni["Description"] = description
        eni["InterfaceType"] = how["InterfaceType"]
        eni["RequesterId"] = how["RequesterId"]
        eni["RequesterManaged"] = True
        eni["Status"] = "in-use"
        if not how["groups"]:
            eni["Groups"] = []


def _lambda_vpc(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """moto says `vpc-123abc` for every function in a VPC: AWS says its subnets' VPC."""
    for function in parsed.get("Functions", []):
        config = function.get("VpcConfig") or {}
        if config.get("SubnetIds"):
            ec2: Any = boto3.session.Session().client("ec2", region_name=context["client_region"])
            subnets = ec2.describe_subnets(SubnetIds=config["SubnetIds"][:1])["Subnets"]
            config["VpcId"] = subnets[0]["VpcId"]


def realistic_session_factory(**kwargs: Any) -> Any:
    """boto3 sessions whose DescribeInstances, DescribeNetworkInterfaces and ListFunctions
    answers look like real AWS (see module doc)."""
    session = boto3.session.Session(**kwargs)
    session.events.register("after-call.ec2.DescribeInstances", _strip_terminated)
    session.events.register("after-call.ec2.DescribeNetworkInterfaces", _aws_shaped)
    session.events.register("after-call.lambda.ListFunctions", _lambda_vpc)
    return session
