"""One snapshot to its part files: a pure function of the snapshot (run in a worker process).

Writes, under the output folder (layout: `bulkgraph/csvfolder.py`):
- `nodes/<Label>/<snapshot_id>.csv` and `relationships/<group>/<snapshot_id>.csv` (no header),
- `state/<snapshot_id>/keys.parquet`: label, resource_key, uid, fingerprint of versioned
  non-stub nodes, read by the temporal pass,
- `state/<snapshot_id>/compared-text.parquet`: the text the versions layout's pass
  compares (versions_input.py),
- the rows and pairs of relationships with `dynamic` properties (PEERED_TO), whose parts
  the final pass writes (dynamic.py),
- `state/<snapshot_id>/rejects.jsonl` and `state/<snapshot_id>/result.json` (written last:
  its presence with the same input checksum means the snapshot is done).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from bulkgraph import csvfolder
from bulkgraph.csvfolder import NODES as NODE_FILES
from bulkgraph.csvfolder import RELATIONSHIPS, State
from bulkgraph.extract.model import ApiResponse, Snapshot
from bulkgraph.extract.operations import GLOBAL_REGION
from bulkgraph.transform import csvfmt, dynamic, versions_input
from bulkgraph.transform.families import FAMILIES, FamilyCount, Graph, base
from bulkgraph.transform.family import key_columns
from bulkgraph.transform.keys import resource_key, uid
from bulkgraph.transform.schema import (
    NODE_BY_LABEL,
    NODES,
    SNAPSHOT_RELS,
    NodeSchema,
    RelSchema,
    rel_schema,
)
from bulkgraph.transform.types import kind
from bulkgraph.transform.unknown import unknown_calls, unknown_labels

#: the one relationship group whose columns depend on the data (a `tag_<key>` per peering
#: tag key of all snapshots): written by the sequential pass, not per snapshot
#: Bump when the same snapshot would give different part files (values, order, escaping)
#: without any column changing: the columns themselves are covered by `output_layout()`.
#: 3: a node put by several families keeps the first value each gave for each property;
#: a stub carries the properties its relationship declares (graph model 1.1)
#: 4: the versions layout's input written per snapshot (versions_input.py)
TRANSFORM_REVISION = 4  # 2: state files of dynamic properties named by their group


def output_layout() -> str:
    """A digest of what the part files mean: the transform revision and every group's
    columns. A snapshot's parts are reused only under the same layout, so that an upgrade
    that adds, drops or reorders a property never pairs old parts with a new header."""
    text = json.dumps(
        {
            "revision": TRANSFORM_REVISION,
            "nodes": {n.group: n.header for n in NODES},
            "relationships": {r.group: r.header for r in SNAPSHOT_RELS},
        },
        sort_keys=True,
    )
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class SnapshotResult:
    snapshot_id: str
    checksum: str
    node_rows: dict[str, int] = field(default_factory=dict)  # label -> rows
    rel_rows: dict[str, int] = field(default_factory=dict)  # group -> rows
    families: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: int = 0
    skipped_operations: list[str] = field(default_factory=list)
    #: what the snapshot does not know: `account/region/operation` (see unknown.py)
    unknown: list[str] = field(default_factory=list)
    #: a written field holds a line break (the importer then needs --multiline-fields);
    #: True for results written before this was recorded, the safe assumption
    multiline: bool = True
    #: `output_layout()` of the code that wrote the parts; "" for results written before
    #: this was recorded (never reused: their layout is unknown)
    layout: str = ""
    #: its node and relationship parts are written (counted in `node_rows`, `rel_rows`
    #: either way); False: only the Snapshot node's part and what the versions layout's
    #: pass reads, for a versions import (`transform_snapshot`)
    parts: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SnapshotResult:
        return cls(**data)

    def write(self, state_dir: Path) -> None:
        """`state_dir`'s `State.RESULT`, whole or not at all (its presence says the
        snapshot's files are done, or what they now hold: `run.drop_parts`)."""
        tmp = state_dir / (State.RESULT + ".tmp")
        tmp.write_text(json.dumps(asdict(self), sort_keys=True, indent=1))
        tmp.replace(state_dir / State.RESULT)


