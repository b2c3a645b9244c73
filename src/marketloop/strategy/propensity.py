"""Purchase propensity from store features: the naive baseline the planner is compared with.

A stand-in until the customer-intelligence module's propensity model is merged (swap
:func:`purchase_propensity` for it): LightGBM on the same store features, trained to predict an
order in the ``horizon_days`` before the cut-off from features as of ``horizon_days`` earlier.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.store import schema
from marketloop.store.engine import Store
from marketloop.strategy.features import FEATURES, customer_features, read_frame, store_now
from marketloop.strategy.uplift import outcome_model


def purchase_propensity(
    store: Store, as_of: dt.datetime | None = None, horizon_days: int = 30, random_state: int = 0
) -> pd.Series:
    """P(order within ``horizon_days``) per customer, scored on features as of ``as_of``."""
    as_of = as_of or store_now(store)
    past = as_of - dt.timedelta(days=horizon_days)
    train = customer_features(store, as_of=past)
    o = schema.orders
    buyers = read_frame(
        store,
        sa.select(o.c.customer_id)
        .where(o.c.ordered_at >= past, o.c.ordered_at < as_of, o.c.is_return.is_(False))
        .distinct(),
    )
    y = train.index.isin(buyers["customer_id"].astype(str).tolist()).astype(int)
    current = customer_features(store, as_of=as_of)
    if y.sum() < 5 or y.sum() == len(y):
        return pd.Series(np.full(len(current), y.mean()), index=current.index, name="propensity")
    model = outcome_model("binary", random_state).fit(train[list(FEATURES)].to_numpy(), y)
    return pd.Series(
        model.predict_proba(current[list(FEATURES)].to_numpy())[:, 1], index=current.index, name="propensity"
    )
