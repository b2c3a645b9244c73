"""Profiles against the simulator's hidden truth: does the profile recover what we know is there?

:func:`evaluate_profiles_in_sim` generates a store with :mod:`marketloop.sim`, loads it through the
same validated ingestion as real data, runs the ordinary profile refresh and only then joins the
profiles to ``truth/customers.parquet``. The profiles never see the truth; the truth is read only to
score them (:func:`score_against_truth`). Chance levels are computed from the same customers.

**Lifecycle stage** (:func:`profile_stage`). The simulator's stages at the end of the window are
``new`` (signed up less than 30 days ago), ``active``, ``at_risk`` (activity fading: the customer stops
within 60 days) and ``churned`` (stopped). The profile's own ``lifecycle_stage`` column (rule in
:mod:`marketloop.customers.lifecycle`: first-order age and silence against the customer's own activity
cadence) is scored. For comparison the earlier reading of the RFM segment is scored too
(:func:`segment_stage`), fixed by meaning and not fitted to the truth:

1. ``new``: the first order is less than ``NEW_DAYS`` days before the profile's ``as_of``;
2. otherwise by RFM segment: the segments whose usual playbook reading is "gone"
   (:data:`CHURNED_SEGMENTS`: Lost, Hibernating) map to ``churned``, those read as "slipping away"
   (:data:`AT_RISK_SEGMENTS`: At risk, Can't lose them, About to sleep) to ``at_risk``, and every
   other segment to ``active``.

**Top category**: the first entry of the profile's category interest tags (``interests_json``)
against the customer's true favourite (``top_category``, the largest hidden affinity); also whether
the favourite is among all the category tags the profile keeps (two by default).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.clock import utcnow
from marketloop.customers import lifecycle
from marketloop.customers.lifecycle import NEW_DAYS, STAGES  # the simulator's stages and cut-off for new
from marketloop.customers.rfm import RFMConfig
from marketloop.errors import InputError

CHURNED_SEGMENTS = frozenset({"Lost", "Hibernating"})
AT_RISK_SEGMENTS = frozenset({"At risk", "Can't lose them", "About to sleep"})


def profile_stage(profiles: pd.DataFrame) -> np.ndarray:
    """The profile's own ``lifecycle_stage`` column."""
    return profiles["lifecycle_stage"].to_numpy(dtype=object)


def segment_stage(profiles: pd.DataFrame) -> np.ndarray:
    """The stage read off the RFM segment (the comparison rule in the module docstring).

    Needs the profile columns ``as_of``, ``first_order_at`` and ``segment``.
    """
    as_of = pd.to_datetime(profiles["as_of"])
    tenure_days = (as_of - pd.to_datetime(profiles["first_order_at"])).dt.days.to_numpy()
    segment = profiles["segment"].to_numpy(dtype=object)
    churned = np.isin(segment, list(CHURNED_SEGMENTS))
    at_risk = np.isin(segment, list(AT_RISK_SEGMENTS))
    stage = np.select([tenure_days < NEW_DAYS, churned, at_risk], ["new", "churned", "at_risk"], "active")
    return stage.astype(object)


def category_tags(interests_json: pd.Series) -> list[list[str]]:
    """The category tag values of each profile, best first (empty when the profile has none)."""
    return [[t["value"] for t in json.loads(doc or "{}").get("category", [])] for doc in interests_json]


def _lifecycle_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

    share = pd.Series(truth).value_counts(normalize=True).reindex(STAGES, fill_value=0.0)
    predicted_share = pd.Series(predicted).value_counts(normalize=True).reindex(STAGES, fill_value=0.0)
    present = int((share > 0).sum())
    matrix = confusion_matrix(truth, predicted, labels=list(STAGES))
    recall = {
        s: float(row[i] / row.sum()) if row.sum() else None
        for i, (s, row) in enumerate(zip(STAGES, matrix, strict=True))
    }
    # Balanced accuracy = mean recall over the stages present in the truth (as scikit-learn's, without
    # its warning when the rule predicts a stage the truth lacks).
    balanced = float(np.mean([r for r in recall.values() if r is not None]))
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "balanced_accuracy": round(balanced, 4),
        "cohen_kappa": round(float(cohen_kappa_score(truth, predicted)), 4),
        "recall": {s: None if r is None else round(r, 4) for s, r in recall.items()},
        "confusion": {"labels": list(STAGES), "rows_true_cols_predicted": matrix.tolist()},
        "true_share": {s: round(float(v), 4) for s, v in share.items()},
        "predicted_share": {s: round(float(v), 4) for s, v in predicted_share.items()},
        # Chance levels on the same customers (expectations, exact): always guessing the largest stage,
        # guessing at random with the true shares, and guessing at random with the mapping's own shares.
        "chance": {
            "majority": {
                "stage": str(share.idxmax()),
                "accuracy": round(float(share.max()), 4),
                "balanced_accuracy": round(1 / present, 4),
            },
            "stratified_random": {
                "accuracy": round(float((share**2).sum()), 4),
                "balanced_accuracy": round(1 / present, 4),
            },
            "same_shares_random": {
                "accuracy": round(float((share * predicted_share).sum()), 4),
                "balanced_accuracy": round(1 / present, 4),
            },
        },
    }


