"""Matrix factorisation through the `implicit` library: ALS (Hu, Koren & Volinsky) and BPR."""

from __future__ import annotations

import numpy as np

from marketloop.errors import DependencyError
from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import heldout_ndcg


def _implicit():  # noqa: ANN202
    try:
        import implicit.cpu.als
        import implicit.cpu.bpr
    except ImportError:  # pragma: no cover - depends on the environment
        raise DependencyError(
            "the ALS and BPR models need the `implicit` package",
            hint="pip install 'marketloop[ml]'",
        ) from None
    return implicit


class _Factorisation(BaseRecommender):
    _user_state = ("user_factors_",)

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        f = self.item_factors_
        norms = np.linalg.norm(f, axis=1) + 1e-9
        return (f[item_idx] @ f.T) / (norms[item_idx, None] * norms[None, :])

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    def _train(self, make, interactions: Interactions) -> None:  # noqa: ANN001
        from threadpoolctl import threadpool_limits

        # implicit warns when BLAS runs multi-threaded next to its own threads; its advice is one BLAS thread.
        with threadpool_limits(1, "blas"):
            model = make()
            model.fit(self._confidence(interactions), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _confidence(self, interactions: Interactions):  # noqa: ANN202
        m = interactions.matrix.astype(np.float32).tocsr()
        m.data = np.log1p(np.clip(m.data, 0, None))
        m.eliminate_zeros()
        return m


@register
class ALS(_Factorisation):
    """Implicit-feedback ALS; confidence = 1 + alpha * log(1 + count)."""

    name = "als"
    _params = ("factors", "regularization", "alpha", "iterations", "random_state")

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        imp = _implicit()
        self._train(
            lambda: imp.cpu.als.AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
            ),
            interactions,
        )


