"""`marketloop eval uplift`: every learner (and random targeting) on a randomised test in a file.

50/50 splits stratified by arm, one per seed: learners train on one half and are scored on the
other with the Qini coefficient, AUUC and uplift at 10 % / 30 % (scikit-uplift definitions, see
:mod:`marketloop.strategy.metrics`). Feature columns are every column but the treatment and the
outcome (minus ``drop``); text columns become category codes. Columns that give the outcome away
(e.g. a later purchase flag when the outcome is a visit) are refused with a hint to drop them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from marketloop.errors import InputError
from marketloop.strategy.metrics import uplift_report
from marketloop.strategy.uplift import LEARNERS, make_learner

RANDOM_DRAWS = 20


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"--data: file not found: {path}", field="data", value=str(path), hint="Pass a CSV or Parquet file."
        )
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"--data: {path} could not be read as CSV: {exc}", field="data", value=str(path)) from None


def prepare(
    frame: pd.DataFrame, treatment_col: str, treatment: str, control: str, outcome: str, drop: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    for name, col in (("--treatment-col", treatment_col), ("--outcome", outcome)):
        if col not in frame.columns:
            raise InputError(
                f"{name}: no column {col!r} in the data",
                field=name.strip("-"),
                value=col,
                hint=f"Columns: {', '.join(map(str, frame.columns))}.",
            )
    for name in drop or []:
        if name not in frame.columns:
            raise InputError(
                f"--drop: no column {name!r} in the data",
                field="drop",
                value=name,
                hint=f"Columns: {', '.join(map(str, frame.columns))}.",
            )
    arm = frame[treatment_col].astype(str)
    values = sorted(arm.unique())
    for name, v in (("--treatment", treatment), ("--control", control)):
        if v not in values:
            raise InputError(
                f"{name}: value {v!r} does not occur in column {treatment_col!r}",
                field=name.strip("-"),
                value=v,
                hint=f"Values: {', '.join(values[:10])}.",
            )
    if treatment == control:
        raise InputError("--treatment and --control: expected two different arms", field="control", value=control)
    keep = arm.isin([treatment, control]).to_numpy()
    data = frame[keep]
    y = pd.to_numeric(data[outcome], errors="coerce")
    if y.isna().any() or not y.isin([0, 1]).all():
        raise InputError(
            f"--outcome: column {outcome!r} must be 0/1 for every row",
            field="outcome",
            value=outcome,
            hint="Use a binary outcome such as visit or conversion.",
        )
    t = (data[treatment_col].astype(str) == treatment).to_numpy().astype(int)
    feature_cols = [c for c in data.columns if c not in {treatment_col, outcome, *(drop or [])}]
    X = pd.DataFrame(index=data.index)
    for c in feature_cols:
        col = data[c]
        X[c] = (
            pd.to_numeric(col, errors="coerce")
            if pd.api.types.is_numeric_dtype(col)
            else col.astype("category").cat.codes.astype(float)
        )
    y = y.to_numpy(dtype=float)
    _refuse_leaks(X, y)
    return X.to_numpy(dtype=float), t, y, feature_cols


def _refuse_leaks(X: pd.DataFrame, y: np.ndarray) -> None:
    """A column whose non-zero values all come with a positive outcome is measured after it (a leak)."""
    if y.mean() > 0.9:
        return
    for c in X.columns:
        hit = X[c].fillna(0).to_numpy() != 0
        if 20 <= hit.sum() < len(hit) and y[hit].mean() >= 0.99:
            raise InputError(
                f"feature {c!r}: every row where it is non-zero has a positive outcome: it looks measured after the "
                "treatment and would leak the outcome",
                field="drop",
                value=c,
                hint=f"Leave it out with --drop {c}.",
            )


def evaluate_uplift(
    frame: pd.DataFrame,
    treatment_col: str,
    treatment: str,
    control: str,
    outcome: str,
    *,
    seeds: int = 5,
    drop: list[str] | None = None,
    learners: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    if seeds < 1:
        raise InputError(f"--seeds: expected at least 1, got {seeds}", field="seeds", value=seeds)
    X, t, y, cols = prepare(frame, treatment_col, treatment, control, outcome, drop)
    names = learners or list(LEARNERS)
    per: dict[str, list[dict]] = {n: [] for n in [*names, "random"]}
    for seed in range(seeds):
        strata = t * 2 + y.astype(int)
        train, test = train_test_split(np.arange(len(y)), test_size=0.5, random_state=seed, stratify=strata)
        for name in names:
            score = make_learner(name, "binary", seed).fit(X[train], t[train], y[train]).predict(X[test])
            per[name].append(uplift_report(y[test], score, t[test]))
            if progress:
                progress(f"{name} seed {seed}")
        rng = np.random.default_rng(seed)
        draws = [uplift_report(y[test], rng.random(len(test)), t[test]) for _ in range(RANDOM_DRAWS)]
        per["random"].append({k: float(np.mean([d[k] for d in draws])) for k in draws[0]})
    results = {
        name: {
            k: {
                "mean": round(float(np.mean([r[k] for r in rows])), 4),
                "std": round(float(np.std([r[k] for r in rows])), 4),
            }
            for k in rows[0]
        }
        for name, rows in per.items()
    }
    best = max(names, key=lambda n: results[n]["uplift_at_30"]["mean"])
    return {
        "rows": int(len(y)),
        "treated": int(t.sum()),
        "control": int((1 - t).sum()),
        "features": cols,
        "seeds": seeds,
        "treated_rate": round(float(y[t == 1].mean()), 4),
        "control_rate": round(float(y[t == 0].mean()), 4),
        "learners": results,
        "best_learner": best,
    }
