"""The report's charts: plotly figures of the data, as `<div>`s for the page.

Plotly draws in the browser from its own JavaScript, which the page carries once, inline
(`plotly_js`): the report opens with no network, and a reader can hover a point for its
night and count, zoom into a month, and hide a series. A snapshot that did not collect a
label is a gap in its line with a grey band behind it; one that collected it in only some
accounts or regions is a hollow marker (its count is a lower bound). Never a zero.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from bulkgraph.report.coverage import Known
from bulkgraph.report.data import Estate, Exposure, NightChanges, Window
from bulkgraph.report.timeline import Timeline

#: plotly's options for every chart: no link to plotly's site, sized by the page
CONFIG = {"displaylogo": False, "responsive": True}
UNKNOWN_FILL = "rgba(120, 120, 120, 0.18)"
CHANGE_COLORS = {"added": "#2ca02c", "removed": "#d62728", "changed": "#ff7f0e"}
SYMBOLS = {Known.all: "circle", Known.part: "circle-open", Known.none: "x"}


def plotly_js() -> str:
    """plotly.js itself (~5 MB), for one inline `<script>` in the page."""
    return plotly.offline.get_plotlyjs()


def to_div(fig: go.Figure, chart_id: str) -> str:
    """The figure as a `<div>` and the script that draws it (plotly.js not included)."""
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id, config=CONFIG)
    return html


def _half_gaps(times: Sequence[dt.datetime]) -> list[tuple[dt.datetime, dt.datetime]]:
    """For each time, the span halfway to its neighbours (a band behind one snapshot)."""
    default = dt.timedelta(hours=12)
    spans = []
    for i, t in enumerate(times):
        left = (t - times[i - 1]) / 2 if i > 0 else default
        right = (times[i + 1] - t) / 2 if i + 1 < len(times) else default
        spans.append((t - left, t + right))
    return spans


def _unknown_label(fig: go.Figure, x: dt.datetime, xref: str, yref: str) -> None:
    """ "not collected", upright in the middle of a grey band."""
    fig.add_annotation(
        x=x,
        y=0.5,
        xref=xref,
        yref=yref,
        text="not collected",
        textangle=-90,
        showarrow=False,
        font={"size": 10, "color": "#666666"},
    )


def _layout(fig: go.Figure, height: int, **extra: object) -> None:
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        template="plotly_white",
        hovermode="closest",
        **extra,
    )


def estate_chart(win: Window, estate: Estate) -> go.Figure:
    """Small multiples: one panel per label, its count per snapshot."""
    times = [s.taken_at for s in win.snaps]
    spans = _half_gaps(times)
    cols = 3
    rows = max(1, math.ceil(len(estate.series) / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        subplot_titles=[s.label for s in estate.series],
        vertical_spacing=min(0.12, 0.5 / rows),
    )
    for i, series in enumerate(estate.series):
        row, col = i // cols + 1, i % cols + 1
        notes = [
            f"{s.snapshot_id}<br>{series.label}: "
            + ("not collected" if n is None else f"{n}")
            + (" (some accounts or regions not collected)" if k is Known.part else "")
            for s, n, k in zip(win.snaps, series.counts, series.known, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=times,
                y=series.counts,
                mode="lines+markers",
                name=series.label,
                connectgaps=False,
                marker={"symbol": [SYMBOLS[k] for k in series.known], "size": 7},
                hovertext=notes,
                hoverinfo="text",
                showlegend=False,
            ),
            row=row,
            col=col,
        )
        trace = fig.data[-1]
        for (x0, x1), k in zip(spans, series.known, strict=True):
            if k is Known.none:
                fig.add_vrect(x0=x0, x1=x1, fillcolor=UNKNOWN_FILL, line_width=0, row=row, col=col)
                _unknown_label(fig, x0 + (x1 - x0) / 2, trace.xaxis, f"{trace.yaxis} domain")
        fig.update_yaxes(rangemode="tozero", row=row, col=col)
    _layout(fig, height=max(300, 230 * rows))
    return fig


def nights_chart(win: Window, nights: list[NightChanges]) -> go.Figure:
    """Per night: resources added and changed above zero, removed below it. A night one of
    whose snapshots did not collect everything is hatched."""
    when = {s.snapshot_id: s.taken_at for s in win.snaps}
    times = [when[n.snapshot_id] for n in nights]
    hatch = ["/" if n.unknown else "" for n in nights]
    fig = go.Figure()
    for change in ("added", "changed", "removed"):
        sign = -1 if change == "removed" else 1
        text = [
            f"{n.previous} → {n.snapshot_id}<br>{n.counts[change]} {change}"
            + "".join(
                f"<br>  {label}: {per[change]}" for label, per in n.by_label.items() if per[change]
            )
            + (f"<br>not collected: {', '.join(n.unknown[:6])}" if n.unknown else "")
            for n in nights
        ]
        fig.add_trace(
            go.Bar(
                x=times,
                y=[sign * n.counts[change] for n in nights],
                name=change,
                marker={"color": CHANGE_COLORS[change], "pattern": {"shape": hatch}},
                hovertext=text,
                hoverinfo="text",
            )
        )
    _layout(fig, height=360, barmode="relative", yaxis_title="resources")
    return fig


def exposure_chart(win: Window, exposure: Exposure) -> go.Figure:
    times = [s.taken_at for s in win.snaps]
    fig = go.Figure()
    for line in exposure.lines:
        notes = [
            f"{s.snapshot_id}<br>{line.series.title}: "
            + ("not collected" if n is None else f"{n}")
            + (" (some accounts or regions not collected)" if k is Known.part else "")
            for s, n, k in zip(win.snaps, line.counts, line.known, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=times,
                y=line.counts,
                mode="lines+markers",
                name=f"{line.series.title} ({line.series.query})",
                connectgaps=False,
                marker={"symbol": [SYMBOLS[k] for k in line.known], "size": 8},
                hovertext=notes,
                hoverinfo="text",
            )
        )
    unknown = [
        span
        for span, i in zip(_half_gaps(times), range(len(times)), strict=True)
        if any(line.known[i] is Known.none for line in exposure.lines)
    ]
    for x0, x1 in unknown:
        fig.add_vrect(x0=x0, x1=x1, fillcolor=UNKNOWN_FILL, line_width=0)
        _unknown_label(fig, x0 + (x1 - x0) / 2, "x", "y domain")
    _layout(
        fig,
        height=360,
        yaxis_title="resources",
        yaxis_rangemode="tozero",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def timeline_chart(win: Window, tl: Timeline) -> go.Figure:
    """One row per thing the resource had (a security group, an address, a load balancer),
    a marker in each snapshot that had it; the first row says whether it was there."""
    times = [s.taken_at for s in win.snaps]
    presence_symbol = {"held": "circle", "absent": "line-ew-open", "unknown": "circle-open"}
    presence_color = {"held": "#1f77b4", "absent": "#d62728", "unknown": "#888888"}
    changed = {v.snapshot_id for v in tl.versions if v.changed}
    symbols = [
        "diamond" if s.snapshot_id in changed else presence_symbol[p]
        for s, p in zip(win.snaps, tl.presence, strict=True)
    ]
    texts = [
        f"{s.snapshot_id}: "
        + {"held": "present", "absent": "absent", "unknown": "not collected"}[p]
        + (" (changed)" if s.snapshot_id in changed else "")
        for s, p in zip(win.snaps, tl.presence, strict=True)
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=times,
            y=["in the snapshot"] * len(times),
            mode="markers",
            name="in the snapshot",
            marker={
                "symbol": symbols,
                "size": 11,
                "color": [presence_color[p] for p in tl.presence],
            },
            hovertext=texts,
            hoverinfo="text",
        )
    )
    # a row is drawn where the resource had the thing, with a gap where it had not
    held: dict[str, set[str]] = {}
    for version in tl.versions:
        things = (
            [f"group {g}" for g in version.security_groups]
            + [f"address {a}" for a in version.addresses]
            + [f"load balancer {lb}" for lb in version.load_balancers]
        )
        for thing in things:
            # plotly reads tags in hover texts and names: AWS names are shown, not read
            held.setdefault(html.escape(thing), set()).add(version.snapshot_id)
    for thing, snapshots in sorted(held.items()):
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[thing if s.snapshot_id in snapshots else None for s in win.snaps],
                mode="lines+markers",
                name=thing,
                connectgaps=False,
                marker={"size": 8},
                hovertext=[f"{s.snapshot_id}: {thing}" for s in win.snaps],
                hoverinfo="text",
                showlegend=False,
            )
        )
    _layout(
        fig,
        height=max(220, 80 + 34 * (len(held) + 1)),
        yaxis={"autorange": "reversed", "type": "category"},
        showlegend=False,
    )
    return fig
