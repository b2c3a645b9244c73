"""Session-based recommendation for anonymous visitors: session-kNN, and live sessions from the store.

`SessionKNN` (``sknn``) is the session-based k-nearest-neighbours model of Jannach & Ludewig ("When
recurrent neural networks meet the neighborhood for session-based recommendation", RecSys 2017), with the
position weighting of their V-SKNN variant: the current session's items weigh more the later they came
(weight (position + 1) / length); past sessions sharing an item with it are candidates, the
`sample_size` most recent of them are kept, each is scored by cosine similarity to the weighted session,
and an item's score is the summed similarity of the `neighbours` most similar sessions that contain it.
Published comparisons (Ludewig, Mauro, Latifi & Jannach 2019) find it as strong as neural session models
on most e-commerce data sets, which is why it is the baseline every session model here is measured
against. Trained on a log whose "users" are sessions (see :func:`session_interactions`).

Written here rather than taken from a library: the session-rec framework that holds the reference code
is a research repository, not a package, and the model is a few sparse products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sqlalchemy as sa

from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions

#: event types that say which product a visitor was looking at, and their strengths (the Taobao scale)
SESSION_EVENT_WEIGHTS = {"view": 1.0, "wishlist": 2.0, "add_to_cart": 3.0, "purchase": 4.0}
#: events of a session that are kept for ranking (the most recent ones), when read live from the store
LIVE_EVENTS = 50


@register
class SessionKNN(BaseRecommender):
    """Session-based kNN (V-SKNN): neighbours among past sessions, recency-weighted current session."""

    name = "sknn"
    supports_sessions = True
    _user_state = ("session_time_", "sequences_")
    _params = ("neighbours", "sample_size", "max_len")

    def __init__(self, neighbours: int = 100, sample_size: int = 1000, max_len: int = 20) -> None:
        self.neighbours = neighbours
        self.sample_size = sample_size
        self.max_len = max_len

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        last = np.full(interactions.n_users, -np.inf)
        np.maximum.at(last, interactions.user_idx, interactions.ts.astype(np.float64))
        self.session_time_ = last
        self.sequences_ = interactions.sequences(self.max_len, merge_repeats=True)
        pop = np.asarray(self.seen_.sum(axis=0), dtype=np.float64).ravel()
        self.pop_ = pop / (pop.max() + 1.0)

    def _prior(self) -> np.ndarray:
        # ties (items no neighbour holds, or an empty session) broken by popularity, far below any
        # neighbour's vote: one shared session with cosine 1e-3 still outranks the most popular item
        return self.pop_ * 1e-6

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        n_items = len(self.items_)
        out = np.tile(self._prior(), (len(sessions), 1))
        rows, cols, vals = [], [], []
        for r, s in enumerate(sessions):
            s = np.asarray(s, dtype=np.int64)[-self.max_len :]
            if not len(s):
                continue
            w = (np.arange(len(s)) + 1.0) / len(s)
            weights = pd.Series(w).groupby(s).max()  # an item seen twice keeps its latest weight
            rows.append(np.full(len(weights), r))
            cols.append(weights.index.to_numpy(np.int64))
            vals.append(weights.to_numpy())
        if not rows:
            return out
        q = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(sessions), n_items)
        )
        seen = self.seen_
        sizes = np.asarray(seen.sum(axis=1)).ravel()
        overlap = (q @ seen.T).tocsr()  # sessions x past sessions: weighted shared items
        qnorm = np.sqrt(np.asarray(q.multiply(q).sum(axis=1)).ravel())
        nb_rows, nb_cols, nb_vals = [], [], []
        for r in range(len(sessions)):
            a, b = overlap.indptr[r], overlap.indptr[r + 1]
            cand, dot = overlap.indices[a:b], overlap.data[a:b]
            if not len(cand):
                continue
            if len(cand) > self.sample_size:  # the most recent sessions sharing an item
                keep = np.argpartition(-self.session_time_[cand], self.sample_size - 1)[: self.sample_size]
                cand, dot = cand[keep], dot[keep]
            sim = dot / (np.sqrt(sizes[cand]) * qnorm[r] + 1e-12)
            if len(cand) > self.neighbours:
                keep = np.argpartition(-sim, self.neighbours - 1)[: self.neighbours]
                cand, sim = cand[keep], sim[keep]
            nb_rows.append(np.full(len(cand), r))
            nb_cols.append(cand)
            nb_vals.append(sim)
        if nb_rows:
            nb = sp.csr_matrix(
                (np.concatenate(nb_vals), (np.concatenate(nb_rows), np.concatenate(nb_cols))),
                shape=(len(sessions), seen.shape[0]),
            )
            out += (nb @ seen).toarray()
        return out

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self._score_sessions([s[s >= 0] for s in self.sequences_[user_idx]])

    def _state(self) -> dict[str, np.ndarray]:
        return {"session_time_": self.session_time_, "sequences_": self.sequences_, "pop_": self.pop_}


def session_interactions(store, since: object | None = None) -> Interactions:  # noqa: ANN001 - Store
    """The store's behaviour events grouped by visit: "users" are session ids (anonymous visitors
    included), strengths as in :data:`SESSION_EVENT_WEIGHTS`, products flagged ``is_product = false``
    left out. `since` keeps only events at or after that time."""
    from marketloop.store import schema

    ev, pr = schema.events, schema.products
    q = sa.select(ev.c.session_id.label("user"), ev.c.product_id.label("item"), ev.c.ts, ev.c.event_type).where(
        ev.c.session_id.is_not(None), ev.c.product_id.is_not(None), ev.c.event_type.in_(list(SESSION_EVENT_WEIGHTS))
    )
    if since is not None:
        q = q.where(ev.c.ts >= since)
    frame = store.read_sql(q)
    products = store.read_sql(sa.select(pr.c.product_id, pr.c.is_product))
    non_products = set(products.loc[~products["is_product"].fillna(True).astype(bool), "product_id"].astype(str))
    frame = frame[~frame["item"].astype(str).isin(non_products)]
    frame["rating"] = frame.pop("event_type").map(SESSION_EVENT_WEIGHTS)
    frame["ts"] = pd.to_datetime(frame["ts"])
    return Interactions.from_frame(frame, weight_col="rating")


def live_session_items(store, session_id: str, limit: int = LIVE_EVENTS) -> list[str]:  # noqa: ANN001 - Store
    """Product ids of one session's events as tracked so far (oldest first, the last `limit`): what the
    tracking API has stored for a visitor in the middle of a visit."""
    from marketloop.store import schema

    ev = schema.events
    q = (
        sa.select(ev.c.product_id)
        .where(
            ev.c.session_id == session_id,
            ev.c.product_id.is_not(None),
            ev.c.event_type.in_(list(SESSION_EVENT_WEIGHTS)),
        )
        .order_by(ev.c.ts.desc(), ev.c.event_id.desc())
        .limit(limit)
    )
    with store.connect() as conn:
        ids = [str(r[0]) for r in conn.execute(q).all()]
    return ids[::-1]
