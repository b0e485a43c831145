"""Configuration items -> the boto3 response shape of the matching operation.

So that the transform keeps exactly one path, each recorded resource type becomes records of
the operation a collector would have called (`AWS::EC2::Instance` -> `ec2:DescribeInstances`
`Reservations[].Instances[]`), and a snapshot built from Config is a native snapshot.

Config writes `configuration` for EC2, RDS, ELBv2 load balancers, Lambda and IAM as the
Describe record in Java-bean lower camel case (`instanceId`, `dBInstanceIdentifier`,
`dNSName`, `iAMDatabaseAuthenticationEnabled`); for newer types such as
`AWS::ElasticLoadBalancingV2::Listener` in CloudFormation's PascalCase. The generic rule
(first letter upper-cased) turns most keys back into boto3's; each adapter names the fields
where it does not or might not (`fields`, matched case-insensitively: `dbinstanceIdentifier`
and `dBInstanceIdentifier` both give `DBInstanceIdentifier`), the maps whose keys are data
and stay as they are (`keep`, e.g. Lambda environment variables), and its timestamp fields,
written as `datetime.isoformat()` as a collector stores boto3's values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from bulkgraph.extract import operations as ops
from bulkgraph.extract.awsconfig.files import ConfigItem, parse_time
from bulkgraph.extract.operations import Operation
from bulkgraph.extract.writer import dumps

Record = dict[str, Any]


def _upper_first(key: str) -> str:
    return key[:1].upper() + key[1:]


@dataclass(frozen=True)
class Adapter:
    """How one Config resource type becomes records of one operation."""

    resource_type: str
    operation: Operation
    #: the record's field holding the resource id (filled from `resourceId` when absent)
    id_field: str
    #: boto3 names where upper-casing the first letter is not (or may not be) enough
    fields: tuple[str, ...] = ()
    #: fields (boto3 names) whose value is a map with keys of the user's, kept as they are
    keep: frozenset[str] = frozenset()
    #: fields (boto3 names, at any depth) holding timestamps
    times: frozenset[str] = frozenset()
    #: where the item's `tags` map goes when the configuration has no tag list; None: nowhere
    tags_field: str | None = "Tags"
    #: the record's field holding the ARN (filled from the item's ARN when absent)
    arn_field: str | None = None
    #: a final touch for what no renaming expresses
    fix: Callable[[Record], None] | None = None
    _names: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {name.lower(): name for name in self.fields}
        # a spelling already right maps to itself (and lower-case keys of `fields` stay theirs)
        names.update({name: name for name in self.fields})
        object.__setattr__(self, "_names", names)

    def key(self, key: str) -> str:
        # memoised in `_names` too: the same few hundred keys recur in every item
        name = self._names.get(key)
        if name is None:
            name = self._names.get(key.lower()) or _upper_first(key)
            self._names[key] = name
        return name

    def convert(self, value: Any) -> Any:
        """A Config value with boto3's keys (and timestamps as a collector stores them)."""
        if isinstance(value, dict):
            out: Record = {}
            for k, v in value.items():
                name = self.key(str(k))
                if name in self.keep and isinstance(v, dict):
                    out[name] = dict(v)
                elif name in self.times and isinstance(v, str) and v:
                    out[name] = _time(v)
                else:
                    out[name] = self.convert(v)
            return out
        if isinstance(value, list):
            return [self.convert(v) for v in value]
        return value

    def record(self, item: ConfigItem) -> Record:
        """The operation's record of a recorded item."""
        record = self.convert(item.configuration or {})
        assert isinstance(record, dict)
        if self.arn_field and item.arn:
            record.setdefault(self.arn_field, item.arn)
        record.setdefault(self.id_field, item.resource_id)
        if self.tags_field and self.tags_field not in record and item.tags:
            record[self.tags_field] = tag_list(item.tags)
        if self.fix is not None:
            self.fix(record)
        return record


