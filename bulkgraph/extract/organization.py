"""Which accounts a collection covers, and how each is reached.

Three ways, one answer (account id -> the role to assume, or None for the credentials' own):
- `--organization-role NAME`: the organization's ACTIVE accounts, from
  `organizations:ListAccounts` (the management account or a delegated administrator), each
  reached through `arn:<partition>:iam::<account>:role/NAME`;
- `--role-arn ARN` (repeatable): one account per role;
- neither: the account of the credentials themselves.
`--accounts` / `--exclude-accounts` narrow the first two.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from bulkgraph.errors import BulkgraphError, ExitCode

#: IAM role names: 1-64 of these characters (a path is not part of the name here)
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_ACCOUNT = re.compile(r"\d{12}")
#: ListAccounts returns at most 20 accounts a page
LIST_ACCOUNTS_PAGE_SIZE = 20
ROLE_SESSION_NAME = "bulkgraph-collect"


def parse_accounts(values: Sequence[str], option: str) -> list[str]:
    """Account ids from repeatable, comma-separated option values."""
    ids = [v.strip() for value in values for v in value.split(",") if v.strip()]
    bad = [i for i in ids if not _ACCOUNT.fullmatch(i)]
    if bad:
        raise BulkgraphError(
            f"{option} {', '.join(bad)}: an account id is 12 digits", ExitCode.USAGE
        )
    return list(dict.fromkeys(ids))


def check_role_name(name: str) -> str:
    if not _ROLE_NAME.fullmatch(name):
        raise BulkgraphError(
            f"--organization-role {name!r}: expected a role name (not an ARN), "
            "1-64 of A-Z a-z 0-9 + = , . @ _ -",
            ExitCode.USAGE,
        )
    return name


def partition_of(caller_arn: str) -> str:
    """`aws`, `aws-cn`, `aws-us-gov`: the partition of the caller's own ARN."""
    parts = caller_arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def role_arn(account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def organization_accounts(session: Any) -> list[str]:
    """The ids of the organization's ACTIVE accounts (suspended ones cannot be collected)."""
    client = session.client("organizations")
    pages = client.get_paginator("list_accounts").paginate(
        PaginationConfig={"PageSize": LIST_ACCOUNTS_PAGE_SIZE}
    )
    return sorted(
        a["Id"] for page in pages for a in page.get("Accounts", []) if a.get("Status") == "ACTIVE"
    )


def select(found: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """`found` narrowed to `include` (every one of which must be found) minus `exclude`."""
    if include:
        absent = [a for a in include if a not in found]
        if absent:
            raise BulkgraphError(
                f"--accounts {', '.join(absent)}: not among the accounts to collect "
                f"({len(found)} found)",
                ExitCode.USAGE,
            )
        found = [a for a in found if a in include]
    return [a for a in found if a not in exclude]


def assumed_session(
    factory: Any, base: Any, sts: Any, arn: str, external_id: str | None, lock: threading.Lock
) -> Any:
    """A session in the role's account whose credentials renew themselves (AssumeRole again
    before they expire): a large organization takes longer than one role session lasts.
    The first AssumeRole happens here, so a role that cannot be assumed fails here."""
    from botocore.credentials import RefreshableCredentials

    kwargs: dict[str, Any] = {"RoleArn": arn, "RoleSessionName": ROLE_SESSION_NAME}
    if external_id:
        kwargs["ExternalId"] = external_id

    def fetch() -> dict[str, str]:
        creds = sts.assume_role(**kwargs)["Credentials"]
        expiry = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat() if hasattr(expiry, "isoformat") else str(expiry),
        }

    credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    with lock:  # sessions and clients are not made safely from several threads at once
        session = factory(region_name=base.region_name)
    # boto3 has no public way to hand a session refreshable credentials; botocore's own
    # assume-role profiles set this same attribute
    session._session._credentials = credentials
    return session
