"""`scripts/bench`: how fast the bulk path is, against the transactional baseline.

One run: generate a synthetic estate (gen-estate) of M+1 snapshots, then measure
  1. the transform of the first k snapshots for each k of the series (the last k = M),
     each in a fresh process, wall time and peak RSS of that process and its workers;
  2. the transactional baseline (baseline.py) on the first K snapshots, into an empty db;
  3. the bulk import of the M-snapshot CSVs (`bulk_import`: neo4j-admin import, post-load
     Cypher, verification, swap), per phase;
  4. the daily increment: transform of snapshot M+1 into the same folder (the M others are
     reused), then `append` of it into the live graph;
  5. the next night's rebuild: `bulk_import` of all M+1 snapshots, whose transform was the
     one new snapshot of step 4 (what `bulkgraph rebuild --workdir` does every night);
  6. `bulkgraph report` of that whole history (M+1 snapshots): reading the graph, drawing
     the charts, writing the page.
  7. the versions layout (docs/versions-layout.md) on the same estate, in a Neo4j instance
     of its own: its rebuild from nothing and its nightly rebuild, both stores on disk, and
     the median latency of a few as-of questions of the query pack in each layout, both
     servers up and their runs interleaved (bench/layouts.py).
  8. optionally (`--aws-config-mb N`), the peak memory of `snapshots from-config` over one
     AWS Config snapshot file of N MB of JSON (bench/configfile.py).
It prints a table and writes `bench.json`, `bench.md` and `bench.png` into the out folder.

`--versions-only` measures step 7's versions layout alone (generate, its rebuild from
nothing, its nightly rebuild, its store, the as-of questions in it), for a history the
snapshots layout would take too long to build beside it: issue #20 sets its rebuild
targets for a year of nights (`--snapshots 365 --versions-only`). It writes
`versions-only.json` and prints its own table.

Everything runs on a Neo4j instance of its own, in the work folder, never the user's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baseline import expected_counts, load_transactional
from bench.chart import write_chart
from bench.collectbench import collection_rate
from bench.configfile import measure as measure_config_file
from bench.genestate import EstateSpec, generate
from bench.layouts import (
    QUICK_REPEATS,
    REPEATS,
    rebuild_targets,
    store_bytes,
    timed_questions,
)
from bench.layouts import compare as compare_layouts
from bench.memory import PeakSampler, cpu_ticks, load_average, steal_percent
from bench.report import MB, compared_rate, format_markdown, format_table, speedups, targets
from bulkgraph import server
from bulkgraph.csvfolder import read_manifest
from bulkgraph.db import home_connection, open_driver
from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.layout import Layout, recorded_layout
from bulkgraph.load.append import append
from bulkgraph.load.bulk import bulk_import
from bulkgraph.report import build_report
from bulkgraph.settings import Settings

#: The quick run (the smoke test): small data, small memory; minutes, mostly JVM start-ups.
QUICK_SIZES = {"instances": 300, "snapshots": 4, "baseline_snapshots": 2}
QUICK_SERIES = [1, 2, 4]
QUICK_MEMORY = {"heap": "1g", "pagecache": "512m", "import_memory": "1g"}


@dataclass
class BenchConfig:
    instances: int = 10_000
    snapshots: int = 90
    series: list[int] = field(default_factory=lambda: [1, 10, 30, 90])
    #: the first one pays the server's warm-up; the rate compared is that of the others
    baseline_snapshots: int = 5
    out: Path = Path("docs/benchmarks")
    workdir: Path | None = None  # None: a temporary folder, removed at the end
    keep: bool = False
    workers: int = os.cpu_count() or 1
    jobs: int = min(2, os.cpu_count() or 1)
    seed: int = 0
    churn: float = 0.02
    heap: str = "4g"
    pagecache: str = "4g"
    import_memory: str = "4g"
    quick: bool = False
    command: str = ""
    #: 0: no AWS Config stage; else the JSON size of its snapshot file, in MB
    aws_config_mb: float = 0
    #: the versions layout only (`run_versions_only`)
    versions_only: bool = False

    def validate(self) -> None:
        problems = []
        if self.instances < 1:
            problems.append("--instances must be 1 or more")
        if self.snapshots < 1:
            problems.append("--snapshots must be 1 or more")
        if any(k < 1 for k in self.series):
            problems.append("--series values must be 1 or more")
        if not self.versions_only and not 1 <= self.baseline_snapshots <= self.snapshots:
            problems.append("--baseline-snapshots must be between 1 and --snapshots")
        if problems:
            raise BulkgraphError("; ".join(problems), ExitCode.USAGE)

    @property
    def series_points(self) -> list[int]:
        """The series, capped at M, always ending with M (whose CSVs get imported)."""
        return sorted({k for k in self.series if k <= self.snapshots} | {self.snapshots})


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def timed_transform(
    snapshot_dirs: list[Path], out_dir: Path, workers: int, layout: Layout = Layout.snapshots
) -> dict[str, Any]:
    """The transform in a fresh process (timedtransform.py), sampled for peak tree RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("timedtransform.py")),  # needs bulkgraph only
        f"--layout={layout.value}",
        str(result_path),
        str(out_dir),
        str(workers),
        *map(str, snapshot_dirs),
    ]
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with PeakSampler(proc.pid, interval=0.05) as sampler:
            stdout, stderr = proc.communicate()
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise BulkgraphError(f"transform of {out_dir} failed:\n{(stdout + stderr)[-3000:]}")
        data: dict[str, Any] = json.loads(result_path.read_text())
    finally:
        result_path.unlink(missing_ok=True)
    if data["failed"]:
        raise BulkgraphError(f"transform of {out_dir}: snapshots failed: {data['failed']}")
    data["process_seconds"] = wall
    data["peak_rss_bytes"] = sampler.peak
    data["records"] = data["nodes"] + data["relationships"]
    return data


