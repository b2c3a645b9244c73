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

PROTOCOLS = ("temporal", "leave-last-out", "random-stratified", "session")
DAY = 86_400


@dataclass(frozen=True, eq=False)
class Split:
    train: Interactions
    test: sp.csr_matrix  # users x items, 1 where relevant
    users: np.ndarray  # dense indices of the evaluated users
    protocol: str
    exclude_seen: bool
    info: dict = field(default_factory=dict)
    #: positions (in the log that was split) of the events held out for testing, whatever their rating:
    #: what rating-prediction metrics (RMSE) are computed on
    heldout: np.ndarray | None = None


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
    if protocol not in PROTOCOLS or protocol == "session":
        raise InputError(
            f"protocol {protocol!r} is not known (expected one of: {', '.join(PROTOCOLS[:3])}; sessions are "
            "split by session_split)",
            field="protocol",
            value=protocol,
            hint="Use --protocol temporal, leave-last-out, random-stratified or session.",
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
        has_history = np.zeros(data.n_users, dtype=bool)
        has_history[data.user_idx[in_train]] = True
        heldout = ~in_train & has_history[data.user_idx]
        in_test = heldout & relevant
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
        # Nothing the customer did after the held-out event may stay in training, whatever the filter:
        # with --min-rating the last purchase is often followed by views, which would tell the model
        # what came next. Events at the same moment (the rest of the same basket) stay.
        test_ts = np.full(data.n_users, np.inf)
        test_ts[data.user_idx[last]] = data.ts[last]
        later = data.ts > test_ts[data.user_idx]
        in_test, in_train = last, ~last & ~later
        heldout = last
        info = {"dropped_later_events": int(later.sum())}
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
        heldout = ~to_train
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
    # rating metrics use every held-out rating of a customer with training history, relevant or not
    return Split(train, test, users, protocol, exclude, info, np.flatnonzero(heldout & train_users[data.user_idx]))


def heldout_ndcg(scores: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k of one held-out item per row of `scores` in a full ranking (ties at their average
    rank): what the models that stop training on a validation tail (BPR, SASRec, two-tower) watch."""
    ts = scores[np.arange(len(targets)), targets]
    rank = (scores > ts[:, None]).sum(axis=1) + ((scores == ts[:, None]).sum(axis=1) - 1) / 2.0
    return float(np.where(np.isfinite(ts) & (rank < k), 1.0 / np.log2(rank + 2.0), 0.0).sum() / max(len(targets), 1))


def rating_metrics(model, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    """RMSE and MAE of a rating model's ``predict(user_idx, item_idx)`` on held-out explicit ratings."""
    if not len(ratings):
        return {}
    err = np.asarray(model.predict(users, items), dtype=np.float64) - ratings
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))), "rated_pairs": int(len(err))}


