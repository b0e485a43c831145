"""`scripts/bench --quick` end to end: it runs and writes sane numbers (not that it is fast).

The bench installs and runs its own Neo4j in its work folder, so no fixture is needed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.baseline import BaselineResult, parse_field, read_part
from bench.bench import compared_rate, format_table
from bench.layouts import ASOF_QUERIES, compare
from bench.memory import PeakSampler, cpu_ticks, steal_percent, tree_pids
from bench.report import layout_lines
from bulkgraph.csvfolder import Manifest, read_manifest

ROOT = Path(__file__).resolve().parents[1]


def test_parse_field() -> None:
    assert parse_field("uid:ID") == ("uid", "string")
    assert parse_field(":START_ID") == ("start", "string")
    assert parse_field("launch_time:datetime") == ("launch_time", "datetime")
    assert parse_field("name") == ("name", "string")


def test_read_part_reads_the_csv_dialect(tmp_path: Path) -> None:
    part = tmp_path / "part.csv"
    # backslashes doubled, quotes doubled, "" = empty string, unquoted empty = absent
    part.write_text(
        '"a","","x\\\\y ""q""",true,5,2026-01-01T02:00:00+00:00\n"b",,"multi\nline",,,\n',
        encoding="utf-8",
    )
    df = read_part(part, ["uid:ID", "s", "t", "flag:boolean", "port:int", "at:datetime"])
    rows = df.to_dicts()
    assert rows[0]["uid"] == "a"
    assert rows[0]["s"] == ""
    assert rows[0]["t"] == 'x\\y "q"'
    assert rows[0]["flag"] is True
    assert rows[0]["port"] == 5
    assert rows[0]["at"].isoformat() == "2026-01-01T02:00:00+00:00"
    assert rows[1] == {
        "uid": "b",
        "s": None,
        "t": "multi\nline",
        "flag": None,
        "port": None,
        "at": None,
    }


def test_peak_sampler_sees_child_processes() -> None:
    code = "import time; b = bytearray(200 * 1024 * 1024); time.sleep(1.5)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    with PeakSampler(proc.pid, interval=0.05) as sampler:
        proc.wait()
    assert sampler.peak > 200 * 1024 * 1024
    assert sampler.samples > 3


def test_cpu_steal_share() -> None:
    steal, total = cpu_ticks()
    assert total > 0 and 0 <= steal <= total  # this machine has a /proc/stat
    assert steal_percent((10, 1000), (35, 1500)) == 5.0
    assert steal_percent((10, 1000), (10, 1000)) == 0.0


def test_tree_pids_finds_children() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        import os

        assert proc.pid in tree_pids(os.getpid())
    finally:
        proc.kill()
        proc.wait()


