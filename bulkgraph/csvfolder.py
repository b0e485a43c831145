"""The CSV folder: what the transform writes and load reads, in one place.

```
CSV_DIR/
  import-manifest.json                      what is there and how to import it (`Manifest`)
  rejects.jsonl                             records the transform could not use, all snapshots
  nodes/<Label>/header.csv                  one header line per group
  nodes/<Label>/<snapshot_id>.csv           one part per snapshot, no header
  relationships/<TYPE>__<Start>__<End>/...  the same for each (type, start label, end label)
  state/<snapshot_id>/...                   the transform's own per-snapshot files (`State`)
  versions/nodes/<Label>/header.csv         the versions layout (docs/versions-layout.md),
  versions/nodes/<Label>/final.csv          written by the transform with `--layout
  versions/nodes/<Label>/open.csv           versions`: per group, what is final (appended
  versions/relationships/<group>/...        to) and what is still open (rewritten)
  versions-checkpoint/                      where the versions pass stopped, to go on from
```

The transform writes it (`transform/run.py`, `transform/snapshot.py`, `transform/temporal.py`,
`transform/versions.py`);
`load/bulk.py` and `load/append.py` read it through the manifest. Paths inside the manifest
are relative to CSV_DIR, with `/` separators.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from bulkgraph.errors import InputError
from bulkgraph.extract.model import SNAPSHOT_ID_RULE, is_valid_snapshot_id
from bulkgraph.layout import DEFAULT_LAYOUT, Layout

MANIFEST_NAME = "import-manifest.json"
MANIFEST_FORMAT = "bulkgraph-csv/1"
REJECTS_NAME = "rejects.jsonl"
HEADER_NAME = "header.csv"
PART_SUFFIX = ".csv"

Kind = Literal["nodes", "relationships"]
NODES: Kind = "nodes"
RELATIONSHIPS: Kind = "relationships"


def node_group(label: str) -> str:
    """The group (folder under `nodes/`) of a label's files."""
    return label


def rel_group(type_: str, start: str, end: str) -> str:
    """The group (folder under `relationships/`) of one (type, start, end) combination."""
    return f"{type_}__{start}__{end}"


def header_path(kind: Kind, group: str) -> str:
    return f"{kind}/{group}/{HEADER_NAME}"


def part_path(kind: Kind, group: str, snapshot_id: str) -> str:
    """A snapshot's part of a group, relative to CSV_DIR."""
    return f"{kind}/{group}/{snapshot_id}{PART_SUFFIX}"


#: the folder of the versions layout's files
VERSIONS_DIR = "versions"
VersionsPart = Literal["final.csv", "open.csv"]
#: a group's part of lines that never change again (closed versions and runs, NEXT_VERSION,
#: Snapshot and Tag nodes): only ever appended to
VERSIONS_FINAL: VersionsPart = "final.csv"
#: its part of what is still open (versions and runs with no `valid_to`): rewritten each run
VERSIONS_OPEN: VersionsPart = "open.csv"
#: the versions pass's checkpoint (transform/versions_checkpoint.py)
VERSIONS_CHECKPOINT_DIR = "versions-checkpoint"


def versions_header_path(kind: Kind, group: str) -> str:
    return f"{VERSIONS_DIR}/{header_path(kind, group)}"


def versions_part_path(kind: Kind, group: str, part: VersionsPart) -> str:
    """A group's final or open part of the versions layout, relative to CSV_DIR."""
    return f"{VERSIONS_DIR}/{kind}/{group}/{part}"


def part_snapshot(part: str) -> str:
    """The snapshot a part file belongs to (its name without the suffix)."""
    return part.rsplit("/", 1)[-1].removesuffix(PART_SUFFIX)


class State:
    """`state/<snapshot_id>/`: per-snapshot files the transform re-reads, not the importer."""

    KEYS = "keys.parquet"  # label, resource_key, uid, fingerprint of versioned nodes
    #: the text the versions layout's pass compares, cut out of the lines by the worker
    #: that wrote them (transform/versions_input.py)
    VERSIONS_INPUT = "compared-text.parquet"
    REJECTS = REJECTS_NAME
    #: written last: its presence with the same input checksum means the snapshot is done
    RESULT = "result.json"

    @staticmethod
    def dir(csv_dir: Path, snapshot_id: str) -> Path:
        return csv_dir / "state" / snapshot_id

    @staticmethod
    def dynamic_rows(group: str) -> str:
        """Rows of a relationship group with properties named by the data (start, end,
        fixed properties), kept for the final pass that writes its parts."""
        return f"{group}.rows.parquet"

    @staticmethod
    def dynamic_pairs(group: str) -> str:
        """The (by, key, value) pairs that become that group's dynamic columns."""
        return f"{group}.pairs.parquet"


class ManifestSnapshot(BaseModel):
    snapshot_id: str
    taken_at: str
    source: str
    checksum: str
    location: str = ""
    #: its node and relationship part files are in the folder (`load` appends from them);
    #: False: only its Snapshot node's, of a versions folder for `import` (`rebuild`)
    parts: bool = True

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

    def parts_of(self, snapshot_id: str) -> list[str]:
        return [p for p in self.parts if part_snapshot(p) == snapshot_id]


class Manifest(BaseModel):
    format: str = MANIFEST_FORMAT
    snapshots: list[ManifestSnapshot]
    groups: list[FileGroup]
    #: the layout `import` builds (docs/versions-layout.md); manifests written before it
    #: existed read as `snapshots`
    layout: Layout = DEFAULT_LAYOUT
    #: what `import` creates, per label and type: the counts of the layout's groups
    nodes_per_label: dict[str, int]
    relationships_per_type: dict[str, int]
    #: the versions layout's files (`versions/`), empty in the snapshots layout; `groups`
    #: stay the per-snapshot parts either way (`load` reads those)
    versions_groups: list[FileGroup] = Field(default_factory=list)
    #: neo4j-admin options after `database import full <db>`, paths relative to CSV_DIR
    #: (`load/importer.py` builds them; kept whole for readers of older folders and people)
    import_args: list[str] = Field(default_factory=list)

    @property
    def import_groups(self) -> list[FileGroup]:
        """The groups `import` reads: the layout's."""
        return self.versions_groups if self.layout is Layout.versions else self.groups


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
