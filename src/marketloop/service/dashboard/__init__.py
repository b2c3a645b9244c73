"""The dashboard: pages served by the same app, behind the same keys."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to `app`."""