def _quick_bench(out: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`scripts/bench --quick` on a third of its estate (every stage still runs on thousands
    of records and churn; the run's time is mostly JVM start-ups either way), its work
    folder kept; asserts that it succeeded."""
    proc = subprocess.run(
        [
            str(ROOT / "scripts" / "bench"),
            "--quick",
            "--instances",
            "100",
            "--out",
            str(out),
            "--workdir",
            str(work),
            "--keep",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.neo4j
@pytest.mark.slow
def test_bench_quick_writes_sane_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    work = tmp_path / "work"
    proc = _quick_bench(out, work)
    assert "full rebuild" in proc.stdout

    check_results(out, work)


@pytest.mark.neo4j
@pytest.mark.slow
def test_bench_versions_only_measures_the_versions_layout_alone(tmp_path: Path) -> None:
    """`--versions-only` (issue #20's year: `--snapshots 365 --versions-only`): the estate,
    the versions layout rebuilt from nothing and the next night, its store and as-of
    questions; none of the full bench's stages, files or snapshots-layout graph."""
    out, work = tmp_path / "out", tmp_path / "work"
    proc = _quick_bench(out, work, "--versions-only", "--snapshots", "3", "--json")
    r = json.loads(proc.stdout)
    assert json.loads((out / "versions-only.json").read_text()) == r
    assert r["mode"] == "versions-only" and r["finished"] >= r["started"]
    assert r["machine"]["jvm_options"] == os.environ["BULKGRAPH_JVM_OPTIONS"]
    assert not (out / "bench.json").exists() and not (out / "bench.md").exists()
    # no snapshots-layout stages, no Neo4j of the snapshots layout
    for stage in ("collect", "series", "baseline", "import", "append", "report"):
        assert stage not in r
    assert set(r["layouts"]) == {"versions"}
    assert not (work / "neo4j").exists() and (work / "neo4j-versions").is_dir()
    assert r["estate"] == {**r["estate"], "snapshots": 3, "generated": 4, "instances": 100}

    v = r["layouts"]["versions"]
    assert v["records"] == sum(v["nodes_per_label"].values()) + sum(
        v["relationships_per_type"].values()
    )
    assert 0 < v["records_from_nothing"] <= v["records"]
    assert v["store_bytes"] > 0
    assert v["rebuild_seconds"] > v["bulk_import_seconds"] > 0
    assert v["nightly_seconds"] > v["nightly_bulk_import_seconds"] > 0
    assert v["bulk_import_swap_mode"] == "in_place"
    assert v["nightly_bulk_import_swap_mode"] == "staged"
    assert v["asof_graph_layout"] == "versions" and v["asof_repeats"] == 2
    assert set(v["asof"]) == set(ASOF_QUERIES)
    # asked as of the middle and the latest of the 4 nights the nightly graph holds
    latest = sorted(p.name for p in (work / "snapshots").iterdir())[-1]
    for per in v["asof"].values():
        assert latest in per and len(per) == 2
    assert any(s["rows"] for per in v["asof"].values() for s in per.values())
    assert r["targets"] == {
        "versions_rebuild_under_5_min": v["rebuild_seconds"] < 300,
        "versions_nightly_under_60_s": v["nightly_seconds"] < 60,
    }


def _rows_without(manifest: Manifest, snapshot_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """nodes per label, relationships per type of the manifest without one snapshot's parts."""
    nodes: dict[str, int] = {}
    rels: dict[str, int] = {}
    for group in manifest.groups:
        for part, rows in group.rows.items():
            if Path(part).name.startswith(snapshot_id):
                continue
            if group.kind == "nodes":
                assert group.label is not None
                nodes[group.label] = nodes.get(group.label, 0) + rows
            else:
                assert group.type is not None
                rels[group.type] = rels.get(group.type, 0) + rows
    return nodes, rels


def check_results(out: Path, work: Path) -> None:
    r = json.loads((out / "bench.json").read_text())
    assert r["mode"] == "full" and r["finished"] >= r["started"]
    # the JVM options the servers ran with (the tests' C1 only, tests/conftest.py)
    assert r["machine"]["jvm_options"] == os.environ["BULKGRAPH_JVM_OPTIONS"]
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| neo4j-admin import |" in (out / "bench.md").read_text()
    # the collection stage: `bulkgraph collect` of a region of the estate's size, from moto
    c = r["collect"]
    assert c["instances"] == r["config"]["instances"]
    assert c["seconds"] > 0
    assert c["seconds_per_1000_instances"] == pytest.approx(c["seconds"] * 1000 / c["instances"])
    assert f"| collect {c['instances']} instances from moto (" in (out / "bench.md").read_text()

    # the csv folder also holds the appended 5th snapshot by now: count without it
    manifest = read_manifest(work / "csv")
    fifth = r["append"]["snapshots"]
    assert len(fifth) == 1 and r["append"]["skipped"] == 4
    assert manifest.snapshots[-1].snapshot_id == fifth[0]
    nodes, rels = _rows_without(manifest, fifth[0])
    g = r["graph"]
    assert g["snapshots"] == 4
    assert g["nodes_per_label"] == nodes
    assert g["relationships_per_type"] == {k: v for k, v in rels.items() if v}
    assert g["nodes"] == sum(nodes.values()) > 0
    assert g["relationships"] == sum(rels.values()) > 0
    assert g["records"] == g["nodes"] + g["relationships"]
    assert r["import"]["nodes"] == g["nodes"]
    assert r["import"]["relationships"] == g["relationships"]
    appended = sum(
        rows
        for group in manifest.groups
        if group.type not in ("NEXT", "NEXT_VERSION")
        for part, rows in group.rows.items()
        if Path(part).name.startswith(fifth[0])
    )
    assert r["append"]["rows"] == appended > 0

    b = r["baseline"]
    assert len(b["snapshots"]) == 2
    assert b["transactions"] > 0
    assert b["found_nodes"] == b["expected_nodes"] == b["nodes"] > 0
    assert b["found_relationships"] == b["expected_relationships"] == b["relationships"] > 0
    # per snapshot, in load order; the ratios divide by the rate of all but the first
    assert [s["snapshot"] for s in b["per_snapshot"]] == b["snapshots"]
    assert sum(s["records"] for s in b["per_snapshot"]) == b["records"]
    assert all(s["seconds"] > 0 for s in b["per_snapshot"])
    second = b["per_snapshot"][1]
    assert b["warm_records_per_second"] == pytest.approx(second["records"] / second["seconds"])
    assert b["compared_records_per_second"] == b["warm_records_per_second"]
    assert r["speedup"]["import_vs_baseline"] == pytest.approx(
        r["import"]["records_per_second"] / b["warm_records_per_second"]
    )
    assert r["speedup_with_baseline_warm_up"]["rebuild_vs_baseline"] == pytest.approx(
        r["rebuild"]["records_per_second"] / b["records_per_second"]
    )

    assert [p["snapshots"] for p in r["series"]] == [1, 2, 4]
    assert r["series"][-1]["records"] == g["records"]
    for point in r["series"]:
        assert point["seconds"] > 0
        assert point["peak_rss_bytes"] > 10 * 1024 * 1024
        # CPU is of the coordinator and its workers, never more than the cores could give
        assert 0 < point["cpu_seconds"] <= point["seconds"] * (os.cpu_count() or 1) + 0.5
    # with workers (2+ snapshots) their CPU counts: each one starts an interpreter and
    # imports polars (~0.7 CPU s here), where the coordinator alone spends ~0.2 s
    assert r["transform"]["cpu_seconds"] == r["series"][-1]["cpu_seconds"] > 1.0
    # the importer's CPU, measured on its process: a JVM that imports thousands of records
    assert r["import"]["cpu_seconds"] > 2.0
    imp_phases = r["import"]["phases"]
    assert r["nightly_rebuild"]["import_cpu_seconds"] > 2.0
    assert r["targets"]["transform_cpu_over_import_cpu"] > 0
    # issue #21's ratio: the rebuild over neo4j-admin alone, the parts' joining apart
    assert imp_phases["join_parts"] > 0 and imp_phases["import"] > 0
    assert r["targets"]["rebuild_over_importer"] == pytest.approx(
        r["rebuild"]["seconds"] / imp_phases["import"], rel=1e-3
    )
    # and its floor: the same rebuild with the transform's time taken out
    neo4j_side = r["rebuild"]["seconds"] - r["transform"]["seconds"]
    assert 0 < neo4j_side < r["rebuild"]["seconds"]
    assert r["targets"]["rebuild_over_importer_without_transform"] == pytest.approx(
        neo4j_side / imp_phases["import"], rel=1e-3
    )
    assert r["targets"]["transform_seconds_left_for_1_5x"] == pytest.approx(
        1.5 * imp_phases["import"] - neo4j_side, abs=0.06
    )
    assert "  without the transform: " in (out / "bench.md").read_text()
    for rate in (
        r["transform"]["records_per_second"],
        r["import"]["records_per_second"],
        r["rebuild"]["records_per_second"],
        r["append"]["records_per_second"],
        b["records_per_second"],
    ):
        assert rate > 0
    assert r["rebuild"]["seconds"] > r["import"]["seconds"] > 0
    # the rebuild counts the whole bulk_import call, not only the phases it names
    imp = r["import"]
    assert imp["bulk_import_seconds"] >= sum(imp["phases"].values())
    assert r["rebuild"]["seconds"] == pytest.approx(
        r["transform"]["seconds"] + imp["bulk_import_seconds"]
    )
    # the bench stops the live server for the cold rebuild (checked in place) and keeps it
    # running for the nightly one (checked on staging, then swapped in)
    assert imp["swap_mode"] == "in_place"
    assert r["nightly_rebuild"]["swap_mode"] == "staged"
    # the next night: all 5 snapshots imported, the transform of only the new one counted
    nightly = r["nightly_rebuild"]
    assert nightly["snapshots"] == 5 and nightly["records"] > g["records"]
    assert nightly["transform_seconds"] == r["append"]["transform_seconds"]
    assert nightly["seconds"] > nightly["phases"]["import"] > 0
    assert set(r["targets"]) >= {"rebuild_under_5_min", "rebuild_20x_baseline"}
    steal = r["cpu_steal_percent"]
    assert set(steal) == {
        "generate",
        "transform_1",
        "transform_2",
        "transform_4",
        "baseline",
        "import",
        "append",
        "nightly_rebuild",
        "report",
        "whole_run",
    }
    assert all(0.0 <= v <= 100.0 for v in steal.values())
    # the report of the whole history, timed by phase, its page written in the work folder
    rep = r["report"]
    assert rep["snapshots"] == 5
    assert rep["charts"] == ["estate", "nights", "exposure"]
    assert set(rep["phases"]) == {"read", "draw", "write"}
    assert rep["seconds"] >= sum(rep["phases"].values()) - 0.01 > 0
    page = work / "report" / "index.html"
    assert rep["bytes"] == page.stat().st_size > 1_000_000  # plotly.js is inside
    assert "| report (5 snapshots, HTML) |" in (out / "bench.md").read_text()

    # the two layouts side by side on the same estate (bench/layouts.py, issue #20)
    lay = r["layouts"]
    snap, ver = lay["snapshots"], lay["versions"]
    assert snap["records"] == nightly["records"]
    assert 0 < ver["records"] < snap["records"]  # history by change
    assert 0 < ver["records_from_nothing"] <= ver["records"]
    assert snap["store_bytes"] > 0 and ver["store_bytes"] > 0
    assert ver["rebuild_seconds"] > ver["bulk_import_seconds"] > 0
    assert ver["nightly_seconds"] > ver["nightly_bulk_import_seconds"] > 0
    # the first import swaps in place (server stopped), the nightly beside the running one
    assert ver["bulk_import_swap_mode"] == "in_place"
    assert ver["nightly_bulk_import_swap_mode"] == "staged"
    for phases in (ver["bulk_import_phases"], ver["nightly_bulk_import_phases"]):
        assert {"import", "post_load", "verify", "swap"} <= set(phases)
        assert sum(phases.values()) > 0
    for name, layout in (("snapshots", snap), ("versions", ver)):
        assert set(layout["asof"]) == set(ASOF_QUERIES)
        assert layout["asof_median_seconds"] > 0
        # timed side by side, each layout's questions on its own server and graph
        assert layout["asof_graph_layout"] == name
        # the quick run times each question twice after its warm-up, not five times
        assert layout["asof_repeats"] == 2
    # the questions find something, and the same number of rows in both layouts
    assert any(s["rows"] for per in ver["asof"].values() for s in per.values())
    assert lay["comparison"]["asof_same_row_counts"]
    assert lay["comparison"]["records_ratio"] == pytest.approx(
        ver["records"] / snap["records"], abs=1e-4
    )
    assert set(lay["comparison"]["asof_latency_ratio_per_question"]) == set(snap["asof"])
    assert "layouts:" in (out / "bench.md").read_text()


def test_as_of_no_slower_holds_for_each_question() -> None:
    def layout(
        seconds: dict[str, float], fastest: dict[str, float] | None = None
    ) -> dict[str, Any]:
        fastest = fastest or {q: t / 2 for q, t in seconds.items()}
        asof = {
            q: {"s1": {"median_seconds": t, "fastest_seconds": fastest[q], "rows": 1}}
            for q, t in seconds.items()
        }
        median = statistics.median(seconds.values())
        return {"records": 10, "store_bytes": 1, "rebuild_seconds": 1, "nightly_seconds": 1,
                "asof": asof, "asof_median_seconds": median}  # fmt: skip

    snapshots = layout({"a": 1.0, "b": 1.0, "c": 1.0})
    # two questions faster, one twice as slow: the median says faster, the target says no
    mixed = compare(snapshots, layout({"a": 0.5, "b": 0.8, "c": 2.0}))
    assert mixed["asof_latency_ratio"] == 0.8
    assert mixed["asof_latency_ratio_per_question"] == {"a": 0.5, "b": 0.8, "c": 2.0}
    assert mixed["targets"]["asof_no_slower"] is False
    # the fastest runs are compared too, and reported beside the medians
    slower = layout({"a": 0.5, "b": 0.8, "c": 3.0}, fastest={"a": 0.5, "b": 0.4, "c": 0.6})
    fast = compare(snapshots, slower)  # the snapshots layout's fastest runs: 0.5 each
    assert fast["asof_fastest_ratio_per_question"] == {"a": 1.0, "b": 0.8, "c": 1.2}
    assert fast["asof_latency_ratio_per_question"]["c"] == 3.0
    table = layout_lines({"snapshots": snapshots, "versions": slower, "comparison": fast})
    assert any(line.strip().startswith("c") and "(fastest runs: 1.200)" in line for line in table)
    assert compare(snapshots, layout({"a": 0.5, "b": 0.8, "c": 1.0}))["targets"]["asof_no_slower"]


def test_baseline_compares_the_rate_after_its_first_snapshot() -> None:
    result = BaselineResult(snapshots=["a", "b", "c"], batch=10)
    assert result.warm_records_per_second is None  # nothing loaded yet
    result.per_snapshot = [
        {"snapshot": "a", "records": 100, "seconds": 10.0},  # the cold server
        {"snapshot": "b", "records": 120, "seconds": 2.0},
        {"snapshot": "c", "records": 80, "seconds": 2.0},
    ]
    assert result.warm_records_per_second == 50.0
    result.per_snapshot = result.per_snapshot[:1]
    assert result.warm_records_per_second is None  # one snapshot: no warm rate

    assert compared_rate(7.0, None)["compared_records_per_second"] == 7.0
    assert compared_rate(7.0, 50.0)["compared_records_per_second"] == 50.0

    # the table shows both rates and both sets of ratios
    r = json.loads((ROOT / "docs" / "benchmarks" / "bench.json").read_text())
    r["baseline"]["per_snapshot"] = [
        {"snapshot": "a", "records": 200_000, "seconds": 20.0},
        {"snapshot": "b", "records": 200_000, "seconds": 8.0},
    ]
    r["baseline"]["warm_records_per_second"] = 25_000.0
    r["baseline"].update(compared_rate(10_000.0, 25_000.0))
    r["speedup_with_baseline_warm_up"] = dict(r["speedup"])
    table = format_table(r)
    assert "of which: 1st snapshot (warm-up)" in table
    assert "of which: the other 1 (compared)" in table
    assert "all but the first snapshot, 25,000 records/s" in table
    assert "the baseline with its warm-up" in table


def test_bad_arguments_exit_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.bench import main

    code = main(["--quick", "--baseline-snapshots", "9", "--workdir", str(tmp_path / "w")])
    assert code == 2
    assert "--baseline-snapshots must be between 1 and --snapshots" in capsys.readouterr().err
    assert not (tmp_path / "w" / "snapshots").exists()


def test_the_timed_transform_keeps_memory_as_the_command_does() -> None:
    """bench/timedtransform.py measures the transform as `bulkgraph` runs it: jemalloc told
    to keep its pages (workers.prepare_polars) before polars loads."""
    from bulkgraph.transform.workers import JEMALLOC_CONF

    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    code = (
        "import os, sys; import bench.timedtransform; "
        "assert 'polars' in sys.modules; print(os.environ.get('_RJEM_MALLOC_CONF', ''))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert JEMALLOC_CONF in proc.stdout


def test_bench_is_not_installed_and_imports_no_chart_library() -> None:
    """bench/ lives beside the package: nothing of it ships in bulkgraph, the runner loads
    matplotlib (a dev extra) only to draw, and the chart does not import the runner."""
    assert not (ROOT / "bulkgraph" / "bench").exists()
    code = (
        "import sys\n"
        "import bench.chart\n"
        "assert 'bench.bench' not in sys.modules, 'chart imports the runner'\n"
        "import bench.bench, bench.genestate\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported before drawing'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_aws_config_stage_writes_one_line_and_measures_a_run(tmp_path: Path) -> None:
    """The optional AWS Config stage (bench/configfile.py): a file of the size asked for, one
    JSON line, every item read back; the run over it writes its snapshot and is sampled."""
    import gzip

    from bench.configfile import measure, summary, write_large_snapshot
    from bulkgraph.extract.awsconfig.files import read_items
    from bulkgraph.extract.awsconfig.keys import parse_key

    path, items, size = write_large_snapshot(tmp_path / "c", 300_000)
    text = gzip.decompress(path.read_bytes())
    assert len(text) == size >= 300_000 and text.count(b"\n") == 0
    file = parse_key(path.relative_to(tmp_path).as_posix(), str(path))
    assert file is not None and sum(1 for _ in read_items(file)) == items
    result = measure(tmp_path / "m", 0.3)
    assert result["snapshots_written"] == 1 and result["problems"] == 0
    assert result["peak_rss_bytes"] > 0 and result["archive_bytes"] > 0
    assert "peak RSS" in summary(result)
