"""Offline evaluation: split protocols and full-ranking metrics.

Protocols
- ``temporal``: the last `test_days` days are the test period; only customers with history before it
  are scored; relevance = distinct items they interacted with (rating >= `min_rating`) in the test period.
- ``leave-last-out``: each customer's last interaction (rating >= `min_rating`) is the test item.
- ``random-stratified``: the Microsoft Recommenders ``python_stratified_split`` (per customer, rows in
  random order with seed 42, the first ``round(0.75 n)`` to train, the rest to test), so figures compare
  with its MovieLens benchmark table (which ranks with training items removed).

Metrics are computed on a full ranking of every catalogue item (no sampled negatives), binary relevance:
NDCG@k, Recall@k (hits / relevant), Precision@k (hits / k), MAP@k (average precision over the top k
divided by min(relevant, k)), MRR (reciprocal rank of the first relevant item in the full ranking, ties
at their average rank) and catalogue coverage (share of items appearing in any top-k list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from marketloop.errors import InputError
from marketloop.recs.base import top_n
from marketloop.recs.data import Interactions

PROTOCOLS = ("temporal", "leave-last-out", "random-stratified")
DAY = 86_400


@dataclass(frozen=True, eq=False)
class Split:
    train: Interactions
    test: sp.csr_matrix  # users x items, 1 where relevant
    users: np.ndarray  # dense indices of the evaluated users
    protocol: str
    exclude_seen: bool
    info: dict = field(default_factory=dict)


def split(
    data: Interactions,
    protocol: str,
    *,
    test_days: float = 30.0,
    test_frac: float = 0.25,
    min_rating: float | None = None,
    seed: int = 42,
    exclude_seen: bool | None = None,
) -> Split:
    """Split an interaction log by `protocol` (see the module docstring)."""
    if protocol not in PROTOCOLS:
        raise InputError(
            f"protocol {protocol!r} is not known (expected one of: {', '.join(PROTOCOLS)})",
            field="protocol",
            value=protocol,
            hint="Use --protocol temporal, leave-last-out or random-stratified.",
        )
    if not 0 < test_frac < 1:
        raise InputError(
            f"test fraction must be between 0 and 1 (exclusive), got {test_frac!r}",
            field="test_frac",
            value=test_frac,
            hint="Use e.g. --test-frac 0.25.",
        )
    if test_days <= 0:
        raise InputError(
            f"test days must be positive, got {test_days!r}",
            field="test_days",
            value=test_days,
            hint="Use e.g. --test-days 30.",
        )
    relevant = np.ones(len(data), dtype=bool) if min_rating is None else data.weight >= min_rating
    if protocol == "temporal":
        cutoff = data.max_ts - test_days * DAY
        in_train = data.ts < cutoff
        in_test = ~in_train & relevant
        has_history = np.zeros(data.n_users, dtype=bool)
        has_history[data.user_idx[in_train]] = True
        in_test &= has_history[data.user_idx]
        info = {"cutoff": pd.Timestamp(int(cutoff), unit="s").isoformat()}
        default_exclude = False
    elif protocol == "leave-last-out":
        order = np.lexsort((np.arange(len(data)), data.ts, data.user_idx))
        cand = order[relevant[order]]
        last = np.zeros(len(data), dtype=bool)
        if len(cand):
            u = data.user_idx[cand]
            is_last = np.r_[u[1:] != u[:-1], True]
            last[cand[is_last]] = True
        counts = np.bincount(data.user_idx, minlength=data.n_users)
        last &= counts[data.user_idx] >= 2
        in_test, in_train = last, ~last
        info = {}
        default_exclude = False
    else:
        rng = np.random.default_rng(seed)
        rand = rng.random(len(data))
        order = np.lexsort((rand, data.user_idx))
        u = data.user_idx[order]
        starts = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
        counts = np.diff(np.r_[starts, len(u)])
        rank = np.arange(len(u)) - np.repeat(starts, counts) + 1
        thresh = np.round((1 - test_frac) * np.repeat(counts, counts))
        to_train = np.zeros(len(data), dtype=bool)
        to_train[order] = rank <= thresh
        in_train, in_test = to_train, ~to_train & relevant
        info = {"seed": seed, "train_frac": 1 - test_frac}
        default_exclude = True
    train = data.select(in_train)
    test = sp.csr_matrix(
        (np.ones(int(in_test.sum()), dtype=np.float32), (data.user_idx[in_test], data.item_idx[in_test])),
        shape=(data.n_users, data.n_items),
    )
    test.sum_duplicates()
    test.data[:] = 1.0
    exclude = default_exclude if exclude_seen is None else exclude_seen
    if exclude:  # relevance of items the ranking can never show would only lower every model alike
        test = test - test.multiply(train.binary)
        test.eliminate_zeros()
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    train_users = np.zeros(data.n_users, dtype=bool)
    train_users[train.user_idx] = True
    users = users[train_users[users]]
    info.update(train_events=int(len(train)), test_users=int(len(users)), test_pairs=int(test[users].nnz))
    return Split(train, test, users, protocol, exclude, info)


def ranking_metrics(
    score_fn: Callable[[np.ndarray], np.ndarray],
    split_: Split,
    k: int = 10,
    batch: int = 256,
) -> dict[str, float]:
    """Full-ranking metrics of a scoring function ``user indices -> (b, n_items) scores``."""
    users = split_.users
    n_items = split_.train.n_items
    seen = split_.train.binary
    totals = dict.fromkeys(("ndcg", "recall", "precision", "map", "mrr"), 0.0)
    recommended = np.zeros(n_items, dtype=bool)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for start in range(0, len(users), batch):
        ub = users[start : start + batch]
        scores = np.array(score_fn(ub), dtype=np.float64, copy=True)
        if split_.exclude_seen:
            s = seen[ub]
            scores[np.repeat(np.arange(len(ub)), np.diff(s.indptr)), s.indices] = -np.inf
        idx, vals = top_n(scores, k)
        rel = split_.test[ub]
        n_rel = np.diff(rel.indptr)
        hits = np.zeros(idx.shape, dtype=bool)
        for r in range(len(ub)):
            row_rel = rel.indices[rel.indptr[r] : rel.indptr[r + 1]]
            hits[r] = np.isin(idx[r], row_rel) & (idx[r] >= 0)
            # full-ranking reciprocal rank of the best-placed relevant item, ties at their average rank
            best = scores[r, row_rel].max()
            if np.isfinite(best):
                gt = int((scores[r] > best).sum())
                eq = int((scores[r] == best).sum())
                totals["mrr"] += 1.0 / (gt + (eq + 1) / 2.0)
        recommended[idx[idx >= 0]] = True
        dcg = (hits * discounts[: idx.shape[1]]).sum(axis=1)
        ideal = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
        totals["ndcg"] += float((dcg / ideal).sum())
        nh = hits.sum(axis=1)
        totals["recall"] += float((nh / n_rel).sum())
        totals["precision"] += float((nh / k).sum())
        prec_at = np.cumsum(hits, axis=1) / np.arange(1, idx.shape[1] + 1)
        totals["map"] += float(((prec_at * hits).sum(axis=1) / np.minimum(n_rel, k)).sum())
    n = max(len(users), 1)
    out = {f"{m}@{k}" if m != "mrr" else "mrr": v / n for m, v in totals.items()}
    out["coverage"] = float(recommended.mean()) if n_items else 0.0
    out["users"] = int(len(users))
    return out