def _typed_empty(schema: NodeSchema) -> dict[str, pl.DataType]:
    return {p.name: kind(p.type).dtype() for p in schema.columns}


def _nodes_frame(schema: NodeSchema, frames: list[pl.DataFrame]) -> pl.DataFrame:
    dtypes = _typed_empty(schema)
    cols = [p.name for p in schema.columns]
    parts = [
        f.select(
            [
                pl.col(c).cast(dtypes[c]) if c in f.columns else pl.lit(None, dtypes[c]).alias(c)
                for c in cols
            ]
        )
        for f in frames
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=dtypes)


def _end_keys(label: str, side: str) -> list[str]:
    """The columns of a relationship frame holding its `side` end's keys, one per key of
    the end's `label` (`Graph.link`)."""
    return key_columns(side, len(NODE_BY_LABEL[label].key_names))


def _rel_frame(schema: RelSchema, frames: list[pl.DataFrame]) -> pl.DataFrame:
    stub_cols = [c for side in ("start", "end") for _, c in schema.stub_columns(side)]
    key_cols = [*_end_keys(schema.start, "start"), *_end_keys(schema.end, "end")]
    want = [*key_cols, *(p.name for p in schema.props), *stub_cols]
    parts = [f.select(want) for f in frames if f.height]
    if not parts:
        return pl.DataFrame()
    df = pl.concat(parts, how="vertical_relaxed")
    return df.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in key_cols))


def build_graph(snapshot: Snapshot) -> tuple[Graph, list[str]]:
    """The snapshot's frames, and what it does not know (`unknown` entries, see unknown.py)."""
    info = snapshot.info
    g = Graph(info.snapshot_id)
    by_op: dict[str, list[ApiResponse]] = defaultdict(list)
    for resp in snapshot.responses():
        by_op[resp.operation].append(resp)
        for left in resp.left_out:  # records the reader could not take: rejects, not silence
            g.rejects.add(
                info.snapshot_id, [(resp.path, left.record, f"{left.where}: {left.reason}")]
            )
            count = g.counts.setdefault(resp.operation, FamilyCount())
            count.read += 1
            count.rejected += 1
    ran = []
    for op in sorted(by_op):
        family = FAMILIES.get(op)
        if family is not None:
            family(g, by_op[op])
            ran.append(family)
        else:
            g.unknown_operations.append(op)
    for family in ran:  # what needs the others' records (Family.after)
        family.finish(g)
    # accounts and regions: those the manifest names, and those data came from
    pairs = {(a.account_id, r) for a in info.accounts for r in a.regions}
    data = {(r.account_id, r.region) for rs in by_op.values() for r in rs}
    accounts = {a.account_id for a in info.accounts} | {a for a, _ in data}
    # `global` is where an account's IAM is stored, not a region
    pairs = {(a, r) for a, r in pairs | data if r != GLOBAL_REGION}
    g.node(
        "Account", pl.DataFrame({"account_id": sorted(accounts)}, schema={"account_id": pl.String})
    )
    regions = pl.DataFrame(
        sorted(pairs), schema={"account_id": pl.String, "name": pl.String}, orient="row"
    )
    g.put(base.REGION, regions)
    g.link(base.ACCOUNT_CONTAINS_REGION, regions)
    held = {(r.account_id, r.region, op) for op, rs in by_op.items() for r in rs}
    unknown = unknown_calls(info, held)
    lists = pl.List(pl.String)
    g.node(
        "Snapshot",
        pl.DataFrame(
            {
                "snapshot_id": [info.snapshot_id],
                "taken_at": [info.taken_at.isoformat()],
                "source": [info.source],
                # absent, not an empty list, when the snapshot knows everything
                "unknown": pl.Series([unknown or None], dtype=lists),
                "unknown_labels": pl.Series([unknown_labels(unknown) or None], dtype=lists),
            }
        ),
    )
    return g, unknown