def _rate(records: int, seconds: float) -> float:
    return records / seconds if seconds > 0 else 0.0


def _settings(config: BenchConfig) -> Settings:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    return base.model_copy(
        update={
            "bulkgraph_heap": config.heap,
            "bulkgraph_pagecache": config.pagecache,
            "bulkgraph_import_memory": config.import_memory,
            "neo4j_uri": None,
            "neo4j_home": None,
        }
    )


@contextmanager
def _bench_run(
    config: BenchConfig, mode: str
) -> Iterator[tuple[Path, dict[str, Any], list[server.Neo4jHome]]]:
    """The frame of a run: its work folder (a temporary one unless --workdir; removed at the
    end unless --keep), the results' opening fields, the Neo4j homes the run adds to the
    list (stopped at the end, whatever happens), and the closing fields if it ends well."""
    config.validate()
    own_workdir = config.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bulkgraph-bench-")) if own_workdir else config.workdir
    assert workdir is not None
    workdir.mkdir(parents=True, exist_ok=True)
    homes: list[server.Neo4jHome] = []
    try:
        results: dict[str, Any] = {
            "command": config.command,
            "mode": mode,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "load_average": {"start": load_average()},
            # per stage: % of CPU time the hypervisor gave to other tenants (noise)
            "cpu_steal_percent": {},
        }
        run_ticks = cpu_ticks()
        settings = _settings(config)
        results["machine"]["neo4j"] = settings.bulkgraph_neo4j_version
        # BULKGRAPH_JVM_OPTIONS changes what is measured (the tests run C1 only): say so
        results["machine"]["jvm_options"] = settings.bulkgraph_jvm_options
        if settings.bulkgraph_jvm_options:
            _say(f"BULKGRAPH_JVM_OPTIONS={settings.bulkgraph_jvm_options!r}: not a reference run")
        yield workdir, results, homes
        results["load_average"]["end"] = load_average()
        results["cpu_steal_percent"]["whole_run"] = steal_percent(run_ticks, cpu_ticks())
        results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    finally:
        for home in homes:
            server.stop(home)
        if own_workdir and not config.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif config.keep:
            _say(f"work folder kept: {workdir}")


