"""The dashboard end to end in a real browser: Playwright drives Debian's chromium against a real uvicorn
server over a small simulated store (generated, loaded, analysed, recommendations trained), whose worker
delivers launched campaigns to the simulator.

It logs in, sees the overview charts, opens a customer, plans, approves and launches a campaign, and reads
its report; on the way it visits every other page. Each page is screenshotted (1366x768, full page) to
a folder printed at the end: ``MARKETLOOP_SCREENSHOTS`` when set, else pytest's temporary folder.

Skips without the ``playwright`` package or a chromium binary (``MARKETLOOP_CHROMIUM``, default
/usr/bin/chromium), unless ``MARKETLOOP_REQUIRE_BROWSER=1`` (CI), which turns a missing browser into a
failure. No browser is downloaded: Playwright only drives the system's chromium. The page may fetch
nothing but this server: any other request fails the test (charts are served from the package, no CDN).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from marketloop.service.dashboard import CHART_FILE
from tests.report.browser import need_browser

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("MARKETLOOP_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("MARKETLOOP_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 20_000


_need_browser = need_browser


# --------------------------------------------------------------------------------------- the store
@dataclass
class Shop:
    root: Path
    db_url: str
    sim_dir: Path
    models_dir: Path
    keys: dict[str, str] = field(default_factory=dict)
    buyer: str = ""  # a customer with orders


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A simulated store, as `marketloop sim generate` + `sim load` + `analyze` + `recs train` make it."""
    _need_browser()
    from marketloop.config import load_settings
    from marketloop.customers.profile import refresh_profiles
    from marketloop.recs.training import train_from_store
    from marketloop.service.keys import create_key
    from marketloop.sim.generate import generate_store
    from marketloop.store import open_store
    from marketloop.store.ingest import load_dataset

    root = tmp_path_factory.mktemp("dashboard-shop")
    manifest = generate_store(root / "sim", customers=900, products=60, days=300, seed=11)
    shop = Shop(root=root, db_url=f"duckdb:///{root / 'shop.duckdb'}", sim_dir=root / "sim", models_dir=root / "models")
    settings = load_settings(db_url=shop.db_url, secret_file=root / "pii.key", models_dir=shop.models_dir)
    with open_store(shop.db_url) as store:
        load_dataset(store, shop.sim_dir, manifest.files, settings=settings)
        refresh_profiles(store)
        train_from_store(store, shop.models_dir, model="als", encoder="hashing")
        _train_forecast(store)
        shop.buyer = str(
            store.read_sql("SELECT min(customer_id) AS c FROM orders WHERE customer_id IS NOT NULL")["c"][0]
        )
        for role in ("marketer", "analyst", "ingest"):
            shop.keys[role] = create_key(store, f"browser-{role}", role).token
    return shop


def _train_forecast(store) -> None:
    """A demand forecast and stock cover, as `marketloop forecast train` makes them (small and quick)."""
    from marketloop.forecast.data import read_sales
    from marketloop.forecast.inventory import save_cover, stock_cover
    from marketloop.forecast.model import DemandForecaster
    from marketloop.forecast.storage import save_run

    run = save_run(
        store, DemandForecaster(horizon=14, calibration_windows=1, n_estimators=30, n_jobs=1).fit(read_sales(store))
    )
    save_cover(store, stock_cover(store, run), run.run_id)


# -------------------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    app: object

    def require(self, *operations: str) -> None:
        """The API operations a page calls exist: a clear failure, rather than a page that cannot load."""
        paths = self.app.openapi().get("paths", {})
        missing = [op for op in operations if op.split(" ", 1)[0] not in paths.get(op.split(" ", 1)[1], {})]
        assert not missing, "the dashboard calls API operations this server lacks: " + ", ".join(missing)


