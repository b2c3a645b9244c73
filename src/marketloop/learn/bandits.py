"""Bandit policies over variants: Thompson sampling (binary or revenue rewards) and LinUCB.

Protocol (as in Open Bandit Pipeline): ``select(n, rng)`` draws n arms (contextual: ``select(X)``),
``update(arms, rewards)`` adds outcomes as they arrive, ``allocation()`` gives the traffic shares with
an exploration floor, ``should_stop()`` says when one arm is best with enough confidence.
"""

from __future__ import annotations

import numpy as np

from marketloop.errors import InputError


def _check_arms(n_arms: int) -> None:
    if not isinstance(n_arms, (int, np.integer)) or n_arms < 2:
        raise InputError(
            f"n_arms: expected an integer >= 2, got {n_arms!r}",
            field="n_arms",
            value=n_arms,
            hint="A bandit chooses between at least two variants.",
        )


class ThompsonSampling:
    """Thompson sampling. ``reward="binary"``: Beta-Bernoulli per arm. ``reward="revenue"``: the
    reward is revenue per message = conversion x spend; conversion is Beta-Bernoulli and the mean
    spend of converters has a normal posterior (with a weak prior at ``prior_spend``).

    ``floor`` is the total share reserved for exploration, spread evenly over arms; ``stop_prob`` the
    posterior probability of being best at which :meth:`should_stop` says one arm has won.
    """

    def __init__(
        self,
        n_arms: int,
        *,
        reward: str = "binary",
        floor: float = 0.1,
        stop_prob: float = 0.95,
        prior: tuple[float, float] = (1.0, 1.0),
        prior_spend: float = 100.0,
        n_draws: int = 4000,
        random_state: int | None = 0,
    ) -> None:
        self.n_arms = n_arms
        self.reward = reward
        self.floor = floor
        self.stop_prob = stop_prob
        self.prior = prior
        self.prior_spend = prior_spend
        self.n_draws = n_draws
        self.random_state = random_state
        _check_arms(n_arms)
        if reward not in ("binary", "revenue"):
            raise InputError(
                f"reward: expected 'binary' or 'revenue', got {reward!r}",
                field="reward",
                value=reward,
                hint="Use 'binary' for conversions, 'revenue' for spend per message.",
            )
        if not 0 <= floor < 1:
            raise InputError(
                f"floor: expected 0 <= floor < 1, got {floor}", field="floor", value=floor, hint="E.g. 0.1."
            )
        self.trials_ = np.zeros(n_arms)
        self.successes_ = np.zeros(n_arms)
        self.spend_sum_ = np.zeros(n_arms)
        self.spend_sq_ = np.zeros(n_arms)
        self._rng = np.random.default_rng(random_state)

    def update(self, arms, rewards) -> ThompsonSampling:  # noqa: ANN001
        arms, rewards = np.asarray(arms, dtype=int), np.asarray(rewards, dtype=float)
        if arms.shape != rewards.shape:
            raise InputError(
                f"arms and rewards must have the same length, got {arms.shape} and {rewards.shape}",
                field="rewards",
                value=rewards.shape,
                hint="One reward per chosen arm.",
            )
        if len(arms) and (arms.min() < 0 or arms.max() >= self.n_arms):
            raise InputError(
                f"arms: expected 0..{self.n_arms - 1}", field="arms", value=int(arms.max()), hint="Arms are indices."
            )
        if self.reward == "binary" and np.any((rewards != 0) & (rewards != 1)):
            raise InputError(
                "rewards: expected 0/1 for reward='binary'",
                field="rewards",
                value=rewards[:3].tolist(),
                hint="Use reward='revenue' for amounts.",
            )
        np.add.at(self.trials_, arms, 1)
        np.add.at(self.successes_, arms, rewards > 0)
        np.add.at(self.spend_sum_, arms, np.where(rewards > 0, rewards, 0.0))
        np.add.at(self.spend_sq_, arms, np.where(rewards > 0, rewards, 0.0) ** 2)
        return self

    def sample_means(self, n: int) -> np.ndarray:
        """(n, arms) posterior draws of each arm's expected reward."""
        a = self.prior[0] + self.successes_
        b = self.prior[1] + self.trials_ - self.successes_
        p = self._rng.beta(a, b, size=(n, self.n_arms))
        if self.reward == "binary":
            return p
        k = self.successes_
        mean = (self.spend_sum_ + self.prior_spend) / (k + 1)
        var = np.where(
            k > 1, (self.spend_sq_ - self.spend_sum_**2 / np.maximum(k, 1)) / np.maximum(k - 1, 1), self.prior_spend**2
        )
        spend = self._rng.normal(mean, np.sqrt(var / (k + 1)), size=(n, self.n_arms))
        return p * np.maximum(spend, 0.0)

    def prob_best(self) -> np.ndarray:
        draws = self.sample_means(self.n_draws)
        return np.bincount(draws.argmax(axis=1), minlength=self.n_arms) / self.n_draws

    def allocation(self) -> np.ndarray:
        """Traffic shares: probability of being best, mixed with the exploration floor."""
        return self.floor / self.n_arms + (1 - self.floor) * self.prob_best()

    def select(self, n: int) -> np.ndarray:
        return self._rng.choice(self.n_arms, size=n, p=self.allocation())

    def should_stop(self, min_trials: int = 100) -> bool:
        return bool(self.trials_.min() >= min_trials and self.prob_best().max() >= self.stop_prob)


class LinUCB:
    """Disjoint LinUCB (one ridge regression per arm): choose argmax x'theta_a + alpha sqrt(x'A_a^-1 x)."""

    def __init__(
        self,
        n_arms: int,
        n_features: int,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        floor: float = 0.0,
        random_state: int | None = 0,
    ) -> None:
        self.n_arms = n_arms
        self.n_features = n_features
        self.alpha = alpha
        self.ridge = ridge
        self.floor = floor
        self.random_state = random_state
        _check_arms(n_arms)
        self.A_ = np.stack([np.eye(n_features) * ridge for _ in range(n_arms)])
        self.b_ = np.zeros((n_arms, n_features))
        self._rng = np.random.default_rng(random_state)

    def _x(self, X) -> np.ndarray:  # noqa: ANN001
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_features:
            raise InputError(
                f"X: expected {self.n_features} features, got {X.shape[1]}",
                field="X",
                value=X.shape,
                hint="Use the same features as at construction.",
            )
        return X

    def scores(self, X) -> np.ndarray:  # noqa: ANN001
        X = self._x(X)
        inv = np.linalg.inv(self.A_)
        theta = np.einsum("aij,aj->ai", inv, self.b_)
        mean = X @ theta.T
        width = np.sqrt(np.einsum("ni,aij,nj->na", X, inv, X))
        return mean + self.alpha * width

    def select(self, X) -> np.ndarray:  # noqa: ANN001
        chosen = self.scores(X).argmax(axis=1)
        explore = self._rng.random(len(chosen)) < self.floor
        chosen[explore] = self._rng.integers(0, self.n_arms, explore.sum())
        return chosen

    def update(self, X, arms, rewards) -> LinUCB:  # noqa: ANN001
        X = self._x(X)
        for x, a, r in zip(X, np.asarray(arms, dtype=int), np.asarray(rewards, dtype=float), strict=True):
            self.A_[a] += np.outer(x, x)
            self.b_[a] += r * x
        return self
