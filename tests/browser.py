"""A real headless browser for the report's tests: Debian's chromium, driven by playwright.

Playwright's own browsers are never downloaded (`playwright install` is not used): the
system's chromium is launched by its path. `scripts/test` installs it when missing
(`scripts/_browser.sh`). Without it a test skips, saying why, except under CI, where the
scripts must have installed it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("BULKGRAPH_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: each chart of the page as plotly left it: its SVG, traces, drawn points and y values
_CHARTS = """
() => Array.from(document.querySelectorAll('[data-chart]')).map(box => {
  const plot = box.querySelector('.js-plotly-plot');
  const data = plot && plot.data ? plot.data : [];
  return {
    name: box.dataset.chart,
    svg: box.querySelectorAll('.main-svg').length,
    drawn: !!(plot && plot._fullLayout),
    traces: data.length,
    points: box.querySelectorAll('.point, path.js-line').length,  // bars are g.point
    names: data.map(t => t.name || ''),
    ys: data.map(t => Array.from(t.y || []).map(v => (v === undefined ? null : v))),
  };
})
"""


@dataclass
class Visit:
    """What opening a page showed."""

    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    blocked: list[str] = field(default_factory=list)  # those not file: or data:, refused
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""  # the page's visible text


def need_browser() -> None:
    problem = None
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} missing: scripts/test installs it (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: install bulkgraph with [dev]"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def visit(page_file: Path, screenshots: dict[Path, int | None] | None = None) -> Visit:
    """Open a file in headless chromium, wait for the charts, and note what it did.

    `screenshots`: where to save one and how much of the page's height (None: all of it).
    """
    from playwright.sync_api import Route, sync_playwright

    seen = Visit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: seen.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: seen.errors.append(f"uncaught: {e}"))

            def route(r: Route) -> None:
                url = r.request.url
                seen.requests.append(url)
                if url.startswith(("file:", "data:")):
                    r.continue_()
                else:  # nothing may leave the machine: refuse, and fail the test
                    seen.blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            expected = page.locator("[data-chart]").count()
            page.wait_for_function(
                f"document.querySelectorAll('[data-chart] .main-svg').length >= {expected}",
                timeout=60_000,
            )
            seen.charts = {c["name"]: c for c in page.evaluate(_CHARTS)}
            seen.text = page.inner_text("body")
            for path, height in (screenshots or {}).items():
                path.parent.mkdir(parents=True, exist_ok=True)
                if height is None:
                    page.screenshot(path=str(path), full_page=True)
                else:
                    page.set_viewport_size({"width": 1280, "height": height})
                    page.screenshot(path=str(path))
        finally:
            browser.close()
    return seen
