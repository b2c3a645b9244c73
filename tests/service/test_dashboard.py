"""The dashboard without a browser: pages and static files are served, pages need a session whose key
may read, redirects stay on this site, and the pages carry a strict Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marketloop.service import dashboard
from marketloop.service.dashboard import CHART_FILE, PAGES, STATIC_DIR
from tests.service.conftest import assert_error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

# one concrete URL per page (path parameters filled in)
PAGE_URLS = [p.path.replace("{customer_id}", "C1").replace("{campaign_id}", "cmp-1") for p in PAGES]


def login(api, role: str = "marketer") -> None:
    assert api.client.post("/v1/session", json={"key": api.keys[role]}).status_code == 200


@pytest.mark.parametrize("url", PAGE_URLS)
def test_pages_redirect_to_the_login_page_without_a_session(api, url) -> None:
    r = api.client.get(url, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/?next=" + url


@pytest.mark.parametrize("url", PAGE_URLS)
def test_pages_are_served_with_a_session(api, url) -> None:
    login(api)
    r = api.client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = re.search(r'data-page="(\w+)"', r.text).group(1)
    assert f'<script type="module" src="/static/js/pages/{page}.js"></script>' in r.text
    assert (STATIC_DIR / "js" / "pages" / f"{page}.js").is_file()
    assert 'aria-current="page"' in r.text  # the nav marks where we are
    assert "test-marketer" in r.text and 'data-can-write="true"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


def test_an_api_key_header_is_not_a_dashboard_session(api) -> None:
    r = api.client.get("/dashboard/", headers=api.as_("admin"), follow_redirects=False)
    assert r.status_code == 303  # the pages need the cookie: their scripts call the API with it


def test_read_only_keys_see_no_write_actions(api) -> None:
    login(api, "analyst")
    r = api.client.get("/dashboard/campaigns")
    assert r.status_code == 200 and 'data-can-write="false"' in r.text and 'data-role="analyst"' in r.text


def test_an_ingest_key_cannot_open_the_dashboard(api) -> None:
    login(api, "ingest")
    r = api.client.get("/dashboard/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?next=/dashboard/&reason=role"
    page = api.client.get(r.headers["location"])
    assert "cannot view the dashboard" in page.text


def test_an_expired_or_forged_session_goes_back_to_login(api) -> None:
    api.client.cookies.set("ml_session", "abc.123.forged")
    r = api.client.get("/dashboard/segments", follow_redirects=False)
    assert r.headers["location"] == "/?next=/dashboard/segments&reason=expired"
    assert "Your session has ended" in api.client.get(r.headers["location"]).text


def test_login_page(api) -> None:
    r = api.client.get("/")
    assert r.status_code == 200
    assert '<label for="api-key">API key</label>' in r.text and 'type="password"' in r.text
    assert 'data-next="/dashboard/"' in r.text
    assert '<script type="module" src="/static/js/pages/login.js"></script>' in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_logged_in_visitors_skip_the_login_page(api) -> None:
    login(api)
    r = api.client.get("/?next=/dashboard/campaigns", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/campaigns"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/dashboard/\\\\evil", "/v1/me", "javascript:alert(1)"]
)
def test_next_never_leaves_the_dashboard(api, target) -> None:
    assert 'data-next="/dashboard/"' in api.client.get("/", params={"next": target}).text
    login(api)
    r = api.client.get("/", params={"next": target}, follow_redirects=False)
    assert r.headers["location"] == "/dashboard/"


def test_dashboard_without_slash_redirects(api) -> None:
    r = api.client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/dashboard/"


def test_path_values_are_escaped_in_the_page(api) -> None:
    login(api)
    r = api.client.get('/dashboard/customers/"><img src=x onerror=alert(1)>')
    assert r.status_code == 200
    assert "<img" not in r.text
    assert 'data-customer-id="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in r.text


def test_unknown_dashboard_page_is_a_404(api) -> None:
    login(api)
    assert_error(api.client.get("/dashboard/nope"), 404, "not_found")


def test_pages_are_not_in_the_api_document(api) -> None:
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/dashboard")]


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/static/css/dashboard.css", "text/css"),
        ("/static/js/api.js", "javascript"),
        ("/static/js/pages/overview.js", "javascript"),
        ("/static/img/favicon.svg", "image/svg+xml"),
    ],
)
def test_static_files_are_served_without_a_session(api, path, kind) -> None:
    r = api.client.get(path)
    assert r.status_code == 200 and kind in r.headers["content-type"]
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]
    assert api.client.get(path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_missing_static_file_is_a_404(api) -> None:
    assert api.client.get("/static/js/nope.js").status_code == 404
    assert api.client.get("/static/../__init__.py").status_code == 404


def test_every_module_a_page_imports_exists() -> None:
    js = STATIC_DIR / "js"
    for module in js.rglob("*.js"):
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', module.read_text()):
            assert (module.parent / target).resolve().is_file(), (module, target)


def test_scripts_insert_data_as_text_only() -> None:
    """Data reaches the DOM through textContent / text nodes: no HTML parsing of strings anywhere."""
    for module in (STATIC_DIR / "js").rglob("*.js"):
        text = module.read_text()
        for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert unsafe not in text, (module.name, unsafe)


def test_chart_file_is_served_and_loaded_when_installed(api) -> None:
    if not CHART_FILE.is_file():
        pytest.skip("Chart.js is not installed here (make install with npm copies it)")
    r = api.client.get("/static/vendor/chart.umd.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert b"Chart" in r.content[:2000]
    login(api)
    page = api.client.get("/dashboard/").text
    assert '<script src="/static/vendor/chart.umd.js"></script>' in page and 'data-charts="true"' in page


def test_pages_work_without_the_chart_file(api, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dashboard, "CHART_FILE", tmp_path / "absent.js")
    login(api)
    page = api.client.get("/dashboard/").text
    assert "chart.umd.js" not in page and 'data-charts="false"' in page


def test_logout_ends_the_dashboard_session(api) -> None:
    login(api)
    assert api.client.get("/dashboard/", follow_redirects=False).status_code == 200
    assert api.client.delete("/v1/session").status_code == 204
    api.client.cookies.clear()
    assert api.client.get("/dashboard/", follow_redirects=False).status_code == 303
