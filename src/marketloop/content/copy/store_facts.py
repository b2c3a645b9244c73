"""Build a :class:`CopyBrief` from the store: the customer, products to feature, review highlights.

Products are the ones asked for, else the store's best sellers of the last 180 days of data that the
customer has not bought (falling back to any visible products).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from pydantic import ValidationError

from marketloop.clock import utcnow
from marketloop.content.copy.brief import BrandVoice, CopyBrief, CustomerFact, Offer, ProductFact
from marketloop.content.providers.runtime import UsageLedger
from marketloop.errors import InputError, NotFoundError
from marketloop.store import schema


def pick_products(store: Any, customer_id: str, n: int) -> list[str]:
    o, ol, p = schema.orders, schema.order_lines, schema.products
    last = store.scalar(sa.select(sa.func.max(o.c.ordered_at)))
    bought = sa.select(ol.c.product_id).join(o, o.c.order_id == ol.c.order_id).where(o.c.customer_id == customer_id)
    query = (
        sa.select(ol.c.product_id, sa.func.sum(ol.c.quantity).label("qty"))
        .join(o, o.c.order_id == ol.c.order_id)
        .join(p, p.c.product_id == ol.c.product_id)
        .where(p.c.is_product.is_(True), p.c.hidden.is_(False), p.c.price.is_not(None), p.c.price > 0)
        .where(ol.c.product_id.not_in(bought))
        .group_by(ol.c.product_id)
        .order_by(sa.desc("qty"), ol.c.product_id)
        .limit(n)
    )
    if last is not None:
        query = query.where(o.c.ordered_at >= last - dt.timedelta(days=180))
    ids = [str(x) for x in store.read_sql(query)["product_id"]]
    if len(ids) < n:
        extra = store.read_sql(
            sa.select(p.c.product_id)
            .where(p.c.is_product.is_(True), p.c.hidden.is_(False), p.c.price.is_not(None), p.c.price > 0)
            .where(p.c.product_id.not_in(bought))
            .order_by(p.c.product_id)
            .limit(n * 3)
        )
        ids += [str(x) for x in extra["product_id"] if str(x) not in ids][: n - len(ids)]
    return ids


def brief_from_store(
    store: Any,
    customer_id: str,
    *,
    goal: str,
    channel: str,
    offer: Offer | None = None,
    product_ids: Sequence[str] | None = None,
    n_products: int = 3,
    language: str | None = None,
    brand: BrandVoice | None = None,
    variants: int = 1,
    product_url: str | None = None,
) -> CopyBrief:
    c, p = schema.customers, schema.products
    cust = store.read_sql(
        sa.select(c.c.customer_id, c.c.first_name, c.c.language).where(c.c.customer_id == customer_id)
    )
    if cust.empty:
        raise NotFoundError(
            f"customer {customer_id!r} is not in the store",
            hint="Check the id with `marketloop db status`, or load customers first.",
        )
    row = cust.iloc[0]
    first_name = row["first_name"] if isinstance(row["first_name"], str) and row["first_name"].strip() else None
    ids = list(product_ids) if product_ids else pick_products(store, customer_id, n_products)
    prods = store.read_sql(sa.select(p.c.product_id, p.c.name, p.c.price, p.c.currency).where(p.c.product_id.in_(ids)))
    missing = sorted(set(ids) - set(prods["product_id"].astype(str)))
    if missing:
        raise NotFoundError(
            f"product(s) {', '.join(missing)} not in the store", hint="Check --products against the catalogue."
        )
    prods = prods[prods["price"].notna()]
    from marketloop.content.language import customer_language

    customer_lang = customer_language(store, customer_id)  # declared, else detected, else by country
    lang = language or customer_lang
    highlights = _highlights(store, ids, lang)
    order = {pid: i for i, pid in enumerate(ids)}
    facts = sorted(
        (
            ProductFact(
                product_id=str(r.product_id),
                name=str(r.name).strip(),
                price=round(float(r.price), 2),
                currency=(r.currency if isinstance(r.currency, str) and len(r.currency) == 3 else "GBP"),
                url=product_url.format(product_id=r.product_id) if product_url else None,
                highlight=highlights.get(str(r.product_id)),
            )
            for r in prods.itertuples()
        ),
        key=lambda f: order.get(f.product_id, 0),
    )
    others = store.read_sql(
        sa.select(p.c.name)
        .where(p.c.product_id.not_in(ids), p.c.is_product.is_(True))
        .order_by(p.c.product_id)
        .limit(500)
    )
    other_ids = store.read_sql(
        sa.select(c.c.customer_id).where(c.c.customer_id != customer_id).order_by(c.c.customer_id).limit(200)
    )
    return CopyBrief(
        customer=CustomerFact(customer_id=str(customer_id), first_name=first_name, language=customer_lang),
        goal=goal,
        channel=channel,
        offer=offer or Offer(),
        products=facts,
        brand=brand or BrandVoice(),
        language=lang,
        variants=variants,
        today=utcnow().date(),
        forbidden_terms=[str(x) for x in other_ids["customer_id"] if len(str(x)) >= 5],
        other_product_names=[str(x).strip() for x in others["name"] if isinstance(x, str) and len(x.strip()) >= 8],
    )


def _highlights(store: Any, product_ids: Sequence[str], language: str = "en") -> dict[str, str]:
    """Review highlights per product, in the brief's language (Chinese from the most-praised aspect)."""
    import json

    from marketloop.content.reviews.aspects import ASPECT_LABELS_ZH

    s = schema.review_summaries
    df = store.read_sql(
        sa.select(s.c.product_id, s.c.highlight, s.c.loves_json)
        .where(s.c.product_id.in_(list(product_ids)))
        .where(s.c.highlight.is_not(None))
    )
    if language != "zh":
        return {str(r.product_id): str(r.highlight) for r in df.itertuples()}
    out = {}
    for r in df.itertuples():
        loves = json.loads(r.loves_json) if isinstance(r.loves_json, str) and r.loves_json else []
        if loves and loves[0].get("aspect") in ASPECT_LABELS_ZH:
            out[str(r.product_id)] = f"买家称赞它的{ASPECT_LABELS_ZH[loves[0]['aspect']]}"
    return out


