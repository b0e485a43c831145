"""The mapping of each AWS operation's records to nodes and relationships (graph-model.md).

Each family function reads the responses of one operation and adds frames to a `Graph`:
node frames hold key and property columns named as in the schema, relationship frames hold
`start_keys`/`end_keys` (the key values of both ends, as List[String]) and the properties.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.records import (
    Paths,
    Rejects,
    Table,
    TypedFields,
    nonempty,
    paths_of,
    table,
    typed,
)

S = "string"


@dataclass
class FamilyCount:
    read: int = 0
    written: int = 0
    rejected: int = 0


@dataclass
class Graph:
    snapshot_id: str
    nodes: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    rels: dict[tuple[str, str, str], list[pl.DataFrame]] = field(
        default_factory=lambda: defaultdict(list)
    )
    rejects: Rejects = field(default_factory=Rejects)
    counts: dict[str, FamilyCount] = field(default_factory=dict)
    #: peering tags, long: id, key, value (turned into `tag_<key>` properties at the end)
    peering_tags: list[pl.DataFrame] = field(default_factory=list)
    #: operations present in the snapshot that this version does not map
    unknown_operations: list[str] = field(default_factory=list)

    def node(self, label: str, df: pl.DataFrame) -> None:
        self.nodes[label].append(df)

    def rel(self, type_: str, start: str, end: str, df: pl.DataFrame) -> None:
        self.rels[(type_, start, end)].append(df)


def keys(*cols: str | pl.Expr) -> pl.Expr:
    exprs = [pl.col(c) if isinstance(c, str) else c for c in cols]
    return pl.concat_list([e.cast(pl.String) for e in exprs])


def _items(
    responses: list[ApiResponse], get: Callable[[dict[str, Any]], Iterable[Any]]
) -> Iterator[tuple[str, int, Any]]:
    for resp in responses:
        pos = 0
        for page in resp.pages():
            for item in get(page) if isinstance(page, dict) else ():
                yield resp.path, pos, item
                pos += 1


def _list(page: dict[str, Any], name: str) -> list[Any]:
    value = page.get(name)
    return value if isinstance(value, list) else []


def _read(
    g: Graph,
    operation: str,
    responses: list[ApiResponse],
    get: Callable[[dict[str, Any]], Iterable[Any]],
    fields: TypedFields,
    required: tuple[str, ...],
    lists: dict[str, Paths] | None = None,
    keep: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, Table]:
    """Records of one operation (`get` picks them from each page), typed; bad ones recorded
    as rejects and counted."""
    items = _items(responses, get)
    return _read_items(g, operation, responses, items, fields, required, lists, keep)


def _read_items(
    g: Graph,
    operation: str,
    responses: list[ApiResponse],
    items: Iterable[tuple[str, int, Any]],
    fields: TypedFields,
    required: tuple[str, ...],
    lists: dict[str, Paths] | None = None,
    keep: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, Table]:
    """`_read` for records picked by the caller: (file, position, record) of `responses`."""
    # account and region of the file each record came from
    origin = pl.DataFrame(
        [(r.path, r.account_id, r.region) for r in responses],
        schema={"file": pl.String, "account_id": pl.String, "region": pl.String},
        orient="row",
    ).unique("file", keep="first")
    tab = table(items, paths_of(fields), lists, keep)
    good, bad = typed(tab.main, fields, required)
    good = good.join(origin, on="file", how="left")
    g.rejects.add(g.snapshot_id, tab.bad)
    g.rejects.add_frame(g.snapshot_id, bad)
    count = g.counts.setdefault(operation, FamilyCount())
    count.read += tab.main.height + len(tab.bad)
    count.rejected += bad.height + len(tab.bad)
    count.written += good.height
    return good, tab


#: the fields of a Tags / TagList element
TAGS: Paths = {"Key": "$.Key", "Value": "$.Value"}


def _children(tab: Table, name: str, parent: pl.DataFrame, parent_cols: list[str]) -> pl.DataFrame:
    """Elements of list field `name` of the good parents, with the parents' `parent_cols`."""
    return tab.child(name).join(parent.select("file", "pos", *parent_cols), on=["file", "pos"])