def _expected_hits(
    row: np.ndarray, idx: np.ndarray, vals: np.ndarray, rel_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expected relevance at each of the first `k` positions when ties are broken at random.

    `idx` / `vals` are the row's top positions and scores (best first, -1 / non-finite where the list is
    short); `rel_scores` the scores of the relevant items. A block of `g` items tied at one score that
    holds `r` relevant ones gives each position it spans an expected relevance of r / g: a model that
    scores everything alike gets the figure of a random order, not whatever order the sort left (McSherry
    & Najork, "Computing information retrieval performance measures efficiently in the presence of tied
    scores", ECIR 2008). Returns (expected relevance per position, block start, block size, relevant in
    block) with the last three per position."""
    n = int(np.count_nonzero(idx >= 0))
    e = np.zeros(k)
    start = np.zeros(k, dtype=np.int64)
    size = np.ones(k, dtype=np.int64)
    inblock = np.zeros(k)
    p = 0
    while p < n:
        v = vals[p]
        q = p
        while q < n and vals[q] == v:
            q += 1
        if q == n:  # the block at the cut (or at the list's end) may run past it: count it in the whole row
            a = int((row > v).sum())
            g = int((row == v).sum())
        else:  # a block wholly inside the list: every member is listed
            a, g = p, q - p
        r = int((rel_scores == v).sum())
        e[p:q] = r / g
        start[p:q], size[p:q], inblock[p:q] = a, g, r
        p = q
    return e, start, size, inblock


def ranking_metrics(
    score_fn: Callable[[np.ndarray], np.ndarray],
    split_: Split,
    k: int = 10,
    batch: int = 256,
    sampled_negatives: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Full-ranking metrics of a scoring function ``user indices -> (b, n_items) scores``.

    Tied scores are scored as ties (the expected value over random orders of each tied block; see
    :func:`_expected_hits`), so neither a lucky nor an unlucky sort decides a model's figure.
    With `sampled_negatives` = N, also the sampled-negative figures of the SASRec / NCF papers, labelled
    ``sampled{N}_hr@k`` and ``sampled{N}_ndcg@k``: each relevant test item is ranked against N items drawn
    at random from those the customer neither has in the test set nor (when seen items are excluded) in
    training; ties count half. They are far higher than full-ranking figures and only comparable with
    figures measured the same way.
    """
    users = split_.users
    n_items = split_.train.n_items
    seen = split_.train.binary
    totals = dict.fromkeys(("ndcg", "recall", "precision", "map", "mrr"), 0.0)
    sampled = {"hr": 0.0, "ndcg": 0.0}
    rng = np.random.default_rng(seed)
    recommended = np.zeros(n_items, dtype=bool)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    positions = np.arange(k)
    for start in range(0, len(users), batch):
        ub = users[start : start + batch]
        scores = np.array(score_fn(ub), dtype=np.float64, copy=True)
        scores[np.isnan(scores)] = -np.inf
        if split_.exclude_seen:
            s = seen[ub]
            scores[np.repeat(np.arange(len(ub)), np.diff(s.indptr)), s.indices] = -np.inf
        idx, vals = top_n(scores, k)
        recommended[idx[idx >= 0]] = True
        rel = split_.test[ub]
        for r in range(len(ub)):
            row = scores[r]
            row_rel = rel.indices[rel.indptr[r] : rel.indptr[r + 1]]
            n_rel = len(row_rel)
            rel_scores = row[row_rel]
            rel_scores = rel_scores[np.isfinite(rel_scores)]
            e, a, g, rr = _expected_hits(row, idx[r], vals[r], rel_scores, k)
            kk = idx.shape[1]
            e, a, g, rr = e[:kk], a[:kk], g[:kk], rr[:kk]
            totals["ndcg"] += float((e * discounts[:kk]).sum() / np.cumsum(discounts)[min(n_rel, k) - 1])
            hits = float(e.sum())
            totals["recall"] += hits / n_rel
            totals["precision"] += hits / k
            # E[rel(p) * hits up to p]: relevant items of earlier blocks are certain; inside a block of g
            # holding r relevant, given p is relevant, (r - 1)(p - a)/(g - 1) of the earlier slots are too
            before = np.cumsum(np.r_[0.0, e])[:-1] - (positions[:kk] - a) * e  # relevant items of earlier blocks
            within = np.where(g > 1, (rr - 1) * (positions[:kk] - a) / np.maximum(g - 1, 1), 0.0)
            totals["map"] += float((e * (before + 1 + within) / (positions[:kk] + 1)).sum() / min(n_rel, k))
            # full-ranking reciprocal rank of the best-placed relevant item, ties at their average rank
            if len(rel_scores):
                best = rel_scores.max()
                gt = int((row > best).sum())
                eq = int((row == best).sum())
                totals["mrr"] += 1.0 / (gt + (eq + 1) / 2.0)
            if sampled_negatives:
                hr, nd = _sampled(row, row_rel, seen, ub[r], split_.exclude_seen, sampled_negatives, k, rng)
                sampled["hr"] += hr
                sampled["ndcg"] += nd
    n = max(len(users), 1)
    out = {f"{m}@{k}" if m != "mrr" else "mrr": v / n for m, v in totals.items()}
    out["coverage"] = float(recommended.mean()) if n_items else 0.0
    out["users"] = int(len(users))
    if sampled_negatives:
        out[f"sampled{sampled_negatives}_hr@{k}"] = sampled["hr"] / n
        out[f"sampled{sampled_negatives}_ndcg@{k}"] = sampled["ndcg"] / n
    return out