def _fingerprints(
    nodes: dict[str, pl.DataFrame],
    rels: dict[str, pl.DataFrame],
    pair_texts: dict[str, pl.DataFrame | None],
) -> dict[str, pl.DataFrame]:
    """label -> (resource_key, fingerprint) of its nodes that are not stubs: a hash over
    properties and relationships (see the module doc)."""
    texts: dict[str, pl.DataFrame] = {}
    for label, df in nodes.items():
        schema = NODE_BY_LABEL[label]
        cols = csvfmt.prop_cols(tuple(p for p in schema.columns if p.name not in _FP_EXCLUDED))
        own = df.filter(pl.col("stub").is_null())
        texts[label] = own.select(
            "resource_key",
            pl.concat_str(csvfmt.cells(own, cols), separator=",").alias("props"),
        )
    props = pl.concat(texts.values())
    lines: list[pl.DataFrame] = []
    for group, df in rels.items():
        rschema = _REL_BY_GROUP[group]
        if rschema.type == "CONTAINS" and rschema.start == "Snapshot":
            continue
        cells = csvfmt.cells(df, csvfmt.prop_cols(rschema.props))
        pair_text = pair_texts.get(group)
        if pair_text is not None and rschema.dynamic is not None:
            cells.append(pl.col("_dynamic").fill_null(""))
            df = df.join(pair_text, on=rschema.dynamic.by, how="left")
        rest = pl.concat_str([pl.lit(rschema.type), *cells], separator=",")
        lines.append(
            df.select(
                pl.col("start_rk").alias("resource_key"),
                pl.concat_str([pl.lit("out"), rest, pl.col("end_rk")], separator="|").alias("line"),
            )
        )
        lines.append(
            df.select(
                pl.col("end_rk").alias("resource_key"),
                pl.concat_str([pl.lit("in"), rest, pl.col("start_rk")], separator="|").alias(
                    "line"
                ),
            )
        )
    # each key's lines gathered as a list, then sorted and joined as lists: the same text
    # as sorting inside the aggregation, for ~40 % less CPU (docs/benchmarks.md)
    rel_text = (
        pl.concat(lines)
        .group_by("resource_key")
        .agg(pl.col("line"))
        .with_columns(pl.col("line").list.sort().list.join("\n"))
        if lines
        else pl.DataFrame(schema={"resource_key": pl.String, "line": pl.String})
    )
    full = props.join(rel_text, on="resource_key", how="left", maintain_order="left").select(
        pl.concat_str([pl.col("props"), pl.col("line").fill_null("")], separator="\x1e")
    )
    # hashed as the UTF-8 bytes polars holds: no Python string decoded and encoded again
    texts_utf8 = full.to_series().cast(pl.Binary).to_list()
    digests = [hashlib.sha1(t).hexdigest()[:16] for t in texts_utf8]
    out: dict[str, pl.DataFrame] = {}
    at = 0
    for label, df in texts.items():  # `full` holds the labels' rows in this order
        out[label] = df.select("resource_key").with_columns(
            pl.Series("fingerprint", digests[at : at + df.height], dtype=pl.String)
        )
        at += df.height
    return out


