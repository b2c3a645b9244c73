"""The dashboard: pages served by the same app, behind the same keys.

The pages are thin HTML shells (Jinja2 templates) plus one small JavaScript module per page; every
figure on a page comes from the ``/v1`` JSON API, called by the browser with the session cookie set by
``POST /v1/session``. There is no second data path: what the dashboard shows, a script with a key can get.

- ``/`` is the login page (paste an API key); ``/dashboard/...`` are the pages, which redirect to the
  login page without a valid session (or with a key whose role cannot read).
- Static files live under ``/static/``: our CSS and JS, and ``/static/vendor/chart.umd.js``, Chart.js,
  installed from npm by ``make install`` and copied into the package (never committed) beside the report
  builder, which inlines the same file into HTML reports. Without it
  the pages show their tables and say how to get the charts.
- Pages are sent with a strict Content-Security-Policy (scripts and styles from this origin only), and
  the JavaScript inserts data with ``textContent``, never as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from marketloop import __version__
from marketloop.report.html import CHART_FILE as REPORT_CHART_FILE
from marketloop.service.auth import SESSION_COOKIE, session_key_id
from marketloop.service.keys import Principal

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
CHART_FILE = REPORT_CHART_FILE

#: Scripts, styles, images and API calls from this origin only; no framing; no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Page:
    """A dashboard page: its URL path (under /dashboard), nav label, JS module and title."""

    path: str
    name: str
    title: str
    nav: str | None  # the nav entry it highlights (None: not in the nav)


PAGES = [
    Page("/dashboard/", "overview", "Overview", "overview"),
    Page("/dashboard/segments", "segments", "Segments and value", "segments"),
    Page("/dashboard/customers", "customers", "Customers", "customers"),
    Page("/dashboard/customers/{customer_id}", "customer", "Customer", "customers"),
    Page("/dashboard/campaigns", "campaigns", "Campaigns", "campaigns"),
    Page("/dashboard/campaigns/new", "campaign_new", "New campaign", "campaigns"),
    Page("/dashboard/campaigns/{campaign_id}", "campaign", "Campaign", "campaigns"),
    Page("/dashboard/forecasts", "forecasts", "Demand and stock", "forecasts"),
    Page("/dashboard/copy", "copy", "Copy preview", "copy"),
    Page("/dashboard/reviews", "reviews", "Review insights", "reviews"),
    Page("/dashboard/assistant", "assistant", "Assistant", "assistant"),
]

NAV = [
    ("overview", "Overview", "/dashboard/"),
    ("segments", "Segments", "/dashboard/segments"),
    ("customers", "Customers", "/dashboard/customers"),
    ("campaigns", "Campaigns", "/dashboard/campaigns"),
    ("forecasts", "Demand and stock", "/dashboard/forecasts"),
    ("copy", "Copy preview", "/dashboard/copy"),
    ("reviews", "Review insights", "/dashboard/reviews"),
    ("assistant", "Assistant", "/dashboard/assistant"),
]


def _templates():  # noqa: ANN202 - jinja2.Environment, imported lazily
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def session_principal(request: Request) -> Principal | None:
    """The active key named by the request's session cookie, or None."""
    state = request.app.state.ml
    cookie = request.cookies.get(SESSION_COOKIE)
    key_id = session_key_id(state.session_secret, cookie) if cookie else None
    return state.verifier.principal(key_id) if key_id else None


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a dashboard path on this site only (never another host)."""
    if value and value.startswith("/dashboard/") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard/"


class StaticAssets(StaticFiles):
    """Static files that browsers revalidate (ETag) instead of caching stale code after an upgrade."""

    async def get_response(self, path: str, scope) -> Response:  # noqa: ANN001
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to `app`."""
    env = _templates()
    router = APIRouter(include_in_schema=False)

    def render(name: str, status: int = 200, **context) -> HTMLResponse:  # noqa: ANN003
        html = env.get_template(name).render(version=__version__, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    @router.get("/", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:  # noqa: A002
        principal = session_principal(request)
        if principal is not None and "read" in principal.scopes:
            return RedirectResponse(safe_next(next), status_code=303)
        message = {
            "expired": "Your session has ended. Log in again.",
            "role": "That key's role cannot view the dashboard (it needs read access: admin, marketer or analyst).",
        }.get(reason or "")
        return render("login.html", page="login", title="Log in", next=safe_next(next), message=message)

    @router.get("/dashboard", response_class=HTMLResponse)
    def dashboard_root() -> Response:
        return RedirectResponse("/dashboard/", status_code=308)

    def page_handler(page: Page):  # noqa: ANN202
        def handler(request: Request) -> Response:
            principal = session_principal(request)
            if principal is None or "read" not in principal.scopes:
                reason = "role" if principal is not None else ("expired" if SESSION_COOKIE in request.cookies else None)
                target = "/?next=" + quote(request.url.path, safe="/")
                return RedirectResponse(target + (f"&reason={reason}" if reason else ""), status_code=303)
            params = {k: str(v) for k, v in request.path_params.items()}
            return render(
                "page.html",
                page=page.name,
                title=page.title,
                active=page.nav,
                nav=NAV,
                principal=principal,
                can_write="write" in principal.scopes,
                has_charts=CHART_FILE.is_file(),
                params=params,
            )

        handler.__name__ = f"dashboard_{page.name}"
        return handler

    @router.get("/static/vendor/chart.umd.js")
    def chart_js() -> Response:
        if not CHART_FILE.is_file():
            return Response("Chart.js is not installed (make install)", status_code=404, media_type="text/plain")
        return FileResponse(
            CHART_FILE,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    for page in PAGES:
        router.add_api_route(page.path, page_handler(page), methods=["GET"], response_class=HTMLResponse)
    app.include_router(router)
    app.mount("/static", StaticAssets(directory=STATIC_DIR, check_dir=True), name="static")