def _time(text: str) -> str:
    try:
        return parse_time(text).isoformat()
    except ValueError:
        return text  # not a time after all: kept as Config wrote it


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _ranges(rule: Record) -> None:
    """A security group rule's IPv4 ranges: Config writes `ipRanges` as a flat list of CIDR
    strings and, in newer items, `ipv4Ranges[].cidrIp` (with descriptions) too; boto3 has
    `IpRanges[].CidrIp`."""
    v4 = rule.pop("Ipv4Ranges", None)
    flat = rule.get("IpRanges")
    if isinstance(v4, list):
        rule["IpRanges"] = v4
    elif isinstance(flat, list):
        rule["IpRanges"] = [{"CidrIp": r} if isinstance(r, str) else r for r in flat]


def _security_group(record: Record) -> None:
    for key in ("IpPermissions", "IpPermissionsEgress"):
        for rule in record.get(key) or []:
            if isinstance(rule, dict):
                _ranges(rule)


def _policy(text: Any) -> Any:
    """IAM policy documents: Config writes them URL-encoded; boto3 gives the decoded JSON."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(unquote(text))
    except ValueError:
        return text


def _role(record: Record) -> None:
    if "AssumeRolePolicyDocument" in record:
        record["AssumeRolePolicyDocument"] = _policy(record["AssumeRolePolicyDocument"])
    for policy in record.get("RolePolicyList") or []:
        if isinstance(policy, dict) and "PolicyDocument" in policy:
            policy["PolicyDocument"] = _policy(policy["PolicyDocument"])
    for profile in record.get("InstanceProfileList") or []:
        for role in profile.get("Roles") or [] if isinstance(profile, dict) else []:
            if isinstance(role, dict) and "AssumeRolePolicyDocument" in role:
                role["AssumeRolePolicyDocument"] = _policy(role["AssumeRolePolicyDocument"])


INSTANCE = "AWS::EC2::Instance"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
VPC = "AWS::EC2::VPC"
SUBNET = "AWS::EC2::Subnet"
PEERING = "AWS::EC2::VPCPeeringConnection"
DB_INSTANCE = "AWS::RDS::DBInstance"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
NETWORK_INTERFACE = "AWS::EC2::NetworkInterface"
ROUTE_TABLE = "AWS::EC2::RouteTable"
INTERNET_GATEWAY = "AWS::EC2::InternetGateway"
NAT_GATEWAY = "AWS::EC2::NatGateway"
NETWORK_ACL = "AWS::EC2::NetworkAcl"
FUNCTION = "AWS::Lambda::Function"
ROLE = "AWS::IAM::Role"

_EC2_TIMES = frozenset(
    {"LaunchTime", "AttachTime", "CreateTime", "DeleteTime", "UsageOperationUpdateTime"}
)

ADAPTERS: dict[str, Adapter] = {
    a.resource_type: a
    for a in (
        Adapter(INSTANCE, ops.DESCRIBE_INSTANCES, "InstanceId", times=_EC2_TIMES),
        Adapter(
            SECURITY_GROUP,
            ops.DESCRIBE_SECURITY_GROUPS,
            "GroupId",
            fields=("IpRanges", "Ipv6Ranges", "CidrIp", "CidrIpv6", "UserIdGroupPairs"),
            fix=_security_group,
        ),
        Adapter(VPC, ops.DESCRIBE_VPCS, "VpcId"),
        Adapter(SUBNET, ops.DESCRIBE_SUBNETS, "SubnetId", fields=("SubnetArn",)),
        Adapter(
            PEERING,
            ops.DESCRIBE_VPC_PEERING_CONNECTIONS,
            "VpcPeeringConnectionId",
            times=frozenset({"ExpirationTime"}),
        ),
        Adapter(
            DB_INSTANCE,
            ops.DESCRIBE_DB_INSTANCES,
            "DBInstanceIdentifier",
            fields=(
                "DBInstanceIdentifier",
                "DBInstanceClass",
                "DBInstanceStatus",
                "DBInstanceArn",
                "DBName",
                "DBSubnetGroup",
                "DBSubnetGroupName",
                "DBSubnetGroupDescription",
                "DBParameterGroups",
                "DBParameterGroupName",
                "DBSecurityGroups",
                "DBClusterIdentifier",
                "DbInstancePort",
                "DbiResourceId",
                "IAMDatabaseAuthenticationEnabled",
                "MultiAZ",
                "CACertificateIdentifier",
                "TagList",
            ),
            times=frozenset({"InstanceCreateTime", "LatestRestorableTime"}),
            tags_field="TagList",
            arn_field="DBInstanceArn",
        ),
        Adapter(
            LOAD_BALANCER,
            ops.DESCRIBE_LOAD_BALANCERS,
            "LoadBalancerArn",
            fields=("DNSName", "LoadBalancerArn", "CanonicalHostedZoneId"),
            times=frozenset({"CreatedTime"}),
            tags_field=None,  # an ELBv2 resource's tags are elbv2:DescribeTags'
            arn_field="LoadBalancerArn",
        ),
        Adapter(
            LISTENER,
            ops.DESCRIBE_LISTENERS,
            "ListenerArn",
            tags_field=None,
            arn_field="ListenerArn",
        ),
        Adapter(
            NETWORK_INTERFACE,
            ops.DESCRIBE_NETWORK_INTERFACES,
            "NetworkInterfaceId",
            times=_EC2_TIMES,
            tags_field="TagSet",
        ),
        Adapter(ROUTE_TABLE, ops.DESCRIBE_ROUTE_TABLES, "RouteTableId"),
        Adapter(INTERNET_GATEWAY, ops.DESCRIBE_INTERNET_GATEWAYS, "InternetGatewayId"),
        Adapter(NAT_GATEWAY, ops.DESCRIBE_NAT_GATEWAYS, "NatGatewayId", times=_EC2_TIMES),
        Adapter(NETWORK_ACL, ops.DESCRIBE_NETWORK_ACLS, "NetworkAclId"),
        Adapter(
            FUNCTION,
            ops.LIST_FUNCTIONS,
            "FunctionName",
            keep=frozenset({"Variables"}),
            tags_field=None,  # lambda:ListFunctions gives no tags
            arn_field="FunctionArn",
        ),
        Adapter(
            ROLE,
            ops.GET_ACCOUNT_AUTHORIZATION_DETAILS,
            "RoleId",
            times=frozenset({"CreateDate", "LastUsedDate"}),
            arn_field="Arn",
            fix=_role,
        ),
    )
}

#: operation name -> the adapter of its resource type
BY_OPERATION: dict[str, Adapter] = {a.operation.name: a for a in ADAPTERS.values()}


@dataclass(frozen=True, slots=True)
class Held:
    """What the state keeps of a resource's latest item: the operation's record already
    rendered as JSON text, and what ordering and grouping it needs."""

    resource_type: str
    resource_id: str
    capture_time: datetime
    state_id: int
    deleted: bool
    #: its configuration is known (False: ResourceNotRecorded, or no configuration)
    recorded: bool
    #: the record, as `writer.dumps` renders it; None when not recorded or deleted
    record: bytes | None = None
    #: the value records are sorted by in a data file (the operation's id field)
    sort_key: str = ""
    #: a load balancer's ARN: its own (load balancers), or its listener's
    load_balancer: str = ""
    #: a load balancer's elbv2:DescribeTags entry
    tags: bytes | None = None

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.capture_time, self.state_id)


def hold(item: ConfigItem) -> Held:
    """What the state keeps of `item` (a type with an adapter)."""
    adapter = ADAPTERS[item.resource_type]
    held = Held(
        item.resource_type,
        item.resource_id,
        item.capture_time,
        item.state_id,
        item.deleted,
        item.recorded,
    )
    if item.deleted or not item.recorded:
        return held
    record = adapter.record(item)
    arn = item.arn or item.resource_id
    return Held(
        held.resource_type,
        held.resource_id,
        held.capture_time,
        held.state_id,
        held.deleted,
        held.recorded,
        record=dumps(record),
        sort_key=str(record.get(adapter.id_field, "")),
        load_balancer=str(record.get("LoadBalancerArn", "")),
        tags=dumps({"ResourceArn": arn, "Tags": tag_list(item.tags)})
        if item.resource_type == LOAD_BALANCER
        else None,
    )


def _call(request: dict[str, Any], key: str, records: Iterable[bytes]) -> Iterator[bytes]:
    """The text of `{"request": request, "pages": [{key: [records]}]}`, in pieces."""
    yield b'{"request":%s,"pages":[{%s:[' % (dumps(request), dumps(key))
    for n, record in enumerate(records):
        yield b"," + record if n else record
    yield b"]}]}"


def _calls(calls: Iterable[Iterator[bytes]]) -> Iterator[bytes]:
    yield b"["
    for n, call in enumerate(calls):
        if n:
            yield b","
        yield from call
    yield b"]"


def _by_load_balancer(arns: list[str], listeners: Iterator[Held]) -> Iterator[list[bytes]]:
    """Per load balancer of `arns` (sorted), its listeners (sorted by load balancer)."""
    pending = next(listeners, None)
    for arn in arns:
        mine: list[bytes] = []
        while pending is not None and pending.load_balancer <= arn:
            if pending.load_balancer == arn and pending.record is not None:
                mine.append(pending.record)
            pending = next(listeners, None)
        yield mine
    for _ in listeners:  # read to the end: the store's cursor is then done
        pass


def calls(
    operation: Operation, held: Iterator[Held], load_balancers: list[Held]
) -> Iterator[bytes]:
    """The text of the `calls` of `operation`'s data file, in pieces, for the resources
    `held` (in data-file order: the same state gives the same bytes). Listeners and tags
    are called per load balancer (`load_balancers`; `held` then grouped by load balancer)."""
    records = (h.record for h in held if h.record is not None)
    name = operation.name
    request = dict(operation.request)
    lb_arns = sorted({h.load_balancer for h in load_balancers})
    if name == ops.DESCRIBE_INSTANCES.name:
        # Config does not know reservations: one per instance
        reservations = (b'{"Instances":[%s]}' % r for r in records)
        return _calls([_call(request, "Reservations", reservations)])
    if name == ops.DESCRIBE_LISTENERS.name:
        return _calls(
            _call({"LoadBalancerArn": arn}, "Listeners", mine)
            for arn, mine in zip(lb_arns, _by_load_balancer(lb_arns, held), strict=True)
        )
    if name == ops.DESCRIBE_TAGS.name:
        assert isinstance(operation.calls, ops.PerItem)
        key = operation.calls.request_key
        described = {h.load_balancer: h.tags for h in load_balancers if h.tags is not None}
        return _calls(
            _call(req, "TagDescriptions", (described[a] for a in req[key]))
            for req in operation.calls.requests(sorted(described))
        )
    if name == ops.GET_ACCOUNT_AUTHORIZATION_DETAILS.name:
        roles = list(records)  # an account's roles, from one or more regions' files

        def details() -> Iterator[bytes]:
            yield b'{"request":%s,"pages":[{"UserDetailList":[],"GroupDetailList":[],' % (
                dumps(request)
            )
            yield b'"RoleDetailList":[' + b",".join(roles) + b'],"Policies":[]}]}'

        return _calls([details()])
    return _calls([_call(request, _LIST_KEY[name], records)])


_LIST_KEY = {
    ops.DESCRIBE_SECURITY_GROUPS.name: "SecurityGroups",
    ops.DESCRIBE_VPCS.name: "Vpcs",
    ops.DESCRIBE_SUBNETS.name: "Subnets",
    ops.DESCRIBE_VPC_PEERING_CONNECTIONS.name: "VpcPeeringConnections",
    ops.DESCRIBE_DB_INSTANCES.name: "DBInstances",
    ops.DESCRIBE_LOAD_BALANCERS.name: "LoadBalancers",
    ops.DESCRIBE_NETWORK_INTERFACES.name: "NetworkInterfaces",
    ops.DESCRIBE_ROUTE_TABLES.name: "RouteTables",
    ops.DESCRIBE_INTERNET_GATEWAYS.name: "InternetGateways",
    ops.DESCRIBE_NAT_GATEWAYS.name: "NatGateways",
    ops.DESCRIBE_NETWORK_ACLS.name: "NetworkAcls",
    ops.LIST_FUNCTIONS.name: "Functions",
}
