"""A synthetic AWS estate held as raw boto3 items, changed a little between snapshots.

The estate is built once from a seed and then mutated in place by `advance()`; `responses()`
renders the current state as the calls and pages of format `bulkgraph-snapshot/1`. Rendering
never draws random numbers, so the sequence of states depends only on the seed and sizes.

The operations of snapshot format 1.1 (graph model 1.1: interfaces, routing, ACLs, listeners,
ELB tags, Lambda functions, IAM roles) follow the resources of format 1: every instance has a
primary interface (some a second one, some with an Elastic IP), load balancers, RDS
instances, NAT gateways and Lambda functions in a VPC have theirs, and each changes with its
owner (a stopped instance loses its public address on its interface too, a terminated one its
interfaces). They are drawn from a generator of their own (`Estate.rng11`), so that the
resources of format 1 are the same as before they existed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import shapes, shapes11
from bench.shapes import JSON
from bulkgraph.extract import operations as ops
from bulkgraph.extract.writer import dumps

#: Items per page, as the boto3 paginators return them at their maximum page size.
PAGE_SIZES = {"ec2": 1000, "rds": 100, "elbv2": 400}
SUBNETS_PER_VPC = 4
TARGET_GROUPS_PER_LB = 3
TARGETS_PER_GROUP = 10
RDS_LATER = ("Endpoint", "InstanceCreateTime", "AvailabilityZone")
#: How a churn budget for instances splits: terminations (launches match them one for one).
TERMINATE_SHARE = 0.2
#: graph model 1.1 proportions
SECOND_INTERFACE = 0.15  # instances with a second interface
SECOND_EIP = 0.4  # of those second interfaces, the ones with an Elastic IP
SECONDARY_IP = 0.05  # primary interfaces with a secondary private IP
WITH_PROFILE = 0.75  # instances launched with an instance profile
IMDS_V1 = 0.2  # instances that still allow IMDSv1
#: per 10 VPCs (by the order they are made, so that a small estate has each kind too):
DETACHED_IGW = (9,)  # ... those whose internet gateway is not attached
WITH_NAT = (0, 2, 4, 6, 8)  # ... those with a NAT gateway
CUSTOM_ACL = (1, 4, 7)  # ... those with a custom network ACL on their public subnets
OWN_TABLE = 0.9  # subnets with a route table of their own (else the VPC's main one)
LAMBDA_IN_VPC = 0.05
#: interface addresses other than instances' primary ones: hosts 500-899 of a /22 subnet
#: (instances take 4-903 in launch order and ip targets 910-1019; a subnet sees ~70
#: launches in 90 nights)
SERVICE_HOSTS = (500, 400)
#: elbv2 DescribeTags takes at most 20 ARNs per call
TAG_BATCH = 20


@dataclass(frozen=True)
class Sizes:
    """How many of each resource the whole estate holds (over all accounts and regions)."""

    instances: int
    security_groups: int
    rds: int
    load_balancers: int
    vpcs: int
    peerings: int
    roles: int  # EC2 roles (each with an instance profile), over all accounts
    functions: int  # Lambda functions (at least the load balancers' targets per cell)

    @classmethod
    def for_instances(cls, instances: int, cells: int) -> Sizes:
        vpcs = max(instances // 200, cells if instances else 0)
        return cls(
            instances=instances,
            security_groups=max(instances // 5, vpcs),
            rds=instances // 20,
            load_balancers=instances // 50,
            vpcs=vpcs,
            peerings=instances // 500,
            roles=instances // 20,
            functions=instances // 25,
        )


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as integers allow, the first ones larger."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass
class Target:
    kind: str  # instance | ip | lambda | alb
    id: str
    port: int | None
    az: str | None = None
    unhealthy: bool = False


@dataclass
class Cell:
    """One account in one region."""

    account: str
    region: str
    vpcs: dict[str, JSON] = field(default_factory=dict)
    subnets: dict[str, JSON] = field(default_factory=dict)
    subnets_by_vpc: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, JSON] = field(default_factory=dict)
    groups_by_vpc: dict[str, list[str]] = field(default_factory=dict)  # without the default
    default_group: dict[str, str] = field(default_factory=dict)
    reservations: dict[str, JSON] = field(default_factory=dict)
    instances: dict[str, JSON] = field(default_factory=dict)
    reservation_of: dict[str, str] = field(default_factory=dict)
    #: Rendered JSON of reservations unchanged since the last snapshot: most of the bytes.
    reservation_json: dict[str, bytes] = field(default_factory=dict)
    wants_public_ip: set[str] = field(default_factory=set)
    next_host: dict[str, int] = field(default_factory=dict)
    rds: dict[str, JSON] = field(default_factory=dict)
    lbs: dict[str, JSON] = field(default_factory=dict)
    target_groups: dict[str, JSON] = field(default_factory=dict)
    targets: dict[str, list[Target]] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    prefix_lists: list[str] = field(default_factory=list)
    lambdas: list[str] = field(default_factory=list)
    #: VPC id -> ids of its instances that are not terminated; None when out of date.
    live_cache: dict[str, list[str]] | None = None
    # graph model 1.1
    functions: dict[str, JSON] = field(default_factory=dict)  # ARN -> ListFunctions item
    enis: dict[str, JSON] = field(default_factory=dict)
    #: Rendered JSON of interfaces unchanged since the last snapshot.
    eni_json: dict[str, bytes] = field(default_factory=dict)
    #: owner (instance id, load balancer ARN, RDS identifier, NAT id, function ARN) -> its
    #: interfaces, the primary first
    enis_of: dict[str, list[str]] = field(default_factory=dict)
    next_service_host: dict[str, int] = field(default_factory=dict)
    igws: dict[str, JSON] = field(default_factory=dict)  # VPC id -> its internet gateway
    nats: dict[str, JSON] = field(default_factory=dict)  # VPC id -> its NAT gateway
    route_tables: dict[str, JSON] = field(default_factory=dict)
    main_table: dict[str, str] = field(default_factory=dict)  # VPC id -> table id
    acls: dict[str, JSON] = field(default_factory=dict)
    listeners: dict[str, list[JSON]] = field(default_factory=dict)  # LB ARN -> listeners
    elb_tags: dict[str, list[JSON]] = field(default_factory=dict)  # LB / TG ARN -> tags

    def live_by_vpc(self) -> dict[str, list[str]]:
        if self.live_cache is None:
            self.live_cache = {vpc_id: [] for vpc_id in self.vpcs}
            for instance_id, item in self.instances.items():
                if item["State"]["Name"] != "terminated":
                    self.live_cache[item["VpcId"]].append(instance_id)
        return self.live_cache


@dataclass
class Peering:
    item: JSON
    cells: tuple[int, ...]  # the cells whose DescribeVpcPeeringConnections list it


@dataclass
class StepChanges:
    """What one `advance()` did, for the per-snapshot summary."""

    launched: int = 0
    terminated: int = 0
    removed: int = 0
    modified: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return self.launched + self.terminated + self.removed + sum(self.modified.values())


def account_ids(count: int) -> list[str]:
    return [f"{(123456789012 + i * 111111111) % 10**12:012d}" for i in range(count)]


class Estate:
    def __init__(
        self,
        *,
        seed: int,
        instances: int,
        accounts: Sequence[str],
        regions: Sequence[str],
        churn: float,
        start: datetime,
    ) -> None:
        self.rng = random.Random(seed)
        self.churn = churn
        self.cells = [Cell(account, region) for account in accounts for region in regions]
        self.sizes = Sizes.for_instances(instances, len(self.cells))
        self.peerings: dict[str, Peering] = {}
        self.carry: dict[str, float] = {}
        self.serial = 0
        self.vpc_count = 0
        #: Instances shown as terminated now, gone from the next snapshot.
        self.terminated: list[tuple[int, str]] = []
        #: RDS instances `creating` or `deleting` now, to settle in the next snapshot.
        self.rds_pending: list[tuple[int, str]] = []
        #: What a `creating` RDS instance will look like once available.
        self.rds_ready: dict[str, JSON] = {}
        # graph model 1.1 (see the module doc)
        self.rng11 = random.Random(f"graph-model-1.1:{seed}")
        self.serial11 = 0
        self.vpc11 = 0
        self.accounts = list(dict.fromkeys(accounts))
        #: account -> role ARN -> its GetAccountAuthorizationDetails item
        self.roles: dict[str, dict[str, JSON]] = {a: {} for a in self.accounts}
        #: account -> (ARN, id) of the instance profiles its instances are launched with
        self.profiles: dict[str, list[tuple[str, str]]] = {a: [] for a in self.accounts}
        #: account -> ARNs of its Lambda execution roles
        self.lambda_roles: dict[str, list[str]] = {a: [] for a in self.accounts}
        #: Second interfaces of instances terminated now: shown detached, deleted next time.
        self.detached: list[tuple[int, str]] = []
        self._build(start)

    # ----------------------------------------------------------------- building

    def _next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def _build(self, start: datetime) -> None:
        rng = self.rng
        n = len(self.cells)
        per_cell = zip(
            split(self.sizes.vpcs, n),
            split(self.sizes.security_groups, n),
            split(self.sizes.instances, n),
            split(self.sizes.rds, n),
            split(self.sizes.load_balancers, n),
            strict=True,
        )
        self._add_roles(start)
        functions = split(self.sizes.functions, n)
        for c, (cell, (vpcs, groups, instances, rds, lbs)) in enumerate(
            zip(self.cells, per_cell, strict=True)
        ):
            cell.images = ["ami-" + shapes.hexid(rng) for _ in range(20)]
            cell.prefix_lists = ["pl-" + shapes.hexid(rng, 8) for _ in range(3)]
            cell.lambdas = [
                f"arn:aws:lambda:{cell.region}:{cell.account}:function:{app}-handler"
                for app in shapes.APPS
            ]
            for _ in range(vpcs):
                self._add_vpc(cell)
            if not cell.vpcs:
                continue
            self._add_groups(cell, groups, start)
            for vpc_id in cell.vpcs:
                self._add_network11(cell, vpc_id, start)
            for _ in range(instances):
                self._launch(cell, shapes.at(start - timedelta(days=700), timedelta(days=700), rng))
            for _ in range(rds):
                created = shapes.at(start - timedelta(days=900), timedelta(days=899), rng)
                self._add_rds(cell, created)
            for _ in range(lbs):
                self._add_lb(cell, start)
            self._add_functions(cell, max(len(cell.lambdas), functions[c]), start)
        self._add_peerings()
        self._add_peering_routes()
        # The first snapshot already shows a few terminated instances, as a real one would.
        extra = round(self.sizes.instances * self.churn * TERMINATE_SHARE)
        live = self._live_instances()
        for cell_index, instance_id in rng.sample(live, min(extra, len(live))):
            cell = self.cells[cell_index]
            self._launch(cell, shapes.at(start - timedelta(days=30), timedelta(days=29), rng))
            self._terminate(cell_index, instance_id, start - timedelta(hours=1))

    def _add_vpc(self, cell: Cell) -> None:
        rng = self.rng
        index = self.vpc_count
        self.vpc_count += 1
        # /20 per VPC from 10.0.0.0/8; past 4096 VPCs ranges repeat, as overlapping VPCs may.
        base = (10 << 24) | ((index % 4096) << 12)
        vpc_id = "vpc-" + shapes.hexid(rng)
        cell.vpcs[vpc_id] = shapes.vpc(
            rng, cell.account, vpc_id, f"{shapes.ip_text(base)}/20", f"vpc-{index:04d}"
        )
        cell.subnets_by_vpc[vpc_id] = []
        cell.groups_by_vpc[vpc_id] = []
        for j in range(SUBNETS_PER_VPC):
            subnet_id = "subnet-" + shapes.hexid(rng)
            public = j < SUBNETS_PER_VPC // 2
            letter = "abc"[j % 3]
            cell.subnets[subnet_id] = shapes.subnet(
                rng,
                cell.account,
                cell.region,
                vpc_id,
                subnet_id,
                f"{shapes.ip_text(base + j * 1024)}/22",
                letter,
                public,
                f"vpc-{index:04d}-{'public' if public else 'private'}-{letter}",
            )
            cell.subnets_by_vpc[vpc_id].append(subnet_id)
            cell.next_host[subnet_id] = 0

    def _add_groups(self, cell: Cell, total: int, start: datetime) -> None:
        rng = self.rng
        vpc_ids = list(cell.vpcs)
        # Ids first: rules point at other groups of the same VPC.
        default_of: dict[str, str] = {}
        for vpc_id in vpc_ids:
            default_of[vpc_id] = "sg-" + shapes.hexid(rng)
        cell.default_group.update(default_of)
        others = max(0, total - len(vpc_ids))
        for i in range(others):
            cell.groups_by_vpc[vpc_ids[i % len(vpc_ids)]].append("sg-" + shapes.hexid(rng))
        for vpc_id in vpc_ids:
            group_id = default_of[vpc_id]
            self_rule = shapes.permission(
                "-1", None, None, groups=[{"GroupId": group_id, "UserId": cell.account}]
            )
            cell.groups[group_id] = shapes.security_group(
                cell.account,
                cell.region,
                vpc_id,
                group_id,
                "default",
                "default VPC security group",
                [self_rule],
                [shapes.all_traffic_egress()],
                {},
            )
            for group_id in cell.groups_by_vpc[vpc_id]:
                team = rng.choice(shapes.TEAMS)
                app = rng.choice(shapes.APPS)
                name = f"{team}-{app}-{group_id[-6:]}"
                ingress = self._rules(cell, vpc_id, group_id, rng.randint(4, 9), egress=False)
                egress = self._rules(cell, vpc_id, group_id, rng.randint(0, 2), egress=True)
                if rng.random() < 0.8:
                    egress.insert(0, shapes.all_traffic_egress())
                elif not egress:
                    egress.append(self._rule(cell, vpc_id, group_id, egress=True))
                cell.groups[group_id] = shapes.security_group(
                    cell.account,
                    cell.region,
                    vpc_id,
                    group_id,
                    name,
                    f"{app} servers of {team}",
                    ingress,
                    egress,
                    {"team": team, "app": app},
                )

    def _rules(
        self, cell: Cell, vpc_id: str, group_id: str, count: int, *, egress: bool
    ) -> list[JSON]:
        # AWS merges rules with the same protocol and ports into one permission: keep keys unique.
        rules: dict[tuple[Any, ...], JSON] = {}
        for _ in range(count * 3):
            if len(rules) >= count:
                break
            rule = self._rule(cell, vpc_id, group_id, egress=egress)
            key = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))
            rules.setdefault(key, rule)
        return list(rules.values())

    def _rule(self, cell: Cell, vpc_id: str, group_id: str, *, egress: bool) -> JSON:
        rng = self.rng
        roll = rng.random()
        protocol: str
        ports: tuple[int | None, int | None]
        if roll < 0.72:
            port = rng.choice(shapes.PORTS)
            protocol, ports = "tcp", (port, port)
        elif roll < 0.80:
            protocol, ports = "tcp", rng.choice([(1024, 65535), (8000, 8999), (30000, 32767)])
        elif roll < 0.88:
            port = rng.choice([53, 123, 161, 514])
            protocol, ports = "udp", (port, port)
        elif roll < 0.93:
            protocol, ports = "icmp", (-1, -1)
        else:
            protocol, ports = "-1", (None, None)
        kind = rng.random()
        cidrs: list[JSON] = []
        ipv6: list[JSON] = []
        groups: list[JSON] = []
        prefixes: list[JSON] = []
        if kind < 0.50 or kind >= 0.95:
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.12:
                    cidr = "0.0.0.0/0"
                elif rng.random() < 0.7:
                    cidr = f"10.{rng.randrange(256)}.0.0/16"
                else:
                    cidr = f"192.168.{rng.randrange(256)}.0/24"
                entry: JSON = {"CidrIp": cidr}
                if rng.random() < 0.3:
                    entry["Description"] = f"from {rng.choice(shapes.TEAMS)}"
                if all(c["CidrIp"] != cidr for c in cidrs):
                    cidrs.append(entry)
        if 0.50 <= kind < 0.75:
            candidates = cell.groups_by_vpc[vpc_id]
            for _ in range(rng.randint(1, 2)):
                if rng.random() < 0.04:
                    pair = {"GroupId": "sg-" + shapes.hexid(rng), "UserId": shapes.FOREIGN_ACCOUNT}
                else:
                    pair = {"GroupId": rng.choice(candidates or [group_id]), "UserId": cell.account}
                if pair not in groups:
                    groups.append(pair)
        if 0.75 <= kind < 0.85 or kind >= 0.95:
            cidr6 = "::/0" if rng.random() < 0.5 else f"2600:1f18:{rng.randrange(65536):x}::/56"
            ipv6.append({"CidrIpv6": cidr6})
        if 0.85 <= kind < 0.95:
            prefixes.append({"PrefixListId": rng.choice(cell.prefix_lists)})
        del egress  # both directions draw from the same mix
        return shapes.permission(
            protocol,
            ports[0],
            ports[1],
            cidrs=cidrs,
            ipv6=ipv6,
            groups=groups,
            prefix_lists=prefixes,
        )

    def _launch(self, cell: Cell, when: datetime) -> str:
        rng = self.rng
        vpc_id = rng.choice(list(cell.vpcs))
        subnet_id = rng.choice(cell.subnets_by_vpc[vpc_id])
        subnet = cell.subnets[subnet_id]
        base = shapes.ip_to_int(subnet["CidrBlock"].split("/")[0])
        host = cell.next_host[subnet_id]
        cell.next_host[subnet_id] = host + 1
        private_ip = shapes.ip_text(base + 4 + host % 900)
        wants_public = subnet["MapPublicIpOnLaunch"] and rng.random() < 0.8
        candidates = cell.groups_by_vpc[vpc_id]
        chosen = rng.sample(candidates, min(len(candidates), rng.randint(1, 3)))
        if not chosen or rng.random() < 0.1:
            chosen.append(self._default_group(cell, vpc_id))
        instance_id = "i-" + shapes.hexid(rng)
        item = shapes.instance(
            rng,
            account=cell.account,
            region=cell.region,
            instance_id=instance_id,
            vpc_id=vpc_id,
            subnet_id=subnet_id,
            az=subnet["AvailabilityZone"],
            private_ip=private_ip,
            public=shapes.public_ip(rng) if wants_public else None,
            groups=[{"GroupName": cell.groups[g]["GroupName"], "GroupId": g} for g in chosen],
            image_id=rng.choice(cell.images),
            launch_time=when,
            name=f"srv-{self._next_serial():07d}",
        )
        self._launch11(cell, item, subnet, when)
        if wants_public:
            cell.wants_public_ip.add(instance_id)
        reservation_id = "r-" + shapes.hexid(rng)
        cell.reservations[reservation_id] = {
            "Groups": [],
            "Instances": [item],
            "OwnerId": cell.account,
            "ReservationId": reservation_id,
        }
        cell.instances[instance_id] = item
        cell.reservation_of[instance_id] = reservation_id
        cell.live_cache = None
        return instance_id

    def _default_group(self, cell: Cell, vpc_id: str) -> str:
        return cell.default_group[vpc_id]

    def _add_rds(self, cell: Cell, created: datetime, creating: bool = False) -> str:
        rng = self.rng
        vpc_id = rng.choice(list(cell.vpcs))
        subnet_ids = cell.subnets_by_vpc[vpc_id][SUBNETS_PER_VPC // 2 :]
        groups = cell.groups_by_vpc[vpc_id] or [self._default_group(cell, vpc_id)]
        team = rng.choice(shapes.TEAMS)
        identifier = f"{team}-db-{self._next_serial():06d}"
        item = shapes.rds_instance(
            rng,
            account=cell.account,
            region=cell.region,
            identifier=identifier,
            vpc_id=vpc_id,
            subnets=[cell.subnets[s] for s in subnet_ids],
            group_ids=rng.sample(groups, min(len(groups), rng.randint(1, 2))),
            created=created,
            team=team,
        )
        cell.rds[identifier] = item
        # its interface, in the subnet of its zone, with its groups
        self._add_service_eni(
            cell,
            identifier,
            cell.subnets[subnet_ids[0]],
            "RDSNetworkInterface",
            requester="amazon-rds",
            group_ids=[g["VpcSecurityGroupId"] for g in item["VpcSecurityGroups"]],
        )
        if creating:
            # Until it is available AWS shows no endpoint, creation time or zone.
            self.rds_ready[identifier] = item
            shown = {k: v for k, v in item.items() if k not in RDS_LATER}
            shown["DBInstanceStatus"] = "creating"
            cell.rds[identifier] = shown
        return identifier

    def _add_lb(self, cell: Cell, start: datetime) -> None:
        rng = self.rng
        vpc_id = rng.choice(list(cell.vpcs))
        kind = "application" if rng.random() < 0.6 else "network"
        subnet_ids = cell.subnets_by_vpc[vpc_id][:2]
        groups = cell.groups_by_vpc[vpc_id]
        group_ids = (
            rng.sample(groups, min(len(groups), rng.randint(1, 2)))
            if kind == "application" or rng.random() < 0.5
            else []
        )
        serial = self._next_serial()
        name = f"{'alb' if kind == 'application' else 'nlb'}-{rng.choice(shapes.APPS)}-{serial:06d}"
        lb = shapes.load_balancer(
            rng,
            account=cell.account,
            region=cell.region,
            name=name,
            kind=kind,
            vpc_id=vpc_id,
            subnets=[cell.subnets[s] for s in subnet_ids],
            group_ids=group_ids,
            created=start - timedelta(days=rng.randrange(1, 700), seconds=rng.randrange(86400)),
        )
        arn = lb["LoadBalancerArn"]
        cell.lbs[arn] = lb
        for k in range(TARGET_GROUPS_PER_LB):
            roll = rng.random()
            if kind == "application":
                target_type = "instance" if roll < 0.6 else "ip" if roll < 0.85 else "lambda"
            else:
                target_type = "instance" if roll < 0.55 else "ip" if roll < 0.85 else "alb"
                albs = [
                    a
                    for a, other in cell.lbs.items()
                    if other["Type"] == "application" and other["VpcId"] == vpc_id
                ]
                if target_type == "alb" and not albs:
                    target_type = "ip"
            group = shapes.target_group(
                rng,
                account=cell.account,
                region=cell.region,
                name=f"tg-{serial:06d}-{k}",
                target_type=target_type,
                vpc_id=vpc_id,
                lb_arn=arn,
                network=kind == "network",
            )
            group_arn = group["TargetGroupArn"]
            cell.target_groups[group_arn] = group
            port = group.get("Port")
            if target_type == "lambda":
                # A lambda target group holds exactly one function (an AWS limit).
                targets = [Target("lambda", rng.choice(cell.lambdas), None)]
            elif target_type == "alb":
                # Likewise an alb target group holds exactly one application load balancer.
                targets = [Target("alb", rng.choice(albs), port)]
            else:
                targets = [
                    self._new_target(cell, vpc_id, target_type, port)
                    for _ in range(TARGETS_PER_GROUP)
                ]
            cell.targets[group_arn] = targets
        self._add_lb11(cell, lb)

    def _new_target(self, cell: Cell, vpc_id: str, kind: str, port: int | None) -> Target:
        rng = self.rng
        if kind == "instance":
            live = cell.live_by_vpc()[vpc_id]
            if live:
                return Target("instance", rng.choice(live), port, unhealthy=rng.random() < 0.08)
        if rng.random() < 0.1:
            ip = f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            return Target("ip", ip, port, az="all", unhealthy=rng.random() < 0.08)
        subnet_id = rng.choice(cell.subnets_by_vpc[vpc_id])
        base = shapes.ip_to_int(cell.subnets[subnet_id]["CidrBlock"].split("/")[0])
        ip = shapes.ip_text(base + rng.randrange(910, 1020))
        return Target("ip", ip, port, unhealthy=rng.random() < 0.08)

    def _add_peerings(self) -> None:
        rng = self.rng
        all_vpcs = [(c, vpc_id) for c, cell in enumerate(self.cells) for vpc_id in cell.vpcs]
        for _ in range(self.sizes.peerings):
            peering_id = "pcx-" + shapes.hexid(rng)
            c1, v1 = rng.choice(all_vpcs)
            requester = self._peer_info(c1, v1)
            roll = rng.random()
            others = [(c, v) for c, v in all_vpcs if v != v1]
            cells: tuple[int, ...]
            if roll < 0.1 or not others:
                # The peer VPC belongs to someone else: only its id and owner are known.
                accepter = {
                    "VpcId": "vpc-" + shapes.hexid(rng),
                    "OwnerId": shapes.FOREIGN_ACCOUNT,
                    "CidrBlock": f"172.{rng.randrange(16, 32)}.0.0/16",
                    "Region": self.cells[c1].region,
                }
                cells = (c1,)
            else:
                same = [(c, v) for c, v in others if c == c1]
                pool = same if same and roll < 0.75 else others
                c2, v2 = rng.choice(pool)
                accepter = self._peer_info(c2, v2)
                # Both sides list a peering; in one cell it appears once.
                cells = (c1,) if c1 == c2 else (c1, c2)
            self.peerings[peering_id] = Peering(
                shapes.peering(rng, peering_id, requester, accepter, f"peer-{peering_id[-6:]}"),
                cells,
            )

    def _peer_info(self, cell_index: int, vpc_id: str) -> JSON:
        cell = self.cells[cell_index]
        return {
            "VpcId": vpc_id,
            "OwnerId": cell.account,
            "CidrBlock": cell.vpcs[vpc_id]["CidrBlock"],
            "Region": cell.region,
        }

    # ----------------------------------------------------------------- graph model 1.1

    def _add_roles(self, start: datetime) -> None:
        """Per account: EC2 roles with an instance profile each (~1 per 20 instances), Lambda
        execution roles (~1 per 4 functions), and a few roles no instance or function uses."""
        rng = self.rng11
        n = len(self.cells)
        ec2 = split(self.sizes.roles, n)
        functions = split(self.sizes.functions, n)
        instances = split(self.sizes.instances, n)
        for account in self.accounts:
            cells = [c for c, cell in enumerate(self.cells) if cell.account == account]
            if not sum(instances[c] for c in cells):
                continue
            wanted = {
                "ec2": max(1, sum(ec2[c] for c in cells)),
                "lambda": max(1, sum(max(len(shapes.APPS), functions[c]) for c in cells) // 4),
                "admin": 1 + sum(ec2[c] for c in cells) // 10,
            }
            for kind, count in wanted.items():
                for k in range(count):
                    team, app = rng.choice(shapes.TEAMS), rng.choice(shapes.APPS)
                    name = f"{team}-{app}-{kind}-{k:04d}"
                    managed = rng.sample(
                        shapes11.LAMBDA_POLICIES if kind == "lambda" else shapes11.MANAGED_POLICIES,
                        rng.randint(1, 2),
                    )
                    inline = [
                        shapes11.inline_policy(rng, f"{team}-{app}-{j}")
                        for j in range(rng.choice([0, 0, 1, 1, 2]))
                    ]
                    role = shapes11.role(
                        rng,
                        account=account,
                        name=name,
                        path="/service-role/" if kind == "lambda" else "/",
                        service={"ec2": "ec2.amazonaws.com", "lambda": "lambda.amazonaws.com"}.get(
                            kind, "ec2.amazonaws.com"
                        ),
                        managed=managed,
                        inline=inline,
                        profile=kind == "ec2",
                        created=shapes.at(start - timedelta(days=900), timedelta(days=899), rng),
                    )
                    self.roles[account][role["Arn"]] = role
                    if kind == "ec2":
                        (profile,) = role["InstanceProfileList"]
                        self.profiles[account].append(
                            (profile["Arn"], profile["InstanceProfileId"])
                        )
                    elif kind == "lambda":
                        self.lambda_roles[account].append(role["Arn"])

    def _service_ip(self, cell: Cell, subnet: JSON) -> str:
        subnet_id = subnet["SubnetId"]
        host = cell.next_service_host.get(subnet_id, 0)
        cell.next_service_host[subnet_id] = host + 1
        base = shapes.ip_to_int(subnet["CidrBlock"].split("/")[0])
        first, span = SERVICE_HOSTS
        return shapes.ip_text(base + first + host % span)

    def _group_refs(self, cell: Cell, group_ids: list[str]) -> list[JSON]:
        return [{"GroupId": g, "GroupName": cell.groups[g]["GroupName"]} for g in group_ids]

    def _new_eni(self, cell: Cell, owner: str, eni: JSON) -> str:
        eni_id: str = eni["NetworkInterfaceId"]
        cell.enis[eni_id] = eni
        cell.enis_of.setdefault(owner, []).append(eni_id)
        return eni_id

    def _delete_eni(self, cell: Cell, eni_id: str) -> None:
        del cell.enis[eni_id]
        cell.eni_json.pop(eni_id, None)

    def _add_service_eni(
        self,
        cell: Cell,
        owner: str,
        subnet: JSON,
        description: str,
        *,
        requester: str,
        interface_type: str = "interface",
        group_ids: list[str] | tuple[str, ...] = (),
        public_owner: str | None = None,
    ) -> JSON:
        """An interface AWS makes for a service, described the way AWS describes it."""
        rng = self.rng11
        eni = shapes11.network_interface(
            rng,
            account=cell.account,
            region=cell.region,
            eni_id="eni-" + shapes.hexid(rng),
            subnet=subnet,
            private_ip=self._service_ip(cell, subnet),
            description=description,
            interface_type=interface_type,
            requester=requester,
            groups=self._group_refs(cell, list(group_ids)),
        )
        if public_owner is not None:
            shapes11.set_public(
                eni, shapes11.association(cell.region, shapes.public_ip(rng), public_owner)
            )
        self._new_eni(cell, owner, eni)
        return eni

    def _eip(self, cell: Cell) -> tuple[str, str]:
        rng = self.rng11
        return "eipalloc-" + shapes.hexid(rng), "eipassoc-" + shapes.hexid(rng)

    def _launch11(self, cell: Cell, item: JSON, subnet: JSON, when: datetime) -> None:
        """An instance's profile, metadata options and interfaces."""
        rng = self.rng11
        profiles = self.profiles[cell.account]
        if profiles and rng.random() < WITH_PROFILE:
            arn, profile_id = rng.choice(profiles)
            item["IamInstanceProfile"] = {"Arn": arn, "Id": profile_id}
        if rng.random() < IMDS_V1:
            item["MetadataOptions"]["HttpTokens"] = "optional"
        instance_id = item["InstanceId"]
        primary = shapes11.network_interface(
            rng,
            account=cell.account,
            region=cell.region,
            eni_id="eni-" + shapes.hexid(rng),
            subnet=subnet,
            private_ip=item["PrivateIpAddress"],
            description="",
            groups=[dict(g) for g in item["SecurityGroups"]],
        )
        primary["Attachment"] = shapes11.attachment(
            rng, cell.account, instance_id, 0, item["LaunchTime"]
        )
        if rng.random() < SECONDARY_IP:
            ip = self._service_ip(cell, subnet)
            primary["PrivateIpAddresses"].append(
                {
                    "Primary": False,
                    "PrivateDnsName": shapes.private_dns(cell.region, ip),
                    "PrivateIpAddress": ip,
                }
            )
        self._new_eni(cell, instance_id, primary)
        self._sync_enis(cell, item)
        if rng.random() < SECOND_INTERFACE:
            vpc_id = item["VpcId"]
            candidates = cell.groups_by_vpc[vpc_id] or [cell.default_group[vpc_id]]
            second = shapes11.network_interface(
                rng,
                account=cell.account,
                region=cell.region,
                eni_id="eni-" + shapes.hexid(rng),
                subnet=subnet,
                private_ip=self._service_ip(cell, subnet),
                description=f"{item['Tags'][0]['Value']} secondary",
                groups=self._group_refs(cell, [rng.choice(candidates)]),
            )
            second["Attachment"] = shapes11.attachment(
                rng, cell.account, instance_id, 1, item["LaunchTime"]
            )
            if rng.random() < SECOND_EIP:
                shapes11.set_public(
                    second,
                    shapes11.association(
                        cell.region, shapes.public_ip(rng), cell.account, self._eip(cell)
                    ),
                )
            self._new_eni(cell, instance_id, second)

    def _sync_enis(self, cell: Cell, item: JSON) -> None:
        """The primary interface of an instance that changed: its groups and public address."""
        enis = cell.enis_of.get(item["InstanceId"])
        if not enis:
            return
        eni = cell.enis[enis[0]]
        eni["Groups"] = [dict(g) for g in item["SecurityGroups"]]
        address = item.get("PublicIpAddress")
        shapes11.set_public(
            eni, shapes11.association(cell.region, address, "amazon") if address else None
        )
        cell.eni_json.pop(enis[0], None)

    def _add_network11(self, cell: Cell, vpc_id: str, start: datetime) -> None:
        """A VPC's internet gateway, NAT gateway (half of them), route tables and ACLs."""
        rng = self.rng11
        vpc = cell.vpcs[vpc_id]
        name = vpc["Tags"][0]["Value"]
        subnet_ids = cell.subnets_by_vpc[vpc_id]
        public_ids = subnet_ids[: SUBNETS_PER_VPC // 2]
        ordinal = self.vpc11 % 10
        self.vpc11 += 1
        attached = ordinal not in DETACHED_IGW
        igw_id = "igw-" + shapes.hexid(rng)
        cell.igws[vpc_id] = shapes11.internet_gateway(
            igw_id, cell.account, vpc_id, attached, f"{name}-igw"
        )
        nat_id: str | None = None
        if ordinal in WITH_NAT:
            nat_id = "nat-" + shapes.hexid(rng)
            subnet = cell.subnets[public_ids[0]]
            eni = self._add_service_eni(
                cell,
                nat_id,
                subnet,
                f"Interface for NAT Gateway {nat_id}",
                requester="AIDAIAWSNATGATEWAYSVC",
                interface_type="nat_gateway",
            )
            allocation = self._eip(cell)
            public_ip = shapes.public_ip(rng)
            shapes11.set_public(
                eni, shapes11.association(cell.region, public_ip, cell.account, allocation)
            )
            cell.nats[vpc_id] = shapes11.nat_gateway(
                rng,
                nat_id=nat_id,
                subnet=subnet,
                eni_id=eni["NetworkInterfaceId"],
                private_ip=eni["PrivateIpAddress"],
                public_ip=public_ip,
                allocation=allocation,
                created=shapes.at(start - timedelta(days=700), timedelta(days=699), rng),
                name=f"{name}-nat",
            )
        # the main table: local, and the NAT for some; one table per subnet for most
        cidr = vpc["CidrBlock"]
        main_id = "rtb-" + shapes.hexid(rng)
        main = shapes11.route_table(
            rng,
            rtb_id=main_id,
            account=cell.account,
            vpc_id=vpc_id,
            vpc_cidr=cidr,
            main=True,
            subnet_ids=[],
            name=f"{name}-main",
        )
        if nat_id and rng.random() < 0.5:
            main["Routes"].append(shapes11.route("0.0.0.0/0", "NatGatewayId", nat_id))
        cell.route_tables[main_id] = main
        cell.main_table[vpc_id] = main_id
        endpoint = "vpce-" + shapes.hexid(rng)
        for subnet_id in subnet_ids:
            if rng.random() >= OWN_TABLE:
                continue
            public = subnet_id in public_ids
            rtb_id = "rtb-" + shapes.hexid(rng)
            table = shapes11.route_table(
                rng,
                rtb_id=rtb_id,
                account=cell.account,
                vpc_id=vpc_id,
                vpc_cidr=cidr,
                main=False,
                subnet_ids=[subnet_id],
                name=cell.subnets[subnet_id]["Tags"][0]["Value"],
            )
            routes = table["Routes"]
            if public:
                # a route to a detached gateway is a blackhole
                state = "active" if attached else "blackhole"
                routes.append(shapes11.route("0.0.0.0/0", "GatewayId", igw_id, state))
            elif nat_id:
                routes.append(shapes11.route("0.0.0.0/0", "NatGatewayId", nat_id))
            if not public and rng.random() < 0.3:
                # the S3 gateway endpoint: a target the snapshot holds no operation of
                routes.append(shapes11.route("pl-63a5400a", "GatewayId", endpoint))
            cell.route_tables[rtb_id] = table
        # the default ACL allows everything; a custom one on the public subnets denies some
        custom: list[str] = []
        if ordinal in CUSTOM_ACL:
            custom = public_ids
            entries = [
                shapes11.acl_entry(100, "allow", "0.0.0.0/0", egress=True),
                shapes11.acl_entry(
                    90, "deny", "0.0.0.0/0", egress=False, protocol="6", ports=(22, 22)
                ),
                shapes11.acl_entry(
                    100, "allow", "0.0.0.0/0", egress=False, protocol="6", ports=(443, 443)
                ),
                shapes11.acl_entry(
                    110, "allow", "0.0.0.0/0", egress=False, protocol="6", ports=(80, 80)
                ),
                shapes11.acl_entry(
                    120, "allow", "0.0.0.0/0", egress=False, protocol="6", ports=(1024, 65535)
                ),
            ]
            if rng.random() < 0.5:
                entries.append(
                    shapes11.acl_entry(
                        95, "deny", "0.0.0.0/0", egress=False, protocol="6", ports=(3389, 3389)
                    )
                )
            if rng.random() < 0.3:
                # shadowed: a deny after the allow of the same traffic never applies
                entries.append(
                    shapes11.acl_entry(
                        200, "deny", "0.0.0.0/0", egress=False, protocol="6", ports=(8080, 8080)
                    )
                )
            acl_id = "acl-" + shapes.hexid(rng)
            cell.acls[acl_id] = shapes11.network_acl(
                rng,
                acl_id=acl_id,
                account=cell.account,
                vpc_id=vpc_id,
                default=False,
                subnet_ids=custom,
                entries=entries,
                name=f"{name}-public",
            )
        acl_id = "acl-" + shapes.hexid(rng)
        cell.acls[acl_id] = shapes11.network_acl(
            rng,
            acl_id=acl_id,
            account=cell.account,
            vpc_id=vpc_id,
            default=True,
            subnet_ids=[s for s in subnet_ids if s not in custom],
            entries=[
                shapes11.acl_entry(100, "allow", "0.0.0.0/0", egress=e) for e in (True, False)
            ],
            name=None,
        )

    def _add_peering_routes(self) -> None:
        """Each side's main table routes the other VPC's range through the peering."""
        for peering_id, peering in self.peerings.items():
            sides = (peering.item["RequesterVpcInfo"], peering.item["AccepterVpcInfo"])
            for here, there in (sides, sides[::-1]):
                for c in peering.cells:
                    cell = self.cells[c]
                    table_id = cell.main_table.get(here["VpcId"])
                    if table_id is None:
                        continue
                    routes = cell.route_tables[table_id]["Routes"]
                    taken = {r.get("DestinationCidrBlock") for r in routes}
                    if there["CidrBlock"] not in taken:  # AWS refuses a second route to it
                        routes.append(
                            shapes11.route(there["CidrBlock"], "VpcPeeringConnectionId", peering_id)
                        )

    def _add_lb11(self, cell: Cell, lb: JSON) -> None:
        """A load balancer's interfaces (one per subnet), listeners and tags (its target
        groups' too)."""
        rng = self.rng11
        arn = lb["LoadBalancerArn"]
        application = lb["Type"] == "application"
        internet = lb["Scheme"] == "internet-facing"
        for zone in lb["AvailabilityZones"]:
            self._add_service_eni(
                cell,
                arn,
                cell.subnets[zone["SubnetId"]],
                "ELB " + arn.split(":loadbalancer/", 1)[1],
                requester="amazon-elb",
                interface_type="interface" if application else "network_load_balancer",
                group_ids=lb.get("SecurityGroups", []),
                public_owner="amazon-elb" if internet else None,
            )
        groups = [g for g, item in cell.target_groups.items() if arn in item["LoadBalancerArns"]]
        count = rng.choice([1, 2, 2, 3])
        if application:
            plan = [("HTTPS", 443), ("HTTP", 80), ("HTTP", 8080)][:count]
        else:
            plan = [("TCP", 80), ("TLS", 443), ("TCP", 6379)][:count]
            alb_targets = any(cell.target_groups[g]["TargetType"] == "alb" for g in groups)
            if alb_targets:  # an alb target group takes TCP listeners only
                plan = [("TCP", port) for _, port in plan]
        # an HTTP listener of an ALB with HTTPS often only redirects to it
        redirect = application and count > 1 and rng.random() < 0.5
        forwarding = [k for k in range(count) if not (redirect and k == 1)]
        listeners = []
        for k, (protocol, port) in enumerate(plan):
            if k in forwarding:
                mine = groups[forwarding.index(k) :: len(forwarding)]
                weights = [rng.choice([1, 10, 50, 100]) for _ in mine] if len(mine) > 1 else [1]
                action = shapes11.forward(mine, weights)
            else:
                action = {
                    "Type": "redirect",
                    "RedirectConfig": {
                        "Protocol": "HTTPS",
                        "Port": "443",
                        "Host": "#{host}",
                        "Path": "/#{path}",
                        "Query": "#{query}",
                        "StatusCode": "HTTP_301",
                    },
                }
            listeners.append(
                shapes11.listener(
                    rng,
                    lb_arn=arn,
                    port=port,
                    protocol=protocol,
                    actions=[action],
                    account=cell.account,
                    region=cell.region,
                )
            )
        cell.listeners[arn] = listeners
        team, app = rng.choice(shapes.TEAMS), rng.choice(shapes.APPS)
        cell.elb_tags[arn] = shapes.tags({"team": team, "app": app, "env": rng.choice(shapes.ENVS)})
        for group_arn in groups:
            pairs = {"team": team, "app": app} if rng.random() < 0.8 else {}
            cell.elb_tags[group_arn] = shapes.tags(pairs)

    def _add_functions(self, cell: Cell, count: int, start: datetime) -> None:
        """The load balancers' target functions, then others; ~5 % in a VPC, with an
        interface in each of its subnets."""
        rng = self.rng11
        roles = self.lambda_roles[cell.account]
        arns = list(cell.lambdas)
        prefix = f"arn:aws:lambda:{cell.region}:{cell.account}:function:"
        while len(arns) < count:
            arns.append(f"{prefix}{rng.choice(shapes.APPS)}-{self._next_serial11():06d}")
        for arn in arns:
            vpc: JSON | None = None
            if rng.random() < LAMBDA_IN_VPC:
                vpc_id = rng.choice(list(cell.vpcs))
                subnet_ids = cell.subnets_by_vpc[vpc_id][SUBNETS_PER_VPC // 2 :]
                groups = cell.groups_by_vpc[vpc_id] or [cell.default_group[vpc_id]]
                group_ids = [rng.choice(groups)]
                vpc = {"SubnetIds": subnet_ids, "SecurityGroupIds": group_ids, "VpcId": vpc_id}
                name = arn.rsplit(":", 1)[1]
                for subnet_id in subnet_ids:
                    self._add_service_eni(
                        cell,
                        arn,
                        cell.subnets[subnet_id],
                        f"AWS Lambda VPC ENI-{name}-{shapes11.uuid(rng)}",
                        requester=f"{shapes11.upper_id(rng, 'AROA')}:{name}",
                        interface_type="lambda",
                        group_ids=group_ids,
                    )
            cell.functions[arn] = shapes11.lambda_function(
                rng,
                arn=arn,
                role_arn=rng.choice(roles),
                vpc=vpc,
                modified=shapes.at(start - timedelta(days=300), timedelta(days=299), rng),
            )

    def _next_serial11(self) -> int:
        # not `_next_serial`: that would renumber the names of format 1's resources
        self.serial11 += 1
        return self.serial11

    # ----------------------------------------------------------------- changing

    def _budget(self, family: str, population: int) -> int:
        """How many of `population` change this step; fractions carry to the next step."""
        owed = self.carry.get(family, 0.0) + self.churn * population
        count = int(owed)
        self.carry[family] = owed - count
        return count

    def _live_instances(self) -> list[tuple[int, str]]:
        return [
            (c, instance_id)
            for c, cell in enumerate(self.cells)
            for instance_id, item in cell.instances.items()
            if item["State"]["Name"] != "terminated"
        ]

    def _terminate(self, cell_index: int, instance_id: str, when: datetime) -> None:
        cell = self.cells[cell_index]
        self._touch(cell, instance_id)
        item = cell.instances[instance_id]
        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
        for key in ("PrivateIpAddress", "PublicIpAddress", "VpcId", "SubnetId"):
            item.pop(key, None)
        item["PrivateDnsName"] = ""
        item["PublicDnsName"] = ""
        item["State"] = {"Code": shapes.STATE_CODES["terminated"], "Name": "terminated"}
        item["StateTransitionReason"] = f"User initiated ({stamp} GMT)"
        item["StateReason"] = {
            "Code": "Client.UserInitiatedShutdown",
            "Message": "Client.UserInitiatedShutdown: User initiated shutdown",
        }
        item["SecurityGroups"] = []
        item["BlockDeviceMappings"] = []
        cell.live_cache = None
        self.terminated.append((cell_index, instance_id))
        # AWS deletes the primary interface with the instance; a second one it detaches
        enis = cell.enis_of.pop(instance_id, [])
        for eni_id in enis[:1]:
            self._delete_eni(cell, eni_id)
        for eni_id in enis[1:]:
            eni = cell.enis[eni_id]
            eni.pop("Attachment", None)
            eni["Status"] = "available"
            cell.eni_json.pop(eni_id, None)
            self.detached.append((cell_index, eni_id))

    def _touch(self, cell: Cell, instance_id: str) -> None:
        """Call before changing an instance: its reservation must be rendered again."""
        cell.reservation_json.pop(cell.reservation_of[instance_id], None)

    def _remove_instance(self, cell_index: int, instance_id: str) -> None:
        cell = self.cells[cell_index]
        self._touch(cell, instance_id)
        del cell.instances[instance_id]
        cell.live_cache = None
        cell.wants_public_ip.discard(instance_id)
        reservation_id = cell.reservation_of.pop(instance_id)
        reservation = cell.reservations[reservation_id]
        reservation["Instances"] = [
            i for i in reservation["Instances"] if i["InstanceId"] != instance_id
        ]
        if not reservation["Instances"]:
            del cell.reservations[reservation_id]

    def _stop_or_start(self, cell: Cell, item: JSON, when: datetime) -> None:
        rng = self.rng
        if item["State"]["Name"] == "running":
            item.pop("PublicIpAddress", None)
            item["PublicDnsName"] = ""
            item["State"] = {"Code": shapes.STATE_CODES["stopped"], "Name": "stopped"}
            item["StateTransitionReason"] = (
                f"User initiated ({when.strftime('%Y-%m-%d %H:%M:%S')} GMT)"
            )
            item["StateReason"] = {
                "Code": "Client.UserInitiatedShutdown",
                "Message": "Client.UserInitiatedShutdown: User initiated shutdown",
            }
            self._sync_enis(cell, item)
            return
        item["State"] = {"Code": shapes.STATE_CODES["running"], "Name": "running"}
        item["StateTransitionReason"] = ""
        item.pop("StateReason", None)
        if item["InstanceId"] in cell.wants_public_ip:
            # A restarted instance gets a new public address unless it holds an Elastic IP.
            address = shapes.public_ip(rng)
            item["PublicIpAddress"] = address
            item["PublicDnsName"] = shapes.public_dns(cell.region, address)
        self._sync_enis(cell, item)

    def _retag(self, tag_list: list[JSON], keys: Sequence[str]) -> None:
        """Give one of the tags named in `keys` a different value from its usual pool."""
        rng = self.rng
        present = [t for t in tag_list if t["Key"] in keys] or tag_list
        if not present:
            tag_list.append({"Key": "env", "Value": rng.choice(shapes.ENVS)})
            return
        tag = rng.choice(present)
        pool = [v for v in shapes.TAG_VALUES.get(tag["Key"], []) if v != tag["Value"]]
        tag["Value"] = rng.choice(pool) if pool else f"{tag['Value']}-{self._next_serial()}"

    def advance(self, previous: datetime, now: datetime) -> StepChanges:
        """Move the estate from the snapshot at `previous` to the one at `now`."""
        changes = StepChanges()
        self._advance_instances(previous, now, changes)
        self._advance_groups(changes)
        self._advance_rds(previous, now, changes)
        self._advance_networks(changes)
        self._advance_load_balancers(changes)
        self._advance11(changes)
        return changes

    def _advance_instances(self, previous: datetime, now: datetime, changes: StepChanges) -> None:
        rng = self.rng
        span = now - previous
        live = self._live_instances()
        budget = self._budget("instances", len(live))
        for cell_index, instance_id in self.terminated:
            self._remove_instance(cell_index, instance_id)
        changes.removed = len(self.terminated)
        self.terminated = []
        for cell_index, eni_id in self.detached:
            self._delete_eni(self.cells[cell_index], eni_id)
        self.detached = []
        remaining = max(0, budget - changes.removed)
        terminate = min(remaining // 3, round(budget * TERMINATE_SHARE))
        if remaining and not terminate and rng.random() < TERMINATE_SHARE * 3:
            terminate = min(1, remaining // 2)
        modify = remaining - 2 * terminate
        chosen = rng.sample(live, min(len(live), terminate + modify))
        doomed, touched = chosen[:terminate], chosen[terminate:]
        for cell_index, instance_id in doomed:
            self._terminate(cell_index, instance_id, shapes.at(previous, span, rng))
        for cell_index, _ in doomed:
            self._launch(self.cells[cell_index], shapes.at(previous, span, rng))
        changes.launched = changes.terminated = len(doomed)
        kinds = {"tags": 0, "state": 0, "groups": 0}
        for cell_index, instance_id in touched:
            cell = self.cells[cell_index]
            self._touch(cell, instance_id)
            item = cell.instances[instance_id]
            roll = rng.random()
            if roll < 0.5:
                self._retag(item["Tags"], ("env", "team", "app", "cost-center"))
                kinds["tags"] += 1
            elif roll < 0.85:
                self._stop_or_start(cell, item, shapes.at(previous, span, rng))
                kinds["state"] += 1
            else:
                candidates = cell.groups_by_vpc[item["VpcId"]]
                if candidates:
                    group_id = rng.choice(candidates)
                    item["SecurityGroups"] = [
                        {"GroupName": cell.groups[group_id]["GroupName"], "GroupId": group_id}
                    ]
                    self._sync_enis(cell, item)
                else:
                    self._retag(item["Tags"], ("env",))
                kinds["groups"] += 1
        changes.modified["instances"] = len(touched)
        self._replace_gone_targets()

    def _replace_gone_targets(self) -> None:
        # The load balancer deregisters terminated instances; a new one takes the place.
        for cell in self.cells:
            for group_arn, targets in cell.targets.items():
                group = cell.target_groups[group_arn]
                for k, target in enumerate(targets):
                    if target.kind != "instance":
                        continue
                    item = cell.instances.get(target.id)
                    if item is None or item["State"]["Name"] == "terminated":
                        targets[k] = self._new_target(
                            cell, group["VpcId"], "instance", group.get("Port")
                        )

    def _advance_groups(self, changes: StepChanges) -> None:
        rng = self.rng
        groups = [
            (c, group_id)
            for c, cell in enumerate(self.cells)
            for group_id, group in cell.groups.items()
            if group["GroupName"] != "default"
        ]
        budget = self._budget("security_groups", len(groups))
        for cell_index, group_id in rng.sample(groups, min(budget, len(groups))):
            cell = self.cells[cell_index]
            group = cell.groups[group_id]
            roll = rng.random()
            direction = "IpPermissions" if roll < 0.8 else "IpPermissionsEgress"
            rules: list[JSON] = group[direction]
            if roll < 0.25 and len(rules) > 1:
                rules.pop(rng.randrange(len(rules)))
            elif roll < 0.9 or not group.get("Tags"):
                fresh = self._rules(cell, group["VpcId"], group_id, 1, egress=False)[0]
                key = (fresh["IpProtocol"], fresh.get("FromPort"), fresh.get("ToPort"))
                rules[:] = [
                    r for r in rules if (r["IpProtocol"], r.get("FromPort"), r.get("ToPort")) != key
                ]
                rules.append(fresh)
            else:
                self._retag(group["Tags"], ("team", "app"))
        changes.modified["security_groups"] = min(budget, len(groups))

    def _advance_rds(self, previous: datetime, now: datetime, changes: StepChanges) -> None:
        rng = self.rng
        span = now - previous
        every = [(c, ident) for c, cell in enumerate(self.cells) for ident in cell.rds]
        budget = self._budget("rds", len(every) - len(self.rds_pending))
        settled = 0
        for cell_index, ident in self.rds_pending:
            cell = self.cells[cell_index]
            if cell.rds[ident]["DBInstanceStatus"] == "deleting":
                del cell.rds[ident]
                for eni_id in cell.enis_of.pop(ident, []):
                    self._delete_eni(cell, eni_id)
            else:
                cell.rds[ident] = self.rds_ready.pop(ident)
            settled += 1
        self.rds_pending = []
        steady = [
            (c, ident)
            for c, cell in enumerate(self.cells)
            for ident, item in cell.rds.items()
            if item["DBInstanceStatus"] in ("available", "stopped")
        ]
        remaining = max(0, budget - settled)
        replace = min(remaining // 3, round(budget * 0.15))
        chosen = rng.sample(steady, min(len(steady), remaining - replace))
        for cell_index, ident in chosen[:replace]:
            cell = self.cells[cell_index]
            cell.rds[ident]["DBInstanceStatus"] = "deleting"
            self.rds_pending.append((cell_index, ident))
            new_ident = self._add_rds(cell, shapes.at(previous, span, rng), creating=True)
            self.rds_pending.append((cell_index, new_ident))
        for cell_index, ident in chosen[replace:]:
            item = self.cells[cell_index].rds[ident]
            roll = rng.random()
            if roll < 0.4:
                item["DBInstanceStatus"] = (
                    "stopped" if item["DBInstanceStatus"] == "available" else "available"
                )
            elif roll < 0.7:
                self._retag(item["TagList"], ("env",))
            else:
                item["DBInstanceClass"] = rng.choice(
                    [c for c in shapes.RDS_CLASSES if c != item["DBInstanceClass"]]
                )
        changes.modified["rds"] = settled + len(chosen) + replace

    def _advance_networks(self, changes: StepChanges) -> None:
        rng = self.rng
        for family, attr in (("vpcs", "vpcs"), ("subnets", "subnets")):
            every = [(c, key) for c, cell in enumerate(self.cells) for key in getattr(cell, attr)]
            budget = self._budget(family, len(every))
            for cell_index, key in rng.sample(every, min(budget, len(every))):
                self._retag(getattr(self.cells[cell_index], attr)[key]["Tags"], ("env", "tier"))
            changes.modified[family] = min(budget, len(every))
        peerings = list(self.peerings.values())
        budget = self._budget("peerings", len(peerings))
        for peering in rng.sample(peerings, min(budget, len(peerings))):
            self._retag(peering.item["Tags"], ("owner",))
        changes.modified["peerings"] = min(budget, len(peerings))

    def _advance_load_balancers(self, changes: StepChanges) -> None:
        rng = self.rng
        lbs = [(c, arn) for c, cell in enumerate(self.cells) for arn in cell.lbs]
        budget = self._budget("load_balancers", len(lbs))
        for cell_index, arn in rng.sample(lbs, min(budget, len(lbs))):
            cell = self.cells[cell_index]
            lb = cell.lbs[arn]
            candidates = cell.groups_by_vpc[lb["VpcId"]]
            if lb["Type"] == "application" and candidates:
                lb["SecurityGroups"] = rng.sample(candidates, min(len(candidates), 2))
                for eni_id in cell.enis_of.get(arn, []):
                    cell.enis[eni_id]["Groups"] = self._group_refs(cell, lb["SecurityGroups"])
                    cell.eni_json.pop(eni_id, None)
            else:
                code = lb["State"]["Code"]
                lb["State"] = {"Code": "active_impaired" if code == "active" else "active"}
        changes.modified["load_balancers"] = min(budget, len(lbs))
        targets = [
            (c, arn, k)
            for c, cell in enumerate(self.cells)
            for arn, group_targets in cell.targets.items()
            for k in range(len(group_targets))
        ]
        budget = self._budget("targets", len(targets))
        for cell_index, arn, k in rng.sample(targets, min(budget, len(targets))):
            cell = self.cells[cell_index]
            target = cell.targets[arn][k]
            group = cell.target_groups[arn]
            if target.kind in ("instance", "ip") and rng.random() < 0.5:
                cell.targets[arn][k] = self._new_target(
                    cell, group["VpcId"], target.kind, group.get("Port")
                )
            else:
                target.unhealthy = not target.unhealthy
        changes.modified["targets"] = min(budget, len(targets))

    def _advance11(self, changes: StepChanges) -> None:
        """The 1.1 families' own changes (their owners' changes move interfaces already):
        routes, ACL entries, listeners, load balancer and target group tags, function code,
        role policies."""
        rng = self.rng11
        tgw = "tgw-" + "0" * 9 + "bench11"
        tables = [(c, t) for c, cell in enumerate(self.cells) for t in cell.route_tables]
        budget = self._budget("route_tables", len(tables))
        for c, table_id in rng.sample(tables, min(budget, len(tables))):
            routes = self.cells[c].route_tables[table_id]["Routes"]
            kept = [r for r in routes if r.get("TransitGatewayId") != tgw]
            if len(kept) == len(routes):
                kept.append(shapes11.route("10.200.0.0/16", "TransitGatewayId", tgw))
            routes[:] = kept
        changes.modified["route_tables"] = min(budget, len(tables))

        acls = [(c, a) for c, cell in enumerate(self.cells) for a in cell.acls]
        budget = self._budget("network_acls", len(acls))
        for c, acl_id in rng.sample(acls, min(budget, len(acls))):
            entries = self.cells[c].acls[acl_id]["Entries"]
            kept = [e for e in entries if e["RuleNumber"] != 80]
            if len(kept) == len(entries):
                kept.append(
                    shapes11.acl_entry(
                        80, "deny", "0.0.0.0/0", egress=False, protocol="6", ports=(23, 23)
                    )
                )
                kept.sort(key=lambda e: (not e["Egress"], e["RuleNumber"]))
            entries[:] = kept
        changes.modified["network_acls"] = min(budget, len(acls))

        listeners = [
            (c, arn, k)
            for c, cell in enumerate(self.cells)
            for arn, items in cell.listeners.items()
            for k in range(len(items))
        ]
        budget = self._budget("listeners", len(listeners))
        for c, arn, k in rng.sample(listeners, min(budget, len(listeners))):
            item = self.cells[c].listeners[arn][k]
            action = item["DefaultActions"][0]
            if "SslPolicy" in item:
                policies = [p for p in shapes11.SSL_POLICIES if p != item["SslPolicy"]]
                item["SslPolicy"] = policies[0]
            elif "ForwardConfig" not in action:  # a redirect
                code = action["RedirectConfig"]["StatusCode"]
                action["RedirectConfig"]["StatusCode"] = (
                    "HTTP_302" if code == "HTTP_301" else "HTTP_301"
                )
            elif len(action["ForwardConfig"]["TargetGroups"]) > 1:
                for weighted in action["ForwardConfig"]["TargetGroups"]:
                    weighted["Weight"] = rng.choice([0, 1, 10, 50, 100])
            else:
                sticky = action["ForwardConfig"]["TargetGroupStickinessConfig"]
                if sticky["Enabled"]:
                    sticky.clear()
                    sticky["Enabled"] = False
                else:
                    sticky["Enabled"] = True
                    sticky["DurationSeconds"] = 3600
        changes.modified["listeners"] = min(budget, len(listeners))

        tagged = [(c, arn) for c, cell in enumerate(self.cells) for arn in cell.elb_tags]
        budget = self._budget("elb_tags", len(tagged))
        for c, arn in rng.sample(tagged, min(budget, len(tagged))):
            self._retag11(self.cells[c].elb_tags[arn], ("team", "app", "env"))
        changes.modified["elb_tags"] = min(budget, len(tagged))

        functions = [(c, arn) for c, cell in enumerate(self.cells) for arn in cell.functions]
        budget = self._budget("functions", len(functions))
        for c, arn in rng.sample(functions, min(budget, len(functions))):
            item = self.cells[c].functions[arn]
            # a deployment: new code, now and then a newer runtime
            item["CodeSha256"] = shapes.hexid(rng, 43)
            item["CodeSize"] = rng.randrange(2_000, 40_000_000)
            item["RevisionId"] = shapes11.uuid(rng)
            if rng.random() < 0.2:
                item["Runtime"] = rng.choice(shapes11.LAMBDA_RUNTIMES)
        changes.modified["functions"] = min(budget, len(functions))

        roles = [(a, arn) for a, by_arn in self.roles.items() for arn in by_arn]
        budget = self._budget("roles", len(roles))
        for account, arn in rng.sample(roles, min(budget, len(roles))):
            role = self.roles[account][arn]
            attached = role["AttachedManagedPolicies"]
            if len(attached) > 1 and rng.random() < 0.5:
                attached.pop(rng.randrange(len(attached)))
            else:
                policy = rng.choice(shapes11.MANAGED_POLICIES)
                if all(a["PolicyArn"] != policy for a in attached):
                    attached.append({"PolicyName": policy.rsplit("/", 1)[1], "PolicyArn": policy})
                else:
                    role["RolePolicyList"].append(
                        shapes11.inline_policy(rng, f"extra-{self._next_serial11():06d}")
                    )
        changes.modified["roles"] = min(budget, len(roles))

    def _retag11(self, tag_list: list[JSON], keys: Sequence[str]) -> None:
        """`_retag` drawing from the 1.1 generator."""
        rng = self.rng11
        present = [t for t in tag_list if t["Key"] in keys]
        if not present:
            tag_list.append({"Key": "env", "Value": rng.choice(shapes.ENVS)})
            return
        tag = rng.choice(present)
        pool = [v for v in shapes.TAG_VALUES.get(tag["Key"], []) if v != tag["Value"]]
        tag["Value"] = rng.choice(pool)

    # ----------------------------------------------------------------- rendering

    def counts(self) -> dict[str, int]:
        """Resources as the next snapshot will list them (terminated instances separately)."""
        result = {
            "instances": 0,
            "terminated": 0,
            "security_groups": 0,
            "vpcs": 0,
            "subnets": 0,
            "rds": 0,
            "load_balancers": 0,
            "target_groups": 0,
            "targets": 0,
            "peerings": len(self.peerings),
            "network_interfaces": 0,
            "route_tables": 0,
            "internet_gateways": 0,
            "nat_gateways": 0,
            "network_acls": 0,
            "listeners": 0,
            "functions": 0,
            "roles": sum(len(roles) for roles in self.roles.values()),
        }
        for cell in self.cells:
            for item in cell.instances.values():
                terminated = item["State"]["Name"] == "terminated"
                result["terminated" if terminated else "instances"] += 1
            result["security_groups"] += len(cell.groups)
            result["vpcs"] += len(cell.vpcs)
            result["subnets"] += len(cell.subnets)
            result["rds"] += len(cell.rds)
            result["load_balancers"] += len(cell.lbs)
            result["target_groups"] += len(cell.target_groups)
            result["targets"] += sum(len(t) for t in cell.targets.values())
            result["network_interfaces"] += len(cell.enis)
            result["route_tables"] += len(cell.route_tables)
            result["internet_gateways"] += len(cell.igws)
            result["nat_gateways"] += len(cell.nats)
            result["network_acls"] += len(cell.acls)
            result["listeners"] += sum(len(items) for items in cell.listeners.values())
            result["functions"] += len(cell.functions)
        return result

    def responses(self) -> Iterator[tuple[str, str, str, list[JSON] | bytes]]:
        """(account, region, operation, calls) per data file: format 1's operations and then
        1.1's in each account and region, then each account's IAM (region `global`)."""
        for c, cell in enumerate(self.cells):
            for operation, calls in self._responses10(c, cell):
                yield cell.account, cell.region, operation, calls
            for operation, calls in self._responses11(cell):
                yield cell.account, cell.region, operation, calls
        iam = ops.GET_ACCOUNT_AUTHORIZATION_DETAILS
        for account in self.accounts:
            roles = list(self.roles[account].values())
            pages: list[JSON] = [
                {"RoleDetailList": chunk, "IsTruncated": False}
                for chunk in _chunks(roles, iam.page_size or 1000)
            ]
            for page in pages[:-1]:
                page["IsTruncated"] = True
            yield (
                account,
                ops.GLOBAL_REGION,
                iam.name,
                [{"request": dict(iam.request), "pages": pages}],
            )

    def _responses11(self, cell: Cell) -> Iterator[tuple[str, list[JSON] | bytes]]:
        yield ops.DESCRIBE_NETWORK_INTERFACES.name, _eni_calls(cell)
        for op, key, items in (
            (ops.DESCRIBE_ROUTE_TABLES, "RouteTables", list(cell.route_tables.values())),
            (ops.DESCRIBE_INTERNET_GATEWAYS, "InternetGateways", list(cell.igws.values())),
            (ops.DESCRIBE_NAT_GATEWAYS, "NatGateways", list(cell.nats.values())),
            (ops.DESCRIBE_NETWORK_ACLS, "NetworkAcls", list(cell.acls.values())),
        ):
            yield op.name, _paged(op, key, items)
        yield (
            ops.DESCRIBE_LISTENERS.name,
            [
                {"request": {"LoadBalancerArn": arn}, "pages": [{"Listeners": items}]}
                for arn, items in cell.listeners.items()
            ],
        )
        arns = [a for a in cell.lbs if a in cell.elb_tags]
        arns += [a for a in cell.target_groups if a in cell.elb_tags]
        yield (
            ops.DESCRIBE_TAGS.name,
            [
                {
                    "request": {"ResourceArns": batch},
                    "pages": [
                        {
                            "TagDescriptions": [
                                {"ResourceArn": a, "Tags": cell.elb_tags[a]} for a in batch
                            ]
                        }
                    ],
                }
                for batch in (arns[i : i + TAG_BATCH] for i in range(0, len(arns), TAG_BATCH))
            ],
        )
        yield (
            ops.LIST_FUNCTIONS.name,
            _paged(ops.LIST_FUNCTIONS, "Functions", list(cell.functions.values())),
        )

    def _responses10(self, c: int, cell: Cell) -> Iterator[tuple[str, list[JSON] | bytes]]:
        yield ops.DESCRIBE_INSTANCES.name, _instance_calls(cell)
        for operation, key, items in (
            (ops.DESCRIBE_SECURITY_GROUPS.name, "SecurityGroups", list(cell.groups.values())),
            (ops.DESCRIBE_VPCS.name, "Vpcs", list(cell.vpcs.values())),
            (ops.DESCRIBE_SUBNETS.name, "Subnets", list(cell.subnets.values())),
            (
                ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name,
                "VpcPeeringConnections",
                [p.item for p in self.peerings.values() if c in p.cells],
            ),
        ):
            yield operation, _single_call(key, items, "ec2")
        yield (
            ops.DESCRIBE_DB_INSTANCES.name,
            _single_call("DBInstances", list(cell.rds.values()), "rds"),
        )
        yield (
            ops.DESCRIBE_LOAD_BALANCERS.name,
            _single_call("LoadBalancers", list(cell.lbs.values()), "elbv2"),
        )
        yield (
            ops.DESCRIBE_TARGET_GROUPS.name,
            _single_call("TargetGroups", list(cell.target_groups.values()), "elbv2"),
        )
        yield (
            ops.DESCRIBE_TARGET_HEALTH.name,
            [
                {
                    "request": {"TargetGroupArn": arn},
                    "pages": [{"TargetHealthDescriptions": _health(cell, targets)}],
                }
                for arn, targets in cell.targets.items()
            ],
        )


def _chunks(items: list[JSON], size: int) -> list[list[JSON]]:
    # An empty result is still one page, as boto3's paginators give it.
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _paged(op: ops.Operation, key: str, items: list[JSON]) -> list[JSON]:
    """One call of a paginated 1.1 operation, in pages of the size the collector asks for."""
    pages = [{key: chunk} for chunk in _chunks(items, op.page_size or len(items) or 1)]
    return [{"request": {}, "pages": pages}]


def _eni_calls(cell: Cell) -> bytes:
    """The DescribeNetworkInterfaces call, reusing unchanged interfaces' text."""
    cache = cell.eni_json
    texts: list[bytes] = []
    for eni_id, eni in cell.enis.items():
        text = cache.get(eni_id)
        if text is None:
            text = cache[eni_id] = dumps(eni)
        texts.append(text)
    size = ops.DESCRIBE_NETWORK_INTERFACES.page_size or 1000
    pages = [
        b'{"NetworkInterfaces":[' + b",".join(texts[i : i + size]) + b"]}"
        for i in range(0, len(texts), size)
    ] or [b'{"NetworkInterfaces":[]}']
    return b'[{"request":{},"pages":[' + b",".join(pages) + b"]}]"


def _single_call(key: str, items: list[JSON], service: str) -> list[JSON]:
    pages = [{key: chunk} for chunk in _chunks(items, PAGE_SIZES[service])]
    return [{"request": {}, "pages": pages}]


def _instance_calls(cell: Cell) -> bytes:
    """The DescribeInstances calls as the snapshot writer renders them, reusing unchanged
    reservations' text."""
    cache = cell.reservation_json
    pages: list[bytes] = []
    current: list[bytes] = []
    count = 0
    for reservation_id, reservation in cell.reservations.items():
        text = cache.get(reservation_id)
        if text is None:
            text = cache[reservation_id] = dumps(reservation)
        current.append(text)
        count += len(reservation["Instances"])
        if count >= PAGE_SIZES["ec2"]:
            pages.append(b'{"Reservations":[' + b",".join(current) + b"]}")
            current, count = [], 0
    if current or not pages:
        pages.append(b'{"Reservations":[' + b",".join(current) + b"]}")
    return b'[{"request":{},"pages":[' + b",".join(pages) + b"]}]"


def _health(cell: Cell, targets: list[Target]) -> list[JSON]:
    result: list[JSON] = []
    for target in targets:
        target_json: JSON = {"Id": target.id}
        if target.port is not None:
            target_json["Port"] = target.port
        if target.az is not None:
            target_json["AvailabilityZone"] = target.az
        entry: JSON = {"Target": target_json}
        if target.port is not None:
            entry["HealthCheckPort"] = str(target.port)
        if target.kind == "lambda":
            health: JSON = {
                "State": "unavailable",
                "Reason": "Target.HealthCheckDisabled",
                "Description": "Health checks are disabled",
            }
        elif target.kind == "instance" and (
            cell.instances.get(target.id, {}).get("State", {}).get("Name") != "running"
        ):
            health = {
                "State": "unused",
                "Reason": "Target.InvalidState",
                "Description": "Target is in the stopped state",
            }
        elif target.unhealthy:
            health = {
                "State": "unhealthy",
                "Reason": "Target.FailedHealthChecks",
                "Description": "Health checks failed",
            }
        else:
            health = {"State": "healthy"}
        entry["TargetHealth"] = health
        result.append(entry)
    return result
