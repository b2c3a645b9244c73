"""Features for the learned ranker, computed from an interaction log "as of" a moment.

Per customer-item pair: how often and how recently the customer interacted with the item (events,
distinct days, weight sum and max, days since the last and first time), and that age against the
item's typical repurchase interval and the customer's own rhythm. Per item: popularity overall and
recent, trend, repeat rate. Per customer: activity, recency, breadth. From the catalogue (when present):
category affinity and price against the customer's usual price.

For multi-behaviour logs (view / wishlist / cart / buy as increasing weights, e.g. Taobao) what a
customer buys next is mostly what they were just looking at: so also the strength of the customer's
latest event on the item (a cart left open vs a view), how long before the customer's own last event
they touched the item, whether that was in their latest session, when they last touched the item's
category, and the item's conversion rate (share of its customers who reached the label strength).

Pairs are looked up by a sorted key (user * n_items + item), which keeps memory linear in the number
of observed pairs even for catalogues of tens of thousands of items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketloop.recs.data import Catalog, Interactions

DAY = 86_400.0

PAIR_COLS = (
    "ui_events",
    "ui_days",
    "ui_weight",
    "ui_max_weight",
    "ui_age_days",
    "ui_first_days",
    "ui_decayed",
    "ui_last_weight",
)
USER_COLS = ("u_events", "u_items", "u_days", "u_age_days", "u_gap_days")
ITEM_COLS = ("i_users", "i_pop_recent", "i_trend", "i_repeat_rate", "i_gap_days", "i_conversion")
#: A gap longer than this between two of a customer's events starts a new session (the usual web
#: analytics convention of 30 minutes of inactivity).
SESSION_GAP_SECONDS = 30 * 60.0


@dataclass(eq=False)
class FeatureState:
    """Everything needed to compute features for any (user, item) pair at time `now`."""

    n_items: int
    now: float
    pair_keys: np.ndarray  # sorted int64
    pair_values: np.ndarray  # (n_pairs, len(PAIR_COLS))
    user_values: np.ndarray  # (n_users, len(USER_COLS))
    item_values: np.ndarray  # (n_items, len(ITEM_COLS))
    user_price: np.ndarray  # median price paid per user (nan when unknown)
    item_price: np.ndarray
    item_category: np.ndarray  # int codes, -1 unknown
    cat_keys: np.ndarray  # sorted user * n_cats + cat
    cat_share: np.ndarray
    n_cats: int
    cat_last: np.ndarray  # per cat_keys entry: the customer's last event in that category (epoch seconds)
    user_session_start: np.ndarray  # first event of each customer's latest session (nan when no events)

    @classmethod
    def build(
        cls,
        data: Interactions,
        catalog: Catalog | None = None,
        recent_days: float = 30.0,
        min_rating: float | None = None,
    ) -> FeatureState:
        """Features as of the log's last event; `min_rating` is the strength counted as a conversion
        (every event when None)."""
        now = float(data.max_ts)
        n_items = data.n_items
        key = data.user_idx.astype(np.int64) * n_items + data.item_idx
        day = (data.ts // DAY).astype(np.int64)
        frame = pd.DataFrame({"key": key, "ts": data.ts, "w": data.weight, "day": day})
        frame["decayed"] = data.weight * np.exp2(-(now - data.ts) / DAY / recent_days)
        frame["converted"] = data.weight >= (-np.inf if min_rating is None else min_rating)
        frame = frame.sort_values(["key", "ts"], kind="stable")
        g = frame.groupby("key", sort=True)
        agg = pd.DataFrame(
            {
                "ui_events": g.size(),
                "ui_days": g["day"].nunique(),
                "ui_weight": g["w"].sum(),
                "ui_max_weight": g["w"].max(),
                "ui_age_days": (now - g["ts"].max()) / DAY,
                "ui_first_days": (now - g["ts"].min()) / DAY,
                "ui_decayed": g["decayed"].sum(),
                "ui_last_weight": g["w"].last(),  # ties in time: the later row of the log
            }
        )
        pair_keys = agg.index.to_numpy(np.int64)
        pair_values = agg[list(PAIR_COLS)].to_numpy(np.float64)
        pu = (pair_keys // n_items).astype(np.int64)
        pi = (pair_keys % n_items).astype(np.int64)

        # users
        u_events = np.bincount(data.user_idx, minlength=data.n_users).astype(float)
        u_items = np.bincount(pu, minlength=data.n_users).astype(float)
        ud = pd.DataFrame({"u": data.user_idx, "day": day}).drop_duplicates()
        u_days = np.bincount(ud["u"], minlength=data.n_users).astype(float)
        u_last = np.full(data.n_users, np.nan)
        u_first = np.full(data.n_users, np.nan)
        last = pd.Series(data.ts).groupby(data.user_idx).agg(["max", "min"])
        u_last[last.index.to_numpy()] = last["max"].to_numpy()
        u_first[last.index.to_numpy()] = last["min"].to_numpy()
        u_age = (now - u_last) / DAY
        u_gap = (u_last - u_first) / DAY / np.maximum(u_days - 1, 1)
        user_session_start = _session_starts(data.user_idx, data.ts, data.n_users)
        user_values = np.column_stack([u_events, u_items, u_days, u_age, u_gap])

        # items
        i_users = np.bincount(pi, minlength=n_items).astype(float)
        recent = data.ts >= now - recent_days * DAY
        i_recent = np.bincount(data.item_idx[recent], minlength=n_items).astype(float)
        i_all = np.bincount(data.item_idx, minlength=n_items).astype(float)
        span_days = max((now - float(data.ts.min())) / DAY, recent_days) if len(data) else recent_days
        i_trend = (i_recent / recent_days + 0.1) / (i_all / span_days + 0.1)
        multi = pair_values[:, 1] >= 2
        i_rep = np.bincount(pi[multi], minlength=n_items) / np.maximum(i_users, 1)
        gaps = (pair_values[:, 5] - pair_values[:, 4]) / np.maximum(pair_values[:, 1] - 1, 1)
        gsum = np.bincount(pi[multi], weights=gaps[multi], minlength=n_items)
        gcnt = np.bincount(pi[multi], minlength=n_items)
        i_gap = np.where(gcnt > 0, gsum / np.maximum(gcnt, 1), np.nan)
        converted = g["converted"].any().to_numpy()
        i_conv = np.bincount(pi[converted], minlength=n_items) / np.maximum(i_users, 1)
        item_values = np.column_stack([i_users, i_recent, i_trend, i_rep, i_gap, i_conv])

        # catalogue: price band and category affinity
        item_price = np.full(n_items, np.nan) if catalog is None else catalog.price.astype(float)
        up = pd.Series(item_price[data.item_idx]).groupby(data.user_idx).median()
        user_price = np.full(data.n_users, np.nan)
        user_price[up.index.to_numpy()] = up.to_numpy()
        if catalog is not None and (catalog.category != "").any():
            codes, uniq = pd.factorize(pd.Series(catalog.category).replace("", np.nan))
            item_cat = np.asarray(codes, dtype=np.int64)
            n_cats = len(uniq)
            ec = item_cat[data.item_idx]
            ok = ec >= 0
            ck = data.user_idx[ok].astype(np.int64) * n_cats + ec[ok]
            gc = pd.Series(data.ts[ok]).groupby(ck, sort=True).agg(["size", "max"])
            cat_keys = gc.index.to_numpy(np.int64)
            cat_share = gc["size"].to_numpy(float) / np.maximum(u_events[cat_keys // n_cats], 1)
            cat_last = gc["max"].to_numpy(float)
        else:
            item_cat = np.full(n_items, -1, dtype=np.int64)
            n_cats, cat_keys, cat_share, cat_last = 0, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        return cls(
            n_items,
            now,
            pair_keys,
            pair_values,
            user_values,
            item_values,
            user_price,
            item_price,
            item_cat,
            cat_keys,
            cat_share,
            n_cats,
            cat_last,
            user_session_start,
        )

    def pair_features(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users.astype(np.int64) * self.n_items + items
        pos = np.searchsorted(self.pair_keys, keys)
        pos = np.minimum(pos, max(len(self.pair_keys) - 1, 0))
        found = (self.pair_keys[pos] == keys) if len(self.pair_keys) else np.zeros(len(keys), bool)
        out = np.zeros((len(keys), len(PAIR_COLS)))
        out[found] = self.pair_values[pos[found]]
        out[~found, 4] = np.nan  # never interacted: age unknown, not zero
        out[~found, 5] = np.nan
        return out

    def features(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Feature matrix for (user, item) pairs; columns are :meth:`names`."""
        p = self.pair_features(users, items)
        u = self.user_values[users]
        i = self.item_values[items]
        with np.errstate(divide="ignore", invalid="ignore"):
            due_item = p[:, 4] / i[:, 4]  # days since last purchase / item's typical repurchase gap
            due_user = p[:, 4] / np.maximum(u[:, 4], 1.0)
            price_ratio = np.log(self.item_price[items] / self.user_price[users])
        before_user_last = p[:, 4] - u[:, 3]  # 0 for the item of the customer's own latest event
        item_last_ts = self.now - p[:, 4] * DAY
        in_session = (item_last_ts >= self.user_session_start[users]).astype(float)  # nan compares False
        if self.n_cats:
            ic = self.item_category[items]
            ck = users.astype(np.int64) * self.n_cats + ic
            pos = np.minimum(np.searchsorted(self.cat_keys, ck), max(len(self.cat_keys) - 1, 0))
            hit = (ic >= 0) & (self.cat_keys[pos] == ck) if len(self.cat_keys) else np.zeros(len(ck), bool)
            cat_aff = np.where(hit, self.cat_share[pos], 0.0)
            cat_age = np.full(len(users), np.nan)  # never touched the category (or it is unknown)
            cat_age[hit] = (self.now - self.cat_last[pos[hit]]) / DAY
        else:
            cat_aff = np.full(len(users), np.nan)
            cat_age = np.full(len(users), np.nan)
        return np.column_stack(
            [p, u, i, due_item, due_user, price_ratio, cat_aff, before_user_last, in_session, cat_age]
        )

    @staticmethod
    def names() -> list[str]:
        return [
            *PAIR_COLS,
            *USER_COLS,
            *ITEM_COLS,
            "due_vs_item_gap",
            "due_vs_user_gap",
            "log_price_ratio",
            "category_affinity",
            "ui_before_user_last_days",
            "ui_in_last_session",
            "uc_age_days",
        ]


def _session_starts(user_idx: np.ndarray, ts: np.ndarray, n_users: int) -> np.ndarray:
    """Time of the first event of each customer's latest session (a run of events with no gap over
    :data:`SESSION_GAP_SECONDS`); nan for customers without events."""
    out = np.full(n_users, np.nan)
    if len(ts) == 0:
        return out
    order = np.lexsort((ts, user_idx))
    u, t = user_idx[order], ts[order].astype(float)
    # a session starts at each customer's first event and after every long gap; the last start wins
    starts = np.r_[True, (u[1:] != u[:-1]) | (np.diff(t) > SESSION_GAP_SECONDS)]
    np.fmax.at(out, u[starts], t[starts])  # fmax ignores the initial nan
    return out
