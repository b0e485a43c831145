"""Reading a native `bulkgraph-snapshot/1` folder (see docs: snapshot format).

The manifest is validated when the snapshot is opened; data files are checked (sha256,
gzip, JSON, operation/account/region against their path) each time they are read, so a
snapshot whose files were damaged after it was opened still fails loudly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from bulkgraph.errors import InputError
from bulkgraph.extract import jsonread
from bulkgraph.extract.model import (
    FORMAT_V1,
    SNAPSHOT_ID_RULE,
    AccountInfo,
    ApiResponse,
    CollectionError,
    LeftOut,
    SnapshotInfo,
    is_valid_snapshot_id,
)
from bulkgraph.extract.operations import BY_KEY, GLOBAL_REGION, Scope

MANIFEST = "manifest.json"

#: `<account>/<region>/<service>/<Operation>.json[.gz]`
#: Account and region are ASCII names (`123456789012`, `us-east-1`, `global`): anything else
#: would name a file no one meant, or one the file system cannot spell.
_DATA_PATH_RE = re.compile(
    r"(?P<account>[A-Za-z0-9_.-]+)/(?P<region>[A-Za-z0-9_.-]+)/"
    r"(?P<key>[A-Za-z0-9]+/[A-Za-z0-9]+)\.json(?P<gz>\.gz)?"
)


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the snapshot folder, posix separators
    operation: str
    account_id: str
    region: str
    sha256: str
    size: int | None


def parse_datetime(value: object, what: str, where: str) -> datetime:
    """An ISO 8601 timestamp that must carry a UTC offset."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: {what} is missing or not a string")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: {what} {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InputError(f"{where}: {what} {value!r} has no timezone offset")
    return parsed


def _parse_files(
    entries: object, where: str, warnings: list[str], skipped: dict[str, str]
) -> list[DataFile]:
    if not isinstance(entries, list):
        raise InputError(f"{where}: 'files' must be a list")
    files: list[DataFile] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        what = f"{where}: files[{n}]"
        if not isinstance(entry, dict):
            raise InputError(f"{what} is not an object")
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            raise InputError(f"{what} has no path")
        pure = PurePosixPath(path)
        if pure.is_absolute() or {".", ".."} & set(path.split("/")) or "\\" in path:
            raise InputError(f"{what}: path {path!r} leaves the snapshot folder")
        match = _DATA_PATH_RE.fullmatch(path)
        if not match:
            raise InputError(
                f"{what}: path {path!r} is not <account>/<region>/<service>/<Operation>.json.gz"
            )
        sha = entry.get("sha256")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
            raise InputError(f"{what} ({path}) has no valid sha256")
        operation = entry.get("operation")
        account = entry.get("account_id")
        region = entry.get("region")
        key = match["key"]
        known = BY_KEY.get(key)
        if known is None:
            # A later format version may add operations: old readers skip them, loudly.
            warnings.append(f"{path}: unknown operation {operation or key!r}, skipped")
            skipped[path] = str(operation or key)
            continue
        expected = known.name
        if operation != expected or account != match["account"] or region != match["region"]:
            raise InputError(
                f"{what}: operation/account/region ({operation}, {account}, {region}) "
                f"disagree with its path {path!r}"
            )
        if (known.scope is Scope.GLOBAL) != (match["region"] == GLOBAL_REGION):
            # a global operation is stored once per account, under the `global` folder
            raise InputError(
                f"{what}: {expected} is {known.scope.value}, so {path!r} is the wrong place "
                f"for it (global operations, and only they, live under {GLOBAL_REGION!r})"
            )
        if path in seen:
            raise InputError(f"{what}: {path!r} is listed twice")
        seen.add(path)
        size = entry.get("bytes")
        files.append(
            DataFile(
                path=path,
                operation=expected,
                account_id=match["account"],
                region=match["region"],
                sha256=sha.lower(),
                size=size if isinstance(size, int) else None,
            )
        )
    return files


def _parse_errors(entries: object, where: str) -> tuple[CollectionError, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise InputError(f"{where}: 'errors' must be a list")
    errors = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"{where}: errors[{n}] is not an object")
        errors.append(
            CollectionError(
                account_id=str(entry.get("account_id", "")),
                region=str(entry.get("region", "")),
                operation=str(entry.get("operation", "")),
                error_code=str(entry.get("error_code", "")),
                message=str(entry.get("message", "")),
            )
        )
    return tuple(errors)


def _parse_accounts(entries: object, files: list[DataFile], where: str) -> tuple[AccountInfo, ...]:
    found: dict[str, set[str]] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("account_id"), str):
                regions = entry.get("regions") or []
                found.setdefault(entry["account_id"], set()).update(
                    r for r in regions if isinstance(r, str)
                )
    elif entries is not None:
        raise InputError(f"{where}: 'accounts' must be a list")
    for f in files:  # the files are the truth; the accounts list is a summary
        regions = found.setdefault(f.account_id, set())
        # `global` holds an account's global operations (IAM); it is not one of its regions
        if f.region != GLOBAL_REGION:
            regions.add(f.region)
    for regions in found.values():
        regions.discard(GLOBAL_REGION)
    return tuple(AccountInfo(a, tuple(sorted(r))) for a, r in sorted(found.items()))


