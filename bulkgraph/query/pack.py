"""The query pack: `.cypher` files with a small comment header, shipped inside the package.

A file starts with `// key: value` lines that describe it; the first line that is not such a
comment starts the Cypher text:

    // name: instance-ingress
    // description: What may connect to one instance ...
    // scope: snapshot            (snapshot | pair | none)
    // param instance: the instance's private IP, id or hostname
    // param limit=100: an optional parameter with a JSON default
    // severity: high             (alerts only, with rule_id)
    // rule_id: BG-EC2-001
    // kind: internet_exposed     (alerts only; default: the name with `_` for `-`)

An alert runs without the user's parameters: each one it declares needs a default.
The scope's own parameters are implicit: `snapshot_id` for `snapshot`, `old_snapshot_id` and
`new_snapshot_id` for `pair`. They are filled by snapshot resolution, not by the user.

On a database in the versions layout (docs/versions-layout.md) a snapshot-scoped query runs
as its as-of rewrite (`bulkgraph/query/asof.py`), with `$as_of` = the snapshot's `taken_at`
besides `$snapshot_id`. A query the rewrite cannot serve, a pair query above all (it asks two
times at once), ships its versions-layout text as `versions/<name>.cypher` next to it: Cypher
only (comments allowed, no header), the same parameters plus `$as_of` (snapshot scope) or
`$old_as_of` and `$new_as_of` (pair scope). A pair query without one refuses to run on a
versions database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from bulkgraph.errors import BulkgraphError, ExitCode, InputError

SEVERITIES = ("info", "low", "medium", "high", "critical")

_HEADER = re.compile(r"^//\s*(?P<key>[A-Za-z_]+)(?:\s+(?P<arg>[^:]+?))?\s*:\s*(?P<value>.*)$")
_PARAM_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Scope(StrEnum):
    snapshot = "snapshot"  # runs inside one snapshot: $snapshot_id
    pair = "pair"  # compares two snapshots: $old_snapshot_id, $new_snapshot_id
    none = "none"  # sees the whole database


SCOPE_PARAMS: dict[Scope, tuple[str, ...]] = {
    Scope.snapshot: ("snapshot_id",),
    Scope.pair: ("old_snapshot_id", "new_snapshot_id"),
    Scope.none: (),
}

_MISSING = object()

#: the pack's subfolder of versions-layout texts (see the module docstring)
VERSIONS_FOLDER = "versions"


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    default: Any = _MISSING

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        out["required"] = self.required
        if not self.required:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    scope: Scope
    text: str
    source: str
    params: tuple[Param, ...] = ()
    severity: str | None = None
    rule_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: the Cypher for the versions layout, when the query ships one (`versions/<name>.cypher`)
    versions_text: str | None = None

    @property
    def is_alert(self) -> bool:
        return self.rule_id is not None

    @property
    def kind(self) -> str | None:
        """An alert's kind: what its findings are (`internet_reachable`, `exposed_in_config`);
        several rules may share one."""
        if not self.is_alert:
            return None
        return self.extra.get("kind") or self.name.replace("-", "_")

    @property
    def scope_params(self) -> tuple[str, ...]:
        return SCOPE_PARAMS[self.scope]

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        """The user's parameters checked against the header, defaults filled in.

        Scope parameters are not the user's to give: snapshot resolution fills them.
        """
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            accepted = ", ".join(sorted(known)) or "none"
            hint = ""
            if set(unknown) & set(self.scope_params):
                hint = " (choose snapshots with --snapshot/--as-of/--all, or OLD NEW for diffs)"
            raise BulkgraphError(
                f"query {self.name}: unknown parameter(s) {', '.join(unknown)}{hint}; "
                f"it accepts: {accepted}",
                ExitCode.USAGE,
            )
        bound: dict[str, Any] = {}
        missing = []
        for p in self.params:
            if p.name in given:
                bound[p.name] = given[p.name]
            elif p.required:
                missing.append(p)
            else:
                bound[p.name] = p.default
        if missing:
            wanted = "; ".join(f"--param {p.name}=... ({p.description})" for p in missing)
            raise BulkgraphError(
                f"query {self.name}: missing parameter(s): {wanted}", ExitCode.USAGE
            )
        return bound

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "scope": self.scope.value,
            "snapshot_scoped": self.scope is not Scope.none,
            "params": [p.to_json() for p in self.params],
            "severity": self.severity,
            "rule_id": self.rule_id,
            "kind": self.kind,
            "source": self.source,
        }


def pack_dir() -> Traversable:
    """The folder of the pack inside the installed package (`cypher/queries` in the repo)."""
    return resources.files("bulkgraph").joinpath("cypher", "queries")


def parse_query(text: str, source: str) -> Query:
    """One pack file; `source` names it in error messages."""
    header: dict[str, str] = {}
    params: list[Param] = []
    lines = text.splitlines()
    body_start = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        match = _HEADER.match(stripped)
        if not match:
            body_start = index
            break
        key, arg, value = match["key"].lower(), match["arg"], match["value"].strip()
        if key == "param":
            params.append(_parse_param(arg, value, source))
        elif arg:
            raise InputError(f"{source}: header line {index + 1} not understood: {line!r}")
        else:
            header[key] = value
    cypher = "\n".join(lines[body_start:]).strip().rstrip(";").strip()

    def need(key: str) -> str:
        if not header.get(key):
            raise InputError(f"{source}: header has no `// {key}: ...` line")
        return header.pop(key)

    name = need("name")
    if not _NAME.match(name):
        raise InputError(f"{source}: query name {name!r} must be lowercase words and dashes")
    description = need("description")
    scope_text = header.pop("scope", Scope.snapshot.value)
    try:
        scope = Scope(scope_text)
    except ValueError:
        raise InputError(
            f"{source}: scope {scope_text!r} is not one of snapshot, pair, none"
        ) from None
    severity = header.pop("severity", None)
    rule_id = header.pop("rule_id", None)
    if (severity is None) != (rule_id is None):
        raise InputError(f"{source}: an alert needs both `severity` and `rule_id`")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"{source}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if rule_id is not None and scope is not Scope.snapshot:
        raise InputError(f"{source}: an alert must be snapshot-scoped")
    if rule_id is not None and any(p.required for p in params):
        raise InputError(f"{source}: an alert runs without parameters: give each one a default")
    if rule_id is None and "kind" in header:
        raise InputError(f"{source}: `kind` is for alerts (with severity and rule_id)")
    if not cypher:
        raise InputError(f"{source}: no Cypher after the header")

    query = Query(
        name=name,
        description=description,
        scope=scope,
        text=cypher,
        source=source,
        params=tuple(params),
        severity=severity,
        rule_id=rule_id,
        extra=header,
    )
    _check_references(query)
    return query


def _parse_param(arg: str | None, description: str, source: str) -> Param:
    if not arg:
        raise InputError(f"{source}: `// param NAME: description` lacks the name")
    name, sep, default_text = arg.partition("=")
    name = name.strip()
    if not sep:
        return Param(name, description)
    try:
        default = json.loads(default_text)
    except ValueError:
        default = default_text.strip()
    return Param(name, description, default)


#: parameters the versions layout adds, per scope (the times the snapshots were taken)
VERSIONS_SCOPE_PARAMS: dict[Scope, tuple[str, ...]] = {
    Scope.snapshot: ("as_of",),
    Scope.pair: ("old_as_of", "new_as_of"),
    Scope.none: (),
}


def _check_references(query: Query, text: str | None = None, source: str | None = None) -> None:
    """Every `$name` in the Cypher is declared, and every declared parameter is used.

    With `text` (a versions-layout text), the versions layout's time parameters count as
    declared too, and need not be used."""
    used = set(_PARAM_REF.findall(_without_comments_and_strings(text or query.text)))
    declared = {p.name for p in query.params} | set(query.scope_params)
    extra = set(VERSIONS_SCOPE_PARAMS[query.scope]) if text is not None else set()
    where = source or query.source
    undeclared = used - declared - extra
    if undeclared:
        raise InputError(f"{where}: uses undeclared parameter(s) {', '.join(sorted(undeclared))}")
    unused = declared - used
    if unused:
        raise InputError(
            f"{where}: declares parameter(s) it never uses: {', '.join(sorted(unused))}"
        )


#: one left-to-right pass: a quote inside a comment (`the VPC's`) starts no string, and `//`
#: inside a string starts no comment
_STRING_OR_COMMENT = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|//[^\n]*")


def _without_comments_and_strings(text: str) -> str:
    return _STRING_OR_COMMENT.sub(lambda m: "" if m[0].startswith("//") else "''", text)


def with_versions_text(query: Query, text: str, source: str) -> Query:
    """`query` with its versions-layout text (`versions/<name>.cypher`), checked."""
    cypher = _without_line_comments(text).strip().rstrip(";").strip()
    if not cypher:
        raise InputError(f"{source}: no Cypher")
    _check_references(query, cypher, source)
    return replace(query, versions_text=cypher)


def _without_line_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))


def load_pack() -> dict[str, Query]:
    """Every query of the pack by name, sorted by name, with its versions-layout text
    where it ships one."""
    queries: dict[str, Query] = {}
    folder = pack_dir()
    files = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".cypher")), key=lambda f: f.name
    )
    for file in files:
        source = f"cypher/queries/{file.name}"
        query = parse_query(file.read_text(encoding="utf-8"), source)
        if file.name != f"{query.name}.cypher":
            raise InputError(f"{source}: file name must be {query.name}.cypher")
        queries[query.name] = query
    versions = folder.joinpath(VERSIONS_FOLDER)
    if versions.is_dir():
        for file in sorted(versions.iterdir(), key=lambda f: f.name):
            if not file.name.endswith(".cypher"):
                continue
            source = f"cypher/queries/{VERSIONS_FOLDER}/{file.name}"
            name = file.name.removesuffix(".cypher")
            if name not in queries:
                raise InputError(f"{source}: no query {name!r} in the pack to give a text to")
            queries[name] = with_versions_text(
                queries[name], file.read_text(encoding="utf-8"), source
            )
    return dict(sorted(queries.items()))


def get_query(name: str) -> Query:
    pack = load_pack()
    try:
        return pack[name]
    except KeyError:
        close = [n for n in pack if name in n or n in name]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise BulkgraphError(
            f"no query named {name!r} in the pack{hint}; `bulkgraph queries` lists them",
            ExitCode.USAGE,
        ) from None
