"""API v1 routers, mounted in this order by ``create_app``."""

from __future__ import annotations

from marketloop.service.routes import campaigns, consents, content, events, health, privacy, session

ROUTERS = [health.router, session.router, events.router, campaigns.router, content.router, consents.router,
           consents.public_router, privacy.router]
