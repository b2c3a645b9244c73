"""Off-policy estimators of a policy's expected reward from logs with propensities.

Each estimator has a unique ``name`` and ``estimate(rewards, actions, pscore, action_dist, q_hat)``:
``rewards`` (n,), logged ``actions`` (n,) as integer arms, ``pscore`` (n,) the logging policy's
probability of the logged action, ``action_dist`` (n, K) the evaluated policy's probabilities, and
``q_hat`` (n, K) a reward model's predictions (used by DM and DR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketloop.errors import InputError


def _check(rewards: np.ndarray, actions: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray) -> None:
    n = len(rewards)
    if not (len(actions) == len(pscore) == action_dist.shape[0] == n):
        raise InputError(
            f"rewards, actions, pscore and action_dist must have the same length, got {n}, {len(actions)}, "
            f"{len(pscore)}, {action_dist.shape[0]}",
            field="action_dist",
            value=action_dist.shape,
            hint="Pass one row per logged round.",
        )
    if n and (np.any(pscore <= 0) or np.any(pscore > 1)):
        raise InputError(
            "pscore: expected probabilities in (0, 1]",
            field="pscore",
            value=float(np.min(pscore)),
            hint="Off-policy estimation needs the logging policy's propensities.",
        )
    if n and (actions.min() < 0 or actions.max() >= action_dist.shape[1]):
        raise InputError(
            f"actions: expected arms 0..{action_dist.shape[1] - 1}",
            field="actions",
            value=int(actions.max()),
            hint="action_dist needs one column per arm.",
        )


def _weights(actions: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray) -> np.ndarray:
    return action_dist[np.arange(len(actions)), actions] / pscore


@dataclass(frozen=True)
class IPW:
    """Inverse propensity weighting: mean of w x r, unbiased, high variance."""

    name: str = "ipw"

    def estimate(self, rewards, actions, pscore, action_dist, q_hat=None) -> float:  # noqa: ANN001
        _check(rewards, actions, pscore, action_dist)
        return float(np.mean(_weights(actions, pscore, action_dist) * rewards))


@dataclass(frozen=True)
class SNIPW:
    """Self-normalised IPW: sum(w r) / sum(w); slightly biased, much lower variance."""

    name: str = "snipw"

    def estimate(self, rewards, actions, pscore, action_dist, q_hat=None) -> float:  # noqa: ANN001
        _check(rewards, actions, pscore, action_dist)
        w = _weights(actions, pscore, action_dist)
        return float(np.sum(w * rewards) / np.sum(w)) if np.sum(w) > 0 else 0.0


@dataclass(frozen=True)
class DM:
    """Direct method: the reward model averaged over the evaluated policy; biased by the model."""

    name: str = "dm"

    def estimate(self, rewards, actions, pscore, action_dist, q_hat=None) -> float:  # noqa: ANN001
        _check(rewards, actions, pscore, action_dist)
        if q_hat is None:
            raise InputError(
                "q_hat: the direct method needs reward predictions",
                field="q_hat",
                value=None,
                hint="Fit a reward model.",
            )
        return float(np.mean(np.sum(action_dist * q_hat, axis=1)))


@dataclass(frozen=True)
class DR:
    """Doubly robust: DM plus the IPW-weighted residual of the reward model."""

    name: str = "dr"

    def estimate(self, rewards, actions, pscore, action_dist, q_hat=None) -> float:  # noqa: ANN001
        dm = DM().estimate(rewards, actions, pscore, action_dist, q_hat)
        w = _weights(actions, pscore, action_dist)
        residual = rewards - q_hat[np.arange(len(actions)), actions]
        return float(dm + np.mean(w * residual))


ESTIMATORS = (IPW(), SNIPW(), DM(), DR())
