"""Read the graph, draw the charts, write the page: one report."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.query.snapshots import parse_time
from bulkgraph.report import charts, data, page
from bulkgraph.report.timeline import timeline

REPORT_FILE = "index.html"


@dataclass
class ReportSummary:
    out: Path  # the page
    snapshots: list[str]
    charts: list[str]
    findings: dict[str, int]  # alert query -> rows in the latest snapshot
    exposure_events: int
    resource: str | None = None
    layout: str = "snapshots"  # the graph's (bulkgraph/layout.py)
    bytes: int = 0
    #: seconds per phase: read (the graph), draw (the figures), write (the page)
    phases: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "snapshots": len(self.snapshots),
            "first": self.snapshots[0],
            "latest": self.snapshots[-1],
            "charts": self.charts,
            "findings": self.findings,
            "exposure_events": self.exposure_events,
            "resource": self.resource,
            "layout": self.layout,
            "bytes": self.bytes,
            "phases": self.phases,
            "seconds": round(sum(self.phases.values()), 3),
        }


def time_span(
    since: str | None, until: str | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`--since` and `--until` as times; a date alone means its whole day (`--until
    2026-11-27` includes that day's snapshots)."""
    start = parse_time(since, "--since") if since else None
    end = None
    if until:
        end = parse_time(until, "--until")
        if "T" not in until.upper() and " " not in until.strip():
            end += dt.timedelta(days=1, microseconds=-1)
    if start and end and start > end:
        raise BulkgraphError(f"--since {since} is after --until {until}", ExitCode.USAGE)
    return start, end


def build_report(
    driver: neo4j.Driver,
    out_dir: Path,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    resource: str | None = None,
    database: str | None = None,
) -> ReportSummary:
    """Write `out_dir/index.html` for the snapshots taken in [since, until] (default: all),
    with `resource`'s timeline when one is named."""
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    win = data.window(driver, since, until, database)
    estate = data.estate(driver, win, database)
    nights = data.nights(driver, win, database)
    exposure = data.exposure(driver, win, database)
    findings = data.findings(driver, win.latest, database, win.layout)
    tl = timeline(driver, win, resource, database) if resource else None
    phases["read"] = time.monotonic() - t0

    t0 = time.monotonic()
    figures = {"estate": charts.estate_chart(win, estate)}
    if nights:
        figures["nights"] = charts.nights_chart(win, nights)
    figures["exposure"] = charts.exposure_chart(win, exposure)
    if tl is not None:
        figures["resource"] = charts.timeline_chart(win, tl)
    divs = {name: charts.to_div(fig, f"chart-{name}") for name, fig in figures.items()}
    phases["draw"] = time.monotonic() - t0

    t0 = time.monotonic()
    html = page.render(
        page.PageData(
            win,
            estate,
            nights,
            exposure,
            findings,
            tl,
            divs,
            charts.plotly_js(),
            dt.datetime.now(dt.UTC),
        )
    )
    out = out_dir / REPORT_FILE
    _write(out, html)
    phases["write"] = time.monotonic() - t0
    return ReportSummary(
        out=out,
        snapshots=[s.snapshot_id for s in win.snaps],
        charts=list(divs),
        findings={f.query.name: len(f.rows) for f in findings},
        exposure_events=len(exposure.events),
        resource=resource,
        layout=win.layout.value,
        bytes=out.stat().st_size,
        phases={k: round(v, 3) for k, v in phases.items()},
    )


def _write(out: Path, text: str) -> None:
    """Whole or not at all: a reader never opens half a page."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=out.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BulkgraphError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