@contextmanager
def serving(settings) -> Iterator[Server]:
    """A real uvicorn server for these settings, in a thread, on a free port of 127.0.0.1."""
    import uvicorn

    from marketloop.service.app import create_app

    app = create_app(settings, background=True)
    port = _free_port()
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=uv.run, name="dashboard-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", app)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def server(shop: Shop) -> Iterator[Server]:
    from marketloop.config import load_settings

    settings = load_settings(
        db_url=shop.db_url,
        secret_file=shop.root / "pii.key",
        models_dir=shop.models_dir,
        session_secret_file=shop.root / "session.key",
        sim_dir=shop.sim_dir,
        worker_interval_s=0.2,
        cache_dir=shop.root / "cache",
    )
    with serving(settings) as server:
        yield server


# ------------------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Path]:
    folder = (
        Path(os.environ["MARKETLOOP_SCREENSHOTS"])
        if os.environ.get("MARKETLOOP_SCREENSHOTS")
        else tmp_path_factory.mktemp("dashboard-screenshots")
    )
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    line = f"dashboard screenshots: {folder} ({len(list(folder.glob('*.png')))} files)"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():  # shown even when the tests pass and output is captured
        reporter.write_line("")
        reporter.write_line(line)


@dataclass
class Browser:
    page: object
    base: str
    folder: Path
    keys: dict[str, str]
    problems: list[str]
    role: str | None = None

    def login(self, role: str) -> None:
        """Log in through the login page with a key of this role (unless already logged in with it)."""
        if self.role == role:
            return
        self.page.context.clear_cookies()
        self.go("/")
        self.page.fill("#api-key", self.keys[role])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/dashboard/")
        self.role = role

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> Path:
        """Screenshot the page (full length) and check its layout: the screenshot is evidence only when the
        elements in it have the sizes they should (see :data:`LAYOUT`)."""
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate("window.scrollTo(0, 0)")  # a sticky header would otherwise sit mid-picture
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        wrong = self.page.evaluate(LAYOUT)
        assert wrong == [], f"{name}: {wrong}"
        return path

    def settled(self) -> None:
        """The page's module ran: no loading indicator left."""
        self.page.wait_for_function("() => !document.querySelector('#app .loading')", timeout=TIMEOUT_MS)


#: What is wrong with the page's layout (an empty list when nothing is): the page scrolls sideways, a chart
#: is not drawn to its box or sticks out of its card, a card or table sticks out of the main column.
LAYOUT = """() => {
  const wrong = [];
  const r = (el) => el.getBoundingClientRect();
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    wrong.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  const main = r(document.getElementById("main"));
  for (const card of document.querySelectorAll("section.card")) {
    const c = r(card);
    if (c.right > main.right + 1 || c.left < main.left - 1) wrong.push(`card "${card.textContent.slice(0, 40)}" leaves the page`);
    for (const canvas of card.querySelectorAll("canvas")) {
      const k = r(canvas), box = r(canvas.parentElement);
      if (k.width < 100 || k.height < 80) wrong.push(`chart "${canvas.getAttribute("aria-label")}" is ${k.width}x${k.height} px`);
      if (Math.abs(k.width - box.width) > 2) wrong.push(`chart "${canvas.getAttribute("aria-label")}" drawn ${k.width} px in a ${box.width} px box`);
      if (k.right > c.right + 1 || k.left < c.left - 1) wrong.push(`chart "${canvas.getAttribute("aria-label")}" sticks out of its card`);
    }
    for (const table of card.querySelectorAll("table")) {
      let clip = table.parentElement;  // a table may be wider than its card only inside a scrolling wrapper
      while (clip && clip !== card && !["auto", "scroll", "hidden"].includes(getComputedStyle(clip).overflowX)) clip = clip.parentElement;
      const t = r(clip && clip !== card ? clip : table);
      if (t.right > c.right + 1 && table.offsetParent !== null) wrong.push(`a table sticks out of card "${card.textContent.slice(0, 40)}"`);
    }
  }
  return wrong;
}"""


