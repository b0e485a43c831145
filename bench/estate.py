"""A synthetic AWS estate held as raw boto3 items, changed a little between snapshots.

The estate is built once from a seed and then mutated in place by `advance()`; `responses()`
renders the current state as the calls and pages of format `bulkgraph-snapshot/1`. Rendering
never draws random numbers, so the sequence of states depends only on the seed and sizes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import shapes
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


@dataclass(frozen=True)
class Sizes:
    """How many of each resource the whole estate holds (over all accounts and regions)."""

    instances: int
    security_groups: int
    rds: int
    load_balancers: int
    vpcs: int
    peerings: int

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
        for cell, (vpcs, groups, instances, rds, lbs) in zip(self.cells, per_cell, strict=True):
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
            for _ in range(instances):
                self._launch(cell, shapes.at(start - timedelta(days=700), timedelta(days=700), rng))
            for _ in range(rds):
                created = shapes.at(start - timedelta(days=900), timedelta(days=899), rng)
                self._add_rds(cell, created)
            for _ in range(lbs):
                self._add_lb(cell, start)
        self._add_peerings()
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
            return
        item["State"] = {"Code": shapes.STATE_CODES["running"], "Name": "running"}
        item["StateTransitionReason"] = ""
        item.pop("StateReason", None)
        if item["InstanceId"] in cell.wants_public_ip:
            # A restarted instance gets a new public address unless it holds an Elastic IP.
            address = shapes.public_ip(rng)
            item["PublicIpAddress"] = address
            item["PublicDnsName"] = shapes.public_dns(cell.region, address)

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
        return result

    def responses(self) -> Iterator[tuple[Cell, str, list[JSON] | bytes]]:
        """(cell, operation, calls) per data file."""
        for c, cell in enumerate(self.cells):
            yield cell, ops.DESCRIBE_INSTANCES.name, _instance_calls(cell)
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
                yield cell, operation, _single_call(key, items, "ec2")
            yield (
                cell,
                ops.DESCRIBE_DB_INSTANCES.name,
                _single_call("DBInstances", list(cell.rds.values()), "rds"),
            )
            yield (
                cell,
                ops.DESCRIBE_LOAD_BALANCERS.name,
                _single_call("LoadBalancers", list(cell.lbs.values()), "elbv2"),
            )
            yield (
                cell,
                ops.DESCRIBE_TARGET_GROUPS.name,
                _single_call("TargetGroups", list(cell.target_groups.values()), "elbv2"),
            )
            yield (
                cell,
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
