"""What a collection set out to do, and what it has done, so that an interrupted one can be
told from a complete one and finished (`collect --resume DIR`).

While a snapshot is being collected its folder holds, besides the data files:

- `.collect/plan.json`: the snapshot id and time, the operations, and per account the role
  it is reached through and its regions (once known). Written before any data file, and
  rewritten (whole, by rename) when an account's regions become known.
- `.collect/journal.jsonl`: one line per operation finished in an account and region, with
  the errors it met. Written before the data file is renamed into place, so that the
  errors of a file that exists are never lost (an operation called per item may have a
  file and errors both).

A data file is written to a temporary name and renamed, so a file that exists is whole: an
operation is done exactly when its file exists. `manifest.json` comes last, and then
`.collect/` is removed, leaving the snapshot as an uninterrupted run leaves it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.extract.model import CollectionError, Problem
from bulkgraph.extract.native import MANIFEST, parse_datetime
from bulkgraph.extract.operations import BY_NAME, Operation

STATE_DIR = ".collect"
PLAN = "plan.json"
JOURNAL = "journal.jsonl"
PLAN_FORMAT = "bulkgraph-collect-plan/1"
#: a data file being written; renamed to its own name once whole
TMP_SUFFIX = ".tmp"


@dataclass
class AccountPlan:
    #: the role assumed to reach the account; None = the credentials' own account
    role_arn: str | None
    #: None until the account was reached and its regions listed
    regions: list[str] | None = None


@dataclass
class Plan:
    snapshot_id: str
    taken_at: datetime
    #: "all" (the regions enabled for each account) or the regions asked for
    regions: str | list[str]
    operations: list[str]
    accounts: dict[str, AccountPlan] = field(default_factory=dict)

    def registry_operations(self, where: str) -> list[Operation]:
        unknown = [name for name in self.operations if name not in BY_NAME]
        if unknown:
            raise BulkgraphError(
                f"{where}: operations {', '.join(unknown)} are not in this version's registry"
            )
        return [BY_NAME[name] for name in self.operations]

    def expected(self) -> list[tuple[str, str, Operation]]:
        """(account, region, operation) of every data file the plan asks for, as far as
        the accounts' regions are known."""
        ops = self.registry_operations(PLAN)
        out: list[tuple[str, str, Operation]] = []
        for account, entry in sorted(self.accounts.items()):
            if entry.regions is None:
                continue
            for op in ops:
                out.extend((account, region, op) for region in op.regions(entry.regions))
        return out


def state_dir(folder: Path) -> Path:
    return folder / STATE_DIR


def is_in_progress(folder: Path) -> bool:
    """A folder a collection started and did not finish (a plan, no manifest)."""
    return (state_dir(folder) / PLAN).is_file() and not (folder / MANIFEST).exists()


def save_plan(folder: Path, plan: Plan) -> None:
    doc = {
        "format": PLAN_FORMAT,
        "snapshot_id": plan.snapshot_id,
        "taken_at": plan.taken_at.isoformat(),
        "regions": plan.regions,
        "operations": plan.operations,
        "accounts": {
            a: {"role_arn": e.role_arn, "regions": e.regions}
            for a, e in sorted(plan.accounts.items())
        },
    }
    target = state_dir(folder) / PLAN
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(PLAN + TMP_SUFFIX)
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, target)


def load_plan(folder: Path) -> Plan:
    path = state_dir(folder) / PLAN
    where = str(path)
    if (folder / MANIFEST).exists():
        raise BulkgraphError(
            f"{folder}: the collection is complete (manifest.json exists); nothing to resume",
            ExitCode.USAGE,
        )
    if not path.is_file():
        raise BulkgraphError(
            f"{folder}: not an interrupted collection (no {STATE_DIR}/{PLAN})", ExitCode.USAGE
        )
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != PLAN_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {PLAN_FORMAT!r}")
        regions = doc["regions"]
        accounts = {
            str(a): AccountPlan(
                role_arn=e.get("role_arn"),
                regions=None if e.get("regions") is None else [str(r) for r in e["regions"]],
            )
            for a, e in doc["accounts"].items()
        }
        plan = Plan(
            snapshot_id=str(doc["snapshot_id"]),
            taken_at=parse_datetime(doc["taken_at"], "taken_at", where),
            regions=regions if isinstance(regions, str) else [str(r) for r in regions],
            operations=[str(o) for o in doc["operations"]],
            accounts=accounts,
        )
    except BulkgraphError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BulkgraphError(f"{where}: unreadable collection plan ({exc})") from None
    if plan.snapshot_id != folder.name:
        raise BulkgraphError(
            f"{where}: snapshot id {plan.snapshot_id!r} differs from the folder's name"
        )
    plan.registry_operations(where)
    return plan


