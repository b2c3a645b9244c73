"""Uplift scoring of a campaign audience on the chosen engine.

A response model (:class:`marketloop.strategy.response.OfferResponseModel`) is fitted on the randomised
history, a sample by nature; scoring applies it to every customer of the audience, which is the part that
grows with the store. :func:`score_uplift` gives, per customer, the untreated purchase probability and each
offer's calibrated uplift and open / click probabilities: on DuckDB in memory, on Spark as a pandas UDF
over the partitions of the audience's feature table (the fitted model is shipped to the executors).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from marketloop.engines import check_engine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from marketloop.strategy.response import OfferResponseModel


def _columns(arms: list[str]) -> list[str]:
    return ["p0"] + [f"{kind}__{arm}" for arm in arms for kind in ("uplift", "open", "click")]


def _score(model: OfferResponseModel, frame: pd.DataFrame, features: list[str], arms: list[str]) -> pd.DataFrame:
    X = frame[features].to_numpy(dtype=float)
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(), "p0": model.predict_control(X)})
    for arm in arms:
        out[f"uplift__{arm}"] = model.predict(X, arm)
        out[f"open__{arm}"], out[f"click__{arm}"] = model.predict_engagement(X, arm)
    return out


def score_uplift(
    model: OfferResponseModel,
    features: pd.DataFrame | DataFrame,
    feature_names: list[str] | tuple[str, ...],
    arms: list[str] | None = None,
    *,
    engine: str = "duckdb",
) -> pd.DataFrame | DataFrame:
    """Scores of every row of ``features`` (customer_id plus ``feature_names``) for ``arms`` (default: the
    model's): a pandas frame on DuckDB, a Spark DataFrame (lazily) on Spark; columns ``customer_id``, ``p0``
    and per arm ``uplift__ARM``, ``open__ARM``, ``click__ARM``."""
    check_engine(engine)
    arms = list(arms or model.arms_)
    for arm in arms:
        model._check_arm(arm)
    names = list(feature_names)
    if engine == "duckdb":
        return _score(model, features, names, arms)
    schema = ", ".join(["customer_id string"] + [f"`{c}` double" for c in _columns(arms)])

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if len(batch):
                yield _score(model, batch, names, arms).astype({c: np.float64 for c in _columns(arms)})

    return features.select("customer_id", *names).mapInPandas(run, schema)
