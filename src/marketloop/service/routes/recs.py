"""Recommendations over the promoted models: for you, buy again, similar, bought together, trending.

The models are loaded once per process (:class:`ServedRecs`) and kept in memory. Whether the promoted
versions changed is asked of the registry at most every :data:`CHECK_SECONDS` (one small query), so a
`marketloop recs train` or `recs promote` is served within seconds without a restart; product data
(price, stock, hidden) is re-read every :data:`CATALOG_SECONDS`. Both checks run off the event loop.

For you, buy again and trending are pure in-memory work of tens of microseconds (the hybrid model
keeps each customer's ranked list), so those routes are ``async``: they answer on the event loop without
a hop to the thread pool. Similar and bought-together score a product against the whole catalogue, which
takes milliseconds on a large one, so they run in the thread pool like the store-reading routes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from marketloop.errors import InputError, MarketLoopError, NotFoundError
from marketloop.recs.rules import Rules
from marketloop.recs.service import Ranked, Recommendations, load_service, read_catalog
from marketloop.service.auth import require
from marketloop.service.keys import Principal
from marketloop.service.lean import LeanRoute

log = logging.getLogger("marketloop.service")


@asynccontextmanager
async def _warm_up(app) -> AsyncIterator[None]:  # noqa: ANN001 - FastAPI
    """Load the promoted models at startup, so the first requests do not wait for them."""
    try:
        await run_in_threadpool(served(app.state.ml).refresh, True)
    except Exception as exc:  # noqa: BLE001 - a broken artefact must not stop the service; requests report it
        log.warning("recommendation models not loaded at startup: %s", exc)
    yield


# LeanRoute: these routes take only the key check and path parameters (the query is read in one step by
# `_query`), so they skip FastAPI's general dependency solver (service/lean.py).
router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"], lifespan=_warm_up, route_class=LeanRoute)

CHECK_SECONDS = 5.0
CATALOG_SECONDS = 60.0
TRAIN_HINT = "Train and promote models with `marketloop recs train`."


class ServedRecs:
    """The promoted models of one store, reloaded when the promoted versions change."""

    def __init__(self, store, models_dir, clock: Callable[[], float] = time.monotonic) -> None:  # noqa: ANN001
        self.store = store
        self.models_dir = models_dir
        self.clock = clock
        self._svc: Recommendations | None = None
        self._error: MarketLoopError | None = None
        self._promoted: dict[str, int] | None = None
        self._checked = self._catalog_at = float("-inf")
        self._lock = threading.Lock()
        #: set by the request that is refreshing, so that concurrent ones do not queue behind it
        self.refreshing = False

    @property
    def stale(self) -> bool:
        return self.clock() - self._checked >= CHECK_SECONDS

    @property
    def loaded(self) -> bool:
        return self._svc is not None

    def current(self) -> Recommendations:
        """The loaded service (no I/O); NotFoundError when no models are promoted."""
        if self._svc is None:
            raise self._error or NotFoundError("the recommendation models are not loaded yet", hint=TRAIN_HINT)
        return self._svc

    def refresh(self, force: bool = False) -> None:
        """Ask the registry for the promoted versions; reload the models if they changed (blocking I/O)."""
        from marketloop.recs.registry import ModelRegistry

        with self._lock:
            now = self.clock()
            if not force and now - self._checked < CHECK_SECONDS:
                return  # another caller refreshed while this one waited for the lock
            promoted = ModelRegistry(self.store, self.models_dir).promoted_versions()
            if promoted != self._promoted or self._svc is None:
                try:
                    self._svc, self._error = load_service(self.store, self.models_dir), None
                except NotFoundError as exc:
                    self._svc, self._error = None, NotFoundError(exc.message, hint=TRAIN_HINT)
                self._promoted, self._catalog_at = promoted, now
                # The models are long-lived: move them out of the cyclic collector's reach, or every full
                # collection walks their objects and stalls all requests in flight (a p99 of hundreds of ms).
                gc.collect()
                gc.freeze()
            elif now - self._catalog_at >= CATALOG_SECONDS:
                self._svc = self._svc.with_catalog(read_catalog(self.store, self._svc.main.items_))
                self._catalog_at = now
            self._checked = now

    def get(self) -> Recommendations:
        """For synchronous callers (other routes, the worker): refresh when due, then the service."""
        if self.stale:
            self.refresh()
        return self.current()


def served(state) -> ServedRecs:  # noqa: ANN001 - ServiceState
    """The process-wide :class:`ServedRecs` of this app."""
    return state.cached("recs", lambda: ServedRecs(state.store, state.settings.models_dir))


async def _service(request: Request) -> Recommendations:
    """The loaded service. When the last registry check is older than CHECK_SECONDS, one background task
    re-checks it in the thread pool while every request keeps answering with the models in memory (a
    request waiting on a store read would wait for the GIL behind the busy event loop). Only when no models
    are loaded yet does the request wait for the load."""
    holder = served(request.app.state.ml)
    if holder.stale and not holder.refreshing:
        holder.refreshing = True  # the loop runs one coroutine at a time: this test-and-set is atomic
        task = asyncio.ensure_future(_refresh(holder))
        if not holder.loaded:
            await task
    return holder.current()


async def _refresh(holder: ServedRecs) -> None:
    try:
        await run_in_threadpool(holder.refresh)
    except Exception as exc:  # noqa: BLE001 - a failed check keeps serving the loaded models; it is retried
        log.warning("checking the promoted recommendation models failed: %s", exc)
    finally:
        holder.refreshing = False


# -- request and response shapes -----------------------------------------------------------------
class RecItem(BaseModel):
    rank: int = Field(..., ge=1, description="Position in the list, 1 = best (the models' raw scores stay inside).")
    product_id: str
    name: str
    source: str = Field(..., description="What produced the item: the model, or the cold-start fallback.")


class ModelRef(BaseModel):
    name: str
    version: int | None = Field(None, description="Promoted version in the model registry.")


class RecsOut(BaseModel):
    kind: str = Field(..., description="for-you, buy-again, similar, bought-together, trending or session.")
    items: list[RecItem]
    model: ModelRef
    note: str | None = Field(None, description="When the list is empty: why (e.g. no co-purchases yet).")


class RecsQuery(BaseModel):
    """The query parameters every kind accepts (business rules applied after scoring)."""

    model_config = ConfigDict(extra="forbid")
    n: int = Field(10, ge=1, le=100, description="How many products.")
    category: list[str] | None = Field(None, max_length=50, description="Only these categories (repeat the parameter).")
    brand: list[str] | None = Field(None, max_length=50, description="Only these brands (repeat the parameter).")
    exclude: list[str] | None = Field(
        None, max_length=500, description="Never these product ids (repeat the parameter)."
    )
    max_per_category: int | None = Field(None, ge=1, le=100, description="Diversity: at most this many per category.")
    min_price: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Only products at or above this price."
    )
    max_price: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Only products at or below this price."
    )
    margin_boost: float = Field(0.0, ge=0, le=10, description="Re-rank towards higher margin (0 = off).")
    include_bought: bool = Field(False, description="for-you: allow products the customer already bought.")
    context_items: list[str] | None = Field(
        None,
        max_length=50,
        description="for-you: products a new visitor just viewed (repeat the parameter); used for cold start.",
    )

    def rules(self, exclude_bought: bool = False) -> Rules:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise InputError(
                f"min_price {self.min_price:g} is above max_price {self.max_price:g}",
                field="min_price",
                value=self.min_price,
                hint="Give a price range with min_price <= max_price.",
            )
        return Rules(
            categories=self.category,
            brands=self.brand,
            exclude_items=self.exclude or [],
            max_per_category=self.max_per_category,
            min_price=self.min_price,
            max_price=self.max_price,
            margin_boost=self.margin_boost,
            exclude_bought=exclude_bought,
        )


_LISTS = frozenset({"category", "brand", "exclude", "context_items"})  # the parameters that may repeat


def _query(request: Request) -> RecsQuery:
    """The query string as a :class:`RecsQuery`, validated in one step. (Declared one by one as FastAPI
    parameters, these ten options cost about 100 microseconds per request; this costs about 10.)"""
    params = request.query_params
    try:
        return RecsQuery.model_validate({k: params.getlist(k) if k in _LISTS else params[k] for k in params})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def _openapi_parameters(names: tuple[str, ...]) -> dict:
    """The OpenAPI description of the query parameters `names` of :class:`RecsQuery`."""
    schema = RecsQuery.model_json_schema()["properties"]
    fields = RecsQuery.model_fields
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": fields[name].description,
                "schema": {k: v for k, v in schema[name].items() if k not in ("title", "description")},
            }
            for name in names
        ]
    }


_RULES = ("n", "category", "brand", "exclude", "max_per_category", "min_price", "max_price", "margin_boost")
CustomerId = Annotated[str, Path(min_length=1, max_length=64)]
ProductId = Annotated[str, Path(min_length=1, max_length=64)]
SessionId = Annotated[str, Path(min_length=1, max_length=64)]


def _only(query: RecsQuery, kind: str, allowed: tuple[str, ...]) -> RecsQuery:
    extra = sorted(query.model_fields_set - set(allowed))
    if extra:
        raise InputError(
            f"{extra[0]} does not apply to {kind} recommendations",
            field=extra[0],
            value=getattr(query, extra[0]),
            hint=f"{kind} takes: {', '.join(allowed)}.",
        )
    return query


def _out(kind: str, svc: Recommendations, ranked: Ranked, key: str | None = None, rules=None) -> Response:  # noqa: ANN001
    """The answer in the shape of :class:`RecsOut`, written by orjson: the records are already typed, and
    validating and serialising them again through the model took a tenth of the request (the standard
    json module as long)."""
    body = {
        "kind": kind,
        "items": svc.records(ranked),
        "model": {"name": ranked.model, "version": svc.versions.get(ranked.model)},
    }
    if not len(ranked.idx):
        body["note"] = svc.why_empty(kind, key, rules)
    return Response(orjson.dumps(body), media_type="application/json")


# -- routes ----------------------------------------------------------------------------------------
_FOR_YOU = (*_RULES, "include_bought", "context_items")


@router.get(
    "/for-you/{customer_id}",
    summary="Personalised recommendations (new customers get a cold-start list)",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_FOR_YOU),
    responses={404: {"description": "no trained models"}},
)
async def for_you(request: Request, customer_id: CustomerId, _: Principal = Depends(require("recs"))) -> Response:
    q = _only(_query(request), "for-you", _FOR_YOU)
    svc = await _service(request)
    rules = q.rules(not q.include_bought)
    return _out("for-you", svc, svc.rank_for_you(customer_id, q.n, rules, q.context_items), customer_id, rules)


@router.get(
    "/buy-again/{customer_id}",
    summary="Products the customer bought before, most likely to be bought again",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_RULES),
    responses={404: {"description": "no trained models, or no purchase history"}},
)
async def buy_again(request: Request, customer_id: CustomerId, _: Principal = Depends(require("recs"))) -> Response:
    q = _only(_query(request), "buy-again", _RULES)
    svc = await _service(request)
    rules = q.rules()
    return _out("buy-again", svc, svc.rank_buy_again(customer_id, q.n, rules), customer_id, rules)


@router.get(
    "/similar/{product_id}",
    summary="Products similar to one product (by text for products nobody bought yet)",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_RULES),
    responses={404: {"description": "no trained models, or unknown product"}},
)
def similar(request: Request, product_id: ProductId, _: Principal = Depends(require("recs"))) -> Response:
    # item-to-item scores cost a product of the catalogue's size (milliseconds on a large one): thread pool
    q = _only(_query(request), "similar", _RULES)
    svc = served(request.app.state.ml).get()
    rules = q.rules()
    return _out("similar", svc, svc.rank_similar(product_id, q.n, rules), product_id, rules)


@router.get(
    "/bought-together/{product_id}",
    summary="Products often bought with one product (association rules)",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_RULES),
    responses={404: {"description": "no trained models, or unknown product"}},
)
def bought_together(request: Request, product_id: ProductId, _: Principal = Depends(require("recs"))) -> Response:
    q = _only(_query(request), "bought-together", _RULES)
    svc = served(request.app.state.ml).get()
    rules = q.rules()
    return _out("bought-together", svc, svc.rank_bought_together(product_id, q.n, rules), product_id, rules)


@router.get(
    "/trending",
    summary="Trending products (time-decayed popularity)",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_RULES),
    responses={404: {"description": "no trained models"}},
)
async def trending(request: Request, _: Principal = Depends(require("recs"))) -> Response:
    q = _only(_query(request), "trending", _RULES)
    svc = await _service(request)
    rules = q.rules()
    return _out("trending", svc, svc.rank_trending(q.n, rules), None, rules)


@router.get(
    "/session/{session_id}",
    summary="Products for a live visit, from the events the tracking API has stored for its session",
    response_model=RecsOut,
    openapi_extra=_openapi_parameters(_RULES),
    responses={404: {"description": "no trained session model"}},
)
def session(request: Request, session_id: SessionId, _: Principal = Depends(require("recs"))) -> Response:
    """The session's product events so far (sent to `POST /v1/events` with this `session_id`, logged in or
    anonymous) are ranked by the promoted session model (session-kNN or SASRec on sessions); a session
    with no product the model knows gets trending products. Reads the store: runs in the thread pool."""
    from marketloop.recs.sessions import live_session_items

    q = _only(_query(request), "session", _RULES)
    svc = served(request.app.state.ml).get()
    items = live_session_items(request.app.state.ml.store, session_id)
    rules = q.rules()
    return _out("session", svc, svc.rank_session(items, q.n, rules), session_id, rules)
