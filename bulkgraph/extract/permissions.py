"""The IAM permissions `bulkgraph collect` needs: read-only, generated from the registry.

Every operation of `extract/operations.py` is one IAM action (`<prefix>:<Action>`; the
prefix is the service's signing name, `elasticloadbalancing` for the `elbv2` client), plus
the calls the collector makes around them: `sts:GetCallerIdentity` (which account the
credentials are, without --role-arn), `ec2:DescribeRegions` (`--regions all`), and, with
--role-arn, `sts:AssumeRole` of those roles. docs/operations.md shows the document; a test
records every call a collection makes against moto and holds it to this list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bulkgraph.extract.operations import OPERATIONS, Operation

#: boto3 client name -> IAM action prefix, where they differ
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}

#: the collector's own calls besides the registry's operations (see collect.py)
CALLER_IDENTITY = "sts:GetCallerIdentity"  # the account of the credentials, no --role-arn
DESCRIBE_REGIONS = "ec2:DescribeRegions"  # --regions all: the regions enabled for the account
ASSUME_ROLE = "sts:AssumeRole"  # --role-arn: one role per account

POLICY_VERSION = "2012-10-17"


def iam_action(operation: Operation) -> str:
    """The IAM action that allows `operation`: `elasticloadbalancing:DescribeListeners`."""
    return f"{_IAM_PREFIX.get(operation.service, operation.service)}:{operation.action}"


def read_actions(operations: Sequence[Operation] = OPERATIONS) -> list[str]:
    """Every action an account's collection calls, sorted: the registry's and the two the
    collector adds (all read-only)."""
    return sorted({*(iam_action(op) for op in operations), CALLER_IDENTITY, DESCRIBE_REGIONS})


def collect_policy(role_arns: Sequence[str] = ()) -> dict[str, Any]:
    """The IAM policy document for `bulkgraph collect`.

    The `BulkgraphCollectRead` statement is what the identity that reads an account needs:
    the credentials themselves, or each role given with --role-arn. With `role_arns`, the
    `BulkgraphAssumeCollectRoles` statement is what the caller needs to assume them.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "BulkgraphCollectRead",
            "Effect": "Allow",
            "Action": read_actions(),
            "Resource": "*",
        }
    ]
    if role_arns:
        statements.append(
            {
                "Sid": "BulkgraphAssumeCollectRoles",
                "Effect": "Allow",
                "Action": [ASSUME_ROLE],
                "Resource": sorted(dict.fromkeys(role_arns)),
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}
