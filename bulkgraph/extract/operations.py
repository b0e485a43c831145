"""The one registry of AWS operations a snapshot holds (see docs: snapshot format).

Everything that needs the list of operations reads it from here: the collector (what to call,
in which order, how), the readers and the writer (where each operation's file lives), verify
(how each operation is called), the legacy reader (what `aws_neo4j_map` carried), the
transform (one family per operation, keyed by `Operation.name`) and the generated docs.
Adding an operation is adding one `Operation` to `OPERATIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

#: the region folder of operations that are not regional (`<account>/global/iam/...`)
GLOBAL_REGION = "global"


class Scope(Enum):
    """Where an operation's resources live: one call per region, or one per account."""

    REGIONAL = "regional"
    GLOBAL = "global"


@dataclass(frozen=True)
class Source:
    """Where the items an operation is called for come from: field `item_field` of every
    element of list `list_key` in the pages of operation `operation`."""

    operation: str
    list_key: str
    item_field: str


@dataclass(frozen=True)
class Once:
    """One call (per account and region, or per account for a global operation)."""

    def describe(self) -> str:
        return "once"


@dataclass(frozen=True)
class PerItem:
    """One call per item listed by earlier operations (per target group, per load balancer),
    or per batch of at most `batch` items; `request_key` names the item (a batch: the list)
    in the request."""

    what: str  # for docs and messages: "target group", "load balancer", ...
    sources: tuple[Source, ...]
    request_key: str
    batch: int | None = None  # None: one item per call, the request holds it alone

    def describe(self) -> str:
        if self.batch is None:
            return f"once per {self.what}, `request` names it"
        return f"once per batch of at most {self.batch} {self.what}, `request` names them"

    def requests(self, items: list[str]) -> list[dict[str, Any]]:
        """The requests for `items` (in order, duplicates dropped)."""
        unique = list(dict.fromkeys(items))
        if self.batch is None:
            return [{self.request_key: item} for item in unique]
        return [
            {self.request_key: unique[i : i + self.batch]}
            for i in range(0, len(unique), self.batch)
        ]


Calls = Once | PerItem


@dataclass(frozen=True)
class Operation:
    """One AWS API operation as a snapshot stores it."""

    service: str  # the boto3 client name: "ec2", "elbv2", "iam"
    action: str  # the API's name for it: "DescribeInstances"
    #: the boto3 paginator (its snake_case name), None when the operation has none
    paginator: str | None
    scope: Scope = Scope.REGIONAL
    calls: Calls = field(default_factory=Once)
    #: parameters every call sends (besides a per-item request key)
    request: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    #: the snapshot format version that introduced it
    since: str = "1"
    #: the `aws_neo4j_map` file whose records the legacy reader turns into this operation;
    #: None = that format never carried it (it is unknown in every legacy snapshot)
    legacy_file: str | None = None
    #: False = read and kept in snapshots, but no transform family maps it
    transformed: bool = True

    @property
    def name(self) -> str:
        """`service:Action`, as in data files, manifests and errors."""
        return f"{self.service}:{self.action}"

    @property
    def key(self) -> str:
        """`service/Action`: the data file's path under `<account>/<region>/`."""
        return f"{self.service}/{self.action}"

    def path(self, account_id: str, region: str) -> str:
        """The data file of this operation, relative to the snapshot folder."""
        return f"{account_id}/{region}/{self.key}.json.gz"

    def regions(self, regions: list[str] | tuple[str, ...]) -> list[str]:
        """The region folders it is stored under, given an account's regions."""
        return [GLOBAL_REGION] if self.scope is Scope.GLOBAL else list(regions)

    @property
    def in_legacy_format(self) -> bool:
        return self.legacy_file is not None

    def describe(self) -> str:
        """How it is called, in the words of the snapshot format page."""
        text = self.calls.describe()
        if self.scope is Scope.GLOBAL:
            text += " per account"
        for key, value in self.request.items():
            text += f", `{key}` `{json.dumps(value)}`"
        if self.paginator is not None:
            text += ", paginated"
        if self.scope is Scope.GLOBAL:
            text += (
                f"; stored under the region folder `{GLOBAL_REGION}` "
                f"(`<account>/{GLOBAL_REGION}/{self.service}/...`)"
            )
        return text


DESCRIBE_VPCS = Operation("ec2", "DescribeVpcs", "describe_vpcs")
DESCRIBE_SUBNETS = Operation("ec2", "DescribeSubnets", "describe_subnets")
DESCRIBE_SECURITY_GROUPS = Operation(
    "ec2",
    "DescribeSecurityGroups",
    "describe_security_groups",
    legacy_file="security_group_data.json",
)
DESCRIBE_INSTANCES = Operation(
    "ec2", "DescribeInstances", "describe_instances", legacy_file="instance_data.json"
)
DESCRIBE_VPC_PEERING_CONNECTIONS = Operation(
    "ec2",
    "DescribeVpcPeeringConnections",
    "describe_vpc_peering_connections",
    legacy_file="vpc_peering_data.json",
)
DESCRIBE_DB_INSTANCES = Operation(
    "rds", "DescribeDBInstances", "describe_db_instances", legacy_file="rds_data.json"
)
DESCRIBE_LOAD_BALANCERS = Operation(
    "elbv2", "DescribeLoadBalancers", "describe_load_balancers", legacy_file="alb_data.json"
)
DESCRIBE_TARGET_GROUPS = Operation(
    "elbv2", "DescribeTargetGroups", "describe_target_groups", legacy_file="alb_data.json"
)
DESCRIBE_TARGET_HEALTH = Operation(
    "elbv2",
    "DescribeTargetHealth",
    None,
    calls=PerItem(
        "target group",
        (Source(DESCRIBE_TARGET_GROUPS.name, "TargetGroups", "TargetGroupArn"),),
        "TargetGroupArn",
    ),
    legacy_file="alb_data.json",
)


