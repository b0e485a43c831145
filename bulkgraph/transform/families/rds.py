"""rds:DescribeDBInstances: database instances, their VPC, subnets, region, groups, tags.

Named as AWS names them (legacy: the old tool's properties), and keyed by account, region and
identifier: an identifier is unique only within its account and region.
"""

from __future__ import annotations

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.families.base import ACCOUNT_REGION, REGION, TAGS, put_tags, tagged
from bulkgraph.transform.families.security_groups import SECURITY_GROUP
from bulkgraph.transform.families.subnets import SUBNET
from bulkgraph.transform.families.vpcs import VPC
from bulkgraph.transform.family import Family, Graph, Read, children, list_at, read, sourced
from bulkgraph.transform.types import PropType

OPERATION = ops.DESCRIBE_DB_INSTANCES.name


def _aws(name: str, type_: PropType = "string", doc: str = "", required: bool = False) -> Prop:
    """A property named and placed as in the API record."""
    return Prop(name, type_, doc, source=f"$.{name}", required=required)


RDS_INSTANCE = NodeSchema(
    "RDSInstance",
    doc="an RDS database instance",
    keys=(
        *ACCOUNT_REGION,
        Prop(
            "DBInstanceIdentifier", doc="its name", source="$.DBInstanceIdentifier", required=True
        ),
    ),
    props=(
        _aws("DBInstanceStatus", doc="`available`, `stopped`..."),
        _aws("Engine", doc="`postgres`, `mysql`..."),
        _aws("EngineVersion"),
        _aws("DBInstanceClass", doc="e.g. `db.t3.micro`"),
        _aws("MasterUsername"),
        Prop("VPCId", doc="the VPC of its subnet group", source="$.DBSubnetGroup.VpcId"),
        _aws("MultiAZ", "boolean"),
        _aws("PubliclyAccessible", "boolean"),
        _aws("StorageEncrypted", "boolean"),
        _aws("IAMDatabaseAuthenticationEnabled", "boolean"),
        Prop("Endpoint", doc="address", source="$.Endpoint.Address"),
        Prop("Port", "int", "the endpoint's port", source="$.Endpoint.Port"),
        _aws("BackupRetentionPeriod", "int", "days"),
        _aws("DBName", doc="the database created with it, if any"),
        Prop("arn", doc="its ARN", source="$.DBInstanceArn"),
    ),
    extra_indexes=(("DBInstanceIdentifier",),),
)
IN_VPC = rel("BELONGS_TO", RDS_INSTANCE, VPC, end_cols={"id": "VPCId"})
IN_REGION = rel(
    "BELONGS_TO", RDS_INSTANCE, REGION, end_cols={"account_id": "account_id", "name": "region"}
)
IN_GROUP = rel("BELONGS_TO", RDS_INSTANCE, SECURITY_GROUP, end_cols={"id": "sg"})
TAGGED = tagged(RDS_INSTANCE)
IN_SUBNET = rel(
    "BELONGS_TO",
    RDS_INSTANCE,
    SUBNET,
    end_cols={"id": "subnet"},
    doc="a subnet of its DB subnet group",
)

READ = Read(
    sourced(RDS_INSTANCE),
    lambda page: list_at(page, "DBInstances"),
    {
        "TagList": TAGS,
        "VpcSecurityGroups": {"sg": "$.VpcSecurityGroupId"},
        "DBSubnetGroup.Subnets": {"subnet": "$.SubnetIdentifier"},
    },
)


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    g.put(RDS_INSTANCE, good)
    g.link(IN_VPC, good)
    g.link(IN_REGION, good)
    g.link(IN_GROUP, children(tab, "VpcSecurityGroups", good, RDS_INSTANCE.key_names))
    put_tags(g, TAGGED, tab, "TagList", good)
    g.link(IN_SUBNET, children(tab, "DBSubnetGroup.Subnets", good, RDS_INSTANCE.key_names))


FAMILY = Family(
    OPERATION,
    READ,
    run,
    nodes=(RDS_INSTANCE,),
    rels=(IN_VPC, IN_REGION, IN_GROUP, TAGGED, IN_SUBNET),
)