def run_bench(config: BenchConfig) -> dict[str, Any]:
    """Run the whole benchmark (module docstring) and return the results as a JSON object."""
    with _bench_run(config, "full") as (workdir, results, homes):
        steal = results["cpu_steal_percent"]
        settings = _settings(config)

        # first, collection: `bulkgraph collect` of one region of the estate's size, from moto
        _say(f"collect of {config.instances} instances from a moto server")
        results["collect"] = collection_rate(config.instances, workdir / "collect")
        _say(
            f"collect: {results['collect']['seconds_per_1000_instances']:.1f} s per 1000 instances"
        )

        # 0. data: M snapshots for the rebuild plus one for the daily append
        folders = _generated(config, workdir, results)

        # 1. transform series (the last point is the M-snapshot rebuild's transform)
        series = []
        csv_dir = workdir / "csv"
        for k in config.series_points:
            out = csv_dir if k == config.snapshots else workdir / f"csv-{k}"
            shutil.rmtree(out, ignore_errors=True)
            _say(f"transform of {k} snapshot(s)")
            ticks = cpu_ticks()
            data = timed_transform(folders[:k], out, config.workers)
            steal[f"transform_{k}"] = steal_percent(ticks, cpu_ticks())
            series.append(
                {
                    "snapshots": k,
                    "seconds": data["transform_seconds"],
                    "cpu_seconds": data["cpu_seconds"],
                    "process_seconds": data["process_seconds"],
                    "per_snapshot_seconds": data["per_snapshot_seconds"],
                    "link_and_manifest_seconds": data["link_and_manifest_seconds"],
                    "records": data["records"],
                    "records_per_second": _rate(data["records"], data["transform_seconds"]),
                    "peak_rss_bytes": data["peak_rss_bytes"],
                    "load_average": load_average(),
                }
            )
            _say(
                f"  {data['transform_seconds']:.1f}s, {data['records']} records, "
                f"peak RSS {data['peak_rss_bytes'] / MB:.0f} MB"
            )
            if out != csv_dir:
                shutil.rmtree(out, ignore_errors=True)
        results["series"] = series
        main = series[-1]
        manifest = read_manifest(csv_dir)
        nodes = sum(manifest.nodes_per_label.values())
        rels = sum(manifest.relationships_per_type.values())
        records = nodes + rels
        results["graph"] = {
            "snapshots": len(manifest.snapshots),
            "nodes": nodes,
            "relationships": rels,
            "records": records,
            "nodes_per_label": manifest.nodes_per_label,
            "relationships_per_type": manifest.relationships_per_type,
        }
        results["transform"] = {
            "seconds": main["seconds"],
            "cpu_seconds": main["cpu_seconds"],
            "records_per_second": main["records_per_second"],
            "peak_rss_bytes": main["peak_rss_bytes"],
            "per_snapshot_seconds": main["per_snapshot_seconds"],
            "link_and_manifest_seconds": main["link_and_manifest_seconds"],
            "workers": config.workers,
        }

        # 2. a Neo4j of the benchmark's own
        home = _fresh_home(workdir / "neo4j", settings)
        homes.append(home)
        server.start(home)
        conn = home_connection(home)

        _say(f"transactional baseline on {config.baseline_snapshots} snapshot(s)")
        results["load_average"]["baseline"] = load_average()
        ticks = cpu_ticks()
        with open_driver(conn) as driver:
            base = load_transactional(
                csv_dir,
                driver,
                conn.database,
                snapshots=config.baseline_snapshots,
                on_progress=_say,
            )
        steal["baseline"] = steal_percent(ticks, cpu_ticks())
        exp_nodes, exp_rels = expected_counts(manifest, base.snapshots)
        results["baseline"] = {
            **base.to_dict(),
            "expected_nodes": exp_nodes,
            "expected_relationships": exp_rels,
            **compared_rate(base.records_per_second, base.warm_records_per_second),
        }
        _say(
            f"  {base.total_seconds:.1f}s, {base.records_per_second:.0f} records/s; "
            f"{results['baseline']['compared']}: "
            f"{results['baseline']['compared_records_per_second']:.0f} records/s"
        )

        # 3. the bulk rebuild; the live server is stopped so that only one JVM holds memory
        server.stop(home)
        _say(f"bulk import of {records} records")
        results["load_average"]["import"] = load_average()
        importer_lines: list[str] = []
        ticks = cpu_ticks()
        with PeakSampler(interval=0.2) as sampler:
            summary = bulk_import(csv_dir, home, on_line=importer_lines.append, settings=settings)
        steal["import"] = steal_percent(ticks, cpu_ticks())
        phases = summary.phases
        results["import"] = {
            "seconds": phases["import"],
            "cpu_seconds": summary.import_cpu_seconds,
            "records_per_second": _rate(records, phases["import"]),
            "peak_rss_bytes": sampler.peak,
            "phases": phases,
            # the whole bulk_import call: the phases plus staging set-up and clean-up
            "bulk_import_seconds": summary.seconds,
            "swap_mode": summary.swap_mode,
            "nodes": summary.nodes,
            "relationships": summary.relationships,
            "report_lines": summary.report_lines,
            # the importer's own summary: its stages and peak memory
            "importer_summary": [
                ln.strip()
                for ln in importer_lines
                if ln.strip() and not ln.lstrip().startswith(".")  # not a progress line
            ][-30:],
        }
        results["post_load"] = {"seconds": phases.get("post_load", 0.0)}
        rebuild_seconds = main["seconds"] + summary.seconds
        results["rebuild"] = {
            "seconds": rebuild_seconds,
            "records_per_second": _rate(records, rebuild_seconds),
        }

        # 4. the daily increment: one more snapshot transformed (others reused) and appended
        _say("daily increment: transform + append of one more snapshot")
        results["load_average"]["append"] = load_average()
        ticks = cpu_ticks()
        data = timed_transform(folders, csv_dir, config.workers)
        t0 = time.monotonic()
        appended = append(csv_dir, connection=home_connection(home), settings=settings)
        load_seconds = time.monotonic() - t0
        steal["append"] = steal_percent(ticks, cpu_ticks())
        results["append"] = {
            "snapshots": appended.loaded,
            "skipped": len(appended.skipped),
            "rows": appended.rows,
            "transform_seconds": data["transform_seconds"],
            "transform_peak_rss_bytes": data["peak_rss_bytes"],
            "load_seconds": load_seconds,
            "records_per_second": _rate(appended.rows, load_seconds),
        }

        # 5. the next night's rebuild: the CSV folder of the night before is kept (as with
        # `bulkgraph rebuild --workdir`), so only the new snapshot was transformed (step 4);
        # the whole history, M+1 snapshots, is imported again
        _say(f"nightly rebuild: {len(folders)} snapshots, {len(folders) - 1} reused")
        ticks = cpu_ticks()
        nightly = bulk_import(csv_dir, home, settings=settings)
        steal["nightly_rebuild"] = steal_percent(ticks, cpu_ticks())
        nightly_records = nightly.nodes + nightly.relationships
        nightly_seconds = data["transform_seconds"] + nightly.seconds
        results["nightly_rebuild"] = {
            "snapshots": len(nightly.snapshots),
            "records": nightly_records,
            "transform_seconds": data["transform_seconds"],
            "phases": nightly.phases,
            "bulk_import_seconds": nightly.seconds,
            "swap_mode": nightly.swap_mode,
            "import_cpu_seconds": nightly.import_cpu_seconds,
            "seconds": nightly_seconds,
            "records_per_second": _rate(nightly_records, nightly_seconds),
        }

        # the snapshots layout's store, for step 7's comparison (which times the as-of
        # questions of both layouts side by side)
        server.start(home)  # no-op when the import left it running
        snapshots_layout: dict[str, Any] = {
            "records": nightly_records,
            "store_bytes": store_bytes(home, conn.database),
            "rebuild_seconds": rebuild_seconds,
            "nightly_seconds": nightly_seconds,
        }

        # 6. the HTML report of the whole history, as `bulkgraph report --out DIR` writes it
        _say(f"report of {len(nightly.snapshots)} snapshots")
        ticks = cpu_ticks()
        t0 = time.monotonic()
        with open_driver(home_connection(home)) as driver:
            report = build_report(driver, workdir / "report", database=conn.database)
        report_seconds = time.monotonic() - t0
        steal["report"] = steal_percent(ticks, cpu_ticks())
        results["report"] = {
            "snapshots": len(report.snapshots),
            "seconds": report_seconds,
            "phases": report.phases,
            "bytes": report.bytes,
            "charts": report.charts,
            "exposure_events": report.exposure_events,
        }
        _say(f"  {report_seconds:.1f}s, {report.bytes / MB:.1f} MB ({report.phases})")
        # 7. the versions layout: from nothing (M snapshots), then the next night (M+1)
        results["layouts"] = {"snapshots": snapshots_layout}
        results["layouts"]["versions"] = _versions_layout(
            config, folders, workdir, home, snapshots_layout
        )
        results["layouts"]["comparison"] = compare_layouts(
            results["layouts"]["snapshots"], results["layouts"]["versions"]
        )
        _say(f"  layouts: {results['layouts']['comparison']}")

        if config.aws_config_mb > 0:
            _say(f"AWS Config: one snapshot file of {config.aws_config_mb:g} MB")
            results["aws_config"] = measure_config_file(workdir, config.aws_config_mb)

        results["speedup"] = speedups(results, results["baseline"]["compared_records_per_second"])
        # against the baseline with its warm-up in (how runs before 2026-11-30 compared)
        results["speedup_with_baseline_warm_up"] = speedups(results, base.records_per_second)
        results["targets"] = targets(results)
    return results


