"""The report's one HTML page, from the jinja2 template in `templates/` (package data).

Everything the page needs is inside it: plotly.js inline once in `<head>`, the charts' data
in their `<div>`s, styles in `<style>`, system fonts only. It opens from a file in a browser
with no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from bulkgraph import __version__
from bulkgraph.cli.output import cell_text
from bulkgraph.layout import Layout
from bulkgraph.query.asof import versions_text
from bulkgraph.report.data import Estate, Exposure, Findings, NightChanges, Window
from bulkgraph.report.timeline import Timeline

#: rows of one table shown in the page; a longer one says how many there are
MAX_ROWS = 1000


@dataclass
class PageData:
    win: Window
    estate: Estate
    nights: list[NightChanges]
    exposure: Exposure
    findings: list[Findings]
    timeline: Timeline | None
    charts: dict[str, str]  # chart name -> its <div> (charts.to_div)
    plotly_js: str
    generated: dt.datetime


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bulkgraph.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def text(value: Any) -> str:
    """A value in a table cell: as the CLI prints it (`cell_text`), except that a list of
    plain values reads as words (`tcp/22, tcp/443`), not JSON."""
    if isinstance(value, list | tuple) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(cell_text(v) for v in value)
    return cell_text(value)


def param_literal(value: Any) -> Markup:
    """A parameter as the value of a `:param` line a reader pastes into Neo4j Browser: a
    time (the versions layout's `as_of`) as `datetime(...)`, anything else as JSON (made
    safe for HTML the way jinja's `tojson` makes it)."""
    if isinstance(value, dt.datetime):
        return Markup('datetime("{}")').format(value.isoformat())
    return htmlsafe_json_dumps(value)


def _rows(columns: list[str], rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[text(row.get(c)) for c in columns] for row in rows[:MAX_ROWS]]


def render(data: PageData) -> str:
    win = data.win
    snapshots = [
        {
            "snapshot_id": s.snapshot_id,
            "taken_at": _when(s.taken_at),
            "source": s.ref.source,
            "unknown": list(s.ref.unknown),
        }
        for s in win.snaps
    ]
    events = data.exposure.events
    event_columns = ["when", "snapshot", "query", "change", "account", "region", "resource"]
    detail_columns = sorted(
        {k for e in events for k in e.row if k not in ("account_id", "region", "resource")}
    )
    event_rows = [
        [
            _when(e.taken_at),
            e.snapshot_id,
            e.query,
            e.change,
            *(text(e.row.get(c)) for c in ("account_id", "region", "resource")),
            *(text(e.row.get(c)) for c in detail_columns),
        ]
        for e in events[:MAX_ROWS]
    ]
    findings = [
        {
            "query": f.query,
            "params": {k: param_literal(v) for k, v in f.params.items()},
            # what ran: on a versions graph, the query as of its snapshot's taken_at
            "text": f.query.text if win.layout is Layout.snapshots else versions_text(f.query),
            "columns": f.columns,
            "rows": f.rows,
            "cells": _rows(f.columns, f.rows),
        }
        for f in data.findings
    ]
    context: dict[str, Any] = {
        "title": "bulkgraph report",
        "version": __version__,
        "generated": _when(data.generated),
        "snapshots": snapshots,
        "first": snapshots[0],
        "last": snapshots[-1],
        "any_unknown": any(s.scope.unknown_labels for s in win.snaps),
        "estate": data.estate,
        "nights": data.nights,
        "exposure": data.exposure,
        "exposure_note": "" if len(data.exposure.lines) > 1 else _ONLY_GROUPS,
        "event_columns": event_columns + detail_columns,
        "event_rows": event_rows,
        "event_total": len(events),
        "findings": findings,
        "timeline": data.timeline,
        # plotly's own output and plotly.js: trusted, put in as they are
        "charts": {name: Markup(div) for name, div in data.charts.items()},
        "plotly_js": Markup(data.plotly_js),
    }
    if data.timeline is not None:
        context |= _timeline_context(win, data.timeline)
    return _environment().get_template("report.html.j2").render(context)


_ONLY_GROUPS = (
    "Security groups open to 0.0.0.0/0 or ::/0 say a resource is exposed in its "
    "configuration; whether the internet reaches it (addresses, routes, network ACLs) takes "
    "the reachability queries of graph model 1.1."
)


def _timeline_context(win: Window, tl: Timeline) -> dict[str, Any]:
    when = {s.snapshot_id: _when(s.taken_at) for s in win.snaps}
    change_rows = [
        [when[c.snapshot_id], c.snapshot_id, c.field, text(c.before), text(c.after)]
        for c in tl.changes
    ]
    by_id = {v.snapshot_id: v for v in tl.versions}
    version_rows = []
    for snap, presence in zip(win.snaps, tl.presence, strict=True):
        v = by_id.get(snap.snapshot_id)
        status = {"held": "present", "absent": "absent", "unknown": "not collected"}[presence]
        if v is not None and v.changed:
            status = "changed"
        version_rows.append(
            [
                when[snap.snapshot_id],
                snap.snapshot_id,
                status,
                ", ".join(v.addresses) if v else "",
                ", ".join(v.security_groups) if v else "",
                ", ".join(v.load_balancers) if v else "",
                ", ".join(v.tags) if v else "",
            ]
        )
    return {
        "change_columns": ["when", "snapshot", "field", "before", "after"],
        "change_rows": change_rows,
        "version_columns": [
            "when",
            "snapshot",
            "status",
            "addresses",
            "security groups",
            "load balancers",
            "tags",
        ],
        "version_rows": version_rows,
    }
