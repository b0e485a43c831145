"""Where the versions pass stopped (transform/versions.py), so that the next run goes on.

`versions-checkpoint/` beside `versions/` in the CSV folder holds the carried frames of the
versions pass (`state`, `runs`, `tags`) and of the time links (`links`, temporal.py), as
Parquet, and `checkpoint.json`: the snapshots they cover (id, `taken_at` and what their
part files were written from), a digest of every header and of the pass's own revision,
the byte length and rows of every append-only part (`final.csv`) as they were when it was
written, and the rows of the time links' parts.

A run goes on from it only when all of that still holds: its snapshots start with exactly
the checkpoint's (same ids, times and parts, none transformed again by this run: `read`,
enough for the time links), the digest is the same, and every final part is at least as
long as recorded (a longer one was appended by a run killed before its own checkpoint: it
is cut back; `resume`). Anything else is a full pass from nothing, with the reason logged.
The frames are written first, under a new generation number, and `checkpoint.json` last by
an atomic rename, so a run killed at any point leaves the previous checkpoint or none, never
one that claims more than the files hold.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from bulkgraph import csvfolder

log = logging.getLogger(__name__)

FORMAT = "bulkgraph-versions-checkpoint/1"
NAME = "checkpoint.json"


@dataclass(frozen=True)
class Covered:
    """A snapshot as the pass saw it."""

    snapshot_id: str
    taken_at: str
    #: what its part files were written from (input checksum and transform output layout);
    #: "" when unknown, which never matches
    parts: str


@dataclass
class FinalPart:
    kind: str
    group: str
    size: int  # bytes
    rows: int


@dataclass
class Checkpoint:
    snapshots: list[Covered]
    digest: str
    #: path relative to the CSV folder -> the append-only part as it was
    final: dict[str, FinalPart] = field(default_factory=dict)
    multiline: bool = False
    generation: int = 0
    #: name -> a frame the passes carry (versions.py's `state`, `runs`, `tags`; the time
    #: links' `links`, temporal.py)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: the rows of the time links' parts: group -> snapshot id -> rows
    link_rows: dict[str, dict[str, int]] = field(default_factory=dict)


def folder(out_dir: Path) -> Path:
    return out_dir / csvfolder.VERSIONS_CHECKPOINT_DIR


def discard(out_dir: Path) -> None:
    """No checkpoint: `checkpoint.json` first, so that nothing half-removed is read."""
    (folder(out_dir) / NAME).unlink(missing_ok=True)
    shutil.rmtree(folder(out_dir), ignore_errors=True)


def read(
    out_dir: Path,
    ordered: list[Covered],
    schemas: Mapping[str, pl.Schema],
    redone: Collection[str],
) -> Checkpoint | str:
    """The checkpoint, if the snapshots `ordered` start with its own and its frames read;
    or why not. Changes nothing on disk."""
    path = folder(out_dir) / NAME
    if not path.exists():
        return "no checkpoint"
    try:
        cp = _read(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{path}: unreadable checkpoint ({exc})"
    n = len(cp.snapshots)
    if ordered[:n] != cp.snapshots:
        return "the snapshots do not start with the checkpoint's (back-fill, or parts rewritten)"
    if any(not s.parts for s in cp.snapshots):
        return "the checkpoint names snapshots whose parts are of unknown origin"
    again = sorted({s.snapshot_id for s in cp.snapshots} & set(redone))
    if again:
        return f"snapshots transformed again since the checkpoint: {', '.join(again[:5])}"
    for name, schema in schemas.items():
        frame_path = folder(out_dir) / f"{name}-{cp.generation}.parquet"
        try:
            frame = pl.read_parquet(frame_path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            return f"{frame_path}: unreadable ({exc})"
        if frame.schema != schema:
            return f"{frame_path}: not the columns the pass carries"
        cp.frames[name] = frame
    return cp


def resume(out_dir: Path, cp: Checkpoint, digest: str) -> Checkpoint | str:
    """`cp` (from `read`) if the versions files are as it says, its final parts cut back to
    their recorded lengths; or why not (a full pass follows)."""
    if cp.digest != digest:
        return "the headers or the versions pass changed since the checkpoint"
    for rel, part in cp.final.items():
        size = (out_dir / rel).stat().st_size if (out_dir / rel).exists() else -1
        if size < part.size:
            return f"{out_dir / rel}: shorter than the checkpoint says ({size} < {part.size})"
    # only now change anything: a run killed after appending is undone
    for rel, part in cp.final.items():
        if (out_dir / rel).stat().st_size > part.size:
            log.info(
                "%s: cut back to %d bytes (a run stopped before its checkpoint)", rel, part.size
            )
            os.truncate(out_dir / rel, part.size)
    for found in (out_dir / csvfolder.VERSIONS_DIR).glob(f"*/*/{csvfolder.VERSIONS_FINAL}"):
        rel = found.relative_to(out_dir).as_posix()
        if rel not in cp.final:
            found.unlink()
    return cp


def _read(path: Path) -> Checkpoint:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"format {data.get('format')!r}, not {FORMAT}")
    return Checkpoint(
        snapshots=[Covered(str(s[0]), str(s[1]), str(s[2])) for s in data["snapshots"]],
        digest=str(data["digest"]),
        final={
            str(p): FinalPart(str(v["kind"]), str(v["group"]), int(v["size"]), int(v["rows"]))
            for p, v in data["final"].items()
        },
        multiline=bool(data["multiline"]),
        generation=int(data["generation"]),
        link_rows={
            str(g): {str(sid): int(n) for sid, n in rows.items()}
            for g, rows in data["link_rows"].items()
        },
    )


def save(out_dir: Path, cp: Checkpoint) -> None:
    """Write `cp` (its final parts as they are now on disk, flushed): frames under a new
    generation, then `checkpoint.json` atomically, then the old generation's frames go."""
    root = folder(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for rel in cp.final:
        _flush(out_dir / rel)
    for name, frame in cp.frames.items():
        frame_path = root / f"{name}-{cp.generation}.parquet"
        frame.write_parquet(frame_path)
        _flush(frame_path)
    data = {
        "format": FORMAT,
        "generation": cp.generation,
        "digest": cp.digest,
        "snapshots": [[s.snapshot_id, s.taken_at, s.parts] for s in cp.snapshots],
        "final": {
            p: {"kind": v.kind, "group": v.group, "size": v.size, "rows": v.rows}
            for p, v in sorted(cp.final.items())
        },
        "multiline": cp.multiline,
        "link_rows": cp.link_rows,
    }
    tmp = root / (NAME + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    _flush(tmp)
    tmp.replace(root / NAME)
    keep = {f"{name}-{cp.generation}.parquet" for name in cp.frames} | {NAME}
    for old in root.iterdir():
        if old.name not in keep:
            old.unlink()


def _flush(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())
