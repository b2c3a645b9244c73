"""API v1 routers, mounted in this order by ``create_app``.

Routes are matched in this order, so the hot paths come first: health checks, then recommendations
(each route tried before the right one costs a few microseconds per request).
"""

from __future__ import annotations

from marketloop.service.routes import (
    campaigns,
    consents,
    content,
    customers,
    events,
    forecasts,
    health,
    ops,
    overview,
    privacy,
    products,
    recs,
    session,
)

ROUTERS = [
    health.router,
    recs.router,
    session.router,
    events.router,
    overview.router,
    customers.router,
    products.router,
    forecasts.router,
    campaigns.router,
    content.router,
    consents.router,
    consents.public_router,
    privacy.router,
    ops.router,
]