class Journal:
    """Appends one line per finished operation; thread-safe."""

    def __init__(self, folder: Path) -> None:
        path = state_dir(folder) / JOURNAL
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def record(
        self, account: str, region: str, operation: str, errors: Iterable[CollectionError]
    ) -> None:
        line = json.dumps(
            {
                "account_id": account,
                "region": region,
                "operation": operation,
                "errors": [_error_doc(e) for e in errors],
            }
        )
        with self._lock:
            # flushed at once: a process killed later still leaves the line with the OS
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def _error_doc(e: CollectionError) -> dict[str, str]:
    return {
        "account_id": e.account_id,
        "region": e.region,
        "operation": e.operation,
        "error_code": e.error_code,
        "message": e.message,
    }


def journal_errors(folder: Path) -> dict[tuple[str, str, str], list[CollectionError]]:
    """The errors of each (account, region, operation), from its last journal line. A line
    cut short by a kill is skipped: its operation has no file yet and will be done again."""
    path = state_dir(folder) / JOURNAL
    found: dict[tuple[str, str, str], list[CollectionError]] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            doc: dict[str, Any] = json.loads(line)
            key = (str(doc["account_id"]), str(doc["region"]), str(doc["operation"]))
            errors = [CollectionError(**{k: str(v) for k, v in e.items()}) for e in doc["errors"]]
        except (ValueError, KeyError, TypeError):
            continue
        found[key] = errors
    return found


def is_done(folder: Path, account: str, region: str, op: Operation) -> bool:
    return (folder / op.path(account, region)).is_file()


def missing(folder: Path, plan: Plan) -> list[tuple[str, str, str]]:
    """(account, region, operation) planned whose data file is not there; an account not
    yet reached counts as region `*`, operation `*`."""
    out = [(a, r, op.name) for a, r, op in plan.expected() if not is_done(folder, a, r, op)]
    out.extend((a, "*", "*") for a, e in sorted(plan.accounts.items()) if e.regions is None)
    return sorted(out)


def incomplete_problems(folder: Path, location: str | None = None) -> list[Problem]:
    """Why an interrupted collection is not a snapshot: one problem for the folder, then
    one per account and region with the operations it lacks."""
    where = location or str(folder)
    try:
        plan = load_plan(folder)
    except BulkgraphError as exc:
        return [Problem(where, f"incomplete collection: no manifest.json ({exc})")]
    gaps = missing(folder, plan)
    files = sum(1 for g in gaps if g[1] != "*")
    unreached = len(gaps) - files
    problems = [
        Problem(
            where,
            f"incomplete collection (no manifest.json): {files} of {len(plan.expected())} "
            "data files missing"
            + (f", {unreached} account(s) not reached yet" if unreached else "")
            + f"; finish it with `bulkgraph collect --resume {folder}`",
        )
    ]
    by_place: dict[tuple[str, str], list[str]] = {}
    for account, region, operation in gaps:
        by_place.setdefault((account, region), []).append(operation)
    for (account, region), ops in sorted(by_place.items()):
        if region == "*":
            what = "account not reached yet (its regions are unknown)"
        else:
            what = "missing " + ", ".join(ops)
        problems.append(Problem(f"{where}/{account}/{region}", what))
    return problems


def remove_leftovers(folder: Path) -> None:
    """Temporary data files a killed run left behind (never renamed: never whole)."""
    for tmp in folder.rglob(f".*{TMP_SUFFIX}"):
        if tmp.is_file() and STATE_DIR not in tmp.relative_to(folder).parts:
            tmp.unlink()


def finish(folder: Path) -> None:
    """After the manifest: the folder is a snapshot; the collection's own state goes."""
    shutil.rmtree(state_dir(folder), ignore_errors=True)
    remove_leftovers(folder)
