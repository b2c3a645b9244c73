"""Consents per channel, and the signed one-click unsubscribe link.

``PUT /v1/customers/{id}/consents/{channel}`` writes the consents table the way ingestion does (source
``api:<key_id>``), audited; the dispatcher's send-time checks see the change at once. The unsubscribe
link (``delivery/unsubscribe.py``) is public and needs no key: ``GET /unsubscribe`` only shows a page
with a button (mail scanners prefetch links, so a GET never changes anything), ``POST /unsubscribe``
unsubscribes in one step (RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` to it). It revokes
the consent and adds an ``unsubscribed`` suppression, is idempotent, and is audited when it changes
something. Audit records name the customer by keyed hash (``store.privacy.customer_ref``), so erasure
leaves no customer id behind in the audit log.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from marketloop.errors import NotFoundError
from marketloop.service import audit
from marketloop.service.auth import check_signature, require
from marketloop.service.errors import error_body
from marketloop.service.keys import Principal
from marketloop.store import schema

router = APIRouter(prefix="/v1", tags=["consents"])
public_router = APIRouter(tags=["consents"])

Channel = Literal[schema.CHANNELS]  # type: ignore[valid-type]
CHANNEL_LABELS = {"email": "e-mail", "sms": "text messages (SMS)", "push": "push notifications", "webhook": "messages"}


def _customer():  # noqa: ANN202 - a fresh Path per route (FastAPI must not share one between parameters)
    return Path(..., min_length=1, max_length=64, description="The customer's id in the store.")


class ConsentOut(BaseModel):
    channel: str
    status: Literal["granted", "revoked", "unknown"] = Field(..., description="unknown: no consent recorded.")
    updated_at: dt.datetime | None
    source: str | None = Field(..., description="Who recorded it: the import file, api:<key_id> or unsubscribe-link.")
    suppressed: bool = Field(..., description="On the suppression list (unsubscribed, bounced, complained, held).")
    suppression_reason: str | None
    sendable: bool = Field(..., description="Granted and not suppressed: a campaign may message the customer here.")


class ConsentsOut(BaseModel):
    customer_id: str
    consents: list[ConsentOut] = Field(..., description="One entry per channel.")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["granted", "revoked"] = Field(..., description="The customer's choice.")
    source: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[\w.:/ -]+$",
        description="Where it was captured, e.g. checkout-form; stored as api:<key_id>:<source>.",
    )


class ConsentChange(BaseModel):
    customer_id: str
    channel: str
    status: str
    previous: str | None = Field(..., description="The status before (null: none recorded).")
    lifted_suppression: bool = Field(..., description="Granting again lifted an earlier unsubscribe on this channel.")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel = Field(..., description="The channel the link unsubscribes from.")


class LinkOut(BaseModel):
    customer_id: str
    channel: str
    url: str = Field(..., description="Signed link; it does not expire. Put it in the message footer.")


class UnsubscribeOut(BaseModel):
    unsubscribed: bool
    channel: str
    changed: bool = Field(..., description="False when the customer was already unsubscribed.")


def _known(store, customer_id: str) -> None:  # noqa: ANN001
    from marketloop.store.consents import customer_known

    if not customer_known(store, customer_id):
        raise NotFoundError(
            f"customer {customer_id!r} is not in the store",
            hint="Check the id with GET /v1/customers, or load the customer first.",
        )


def _consents(store, customer_id: str) -> ConsentsOut:  # noqa: ANN001
    from marketloop.store.consents import consent_state

    return ConsentsOut(
        customer_id=customer_id,
        consents=[
            ConsentOut(
                channel=c.channel,
                status=c.status,
                updated_at=c.updated_at,
                source=c.source,
                suppressed=c.suppressed,  # type: ignore[arg-type]
                suppression_reason=c.suppression_reason,
                sendable=c.sendable,
            )
            for c in consent_state(store, customer_id)
        ],
    )


@router.get(
    "/customers/{customer_id}/consents",
    summary="A customer's consent and suppression per channel",
    response_model=ConsentsOut,
    responses={404: {"description": "unknown customer"}},
)
def get_consents(
    request: Request, customer_id: str = _customer(), _: Principal = Depends(require("read"))
) -> ConsentsOut:
    store = request.app.state.ml.store
    _known(store, customer_id)
    return _consents(store, customer_id)


@router.put(
    "/customers/{customer_id}/consents/{channel}",
    summary="Grant or revoke a customer's consent on a channel (audited)",
    response_model=ConsentChange,
    responses={404: {"description": "unknown customer"}},
)
def put_consent(
    body: ConsentIn,
    request: Request,
    customer_id: str = _customer(),
    channel: Channel = Path(..., description="email, sms, push or webhook."),
    principal: Principal = Depends(require("write")),
) -> ConsentChange:
    from marketloop.store.consents import set_consent
    from marketloop.store.privacy import customer_ref

    state = request.app.state.ml
    _known(state.store, customer_id)
    source = f"api:{principal.key_id}" + (f":{body.source.strip()}" if body.source else "")
    with state.store.begin() as conn:
        previous, lifted = set_consent(conn, customer_id, channel, body.status, source=source)
        audit.record(
            state.store,
            principal,
            "consent.update",
            customer_ref(customer_id, state.settings.pii_key()),
            {"channel": channel, "status": body.status, "previous": previous, "lifted_suppression": lifted},
            conn=conn,
        )
    return ConsentChange(
        customer_id=customer_id, channel=channel, status=body.status, previous=previous, lifted_suppression=lifted
    )


@router.post(
    "/customers/{customer_id}/unsubscribe-link",
    summary="A signed one-click unsubscribe link for a customer",
    response_model=LinkOut,
    responses={404: {"description": "unknown customer"}},
)
def unsubscribe_link(
    body: LinkIn, request: Request, customer_id: str = _customer(), _: Principal = Depends(require("write"))
) -> LinkOut:
    from marketloop.delivery.unsubscribe import unsubscribe_link as link

    state = request.app.state.ml
    _known(state.store, customer_id)
    return LinkOut(
        customer_id=customer_id,
        channel=body.channel,
        url=link(state.settings.public_url, state.session_secret, customer_id, body.channel),
    )


# --- the public link ---------------------------------------------------------------------------------
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the address holds the signature
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.5}"
    "button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.3rem;background:#2457c5;color:#fff;cursor:pointer}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title><style>{_STYLE}</style>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=_PAGE_HEADERS)


def _valid(request: Request, c: str, ch: str, sig: str) -> bool:
    from marketloop.delivery.unsubscribe import PURPOSE, signed_value

    if not (0 < len(c) <= 64 and ch in schema.CHANNELS and 0 < len(sig) <= 128):
        return False
    return check_signature(request.app.state.ml.session_secret, PURPOSE, signed_value(c, ch), sig)


_BAD_LINK = (
    "This unsubscribe link is incomplete or has been changed, so we cannot act on it. Please use the link "
    "exactly as it appears in the message, or reply to the message and ask us to unsubscribe you."
)


def _param(what: str):  # noqa: ANN202 - each parameter needs its own Query (a shared one mixes them up)
    return Query("", description=f"{what}, from the signed link.")


@public_router.get(
    "/unsubscribe",
    summary="Unsubscribe page for a signed link (asks for confirmation; changes nothing)",
    response_class=HTMLResponse,
    responses={403: {"description": "the link is broken or tampered with"}},
)
def unsubscribe_page(
    request: Request, c: str = _param("Customer id"), ch: str = _param("Channel"), sig: str = _param("Signature")
) -> HTMLResponse:
    if not _valid(request, c, ch, sig):
        return _page("Link not valid", f"<p>{html.escape(_BAD_LINK)}</p>", 403)
    action = html.escape(f"{request.url.path}?{urlencode({'c': c, 'ch': ch, 'sig': sig})}", quote=True)
    label = html.escape(CHANNEL_LABELS[ch])
    return _page(
        "Unsubscribe",
        f"<p>Stop receiving marketing {label} from us?</p>"
        f'<form method="post" action="{action}"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">Unsubscribe</button></form>',
    )


@public_router.post(
    "/unsubscribe",
    summary="One-click unsubscribe with a signed link (RFC 8058; idempotent, audited)",
    response_model=UnsubscribeOut,
    responses={
        200: {"content": {"text/html": {}}, "description": "JSON, or a confirmation page for browsers"},
        403: {"description": "the link is broken or tampered with"},
    },
)
def unsubscribe(
    request: Request, c: str = _param("Customer id"), ch: str = _param("Channel"), sig: str = _param("Signature")
) -> Response:
    from marketloop.store.consents import customer_known
    from marketloop.store.consents import unsubscribe as revoke
    from marketloop.store.privacy import customer_ref

    if not _valid(request, c, ch, sig):
        return JSONResponse(
            error_body(
                "bad_signature",
                "the unsubscribe link is not valid (missing parts or a wrong signature)",
                hint="Use the link exactly as it appears in the message.",
            ),
            status_code=403,
            headers={"Cache-Control": "no-store"},
        )
    state = request.app.state.ml
    changed = False
    if customer_known(state.store, c):  # an erased customer stays erased: nothing is written about them
        with state.store.begin() as conn:
            changed = revoke(conn, c, ch, source="unsubscribe-link")
            if changed:
                audit.record(
                    state.store,
                    "unsubscribe-link",
                    "consent.unsubscribe",
                    customer_ref(c, state.settings.pii_key()),
                    {"channel": ch},
                    conn=conn,
                )
    if "text/html" in request.headers.get("accept", ""):
        return _page(
            "You are unsubscribed",
            f"<p>You will no longer receive marketing {html.escape(CHANNEL_LABELS[ch])} "
            "from us. A message already on its way may still arrive.</p>",
        )
    return JSONResponse(
        UnsubscribeOut(unsubscribed=True, channel=ch, changed=changed).model_dump(),
        headers={"Cache-Control": "no-store"},
    )
