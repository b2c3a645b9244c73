"""Content: personalised copy with guardrail verdicts, the customer-service assistant, review insights.

Copy is written by :class:`content.copy.generate.CopyWriter` from a brief built out of store facts
(``brief_from_store``), exactly as ``marketloop copy preview`` does, with the text provider named by
``settings.copy_provider`` (default: the grounded template writer, no model). ``POST /v1/copy`` logs the
provider calls in ``llm_calls`` like the CLI; ``POST /v1/copy/preview`` writes nothing. E-mail copy from
``/v1/copy`` carries the customer's signed unsubscribe link; the preview shows an unsigned placeholder
(a read-only key must not be able to mint working unsubscribe links).

The assistant keeps conversations in the process (see ``service/conversations.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from marketloop.content.copy.brief import EmailCopy, Offer, ProductFact, PushCopy, SmsCopy
from marketloop.content.copy.generate import CopyResult
from marketloop.content.copy.guardrails import GuardrailReport
from marketloop.errors import ConfigError, InputError, NotFoundError
from marketloop.service.auth import require
from marketloop.service.conversations import ConversationStore
from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal
from marketloop.store import schema

router = APIRouter(prefix="/v1", tags=["content"])

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CONVERSATIONS = "assistant.conversations"


# --- copy --------------------------------------------------------------------------------------------
class CopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: Id = Field(..., description="The customer the message is for (facts come from the store).")
    channel: Literal["email", "sms", "push"] = Field(..., description="The message's channel.")
    goal: str = Field(
        "promotion",
        min_length=1,
        max_length=200,
        description="winback, welcome, cart_recovery, cross_sell, promotion, replenish, new_arrivals or free text.",
    )
    product_ids: list[Id] | None = Field(
        None, max_length=12, description="Products to feature (default: best sellers the customer has not bought)."
    )
    offer: Offer | None = Field(None, description="The offer the message may state (default: none).")
    variants: int = Field(1, ge=1, le=8, description="How many variants to write.")
    language: Literal["en", "zh"] | None = Field(None, description="Default: the customer's language.")
    voice: Literal["friendly", "premium", "playful", "plain"] = Field("friendly", description="Brand voice.")
    store_name: str = Field(
        "Our Shop", min_length=1, max_length=60, description="The shop's name as the message says it."
    )

    @field_validator("goal", "store_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("must be one line of text, not blank and without control characters")
        return value


class ViolationOut(BaseModel):
    code: str = Field(
        ...,
        description="format, language, price, discount, code, date, product, link, banned_claim, "
        "free_claim, length, opt_out, pii or profanity",
    )
    field: str = Field(..., description="The message field, or * for the whole message.")
    detail: str


class Verdict(BaseModel):
    passed: bool
    violations: list[ViolationOut]


class CopyVariant(BaseModel):
    variant: int
    action: Literal["accepted", "repaired", "replaced", "blocked"] = Field(
        ...,
        description="accepted: the provider's text passed; repaired: opt-out or length fixed; replaced: the template "
        "writer's text is used instead; blocked: nothing passed, nothing may be sent.",
    )
    delivered: bool = Field(..., description="A message exists and passed every guardrail.")
    provider: str = Field(..., description="The provider asked first.")
    final_provider: str = Field(..., description="Who wrote the final text (empty when blocked).")
    message: EmailCopy | SmsCopy | PushCopy | None = Field(
        ..., description="The copy fields of the channel; null when blocked."
    )
    verdict: Verdict = Field(..., description="Guardrails on the final message.")
    raw_verdict: Verdict = Field(..., description="Guardrails on the provider's raw output.")
    reasons: list[str]


class CopyOut(BaseModel):
    customer_id: str
    channel: str
    language: str
    goal: str
    provider: str
    preview: bool
    unsubscribe_url: str | None = Field(..., description="The link e-mail copy carries (a placeholder in previews).")
    products: list[ProductFact] = Field(..., description="The catalogue facts the copy may state.")
    offer: Offer
    variants: list[CopyVariant]
    llm_calls_logged: int = Field(..., description="Provider calls written to llm_calls (0 for previews).")


def _verdict(report: GuardrailReport) -> Verdict:
    return Verdict(
        passed=report.passed,
        violations=[ViolationOut(code=v.kind, field=v.field, detail=v.detail) for v in report.violations],
    )


def _variant(r: CopyResult) -> CopyVariant:
    return CopyVariant(
        variant=r.variant,
        action=r.action,
        delivered=r.delivered,
        provider=r.provider,
        final_provider=r.final_provider,
        message=r.message,
        verdict=_verdict(r.final_report),
        raw_verdict=_verdict(r.raw_report),
        reasons=r.reasons,
    )


def _text_client(state):  # noqa: ANN001, ANN202
    """A client for the configured provider: the provider and its response cache are shared by requests,
    the usage ledger is the request's own (so /v1/copy logs exactly its calls)."""
    from marketloop.content.providers.registry import get_registry
    from marketloop.content.providers.runtime import ResponseCache, TextClient

    settings = state.settings

    def build():  # noqa: ANN202
        try:
            return get_registry().create("text", settings.copy_provider, settings.copy_provider_options)
        except InputError as exc:
            raise ConfigError(
                f"copy provider {settings.copy_provider!r}: {exc.message}",
                hint="Fix MARKETLOOP_COPY_PROVIDER / MARKETLOOP_COPY_PROVIDER_OPTIONS.",
            ) from None

    provider = state.cached("copy.provider", build)
    return TextClient(provider, cache=state.cached("copy.cache", ResponseCache))