def _versions_layout(
    config: BenchConfig,
    folders: list[Path],
    workdir: Path,
    home: server.Neo4jHome,
    snapshots_layout: dict[str, Any],
) -> dict[str, Any]:
    """Step 7: the versions layout's rebuilds and store, in an instance of its own beside
    `home` (which holds the snapshots layout's graph), then the as-of questions of both
    layouts, timed side by side (bench/layouts.py); their timings go into `snapshots_layout`
    and the result."""
    versions_home = _fresh_home(workdir / "neo4j-versions", _settings(config))
    repeats = _repeats(config)
    # not running beside the rebuilds measured (started again for the questions)
    server.stop(home)
    try:
        result, snapshot_ids = _versions_rebuilds(config, folders, workdir, versions_home)
        _say("as-of questions, both layouts side by side")
        server.start(home)
        server.start(versions_home)
        snapshots_conn, versions_conn = home_connection(home), home_connection(versions_home)
        database = snapshots_conn.database
        with (
            open_driver(snapshots_conn) as snapshots_driver,
            open_driver(versions_conn) as versions_driver,
        ):
            drivers = {"snapshots": snapshots_driver, "versions": versions_driver}
            timed = timed_questions(drivers, database, snapshot_ids, repeats)
            # what each server says it holds: the questions went to the right graph
            asked = {name: recorded_layout(d, database).value for name, d in drivers.items()}
        result["store_bytes"] = store_bytes(versions_home, versions_conn.database)
    finally:
        server.stop(versions_home)
    snapshots_layout["asof"], snapshots_layout["asof_median_seconds"] = timed["snapshots"]
    snapshots_layout["asof_graph_layout"] = asked["snapshots"]
    snapshots_layout["asof_repeats"] = repeats
    result["asof"], result["asof_median_seconds"] = timed["versions"]
    result["asof_graph_layout"] = asked["versions"]
    result["asof_repeats"] = repeats
    return result


