"""Looking at an HTML report in a real browser: Playwright drives Debian's chromium (no browser is downloaded),
screenshots the page at given widths and measures every chart and table against its card.

Skips without the ``playwright`` package or a chromium binary (``MARKETLOOP_CHROMIUM``, default
/usr/bin/chromium), unless ``MARKETLOOP_REQUIRE_BROWSER=1``, which turns a missing browser into a failure.
Screenshots go to ``MARKETLOOP_SCREENSHOTS`` when set, else to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MARKETLOOP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

#: per chart: its box, canvas and card; whether it drew anything; the label axis' first and last label
MEASURE = """() => {
  const rect = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width, height: r.height}; };
  const charts = [...document.querySelectorAll("figure.chart")].map((fig) => {
    const canvas = fig.querySelector("canvas");
    const chart = canvas && window.Chart ? window.Chart.getChart(canvas) : null;
    let painted = 0;
    if (canvas) {
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4 * 97) if (data[i] > 0) painted++;
    }
    const axis = chart ? chart.scales[chart.options.indexAxis === "y" ? "y" : "x"] : null;
    return {
      title: fig.querySelector("h3").textContent,
      figure: rect(fig), box: canvas ? rect(canvas.parentElement) : null, canvas: canvas ? rect(canvas) : null,
      card: rect(fig.closest("section")), painted,
      labels: chart ? chart.data.labels.length : 0,
      shownFirst: axis ? axis.getLabelForValue(axis.min) : null, shownLast: axis ? axis.getLabelForValue(axis.max) : null,
      first: chart ? chart.data.labels[0] : null, last: chart ? chart.data.labels[chart.data.labels.length - 1] : null,
    };
  });
  const tables = [...document.querySelectorAll(".table-wrap")].filter((w) => w.offsetParent !== null)
    .map((w) => ({wrap: rect(w), card: rect(w.closest("section"))}));
  const zh = [...document.querySelectorAll('[lang="zh"]')].map((el) => getComputedStyle(el).fontFamily);
  return {charts, tables, zh, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          chartJs: typeof window.Chart === "function"};
}"""


def need_browser():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, why = None, "the playwright package is not installed (pip install -e '.[dev]')"
    if why is None and not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        why = f"no chromium at {CHROMIUM} (apt-get install chromium, or set MARKETLOOP_CHROMIUM)"
    if why is not None:
        if os.environ.get("MARKETLOOP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (MARKETLOOP_REQUIRE_BROWSER=1) but {why}")
        pytest.skip(why)
    return sync_playwright


def look(report: Path, widths: tuple[int, ...], shots: Path, name: str) -> dict[int, dict]:
    """Open ``report`` at each width, screenshot it (full page) into ``shots`` and return the measurements.
    The page may load nothing but itself: any request to another address fails the test (offline, one file)."""
    sync_playwright = need_browser()
    shots.mkdir(parents=True, exist_ok=True)
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": 900})
                requests: list[str] = []
                errors: list[str] = []
                page.on(
                    "request", lambda r, seen=requests: seen.append(r.url) if not r.url.startswith("file:") else None
                )
                page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
                page.goto(report.resolve().as_uri())
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)  # Chart.js resizes on the next animation frame
                out[width] = page.evaluate(MEASURE) | {"requests": requests, "errors": errors}
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    print(f"report screenshots: {shots}")
    return out


def assert_fits(measured: dict, width: int) -> None:
    """Every chart drew, fills its box and stays inside its card; tables stay inside their cards; no page
    scrolls sideways; nothing was fetched from the network."""
    assert measured["requests"] == [] and measured["errors"] == [], (measured["requests"], measured["errors"])
    assert measured["scrollWidth"] <= measured["innerWidth"], f"the page scrolls sideways at {width} px"
    for c in measured["charts"]:
        where = f"{c['title']!r} at {width} px"
        if not measured["chartJs"]:
            continue
        assert c["painted"] > 20, f"{where}: nothing was drawn"
        box, canvas, card, fig = c["box"], c["canvas"], c["card"], c["figure"]
        assert abs(canvas["width"] - box["width"]) <= 2, (
            f"{where}: drawn {canvas['width']} px in a {box['width']} px box"
        )
        assert fig["left"] >= card["left"] - 0.5 and fig["right"] <= card["right"] + 0.5, f"{where}: outside its card"
        assert canvas["right"] <= fig["right"] + 0.5 and canvas["width"] > 0.8 * (fig["width"] - 26), where
        assert (c["shownFirst"], c["shownLast"]) == (c["first"], c["last"]), f"{where}: the axis is cut"
    for t in measured["tables"]:
        assert t["wrap"]["right"] <= t["card"]["right"] + 0.5, f"a table overflows its card at {width} px"
