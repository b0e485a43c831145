"""The report's parts without a server: what a snapshot knows, the charts of unknown counts,
the page (self-contained, values escaped), the time span. The report of a real graph, in a
real browser: tests/test_report_samples.py."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any

import pytest

from bulkgraph.errors import BulkgraphError, ExitCode
from bulkgraph.query.pack import load_pack
from bulkgraph.query.snapshots import SnapshotRef
from bulkgraph.report import charts, page
from bulkgraph.report.build import time_span
from bulkgraph.report.coverage import Known, SnapshotScope, covers
from bulkgraph.report.data import (
    EXPOSURE_SERIES,
    Estate,
    Exposure,
    ExposureEvent,
    ExposureLine,
    Findings,
    LabelSeries,
    NightChanges,
    Snap,
    Window,
    exposure_series,
)
from bulkgraph.report.parallel import ordered

A, R1, R2 = "111111111111", "us-east-1", "eu-west-1"
T0 = dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)


def snap(n: int, unknown: tuple[str, ...] = ()) -> Snap:
    sid = f"2026112{4 + n}T020000Z"
    ref = SnapshotRef(sid, T0 + dt.timedelta(days=n), "bulkgraph-snapshot/1")
    return Snap(ref, SnapshotScope(sid, unknown, ((A, R1), (A, R2))))


def test_covers_follows_the_snapshot_diff_rule() -> None:
    assert covers(["VPC/*/*"], "VPC", A, R1)
    assert covers([f"VPC/{A}/*"], "VPC", A, R2)
    assert covers([f"VPC/*/{R1}"], "VPC", A, R1)
    assert not covers([f"VPC/*/{R1}"], "VPC", A, R2)
    assert not covers([f"VPC/{A}/{R1}"], "Subnet", A, R1)


def test_a_label_unknown_everywhere_is_unknown_and_somewhere_partial() -> None:
    scope = SnapshotScope(
        "s", (f"VPC/{A}/{R1}", f"VPC/{A}/{R2}", f"Subnet/{A}/{R1}"), ((A, R1), (A, R2))
    )
    assert scope.known(["VPC"]) is Known.none  # every region it covers
    assert scope.known(["Subnet"]) is Known.part
    assert scope.known(["Instance"]) is Known.all
    assert scope.known(["Instance", "Subnet"]) is Known.part
    assert scope.known(["Subnet", "VPC"]) is Known.none
    assert SnapshotScope("s", ("VPC/*/*",)).known(["VPC"]) is Known.none
    assert scope.missing(["Subnet"]) == [f"Subnet/{A}/{R1}"]


def test_exposure_series_are_pack_queries_listing_resources() -> None:
    pack = load_pack()
    # until graph model 1.1's reachability queries are in the pack, open security groups
    assert [s.query for s in exposure_series(pack)] == [
        s.query for s in EXPOSURE_SERIES if s.query in pack
    ]
    assert "internet-exposed-instances" in [s.query for s in exposure_series(pack)]
    for series in exposure_series(pack):
        assert pack[series.query].is_alert  # alert queries return account, region, resource


def _window() -> Window:
    # the second snapshot did not collect VPCs at all, and subnets in one region only
    return Window(
        [snap(0), snap(1, (f"VPC/{A}/*", f"Subnet/{A}/{R1}")), snap(2)],
    )


def _estate(win: Window) -> Estate:
    return Estate(
        [s.snapshot_id for s in win.snaps],
        [
            LabelSeries("Subnet", [4, 2, 4], [Known.all, Known.part, Known.all]),
            LabelSeries("VPC", [2, None, 2], [Known.all, Known.none, Known.all]),
        ],
    )


def test_estate_chart_draws_unknown_as_a_gap_and_partial_as_hollow() -> None:
    win = _window()
    fig = charts.estate_chart(win, _estate(win))
    subnet, vpc = fig.data
    assert list(vpc.y) == [2, None, 2]  # a gap, not a zero
    assert vpc.connectgaps is False
    assert list(subnet.marker.symbol) == ["circle", "circle-open", "circle"]
    assert "not collected" in vpc.hovertext[1]
    # a grey band behind the snapshot that did not collect VPCs, on the VPC panel only
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(bands) == 1
    assert bands[0].xref == vpc.xaxis and bands[0].x0 < win.snaps[1].taken_at < bands[0].x1
    [label] = [a for a in fig.layout.annotations if a.text == "not collected"]
    assert (label.xref, label.yref) == (vpc.xaxis, f"{vpc.yaxis} domain")


def test_nights_chart_hatches_a_night_that_did_not_see_everything() -> None:
    win = _window()
    nights = [
        NightChanges(win.snaps[1].snapshot_id, win.snaps[0].snapshot_id,
                     {"added": 3, "removed": 2, "changed": 1}, {}, [f"VPC/{A}/*"]),
        NightChanges(win.snaps[2].snapshot_id, win.snaps[1].snapshot_id,
                     {"added": 0, "removed": 1, "changed": 5}, {}, []),
    ]  # fmt: skip
    fig = charts.nights_chart(win, nights)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["removed"].y) == [-2, -1]  # below zero
    assert list(by_name["added"].y) == [3, 0]
    assert list(by_name["added"].marker.pattern.shape) == ["/", ""]


def _exposure(win: Window, resource: str = "i-1") -> Exposure:
    series = EXPOSURE_SERIES[-1]
    row = {"account_id": A, "region": R1, "resource": resource, "ports": ["tcp/22"]}
    last = win.snaps[2]
    return Exposure(
        [s.snapshot_id for s in win.snaps],
        [ExposureLine(series, [1, None, 2], [Known.all, Known.none, Known.all])],
        [ExposureEvent(last.snapshot_id, last.taken_at, series.query, "exposed", row)],
    )


def test_exposure_chart_leaves_an_unknown_snapshot_out() -> None:
    win = _window()
    fig = charts.exposure_chart(win, _exposure(win))
    assert list(fig.data[0].y) == [1, None, 2]
    assert [s.type for s in fig.layout.shapes] == ["rect"]


def _render(win: Window, hostile: str) -> str:
    query = load_pack()["internet-exposed-instances"]
    row: dict[str, Any] = {
        "account_id": A,
        "region": R1,
        "resource": hostile,
        "ports": ["tcp/22", "tcp/443"],
    }
    findings = [Findings(query, {"snapshot_id": win.latest.snapshot_id}, list(row), [row])]
    estate, exposure = _estate(win), _exposure(win, hostile)
    divs = {
        "estate": charts.to_div(charts.estate_chart(win, estate), "chart-estate"),
        "exposure": charts.to_div(charts.exposure_chart(win, exposure), "chart-exposure"),
    }
    return page.render(
        page.PageData(
            win, estate, [], exposure, findings, None, divs, "/* plotly.js */",
            dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
    )  # fmt: skip


def test_page_is_self_contained_and_escapes_what_aws_returned() -> None:
    hostile = '<img src=x onerror="alert(1)">i-1'
    html = _render(_window(), hostile)
    assert hostile not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;i-1" in html
    # nothing fetched: no script, style sheet, font or image from elsewhere
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    assert html.count("/* plotly.js */") == 1
    # the finding's query, to re-run it: parameters and the Cypher itself
    assert ':param snapshot_id => "20261126T020000Z";' in html
    assert "MATCH (ip:IPRange {snapshot_id: $snapshot_id})" in html  # its first line
    assert '<td class="nw">tcp/22, tcp/443</td>' in html  # a list reads as words
    assert "unknown</td>" in html  # the VPC count of the snapshot that did not collect it


def test_time_span_takes_dates_as_whole_days() -> None:
    start, end = time_span("2026-11-25", "2026-11-26")
    assert start == dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=dt.UTC)
    _, end = time_span(None, "2026-11-26T02:00:00Z")
    assert end == dt.datetime(2026, 11, 26, 2, tzinfo=dt.UTC)
    assert time_span(None, None) == (None, None)
    with pytest.raises(BulkgraphError, match="--until 'soon'") as exc:
        time_span(None, "soon")
    assert exc.value.exit_code == ExitCode.USAGE
    with pytest.raises(BulkgraphError, match="is after"):
        time_span("2026-11-27", "2026-11-26")


def test_ordered_reads_keep_the_order_and_a_bounded_number_in_flight() -> None:
    lock = threading.Lock()
    running, most = 0, 0
    both = threading.Barrier(2, timeout=30)  # the first two only return once both run

    def slow(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if n < 2:
            both.wait()
        time.sleep(0.001 * (3 - n % 3))  # later items may finish first: the order is kept
        with lock:
            running -= 1
        return n * n

    assert list(ordered(slow, range(12), workers=3)) == [n * n for n in range(12)]
    assert 2 <= most <= 3
    assert list(ordered(lambda n: n * n, range(4), workers=1)) == [0, 1, 4, 9]


def test_ordered_reads_raise_the_first_error_where_its_answer_was() -> None:
    def fail_at_two(n: int) -> int:
        if n == 2:
            raise ValueError("two")
        return n

    seen: list[int] = []
    with pytest.raises(ValueError, match="two"):
        for n in ordered(fail_at_two, range(6), workers=2):
            seen.append(n)
    assert seen == [0, 1]