def _versions_rebuilds(
    config: BenchConfig, folders: list[Path], workdir: Path, versions_home: server.Neo4jHome
) -> tuple[dict[str, Any], list[str]]:
    """The versions layout rebuilt from nothing (the first `config.snapshots` of `folders`)
    into `versions_home`, then the next night (all of `folders`, yesterday's work folder
    kept): their figures, and the ids of the snapshots the graph holds."""
    settings = _settings(config)
    csv_dir = workdir / "csv-versions"
    shutil.rmtree(csv_dir, ignore_errors=True)
    try:
        _say(f"versions layout: rebuild from nothing of {config.snapshots} snapshots")
        first = timed_transform(
            folders[: config.snapshots], csv_dir, config.workers, Layout.versions
        )
        first_import = bulk_import(csv_dir, versions_home, settings=settings)
        _say(f"  import {first_import.swap_mode}: {_phases(first_import.phases)}")
        _say(f"versions layout: nightly rebuild of {len(folders)} snapshots")
        night = timed_transform(folders, csv_dir, config.workers, Layout.versions)
        night_import = bulk_import(csv_dir, versions_home, settings=settings)
        _say(f"  import {night_import.swap_mode}: {_phases(night_import.phases)}")
    finally:
        shutil.rmtree(csv_dir, ignore_errors=True)
    result = {
        "records": night_import.nodes + night_import.relationships,
        "records_from_nothing": first_import.nodes + first_import.relationships,
        "transform_seconds": first["transform_seconds"],
        "transform_cpu_seconds": first["cpu_seconds"],
        "transform_peak_rss_bytes": first["peak_rss_bytes"],
        "link_and_manifest_seconds": first["link_and_manifest_seconds"],
        "bulk_import_seconds": first_import.seconds,
        # where an import's time went, and how its store was swapped in (in place, or
        # staged beside a running server): the nightly's differ from the first's
        "bulk_import_phases": first_import.phases,
        "bulk_import_swap_mode": first_import.swap_mode,
        "rebuild_seconds": first["transform_seconds"] + first_import.seconds,
        "nightly_transform_seconds": night["transform_seconds"],
        "nightly_link_and_manifest_seconds": night["link_and_manifest_seconds"],
        "nightly_bulk_import_seconds": night_import.seconds,
        "nightly_bulk_import_phases": night_import.phases,
        "nightly_bulk_import_swap_mode": night_import.swap_mode,
        "nightly_seconds": night["transform_seconds"] + night_import.seconds,
        "nodes_per_label": night_import.nodes_per_label,
        "relationships_per_type": night_import.relationships_per_type,
    }
    return result, night_import.snapshots


