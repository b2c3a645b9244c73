"""Off-policy evaluation on the Open Bandit Dataset layout (read directly; ``obp`` does not install).

``DIR/random/<campaign>/<campaign>.csv`` holds logs of the uniform random policy and
``DIR/bts/<campaign>/<campaign>.csv`` logs of Bernoulli Thompson sampling (3 positions, propensities
given). We

1. learn a policy on the random logs: Bernoulli Thompson sampling's ranking distribution from
   Beta(1, 1) posteriors of each item's click rate (the probability that an item is drawn into each
   position), **cross-fitted**: the policy for each fold is learned on the other folds, so no click is
   used both to choose and to score the policy;
2. estimate its CTR on the held-out fold with IPW, SNIPW, DM and DR (reward model: each item's click
   rate shrunk towards the fold's mean), relative to the random policy's CTR;
3. score the estimators: estimate the logged BTS policy's CTR from the random logs (its action
   distribution per position taken from the BTS logs) and compare with the BTS logs' on-policy CTR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.errors import InputError, NotFoundError
from marketloop.learn.ope import ESTIMATORS

POSITIONS = 3


def read_logs(root: Path, policy: str, campaign: str) -> pd.DataFrame:
    path = Path(root) / policy / campaign / f"{campaign}.csv"
    if not path.is_file():
        raise NotFoundError(
            f"Open Bandit logs not found: {path}",
            hint="--logs must hold random/<campaign>/<campaign>.csv and bts/<campaign>/<campaign>.csv.",
        )
    frame = pd.read_csv(path, usecols=["item_id", "position", "click", "propensity_score"])
    bad = set(frame["position"].unique()) - set(range(1, POSITIONS + 1))
    if bad:
        raise InputError(
            f"{path}: position must be 1..{POSITIONS}, got {sorted(bad)[:3]}",
            field="position",
            value=sorted(bad)[:3],
            hint="Use the Open Bandit Dataset files unchanged.",
        )
    return frame


def _item_ctr(frame: pd.DataFrame, n_items: int, strength: float = 200.0) -> np.ndarray:
    clicks = np.bincount(frame["item_id"], weights=frame["click"], minlength=n_items)
    shows = np.bincount(frame["item_id"], minlength=n_items)
    mean = frame["click"].mean()
    return (clicks + strength * mean) / (shows + strength)


def ts_ranking_policy(
    frame: pd.DataFrame, n_items: int, *, n_draws: int = 20_000, rng: np.random.Generator
) -> np.ndarray:
    """(positions, items): probability that Bernoulli TS (Beta(1, 1) priors) puts each item at each position."""
    clicks = np.bincount(frame["item_id"], weights=frame["click"], minlength=n_items)
    shows = np.bincount(frame["item_id"], minlength=n_items)
    draws = rng.beta(1 + clicks, 1 + shows - clicks, size=(n_draws, n_items))
    top = np.argsort(-draws, axis=1)[:, :POSITIONS]
    dist = np.zeros((POSITIONS, n_items))
    for j in range(POSITIONS):
        dist[j] = np.bincount(top[:, j], minlength=n_items) / n_draws
    return dist


def _estimate(frame: pd.DataFrame, dist: np.ndarray, n_items: int) -> dict[str, float]:
    actions = frame["item_id"].to_numpy()
    action_dist = dist[frame["position"].to_numpy() - 1]
    q_hat = np.tile(_item_ctr(frame, n_items), (len(frame), 1))
    rewards = frame["click"].to_numpy(float)
    pscore = frame["propensity_score"].to_numpy(float)
    return {e.name: e.estimate(rewards, actions, pscore, action_dist, q_hat) for e in ESTIMATORS}


def evaluate_open_bandit(
    root: str | Path, *, campaign: str = "all", folds: int = 5, seed: int = 0, repeats: int = 10
) -> dict:
    """Cross-fitted estimates averaged over ``repeats`` random fold splits (seeds seed..seed+repeats-1);
    the spread over splits is reported because a few dozen clicks make every estimate noisy."""
    if repeats < 1:
        raise InputError(
            f"repeats: expected at least 1, got {repeats}", field="repeats", value=repeats, hint="E.g. --repeats 10."
        )
    if folds < 2:
        raise InputError(f"folds: expected at least 2, got {folds}", field="folds", value=folds, hint="E.g. --folds 5.")
    random_logs = read_logs(Path(root), "random", campaign)
    bts_logs = read_logs(Path(root), "bts", campaign)
    n_items = int(max(random_logs["item_id"].max(), bts_logs["item_id"].max())) + 1
    base = float(random_logs["click"].mean())
    if base == 0:
        raise InputError(
            "the random logs have no clicks; nothing can be estimated", field="click", value=0, hint="Use more logs."
        )
    learned: dict[str, list[float]] = {e.name: [] for e in ESTIMATORS}
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        fold_of = rng.permutation(len(random_logs)) % folds
        per_fold: dict[str, list[float]] = {e.name: [] for e in ESTIMATORS}
        weights = []
        for k in range(folds):
            train, test = random_logs[fold_of != k], random_logs[fold_of == k]
            for name, value in _estimate(test, ts_ranking_policy(train, n_items, rng=rng), n_items).items():
                per_fold[name].append(value)
            weights.append(len(test))
        for name, values in per_fold.items():
            learned[name].append(float(np.average(values, weights=weights)))
    counts = np.zeros((POSITIONS, n_items))
    np.add.at(counts, (bts_logs["position"].to_numpy() - 1, bts_logs["item_id"].to_numpy()), 1)
    bts_dist = counts / counts.sum(axis=1, keepdims=True)
    bts_est = _estimate(random_logs, bts_dist, n_items)
    truth = float(bts_logs["click"].mean()) / base
    estimators = {}
    for e in ESTIMATORS:
        value = float(np.mean(learned[e.name]))
        estimators[e.name] = {
            "learned_ctr": value,
            "learned_relative": value / base,
            "learned_relative_min": min(learned[e.name]) / base,
            "learned_relative_max": max(learned[e.name]) / base,
            "bts_ctr": bts_est[e.name],
            "bts_relative": bts_est[e.name] / base,
            "bts_relative_error": abs(bts_est[e.name] / base - truth) / truth,
        }
    return {
        "campaign": campaign,
        "rows": {"random": len(random_logs), "bts": len(bts_logs)},
        "items": n_items,
        "clicks": {"random": int(random_logs["click"].sum()), "bts": int(bts_logs["click"].sum())},
        "random_ctr": base,
        "folds": folds,
        "seed": seed,
        "repeats": repeats,
        "policy": "Bernoulli Thompson sampling ranking, Beta(1,1) priors, learned on the random logs (cross-fitted)",
        "estimators": estimators,
        "truth": {"bts_ctr": float(bts_logs["click"].mean()), "bts_relative": truth},
        "acceptance": {
            "learned_dr_relative": estimators["dr"]["learned_relative"],
            "threshold": 1.2,
            "passed": estimators["dr"]["learned_relative"] >= 1.2,
        },
    }
