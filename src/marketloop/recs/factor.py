"""Matrix factorisation through the `implicit` library: ALS (Hu, Koren & Volinsky) and BPR."""

from __future__ import annotations

import numpy as np

from marketloop.errors import DependencyError
from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions


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
    """Bayesian personalised ranking (pairwise SGD) from `implicit`."""

    name = "bpr"
    _params = ("factors", "learning_rate", "regularization", "iterations", "random_state")

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        imp = _implicit()
        self._train(
            lambda: imp.cpu.bpr.BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
            ),
            interactions,
        )
