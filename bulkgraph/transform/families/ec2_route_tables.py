"""ec2:DescribeRouteTables: route tables, their routes, and the subnets that use them.

Particular to it:
- ROUTES_VIA from each subnet to its route table: its explicit association, else the main
  table of its VPC. Which subnets have none needs the subnets DescribeSubnets lists: that is
  the family's `after` step, run once every family has put its nodes.
- one ROUTE per route, to its target: a NAT gateway, an internet gateway, the peer VPC of a
  peering (the VPC at the other end of the peering from the table's own: the peering comes
  from DescribeVpcPeeringConnections, so this too is the `after` step), an instance, a
  network interface, in that order of preference when AWS names several (an instance route
  names the instance and its interface). Any other target (transit gateway, VPC endpoint,
  virtual private gateway, egress-only internet gateway, local or carrier gateway, core
  network, and a peering the snapshot does not hold) is a `Gateway`, a stub keyed by its id.
  The `local` route of every table (the VPC's own CIDRs) is implied by the VPC and not
  written; a route naming no target is a reject.
"""

from __future__ import annotations

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, RelSchema, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.ec2_instances import INSTANCE
from bulkgraph.transform.families.ec2_internet_gateways import INTERNET_GATEWAY
from bulkgraph.transform.families.ec2_nat_gateways import NAT_GATEWAY
from bulkgraph.transform.families.ec2_network_interfaces import NETWORK_INTERFACE
from bulkgraph.transform.families.peering import PEERED_TO
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced

OPERATION = ops.DESCRIBE_ROUTE_TABLES.name

ROUTE_TABLE = NodeSchema(
    "RouteTable",
    doc="a VPC route table",
    keys=(Prop("id", doc="rtb-...", source="$.RouteTableId", required=True),),
    props=(
        Prop("main", "boolean", "its VPC's main table (the subnets without their own use it)"),
        Prop("vpc_id", doc="its VPC", source="$.VpcId"),
        *ACCOUNT_REGION,
    ),
)
GATEWAY = NodeSchema(
    "Gateway",
    keys=(Prop("id", doc="the target's id: tgw-, vpce-, vgw-, eigw-, lgw-, cagw-, pcx-..."),),
    doc="a route target without a label of its own (a stub: no operation lists them)",
)
IN_VPC = rel("BELONGS_TO", ROUTE_TABLE, VPC, end_cols={"id": "vpc_id"})
ROUTES_VIA = rel(
    "ROUTES_VIA",
    SUBNET,
    ROUTE_TABLE,
    start_cols={"id": "subnet"},
    props=(Prop("explicit", "boolean", "its own association (false: its VPC's main table)"),),
    doc="the route table a subnet's traffic follows",
)
TAGGED = tagged(ROUTE_TABLE)

ROUTE_PROPS = (
    Prop("destination", doc="IPv4 or IPv6 CIDR, or prefix list id"),
    Prop("state", doc="`active` or `blackhole`"),
    Prop("origin", doc="`CreateRouteTable`, `CreateRoute` or `EnableVgwRoutePropagation`"),
)
#: target label -> ROUTE from a table to it (the target's key in column `target`)
ROUTE: dict[str, RelSchema] = {
    end.label: rel(
        "ROUTE",
        ROUTE_TABLE,
        end,
        end_cols={"id": "target"},
        props=ROUTE_PROPS,
        doc="a route of the table, to its target",
    )
    for end in (INTERNET_GATEWAY, NAT_GATEWAY, INSTANCE, NETWORK_INTERFACE, VPC, GATEWAY)
}

_ROUTE = {
    "state": "$.State",
    "origin": "$.Origin",
    "ipv4": "$.DestinationCidrBlock",
    "ipv6": "$.DestinationIpv6CidrBlock",
    "prefix_list": "$.DestinationPrefixListId",
    "gateway": "$.GatewayId",
    "nat": "$.NatGatewayId",
    "instance": "$.InstanceId",
    "eni": "$.NetworkInterfaceId",
    "pcx": "$.VpcPeeringConnectionId",
    "tgw": "$.TransitGatewayId",
    "eigw": "$.EgressOnlyInternetGatewayId",
    "lgw": "$.LocalGatewayId",
    "cagw": "$.CarrierGatewayId",
    "core": "$.CoreNetworkArn",
}
READ = Read(
    sourced(ROUTE_TABLE),
    lambda page: list_at(page, "RouteTables"),
    {
        "Tags": TAGS,
        "Associations": {
            "association": "$.RouteTableAssociationId",
            "is_main": "$.Main",
            "subnet": "$.SubnetId",
        },
        "Routes": _ROUTE,
    },
)

