"""`CSV_DIR/import-manifest.json`: what the transform wrote and how to import it.

The load code reads it with `read_manifest(csv_dir)`; `Manifest.import_command(csv_dir)` gives
the full `neo4j-admin` argument list with absolute paths.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field, ValidationError, field_validator

from bulkgraph.errors import InputError
from bulkgraph.extract.model import SNAPSHOT_ID_RULE, is_valid_snapshot_id

MANIFEST_NAME = "import-manifest.json"
MANIFEST_FORMAT = "bulkgraph-csv/1"


class ManifestSnapshot(BaseModel):
    snapshot_id: str
    taken_at: str
    source: str
    checksum: str
    location: str = ""

    @field_validator("snapshot_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        # `load` names folders after it: `..` would make it work in the import folder itself
        if not is_valid_snapshot_id(value):
            raise ValueError(f"invalid snapshot id {value!r} ({SNAPSHOT_ID_RULE})")
        return value


def _inside(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ValueError(f"file {path!r} is not a path inside the CSV folder")
    return path


class FileGroup(BaseModel):
    """One `--nodes` or `--relationships` group: a header file and its part files."""

    kind: str  # "nodes" or "relationships"
    group: str  # label, or <TYPE>__<Start>__<End>
    label: str | None = None
    type: str | None = None
    start: str | None = None
    end: str | None = None
    header: str  # path relative to CSV_DIR
    header_fields: list[str]
    parts: list[str]  # paths relative to CSV_DIR, one per snapshot
    rows: dict[str, int]  # part path -> rows

    @field_validator("header")
    @classmethod
    def _header_inside(cls, value: str) -> str:
        return _inside(value)

    @field_validator("parts")
    @classmethod
    def _parts_inside(cls, value: list[str]) -> list[str]:
        return [_inside(p) for p in value]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class Manifest(BaseModel):
    format: str = MANIFEST_FORMAT
    snapshots: list[ManifestSnapshot]
    groups: list[FileGroup]
    nodes_per_label: dict[str, int]
    relationships_per_type: dict[str, int]
    #: neo4j-admin options after `database import full <db>`, paths relative to CSV_DIR
    import_args: list[str] = Field(default_factory=list)

    def import_command(self, csv_dir: Path, database: str = "neo4j") -> list[str]:
        """`neo4j-admin` arguments with absolute paths: `database import full <db> ...`."""
        return ["database", "import", "full", database, *self.absolute_args(csv_dir)]

    def absolute_args(self, csv_dir: Path) -> list[str]:
        base = csv_dir.resolve()
        if "," in str(base):
            raise InputError(f"{base}: neo4j-admin cannot read file lists under a path with ','")
        out: list[str] = []
        for arg in self.import_args:
            opt, sep, value = arg.partition("=")
            if sep and opt in ("--nodes", "--relationships"):
                name, _, files = value.partition("=")
                absolute = ",".join(f"{base}/{f}" for f in files.split(","))
                out.append(f"{opt}={name}={absolute}")
            else:
                out.append(arg)
        return out


def regex_escape(name: str) -> str:
    """neo4j-admin reads file names in a group as Java regular expressions (checked on 5.26:
    the folder part is taken literally, the name is a pattern): escape the name."""
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\-" else c for c in name)


def group_arg(group: FileGroup) -> str:
    files = [group.header, *group.parts]
    escaped = ",".join(f"{f.rsplit('/', 1)[0]}/{regex_escape(f.rsplit('/', 1)[1])}" for f in files)
    if group.kind == "nodes":
        return f"--nodes={group.label}={escaped}"
    return f"--relationships={group.type}={escaped}"


def write_manifest(csv_dir: Path, manifest: Manifest) -> Path:
    path = csv_dir / MANIFEST_NAME
    text = json.dumps(manifest.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(csv_dir: Path) -> Manifest:
    path = csv_dir / MANIFEST_NAME
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no import manifest; run `bulkgraph transform` first") from exc
    except (ValidationError, ValueError) as exc:
        raise InputError(f"{path}: not a valid import manifest: {exc}") from exc