def _write(request: Request, body: CopyIn, *, preview: bool) -> CopyOut:
    from marketloop.content.copy.brief import BrandVoice
    from marketloop.content.copy.generate import CopyWriter
    from marketloop.content.copy.store_facts import brief_from_store, save_calls
    from marketloop.delivery.unsubscribe import PATH, unsubscribe_link

    state = request.app.state.ml
    settings, store = state.settings, state.store
    link = None
    if body.channel == "email":
        link = (
            settings.public_url.rstrip("/") + PATH
            if preview
            else unsubscribe_link(settings.public_url, state.session_secret, body.customer_id, "email")
        )
    brand = BrandVoice(store_name=body.store_name, voice=body.voice, **({"unsubscribe_url": link} if link else {}))
    product_ids = list(dict.fromkeys(body.product_ids)) if body.product_ids else None
    brief = brief_from_store(
        store,
        body.customer_id,
        goal=body.goal,
        channel=body.channel,
        offer=body.offer,
        product_ids=product_ids,
        language=body.language,
        brand=brand,
        variants=body.variants,
    )
    client = _text_client(state)
    results = CopyWriter(client).write(brief)
    logged = 0 if preview else save_calls(store, client.ledger)
    return CopyOut(
        customer_id=body.customer_id,
        channel=body.channel,
        language=brief.language,
        goal=brief.goal,
        provider=client.name,
        preview=preview,
        unsubscribe_url=link,
        products=brief.products,
        offer=brief.offer,
        variants=[_variant(r) for r in results],
        llm_calls_logged=logged,
    )


@router.post(
    "/copy",
    summary="Write personalised copy for a customer, checked by guardrails (logs the provider calls)",
    response_model=CopyOut,
    responses={404: {"description": "unknown customer or product"}},
)
def write_copy(body: CopyIn, request: Request, _: Principal = Depends(require("write"))) -> CopyOut:
    return _write(request, body, preview=False)


@router.post(
    "/copy/preview",
    summary="Preview the copy a customer would get (writes nothing)",
    response_model=CopyOut,
    responses={404: {"description": "unknown customer or product"}},
)
def preview_copy(body: CopyIn, request: Request, _: Principal = Depends(require("read"))) -> CopyOut:
    return _write(request, body, preview=True)


# --- assistant ---------------------------------------------------------------------------------------
class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(..., min_length=1, max_length=1000, description="What the customer wrote.")
    conversation_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Continue this conversation (from an earlier reply); omit to start one.",
    )
    customer_id: Id | None = Field(
        None, description="The signed-in customer (needed for order look-ups); fixed for the whole conversation."
    )