def _unlisted(root: Path, listed: set[str]) -> list[str]:
    extra = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(root).as_posix()
            if rel not in listed:
                extra.append(rel)
    return extra


class NativeSnapshot:
    """A `bulkgraph-snapshot/1` folder on local disk."""

    def __init__(self, root: Path, location: str | None = None) -> None:
        self.root = root
        self.location = location or str(root)
        manifest_path = root / MANIFEST
        where = f"{self.location}/{MANIFEST}"
        if not manifest_path.is_file():
            raise InputError(f"{where}: missing (not a bulkgraph snapshot folder)")
        raw, manifest = jsonread.load_file(manifest_path, where, root=root)
        if not isinstance(manifest, dict):
            raise InputError(f"{where}: not a JSON object")
        fmt = manifest.get("format")
        if fmt != FORMAT_V1:
            raise InputError(f"{where}: unsupported format {fmt!r} (expected {FORMAT_V1!r})")
        snapshot_id = manifest.get("snapshot_id")
        if not isinstance(snapshot_id, str) or not is_valid_snapshot_id(snapshot_id):
            raise InputError(f"{where}: invalid snapshot_id {snapshot_id!r} ({SNAPSHOT_ID_RULE})")
        taken_at = parse_datetime(manifest.get("taken_at"), "taken_at", where)
        completed = manifest.get("completed_at")
        completed_at = (
            parse_datetime(completed, "completed_at", where) if completed is not None else None
        )
        warnings: list[str] = []
        skipped: dict[str, str] = {}  # path -> operation, listed but not one we read
        self.files = _parse_files(manifest.get("files", []), where, warnings, skipped)
        listed = {f.path for f in self.files} | skipped.keys()
        for rel in _unlisted(root, listed):
            warnings.append(f"{rel}: present but not listed in the manifest, ignored")
        if root.name != snapshot_id:
            warnings.append(f"folder name {root.name!r} differs from snapshot_id {snapshot_id!r}")
        collector = manifest.get("collector")
        self._info = SnapshotInfo(
            snapshot_id=snapshot_id,
            taken_at=taken_at,
            source=FORMAT_V1,
            location=self.location,
            accounts=_parse_accounts(manifest.get("accounts"), self.files, where),
            errors=_parse_errors(manifest.get("errors"), where),
            checksum=hashlib.sha256(raw).hexdigest(),
            completed_at=completed_at,
            collector=collector if isinstance(collector, dict) else {},
            warnings=tuple(warnings),
            skipped_operations=tuple(sorted(set(skipped.values()))),
            files=tuple(f.path for f in self.files),
        )

    @property
    def info(self) -> SnapshotInfo:
        return self._info

    def read_file(self, f: DataFile) -> ApiResponse:
        """One data file, checked against the manifest; InputError naming the file if bad."""
        where = f"{self.location}/{f.path}"
        data = jsonread.read_bytes(jsonread.inside(self.root, self.root / f.path, where), where)
        digest = hashlib.sha256(data).hexdigest()
        if digest != f.sha256:
            raise InputError(
                f"{where}: sha256 mismatch (manifest {f.sha256[:12]}…, file {digest[:12]}…)"
            )
        text = jsonread.gunzip(data, where) if f.path.endswith(".gz") else data
        doc, cuts = jsonread.loads_records(text, where, reuse_as=f.path)
        if not isinstance(doc, dict):
            raise InputError(f"{where}: not a JSON object")
        got = (doc.get("operation"), doc.get("account_id"), doc.get("region"))
        if got != (f.operation, f.account_id, f.region):
            raise InputError(
                f"{where}: operation/account/region {got} disagree with its path "
                f"({f.operation}, {f.account_id}, {f.region})"
            )
        calls = doc.get("calls")
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("pages", []), list) for c in calls
        ):
            raise InputError(f"{where}: 'calls' must be a list of {{request, pages}} objects")
        return ApiResponse(
            operation=f.operation,
            account_id=f.account_id,
            region=f.region,
            path=where,
            calls=calls,
            left_out=tuple(
                LeftOut(
                    c.index,
                    c.locator,
                    f"nested deeper than {jsonread.MAX_JSON_DEPTH} levels; record left out",
                )
                for c in cuts
            ),
        )

    def responses(self) -> Iterator[ApiResponse]:
        for f in self.files:
            yield self.read_file(f)