# snapshot format 1.1: what it takes to say who holds an IP, what reaches what, and what an
# instance may do in AWS (graph model 1.1)
DESCRIBE_NETWORK_INTERFACES = Operation(
    "ec2",
    "DescribeNetworkInterfaces",
    "describe_network_interfaces",
    since="1.1",
)
DESCRIBE_ROUTE_TABLES = Operation(
    "ec2", "DescribeRouteTables", "describe_route_tables", since="1.1"
)
DESCRIBE_INTERNET_GATEWAYS = Operation(
    "ec2", "DescribeInternetGateways", "describe_internet_gateways", since="1.1"
)
DESCRIBE_NAT_GATEWAYS = Operation(
    "ec2", "DescribeNatGateways", "describe_nat_gateways", since="1.1"
)
DESCRIBE_NETWORK_ACLS = Operation(
    "ec2", "DescribeNetworkAcls", "describe_network_acls", since="1.1"
)
DESCRIBE_LISTENERS = Operation(
    "elbv2",
    "DescribeListeners",
    "describe_listeners",
    calls=PerItem(
        "load balancer",
        (Source(DESCRIBE_LOAD_BALANCERS.name, "LoadBalancers", "LoadBalancerArn"),),
        "LoadBalancerArn",
    ),
    since="1.1",
)
DESCRIBE_TAGS = Operation(
    "elbv2",
    "DescribeTags",
    None,
    calls=PerItem(
        "ARNs (load balancers and target groups)",
        (
            Source(DESCRIBE_LOAD_BALANCERS.name, "LoadBalancers", "LoadBalancerArn"),
            Source(DESCRIBE_TARGET_GROUPS.name, "TargetGroups", "TargetGroupArn"),
        ),
        "ResourceArns",
        batch=20,
    ),
    since="1.1",
)
LIST_FUNCTIONS = Operation("lambda", "ListFunctions", "list_functions", since="1.1")
GET_ACCOUNT_AUTHORIZATION_DETAILS = Operation(
    "iam",
    "GetAccountAuthorizationDetails",
    "get_account_authorization_details",
    scope=Scope.GLOBAL,
    request=MappingProxyType({"Filter": ["Role"]}),
    since="1.1",
)

#: Every operation, in the order the collector calls them in a region: an operation called
#: per item comes after the operations its items come from.
OPERATIONS: tuple[Operation, ...] = (
    DESCRIBE_VPCS,
    DESCRIBE_SUBNETS,
    DESCRIBE_SECURITY_GROUPS,
    DESCRIBE_INSTANCES,
    DESCRIBE_VPC_PEERING_CONNECTIONS,
    DESCRIBE_DB_INSTANCES,
    DESCRIBE_LOAD_BALANCERS,
    DESCRIBE_TARGET_GROUPS,
    DESCRIBE_TARGET_HEALTH,
    DESCRIBE_NETWORK_INTERFACES,
    DESCRIBE_ROUTE_TABLES,
    DESCRIBE_INTERNET_GATEWAYS,
    DESCRIBE_NAT_GATEWAYS,
    DESCRIBE_NETWORK_ACLS,
    DESCRIBE_LISTENERS,
    DESCRIBE_TAGS,
    LIST_FUNCTIONS,
    GET_ACCOUNT_AUTHORIZATION_DETAILS,
)


class RegistryError(ValueError):
    """The registry contradicts itself (a test and import time catch it, not a user)."""


def check(operations: tuple[Operation, ...]) -> None:
    """Names unique; items come from operations listed earlier in the same scope."""
    seen: dict[str, Operation] = {}
    for op in operations:
        if op.name in seen:
            raise RegistryError(f"{op.name} is listed twice")
        if isinstance(op.calls, PerItem):
            if op.calls.batch is not None and op.calls.batch < 1:
                raise RegistryError(f"{op.name}: batch must be at least 1")
            for src in op.calls.sources:
                earlier = seen.get(src.operation)
                if earlier is None:
                    raise RegistryError(
                        f"{op.name} is called per item of {src.operation}, "
                        "which is not listed before it"
                    )
                if earlier.scope is not op.scope:
                    raise RegistryError(f"{op.name} and {src.operation} differ in scope")
        seen[op.name] = op


check(OPERATIONS)

BY_NAME: Mapping[str, Operation] = MappingProxyType({op.name: op for op in OPERATIONS})
#: `service/Action` (the path of its data file) -> operation
BY_KEY: Mapping[str, Operation] = MappingProxyType({op.key: op for op in OPERATIONS})


def services(scope: Scope) -> tuple[str, ...]:
    """The boto3 clients the collector needs for the operations of `scope`."""
    return tuple(dict.fromkeys(op.service for op in OPERATIONS if op.scope is scope))


def legacy_files() -> dict[str, tuple[str, ...]]:
    """`aws_neo4j_map` file -> the operations its records become, by file name."""
    files: dict[str, list[str]] = {}
    for op in OPERATIONS:
        if op.legacy_file is not None:
            files.setdefault(op.legacy_file, []).append(op.name)
    return {name: tuple(files[name]) for name in sorted(files)}


def markdown() -> str:
    """The table of operations for the docs."""
    lines = [
        "| file | operation | called | scope | since | in `aws_neo4j_map` |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for op in OPERATIONS:
        legacy = f"`{op.legacy_file}`" if op.legacy_file else "no (unknown)"
        lines.append(
            f"| `{op.key}` | `{op.name}` | {op.describe()} | {op.scope.value} | {op.since} "
            f"| {legacy} |"
        )
    return "\n".join(lines) + "\n"