class ChatOut(BaseModel):
    conversation_id: str = Field(..., description="Send it with the next message; expires an hour after the last one.")
    reply: str
    intent: str
    confidence: float
    sources: list[str] = Field(..., description="Where the answer came from: policy sections, products, orders.")
    handoff: bool = Field(..., description="The conversation goes to a person; it takes no further messages.")
    handoff_reason: str | None
    turn: int = Field(..., description="How many customer messages this conversation has had.")
    entities: dict[str, list[str]] = Field(..., description="Order numbers and e-mail addresses found in the message.")


def _build_assistant(state):  # noqa: ANN001, ANN202
    from marketloop.content.assistant.bot import Assistant
    from marketloop.content.assistant.intents import IntentClassifier

    path = state.settings.models_dir / "intents"
    intents = IntentClassifier.load(path) if (path / "intents.json").is_file() else None
    return Assistant(intents=intents, store=state.store)


def _has_customer(store, customer_id: str) -> bool:  # noqa: ANN001
    c = schema.customers.c
    return (
        store.scalar(sa.select(sa.func.count()).select_from(schema.customers).where(c.customer_id == customer_id)) > 0
    )


@router.post(
    "/assistant/chat",
    summary="One turn of a conversation with the customer-service assistant",
    response_model=ChatOut,
    responses={
        404: {"description": "unknown or expired conversation, unknown customer"},
        409: {"description": "the conversation was handed to a person"},
    },
)
def chat(body: ChatIn, request: Request, principal: Principal = Depends(require("read"))) -> ChatOut:
    from marketloop.content.assistant.bot import answer

    state = request.app.state.ml
    text = body.message.strip()
    if not text:
        raise InputError("message is blank", field="message", value=body.message, hint="Send what the customer wrote.")
    conversations: ConversationStore = state.cached(CONVERSATIONS, ConversationStore)
    if body.conversation_id is not None:
        current = conversations.get(body.conversation_id, principal.key_id)
        if current is None:
            raise NotFoundError(
                f"no open conversation {body.conversation_id!r}",
                hint="Conversations expire an hour after their last message and do not survive a "
                "restart; omit conversation_id to start a new one.",
            )
        if body.customer_id is not None and body.customer_id != current.conversation.customer_id:
            raise InputError(
                "customer_id differs from the customer this conversation was opened for",
                field="customer_id",
                value=body.customer_id,
                hint="Omit customer_id when continuing a conversation, or start a new one.",
            )
    else:
        if body.customer_id is not None and not _has_customer(state.store, body.customer_id):
            raise NotFoundError(
                f"customer {body.customer_id!r} is not in the store",
                hint="Omit customer_id for an anonymous chat (no order look-ups).",
            )
        current = conversations.open(principal.key_id, body.customer_id)
    bot = state.cached("assistant", lambda: _build_assistant(state))
    with current.lock:
        if current.conversation.handed_off:
            raise ApiError(
                409,
                "conflict",
                "this conversation was handed to a person and takes no further messages",
                field="conversation_id",
                hint="Omit conversation_id to start a new conversation.",
            )
        reply = answer(bot, current.conversation, text)
        current.turns += 1
        current.trim()
        turn = current.turns
    return ChatOut(
        conversation_id=current.conversation_id,
        reply=reply.text,
        intent=reply.intent,
        confidence=round(float(reply.confidence), 4),
        sources=reply.sources,
        handoff=reply.handoff,
        handoff_reason=reply.reason if reply.handoff else None,
        turn=turn,
        entities=reply.entities,
    )


# --- reviews -----------------------------------------------------------------------------------------
LABELS = ("positive", "neutral", "negative")


class AspectOut(BaseModel):
    aspect: str
    mentions: int
    share: float = Field(..., description="Share of this aspect's opinionated mentions with this polarity.")
    quote: str = Field(..., description="A short sentence from a review.")


class ProductInsight(BaseModel):
    product_id: str
    name: str | None
    n_reviews: int
    avg_rating: float | None
    positive_share: float
    loves: list[AspectOut]
    complaints: list[AspectOut]
    highlight: str | None = Field(..., description="A short true remark copy may use, e.g. 'Reviewers love the fit'.")