def run_versions_only(config: BenchConfig) -> dict[str, Any]:
    """`--versions-only`: generate the estate, then the versions layout's rebuild from
    nothing, its nightly rebuild, its store and the as-of questions in it; issue #20's
    rebuild targets against them (set for `--snapshots 365` of 10,000 instances)."""
    with _bench_run(config, "versions-only") as (workdir, results, homes):
        steal = results["cpu_steal_percent"]
        folders = _generated(config, workdir, results)
        versions_home = _fresh_home(workdir / "neo4j-versions", _settings(config))
        homes.append(versions_home)
        ticks = cpu_ticks()
        versions, snapshot_ids = _versions_rebuilds(config, folders, workdir, versions_home)
        steal["rebuilds"] = steal_percent(ticks, cpu_ticks())
        results["load_average"]["rebuilds"] = load_average()
        _say("as-of questions")
        server.start(versions_home)
        conn = home_connection(versions_home)
        repeats = _repeats(config)
        with open_driver(conn) as driver:
            timed = timed_questions({"versions": driver}, conn.database, snapshot_ids, repeats)
            versions["asof_graph_layout"] = recorded_layout(driver, conn.database).value
        versions["asof"], versions["asof_median_seconds"] = timed["versions"]
        versions["asof_repeats"] = repeats
        versions["store_bytes"] = store_bytes(versions_home, conn.database)
        results["layouts"] = {"versions": versions}
        results["targets"] = rebuild_targets(versions)
    return results


def _generated(config: BenchConfig, workdir: Path, results: dict[str, Any]) -> list[Path]:
    """Step 0: M snapshots for the rebuild plus one for the next night, into `workdir`;
    what was made goes into `results["estate"]`."""
    spec = EstateSpec(
        instances=config.instances,
        snapshots=config.snapshots + 1,
        churn=config.churn,
        seed=config.seed,
    )
    _say(f"generating {spec.snapshots} snapshots of {spec.instances} instances")
    t0 = time.monotonic()
    ticks = cpu_ticks()
    summaries = generate(workdir / "snapshots", spec, jobs=config.jobs, force=True)
    results["cpu_steal_percent"]["generate"] = steal_percent(ticks, cpu_ticks())
    results["estate"] = {
        "instances": config.instances,
        "snapshots": config.snapshots,
        "generated": len(summaries),
        "generate_seconds": time.monotonic() - t0,
        "input_bytes": sum(s.bytes for s in summaries[: config.snapshots]),
    }
    return [Path(s.folder) for s in summaries]


def format_versions_only(r: dict[str, Any]) -> str:
    """The table `--versions-only` prints."""
    v, e = r["layouts"]["versions"], r["estate"]
    lines = [
        f"versions layout only: {e['snapshots']} snapshots (+1 for the nightly) x "
        f"{e['instances']:,} instances",
        f"  records                {v['records']:>14,}",
        f"  store on disk MB       {v['store_bytes'] / MB:>14,.1f}",
        f"  rebuild from nothing s {v['rebuild_seconds']:>14,.1f}"
        f"   (transform {v['transform_seconds']:.1f}, import {v['bulk_import_seconds']:.1f})",
        f"  nightly rebuild s      {v['nightly_seconds']:>14,.1f}"
        f"   (transform {v['nightly_transform_seconds']:.1f}, "
        f"import {v['nightly_bulk_import_seconds']:.1f})",
        f"  as-of question ms      {v['asof_median_seconds'] * 1000:>14,.1f}   (median)",
    ]
    met = ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in r["targets"].items())
    lines.append(f"  targets (issue #20 sets them for 365 x 10,000): {met}")
    return "\n".join(lines)