def _category_scores(truth: np.ndarray, tags: list[list[str]]) -> dict[str, object]:
    k = max((len(t) for t in tags), default=0)
    top1 = np.array([bool(t) and t[0] == fav for t, fav in zip(tags, truth, strict=True)])
    top_k = np.array([fav in t for t, fav in zip(tags, truth, strict=True)])
    share = pd.Series(truth).value_counts(normalize=True)
    return {
        "tags_kept": k,
        "customers_without_category_tag": int(sum(not t for t in tags)),
        "top1_hit_rate": round(float(top1.mean()), 4),
        f"top{k}_hit_rate": round(float(top_k.mean()), 4),
        # Chance: the best single guess for everyone (the k most common true favourites) and a guess
        # drawn at random with the favourites' shares (the category-share baseline).
        "chance": {
            "best_constant_top1": round(float(share.iloc[0]), 4),
            f"best_constant_top{k}": round(float(share.iloc[:k].sum()), 4),
            "share_random_top1": round(float((share**2).sum()), 4),
        },
        "true_favourite_share": {c: round(float(v), 4) for c, v in share.items()},
    }


def score_against_truth(
    profiles: pd.DataFrame, truth: pd.DataFrame, category_slug: dict[str, str]
) -> dict[str, object]:
    """Join profiles to the truth by ``customer_id`` and score stage and top category.

    ``truth`` has ``customer_id``, ``lifecycle_stage`` and ``top_category`` (a slug); ``category_slug``
    maps the store's category names (as in the interest tags) to those slugs. ``profiles`` need
    ``lifecycle_stage`` (scored as ``lifecycle``) and ``as_of``, ``first_order_at``, ``segment`` (the
    segment reading, scored as ``lifecycle_segment_rule``). Customers without a profile (no completed
    order) cannot be scored; their number is reported as coverage.
    """
    true = truth[["customer_id", "lifecycle_stage", "top_category"]].rename(columns={"lifecycle_stage": "true_stage"})
    joined = profiles.merge(true, on="customer_id", how="inner")
    true_stage = joined["true_stage"].to_numpy(dtype=object)
    tags = [[category_slug.get(v, v) for v in t] for t in category_tags(joined["interests_json"])]
    covered = truth["customer_id"].isin(profiles["customer_id"])
    return {
        "customers": len(truth),
        "profiled": int(covered.sum()),
        "coverage": round(float(covered.mean()), 4) if len(truth) else 0.0,
        "profiled_by_true_stage": {s: int(v) for s, v in truth.loc[covered, "lifecycle_stage"].value_counts().items()},
        "lifecycle": _lifecycle_scores(true_stage, profile_stage(joined)),
        "lifecycle_segment_rule": _lifecycle_scores(true_stage, segment_stage(joined)),
        "top_category": _category_scores(joined["top_category"].to_numpy(dtype=object), tags),
    }


def evaluate_profiles_in_sim(
    customers: int = 20_000,
    products: int = 500,
    days: int = 365,
    seed: int = 0,
    start: dt.date | None = None,
    workdir: str | Path | None = None,
    rfm: RFMConfig | None = None,
) -> dict[str, object]:
    """Generate a simulated store, load it, refresh the profiles and score them against the truth.

    ``workdir`` keeps the generated store (``sim/``) and the DuckDB file (``store.duckdb``) for a
    look afterwards; by default both go to a temporary folder that is removed. The simulated window
    must end by today: ingestion rejects future-dated records, which would cut the history short of
    the truth's end (InputError naming ``start``).
    """
    from marketloop.config import load_settings
    from marketloop.customers.profile import AnalyzeConfig, load_profiles, refresh_profiles
    from marketloop.sim import SimWorld, generate_store, text
    from marketloop.sim.generate import DEFAULT_START
    from marketloop.store import open_store
    from marketloop.store.ingest.loader import load_dataset

    start = start or DEFAULT_START
    today = utcnow().date()
    if start + dt.timedelta(days=days) > today:
        raise InputError(
            f"start: a {days}-day history from {start} ends after today ({today}); ingestion would drop the "
            "future-dated orders and the profiles would not describe the end the truth refers to",
            field="start",
            value=str(start),
            hint=f"Pass --start {today - dt.timedelta(days=days)} or earlier, or fewer --days.",
        )

    with tempfile.TemporaryDirectory(prefix="marketloop-eval-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        manifest = generate_store(
            root / "sim", customers=customers, products=products, days=days, seed=seed, start=start, force=True
        )
        timings["generate"] = round(time.perf_counter() - started, 2)

        db_path = root / "store.duckdb"
        db_path.unlink(missing_ok=True)
        settings = load_settings(db_url=f"duckdb:///{db_path}")
        with open_store(settings.db_url) as store:
            started = time.perf_counter()
            load_dataset(store, root / "sim", manifest.files, settings=settings)
            timings["load"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            report = refresh_profiles(store, None, AnalyzeConfig(rfm=rfm or RFMConfig()))
            timings["refresh"] = round(time.perf_counter() - started, 2)
            profiles = load_profiles(
                store, ["customer_id", "as_of", "first_order_at", "segment", "lifecycle_stage", "interests_json"]
            )
        truth = SimWorld.load(root / "sim").truth

    result = score_against_truth(profiles, truth, {c.name: c.slug for c in text.CATEGORIES})
    return {
        "simulation": {
            "customers": customers,
            "products": products,
            "days": days,
            "seed": seed,
            "start": str(manifest.start),
            "end": str(manifest.end),
            "orders": manifest.rows["orders"],
        },
        "as_of": report["as_of"],
        "stage_rule": {
            "new_days": NEW_DAYS,
            "at_risk": {"min_days": lifecycle.AT_RISK_MIN_DAYS, "gaps": lifecycle.AT_RISK_GAPS},
            "churned": {"min_days": lifecycle.CHURNED_MIN_DAYS, "gaps": lifecycle.CHURNED_GAPS},
        },
        "segment_rule": {
            "new_days": NEW_DAYS,
            "churned_segments": sorted(CHURNED_SEGMENTS),
            "at_risk_segments": sorted(AT_RISK_SEGMENTS),
            "active": "every other segment",
        },
        **result,
        "churn_model": report["churn"]["winner"],  # type: ignore[index]
        "seconds": timings,
    }
