"""Trials behind issue #21's choices, run by hand on a transformed CSV folder (not by
`scripts/bench`): which input the importer reads fastest, and what each post-load index costs.

    .venv/bin/python -m bench.trials inputs  CSV_DIR WORK [--reps 2]
    .venv/bin/python -m bench.trials indexes CSV_DIR WORK

`inputs` imports the same groups as the merged CSV that `bulkgraph import` hands the importer,
as gzip-compressed CSV (levels 1 and 6) and as Parquet (written by polars, with the two-row
header files that map Neo4j's header to Parquet columns), alternating, and prints wall and
CPU seconds and the importer's counts (they must agree). `indexes` imports the folder, starts
the server and creates every constraint and index of `cypher/00-schema.cypher` alone, waiting
for each, and prints its time and the nodes of its label.

Both work in a home of their own under WORK. Parquet input needs four jars that Neo4j's Maven
artifacts do not bring (its distribution does): `inputs` fetches them with Maven into that
home's lib. Figures and conclusions: docs/benchmarks.md, "Tried for issue #21".
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from bulkgraph.csvfolder import FileGroup, Manifest, read_manifest
from bulkgraph.db import home_connection, open_driver
from bulkgraph.load.bulk import merged_input
from bulkgraph.load.importer import csv_options, group_arg
from bulkgraph.server import Neo4jHome, process
from bulkgraph.server.admin import run_admin
from bulkgraph.server.home import resolve_home
from bulkgraph.server.install import install
from bulkgraph.transform.schema import index_statements

#: what the Parquet reader needs at run time besides Neo4j's own dependencies: the versions
#: Neo4j 5.26's parent POM manages
PARQUET_JARS = (
    "com.fasterxml.woodstox:woodstox-core:7.2.2",
    "org.codehaus.woodstox:stax2-api:4.2.2",
    "org.apache.commons:commons-collections4:4.6.0",
    "org.apache.hadoop.thirdparty:hadoop-shaded-guava:1.5.0",
)

Key = tuple[str, str]


def _emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def _private_home(work: Path) -> Neo4jHome:
    """A home whose lib is a folder of links to the shared installation's jars, so that jars
    added for a trial stay out of every other home."""
    home = resolve_home(work / "home")
    if not home.is_installed:
        home = install(work / "home")
    lib = home.root / "lib"
    if lib.is_symlink():
        target = lib.resolve()
        lib.unlink()
        lib.mkdir()
        for jar in target.iterdir():
            (lib / jar.name).symlink_to(jar)
    return home


def _add_parquet_jars(home: Neo4jHome) -> None:
    repo = Path.home() / ".m2" / "repository"
    for coords in PARQUET_JARS:
        group, artifact, version = coords.split(":")
        jar = repo / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.jar"
        if not jar.exists():
            subprocess.run(
                ["mvn", "-q", "dependency:get", f"-Dartifact={coords}", "-Dtransitive=false"],
                check=True,
            )
        shutil.copy(jar, home.root / "lib" / jar.name)


def _gzip(merged: dict[Key, Path], into: Path, level: int) -> dict[Key, list[Path]]:
    out: dict[Key, list[Path]] = {}
    for key, path in merged.items():
        target = into / f"gz{level}" / key[0] / key[1] / "data.csv.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as src, gzip.open(target, "wb", compresslevel=level) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        out[key] = [target]
    return out


def _parquet(merged: dict[Key, Path], into: Path) -> dict[Key, list[Path]]:
    """Each merged CSV as Parquet: booleans, integers and string arrays as Parquet types,
    the rest as the strings the CSV holds; a two-row header file maps the columns."""
    out: dict[Key, list[Path]] = {}
    for key, path in merged.items():
        with path.open(encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split(",")
        cols = [f"c{i}" for i in range(len(header))]
        frame = pl.read_csv(path, has_header=True, new_columns=cols, infer_schema=False)
        for col, entry in zip(cols, header, strict=True):
            kind = entry.rsplit(":", 1)[1] if ":" in entry else ""
            if kind == "boolean":
                frame = frame.with_columns(pl.col(col) == "true")
            elif kind in ("int", "long"):
                frame = frame.with_columns(pl.col(col).cast(pl.Int64))
            elif kind == "string[]":
                frame = frame.with_columns(pl.col(col).str.split(";"))
        folder = into / "parquet" / key[0] / key[1]
        folder.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(folder / "data.parquet")
        (folder / "header.csv").write_text(",".join(header) + "\n" + ",".join(cols) + "\n")
        out[key] = [folder / "header.csv", folder / "data.parquet"]
    return out


def _import(
    home: Neo4jHome,
    manifest: Manifest,
    files: Callable[[FileGroup], list[Path]],
    options: Sequence[str],
    database: str = "trial",
) -> dict[str, object]:
    args = [group_arg(g, [str(f) for f in files(g)]) for g in manifest.import_groups]
    lines: list[str] = []
    t0 = time.perf_counter()
    result = run_admin(
        ["database", "import", "full", database, *args, *options, "--overwrite-destination=true"],
        home,
        check=False,
        on_line=lines.append,
    )
    counts = [ln.strip() for ln in lines if ln.strip().endswith(("nodes", "relationships"))]
    return {
        "wall": round(time.perf_counter() - t0, 1),
        "cpu": round(result.cpu_seconds, 1),
        "ok": result.returncode == 0,
        "counts": counts,
    }


def trial_inputs(csv_dir: Path, work: Path, reps: int) -> None:
    manifest = read_manifest(csv_dir)
    home = _private_home(work)
    _add_parquet_jars(home)
    t0 = time.perf_counter()
    merged = merged_input(manifest, csv_dir, work / "csv")
    _emit(prepare="csv (parts joined)", seconds=round(time.perf_counter() - t0, 1))
    variants: dict[str, tuple[dict[Key, list[Path]], list[str]]] = {
        "csv": ({k: [p] for k, p in merged.items()}, csv_options(manifest))
    }
    for name, make, options in (
        ("gzip-1", lambda: _gzip(merged, work, 1), csv_options(manifest)),
        ("gzip-6", lambda: _gzip(merged, work, 6), csv_options(manifest)),
        ("parquet", lambda: _parquet(merged, work), ["--input-type=parquet", "--id-type=string"]),
    ):
        t0 = time.perf_counter()
        files = make()
        size = sum(f.stat().st_size for fs in files.values() for f in fs)
        _emit(prepare=name, seconds=round(time.perf_counter() - t0, 1), mb=round(size / 1e6))
        variants[name] = (files, options)
    _emit(csv_mb=round(sum(p.stat().st_size for p in merged.values()) / 1e6))
    for rep in range(reps):
        for name, (files, options) in variants.items():

            def of(group: FileGroup, files: dict[Key, list[Path]] = files) -> list[Path]:
                return files[(group.kind, group.group)]

            _emit(rep=rep, variant=name, **_import(home, manifest, of, options))


def trial_indexes(csv_dir: Path, work: Path) -> None:
    manifest = read_manifest(csv_dir)
    home = _private_home(work)
    process.stop(home)
    merged = merged_input(manifest, csv_dir, work / "csv")

    def of(group: FileGroup) -> list[Path]:
        return [merged[(group.kind, group.group)]]

    _emit(imported=_import(home, manifest, of, csv_options(manifest), database="neo4j"))
    process.start(home)
    with open_driver(home_connection(home)) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c"
        )
        nodes = {r["l"]: r["c"] for r in records}
        for statement in index_statements():
            label = statement.split("(n:`")[1].split("`")[0]
            t0 = time.perf_counter()
            driver.execute_query(statement)
            driver.execute_query("CALL db.awaitIndexes(600)")
            _emit(
                statement=statement.split(" IF ")[0],
                seconds=round(time.perf_counter() - t0, 2),
                nodes=nodes.get(label, 0),
            )
    process.stop(home)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trials", description=__doc__)
    parser.add_argument("trial", choices=("inputs", "indexes"))
    parser.add_argument("csv_dir", type=Path, help="a CSV folder made by `bulkgraph transform`")
    parser.add_argument("work", type=Path, help="scratch folder (a Neo4j home and copies)")
    parser.add_argument("--reps", type=int, default=2, help="alternating rounds (inputs)")
    args = parser.parse_args(argv)
    if args.trial == "inputs":
        trial_inputs(args.csv_dir, args.work, args.reps)
    else:
        trial_indexes(args.csv_dir, args.work)


if __name__ == "__main__":
    main()
