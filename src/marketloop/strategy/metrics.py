"""Uplift evaluation: uplift at k, Qini and uplift curves and their normalised areas.

Definitions follow scikit-uplift 0.5 (re-implemented here; it is not a dependency):
- ``uplift_at_k`` with the "overall" strategy: rank everyone by predicted uplift, keep the top
  ``k`` share of all rows, and take the treated response rate minus the control rate among them;
- Qini curve: at each cut-off, treated responders minus control responders scaled by the ratio of
  treated to control rows so far; uplift curve: (treated rate - control rate) x rows so far;
- ``qini_auc_score`` / ``uplift_auc_score`` (the Qini coefficient and AUUC): the area between the
  model's curve and the random line, divided by that of the perfect ranking.
"""

from __future__ import annotations

import numpy as np

from marketloop.errors import InputError


def _check(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, score, t = (np.asarray(a, dtype=float) for a in (y, score, t))
    if not (len(y) == len(score) == len(t)) or len(y) == 0:
        raise InputError(
            f"y, uplift, treatment: expected non-empty arrays of one length, got {len(y)}, {len(score)}, {len(t)}",
            field="uplift",
        )
    if not np.isin(t, (0.0, 1.0)).all() or t.min() == t.max():
        raise InputError("treatment: expected 0/1 values with both arms present", field="treatment")
    return y, score, t


def uplift_at_k(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, k: float = 0.3) -> float:
    """Treated minus control response rate in the top ``k`` share of all rows (scikit-uplift "overall")."""
    if not 0 < k <= 1:
        raise InputError(f"k: expected a share in (0, 1], got {k!r}", field="k", value=k)
    y, score, t = _check(y, uplift, treatment)
    order = np.argsort(-score, kind="mergesort")
    top = order[: int(len(y) * k)]
    yt, tt = y[top], t[top]
    if tt.min() == tt.max():
        return float("nan")
    return float(yt[tt == 1].mean() - yt[tt == 0].mean())


def _cumulative(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(-score, kind="mergesort")
    y, score, t = y[order], score[order], t[order]
    # one point per distinct score (ties move together), plus the end
    cut = np.r_[np.nonzero(np.diff(score))[0], len(y) - 1]
    n = cut + 1.0
    n_t = np.cumsum(t)[cut]
    n_c = n - n_t
    y_t = np.cumsum(y * t)[cut]
    y_c = np.cumsum(y * (1 - t))[cut]
    return n, n_t, n_c, y_t, y_c


def qini_curve(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, score, t = _check(y, uplift, treatment)
    n, n_t, n_c, y_t, y_c = _cumulative(y, score, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    return np.r_[0.0, n], np.r_[0.0, q]


def uplift_curve(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, score, t = _check(y, uplift, treatment)
    n, n_t, n_c, y_t, y_c = _cumulative(y, score, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (np.where(n_t > 0, y_t / n_t, 0.0) - np.where(n_c > 0, y_c / n_c, 0.0)) * n
    return np.r_[0.0, n], np.r_[0.0, u]


def _area_over_random(x: np.ndarray, curve: np.ndarray) -> float:
    random_line = x * curve[-1] / x[-1]
    return float(np.trapezoid(curve, x) - np.trapezoid(random_line, x))


def qini_auc_score(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> float:
    """Normalised Qini coefficient: 1 for the perfect ranking (negative effects allowed), 0 for random."""
    y, score, t = _check(y, uplift, treatment)
    perfect = y * t - y * (1 - t)
    return _area_over_random(*qini_curve(y, score, t)) / _area_over_random(*qini_curve(y, perfect, t))


def uplift_auc_score(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> float:
    """Normalised area under the uplift curve (AUUC)."""
    y, score, t = _check(y, uplift, treatment)
    control_responders = np.sum((y == 1) & (t == 0))
    treated_nonresponders = np.sum((y == 0) & (t == 1))
    tie_break = y if control_responders > treated_nonresponders else t
    perfect = 2.0 * (y == t) + tie_break
    return _area_over_random(*uplift_curve(y, score, t)) / _area_over_random(*uplift_curve(y, perfect, t))


def uplift_report(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> dict[str, float]:
    return {
        "qini": qini_auc_score(y, uplift, treatment),
        "auuc": uplift_auc_score(y, uplift, treatment),
        "uplift_at_10": uplift_at_k(y, uplift, treatment, 0.1),
        "uplift_at_30": uplift_at_k(y, uplift, treatment, 0.3),
    }