def _snapshot_fingerprint(
    nodes: dict[str, pl.DataFrame], rels: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """The Snapshot node's fingerprint alone, as `_fingerprints` gives it."""
    own = {
        group: df
        for group, df in rels.items()
        if "Snapshot" in (_REL_BY_GROUP[group].start, _REL_BY_GROUP[group].end)
    }
    return _fingerprints({"Snapshot": nodes["Snapshot"]}, own, {})


_FP_EXCLUDED = {"uid", "snapshot_id", "fingerprint", "stub"}
_REL_BY_GROUP = {r.group: r for r in SNAPSHOT_RELS}


def transform_snapshot(snapshot: Snapshot, out_dir: Path, *, parts: bool = True) -> SnapshotResult:
    """Normalize one snapshot and write its part files. Pure: depends on the snapshot only.

    `parts=False` writes only what a versions-layout import needs (the Snapshot node's part,
    the versions pass's input, the dynamic state, rejects, result): no other part file, no
    fingerprints, no keys. A year of nightly 10k-instance snapshots is ~18 GB of parts that
    neither that import nor its pass reads (docs/benchmarks.md); `load` appends from them,
    so `transform` writes them unless told not to."""
    info = snapshot.info
    sid = info.snapshot_id
    g, unknown = build_graph(snapshot)
    nodes = _typed_nodes(g, sid)
    rels = _resolved_rels(g, sid, nodes)
    # Snapshot CONTAINS every other node, stubs included
    for label, df in nodes.items():
        if label == "Snapshot" or df.height == 0:
            continue
        rels[csvfolder.rel_group("CONTAINS", "Snapshot", label)] = df.select(
            pl.lit(f"Snapshot|{sid}").alias("start_rk"), pl.col("resource_key").alias("end_rk")
        )

    with_pairs = [rs for rs in SNAPSHOT_RELS if rs.dynamic is not None]
    pairs = {rs.group: dynamic.pairs(rs, g.dynamic.get(rs.group, [])) for rs in with_pairs}
    texts = {rs.group: dynamic.fingerprint_text(rs, pairs[rs.group]) for rs in with_pairs}
    # the versions pass compares text, not fingerprints: without parts only the Snapshot
    # node's, whose line the versions layout keeps
    fps = _fingerprints(nodes, rels, texts) if parts else _snapshot_fingerprint(nodes, rels)

    result = SnapshotResult(
        sid, info.checksum, multiline=False, layout=output_layout(), parts=parts
    )
    inputs: list[pl.DataFrame] = []
    keys = _write_nodes(out_dir, sid, nodes, fps, result, inputs)
    _write_rels(out_dir, sid, rels, result, inputs)

    sdir = State.dir(out_dir, sid)
    sdir.mkdir(parents=True, exist_ok=True)
    versions_input.write(sdir, inputs)
    if parts:
        keys.sort(["label", "resource_key"]).write_parquet(sdir / State.KEYS)
    else:  # the time links' input, of an earlier run that wrote parts: stale now
        (sdir / State.KEYS).unlink(missing_ok=True)
    for rs in with_pairs:
        dynamic.keep(sdir, sid, rs, rels.get(rs.group), pairs[rs.group])
    with (sdir / State.REJECTS).open("w", encoding="utf-8") as fh:
        for row in sorted(g.rejects.rows, key=lambda r: (r["file"], r["record"], r["reason"])):
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    result.rejected = len(g.rejects.rows)
    result.families = {op: asdict(c) for op, c in sorted(g.counts.items())}
    result.skipped_operations = g.unknown_operations
    result.unknown = unknown
    result.write(sdir)
    return result


def _typed_nodes(g: Graph, sid: str) -> dict[str, pl.DataFrame]:
    """Each label's nodes: typed, deduplicated by resource key (first seen wins, in file
    order)."""
    nodes: dict[str, pl.DataFrame] = {}
    for schema in NODES:
        df = _nodes_frame(schema, g.nodes.get(schema.label, []))
        rk = resource_key(schema.label, [pl.col(k).cast(pl.String) for k in schema.key_names])
        df = df.with_columns(rk.alias("resource_key"), pl.lit(sid).alias("snapshot_id"))
        df = df.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in schema.key_names))
        props = [p.name for p in schema.declared if p.name not in schema.key_names]
        nodes[schema.label] = _first_of_each(df, props)
    return nodes


