"""What a snapshot does not know, per account, region and operation.

snapshot-format.md: a call recorded in the manifest's `errors` is *unknown* in that snapshot,
not empty; so is an operation an archive does not carry (written before the format had it,
or a legacy `aws_neo4j_map` file that is missing). A snapshot that does not know RDS in one
region says nothing about the databases there: `diff` must not call them removed.

The transform records it on the Snapshot node (a pure function of the snapshot):

- `unknown`: `account/region/operation` for every call the snapshot does not know: each
  manifest error, and each operation this transform reads that the snapshot holds no data
  file for in an (account, region) it covers. `*` stands for every region or operation
  (an error of the whole account or region, e.g. `sts:AssumeRole` with region `*`).
- `unknown_labels`: the same translated into what the graph lacks, `Label/account/region`
  (`*` as above): the labels whose nodes those operations give, as their families declare
  them. The query pack reads this one, so it needs no operation -> label mapping of its own.

An operation of the whole account (IAM, `Scope.GLOBAL`) is stored under the region folder
`global`, whatever regions the account covers. It is unknown once per account, as
`account/global/operation` (the entry the legacy reader records for it too): never once per
region, and never because its file is not under some region. Its nodes belong to no region,
so its labels are unknown in every region of the account: `Label/account/*`.
"""

from __future__ import annotations

from collections.abc import Iterable

from bulkgraph.extract import operations as ops
from bulkgraph.extract.model import SnapshotInfo
from bulkgraph.transform.families import FAMILIES

ANY = "*"

#: operation -> the labels whose own (non-stub) nodes come from that operation's records,
#: from the families' own declarations (`Family.labels`)
PRODUCES: dict[str, tuple[str, ...]] = {op: f.labels for op, f in FAMILIES.items()}


def _is_global(operation: str) -> bool:
    op = ops.BY_NAME.get(operation)
    return op is not None and op.scope is ops.Scope.GLOBAL


#: every label a regional operation gives: what a whole unknown region lacks (besides
#: Region); the labels of the account-wide operations (IAM) are lacking only when the whole
#: account is
_ALL_LABELS: tuple[str, ...] = tuple(
    sorted({lb for op, lbs in PRODUCES.items() if not _is_global(op) for lb in lbs})
)
_GLOBAL_LABELS: tuple[str, ...] = tuple(
    sorted({lb for op, lbs in PRODUCES.items() if _is_global(op) for lb in lbs})
)


def _part(text: str) -> str:
    """One component of an entry: `/` separates components and `;` list elements (the CSV
    array delimiter), so both are escaped, as is `%` itself."""
    if not text:
        return ANY
    return text.replace("%", "%25").replace("/", "%2F").replace(";", "%3B")


def entry(account: str, region: str, operation: str) -> str:
    return f"{_part(account)}/{_part(region)}/{_part(operation)}"


def _covers_all(region: str, operation: str) -> bool:
    """An error of every operation: `*` (or none) given, or a call that is not one of ours
    (`sts:AssumeRole`, `ec2:DescribeRegions`) failing for the whole account."""
    if operation in PRODUCES:
        return False
    return operation in ("", ANY) or region in ("", ANY)


def unknown_calls(info: SnapshotInfo, held: Iterable[tuple[str, str, str]]) -> list[str]:
    """The `unknown` entries of a snapshot; `held` = the (account, region, operation) of
    every data file it holds."""
    have = set(held)
    found = {entry(e.account_id, e.region, e.operation) for e in info.errors}
    whole = {(e.account_id, e.region) for e in info.errors if _covers_all(e.region, e.operation)}
    for account in info.accounts:
        a = account.account_id
        if (a, ANY) in whole or (a, "") in whole:
            continue
        for op in PRODUCES:
            # a global operation's one folder, `global`; else each region of the account
            where = [ops.GLOBAL_REGION] if _is_global(op) else account.regions
            for region in where:
                if (a, region) not in whole and (a, region, op) not in have:
                    found.add(entry(a, region, op))
    return sorted(found)


def unknown_labels(calls: Iterable[str]) -> list[str]:
    """`Label/account/region` entries of what the graph lacks for the `unknown` entries."""
    out: set[str] = set()
    for call in calls:
        account, region, operation = call.split("/", 2)
        labels: tuple[str, ...] = PRODUCES.get(operation, ())
        if region == ops.GLOBAL_REGION:
            # the account's IAM: its nodes have no region, so they are unknown in every one
            if _covers_all(region, operation):
                labels = _GLOBAL_LABELS
            out.update(f"{label}/{account}/{ANY}" for label in labels)
            continue
        if _covers_all(region, operation):
            # a call of the whole region or account failed (AssumeRole, DescribeRegions, a
            # client that could not be made): nothing in it is known, the Region included
            labels = (*_ALL_LABELS, "Region", *(("Account",) if region == ANY else ()))
            if region == ANY:
                out.update(f"{label}/{account}/{ANY}" for label in _GLOBAL_LABELS)
        out.update(f"{label}/{account}/{region}" for label in labels)
    return sorted(out)