@pytest.fixture(scope="module")
def browser(server: Server, shots: Path, shop: Shop) -> Iterator[Browser]:
    sync_playwright = _need_browser()
    pw = sync_playwright().start()
    chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def only_this_server(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":  # the test servers: no CDN, nothing outside
            route.continue_()
        else:
            problems.append(f"request outside the server: {route.request.url}")
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "status of 4" not in msg.text
            else None
        ),
    )
    try:
        yield Browser(page, server.url, shots, shop.keys, problems)
    finally:
        context.close()
        chromium.close()
        pw.stop()


@pytest.fixture
def ui(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The browser, checked after each test for script errors, CSP violations and outside requests; a
    failed test leaves a screenshot of where it stopped (FAILED-<test>.png)."""
    browser.problems.clear()
    failed_before = request.session.testsfailed
    yield browser
    if request.session.testsfailed > failed_before:  # the call phase's report is counted before teardown
        browser.page.screenshot(path=str(browser.folder / f"FAILED-{request.node.name}.png"), full_page=True)
    assert browser.problems == [], browser.problems


def _charts(page) -> list[dict]:
    """Each chart canvas on the page: its size and how many data points Chart.js drew."""
    return page.evaluate("""() => [...document.querySelectorAll('canvas')].map(c => {
        const chart = window.Chart && window.Chart.getChart(c);
        const values = chart ? chart.data.datasets.flatMap(d => d.data).filter(v => v !== null && v !== undefined) : [];
        return {label: c.getAttribute('aria-label'), width: c.width, height: c.height, points: values.length,
                positive: values.some(v => Array.isArray(v) ? v.some(x => x !== 0) : v !== 0)};
    })""")


# ------------------------------------------------------------------------------------------- tests
def test_pages_need_a_session_and_a_bad_key_is_refused(ui: Browser, shop: Shop) -> None:
    page = ui.page
    ui.go("/dashboard/customers")
    assert page.url.startswith(ui.base + "/?next=/dashboard/customers")
    page.fill("#api-key", "mlk_nothere_wrong")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "not valid" in page.inner_text("#login-error")
    page.fill("#api-key", shop.keys["ingest"])
    page.click("button[type=submit]")
    page.wait_for_function("() => /ingest key/.test(document.querySelector('#login-error').textContent)")
    ui.shot("01-login-refused")


def test_log_in_and_see_the_overview_charts(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    page = ui.page
    assert page.inner_text(".whoami").startswith("browser-marketer")
    server.require("get /v1/overview")
    ui.settled()
    tiles = page.locator(".kpi").all_inner_texts()
    for label in ("REVENUE", "ORDERS", "AVERAGE ORDER VALUE", "ACTIVE CUSTOMERS", "REPEAT RATE"):
        assert any(t.upper().startswith(label) for t in tiles), (label, tiles)
    if CHART_FILE.is_file():
        charts = _charts(page)
        assert len(charts) >= 3, charts
        for c in charts:
            assert c["width"] > 100 and c["height"] > 100 and c["points"] >= 3 and c["positive"], c
    else:  # without npm the page says how to get the charts and shows the same data as tables
        assert "make install" in page.inner_text(".notice-info")
        assert page.locator("details.chart-data[open] table").count() >= 1
    ui.shot("02-overview")


def test_without_chart_js_the_pages_show_tables_and_say_how_to_get_charts(
    ui: Browser, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a machine without npm: no chart script, the same data as open tables, and a note."""
    from marketloop.service import dashboard

    server.require("get /v1/overview")
    monkeypatch.setattr(dashboard, "CHART_FILE", Path("/nonexistent/chart.umd.js"))
    ui.login("marketer")
    ui.go("/dashboard/")
    ui.settled()
    page = ui.page
    assert page.locator("canvas").count() == 0
    assert "make install" in page.inner_text(".notice-info") and "npm" in page.inner_text(".notice-info")
    table = page.locator("details.chart-data[open] table").first
    assert table.locator("tbody tr").count() >= 3
    ui.shot("02b-overview-without-chart-js")


def test_segments_page(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    server.require("get /v1/segments")
    ui.go("/dashboard/segments")
    ui.settled()
    assert ui.page.locator("table tbody tr").count() >= 3
    if CHART_FILE.is_file():
        assert all(c["points"] > 0 for c in _charts(ui.page))
    ui.shot("03-segments")


def test_demand_and_stock_page(ui: Browser, server: Server) -> None:
    ui.login("analyst")
    server.require("get /v1/forecasts", "get /v1/forecasts/runs", "get /v1/inventory")
    ui.go("/dashboard/forecasts")
    ui.settled()
    page = ui.page
    text = page.inner_text("#app")
    assert "Units ahead" in text and "Stock against the forecast" in text, text
    assert page.locator(".notice-error").count() == 0
    if CHART_FILE.is_file():
        charts = _charts(page)
        assert charts and all(c["points"] > 0 for c in charts)
    # pick another category from the list: the chart follows
    link = page.locator("table a[href*='level=category']").nth(1)
    name = link.inner_text()
    link.click()
    ui.settled()
    assert name in page.inner_text("#app")
    ui.shot("03b-demand-and-stock")


def test_open_a_customer(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    server.require(
        "get /v1/customers", "get /v1/customers/{customer_id}", "get /v1/recommendations/for-you/{customer_id}"
    )
    page = ui.page
    ui.go("/dashboard/customers")
    ui.settled()
    page.wait_for_selector("table tbody tr")
    ui.shot("04-customers")
    # filter by lifecycle stage: every listed row then shows that stage
    page.select_option("select[name=lifecycle_stage]", "active")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*lifecycle_stage=active.*"))
    ui.settled()
    page.wait_for_selector("table tbody tr")
    stage_col = page.locator("table thead th").all_inner_texts().index("Stage")
    stages = page.locator(f"table tbody tr td:nth-child({stage_col + 1})").all_inner_texts()
    assert stages and set(stages) == {"active"}, stages
    first = page.locator("table tbody tr a").first
    customer_id = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r".*/dashboard/customers/.+"))
    ui.settled()
    page.wait_for_function("() => [...document.querySelectorAll('.card')].every(c => !c.querySelector('.loading'))")
    assert customer_id in page.inner_text("#page-title")
    assert page.locator(".kpi").count() >= 4
    assert page.locator(".page-header .badge", has_text="active").count() == 1  # the lifecycle stage
    recs = page.locator("section.card", has=page.locator("h2", has_text="Recommended for this customer"))
    names = recs.locator("tbody th").all_inner_texts()
    assert names and all(n and not n.startswith("P0") for n in names), names  # products by name, not by id
    ui.shot("05-customer")


def test_plan_approve_launch_and_read_the_report(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    server.require(
        "post /v1/campaigns",
        "get /v1/campaigns/{campaign_id}",
        "post /v1/campaigns/{campaign_id}/approve",
        "post /v1/campaigns/{campaign_id}/launch",
        "get /v1/campaigns/{campaign_id}/report",
    )
    page = ui.page
    ui.go("/dashboard/campaigns")
    ui.settled()
    page.click("text=New campaign")
    page.wait_for_url(ui.base + "/dashboard/campaigns/new")
    ui.settled()
    page.fill("#f-name", "Browser test: bring customers back")
    page.select_option("#f-objective", "conversions")
    page.fill("#f-margin_floor", "0")
    page.fill("#f-max_discount", "5")  # below the 10 % and 20 % levels ticked: the API refuses the goal
    page.click("button[type=submit]")
    page.wait_for_selector("#form-error .notice-error")
    assert "max_discount" in page.inner_text("#form-error")
    assert page.locator("[role=group][aria-invalid=true]").count() == 1  # the discount levels are marked
    ui.shot("06-campaign-new-refused")
    page.fill("#f-max_discount", "20")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/campaigns/(?!new).+"), timeout=60_000)
    ui.settled()
    assert "planned" in page.inner_text(".page-header .badge")
    assert page.locator("h2", has_text="Predicted effect").count() == 1
    assert page.locator(".rationale").inner_text().strip()
    ui.shot("07-campaign-planned")
    page.click("button:has-text('Approve the plan')")
    page.wait_for_selector(".page-header .badge:has-text('approved')")
    page.click("button:has-text('Launch')")
    page.wait_for_selector(".page-header .badge:has-text('running'), .page-header .badge:has-text('completed')")
    # the server's worker delivers to the simulator; the page polls until the messages are out
    page.wait_for_function(
        """() => {
        const tile = [...document.querySelectorAll('#results .kpi')].find(k => /^sent$/i.test(k.querySelector('.kpi-label').textContent));
        return tile && parseInt(tile.querySelector('.kpi-value').textContent.replace(/,/g, ''), 10) > 0;
    }""",
        timeout=60_000,
    )
    results = page.locator("#results")
    assert "Lift against the holdout" in results.inner_text()
    lift = results.locator(".kpi", has_text="Conversion rate").inner_text()
    assert re.search(r"[-+]?\d[\d.,]* pp\n?.*[-+]?\d[\d.,]* pp to [-+]?\d[\d.,]* pp", lift), (
        lift
    )  # estimate and interval
    assert results.locator("table").count() >= 1  # predicted against realised
    report = page.request.get(ui.base + results.locator(".report-link a").get_attribute("href"))  # the session's cookie
    assert report.status == 200 and report.headers["content-type"].startswith("text/html")
    # every status word is explained: the badge's tooltip, the sentence under it, the delivery legend
    status = page.locator(".page-header .badge").first
    assert "every message is done" in (status.get_attribute("title") or "") or "launched" in (
        status.get_attribute("title") or ""
    )
    assert page.locator(".status-meaning").inner_text().split(":")[0] in ("running", "completed")
    legend = page.locator("details.legend").first
    legend.locator("summary").click()
    assert "never messaged" in legend.inner_text() and "delivered to the channel" in legend.inner_text()
    contacted = results.locator(".kpi", has_text="Contacted").inner_text()
    assert "in the holdout (never messaged)" in contacted
    ui.shot("08-campaign-report")


def test_campaign_list_shows_the_campaign(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    server.require("get /v1/campaigns", "get /v1/campaigns/statuses")
    ui.go("/dashboard/campaigns")
    ui.settled()
    heads = ui.page.locator("table thead th").all_inner_texts()
    assert "Contacted" in heads and "Holdout" in heads
    assert "planned:" in (ui.page.locator("table tbody .badge").first.get_attribute("title") or "") or ui.page.locator(
        "table tbody .badge"
    ).first.get_attribute("title")
    assert ui.page.locator("details.legend summary", has_text="What the statuses mean").count() == 1
    ui.shot("09-campaigns")


def test_pages_fit_a_wide_screen(ui: Browser, server: Server) -> None:
    """At 1,920 px, as at 1,366: nothing scrolls sideways, every chart fills its box inside its card."""
    ui.login("marketer")
    ui.page.set_viewport_size({"width": 1920, "height": 1080})
    try:
        for path, name in (
            ("/dashboard/", "overview"),
            ("/dashboard/segments", "segments"),
            ("/dashboard/campaigns", "campaigns"),
        ):
            ui.go(path)
            ui.settled()
            ui.shot(f"10-{name}-1920")
    finally:
        ui.page.set_viewport_size(VIEWPORT)


def test_copy_preview_shows_guardrail_verdicts(ui: Browser, server: Server, shop: Shop) -> None:
    ui.login("marketer")
    server.require("post /v1/copy/preview")
    page = ui.page
    ui.go(f"/dashboard/copy?customer_id={shop.buyer}")  # the page previews at once for a given customer
    page.wait_for_selector("text=Guardrails on the text that would be sent")
    variants = page.locator("#app section.card", has=page.locator("h2", has_text="Variant"))
    assert variants.count() == 2 and page.locator(".copy-text").count() == 2
    for i in range(2):
        text = variants.nth(i).inner_text()
        assert re.search(r"\b(accepted|repaired|replaced|blocked)\b", text), text
        assert "Guardrails on the writer's text" in text
    ui.shot("10-copy-preview")
    page.fill("input[name=discount]", "150")  # not a percentage: the API says which field
    page.click("button:has-text('Preview')")
    page.wait_for_selector(".notice-error")
    assert "offer" in page.inner_text(".notice-error")
    assert page.get_attribute("input[name=discount]", "aria-invalid") == "true"


def test_reviews_and_assistant(ui: Browser, server: Server) -> None:
    ui.login("marketer")
    server.require("get /v1/reviews/insights", "post /v1/assistant/chat")
    page = ui.page
    ui.go("/dashboard/reviews")
    ui.settled()
    ui.shot("11-reviews")
    product = page.locator("table tbody th a").first
    if product.count():  # the store has reviews: open one product's insights
        name = product.inner_text()
        product.click()
        page.wait_for_function(
            "() => !document.querySelector('#app .loading') && document.querySelectorAll('#app .card h2').length"
        )
        assert name in page.locator("#app .card h2").all_inner_texts()
        ui.shot("11b-review-product")
    ui.go("/dashboard/assistant")
    page.fill("textarea[name=message]", "How long does delivery take?")
    page.click("button:has-text('Send')")
    page.wait_for_selector(".msg-bot .msg-meta")
    meta = page.inner_text(".msg-bot .msg-meta")
    assert "intent:" in meta and "sources:" in meta, meta
    ui.shot("12-assistant")


def test_read_only_key_sees_no_actions_and_logs_out(ui: Browser, server: Server) -> None:
    ui.login("analyst")
    page = ui.page
    assert "analyst" in page.inner_text(".role-badge").lower()
    server.require("get /v1/campaigns")
    ui.go("/dashboard/campaigns")
    ui.settled()
    assert page.locator("text=New campaign").count() == 0
    assert "needs a marketer or admin key" in page.inner_text("#app")
    page.click("#logout")
    page.wait_for_url(ui.base + "/")
    ui.role = None
    ui.go("/dashboard/")
    assert page.url.startswith(ui.base + "/?next=")


def test_an_empty_store_says_what_to_do_next(ui: Browser, tmp_path: Path) -> None:
    """A fresh store: every page answers with the command that fills it, not with an error or a blank."""
    from marketloop.config import load_settings
    from marketloop.service.keys import create_key
    from marketloop.store import open_store

    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    with open_store(url) as store:
        key = create_key(store, "browser-empty", "analyst").token
    settings = load_settings(
        db_url=url,
        secret_file=tmp_path / "pii.key",
        models_dir=tmp_path / "models",
        session_secret_file=tmp_path / "session.key",
        cache_dir=tmp_path / "cache",
    )
    with serving(settings) as empty:
        page, base, keys = ui.page, ui.base, ui.keys
        ui.base, ui.keys, ui.role = empty.url, {"analyst": key}, None
        try:
            ui.login("analyst")
            expected = {
                "/dashboard/": "No orders yet",
                "/dashboard/segments": "marketloop analyze",
                "/dashboard/customers": "marketloop analyze",
                "/dashboard/campaigns": "No campaigns yet",
                "/dashboard/reviews": "No review insights yet",
                "/dashboard/forecasts": "marketloop forecast train",
            }
            for path, text in expected.items():
                ui.go(path)
                ui.settled()
                assert text in page.inner_text("#app"), (path, page.inner_text("#app"))
                assert page.locator(".notice-error").count() == 0, path
                if path == "/dashboard/":
                    ui.shot("00-empty-store-overview")
        finally:
            ui.base, ui.keys, ui.role = base, keys, None
            page.context.clear_cookies()
