"""Event tracking: batches of behaviour events from a storefront, idempotent by event id.

A batch is validated as a whole (one bad event refuses the batch and names it, so nothing is half
written), then written in one transaction; events whose id is already stored are counted as duplicates,
not written again, so a client may retry a batch safely. Concurrent writes are bounded: when every write
slot is busy the API answers 503 with ``Retry-After`` instead of queueing without limit or dropping.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketloop.clock import utcnow
from marketloop.service.auth import require
from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal
from marketloop.store.bulk import insert_rows
from marketloop.store.schema import EVENT_TYPES, events

router = APIRouter(prefix="/v1", tags=["tracking"])

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
_duckdb_writes = (
    threading.Lock()
)  # DuckDB writes from one process are serialised (its MVCC refuses conflicting appends)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(
        ..., min_length=1, max_length=64, description="Unique id chosen by the client; retries reuse it."
    )
    event_type: EventType = Field(..., description="What happened.")
    ts: dt.datetime | None = Field(None, description="When it happened (ISO 8601; UTC when no offset). Default: now.")
    customer_id: str | None = Field(None, min_length=1, max_length=64, description="Known customer, if logged in.")
    session_id: str | None = Field(None, min_length=1, max_length=64)
    product_id: str | None = Field(None, min_length=1, max_length=64)
    query: str | None = Field(None, max_length=255, description="Search text, for search events.")
    value: float | None = Field(None, ge=0, description="Money value (e.g. cart value), if any.")

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(
        ..., min_length=1, description="The events, at most MARKETLOOP_API_MAX_BATCH per request."
    )


class TrackResult(BaseModel):
    received: int
    inserted: int
    duplicates: int


def _utc_naive(ts: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if ts is None:
        return now
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    return ts


@router.post(
    "/events",
    summary="Track a batch of behaviour events (idempotent by event_id)",
    response_model=TrackResult,
    responses={503: {"description": "too many writes in flight; retry after Retry-After seconds"}},
)
def track(batch: EventBatch, request: Request, principal: Principal = Depends(require("ingest"))) -> TrackResult:
    state = request.app.state.ml
    settings = state.settings
    if len(batch.events) > settings.api_max_batch:
        raise ApiError(
            413,
            "batch_too_large",
            f"the batch has {len(batch.events)} events, over the limit of {settings.api_max_batch}",
            field="events",
            hint="Split it into smaller batches.",
        )
    now = utcnow()
    earliest = dt.datetime.fromisoformat(settings.earliest_date)
    latest = now + dt.timedelta(days=settings.future_tolerance_days)
    rows: dict[str, dict] = {}
    for i, event in enumerate(batch.events):
        ts = _utc_naive(event.ts, now)
        if not earliest <= ts <= latest:
            raise ApiError(
                422,
                "invalid_input",
                f"events.{i}.ts: {ts.isoformat()} is outside {earliest:%Y-%m-%d} .. {latest:%Y-%m-%d} (UTC)",
                field=f"events.{i}.ts",
                hint="Send the time the event happened, in ISO 8601 with its UTC offset.",
            )
        if event.event_type == "search" and not event.query:
            raise ApiError(
                422,
                "invalid_input",
                f"events.{i}.query: a search event needs the search text",
                field=f"events.{i}.query",
                hint='Add "query": "what the visitor typed".',
            )
        rows.setdefault(event.event_id, {**event.model_dump(), "ts": ts, "source": f"api:{principal.key_id}"})
    if not state.write_slots.acquire(timeout=0.5):
        raise ApiError(
            503,
            "busy",
            "too many tracking writes are in flight",
            hint="Retry after the Retry-After delay.",
            headers={"Retry-After": "1"},
        )
    try:
        inserted = _write(state.store, list(rows.values()))
    finally:
        state.write_slots.release()
    return TrackResult(received=len(batch.events), inserted=inserted, duplicates=len(batch.events) - inserted)


def _write(store, rows: list[dict]) -> int:  # noqa: ANN001
    """Insert the events not stored yet; return how many were new. A concurrent writer inserting the same
    id between our check and our insert makes the transaction fail; it is retried once, then sees them."""
    guard = _duckdb_writes if store.dialect == "duckdb" else None
    for attempt in range(3):
        try:
            if guard:
                guard.acquire()
            with store.begin() as conn:
                ids = [r["event_id"] for r in rows]
                existing: set[str] = set()
                for i in range(0, len(ids), 500):
                    existing.update(
                        conn.execute(
                            sa.select(events.c.event_id).where(events.c.event_id.in_(ids[i : i + 500]))
                        ).scalars()
                    )
                new = [r for r in rows if r["event_id"] not in existing]
                if new:
                    insert_rows(conn, events, new)
                return len(new)
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
        finally:
            if guard:
                guard.release()
    raise AssertionError("unreachable")