class InsightsOut(BaseModel):
    source: Literal["stored", "computed", "none"] = Field(
        ...,
        description="stored: written by `marketloop reviews analyze`; computed: scored now with the lexicon "
        "(nothing stored); none: no reviews.",
    )
    model: str | None = Field(..., description="The sentiment model (lexicon or a trained classifier).")
    updated_at: dt.datetime | None
    sentiment: dict[str, int] = Field(..., description="Reviews per label: positive, neutral, negative.")
    products: list[ProductInsight] = Field(..., description="Most-reviewed first.")
    hint: str | None = Field(..., description="What to do next, when there is something to do.")


def _stored_labels(store, product_id: str | None) -> dict[str, int]:  # noqa: ANN001
    rs = schema.review_sentiment.c
    query = sa.select(rs.label, sa.func.count().label("n")).group_by(rs.label)
    if product_id is not None:
        query = query.where(rs.product_id == product_id)
    return {str(r.label): int(r.n) for r in store.read_sql(query).itertuples()}


@router.get(
    "/reviews/insights",
    summary="What customers love and complain about, per product",
    response_model=InsightsOut,
    responses={404: {"description": "unknown product"}},
)
def review_insights(
    request: Request,
    _: Principal = Depends(require("read")),
    product_id: str | None = Query(None, min_length=1, max_length=64, description="One product only."),
    limit: int = Query(20, ge=1, le=100, description="Products to return (most-reviewed first)."),
) -> InsightsOut:
    from marketloop.content.reviews.insights import load_summaries, summarise_reviews

    store = request.app.state.ml.store
    p, ss, r = schema.products.c, schema.review_summaries.c, schema.reviews.c
    wanted = [product_id] if product_id is not None else None
    if product_id is not None and not store.scalar(
        sa.select(sa.func.count()).select_from(schema.products).where(p.product_id == product_id)
    ):
        raise NotFoundError(
            f"product {product_id!r} is not in the store", hint="Check the id against GET /v1/products."
        )
    summaries = load_summaries(store, wanted, limit=limit)
    hint = None
    if summaries:
        source = "stored"
        meta = store.read_sql(
            sa.select(ss.model, ss.updated_at)
            .where(ss.product_id.in_([s.product_id for s in summaries]))
            .order_by(ss.updated_at.desc())
            .limit(1)
        ).iloc[0]
        model, updated = str(meta["model"]), pd.Timestamp(meta["updated_at"]).to_pydatetime()
        labels = _stored_labels(store, product_id)
    else:
        counted = sa.select(sa.func.count()).select_from(schema.reviews)
        if product_id is not None:
            counted = counted.where(r.product_id == product_id)
        if not store.scalar(counted):
            return InsightsOut(
                source="none",
                model=None,
                updated_at=None,
                sentiment=dict.fromkeys(LABELS, 0),
                products=[],
                hint="No reviews yet" + (" for this product" if product_id else "") + ": load a reviews "
                "file with `marketloop ingest`, then run `marketloop reviews analyze`.",
            )
        computed = summarise_reviews(store, wanted, limit=limit)
        source, model, updated, labels, summaries = (
            "computed",
            computed.model,
            None,
            computed.labels,
            computed.summaries,
        )
        hint = (
            "Computed now with the lexicon and not stored; run `marketloop reviews analyze` to store insights "
            "(with a trained sentiment model when you have one)."
        )
    names = {}
    if summaries:
        frame = store.read_sql(
            sa.select(p.product_id, p.name).where(p.product_id.in_([s.product_id for s in summaries]))
        )
        names = dict(zip(frame["product_id"].astype(str), frame["name"], strict=True))
    products = [
        ProductInsight(
            product_id=s.product_id,
            name=names.get(s.product_id),
            n_reviews=s.n_reviews,
            avg_rating=s.avg_rating,
            positive_share=s.positive_share,
            loves=[AspectOut(**a) for a in s.loves],
            complaints=[AspectOut(**a) for a in s.complaints],
            highlight=s.highlight,
        )
        for s in summaries
    ]
    sentiment = {label: int(labels.get(label, 0)) for label in LABELS}
    return InsightsOut(
        source=source, model=model, updated_at=updated, sentiment=sentiment, products=products, hint=hint
    )