def parse_offer(spec: str | None, code: str | None, expires: str | None, min_spend: float | None) -> Offer:
    """'percent:15', 'amount:10', 'free_shipping' or None -> Offer (errors name the option)."""
    kind, value = "none", 0.0
    if spec:
        kind, _, raw = spec.partition(":")
        kind = kind.strip().lower()
        if kind not in ("percent", "amount", "free_shipping", "none"):
            raise InputError(
                f"--offer {spec!r}: kind must be percent, amount, free_shipping or none",
                field="offer",
                value=spec,
                hint="e.g. --offer percent:15 or --offer amount:10 or --offer free_shipping",
            )
        try:
            value = float(raw) if raw else 0.0
        except ValueError:
            raise InputError(
                f"--offer {spec!r}: {raw!r} is not a number", field="offer", value=spec, hint="e.g. --offer percent:15"
            ) from None
    try:
        day = dt.date.fromisoformat(expires) if expires else None
    except ValueError:
        raise InputError(
            f"--expires {expires!r} is not a date (YYYY-MM-DD)",
            field="expires",
            value=expires,
            hint="e.g. --expires 2026-12-31",
        ) from None
    try:
        return Offer(kind=kind, value=value, code=code, expires=day, min_spend=min_spend)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'offer'}: {e['msg']}" for e in exc.errors())
        raise InputError(
            f"invalid offer: {problems}",
            field="offer",
            value=spec,
            hint="Percent offers need 0 < value < 100; codes are 3-32 upper-case letters, digits, '-' or '_'.",
        ) from None


def save_calls(store: Any, ledger: UsageLedger) -> int:
    """Append the ledger's provider calls to ``llm_calls`` (for the dashboard)."""
    rows = [
        {
            **r,
            "call_id": uuid.uuid4().hex,
            "started_at": pd.Timestamp(r["started_at"]).to_pydatetime(),
            "model": (r["model"] or "")[:255],
        }
        for r in ledger.as_rows()
    ]
    if rows:
        with store.begin() as conn:
            conn.execute(schema.llm_calls.insert(), rows)
    return len(rows)