def _first_of_each(df: pl.DataFrame, props: list[str]) -> pl.DataFrame:
    """One row per resource key: each of `props` the first non-null value given for it (in
    file order), so that a node put by two families (a Lambda function that is a target
    and is listed, an IPRange a rule describes and an ACL names) keeps what either knows.
    The other columns are the same in every row of a key (the keys) or not yet set."""
    if not props or not df["resource_key"].is_duplicated().any():
        return df.unique("resource_key", keep="first", maintain_order=True)
    return (
        df.group_by("resource_key", maintain_order=True)
        .agg(
            pl.col(c).drop_nulls().first() if c in props else pl.col(c).first()
            for c in df.columns
            if c != "resource_key"
        )
        .select(df.columns)
    )


def _resolved_rels(g: Graph, sid: str, nodes: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Each relationship group with both ends resolved to resource keys; an end the snapshot
    does not hold becomes a stub node, added to `nodes`."""
    # planned lazily and collected together: ~40 groups of a few small operations each,
    # where polars' fixed cost per eager operation was most of the time
    plans: dict[str, pl.LazyFrame] = {}
    stub_plans: list[tuple[str, pl.LazyFrame]] = []
    for (type_, start, end), frames in sorted(g.rels.items()):
        rs = rel_schema(type_, start, end)
        df = _rel_frame(rs, frames)
        if df.height == 0:
            continue
        ends = {
            side: (label, _end_keys(label, side))
            for label, side in ((start, "start"), (end, "end"))
        }
        lf = df.lazy().with_columns(
            resource_key(label, [pl.col(c) for c in cols]).alias(f"{side}_rk")
            for side, (label, cols) in ends.items()
        )
        for label, side in ((start, "start"), (end, "end")):
            missing = lf.join(
                nodes[label].lazy().select("resource_key"),
                left_on=f"{side}_rk",
                right_on="resource_key",
                how="anti",
            )
            names = NODE_BY_LABEL[label].key_names
            stub_plans.append(
                (
                    label,
                    missing.select(
                        pl.col(f"{side}_rk").alias("resource_key"),
                        *(pl.col(c).alias(n) for c, n in zip(ends[side][1], names, strict=True)),
                        # what the relationship declares its stub end keeps (a peer VPC's CIDR)
                        *(pl.col(col).alias(prop) for prop, col in rs.stub_columns(side)),
                    ),
                )
            )
        plans[rs.group] = lf.unique(
            ["start_rk", "end_rk", *(p.name for p in rs.props)], maintain_order=True
        ).select("start_rk", "end_rk", *(p.name for p in rs.props))
    done = pl.collect_all([*plans.values(), *(plan for _, plan in stub_plans)])
    rels = dict(zip(plans, done[: len(plans)], strict=True))
    stubs: dict[str, list[pl.DataFrame]] = defaultdict(list)
    for (label, _), found in zip(stub_plans, done[len(plans) :], strict=True):
        stubs[label].append(found)
    stub_keys = {label: {"resource_key", *NODE_BY_LABEL[label].key_names} for label in stubs}
    for label, frames in stubs.items():
        found = pl.concat(frames, how="diagonal_relaxed")
        found = _first_of_each(found, [c for c in found.columns if c not in stub_keys[label]])
        if found.height:
            schema = NODE_BY_LABEL[label]
            stub_df = _nodes_frame(schema, [found.with_columns(pl.lit(True).alias("stub"))])
            stub_df = stub_df.with_columns(
                found["resource_key"].alias("resource_key"), pl.lit(sid).alias("snapshot_id")
            )
            nodes[label] = pl.concat([nodes[label], stub_df])
    return rels


def _write_nodes(
    out_dir: Path,
    sid: str,
    nodes: dict[str, pl.DataFrame],
    fps: dict[str, pl.DataFrame],
    result: SnapshotResult,
    inputs: list[pl.DataFrame],
) -> pl.DataFrame:
    """Each label's part file (with `result.parts`; the Snapshot's always), with
    fingerprints (of the labels `fps` holds) and uids; returns the keys of the versioned
    nodes that are not stubs (what the temporal pass links), and adds the versions
    layout's input of each label but Snapshot to `inputs`."""
    keys_frames: list[pl.DataFrame] = []
    for schema in NODES:
        df = nodes[schema.label]
        if result.parts or not schema.versioned:
            # in the order of the uids (the snapshot id before each key: the keys' order);
            # the versions pass writes its versions sorted, its Tags in the order first seen
            df = df.sort("resource_key")
        if schema.label in fps:
            # the label's own fingerprints (joining all of them to every label cost more)
            df = df.join(
                fps[schema.label],
                on="resource_key",
                how="left",
                suffix="_new",
                maintain_order="left",
            ).with_columns(pl.col("fingerprint_new").alias("fingerprint"))
            df = df.drop("fingerprint_new")
        df = df.with_columns(uid(sid, pl.col("resource_key")).alias("uid"))
        # stubs carry only their keys, snapshot_id, uid and stub
        df = df.with_columns(
            pl.when(pl.col("stub").is_null()).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("resource_key", "fingerprint")
        )
        path = out_dir / csvfolder.part_path(NODE_FILES, schema.group, sid)
        written = result.parts or schema.label == "Snapshot"
        if df.height:
            cols = csvfmt.prop_cols(schema.columns)
            split = csvfmt.split_lines(df, cols, versions_input.NODE_HEAD, line=written)
            if written:
                result.multiline |= csvfmt.write_lines(path, split["line"])
            else:  # of an earlier run that wrote parts
                path.unlink(missing_ok=True)
            result.node_rows[schema.label] = df.height
            if schema.label != "Snapshot":
                inputs.append(versions_input.node_rows(schema.label, split))
        else:
            path.unlink(missing_ok=True)
        if schema.versioned:
            keys_frames.append(
                df.filter(pl.col("stub").is_null()).select(
                    pl.lit(schema.label).alias("label"), "resource_key", "uid", "fingerprint"
                )
            )
        nodes[schema.label] = df
    return pl.concat(keys_frames)