def _sampled(
    row: np.ndarray,
    relevant: np.ndarray,
    seen: sp.csr_matrix,
    user: int,
    exclude_seen: bool,
    n_neg: int,
    k: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """HR@k and NDCG@k of one customer's relevant items, each ranked among `n_neg` random negatives
    (mean over the relevant items; ties at their average rank)."""
    banned = np.zeros(len(row), dtype=bool)
    banned[relevant] = True
    if exclude_seen:
        banned[seen.indices[seen.indptr[user] : seen.indptr[user + 1]]] = True
    pool = np.flatnonzero(~banned)
    if len(pool) == 0 or len(relevant) == 0:
        return 0.0, 0.0
    hr = nd = 0.0
    for item in relevant:
        neg = pool[rng.integers(0, len(pool), n_neg)]
        s, ns = row[item], row[neg]
        rank = float((ns > s).sum()) + ((ns == s).sum()) / 2.0 + 1.0  # 1-based, ties at their average
        if not np.isfinite(s):
            rank = n_neg / 2.0 + 1.0 if np.isneginf(ns).all() else n_neg + 1.0
        if rank <= k:
            hr += 1.0
            nd += 1.0 / np.log2(rank + 1.0)
    return hr / len(relevant), nd / len(relevant)


# -- sessions -----------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SessionSplit:
    """Sessions split by time: `train` holds the sessions that ended before the cut (its "users" are
    sessions), `test` the item sequences (dense item indices) of the sessions that started after it."""

    train: Interactions
    test: list[np.ndarray]
    exclude_seen: bool
    info: dict = field(default_factory=dict)


def sessionize(users: pd.Series, ts: pd.Series, sessions: pd.Series | None, gap_seconds: float) -> pd.Series:
    """Session ids: the given ones where present, else each user's runs of events with no gap longer than
    `gap_seconds` (the usual 30 minutes of inactivity), named ``user#n``."""
    t = pd.to_datetime(ts) if not pd.api.types.is_numeric_dtype(ts) else pd.to_datetime(ts, unit="s")
    frame = pd.DataFrame({"u": users.astype(str).to_numpy(), "t": t.to_numpy()})
    order = np.lexsort((frame["t"].to_numpy(), frame["u"].to_numpy()))
    u = frame["u"].to_numpy()[order]
    secs = frame["t"].to_numpy()[order].astype("datetime64[s]").astype(np.int64)
    new = np.r_[True, (u[1:] != u[:-1]) | (np.diff(secs) > gap_seconds)]
    run = np.cumsum(new) - 1  # running session number over all users
    first_run = np.maximum.accumulate(np.where(np.r_[True, u[1:] != u[:-1]], run, 0))  # of the user's first
    derived = np.empty(len(u), dtype=object)
    derived[order] = (pd.Series(u) + "#" + pd.Series(run - first_run).astype(str)).to_numpy()
    out = pd.Series(derived, index=users.index)
    if sessions is not None:
        given = sessions.astype("object").where(sessions.notna())
        out = given.astype(object).where(given.notna(), out)
    return out.astype(str)


def _merge_repeats(seq: np.ndarray) -> np.ndarray:
    return seq[np.r_[True, seq[1:] != seq[:-1]]] if len(seq) else seq


def session_split(data: Interactions, *, test_days: float = 1.0, exclude_seen: bool = False) -> SessionSplit:
    """Split sessions (`data`'s users are sessions) in time, as in the session-based recommendation
    literature (Ludewig & Jannach 2018): sessions that started in the last `test_days` are the test set,
    sessions that ended before that moment the training set (the few that span it are left out). In a
    test session, consecutive repeats of one item are merged and items unknown to training removed;
    sessions left with fewer than two items cannot be scored and are dropped."""
    if test_days <= 0:
        raise InputError(
            f"test days must be positive, got {test_days!r}",
            field="test_days",
            value=test_days,
            hint="Use e.g. --test-days 1.",
        )
    cutoff = data.max_ts - test_days * DAY
    first = np.full(data.n_users, np.inf)
    last = np.full(data.n_users, -np.inf)
    np.minimum.at(first, data.user_idx, data.ts)
    np.maximum.at(last, data.user_idx, data.ts)
    train_sessions = last < cutoff
    test_sessions = first >= cutoff
    train = data.select(train_sessions[data.user_idx])
    known = np.zeros(data.n_items, dtype=bool)
    known[train.item_idx] = True
    in_test = test_sessions[data.user_idx] & known[data.item_idx]
    order = np.flatnonzero(in_test)
    order = order[np.lexsort((order, data.ts[order], data.user_idx[order]))]
    u, it = data.user_idx[order], data.item_idx[order].astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, u[1:] != u[:-1], True])
    test = [_merge_repeats(it[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
    test = [t for t in test if len(t) >= 2]
    info = {
        "cutoff": pd.Timestamp(int(cutoff), unit="s").isoformat(),
        "train_sessions": int(train_sessions.sum()),
        "train_events": int(len(train)),
        "test_sessions": len(test),
        "test_predictions": int(sum(len(t) - 1 for t in test)),
        "spanning_sessions_dropped": int((~train_sessions & ~test_sessions & np.isfinite(first)).sum()),
    }
    return SessionSplit(train, test, exclude_seen, info)


def session_metrics(
    score_fn: Callable[[list[np.ndarray]], np.ndarray], split_: SessionSplit, k: int = 20, batch: int = 256
) -> dict[str, float]:
    """Recall@k (hit rate: one target per prediction) and MRR@k of a scorer ``prefixes -> (b, n_items)``,
    for next-item prediction (every prefix of every test session predicts the item after it) and
    last-item prediction (the whole session but its last item predicts that item); ties at random (the
    expected value), seen-in-session items removed from the ranking when `exclude_seen`."""
    prefixes, targets, is_last = [], [], []
    for seq in split_.test:
        for t in range(1, len(seq)):
            prefixes.append(seq[:t])
            targets.append(seq[t])
            is_last.append(t == len(seq) - 1)
    targets_a = np.asarray(targets, dtype=np.int64)
    last_a = np.asarray(is_last, dtype=bool)
    harmonic = np.r_[0.0, np.cumsum(1.0 / np.arange(1, k + 1))]
    recall = np.zeros(len(targets_a))
    mrr = np.zeros(len(targets_a))
    n_items = split_.train.n_items
    recommended = np.zeros(n_items, dtype=bool)
    for start in range(0, len(prefixes), batch):
        pre = prefixes[start : start + batch]
        scores = np.array(score_fn(pre), dtype=np.float64, copy=True)
        scores[np.isnan(scores)] = -np.inf
        if split_.exclude_seen:
            rows = np.repeat(np.arange(len(pre)), [len(p) for p in pre])
            scores[rows, np.concatenate(pre)] = -np.inf
        tgt = targets_a[start : start + len(pre)]
        ts_ = scores[np.arange(len(pre)), tgt]
        gt = (scores > ts_[:, None]).sum(axis=1)
        eq = (scores == ts_[:, None]).sum(axis=1)
        ok = np.isfinite(ts_)
        hi = np.minimum(gt + eq, k)
        recall[start : start + len(pre)] = np.where(ok, np.clip(k - gt, 0, None) / np.maximum(eq, 1), 0.0).clip(0, 1)
        mrr[start : start + len(pre)] = np.where(
            ok & (gt < k), (harmonic[hi] - harmonic[np.minimum(gt, k)]) / np.maximum(eq, 1), 0.0
        )
        idx, _ = top_n(scores, k)
        recommended[idx[idx >= 0]] = True
    n, n_last = max(len(targets_a), 1), max(int(last_a.sum()), 1)
    return {
        f"recall@{k}": float(recall.sum() / n),
        f"mrr@{k}": float(mrr.sum() / n),
        f"last_recall@{k}": float(recall[last_a].sum() / n_last),
        f"last_mrr@{k}": float(mrr[last_a].sum() / n_last),
        "coverage": float(recommended.mean()) if n_items else 0.0,
        "predictions": int(len(targets_a)),
        "sessions": len(split_.test),
    }
