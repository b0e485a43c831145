"""The families: one module per AWS operation, registered here by operation name.

Each module declares the labels and relationships it writes and holds only what is particular
to it (docs/adding-a-family.md). `FAMILIES` is the one list of mapped operations: the
transform calls `FAMILIES[operation](graph, responses)`, and `schema.py` collects their
declarations.
"""

from __future__ import annotations

from bulkgraph.transform.families import (
    ec2_instances,
    elbv2_load_balancers,
    elbv2_target_groups,
    elbv2_target_health,
    peering,
    rds,
    security_groups,
    subnets,
    vpcs,
)
from bulkgraph.transform.family import Family, FamilyCount, Graph

#: operation -> its family, in the order their declarations are collected
FAMILIES: dict[str, Family] = {
    f.operation: f
    for f in (
        vpcs.FAMILY,
        subnets.FAMILY,
        ec2_instances.FAMILY,
        security_groups.FAMILY,
        peering.FAMILY,
        rds.FAMILY,
        elbv2_load_balancers.FAMILY,
        elbv2_target_groups.FAMILY,
        elbv2_target_health.FAMILY,
    )
}

__all__ = ["FAMILIES", "Family", "FamilyCount", "Graph"]
