"""The `neo4j-admin database import full` command line, built in this one place.

`group_arg` names one file group to the importer; `csv_options` are the CSV options the
transform recorded for its files (`--multiline-fields` only when a field holds a line break);
`import_command` puts them together for a CSV folder, either with the per-snapshot parts as
they are or with each group's parts joined into one file first (what `bulkgraph import` does).
The transform records `manifest_import_args` in the manifest's `import_args`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bulkgraph.csvfolder import NODES, FileGroup, Manifest
from bulkgraph.errors import BulkgraphError

_GROUP_OPTIONS = ("--nodes=", "--relationships=")


def regex_escape(name: str) -> str:
    """neo4j-admin reads file names in a group as Java regular expressions (checked on 5.26:
    the folder part is taken literally, the name is a pattern): escape the name."""
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\-" else c for c in name)


def group_arg(group: FileGroup, files: Sequence[str]) -> str:
    """`--nodes=<Label>=<files>` or `--relationships=<TYPE>=<files>`, file names escaped."""
    escaped = ",".join(f"{f.rsplit('/', 1)[0]}/{regex_escape(f.rsplit('/', 1)[1])}" for f in files)
    if group.kind == NODES:
        return f"--nodes={group.label}={escaped}"
    return f"--relationships={group.type}={escaped}"


def manifest_import_args(groups: Sequence[FileGroup], csv_options: Sequence[str]) -> list[str]:
    """The manifest's `import_args`: every group's header and parts, relative to CSV_DIR."""
    return [*(group_arg(g, [g.header, *g.parts]) for g in groups), *csv_options]


def csv_options(manifest: Manifest) -> list[str]:
    """The importer's CSV options the transform recorded for its files."""
    return [a for a in manifest.import_args if not a.startswith(_GROUP_OPTIONS)]


def _no_comma(path: Path) -> Path:
    if "," in str(path):
        raise BulkgraphError(f"{path}: neo4j-admin cannot read file lists under a path with ','")
    return path


def import_command(
    manifest: Manifest,
    csv_dir: Path,
    database: str = "neo4j",
    *,
    merged: dict[tuple[str, str], Path] | None = None,
    options: Sequence[str] = (),
) -> list[str]:
    """`database import full <database> <groups> <csv options> <options>`.

    The groups are those of the manifest's layout (`Manifest.import_groups`). They name
    their header and parts under `csv_dir` (absolute), or with `merged`
    ((kind, group) -> one file holding its header and parts) that one file each.
    """
    args: list[str] = []
    for group in manifest.import_groups:
        if merged is not None:
            files = [str(_no_comma(merged[(group.kind, group.group)]))]
        else:
            base = _no_comma(csv_dir.resolve())
            files = [f"{base}/{f}" for f in (group.header, *group.parts)]
        args.append(group_arg(group, files))
    return ["database", "import", "full", database, *args, *csv_options(manifest), *options]