def _repeats(config: BenchConfig) -> int:
    """How often each as-of question is timed after its warm-up."""
    return QUICK_REPEATS if config.quick else REPEATS


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in phases.items())


def _fresh_home(root: Path, settings: Settings) -> server.Neo4jHome:
    """An empty instance: a kept work folder may hold the graph of an earlier run."""
    if root.exists():
        server.stop(server.Neo4jHome(root))
        shutil.rmtree(root)
    return server.install(root, settings=settings)


def write_results(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "bench.json"
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    png_path = write_chart(results, out / "bench.png")
    (out / "bench.md").write_text(format_markdown(results), encoding="utf-8")
    return json_path, png_path


def write_versions_only(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "versions-only.json"
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _series(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,10,30,90: {text}") from exc


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench",
        description=(
            "Benchmark the bulk path (transform + neo4j-admin import) against transactional "
            "UNWIND/MERGE loading, on a generated estate, with a Neo4j of its own in the work "
            "folder. Prints a table; writes bench.json and bench.png into --out."
        ),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small data (4 snapshots x 300 instances): minutes, mostly Neo4j start-ups",
    )
    p.add_argument("--instances", type=int, help="instances of the estate (10000)")
    p.add_argument("--snapshots", type=int, help="snapshots rebuilt (90)")
    p.add_argument("--series", type=_series, help="transform scaling points (1,10,30,90)")
    p.add_argument(
        "--baseline-snapshots",
        type=int,
        help="snapshots loaded by the slow baseline (5); per-record ratios use the rate of "
        "all but the first, which pays the server's warm-up",
    )
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"), help="results folder")
    p.add_argument("--workdir", type=Path, help="work folder (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--workers", type=int, help="transform worker processes (CPU count)")
    p.add_argument("--heap", help="heap of the bench Neo4j (4g; quick: 1g)")
    p.add_argument("--pagecache", help="page cache of the bench Neo4j (4g; quick: 512m)")
    p.add_argument("--import-memory", help="neo4j-admin import memory (4g; quick: 1g)")
    p.add_argument("--seed", type=int, default=0, help="estate seed (0)")
    p.add_argument("--json", action="store_true", help="print the results JSON, not the table")
    p.add_argument(
        "--versions-only",
        action="store_true",
        help="measure the versions layout alone: its rebuild from nothing, its nightly "
        "rebuild, its store and as-of questions (for a year: --snapshots 365); writes "
        "versions-only.json",
    )
    p.add_argument(
        "--aws-config-mb",
        type=float,
        default=0,
        help="also measure the memory of `snapshots from-config` over one AWS Config "
        "snapshot file of this many MB of JSON (off by default)",
    )
    return p


def config_from_args(args: argparse.Namespace, command: str = "") -> BenchConfig:
    config = BenchConfig(
        out=args.out,
        workdir=args.workdir,
        keep=args.keep,
        seed=args.seed,
        aws_config_mb=args.aws_config_mb,
        versions_only=args.versions_only,
    )
    config.command = command
    if args.quick:
        config.quick = True
        for name, number in QUICK_SIZES.items():
            setattr(config, name, number)
        config.series = list(QUICK_SERIES)
        for name, text in QUICK_MEMORY.items():
            setattr(config, name, text)
    for name in ("instances", "snapshots", "series", "baseline_snapshots", "workers"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    for name in ("heap", "pagecache", "import_memory"):
        value = getattr(args, name)
        if value:
            setattr(config, name, value)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    # the server's notices on the load queries (e.g. a property not yet in the graph)
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    config = config_from_args(args, command=" ".join(["scripts/bench", *argv]))
    try:
        if config.versions_only:
            results = run_versions_only(config)
            json_path = write_versions_only(results, config.out)
        else:
            results = run_bench(config)
            json_path, png_path = write_results(results, config.out)
    except BulkgraphError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    if args.json:
        print(json.dumps(results, indent=1, sort_keys=True))
    elif config.versions_only:
        print(format_versions_only(results))
        print(f"\nwrote {json_path}")
    else:
        print(format_table(results))
        print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
