"""The hybrid recommender: candidates from several models, re-ranked by LightGBM LambdaRank.

Training never looks at the evaluation period. The training log is cut `val_days` before its end:
candidate models are fitted on the earlier part, candidates and features are computed as of the cut,
and what customers then bought in the last `val_days` are the labels the ranker learns. The candidate
models are then refitted on the whole training log, and features recomputed as of its end, for serving.
With `n_windows` windows (each `val_days` long, going back in time) the ranker learns from all of them.

The number of trees is chosen the same way, inside training: a probe ranker learns from the older
windows and is scored (NDCG@10) on the most recent one, stopping when more trees stop helping; the
final ranker learns from every window with that many trees. Too many trees overfit small logs (a few
hundred customers buying in a window), too few underfit large ones, and the choice follows the data
without looking at any evaluation period.

Candidates per customer: the items they already interacted with (repeat purchases are a large share
of real baskets), the top `n_candidates` of each candidate model and the trending items.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from marketloop.errors import DependencyError, InputError
from marketloop.recs.base import BaseRecommender, load_model, model_class, register, top_n
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.features import FeatureState
from marketloop.recs.popularity import decayed_counts

log = logging.getLogger(__name__)
DAY = 86_400


class _Stage:
    """Candidate models plus feature state fitted on one log."""

    def __init__(self, models: dict[str, BaseRecommender], state: FeatureState, trending: np.ndarray, seen) -> None:  # noqa: ANN001
        self.models = models
        self.state = state
        self.trending = trending
        self.seen = seen


class _Fold:
    """One validation fold: the ranker's rows, the candidate models fitted before it, its history and
    its labels (who is labelled, and with which items)."""

    def __init__(self, rows: tuple, stage: _Stage, inner: Interactions, users: np.ndarray, labels) -> None:  # noqa: ANN001
        self.rows = rows
        self.stage = stage
        self.inner = inner
        self.users = users
        self.labels = labels


#: how the ranker's validation folds are cut: the same way as the evaluation protocol it is measured by
VALIDATIONS = ("temporal", "leave-last-out", "random-stratified")


@register
class Hybrid(BaseRecommender):
    """LightGBM LambdaRank over candidates from `candidates` models plus own-history and trending."""

    name = "hybrid"
    # 2: the ranker's multi-behaviour features; 3: validation folds per protocol and the candidate guard
    schema_version = 3
    _params = (
        "candidates",
        "n_candidates",
        "val_days",
        "n_windows",
        "min_rating",
        "n_estimators",
        "learning_rate",
        "early_stopping_rounds",
        "negatives_per_customer",
        "max_train_users",
        "validation",
        "exclude_seen",
        "random_state",
    )

    def __init__(
        self,
        candidates: tuple[str, ...] | list[str] = ("als", "ease", "itemknn"),
        n_candidates: int = 50,
        val_days: float = 30.0,
        n_windows: int = 3,
        min_rating: float | None = None,
        n_estimators: int = 200,
        learning_rate: float = 0.08,
        early_stopping_rounds: int | None = 20,
        negatives_per_customer: int = 100,
        max_train_users: int = 5000,
        validation: str = "temporal",
        exclude_seen: bool = False,
        random_state: int = 0,
    ) -> None:
        self.candidates = candidates
        self.n_candidates = n_candidates
        self.val_days = val_days
        self.n_windows = n_windows
        self.min_rating = min_rating
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.negatives_per_customer = negatives_per_customer
        self.max_train_users = max_train_users
        self.validation = validation
        self.exclude_seen = exclude_seen
        self.random_state = random_state

    # -- stages --------------------------------------------------------------------------------
    def _stage(self, data: Interactions, catalog: Catalog | None) -> _Stage:
        models = {}
        for name in self.candidates:
            if name == "hybrid":
                raise InputError(
                    "the hybrid cannot use itself as a candidate model",
                    field="candidates",
                    value=name,
                    hint="Use als, ease, itemknn, bpr, content or sasrec.",
                )
            models[name] = model_class(name)().fit(data, catalog)
        trending = decayed_counts(data, 7.0)
        return _Stage(
            models,
            FeatureState.build(data, catalog, recent_days=min(30.0, self.val_days), min_rating=self.min_rating),
            trending,
            data.binary.tocsr(),
        )

    def _batch_rows(self, stage: _Stage, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs and features for a block of users: (row_in_block, item, X)."""
        n_items = stage.seen.shape[1]
        mask = np.zeros((len(users), n_items), dtype=bool)
        seen = stage.seen[users]
        seen_rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
        mask[seen_rows, seen.indices] = True
        score_cols = []
        for model in stage.models.values():
            s = model.score_users(users)
            idx, _ = top_n(s, self.n_candidates)
            r = np.repeat(np.arange(len(users)), idx.shape[1])
            ok = idx.ravel() >= 0
            mask[r[ok], idx.ravel()[ok]] = True
            score_cols.append(s)
        idx, _ = top_n(np.broadcast_to(stage.trending, (1, n_items)), min(self.n_candidates, n_items))
        mask[:, idx[0][idx[0] >= 0]] = True
        if self.exclude_seen:  # the evaluation removes them from the ranking: no use learning to rank them
            mask[seen_rows, seen.indices] = False
        rows, items = np.nonzero(mask)
        feats = [stage.state.features(users[rows], items)]
        for s in score_cols:
            v = s[rows, items]
            v = np.where(np.isfinite(v), v, np.nan)
            feats.append(v[:, None])
            feats.append(_rank_within(rows, np.nan_to_num(v, nan=-1e30))[:, None])
        feats.append(np.log1p(stage.trending[items])[:, None])
        return rows, items, np.column_stack(feats)

    def feature_names(self) -> list[str]:
        names = FeatureState.names()
        for m in self.candidates:
            names += [f"{m}_score", f"{m}_rank"]
        return [*names, "trending"]

    def _block(self, n_items: int) -> int:
        return int(max(8, min(512, 4_000_000 // max(n_items, 1))))

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        try:
            import lightgbm as lgb
        except ImportError:  # pragma: no cover
            raise DependencyError("the hybrid ranker needs lightgbm", hint="pip install 'marketloop[ml]'") from None
        if self.validation not in VALIDATIONS:
            raise InputError(
                f"hybrid validation {self.validation!r} is not known (expected one of: {', '.join(VALIDATIONS)})",
                field="validation",
                value=self.validation,
                hint="Use the protocol the model is evaluated with: temporal, leave-last-out or random-stratified.",
            )
        folds = [self._window(interactions, catalog, w) for w in range(1, max(self.n_windows, 1) + 1)]
        windows = [f.rows if f is not None else None for f in folds]
        if not any(windows):
            raise InputError(
                f"the hybrid needs history before and purchases in the last {self.val_days:g} days of the "
                "training data to learn its ranker"
                if self.validation == "temporal"
                else f"the hybrid found no customer with history and a held-out purchase ({self.validation})",
                field="val_days",
                value=self.val_days,
                hint="Use a shorter validation window (val_days) or more history.",
            )
        self.n_estimators_, self.val_ndcg_, probe = self._select_trees(lgb, windows)
        self.fallback_, self.validation_ = None, {}
        if probe is not None and folds[0] is not None:
            self.fallback_, self.validation_ = self._guard(probe, folds[0])
        for f in folds:
            if f is not None:
                f.stage = None  # free the candidate models of each fold
        rows = _stack([w for w in windows if w])
        self.n_train_rows_ = int(len(rows[1]))
        self.n_train_groups_ = int(len(rows[2]))
        self.booster_ = self._train(lgb, rows, self.n_estimators_)
        log.info(
            "hybrid ranker: %d rows, %d groups, %d trees (validation NDCG@10 %s)%s",
            self.n_train_rows_,
            self.n_train_groups_,
            self.n_estimators_,
            self.val_ndcg_,
            f"; serves {self.fallback_}, which ranked better on the latest fold" if self.fallback_ else "",
        )
        self._serving = self._stage(interactions, catalog)
        self._fallback_model = (
            None
            if self.fallback_ is None or self.fallback_ in self._serving.models
            else model_class(self.fallback_)().fit(interactions, catalog)
        )
        self.cache_idx_ = self.cache_scores_ = None

    def _guard(self, probe, fold: _Fold) -> tuple[str | None, dict[str, float]]:  # noqa: ANN001
        """Whether a candidate alone ranks the latest fold better than the ranker (the probe, which never
        saw that fold): full-ranking NDCG@10 of the probe, of each candidate model and of buy-again (the
        customer's own items, which the hybrid always considers). The hybrid serves the winner, so it is
        never worse than its best candidate by the fold's measure."""
        from marketloop.recs.evaluation import Split, ranking_metrics
        from marketloop.recs.popularity import BuyAgain

        users = fold.users
        if len(users) > 2000:
            users = np.sort(np.random.default_rng(self.random_state).choice(users, 2000, replace=False))
        sp_ = Split(fold.inner, fold.labels, users, self.validation, self.exclude_seen)
        scorers = {name: m.score_users for name, m in fold.stage.models.items()}
        scorers["buyagain"] = BuyAgain().fit(fold.inner).score_users
        scores = {name: ranking_metrics(f, sp_, k=10)["ndcg@10"] for name, f in scorers.items()}
        scores["hybrid"] = ranking_metrics(lambda u: self._rank(u, fold.stage, probe), sp_, k=10)["ndcg@10"]
        best = max(scores, key=lambda n: (scores[n], n == "hybrid"))
        return (None if best == "hybrid" else best), {k: round(v, 5) for k, v in scores.items()}

    def _lgb_params(self) -> dict:
        """LambdaRank settings (LightGBM's own parameter names, as the native training API takes them)."""
        return {
            "objective": "lambdarank",
            "learning_rate": self.learning_rate,
            "num_leaves": 31,
            "min_child_samples": 50,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "lambdarank_truncation_level": 20,
            "max_bin": 63,
            "seed": self.random_state,
            "num_threads": 2,
            "verbose": -1,
        }

    def _train(self, lgb, rows: tuple, rounds: int, valid: tuple | None = None):  # noqa: ANN001, ANN202
        """A LambdaRank booster on (features, labels, group sizes); with `valid`, scored by NDCG@10 on it
        after every tree and stopped `early_stopping_rounds` trees after the best."""
        x, y, groups = rows
        data = lgb.Dataset(x, y, group=groups, feature_name=self.feature_names(), free_raw_data=True)
        if valid is None:
            return lgb.train(self._lgb_params(), data, num_boost_round=rounds)
        xv, yv, gv = valid
        held = lgb.Dataset(xv, yv, group=gv, reference=data)
        return lgb.train(
            {**self._lgb_params(), "metric": "ndcg", "eval_at": [10]},
            data,
            num_boost_round=rounds,
            valid_sets=[held],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )

    def _select_trees(self, lgb, windows: list) -> tuple[int, float | None, object]:  # noqa: ANN001
        """How many trees to train, chosen on the training data alone: a probe ranker learns from the older
        windows and is scored (NDCG@10) on the most recent one after each tree; training stops
        `early_stopping_rounds` trees after the best. The final ranker then learns from every window with
        that many trees. Without early stopping, or with a single window, `n_estimators` is used as given.
        Returns the count, the probe's best score and the probe (None without one)."""
        older = [w for w in windows[1:] if w]
        if not self.early_stopping_rounds or not windows[0] or not older:
            return int(self.n_estimators), None, None
        probe = self._train(lgb, _stack(older), self.n_estimators, valid=windows[0])
        best = int(probe.best_iteration or self.n_estimators)
        return max(best, 1), float(probe.best_score["valid_0"]["ndcg@10"]), probe

    def _fold(self, data: Interactions, window: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(events the candidate models learn from, events that are the labels) of validation fold
        `window`, cut the way the evaluation protocol cuts (`validation`):

        - temporal: the `window`-th last `val_days` days are the labels, everything before them the history;
        - leave-last-out: each customer's `window`-th last qualifying event is the label; it and everything
          the customer did after it leave the history (events at the same moment stay, as in the split);
        - random-stratified: a random quarter of each customer's events (seed per fold) are the labels.
        """
        relevant = np.ones(len(data), bool) if self.min_rating is None else data.weight >= self.min_rating
        if self.validation == "temporal":
            end = data.max_ts - (window - 1) * self.val_days * DAY
            cut = end - self.val_days * DAY
            early = data.ts < cut
            return early, ~early & (data.ts <= end) & relevant
        if self.validation == "leave-last-out":
            order = np.lexsort((np.arange(len(data)), data.ts, data.user_idx))
            cand = order[relevant[order]]
            u = data.user_idx[cand]
            from_end = np.zeros(len(cand), dtype=np.int64)  # 0 for each customer's last qualifying event
            if len(cand):
                ends = np.r_[np.flatnonzero(u[1:] != u[:-1]), len(u) - 1]
                user_end = np.repeat(ends, np.diff(np.r_[-1, ends]))
                from_end = user_end - np.arange(len(cand))
            label = np.zeros(len(data), dtype=bool)
            label[cand[from_end == window - 1]] = True
            label_ts = np.full(data.n_users, np.inf)
            label_ts[data.user_idx[label]] = data.ts[label]
            history = ~label & (data.ts <= label_ts[data.user_idx])
            return history, label
        rng = np.random.default_rng(self.random_state + 1000 * window)
        held = rng.random(len(data)) < 0.25
        return ~held, held & relevant

    def _window(self, interactions: Interactions, catalog: Catalog | None, window: int) -> _Fold | None:
        """Ranker rows (features, labels, group sizes) of validation fold `window` (see :meth:`_fold`),
        with the fold's candidate models and labels; None when the fold has no history or no labels."""
        cut = self._fold(interactions, window)
        if cut is None:
            return None
        early, later = cut
        inner = interactions.select(early)
        if len(inner) == 0 or not later.any():
            return None
        has_hist = np.zeros(interactions.n_users, bool)
        has_hist[inner.user_idx] = True
        label_users = np.unique(interactions.user_idx[later])
        label_users = label_users[has_hist[label_users]]
        rng = np.random.default_rng(self.random_state + window)
        if len(label_users) > self.max_train_users:
            label_users = np.sort(rng.choice(label_users, self.max_train_users, replace=False))
        labels = sp.csr_matrix(
            (np.ones(int(later.sum()), np.float32), (interactions.user_idx[later], interactions.item_idx[later])),
            shape=(interactions.n_users, interactions.n_items),
        )
        labels.sum_duplicates()
        labels.data[:] = 1.0
        if self.exclude_seen:
            labels = (labels - labels.multiply(inner.binary)).tocsr()
            labels.eliminate_zeros()
        label_users = label_users[np.diff(labels.indptr)[label_users] > 0]
        if not len(label_users):
            return None
        stage = self._stage(inner, catalog)
        block = self._block(interactions.n_items)
        xs, ys, groups = [], [], []
        for start in range(0, len(label_users), block):
            users = label_users[start : start + block]
            rows, items, x = self._batch_rows(stage, users)
            lab = labels[users]
            y = np.asarray(lab[rows, items]).ravel().astype(np.int8)
            pos_per = np.bincount(rows, weights=y, minlength=len(users))
            keep_users = pos_per > 0  # groups without a positive teach LambdaRank nothing
            # all positives and a random sample of negatives per customer: faster, barely less accurate
            draw = np.where(y > 0, -1.0, rng.random(len(y)))
            keep = keep_users[rows] & (_rank_within(rows, -draw) <= self.negatives_per_customer + pos_per[rows])
            xs.append(x[keep])
            ys.append(y[keep])
            groups.extend(np.bincount(rows[keep], minlength=len(users))[keep_users].tolist())
        if not groups:
            return None
        return _Fold((np.vstack(xs), np.concatenate(ys), groups), stage, inner, label_users, labels)

    # -- scoring -------------------------------------------------------------------------------
    def _fallback_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores below every ranked candidate, ordered by trend and then by all-time popularity (so the
        items no candidate model proposed are not one block of ties), and that order (computed once per
        stage). Items with neither trend nor buyers stay tied: the evaluation scores them as ties."""
        t = self._serving.trending
        cached = getattr(self, "_fallback_cache", None)
        if cached is None or cached[0] is not t:
            pop = np.bincount(self._serving.seen.indices, minlength=len(t)).astype(np.float64)
            fallback = -1e6 + t / (t.max() + 1.0) + 1e-3 * pop / (pop.max() + 1.0)
            cached = (t, fallback, np.argsort(-fallback, kind="stable"))
            self._fallback_cache = cached
        return cached[1], cached[2]

    def _fallback(self) -> np.ndarray:
        return self._fallback_parts()[0]

    def _rank(self, user_idx: np.ndarray, stage: _Stage | None = None, booster=None) -> np.ndarray:  # noqa: ANN001
        """Run the candidate models and the ranker (the slow path); `stage` and `booster` default to the
        serving ones (the guard passes a validation fold's). A hybrid that serves one of its candidates
        (``fallback_``) returns that model's scores."""
        if stage is None and getattr(self, "fallback_", None):
            chosen = self._serving.models.get(self.fallback_) or self._fallback_model
            return chosen.score_users(user_idx)
        stage = stage or self._serving
        booster = booster or self.booster_
        n_items = stage.seen.shape[1]
        if stage is getattr(self, "_serving", None):
            out = np.tile(self._fallback(), (len(user_idx), 1))
        else:
            t = stage.trending
            out = np.tile(-1e6 + t / (t.max() + 1.0), (len(user_idx), 1))
        block = self._block(n_items)
        for start in range(0, len(user_idx), block):
            users = user_idx[start : start + block]
            rows, items, x = self._batch_rows(stage, users)
            pred = booster.predict(x, num_threads=1) if len(x) else np.zeros(0)
            out[start + rows, items] = pred
        return out

    def precompute(self, n: int = 200) -> Hybrid:
        """Rank every known customer once and keep their top `n` (how serving stays in milliseconds:
        a request then reads a stored list instead of running four models and the ranker)."""
        self._check_fitted()
        n = min(n, len(self.items_))
        idx = np.full((len(self.users_), n), -1, dtype=np.int32)
        vals = np.full((len(self.users_), n), -np.inf, dtype=np.float64)
        block = self._block(len(self.items_))
        for start in range(0, len(self.users_), block):
            users = np.arange(start, min(start + block, len(self.users_)))
            i, v = top_n(self._rank(users), n)
            idx[users], vals[users] = i, v
        self.cache_idx_, self.cache_scores_ = idx, vals
        return self

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        if getattr(self, "cache_idx_", None) is None:
            return self._rank(user_idx)
        out = np.tile(self._fallback(), (len(user_idx), 1))
        idx, vals = self.cache_idx_[user_idx], self.cache_scores_[user_idx]
        ok = idx >= 0
        rows = np.repeat(np.arange(len(user_idx)), ok.sum(axis=1))
        out[rows, idx[ok]] = vals[ok]
        return out

    def head_for_user(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """At most `k` of the customer's precomputed list (best first); None when nothing is precomputed."""
        if getattr(self, "cache_idx_", None) is None:
            return None
        idx, vals = self.cache_idx_[u], self.cache_scores_[u]
        m = min(k, int(np.count_nonzero(idx >= 0)))  # the list is best first, padded with -1 at its end
        return idx[:m].astype(np.int64), vals[:m]

    def top_for_user(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The customer's precomputed list, continued by trend when `k` is longer: the same answer as
        ranking :meth:`_score`'s dense row, without building it."""
        head = self.head_for_user(u, k)
        if head is None:
            return super().top_for_user(u, k)
        idx, vals = head
        m = len(idx)
        if k <= m:
            return idx, vals
        fallback, order = self._fallback_parts()
        listed = np.zeros(len(fallback), dtype=bool)
        listed[idx] = True
        first = order[:k]  # holds at least k - m unlisted items, as at most m are listed
        extra = first[~listed[first]][: k - m]
        return np.concatenate([idx, extra]), np.concatenate([vals, fallback[extra]])

    def feature_importance(self) -> dict[str, float]:
        gain = self.booster_.feature_importance(importance_type="gain")
        return dict(sorted(zip(self.feature_names(), gain.tolist(), strict=False), key=lambda kv: -kv[1]))

    # -- persistence -----------------------------------------------------------------------------
    def _save_files(self, folder: Path) -> None:
        (folder / "ranker.txt").write_text(self.booster_.model_to_string())
        for name, model in self._serving.models.items():
            model.save(folder / "candidates" / name)
        if getattr(self, "_fallback_model", None) is not None:
            self._fallback_model.save(folder / "fallback")

    def _extra(self) -> dict:
        return {
            "n_train_rows": self.n_train_rows_,
            "n_train_groups": self.n_train_groups_,
            "n_estimators_selected": self.n_estimators_,
            "validation_ndcg@10": self.val_ndcg_,
            "serves": self.fallback_,
            "fold_ndcg@10": self.validation_,
        }

    def _state(self) -> dict[str, np.ndarray]:
        st = self._serving.state
        cache = (
            {}
            if getattr(self, "cache_idx_", None) is None
            else {"cache_idx_": self.cache_idx_, "cache_scores_": self.cache_scores_}
        )
        return {
            "trending": self._serving.trending,
            **cache,
            **{f"fs__{k}": np.asarray(v) for k, v in vars(st).items()},
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        self._loaded_arrays = arrays
        self.n_train_rows_ = extra.get("n_train_rows")
        self.n_train_groups_ = extra.get("n_train_groups")
        self.n_estimators_ = extra.get("n_estimators_selected")
        self.val_ndcg_ = extra.get("validation_ndcg@10")
        self.fallback_ = extra.get("serves")
        self.validation_ = extra.get("fold_ndcg@10", {})

    def _load_files(self, folder: Path) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_str=(folder / "ranker.txt").read_text())
        a = self._loaded_arrays
        fs = {k.removeprefix("fs__"): v for k, v in a.items() if k.startswith("fs__")}
        for k in ("n_items", "n_cats"):
            fs[k] = int(fs[k])
        fs["now"] = float(fs["now"])
        models = {name: load_model(folder / "candidates" / name) for name in self.candidates}
        self._serving = _Stage(models, FeatureState(**fs), a["trending"], self.seen_)
        self._fallback_model = load_model(folder / "fallback") if (folder / "fallback").exists() else None
        self.cache_idx_ = a.get("cache_idx_")
        self.cache_scores_ = a.get("cache_scores_")
        del self._loaded_arrays


def _stack(windows: list[tuple[np.ndarray, np.ndarray, list[int]]]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One training set from several windows' (features, labels, group sizes)."""
    return (
        np.vstack([w[0] for w in windows]),
        np.concatenate([w[1] for w in windows]),
        [g for w in windows for g in w[2]],
    )


def _rank_within(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based rank of each value within its row group, largest first (rows are sorted, as from nonzero)."""
    order = np.lexsort((-values, rows))
    starts = np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]
    pos = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    rank = np.empty(len(rows), dtype=np.float64)
    rank[order] = pos + 1
    return rank
