"""What each message says: featured products and copy.

Both sit behind one function each so that switching to the recommender and the content layer (when
present) is a one-line change: :func:`featured_products` and :func:`write_copy`.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from marketloop.store import schema
from marketloop.store.campaigns import Variant


def top_sellers(store, n: int = 3) -> list[str]:  # noqa: ANN001
    """The ``n`` best-selling visible products by units (a stand-in until the recommender is merged)."""
    p, ol = schema.products.c, schema.order_lines.c
    units = sa.func.sum(ol.quantity)
    query = (
        sa.select(p.product_id)
        .select_from(schema.products.join(schema.order_lines, ol.product_id == p.product_id))
        .where(p.hidden.is_(False), p.is_product.is_(True))
        .group_by(p.product_id)
        .order_by(units.desc(), p.product_id)
        .limit(n)
    )
    ids = store.read_sql(query)["product_id"].tolist()
    if len(ids) < n:  # a store without orders: any visible products
        more = store.read_sql(sa.select(p.product_id).where(p.hidden.is_(False)).order_by(p.product_id).limit(n))
        ids += [i for i in more["product_id"] if i not in ids][: n - len(ids)]
    return ids


def featured_products(store, customer_ids: list[str], n: int = 3) -> dict[str, list[str]]:  # noqa: ANN001
    """Products to feature per customer. Today: the store's top sellers for everyone."""
    ids = top_sellers(store, n)
    return {c: ids for c in customer_ids}


def product_names(store, product_ids: list[str]) -> dict[str, str]:  # noqa: ANN001
    if not product_ids:
        return {}
    p = schema.products.c
    frame = store.read_sql(sa.select(p.product_id, p.name).where(p.product_id.in_(sorted(set(product_ids)))))
    return dict(zip(frame["product_id"], frame["name"], strict=True))


def offer_code(campaign_id: str, customer_id: str, prefix: str | None) -> str:
    digest = hashlib.blake2b(f"{campaign_id}|{customer_id}".encode(), digest_size=5).hexdigest().upper()
    return f"{prefix or 'ML'}-{digest}"


def write_copy(
    variant: Variant, *, first_name: str | None, products: list[str], discount: float, code: str | None
) -> tuple[str, str]:
    """Subject and plain-text body. Today a plain template; the content layer replaces it."""
    subject = variant.subject or ("A little something for you" if not discount else f"{discount:.0%} off, just for you")
    hello = f"Hello {first_name}," if first_name else "Hello,"
    lines = [hello, "", "We picked these for you:"] + [f"  - {name}" for name in products]
    if discount and code:
        lines += ["", f"Use code {code} for {discount:.0%} off your next order."]
    lines += ["", "Unsubscribe at any time from your account settings."]
    return subject, "\n".join(lines)


def render_payload(
    variant: Variant,
    *,
    campaign_id: str,
    customer_id: str,
    group: str,
    discount: float,
    products: list[str],
    names: dict[str, str],
    first_name: str | None,
    window_days: int,
) -> dict:
    """The stored payload of one send: rendered copy plus what measurement and re-rendering need."""
    code = offer_code(campaign_id, customer_id, variant.offer.code_prefix) if discount > 0 else None
    subject, body = write_copy(
        variant, first_name=first_name, products=[names.get(p, p) for p in products], discount=discount, code=code
    )
    return {
        "subject": subject,
        "body": body,
        "discount": discount,
        "offer_code": code,
        "product_ids": list(products),
        "group": group,
        "window_days": window_days,
        "first_name": first_name,
    }
