"""Attribution: opens, clicks, orders and revenue credited to each send inside its window.

Every audience member is measured, holdout included (intention to treat): a treated customer whose
message was skipped at send time still counts as treated, because the holdout was drawn before the
send-time checks. A send's window starts when it was sent; for rows never sent (holdout, skipped,
dead) it starts when the campaign started sending (its first ``sent_at``), so both arms are measured
over the same period.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.store import schema

#: what one message costs to send, by channel (same order of magnitude as common providers)
SEND_COST = {"email": 0.002, "sms": 0.04, "push": 0.0005, "webhook": 0.0}


def campaign_outcomes(store, campaign_id: str, *, window_days: int) -> pd.DataFrame:  # noqa: ANN001
    """One row per send of the campaign with its attributed outcomes."""
    s = schema.sends.c
    sends = store.read_sql(
        sa.select(
            s.send_id,
            s.customer_id,
            s.channel,
            s.variant,
            s.is_holdout,
            s.status,
            s.payload_json,
            s.created_at,
            s.sent_at,
            s.last_error,
        )
        .where(s.campaign_id == campaign_id)
        .order_by(s.send_id)
    )
    if sends.empty:
        return sends.assign(
            group=[],
            discount=[],
            anchor_at=[],
            delivered=[],
            opened=[],
            clicked=[],
            unsubscribed=[],
            orders=[],
            converted=[],
            revenue=[],
        )
    payload = sends.pop("payload_json").map(json.loads)
    sends["group"] = payload.map(lambda p: p.get("group", ""))
    sends["discount"] = payload.map(lambda p: float(p.get("discount") or 0.0))
    sends["is_holdout"] = sends["is_holdout"].astype(bool)
    started = sends["sent_at"].min()
    if pd.isna(started):
        started = sends["created_at"].min()
    sends["anchor_at"] = sends["sent_at"].where(sends["sent_at"].notna(), started)
    window = dt.timedelta(days=window_days)
    o = schema.send_outcomes.c
    outcomes = store.read_sql(
        sa.select(o.send_id, o.kind)
        .select_from(schema.send_outcomes.join(schema.sends, schema.sends.c.send_id == o.send_id))
        .where(s.campaign_id == campaign_id)
    )
    kinds = outcomes.groupby("kind")["send_id"].apply(set).to_dict()
    for kind, column in (
        ("delivered", "delivered"),
        ("open", "opened"),
        ("click", "clicked"),
        ("unsubscribe", "unsubscribed"),
    ):
        sends[column] = sends["send_id"].isin(kinds.get(kind, set()))
    r = schema.orders.c
    lo, hi = sends["anchor_at"].min(), sends["anchor_at"].max() + window
    audience = sa.select(s.customer_id).where(s.campaign_id == campaign_id)
    orders = store.read_sql(
        sa.select(r.customer_id, r.ordered_at, r.total).where(
            r.customer_id.in_(audience),
            r.ordered_at >= lo.to_pydatetime(),
            r.ordered_at < hi.to_pydatetime(),
            r.is_return.is_(False),
            r.status == "completed",
        )
    )
    merged = orders.merge(sends[["send_id", "customer_id", "anchor_at"]], on="customer_id")
    inside = merged[
        (merged["ordered_at"] >= merged["anchor_at"]) & (merged["ordered_at"] < merged["anchor_at"] + window)
    ]
    agg = inside.groupby("send_id").agg(orders=("total", "size"), revenue=("total", "sum"))
    sends = sends.merge(agg, left_on="send_id", right_index=True, how="left")
    sends["orders"] = pd.to_numeric(sends["orders"]).fillna(0).astype(int)
    sends["revenue"] = pd.to_numeric(sends["revenue"]).fillna(0.0).astype(float)
    sends["converted"] = sends["orders"] > 0
    return sends


def cost_ratio(store) -> float:  # noqa: ANN001
    """The store's cost of goods as a share of price (from products.cost), 0.65 when unknown."""
    p = schema.products.c
    value = store.scalar(sa.select(sa.func.sum(p.cost) / sa.func.sum(p.price)).where(p.cost.is_not(None), p.price > 0))
    return float(value) if value is not None and np.isfinite(value) and 0 < value < 1 else 0.65


def add_profit(outcomes: pd.DataFrame, ratio: float) -> pd.DataFrame:
    """Profit per customer: margin on attributed revenue (a discount lowers the price, not the cost of
    goods) minus the cost of the message when it was sent."""
    out = outcomes.copy()
    full_price = out["revenue"] / (1.0 - out["discount"].clip(upper=0.95))
    send_cost = out["channel"].map(SEND_COST).fillna(0.0) * (out["status"] == "sent")
    out["profit"] = out["revenue"] - ratio * full_price - send_cost
    return out