def _write_rels(
    out_dir: Path,
    sid: str,
    rels: dict[str, pl.DataFrame],
    result: SnapshotResult,
    inputs: list[pl.DataFrame],
) -> None:
    """Each relationship group's part file (with `result.parts`; those with dynamic
    properties: the final pass), and the versions layout's input of each but a Snapshot's
    CONTAINS into `inputs`."""
    for group, df in sorted(rels.items()):
        rs = _REL_BY_GROUP[group]
        if rs.dynamic is not None:  # written by the final pass
            continue
        path = out_dir / csvfolder.part_path(RELATIONSHIPS, group, sid)
        if not result.parts and versions_input.contains(group):
            # neither a part nor the versions pass's input (the layout has no CONTAINS from
            # a Snapshot): only its count. Its lines were ~3 % of a worker's CPU for nothing
            path.unlink(missing_ok=True)  # of an earlier run that wrote parts
            result.rel_rows[group] = df.height
            continue
        # a part sorted by the resource keys, the order of their uids (one snapshot id
        # before each), on shorter text; the versions pass's input needs no order
        if result.parts:
            df = df.sort(["start_rk", "end_rk", *(p.name for p in rs.props)], nulls_last=False)
        out = df.with_columns(
            uid(sid, pl.col("start_rk")).alias("start"), uid(sid, pl.col("end_rk")).alias("end")
        )
        cols = [("start", "string"), ("end", "string"), *csvfmt.prop_cols(rs.props)]
        # ids are written like any other string: quoted and escaped
        split = csvfmt.split_lines(out, cols, 2, line=result.parts)
        if result.parts:
            result.multiline |= csvfmt.write_lines(path, split["line"])
        else:  # of an earlier run that wrote parts
            path.unlink(missing_ok=True)
        result.rel_rows[group] = out.height
        if not versions_input.contains(group):
            inputs.append(versions_input.rel_rows(group, split))


__all__ = ["FamilyCount", "SnapshotResult", "transform_snapshot"]
