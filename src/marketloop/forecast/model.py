"""Demand forecasts per product, category and store, reconciled, with calibrated intervals.

:class:`DemandForecaster` (scikit-learn style: ``fit`` learns and returns ``self``, state ends in ``_``):

1. **Series.** Products sold within ``active_days`` of the end of the history (the ``max_products``
   best sellers among them, when set) are the bottom level;
   each category's series is the sum of all its products' sales, the store's the sum of all. Daily
   (``freq="D"``) or weekly (``"W"``, weeks starting Monday; an incomplete last week is left out).
2. **Base forecasts.** ``method="lgbm"``: Nixtla ``mlforecast`` with a LightGBM regressor (Tweedie
   objective on units), recursive over the horizon, one global model for the products and one for
   the categories and the store, averaged with AutoETS's (:func:`combine_levels`). Features: lags and rolling means of the series (the weekly season comes
   from the same weekday's past values), calendar dates (weekday, month, day of month), the market
   calendar (:mod:`marketloop.forecast.calendar`: holidays, promotions, events, seasons, external
   series) and, for products, the price index (the day's realised price over the product's median;
   ahead, the current list price). ``"ets"`` and ``"seasonal_naive"``: Nixtla ``statsforecast``
   AutoETS / SeasonalNaive per series.
3. **Reconciliation.** Nixtla ``hierarchicalforecast`` middle-out (forecast proportions): the
   categories keep their forecasts, the store is their sum, products share their category's forecast
   in proportion to their own (see :func:`reconcile`).
4. **Intervals** (split conformal). The same pipeline is refitted at ``calibration_windows`` earlier
   origins (``end - k x horizon``) and its reconciled forecasts are compared with what was sold. The
   errors, divided by each series' scale (the in-sample mean absolute seasonal difference, as in
   MASE), are pooled per level; their ``level`` % quantile ``q`` gives ``forecast +- q x scale``
   (cut at 0). Pooling over the series of a level is what makes this work for short histories:
   per-series conformal intervals (mlforecast's ``PredictionIntervals``) need many windows per series,
   which one or two years of sales do not have, and model-based intervals assume a likelihood that
   count data with zeros do not follow.
5. **Cold start.** Products with fewer than ``min_history_days`` days since their first sale (or none,
   when created within ``active_days``) get their category's forecast times the median share of the
   category's active products, flagged ``cold_start``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

from marketloop.errors import DependencyError, InputError
from marketloop.forecast.calendar import calendar_features
from marketloop.forecast.data import UNCATEGORISED, SalesHistory

LEVELS = ("store", "category", "product")
METHODS = ("lgbm", "ets", "seasonal_naive")
FREQS = {"D": "D", "W": "W-MON"}
#: Prefix of the bottom series that holds the sales of a category's products not forecast one by one.
REST = "~rest~"
#: Calendar features that mark special days (as opposed to seasons and external series).
EVENT_FEATURES = ("holiday", "promotion", "event")
STORE_KEY = "all"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The Nixtla libraries warn about expected things (short series dropped from fitted values, lags
    that are empty at a series' start, which LightGBM handles as missing)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=UserWarning, module=r"(mlforecast|statsforecast|hierarchicalforecast)"
        )
        warnings.filterwarnings(
            "ignore", category=FutureWarning, module=r"(mlforecast|statsforecast|hierarchicalforecast|utilsforecast)"
        )
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(statsforecast|hierarchicalforecast)")
        yield


def _require() -> None:
    try:
        import hierarchicalforecast  # noqa: F401
        import mlforecast  # noqa: F401
        import statsforecast  # noqa: F401
    except ImportError as exc:
        raise DependencyError(
            f"forecasting needs the Nixtla libraries ({exc.name} is missing)",
            hint="pip install 'marketloop[forecast]' (statsforecast, mlforecast, hierarchicalforecast).",
        ) from None


def series_id(level: str, key: str) -> str:
    return STORE_KEY if level == "store" else f"{level}/{key}"


def split_id(uid: str) -> tuple[str, str]:
    if uid == STORE_KEY:
        return "store", STORE_KEY
    level, key = uid.split("/", 1)
    return level, key


def season_length(freq: str) -> int:
    return 7 if freq == "D" else 52


class DemandForecaster:
    """Forecast units sold per product, category and store ``horizon`` periods past the history."""

    def __init__(
        self,
        freq: str = "D",
        horizon: int = 28,
        level: float = 90.0,
        method: str = "lgbm",
        active_days: int = 90,
        max_products: int | None = None,
        min_history_days: int = 28,
        calibration_windows: int = 2,
        holiday_country: str | None = None,
        train_days: int = 365,
        n_estimators: int = 100,
        learning_rate: float = 0.08,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.freq = freq
        self.horizon = horizon
        self.level = level
        self.method = method
        self.active_days = active_days
        self.max_products = max_products
        self.min_history_days = min_history_days
        self.calibration_windows = calibration_windows
        self.holiday_country = holiday_country
        self.train_days = train_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.random_state = random_state

    def get_params(self) -> dict:
        import inspect

        return {
            name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters if name != "self"
        }

    # ------------------------------------------------------------------------------------ checks
    def _validate(self) -> None:
        checks = [
            ("freq", self.freq in FREQS, f"one of {', '.join(FREQS)}", "D for days, W for weeks"),
            (
                "horizon",
                isinstance(self.horizon, int) and 1 <= self.horizon <= 366,
                "an integer 1-366",
                "e.g. 28 days or 8 weeks",
            ),
            ("level", 50 <= self.level < 100, "a level between 50 and 99.9", "e.g. 90 for a 90 % interval"),
            ("method", self.method in METHODS, f"one of {', '.join(METHODS)}", "lgbm is the default"),
            ("active_days", self.active_days >= 7, "at least 7", "products sold within this many days are forecast"),
            ("calibration_windows", 1 <= self.calibration_windows <= 8, "1-8", "2 is the default"),
            ("max_products", self.max_products is None or self.max_products >= 1, "at least 1 (or none)", "e.g. 500"),
        ]
        for name, ok, expected, hint in checks:
            if not ok:
                value = getattr(self, name)
                raise InputError(f"{name}: expected {expected}, got {value!r}", field=name, value=value, hint=hint)

    # --------------------------------------------------------------------------------------- fit
    def fit(self, history: SalesHistory) -> DemandForecaster:
        self._validate()
        _require()
        end = self._period_end(history)
        panel = self._panel(history, end)
        periods = panel.top["ds"].nunique()
        needed = self.horizon * (self.calibration_windows + 1) + (28 if self.freq == "D" else 4)
        if periods < needed:
            unit = "days" if self.freq == "D" else "weeks"
            raise InputError(
                f"history: {periods} {unit} of sales; a {self.horizon}-{unit[:-1]} forecast with "
                f"{self.calibration_windows} calibration window(s) needs at least {needed}",
                field="horizon",
                value=self.horizon,
                hint="Shorten --horizon, use fewer --calibration-windows, or load more history.",
            )
        truth = panel.all_series()
        offset = pd.tseries.frequencies.to_offset(FREQS[self.freq])
        errors = []
        for k in range(1, self.calibration_windows + 1):
            cut = end - offset * (k * self.horizon)
            past = self._panel(history, cut)
            errors.append(_scaled_errors(self._reconciled(past), truth, past.scales, cut))
        pooled = pd.concat(errors, ignore_index=True)
        self.quantiles_ = {}
        for lvl, part in pooled.groupby("level"):
            e = np.sort(part["error"].to_numpy())
            rank = min(len(e), math.ceil((len(e) + 1) * self.level / 100.0))
            self.quantiles_[str(lvl)] = float(e[rank - 1])
        self.calibration_errors_ = {str(lvl): int(n) for lvl, n in pooled.groupby("level").size().items()}
        point = self._reconciled(panel)
        self.forecast_ = self._with_intervals(point, panel.scales)
        cold = self._cold_start(history, panel)
        if len(cold):
            self.forecast_ = pd.concat([self.forecast_, cold], ignore_index=True)
        self.history_end_ = end
        self.scales_ = panel.scales
        series = panel.all_series()
        self.series_ = series[~series["unique_id"].str.startswith("product/" + REST)].reset_index(drop=True)
        self.n_series_ = {
            lvl: int(self.forecast_.loc[self.forecast_["level"] == lvl, "key"].nunique()) for lvl in LEVELS
        }
        return self

    def predict(self) -> pd.DataFrame:
        """level, key, ds, forecast, lo, hi, cold_start for every series and period of the horizon."""
        if not hasattr(self, "forecast_"):
            raise InputError(
                "forecaster: call fit() first", field="forecaster", hint="DemandForecaster(...).fit(history)"
            )
        return self.forecast_.copy()

    # ------------------------------------------------------------------------------------ panels
    def _period_end(self, history: SalesHistory) -> pd.Timestamp:
        end = pd.Timestamp(history.end).normalize()
        if self.freq == "W":
            # the last complete week (Monday to Sunday) ends on the last Sunday on or before `end`
            end = end - pd.Timedelta(days=(end.weekday() + 1) % 7)
            end = end - pd.Timedelta(days=6)  # label weeks by their Monday
        return end

    def _panel(self, history: SalesHistory, end: pd.Timestamp) -> _Panel:
        return _Panel.build(history, end, self)

    def _reconciled(self, panel: _Panel) -> pd.DataFrame:
        base = self._base_forecasts(panel)
        return reconcile(base, panel)

    def _base_forecasts(self, panel: _Panel) -> pd.DataFrame:
        """unique_id, ds, yhat for every series of the panel."""
        if self.method == "lgbm":
            top = self._lgbm(panel.top, panel, with_price=False, without_events=True)
            # the aggregates: the mean of LightGBM and AutoETS with LightGBM's calendar effects (see
            # combine_levels)
            ets = statistical_forecasts(panel.top, self.horizon, self.freq, ["ets"])[["unique_id", "ds", "ets"]]
            top = top.merge(ets, on=["unique_id", "ds"], how="left")
            top["yhat"] = combine_levels(top)
            parts = [self._lgbm(panel.bottom, panel, with_price=True), top[["unique_id", "ds", "yhat"]]]
            return pd.concat(parts, ignore_index=True)
        return statistical_forecasts(panel.all_series(), self.horizon, self.freq, [self.method])[
            ["unique_id", "ds", self.method]
        ].rename(columns={self.method: "yhat"})

    def _lgbm(self, frame: pd.DataFrame, panel: _Panel, with_price: bool, without_events: bool = False) -> pd.DataFrame:
        import lightgbm as lgb
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean, SeasonalRollingMean

        if self.freq == "D":
            # lags of a week and more (and a 28-day mean) keep the recursion from feeding a day's
            # forecast straight into the next one's, which made a few products' forecasts run away
            lags = [7, 14, 21, 28]
            transforms = {1: [RollingMean(28)], 7: [RollingMean(7), SeasonalRollingMean(7, 4)]}
            dates = ["dayofweek", "month", "day"]
        else:
            lags, transforms, dates = [1, 2, 4], {1: [RollingMean(4), RollingMean(12)]}, ["month"]
        exog = list(panel.features.columns) + (["price_index"] if with_price else [])
        if with_price:  # products: the last half year is enough and keeps the large panel fast
            frame = frame[frame["ds"] > panel.end - pd.Timedelta(days=min(self.train_days, 182) + 35)]
        train = frame.merge(panel.features, left_on="ds", right_index=True, how="left")
        future = panel.future_ids(frame).merge(panel.future_features, left_on="ds", right_index=True, how="left")
        if with_price:
            train = train.merge(panel.price, on=["unique_id", "ds"], how="left")
            train["price_index"] = train["price_index"].fillna(1.0)
            future = future.merge(panel.future_price, on="unique_id", how="left")
            future["price_index"] = future["price_index"].fillna(1.0)
        rows = len(train)
        # Tweedie on raw units: the mean of intermittent counts (a log transform would give the
        # median, mostly 0, and its sum over thousands of products runs far low). The products' panel
        # is large (100 trees); the aggregates' small (300 slower trees, smaller leaves).
        model = lgb.LGBMRegressor(
            objective="tweedie",
            tweedie_variance_power=1.2,
            n_estimators=self.n_estimators if with_price else 3 * self.n_estimators,
            learning_rate=self.learning_rate if with_price else self.learning_rate / 2,
            num_leaves=31 if with_price else 15,
            # rare calendar days (a holiday a few times a year) need small leaves to be learnable on
            # one series; large panels keep the default 20
            min_child_samples=int(min(20, max(3, rows // 500))),
            subsample=0.7,
            subsample_freq=1,
            colsample_bytree=0.8,
            max_bin=63,
            random_state=self.random_state,
            deterministic=True,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        fc = MLForecast(
            models={"yhat": model},
            freq=FREQS[self.freq],
            lags=lags,
            lag_transforms=transforms,
            date_features=dates,
            num_threads=1,
        )
        with _quiet():
            fc.fit(train[["unique_id", "ds", "y", *exog]], static_features=[], dropna=False)
            out = fc.predict(self.horizon, X_df=future[["unique_id", "ds", *exog]])
            out["yhat"] = out["yhat"].clip(lower=0.0)
            if not without_events:
                return out[["unique_id", "ds", "yhat"]]
            # the same days without holidays, promotions and events: what the calendar adds
            plain = future.assign(**{c: 0.0 for c in EVENT_FEATURES if c in future.columns})
            base = fc.predict(self.horizon, X_df=plain[["unique_id", "ds", *exog]])
        out = out.merge(base.rename(columns={"yhat": "plain"}), on=["unique_id", "ds"], how="left")
        out["plain"] = out["plain"].clip(lower=0.0)
        return out[["unique_id", "ds", "yhat", "plain"]]

    # --------------------------------------------------------------------------------- intervals
    def _with_intervals(self, point: pd.DataFrame, scales: pd.Series) -> pd.DataFrame:
        out = point.copy()
        levels = [split_id(u) for u in out["unique_id"]]
        out["level"] = [lv for lv, _ in levels]
        out["key"] = [k for _, k in levels]
        q = out["level"].map(self.quantiles_).fillna(max(self.quantiles_.values()))
        s = out["unique_id"].map(scales).fillna(1.0)
        out["forecast"] = out["yhat"]
        out["lo"] = (out["yhat"] - q * s).clip(lower=0.0)
        out["hi"] = out["yhat"] + q * s
        out["cold_start"] = False
        out = out[~out["key"].str.startswith(REST)]
        return out[["level", "key", "ds", "forecast", "lo", "hi", "cold_start"]].reset_index(drop=True)

    def _cold_start(self, history: SalesHistory, panel: _Panel) -> pd.DataFrame:
        products = history.products
        products = products[~products["hidden"].fillna(False).astype(bool)]
        first = history.sales.groupby("product_id")["ds"].min()
        known = set(panel.active)
        since_first = (panel.end - products["product_id"].map(first)).dt.days
        created = pd.to_datetime(products["created_at"])
        young = since_first.isna() & (created.notna() & (created >= panel.end - pd.Timedelta(days=self.active_days)))
        young |= since_first.notna() & (since_first < self.min_history_days)
        cold = products[young & ~products["product_id"].isin(known)]
        if cold.empty:
            return pd.DataFrame(columns=["level", "key", "ds", "forecast", "lo", "hi", "cold_start"])
        cats = self.forecast_[self.forecast_["level"] == "category"]
        share = panel.median_share
        rows = []
        for pid, cat in zip(cold["product_id"], cold["category"], strict=True):
            part = cats[cats["key"] == cat]
            w = float(share.get(cat, 0.0))
            if part.empty or w <= 0:
                continue
            rows.append(
                part.assign(
                    level="product",
                    key=pid,
                    forecast=part["forecast"] * w,
                    lo=part["lo"] * w,
                    hi=part["hi"] * w,
                    cold_start=True,
                )
            )
        if not rows:
            return pd.DataFrame(columns=["level", "key", "ds", "forecast", "lo", "hi", "cold_start"])
        return pd.concat(rows, ignore_index=True)


class _Panel:
    """The series of one fit: bottom (products) and top (categories + store) frames, features, scales."""

    def __init__(self) -> None:
        self.bottom: pd.DataFrame
        self.top: pd.DataFrame
        self.categories: dict[str, str]  # product id -> category, active products
        self.active: list[str]
        self.features: pd.DataFrame
        self.future_features: pd.DataFrame
        self.price: pd.DataFrame
        self.future_price: pd.DataFrame
        self.scales: pd.Series
        self.median_share: pd.Series
        self.end: pd.Timestamp
        self.horizon: int
        self.freq: str

    @classmethod
    def build(cls, history: SalesHistory, end: pd.Timestamp, cfg: DemandForecaster) -> _Panel:
        self = cls()
        self.end, self.horizon, self.freq = end, cfg.horizon, cfg.freq
        offset = pd.tseries.frequencies.to_offset(FREQS[cfg.freq])
        sales = history.sales
        day_end = end + pd.Timedelta(days=6) if cfg.freq == "W" else end
        sales = sales[sales["ds"] <= day_end].copy()
        if cfg.freq == "W":
            sales["ds"] = sales["ds"] - pd.to_timedelta(sales["ds"].dt.weekday, unit="D")
            sales = sales.groupby(["product_id", "ds"], as_index=False)[["units", "revenue"]].sum()
        start = max(sales["ds"].min(), end - pd.Timedelta(days=cfg.train_days))
        sales = sales[sales["ds"] >= start]
        grid = pd.date_range(start, end, freq=offset)
        if len(grid) < 2:
            raise InputError(
                "history: too little sales history before the forecast origin",
                field="history",
                hint="Load more orders, or shorten the horizon.",
            )
        last = sales.groupby("product_id")["ds"].max()
        active = sorted(last[last > end - pd.Timedelta(days=cfg.active_days)].index)
        category = history.products.set_index("product_id")["category"]
        sales["category"] = sales["product_id"].map(category).fillna(UNCATEGORISED)
        first = sales.groupby("product_id")["ds"].min()
        young = first[first > end - pd.Timedelta(days=cfg.min_history_days)].index
        active = [p for p in active if p not in set(young)]
        if cfg.max_products is not None and len(active) > cfg.max_products:
            # the best sellers of the last active_days; categories and the store still sum every product
            recent = sales[
                (sales["ds"] > end - pd.Timedelta(days=cfg.active_days)) & sales["product_id"].isin(set(active))
            ]
            top = recent.groupby("product_id")["units"].sum().sort_values(ascending=False, kind="mergesort")
            active = sorted(top.index[: cfg.max_products])
        if not active:
            raise InputError(
                f"history: no product sold in the {cfg.active_days} days before {end.date()}",
                field="active_days",
                value=cfg.active_days,
                hint="Raise --active-days, or forecast from a store with recent sales.",
            )
        act = sales[sales["product_id"].isin(set(active))]
        # every other product's sales, per category, as one more bottom series ("the rest"), so that
        # each category (and the store) is the sum of its bottom series and every sale is counted
        rest = sales[~sales["product_id"].isin(set(active))].assign(product_id=lambda f: REST + f["category"])
        rest = rest.groupby(["product_id", "category", "ds"], as_index=False)[["units", "revenue"]].sum()
        rest_ids = sorted(rest["product_id"].unique())
        first = pd.concat([first, rest.groupby("product_id")["ds"].min()])
        self.active = active + rest_ids
        self.categories = {p: str(category.get(p, UNCATEGORISED)) for p in active}
        self.categories.update({r: r[len(REST) :] for r in rest_ids})
        both = pd.concat([act, rest], ignore_index=True)
        full = pd.MultiIndex.from_product([self.active, grid], names=["unique_id", "ds"]).to_frame(index=False)
        full = full.merge(
            both.rename(columns={"product_id": "unique_id", "units": "y"})[["unique_id", "ds", "y"]],
            on=["unique_id", "ds"],
            how="left",
        )
        full["y"] = full["y"].fillna(0.0)
        full = full[full["ds"] >= full["unique_id"].map(first)]  # a product's series starts at its first sale
        full["unique_id"] = "product/" + full["unique_id"].astype(str)
        self.bottom = full.reset_index(drop=True)
        cats_with_active = sorted(set(self.categories.values()))
        by_cat = sales[sales["category"].isin(cats_with_active)].groupby(["category", "ds"])["units"].sum()
        cat_frame = by_cat.unstack("category").reindex(grid).fillna(0.0)
        top = [
            pd.DataFrame(
                {
                    "unique_id": STORE_KEY,
                    "ds": grid,
                    "y": sales.groupby("ds")["units"].sum().reindex(grid).fillna(0.0).to_numpy(),
                }
            )
        ]
        for cat in cats_with_active:
            top.append(pd.DataFrame({"unique_id": f"category/{cat}", "ds": grid, "y": cat_frame[cat].to_numpy()}))
        self.top = pd.concat(top, ignore_index=True)
        # features
        future = pd.date_range(end + offset, periods=cfg.horizon, freq=offset)
        self.features = _period_features(history, grid, cfg)
        self.future_features = _period_features(history, future, cfg)
        # prices: the realised price over the product's median; ahead, the list price (else the last realised)
        priced = act[act["units"] > 0].assign(price=lambda f: f["revenue"] / f["units"])
        median = priced.groupby("product_id")["price"].median()
        priced["price_index"] = priced["price"] / priced["product_id"].map(median)
        price = priced[["product_id", "ds", "price_index"]].rename(columns={"product_id": "unique_id"})
        price = full[["unique_id", "ds"]].merge(
            price.assign(unique_id="product/" + price["unique_id"].astype(str)), on=["unique_id", "ds"], how="left"
        )
        price["price_index"] = price.groupby("unique_id")["price_index"].ffill()
        self.price = price
        listed = history.products.set_index("product_id")["price"]
        last_index = price.groupby("unique_id")["price_index"].last()
        ids = pd.Series(active)
        list_index = (ids.map(listed) / ids.map(median)).to_numpy()
        fut = pd.DataFrame({"unique_id": "product/" + ids.astype(str), "price_index": list_index})
        fut["price_index"] = fut["price_index"].where(np.isfinite(fut["price_index"]), fut["unique_id"].map(last_index))
        self.future_price = fut
        # scales (MASE denominators) and the category shares used for cold starts
        all_series = self.all_series()
        self.scales = _scales(all_series, season_length(cfg.freq) if cfg.freq == "D" else 1)
        recent = act[act["ds"] > end - pd.Timedelta(days=cfg.active_days)]
        units = recent.groupby(["category", "product_id"])["units"].sum()
        shares = units / units.groupby(level="category").transform("sum")
        self.median_share = shares.groupby(level="category").median()
        return self

    def all_series(self) -> pd.DataFrame:
        return pd.concat([self.top, self.bottom], ignore_index=True)

    def future_ids(self, frame: pd.DataFrame) -> pd.DataFrame:
        offset = pd.tseries.frequencies.to_offset(FREQS[self.freq])
        future = pd.date_range(self.end + offset, periods=self.horizon, freq=offset)
        ids = frame["unique_id"].unique()
        return pd.MultiIndex.from_product([ids, future], names=["unique_id", "ds"]).to_frame(index=False)


def combine_levels(frame: pd.DataFrame) -> pd.Series:
    """The mean of LightGBM's forecast (``yhat``) and AutoETS's (``ets``) with the calendar effects
    LightGBM predicts: ETS is multiplied, period by period, by LightGBM's forecast over its forecast
    for the same days without holidays, promotions and events (``plain``).

    Combining forecasts is the most reliable gain in forecasting competitions (M4, M5), and the mean
    of the two beat either alone on the validation origins of UCI Online Retail (June-July 2011).
    ETS knows nothing of the calendar; giving it LightGBM's calendar factor keeps a holiday's or a
    promotion's effect at its full size instead of halving it.
    """
    ets = frame["ets"].fillna(frame["yhat"])
    plain = frame["plain"] if "plain" in frame else frame["yhat"]
    factor = np.where(plain > 1e-6, frame["yhat"] / np.maximum(plain, 1e-6), 1.0)
    return (frame["yhat"] + ets * factor) / 2.0


def _period_features(history: SalesHistory, periods: pd.DatetimeIndex, cfg: DemandForecaster) -> pd.DataFrame:
    if cfg.freq == "D":
        return calendar_features(history.calendar, periods, holiday_country=cfg.holiday_country)
    days = pd.date_range(periods.min(), periods.max() + pd.Timedelta(days=6), freq="D")
    daily = calendar_features(history.calendar, days, holiday_country=cfg.holiday_country)
    week = daily.index - pd.to_timedelta(daily.index.weekday, unit="D")
    agg = daily.groupby(week).agg({c: ("sum" if c in ("holiday", "event") else "mean") for c in daily.columns})
    return agg.reindex(periods)


def _scales(series: pd.DataFrame, m: int) -> pd.Series:
    """Per series, the mean absolute m-step difference of its history (MASE's denominator), floored at
    a tenth of the level's median scale so that a series that never changed gets a usable interval."""
    y = series.sort_values(["unique_id", "ds"])
    diff = (y.groupby("unique_id")["y"].diff(m)).abs()
    scale = diff.groupby(y["unique_id"]).mean()
    level = pd.Series([split_id(u)[0] for u in scale.index], index=scale.index)
    floor = scale.groupby(level).transform(lambda s: 0.1 * s[s > 0].median() if (s > 0).any() else 1.0)
    return scale.fillna(floor).where(scale > 0, floor).clip(lower=1e-6)


def _scaled_errors(point: pd.DataFrame, truth: pd.DataFrame, scales: pd.Series, cut: pd.Timestamp) -> pd.DataFrame:
    merged = point.merge(truth, on=["unique_id", "ds"], how="left")
    merged["y"] = merged["y"].fillna(0.0)
    merged = merged[(merged["ds"] > cut) & ~merged["unique_id"].str.startswith("product/" + REST)]
    err = (merged["y"] - merged["yhat"]).abs() / merged["unique_id"].map(scales).fillna(1.0)
    return pd.DataFrame({"level": [split_id(u)[0] for u in merged["unique_id"]], "error": err.to_numpy()})


def summing_matrix(panel: _Panel) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """S (one row per series, one column per product) and the tags of each level, as hierarchicalforecast takes them."""
    bottom = ["product/" + p for p in panel.active]
    cats = sorted(set(panel.categories.values()))
    rows = [STORE_KEY] + [f"category/{c}" for c in cats] + bottom
    S = np.zeros((len(rows), len(bottom)))
    S[0, :] = 1.0
    position = {c: 1 + k for k, c in enumerate(cats)}
    for j, p in enumerate(panel.active):
        S[position[panel.categories[p]], j] = 1.0
    S[1 + len(cats) :, :] = np.eye(len(bottom))
    S_df = pd.DataFrame(S, columns=bottom)
    S_df.insert(0, "unique_id", rows)
    tags = {
        "store": np.array([STORE_KEY]),
        "store/category": np.array([f"category/{c}" for c in cats]),
        "store/category/product": np.array(bottom),
    }
    return S_df, tags


def reconcile(base: pd.DataFrame, panel: _Panel) -> pd.DataFrame:
    """Middle-out over products -> categories -> store (forecast proportions); negatives cut to 0.

    The categories keep their own model's forecast (smoother series, better forecast), the store is
    their sum and each category's forecast is split over its products in proportion to the products'
    own forecasts. Least-squares reconciliation (MinTrace) was tried first: with thousands of sparse
    products, OLS spreads each gap evenly (a slow seller gets the same extra units as a best seller)
    and structural weights let the products' sum decide the totals."""
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MiddleOut

    S_df, tags = summing_matrix(panel)
    base = base[base["unique_id"].isin(set(S_df["unique_id"]))].copy()
    # a product forecast of exactly 0 everywhere in a category would leave no proportions to split by
    base["yhat"] = base["yhat"].clip(lower=1e-6)
    with _quiet():
        rec = HierarchicalReconciliation(
            reconcilers=[MiddleOut(middle_level="store/category", top_down_method="forecast_proportions")]
        ).reconcile(Y_hat_df=base, S_df=S_df, tags=tags)
    column = next(c for c in rec.columns if c.startswith("yhat/"))
    out = rec[["unique_id", "ds", column]].rename(columns={column: "yhat"})
    out["yhat"] = out["yhat"].clip(lower=0.0)
    return out.reset_index(drop=True)


def statistical_forecasts(
    series: pd.DataFrame, horizon: int, freq: str, methods: list[str], level: float | None = None
) -> pd.DataFrame:
    """statsforecast's AutoETS and / or SeasonalNaive per series (unique_id, ds, <method>[, -lo-/-hi-])."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    m = season_length(freq) if freq == "D" else 1
    models = []
    for name in methods:
        if name == "ets":
            models.append(AutoETS(season_length=m, alias="ets"))
        elif name == "seasonal_naive":
            models.append(SeasonalNaive(season_length=m, alias="seasonal_naive"))
    sf = StatsForecast(models=models, freq=FREQS[freq], n_jobs=1)
    with _quiet():
        out = sf.forecast(df=series[["unique_id", "ds", "y"]], h=horizon, level=[level] if level else None)
    out = out.reset_index() if "unique_id" not in out.columns else out
    for c in out.columns:
        if c not in ("unique_id", "ds"):
            out[c] = out[c].clip(lower=0.0)
    return out
