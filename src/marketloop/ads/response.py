"""Ad response: click (and conversion) probability per customer x creative from logged impressions.

:class:`AdResponseModel` is a scikit-learn logistic regression over one-hot context (customer features,
the creative, its placement) and numeric features (e.g. the customer's affinity to the creative),
calibrated with Platt scaling (``CalibratedClassifierCV``, sigmoid, 3 folds): clicks on ads are rare
(well under 1 %), and a bid or a budget needs probabilities that are right on average, not only a
ranking. With a ``converted`` column it learns a second model, P(conversion | click), on the clicked
impressions, so that ``predict_conversion`` = P(click) x P(conversion | click).

:func:`evaluate_open_bandit` trains on the first days of the Open Bandit Dataset logs (ZOZOTOWN,
real impressions with clicks) and scores the later days: log loss and AUC against the base rate (the
training days' click rate for everyone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.errors import InputError, NotFoundError


class AdResponseModel:
    """P(click) per impression context; optional P(conversion | click)."""

    def __init__(
        self,
        categorical: list[str] | None = None,
        numeric: list[str] | None = None,
        C: float = 0.1,
        min_frequency: int = 5,
        random_state: int = 0,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.C = C
        self.min_frequency = min_frequency
        self.random_state = random_state

    def _pipeline(self):  # noqa: ANN202 - sklearn Pipeline
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        columns = ColumnTransformer(
            [
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=self.min_frequency),
                    list(self.categorical or []),
                ),
                ("numeric", StandardScaler(), list(self.numeric or [])),
            ]
        )
        logit = LogisticRegression(C=self.C, max_iter=2000)
        return CalibratedClassifierCV(make_pipeline(columns, logit), method="sigmoid", cv=3)

    def _check(self, frame: pd.DataFrame, target: str | None = None) -> None:
        needed = list(self.categorical or []) + list(self.numeric or []) + ([target] if target else [])
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(
                f"impressions: missing column(s) {', '.join(missing)}",
                field="impressions",
                value=missing,
                hint=f"The impressions need {', '.join(needed)}.",
            )

    def fit(self, impressions: pd.DataFrame) -> AdResponseModel:
        if not self.categorical and not self.numeric:
            raise InputError(
                "features: name categorical and / or numeric columns",
                field="categorical",
                hint="e.g. ['creative', 'placement']",
            )
        self._check(impressions, "clicked")
        y = impressions["clicked"].astype(int).to_numpy()
        if y.sum() < 6 or y.sum() == len(y):
            raise InputError(
                f"clicked: {int(y.sum())} clicks in {len(y)} impressions; at least 6 clicks and some non-clicks are needed",
                field="clicked",
                value=int(y.sum()),
                hint="Log more impressions before fitting.",
            )
        self.base_rate_ = float(y.mean())
        self.click_model_ = self._pipeline().fit(impressions, y)
        self.conversion_model_ = None
        if "converted" in impressions.columns:
            clicked = impressions[y == 1]
            conv = clicked["converted"].astype(int).to_numpy()
            if conv.sum() >= 6 and conv.sum() < len(conv):
                self.conversion_model_ = self._pipeline().fit(clicked, conv)
            self.conversion_rate_ = float(conv.mean()) if len(conv) else 0.0
        return self

    def predict_click(self, impressions: pd.DataFrame) -> np.ndarray:
        self._check(impressions)
        return self.click_model_.predict_proba(impressions)[:, 1]

    def predict_conversion(self, impressions: pd.DataFrame) -> np.ndarray:
        """P(click) x P(conversion | click) (the training rate when too few conversions were logged)."""
        click = self.predict_click(impressions)
        if getattr(self, "conversion_model_", None) is not None:
            return click * self.conversion_model_.predict_proba(impressions)[:, 1]
        return click * getattr(self, "conversion_rate_", 0.0)


def read_open_bandit(root: str | Path, policy: str = "random", campaign: str = "all") -> pd.DataFrame:
    """One Open Bandit log as impressions: day, creative (item), placement (position), the user's
    hashed features, the user's affinity to the shown item, the item's features, clicked."""
    root = Path(root)
    path = root / policy / campaign / f"{campaign}.csv"
    items_path = root / policy / campaign / "item_context.csv"
    if not path.is_file():
        raise NotFoundError(
            f"Open Bandit logs not found: {path}", hint="--logs must hold random/<campaign>/<campaign>.csv."
        )
    log = pd.read_csv(path)
    affinity = log.filter(like="user-item_affinity_").to_numpy()
    items = log["item_id"].to_numpy()
    out = pd.DataFrame(
        {
            "ts": pd.to_datetime(log["timestamp"], utc=True).dt.tz_localize(None),
            "creative": "item_" + log["item_id"].astype(str),
            "placement": "pos_" + log["position"].astype(str),
            "affinity": affinity[np.arange(len(log)), items] if affinity.shape[1] else 0.0,
            "clicked": log["click"].astype(int),
        }
    )
    for k in range(4):
        out[f"user_{k}"] = log[f"user_feature_{k}"].astype(str)
    if items_path.is_file():
        ctx = pd.read_csv(items_path)
        ctx["creative"] = "item_" + ctx["item_id"].astype(str)
        ctx = ctx.drop(columns=[c for c in ("item_id", "Unnamed: 0") if c in ctx.columns])
        ctx = ctx.rename(columns={c: c.replace("item_feature_", "item_") for c in ctx.columns})
        for c in ctx.columns:
            if c != "creative" and ctx[c].dtype == object:
                ctx[c] = ctx[c].astype(str)
        out = out.merge(ctx, on="creative", how="left")
    out["day"] = out["ts"].dt.date
    return out


def evaluate_open_bandit(root: str | Path, test_days: int = 2, random_state: int = 0) -> dict:
    """Train on every policy and campaign's logs of the first days, score the last ``test_days`` days."""
    from sklearn.metrics import log_loss, roc_auc_score

    root = Path(root)
    frames = []
    for policy in ("random", "bts"):
        for campaign in ("all", "women"):
            if (root / policy / campaign / f"{campaign}.csv").is_file():
                frames.append(read_open_bandit(root, policy, campaign).assign(campaign=campaign))
    if not frames:
        raise NotFoundError(
            f"no Open Bandit logs under {root}", hint="Point --logs at the open_bandit_zozotown folder."
        )
    data = pd.concat(frames, ignore_index=True)
    days = sorted(data["day"].unique())
    if len(days) <= test_days:
        raise InputError(
            f"test_days: the logs span {len(days)} days",
            field="test_days",
            value=test_days,
            hint="Use fewer test days.",
        )
    cut = days[-test_days]
    train, test = data[data["day"] < cut], data[data["day"] >= cut]
    categorical = ["creative", "placement", "campaign", "user_0", "user_1", "user_2", "user_3"]
    categorical += [c for c in ("item_1", "item_2", "item_3") if c in data.columns]
    numeric = ["affinity"] + [c for c in ("item_0",) if c in data.columns]
    model = AdResponseModel(categorical=categorical, numeric=numeric, random_state=random_state).fit(train)
    p = model.predict_click(test)
    y = test["clicked"].to_numpy()
    base = np.full(len(y), model.base_rate_)
    return {
        "train_days": [str(d) for d in days if d < cut],
        "test_days": [str(d) for d in days if d >= cut],
        "train_impressions": int(len(train)),
        "train_clicks": int(train["clicked"].sum()),
        "test_impressions": int(len(test)),
        "test_clicks": int(y.sum()),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "log_loss_base_rate": float(log_loss(y, base, labels=[0, 1])),
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
        "auc_base_rate": 0.5,
        "mean_predicted": float(p.mean()),
        "test_click_rate": float(y.mean()),
    }


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2)