def _tagged(
    g: Graph, tab: Table, name: str, owner: pl.DataFrame, label: str, key: str = "id"
) -> None:
    tags = _children(tab, name, owner, [key]).select(
        pl.col(key).alias("_owner"),
        pl.col("Key").alias("name"),
        pl.col("Value").fill_null("").alias("value"),
    )
    tags = tags.filter(pl.col("name").is_not_null())
    g.node("Tag", tags.select("name", "value"))
    g.rel(
        "TAGGED",
        label,
        "Tag",
        tags.select(keys("_owner").alias("start_keys"), keys("name", "value").alias("end_keys")),
    )


def _region_contains(g: Graph, label: str, df: pl.DataFrame, rel: str = "CONTAINS") -> None:
    g.rel(
        rel,
        "Region",
        label,
        df.select(keys("account_id", "region").alias("start_keys"), keys("id").alias("end_keys")),
    )


def _belongs(g: Graph, label: str, df: pl.DataFrame, col: str, end: str, key: str = "id") -> None:
    part = df.filter(pl.col(col).is_not_null())
    g.rel(
        "BELONGS_TO",
        label,
        end,
        part.select(keys(key).alias("start_keys"), keys(col).alias("end_keys")),
    )


def _select(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return df.select(cols)


def instances(g: Graph, responses: list[ApiResponse]) -> None:
    def get(page: dict[str, Any]) -> Iterator[Any]:
        for res in _list(page, "Reservations"):
            if isinstance(res, dict):
                yield from _list(res, "Instances")

    good, tab = _read(
        g,
        ops.DESCRIBE_INSTANCES.name,
        responses,
        get,
        {
            "id": ("$.InstanceId", S),
            "aws_hostname": ("$.PrivateDnsName", S),
            "private_ip": ("$.PrivateIpAddress", S),
            "public_ip": ("$.PublicIpAddress", S),
            "public_dns": ("$.PublicDnsName", S),
            "state": ("$.State.Name", S),
            "instance_type": ("$.InstanceType", S),
            "image_id": ("$.ImageId", S),
            "launch_time": ("$.LaunchTime", "datetime"),
            "vpc_id": ("$.VpcId", S),
            "subnet_id": ("$.SubnetId", S),
        },
        ("$.InstanceId",),
        {"Tags": TAGS, "SecurityGroups": {"sg": "$.GroupId"}},
    )
    good = good.with_columns(
        nonempty(pl.col(c)) for c in ("aws_hostname", "public_dns", "vpc_id", "subnet_id")
    )
    g.node("Instance", good.drop("file", "pos"))
    _region_contains(g, "Instance", good)
    _belongs(g, "Instance", good, "vpc_id", "VPC")
    _belongs(g, "Instance", good, "subnet_id", "Subnet")
    sgs = _children(tab, "SecurityGroups", good, ["id"])
    _belongs(g, "Instance", sgs, "sg", "SecurityGroup")
    _tagged(g, tab, "Tags", good, "Instance")


def vpcs(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_VPCS.name,
        responses,
        lambda p: _list(p, "Vpcs"),
        {
            "id": ("$.VpcId", S),
            "cidr": ("$.CidrBlock", S),
            "is_default": ("$.IsDefault", "boolean"),
            "state": ("$.State", S),
        },
        ("$.VpcId",),
        {"Tags": TAGS},
    )
    g.node("VPC", good.drop("file", "pos"))
    _tagged(g, tab, "Tags", good, "VPC")


def subnets(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_SUBNETS.name,
        responses,
        lambda p: _list(p, "Subnets"),
        {
            "id": ("$.SubnetId", S),
            "cidr": ("$.CidrBlock", S),
            "availability_zone": ("$.AvailabilityZone", S),
            "vpc_id": ("$.VpcId", S),
        },
        ("$.SubnetId",),
        {"Tags": TAGS},
    )
    g.node("Subnet", good.drop("file", "pos"))
    _belongs(g, "Subnet", good, "vpc_id", "VPC")
    _tagged(g, tab, "Tags", good, "Subnet")


_RULE_FIELDS: TypedFields = {
    "protocol": ("$.IpProtocol", S),
    "fromPort": ("$.FromPort", "int"),
    "toPort": ("$.ToPort", "int"),
}
_RULE_LISTS: dict[str, Paths] = {
    "IpRanges": {"peer": "$.CidrIp", "description": "$.Description"},
    "Ipv6Ranges": {"peer": "$.CidrIpv6", "description": "$.Description"},
    "PrefixListIds": {"peer": "$.PrefixListId", "description": "$.Description"},
    "UserIdGroupPairs": {"peer": "$.GroupId", "description": "$.Description"},
}


def security_groups(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_SECURITY_GROUPS.name,
        responses,
        lambda p: _list(p, "SecurityGroups"),
        {
            "id": ("$.GroupId", S),
            "name": ("$.GroupName", S),
            "description": ("$.Description", S),
            "vpc_id": ("$.VpcId", S),
        },
        ("$.GroupId",),
        {"Tags": TAGS},
        ("IpPermissions", "IpPermissionsEgress"),
    )
    g.node("SecurityGroup", good.drop("file", "pos"))
    _region_contains(g, "SecurityGroup", good, "HAS_SECURITYGROUP")
    _belongs(g, "SecurityGroup", good, "vpc_id", "VPC")
    _tagged(g, tab, "Tags", good, "SecurityGroup")

    # Rules: one row per rule, then one relationship per CIDR / prefix list / group pair.
    owner = dict(zip(zip(good["file"], good["pos"], strict=True), good["id"], strict=True))
    sg_pos: list[tuple[int, str]] = []  # per rule: its group's position, where it sits

    def rule_items() -> Iterator[tuple[str, int, Any]]:
        for name, direction in (("IpPermissions", "ingress"), ("IpPermissionsEgress", "egress")):
            for file, pos, idx, rule in tab.objects[name]:
                sg = owner.get((file, pos))
                if sg is None:  # the group itself was rejected
                    continue
                if isinstance(rule, dict):
                    rule = {**rule, "_sg": sg, "_dir": direction, "_pos": pos}
                yield file, len(sg_pos), rule
                sg_pos.append((pos, f"{name}[{idx}]"))

    rule_fields = {
        **_RULE_FIELDS,
        "sg": ("$._sg", S),
        "direction": ("$._dir", S),
        "sgpos": ("$._pos", "int"),
    }
    rtab = table(rule_items(), paths_of(rule_fields), _RULE_LISTS)
    rules, bad = typed(rtab.main, rule_fields, ())
    # a bad rule is reported against its security group's record
    bad = bad.join(
        rtab.main.select("file", "pos", pl.col("sgpos").cast(pl.Int64)), on=["file", "pos"]
    ).select("file", pl.col("sgpos").alias("pos"), "reason")
    g.rejects.add_frame(g.snapshot_id, bad)
    g.rejects.add(
        g.snapshot_id,
        [(f, sg_pos[i][0], f"{sg_pos[i][1]}: {reason}") for f, i, reason in rtab.bad],
    )
    props = ["protocol", "fromPort", "toPort", "direction"]
    ingress = pl.col("direction") == "ingress"

    def emit(end_label: str, peers: pl.DataFrame) -> None:
        # AWS describes each rule entry, not the CIDR/list/group it names: the description
        # travels on the relationship (one IPRange node is shared by many rules).
        peers = peers.filter(pl.col("peer").is_not_null())
        inn = peers.filter(ingress)
        out = peers.filter(~ingress)
        rel_props = [*props, "description"]
        g.rel(
            "ALLOWED",
            end_label,
            "SecurityGroup",
            inn.select(keys("peer").alias("start_keys"), keys("sg").alias("end_keys"), *rel_props),
        )
        g.rel(
            "ALLOWED",
            "SecurityGroup",
            end_label,
            out.select(keys("sg").alias("start_keys"), keys("peer").alias("end_keys"), *rel_props),
        )

    cols = ["sg", *props]
    ranges = pl.concat(
        [
            _children(rtab, "IpRanges", rules, cols),
            _children(rtab, "Ipv6Ranges", rules, cols),
        ]
    )
    ranges = ranges.filter(pl.col("peer").is_not_null())
    # one IPRange per CIDR: several rules may describe it differently; keep the smallest
    g.node(
        "IPRange",
        ranges.group_by("peer")
        .agg(pl.col("description").min())
        .select(pl.col("peer").alias("cidr"), "description"),
    )
    emit("IPRange", ranges)
    prefixes = _children(rtab, "PrefixListIds", rules, cols)
    g.node(
        "PrefixList",
        prefixes.filter(pl.col("peer").is_not_null()).select(pl.col("peer").alias("id")),
    )
    emit("PrefixList", prefixes)
    emit("SecurityGroup", _children(rtab, "UserIdGroupPairs", rules, cols))


def peerings(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name,
        responses,
        lambda p: _list(p, "VpcPeeringConnections"),
        {
            "id": ("$.VpcPeeringConnectionId", S),
            "status": ("$.Status.Code", S),
            "requester": ("$.RequesterVpcInfo.VpcId", S),
            "accepter": ("$.AccepterVpcInfo.VpcId", S),
        },
        ("$.VpcPeeringConnectionId", "$.RequesterVpcInfo.VpcId", "$.AccepterVpcInfo.VpcId"),
        {"Tags": TAGS},
    )
    tags = (
        _children(tab, "Tags", good, ["id"])
        .select(
            "id",
            pl.col("Key").alias("key"),
            pl.col("Value").fill_null("").alias("value"),
        )
        .filter(pl.col("key").is_not_null())
    )
    # tags stay long here; the final pass turns them into `tag_<key>` columns
    g.peering_tags.append(tags)
    g.rel(
        "PEERED_TO",
        "VPC",
        "VPC",
        good.select(
            keys("requester").alias("start_keys"),
            keys("accepter").alias("end_keys"),
            "id",
            "status",
        ),
    )


def rds(g: Graph, responses: list[ApiResponse]) -> None:
    fields = {
        name: (f"$.{name}", t)
        for name, t in (
            ("DBInstanceIdentifier", S),
            ("DBInstanceStatus", S),
            ("Engine", S),
            ("EngineVersion", S),
            ("DBInstanceClass", S),
            ("MasterUsername", S),
            ("MultiAZ", "boolean"),
            ("PubliclyAccessible", "boolean"),
            ("StorageEncrypted", "boolean"),
            ("IAMDatabaseAuthenticationEnabled", "boolean"),
            ("BackupRetentionPeriod", "int"),
            ("DBName", S),
        )
    }
    fields.update(
        {
            "VPCId": ("$.DBSubnetGroup.VpcId", S),
            "Endpoint": ("$.Endpoint.Address", S),
            "Port": ("$.Endpoint.Port", "int"),
            "arn": ("$.DBInstanceArn", S),
        }
    )
    good, tab = _read(
        g,
        ops.DESCRIBE_DB_INSTANCES.name,
        responses,
        lambda p: _list(p, "DBInstances"),
        fields,
        ("$.DBInstanceIdentifier",),
        {"TagList": TAGS, "VpcSecurityGroups": {"sg": "$.VpcSecurityGroupId"}},
    )
    g.node("RDSInstance", good.drop("file", "pos"))
    rk = keys("account_id", "region", "DBInstanceIdentifier").alias("start_keys")
    vpc = good.filter(pl.col("VPCId").is_not_null())
    g.rel("BELONGS_TO", "RDSInstance", "VPC", vpc.select(rk, keys("VPCId").alias("end_keys")))
    g.rel(
        "BELONGS_TO",
        "RDSInstance",
        "Region",
        good.select(rk, keys("account_id", "region").alias("end_keys")),
    )
    sgs = _children(
        tab, "VpcSecurityGroups", good, ["account_id", "region", "DBInstanceIdentifier"]
    ).filter(pl.col("sg").is_not_null())
    g.rel(
        "BELONGS_TO", "RDSInstance", "SecurityGroup", sgs.select(rk, keys("sg").alias("end_keys"))
    )
    tags = _children(tab, "TagList", good, ["account_id", "region", "DBInstanceIdentifier"])
    tags = tags.select(
        rk,
        pl.col("Key").alias("name"),
        pl.col("Value").fill_null("").alias("value"),
    ).filter(pl.col("name").is_not_null())
    g.node("Tag", tags.select("name", "value"))
    g.rel(
        "TAGGED",
        "RDSInstance",
        "Tag",
        tags.select("start_keys", keys("name", "value").alias("end_keys")),
    )


def load_balancers(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_LOAD_BALANCERS.name,
        responses,
        lambda p: _list(p, "LoadBalancers"),
        {
            "arn": ("$.LoadBalancerArn", S),
            "name": ("$.LoadBalancerName", S),
            "dns_name": ("$.DNSName", S),
            "scheme": ("$.Scheme", S),
            "state": ("$.State.Code", S),
            "type": ("$.Type", S),
            "created_time": ("$.CreatedTime", "datetime"),
            "vpc_id": ("$.VpcId", S),
        },
        ("$.LoadBalancerArn",),
        {"SecurityGroups": {"sg": "$"}, "Tags": TAGS},
    )
    g.node("LoadBalancer", good.drop("file", "pos"))
    g.rel(
        "CONTAINS",
        "Region",
        "LoadBalancer",
        good.select(
            keys("account_id", "region").alias("start_keys"), keys("arn").alias("end_keys")
        ),
    )
    _belongs(g, "LoadBalancer", good, "vpc_id", "VPC", key="arn")
    sgs = _children(tab, "SecurityGroups", good, ["arn"])
    _belongs(g, "LoadBalancer", sgs, "sg", "SecurityGroup", key="arn")
    _tagged(g, tab, "Tags", good, "LoadBalancer", key="arn")


def target_groups(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = _read(
        g,
        ops.DESCRIBE_TARGET_GROUPS.name,
        responses,
        lambda p: _list(p, "TargetGroups"),
        {
            "arn": ("$.TargetGroupArn", S),
            "name": ("$.TargetGroupName", S),
            "protocol": ("$.Protocol", S),
            "port": ("$.Port", "int"),
            "target_type": ("$.TargetType", S),
            "vpc_id": ("$.VpcId", S),
        },
        ("$.TargetGroupArn",),
        {"LoadBalancerArns": {"lb": "$"}},
    )
    g.node("TargetGroup", good.drop("file", "pos"))
    lbs = _children(tab, "LoadBalancerArns", good, ["arn"])
    g.rel(
        "CONTAINS",
        "LoadBalancer",
        "TargetGroup",
        lbs.select(keys("lb").alias("start_keys"), keys("arn").alias("end_keys")),
    )


def target_health(g: Graph, responses: list[ApiResponse]) -> None:
    def items() -> Iterator[tuple[str, int, Any]]:
        for resp in responses:
            pos = 0
            for call in resp.calls:
                tg = (call.get("request") or {}).get("TargetGroupArn")
                for page in call.get("pages", []):
                    for item in _list(page, "TargetHealthDescriptions"):
                        rec = {**item, "_tg": tg} if isinstance(item, dict) else item
                        yield resp.path, pos, rec
                        pos += 1

    fields = {
        "tg": ("$._tg", S),
        "target": ("$.Target.Id", S),
        "port": ("$.Target.Port", "int"),
        "health": ("$.TargetHealth.State", S),
    }
    # the target group is in each call's request, not in its records: put it in as `_tg`
    good, _ = _read_items(
        g, ops.DESCRIBE_TARGET_HEALTH.name, responses, items(), fields, ("$._tg", "$.Target.Id")
    )
    # the target's kind follows from its id: i-..., a Lambda ARN, a load balancer ARN, an IP
    target = pl.col("target")
    kind = (
        pl.when(target.str.starts_with("i-"))
        .then(pl.lit("Instance"))
        .when(target.str.contains(":lambda:", literal=True))
        .then(pl.lit("LambdaFunction"))
        .when(target.str.contains(":loadbalancer/", literal=True))
        .then(pl.lit("LoadBalancer"))
        .otherwise(pl.lit("IPAddress"))
    )
    good = good.with_columns(kind.alias("kind"))
    for label in ("Instance", "IPAddress", "LambdaFunction", "LoadBalancer"):
        part = good.filter(pl.col("kind") == label)
        if label in ("IPAddress", "LambdaFunction"):
            key = "ip" if label == "IPAddress" else "arn"
            g.node(label, part.select(pl.col("target").alias(key)))
        g.rel(
            "CONTAINS",
            "TargetGroup",
            label,
            part.select(
                keys("tg").alias("start_keys"), keys("target").alias("end_keys"), "port", "health"
            ),
        )


#: operation name (the registry's, extract/operations.py) -> its family
FAMILIES: dict[str, Callable[[Graph, list[ApiResponse]], None]] = {
    ops.DESCRIBE_INSTANCES.name: instances,
    ops.DESCRIBE_SECURITY_GROUPS.name: security_groups,
    ops.DESCRIBE_VPCS.name: vpcs,
    ops.DESCRIBE_SUBNETS.name: subnets,
    ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name: peerings,
    ops.DESCRIBE_DB_INSTANCES.name: rds,
    ops.DESCRIBE_LOAD_BALANCERS.name: load_balancers,
    ops.DESCRIBE_TARGET_GROUPS.name: target_groups,
    ops.DESCRIBE_TARGET_HEALTH.name: target_health,
}