@register
class BPR(_Factorisation):
    """Bayesian personalised ranking (pairwise SGD) from `implicit`, with its settings chosen on a
    validation tail inside `fit`.

    BPR is sensitive to its learning rate and regularisation, and one fixed setting that suits one log
    ranks below popularity on another (0.095 vs 0.010 NDCG@10 on the Taobao sample between learning
    rates 0.05 and 0.01). So each customer's last item (for up to `val_users` customers with two or more)
    is held out; every combination of `learning_rate` x `regularization` (a number fixes it, a list is
    searched) is trained on the rest, ranked every `eval_every` iterations on the held-out items (full
    ranking, NDCG@10, seen items removed when the evaluation removes them) and stopped `patience` checks
    after its best; the best combination and iteration count are then refitted on the whole log.
    """

    name = "bpr"
    _params = (
        "factors",
        "learning_rate",
        "regularization",
        "iterations",
        "eval_every",
        "patience",
        "val_users",
        "min_rating",
        "exclude_seen",
        "random_state",
    )

    def __init__(
        self,
        factors: int = 128,
        learning_rate: float | tuple[float, ...] | list[float] = (0.01, 0.05),
        regularization: float | tuple[float, ...] | list[float] = (0.01, 0.001),
        iterations: int = 200,
        eval_every: int = 10,
        patience: int = 3,
        val_users: int = 2000,
        min_rating: float | None = None,
        exclude_seen: bool = False,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.eval_every = eval_every
        self.patience = patience
        self.val_users = val_users
        self.min_rating = min_rating
        self.exclude_seen = exclude_seen
        self.random_state = random_state

    def _make(self, lr: float, reg: float, iterations: int):  # noqa: ANN202
        return _implicit().cpu.bpr.BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=lr,
            regularization=reg,
            iterations=iterations,
            random_state=self.random_state,
        )

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        from threadpoolctl import threadpool_limits

        grid = [(float(lr), float(reg)) for lr in _as_list(self.learning_rate) for reg in _as_list(self.regularization)]
        val = _validation_tail(interactions, self.val_users, self.min_rating, self.random_state, self.exclude_seen)
        self.learning_rate_, self.regularization_ = grid[0]
        self.iterations_, self.validation_ = int(self.iterations), {}
        if val is not None and (len(grid) > 1 or self.patience):
            keep, users, targets = val
            train = self._confidence(interactions.select(keep))
            results = {}
            with threadpool_limits(1, "blas"):
                for lr, reg in grid:
                    results[(lr, reg)] = self._trace(self._make(lr, reg, self.eval_every), train, users, targets)
            self.validation_ = {f"lr={lr:g},reg={reg:g}": round(v[1], 5) for (lr, reg), v in results.items()}
            (lr, reg), (best_iter, best) = max(results.items(), key=lambda kv: (kv[1][1], -kv[1][0]))
            if best > 0:  # a tail nobody's item lands on says nothing: keep the first setting, all iterations
                self.learning_rate_, self.regularization_, self.iterations_ = lr, reg, int(best_iter)
        self._train(lambda: self._make(self.learning_rate_, self.regularization_, self.iterations_), interactions)

    def _trace(self, model, train, users: np.ndarray, targets: np.ndarray) -> tuple[int, float]:  # noqa: ANN001
        """Train `model` `eval_every` iterations at a time (implicit continues from its current factors);
        the best (iterations, validation NDCG@10)."""
        best, best_iter, since, done = -1.0, self.eval_every, 0, 0
        seen = train[users]
        while done < self.iterations:
            model.fit(train, show_progress=False)
            done += self.eval_every
            scores = np.asarray(model.user_factors)[users] @ np.asarray(model.item_factors).T
            if self.exclude_seen:
                scores[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
            score = heldout_ndcg(scores, targets)
            if score > best:
                best, best_iter, since = score, done, 0
            else:
                since += 1
                if since >= self.patience:
                    break
        return best_iter, best


def _as_list(value: float | tuple[float, ...] | list[float]) -> list[float]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _validation_tail(
    data: Interactions, limit: int, min_rating: float | None, seed: int, new_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A leave-last-out tail inside a training log: for up to `limit` customers with earlier events, the
    last event at or above `min_rating` is the target (with `new_only`, the last one on an item the
    customer had not touched before, as when the evaluation removes seen items), and it and everything the
    customer did after it leave training. Returns (events kept, customers, target items), None when fewer
    than 10 qualify."""
    relevant = np.ones(len(data), bool) if min_rating is None else data.weight >= min_rating
    order = np.lexsort((np.arange(len(data)), data.ts, data.user_idx))
    if new_only:
        key = data.user_idx[order].astype(np.int64) * data.n_items + data.item_idx[order]
        first = np.zeros(len(data), dtype=bool)
        first[order[np.unique(key, return_index=True)[1]]] = True
        relevant = relevant & first
    cand = order[relevant[order]]
    u = data.user_idx[cand]
    last = cand[np.r_[u[1:] != u[:-1], True]] if len(cand) else cand
    first_ts = np.full(data.n_users, np.inf)
    np.minimum.at(first_ts, data.user_idx, data.ts.astype(np.float64))
    last = last[data.ts[last] > first_ts[data.user_idx[last]]]  # the customer did something before it
    if len(last) < 10:
        return None
    if len(last) > limit:
        last = np.sort(np.random.default_rng(seed).choice(last, limit, replace=False))
    cut = np.full(data.n_users, np.inf)
    cut[data.user_idx[last]] = data.ts[last]
    keep = data.ts < cut[data.user_idx]
    return keep, data.user_idx[last].astype(np.int64), data.item_idx[last].astype(np.int64)


@register
class BiasedMF(BaseRecommender):
    """Biased matrix factorisation for explicit ratings (Koren, Bell & Volinsky 2009):
    ``r_ui = mu + b_u + b_i + p_u . q_i``, fitted by alternating least squares with weighted-lambda
    regularisation (each user's and item's penalty scaled by its number of ratings; Zhou et al. 2008),
    which needs no learning rate and converges in a few sweeps.

    `predict(user_idx, item_idx)` gives ratings (clipped to the range seen in training), which is what
    RMSE is measured on; ranking uses the predicted rating of every item. The weight of each event is
    taken as its rating; a customer who rated an item twice counts with the latest rating.

    Written here rather than taken from a library: `implicit` has no explicit-feedback model and
    scikit-surprise builds from source and no longer keeps up with numpy; the model is a few lines of
    least squares.
    """

    name = "biasedmf"
    _params = ("factors", "regularization", "bias_regularization", "iterations", "random_state")
    _user_state = ("user_factors_", "user_bias_")

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.05,
        bias_regularization: float = 0.05,
        iterations: int = 15,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.iterations = iterations
        self.random_state = random_state

    def _ratings(self, data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.lexsort((np.arange(len(data)), data.ts))
        key = data.user_idx[order].astype(np.int64) * data.n_items + data.item_idx[order]
        last = np.r_[np.flatnonzero(np.diff(np.sort(key, kind="stable")) != 0), len(key) - 1] if len(key) else []
        sorted_order = order[np.argsort(key, kind="stable")]
        pick = sorted_order[last]
        return data.user_idx[pick].astype(np.int64), data.item_idx[pick].astype(np.int64), data.weight[pick]

    @staticmethod
    def _solve(m, other: np.ndarray, other_bias: np.ndarray, mu: float, lam: float, lam_b: float, n: int):  # noqa: ANN001, ANN205
        """One ALS half-step: factors and bias of each row of the CSR ratings `m` given the other side."""
        k = other.shape[1]
        factors = np.zeros((n, k), dtype=np.float64)
        bias = np.zeros(n, dtype=np.float64)
        z_all = np.c_[other, np.ones(len(other))]
        reg = np.r_[np.full(k, lam), lam_b]
        for r in range(n):
            a, b = m.indptr[r], m.indptr[r + 1]
            if a == b:
                continue
            cols = m.indices[a:b]
            z = z_all[cols]
            y = m.data[a:b] - mu - other_bias[cols]
            w = np.linalg.solve(z.T @ z + np.diag(reg * (b - a)), z.T @ y)
            factors[r], bias[r] = w[:k], w[k]
        return factors, bias

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        import scipy.sparse as sp

        u, i, r = self._ratings(interactions)
        r = r.astype(np.float64)
        self.mu_ = float(r.mean())
        self.rating_range_ = (float(r.min()), float(r.max()))
        shape = (interactions.n_users, interactions.n_items)
        by_user = sp.csr_matrix((r, (u, i)), shape=shape)
        by_item = by_user.T.tocsr()
        rng = np.random.default_rng(self.random_state)
        q = rng.normal(0, 0.1, (interactions.n_items, self.factors))
        bi = np.zeros(interactions.n_items)
        for _ in range(self.iterations):
            p, bu = self._solve(by_user, q, bi, self.mu_, self.regularization, self.bias_regularization, shape[0])
            q, bi = self._solve(by_item, p, bu, self.mu_, self.regularization, self.bias_regularization, shape[1])
        self.user_factors_, self.user_bias_ = p.astype(np.float32), bu.astype(np.float32)
        self.item_factors_, self.item_bias_ = q.astype(np.float32), bi.astype(np.float32)
        pred = self.predict(u, i)
        self.train_rmse_ = float(np.sqrt(np.mean((pred - r) ** 2)))

    def predict(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user, item) position pairs, clipped to the training range."""
        self._check_fitted()
        u, i = np.asarray(user_idx, dtype=np.int64), np.asarray(item_idx, dtype=np.int64)
        raw = (
            self.mu_
            + self.user_bias_[u]
            + self.item_bias_[i]
            + np.einsum("ij,ij->i", self.user_factors_[u], self.item_factors_[i])
        )
        return np.clip(raw, *self.rating_range_)

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return (
            self.mu_
            + self.user_bias_[user_idx, None]
            + self.item_bias_[None, :]
            + self.user_factors_[user_idx] @ self.item_factors_.T
        )

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        f = self.item_factors_
        norms = np.linalg.norm(f, axis=1) + 1e-9
        return (f[item_idx] @ f.T) / (norms[item_idx, None] * norms[None, :])

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_factors_": self.user_factors_,
            "user_bias_": self.user_bias_,
            "item_factors_": self.item_factors_,
            "item_bias_": self.item_bias_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        super()._set_state(arrays, extra)
        self.mu_ = float(extra["mu"])
        self.rating_range_ = tuple(extra["rating_range"])

    def _extra(self) -> dict:
        return {"mu": self.mu_, "rating_range": list(self.rating_range_)}
