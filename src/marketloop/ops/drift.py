"""Drift of a feature between a reference window (what a model was trained on) and the current window.

- **PSI** (population stability index): the reference's deciles (or its categories, the 20 commonest plus
  "other") are the bins; PSI = sum over bins of (current share - reference share) x ln(current / reference),
  with empty bins smoothed by a small share. Rule of thumb: below 0.1 stable, 0.1-0.2 moderate, above 0.2 a
  shift worth acting on (the default threshold).
- **KS** (two-sample Kolmogorov-Smirnov, scipy): the largest gap between the two empirical distribution
  functions, for numeric features. With thousands of rows even a negligible shift is "significant", so the
  test is on the statistic itself (default 0.15), not on its p-value alone.

A reference is kept as a small summary (:func:`reference_of`): the bin edges and shares for PSI and a fixed
random sample of at most 2,000 values for KS, so it can live in the store as JSON without customer data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

SAMPLE = 2_000
TOP_CATEGORIES = 20
_EPS = 1e-4


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def reference_of(frame: pd.DataFrame, *, random_state: int = 0) -> dict[str, dict]:
    """The reference summary of every column of ``frame`` (numeric: deciles and a sample; other: shares)."""
    rng = np.random.default_rng(random_state)
    out: dict[str, dict] = {}
    for name in frame.columns:
        col = frame[name].dropna()
        if _is_numeric(col):
            values = col.to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
            shares = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / len(values)
            sample = values if len(values) <= SAMPLE else rng.choice(values, SAMPLE, replace=False)
            out[str(name)] = {
                "kind": "numeric",
                "n": int(len(values)),
                "mean": float(values.mean()),
                "edges": [float(e) for e in edges],
                "shares": [float(s) for s in shares],
                "sample": [float(v) for v in np.sort(sample)],
            }
        else:
            values = col.astype(str)
            if not len(values):
                continue
            counts = values.value_counts()
            top = counts.iloc[:TOP_CATEGORIES]
            shares = {str(k): float(v / len(values)) for k, v in top.items()}
            rest = 1.0 - sum(shares.values())
            if rest > 1e-12:
                shares["(other)"] = rest
            out[str(name)] = {"kind": "categorical", "n": int(len(values)), "shares": shares}
    return out


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    n_reference: int
    n_current: int
    psi: float | None
    ks: float | None
    p_value: float | None
    reference_mean: float | None
    current_mean: float | None
    drifted: bool
    tested: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def compare(
    reference: dict[str, dict],
    current: pd.DataFrame,
    *,
    psi_threshold: float = 0.2,
    ks_threshold: float = 0.15,
    min_rows: int = 100,
) -> list[FeatureDrift]:
    """Drift of each referenced feature found in ``current``: PSI for all, KS for numeric ones."""
    from scipy.stats import ks_2samp

    out: list[FeatureDrift] = []
    for name, ref in reference.items():
        if name not in current.columns:
            continue
        col = current[name].dropna()
        n_ref = int(ref["n"])
        if ref["kind"] == "numeric":
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            n_cur = len(values)
            cur_mean = float(values.mean()) if n_cur else None
            if n_cur < min_rows or n_ref < min_rows:
                out.append(
                    FeatureDrift(
                        name,
                        "numeric",
                        n_ref,
                        n_cur,
                        None,
                        None,
                        None,
                        _round(ref["mean"]),
                        _round(cur_mean),
                        False,
                        False,
                        f"too few rows to test (need {min_rows} in each window)",
                    )
                )
                continue
            edges = np.asarray(ref["edges"])
            shares = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / n_cur
            p = psi(np.asarray(ref["shares"]), shares)
            test = ks_2samp(np.asarray(ref["sample"]), values)
            ks, pv = float(test.statistic), float(test.pvalue)
            drifted = p >= psi_threshold or ks >= ks_threshold
            reasons = []
            if p >= psi_threshold:
                reasons.append(f"PSI {p:.3f} >= {psi_threshold:g}")
            if ks >= ks_threshold:
                reasons.append(f"KS {ks:.3f} >= {ks_threshold:g}")
            out.append(
                FeatureDrift(
                    name,
                    "numeric",
                    n_ref,
                    n_cur,
                    _round(p),
                    _round(ks),
                    _round(pv, 6),
                    _round(ref["mean"]),
                    _round(cur_mean),
                    drifted,
                    True,
                    "; ".join(reasons) or "stable",
                )
            )
        else:
            values = col.astype(str)
            n_cur = len(values)
            if n_cur < min_rows or n_ref < min_rows:
                out.append(
                    FeatureDrift(
                        name,
                        "categorical",
                        n_ref,
                        n_cur,
                        None,
                        None,
                        None,
                        None,
                        None,
                        False,
                        False,
                        f"too few rows to test (need {min_rows} in each window)",
                    )
                )
                continue
            known = [k for k in ref["shares"] if k != "(other)"]
            counts = values.value_counts()
            cur = [float(counts.get(k, 0)) / n_cur for k in known]
            ref_shares = [ref["shares"][k] for k in known]
            if "(other)" in ref["shares"] or sum(cur) < 1 - 1e-9:
                cur.append(max(0.0, 1.0 - sum(cur)))
                ref_shares.append(ref["shares"].get("(other)", 0.0))
            p = psi(np.asarray(ref_shares), np.asarray(cur))
            drifted = p >= psi_threshold
            out.append(
                FeatureDrift(
                    name,
                    "categorical",
                    n_ref,
                    n_cur,
                    _round(p),
                    None,
                    None,
                    None,
                    None,
                    drifted,
                    True,
                    f"PSI {p:.3f} >= {psi_threshold:g}" if drifted else "stable",
                )
            )
    return out
