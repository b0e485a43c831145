"""The benchmark chart: where the time goes, per-record speed, and transform scaling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import MB, import_overhead


def write_chart(r: dict[str, Any], path: Path) -> Path:
    # imported here: matplotlib is a dev extra, and only drawing needs it
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in tests
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_rate, ax_scale) = plt.subplots(1, 3, figsize=(16, 5))
    g = r["graph"]
    fig.suptitle(
        f"bulkgraph benchmark: {r['estate']['snapshots']} snapshots x "
        f"{r['estate']['instances']:,} instances = {g['nodes']:,} nodes + "
        f"{g['relationships']:,} relationships"
    )

    phases = r["import"]["phases"]
    stages = [
        ("transform", r["transform"]["seconds"]),
        ("join parts", phases.get("join_parts", 0.0)),
        ("neo4j-admin import", phases.get("import", 0.0)),
        ("post-load", phases.get("post_load", 0.0)),
        ("verify", phases.get("verify", 0.0)),
        ("swap", phases.get("swap", 0.0)),
        ("staging set-up\n+ clean-up", import_overhead(r["import"])),
    ]
    names = [s for s, _ in stages][::-1]
    ax_time.barh(names, [v for _, v in stages][::-1], color="tab:blue")
    for i, (_, v) in enumerate(stages[::-1]):
        ax_time.text(v, i, f" {v:.1f}s", va="center")
    ax_time.set_xlabel("seconds")
    ax_time.set_title(f"full rebuild: {r['rebuild']['seconds']:.0f} s")
    ax_time.margins(x=0.25)

    rates = [
        ("baseline\nUNWIND/\nMERGE", r["baseline"]["compared_records_per_second"], "tab:red"),
        ("append\nLOAD CSV", r["append"]["records_per_second"], "tab:orange"),
        ("full\nrebuild\n(end to end)", r["rebuild"]["records_per_second"], "tab:green"),
        (
            "nightly\nrebuild\n(1 new)",
            r["nightly_rebuild"]["records_per_second"],
            "tab:olive",
        ),
        ("neo4j-admin\nimport\nonly", r["import"]["records_per_second"], "tab:blue"),
    ]
    ax_rate.bar([n for n, _, _ in rates], [v for _, v, _ in rates], color=[c for *_, c in rates])
    for i, (_, v, _) in enumerate(rates):
        ax_rate.text(i, v, f"{v:,.0f}", ha="center", va="bottom")
    ax_rate.tick_params(axis="x", labelsize=8)
    ax_rate.set_yscale("log")
    ax_rate.set_ylabel("graph records per second (log)")
    ax_rate.set_title(f"per record: rebuild {r['speedup']['rebuild_vs_baseline']:.1f}x baseline")

    series = r["series"]
    xs = [p["snapshots"] for p in series]
    ax_scale.plot(xs, [p["seconds"] for p in series], "o-", color="tab:blue", label="seconds")
    ax_scale.set_xlabel("snapshots transformed")
    ax_scale.set_ylabel("transform seconds", color="tab:blue")
    ax_mem = ax_scale.twinx()
    ax_mem.plot(
        xs, [p["peak_rss_bytes"] / MB for p in series], "s--", color="tab:purple", label="peak RSS"
    )
    ax_mem.set_ylabel("peak RSS of transform + workers (MB)", color="tab:purple")
    ax_mem.set_ylim(bottom=0)
    ax_scale.set_ylim(bottom=0)
    ax_scale.set_title("transform scaling")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
