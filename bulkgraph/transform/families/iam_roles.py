"""iam:GetAccountAuthorizationDetails (`Filter` `["Role"]`): roles and their instance profiles.

Particular to it: IAM belongs to the account, not to a region. The file sits under the region
folder `global` (snapshot-format.md), and these nodes carry no `account_id` or `region` (the
account is in their ARN). A role's policies become lists of names and ARNs, and its trust
policy the JSON document as text.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import polars as pl

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import ApiResponse
from bulkgraph.transform.declare import NodeSchema, Prop, rel
from bulkgraph.transform.family import (
    Family,
    Graph,
    Read,
    children,
    items_of,
    list_at,
    read,
    sourced,
)
from bulkgraph.transform.records import Table

OPERATION = ops.GET_ACCOUNT_AUTHORIZATION_DETAILS.name

IAM_ROLE = NodeSchema(
    "IAMRole",
    doc="an IAM role of the account",
    keys=(Prop("arn", doc="its ARN", source="$.Arn", required=True),),
    props=(
        Prop("name", doc="its name", source="$.RoleName"),
        Prop("path", doc="its path (`/`, `/service-role/`...)", source="$.Path"),
        Prop(
            "managed_policy_arns",
            "string[]",
            "ARNs of the managed policies attached to it (`AttachedManagedPolicies`), "
            "sorted; absent when it has none",
        ),
        Prop(
            "inline_policy_names",
            "string[]",
            "names of its inline policies (`RolePolicyList`), sorted; absent when it has none",
        ),
        Prop(
            "trust_policy",
            doc="who may assume it: `AssumeRolePolicyDocument`, the JSON document as text "
            "with its keys sorted",
        ),
    ),
    extra_indexes=(("name",),),
)
INSTANCE_PROFILE = NodeSchema(
    "InstanceProfile",
    doc="an instance profile: what an EC2 instance assumes its role through "
    "(from the `InstanceProfileList` of the roles it holds)",
    keys=(Prop("arn", doc="its ARN (`InstanceProfileList[].Arn`)"),),
    props=(Prop("name", doc="its name (`InstanceProfileList[].InstanceProfileName`)"),),
)
PROFILE_HAS_ROLE = rel(
    "HAS_ROLE",
    INSTANCE_PROFILE,
    IAM_ROLE,
    start_cols={"arn": "profile"},
    doc="the role an instance profile passes to its instances",
)


def _pick(page: dict[str, Any]) -> list[Any]:
    return list_at(page, "RoleDetailList")


_TRUST = "AssumeRolePolicyDocument"

READ = Read(
    sourced(IAM_ROLE),
    _pick,
    {
        "AttachedManagedPolicies": {"policy": "$.PolicyArn"},
        "RolePolicyList": {"policy": "$.PolicyName"},
        "InstanceProfileList": {"profile": "$.Arn", "profile_name": "$.InstanceProfileName"},
    },
)


def policy_text(document: Any) -> str | None:
    """A policy document as JSON text, keys sorted, so that the same policy reads the same
    in every snapshot; None when it is not one. boto3 gives a dict (it decodes the
    URL-encoded text the API sends); text, URL-encoded or not, is parsed first."""
    if isinstance(document, str):
        for text in (document, urllib.parse.unquote(document)):
            try:
                document = json.loads(text)
                break
            except ValueError:
                continue
    if not isinstance(document, dict):
        return None
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def _trust_policies(g: Graph, responses: list[ApiResponse]) -> pl.DataFrame:
    """`file`, `pos` and `trust_policy` of each role. Read here, not by `READ`: the reader
    takes a text beginning with `{` for an object. A document that does not parse is
    rejected against its role, the role kept."""
    rows: list[tuple[str, int, str]] = []
    bad: list[tuple[str, int, str]] = []
    for file, pos, role in items_of(responses, _pick):
        document = role.get(_TRUST) if isinstance(role, dict) else None
        if document is None:
            continue
        text = policy_text(document)
        if text is None:
            bad.append((file, pos, f"$.{_TRUST}: not a JSON policy document"))
        else:
            rows.append((file, pos, text))
    g.rejects.add(g.snapshot_id, bad)
    return pl.DataFrame(
        rows,
        schema={"file": pl.String, "pos": pl.Int64, "trust_policy": pl.String},
        orient="row",
    )


def _sorted_list(tab: Table, name: str, good: pl.DataFrame, alias: str) -> pl.DataFrame:
    """Per role (`arn`), the distinct values of list `name`'s `policy` column, sorted."""
    return (
        children(tab, name, good, ["arn"])
        .group_by("arn")
        .agg(pl.col("policy").unique().sort().alias(alias))
    )


def run(g: Graph, responses: list[ApiResponse]) -> None:
    good, tab = read(g, OPERATION, READ, responses)
    good = good.join(_trust_policies(g, responses), on=["file", "pos"], how="left")
    for name, alias in (
        ("AttachedManagedPolicies", "managed_policy_arns"),
        ("RolePolicyList", "inline_policy_names"),
    ):
        good = good.join(_sorted_list(tab, name, good, alias), on="arn", how="left")
    g.put(IAM_ROLE, good)
    profiles = children(tab, "InstanceProfileList", good, ["arn"])
    g.put(
        INSTANCE_PROFILE,
        profiles.select(pl.col("profile").alias("arn"), pl.col("profile_name").alias("name")),
    )
    g.link(PROFILE_HAS_ROLE, profiles)


FAMILY = Family(OPERATION, READ, run, nodes=(IAM_ROLE, INSTANCE_PROFILE), rels=(PROFILE_HAS_ROLE,))