#: the routes through a peering, kept by `run` for `after`
_PEERING_ROUTES = "ec2_route_tables.peering_routes"


def _routes(g: Graph, routes: pl.DataFrame) -> pl.DataFrame:
    """Each route with `destination`, `target` and its label `kind` (see the module doc);
    the `local` route left out, a route without a target rejected."""
    gateway = pl.col("gateway")
    others = pl.coalesce("gateway", "tgw", "eigw", "lgw", "cagw", "core")
    # (condition, kind, target), in order of preference
    choices = (
        (gateway == "local", "local", pl.lit(None, pl.String)),
        (pl.col("nat").is_not_null(), NAT_GATEWAY.label, pl.col("nat")),
        (gateway.str.starts_with("igw-"), INTERNET_GATEWAY.label, gateway),
        (pl.col("pcx").is_not_null(), "peering", pl.col("pcx")),
        (pl.col("instance").is_not_null(), INSTANCE.label, pl.col("instance")),
        (pl.col("eni").is_not_null(), NETWORK_INTERFACE.label, pl.col("eni")),
        (others.is_not_null(), GATEWAY.label, others),
    )
    kind: pl.Expr = pl.lit(None, pl.String)
    target: pl.Expr = pl.lit(None, pl.String)
    for cond, label, value in reversed(choices):
        kind = pl.when(cond.fill_null(False)).then(pl.lit(label)).otherwise(kind)
        target = pl.when(cond.fill_null(False)).then(value).otherwise(target)
    routes = routes.with_columns(
        pl.coalesce("ipv4", "ipv6", "prefix_list").alias("destination"),
        kind.alias("kind"),
        target.alias("target"),
    )
    lost = routes.filter(pl.col("kind").is_null())
    g.rejects.add(
        g.snapshot_id,
        [
            (file, pos, f"Routes[{idx}]: names no target")
            for file, pos, idx in lost.select("file", "pos", "idx").iter_rows()
        ],
    )
    return routes.filter(pl.col("kind").is_not_null() & (pl.col("kind") != "local"))


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    associations = children(tab, "Associations", good, ["id"])
    main = associations.filter(pl.col("is_main") == "true").select("id").unique()
    good = good.with_columns(pl.col("id").is_in(main["id"].implode()).alias("main"))
    g.put(ROUTE_TABLE, good)
    g.link(IN_VPC, good)
    explicit = associations.filter(pl.col("subnet").is_not_null())
    g.link(ROUTES_VIA, explicit.with_columns(pl.lit(True).alias("explicit")))
    routes = _routes(g, children(tab, "Routes", good, ["id", "vpc_id"]))
    for label, schema in ROUTE.items():
        g.link(schema, routes.filter(pl.col("kind") == label))
    g.hold(_PEERING_ROUTES, routes.filter(pl.col("kind") == "peering"))
    put_tags(g, TAGGED, tab, "Tags", good)


def after(g: Graph) -> None:
    """The main table of every subnet without its own; the peer VPC of peering routes."""
    subnets = g.nodes_of(SUBNET).select(pl.col("id").alias("subnet"), "vpc_id").unique("subnet")
    explicit = g.links_of(ROUTES_VIA).filter(pl.col("explicit"))
    mains = g.nodes_of(ROUTE_TABLE).filter(pl.col("main")).select("id", "vpc_id").unique()
    implicit = subnets.join(explicit, on="subnet", how="anti").join(mains, on="vpc_id")
    g.link(ROUTES_VIA, implicit.with_columns(pl.lit(False).alias("explicit")))

    held = g.held(_PEERING_ROUTES)
    if not held:
        return
    peerings = g.links_of(PEERED_TO).select(pl.col("id").alias("pcx"), "requester", "accepter")
    routes = pl.concat(held).join(peerings.unique("pcx"), on="pcx", how="left")
    peer = (
        pl.when(pl.col("requester") == pl.col("vpc_id"))
        .then(pl.col("accepter"))
        .when(pl.col("accepter") == pl.col("vpc_id"))
        .then(pl.col("requester"))
    )
    routes = routes.with_columns(peer.alias("peer"))
    found = pl.col("peer").is_not_null()
    g.link(ROUTE[VPC.label], routes.filter(found).with_columns(pl.col("peer").alias("target")))
    # a peering the snapshot does not hold (or not of this VPC): its id, as a Gateway
    g.link(ROUTE[GATEWAY.label], routes.filter(~found))


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(ROUTE_TABLE, GATEWAY),
    rels=(IN_VPC, ROUTES_VIA, *ROUTE.values(), TAGGED),
    after=after,
)
