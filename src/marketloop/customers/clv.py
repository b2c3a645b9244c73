"""Customer lifetime value: BG/NBD (or Pareto/NBD) purchase counts and Gamma-Gamma order value.

Fitting uses PyMC-Marketing. By default the fit is the maximum a posteriori point under flat priors,
which equals the maximum-likelihood fit of the papers (on CDNOW it reproduces Fader, Hardie and Lee's
r=0.243, alpha=4.414, a=0.793, b=2.426); ``method="mcmc"`` samples the full posterior instead and the
point predictions become posterior means.

Per customer the model gives the probability of being alive, the expected purchases and the expected
value over a horizon, and a value interval. The interval is simulated from the model's conditional
distribution of each customer's future purchases and order values (``n_draws`` draws). With a MAP fit
it reflects customer-level uncertainty, not the uncertainty of the four population parameters.

Time runs in units of ``time_unit_days`` (weeks by default, as in the papers); horizons are in days.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd
from scipy.special import betaln

from marketloop.errors import DependencyError, InputError

log = logging.getLogger(__name__)

MODELS = ("bgnbd", "paretonbd")
METHODS = ("map", "mcmc")
_PARAMS = {"bgnbd": ("r", "alpha", "a", "b"), "paretonbd": ("r", "alpha", "s", "beta")}


def _pymc_clv():  # noqa: ANN202 - returns the pymc_marketing.clv module, imported lazily
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # arviz announces a refactor on import
            from pymc_extras.prior import Prior
            from pymc_marketing import clv
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(
            f"Customer lifetime value needs PyMC-Marketing ({exc.name} is missing)",
            hint="pip install 'marketloop[ml]'",
        ) from None
    return clv, Prior


class CLVModel:
    """Purchase-count model plus spend model, with scikit-learn conventions.

    Parameters
    ----------
    model : "bgnbd" or "paretonbd".
    method : "map" (default, seconds) or "mcmc" (full posterior, minutes).
    priors : "flat" (maximum-likelihood equivalent, default) or "default" (PyMC-Marketing's priors).
    time_unit_days : length of the model's time unit in days (7 = weeks).
    max_fit_customers : fit on a random sample of at most this many customers (predictions cover all).
    n_draws : simulation draws per customer for the value interval.
    interval : central probability of the value interval (0.9 gives the 5 % and 95 % quantiles).
    spend_model : also fit Gamma-Gamma for order values (False: purchase counts only, faster).
    random_state : seed for sampling and simulation.
    """

    def __init__(
        self,
        model: str = "bgnbd",
        method: str = "map",
        priors: str = "flat",
        time_unit_days: float = 7.0,
        max_fit_customers: int = 200_000,
        n_draws: int = 200,
        interval: float = 0.9,
        spend_model: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.model = model
        self.method = method
        self.priors = priors
        self.time_unit_days = time_unit_days
        self.max_fit_customers = max_fit_customers
        self.n_draws = n_draws
        self.interval = interval
        self.spend_model = spend_model
        self.random_state = random_state

    # ----------------------------------------------------------------------------------------- fit
    def _validate(self, summary: pd.DataFrame) -> None:
        if self.model not in MODELS:
            raise InputError(
                f"CLV model {self.model!r} is not known (expected one of {', '.join(MODELS)})",
                field="model",
                value=self.model,
                hint="Use bgnbd (default) or paretonbd.",
            )
        if self.method not in METHODS:
            raise InputError(
                f"fit method {self.method!r} is not known (expected map or mcmc)",
                field="method",
                value=self.method,
                hint="Use map (fast) or mcmc (full posterior).",
            )
        if self.priors not in ("flat", "default"):
            raise InputError(
                f"priors {self.priors!r} is not known (expected flat or default)", field="priors", value=self.priors
            )
        if not 0 < self.interval < 1:
            raise InputError(
                f"interval must be between 0 and 1, got {self.interval!r}", field="interval", value=self.interval
            )
        missing = {"customer_id", "frequency", "recency", "T", "monetary_value"} - set(summary.columns)
        if missing:
            raise InputError(
                f"the RFM summary lacks the columns {sorted(missing)}", field="summary", value=sorted(missing)
            )
        if len(summary) < 2:
            raise InputError(
                f"a CLV model needs at least 2 customers, got {len(summary)}",
                field="customers",
                value=len(summary),
                hint="Load more orders; hundreds of customers give stable estimates.",
            )
        if (summary["frequency"] > 0).sum() == 0:
            raise InputError(
                "no customer made a repeat purchase, so repeat-buying rates cannot be estimated",
                field="frequency",
                value=0,
                hint="Use a longer calibration period.",
            )
        if (summary["T"] <= 0).all():
            raise InputError(
                "every customer's first purchase is on the last day; there is no observation time",
                field="T",
                value=0,
                hint="Move --as-of / --calibration-end later.",
            )

    def fit(self, summary: pd.DataFrame) -> CLVModel:
        """Fit the purchase model on ``summary`` (see :func:`transactions.rfm_summary`) and the spend
        model on its repeat buyers."""
        self._validate(summary)
        clv, Prior = _pymc_clv()
        data = summary[summary["T"] > 0][["customer_id", "frequency", "recency", "T", "monetary_value"]]
        if len(data) > self.max_fit_customers:
            data = data.sample(self.max_fit_customers, random_state=self.random_state)
        data = data.reset_index(drop=True)
        names = _PARAMS[self.model]
        config = {name: Prior("HalfFlat") for name in names} if self.priors == "flat" else None
        cls = clv.BetaGeoModel if self.model == "bgnbd" else clv.ParetoNBDModel
        kwargs = {"progressbar": False}
        if self.method == "mcmc":
            kwargs.update(chains=2, cores=1, draws=500, tune=500, random_seed=self.random_state)
        started = time.perf_counter()
        cpu_started = time.process_time()
        purchase_model = cls(model_config=config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # PyMC-Marketing's notes on fit_data groups
            purchase_model.fit(data=data, method=self.method, **kwargs)
        self.fit_seconds_ = time.perf_counter() - started
        self.fit_cpu_seconds_ = time.process_time() - cpu_started
        self.purchase_model_ = purchase_model
        posterior = purchase_model.idata.posterior
        self.params_ = {name: float(posterior[name].mean()) for name in names}
        self.n_fit_customers_ = len(data)
        self.spend_params_: dict[str, float] | None = None
        repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        self.mean_order_value_ = float(repeaters["monetary_value"].mean()) if len(repeaters) else 0.0
        if self.spend_model:
            self._fit_spend(clv, Prior, repeaters)
        log.info("%s fit on %d customers in %.1fs: %s", self.model, len(data), self.fit_seconds_, self.params_)
        return self

    def _fit_spend(self, clv, Prior, repeaters: pd.DataFrame) -> None:  # noqa: ANN001
        if len(repeaters) > self.max_fit_customers:
            repeaters = repeaters.sample(self.max_fit_customers, random_state=self.random_state)
        if len(repeaters) < 10:
            # Documented fallback: too few repeat buyers for Gamma-Gamma; everyone gets the mean order value.
            log.warning("only %d repeat buyers: expected order value falls back to the mean", len(repeaters))
            return
        spend = clv.GammaGammaModel(model_config={k: Prior("HalfFlat") for k in ("p", "q", "v")})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            spend.fit(
                data=repeaters[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True),
                method="map",
                progressbar=False,
            )
        params = {k: float(spend.idata.posterior[k].mean()) for k in ("p", "q", "v")}
        if params["q"] <= 1:  # the population mean spend is infinite; keep the fallback
            log.warning("Gamma-Gamma q=%.3f <= 1: expected order value falls back to the mean", params["q"])
            return
        self.spend_params_ = params

    # ------------------------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise InputError("the CLV model is not fitted yet", field="model", value=None, hint="Call fit() first.")

    def _units(self, days: float) -> float:
        return days / self.time_unit_days

    def _mean(self, array) -> np.ndarray:  # noqa: ANN001 - xarray
        dims = [d for d in ("chain", "draw") if d in array.dims]
        return np.asarray(array.mean(dims).values if dims else array.values, dtype=float)

    def probability_alive(self, summary: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self._mean(self.purchase_model_.expected_probability_alive(data=_frame(summary)))

    def expected_purchases(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        self._check_fitted()
        data = _frame(summary)
        return self._mean(self.purchase_model_.expected_purchases(data=data, future_t=self._units(horizon_days)))

    def probability_no_purchase(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """P(no purchase in the next ``horizon_days``), point parameters."""
        self._check_fitted()
        t = self._units(horizon_days)
        x, tx, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        if self.model == "bgnbd":
            return bgnbd_prob_no_purchase(self.params_, x, tx, T, t)
        probs = self.purchase_model_.expected_purchase_probability(data=_frame(summary), n_purchases=0, future_t=t)
        return self._mean(probs)

    def expected_order_value(self, summary: pd.DataFrame) -> np.ndarray:
        x = summary["frequency"].to_numpy(dtype=float)
        z = summary["monetary_value"].to_numpy(dtype=float)
        if self.spend_params_ is None:
            return np.where(x > 0, z, self.mean_order_value_)
        p, q, v = (self.spend_params_[k] for k in ("p", "q", "v"))
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * (v * p / (q - 1)) + weight * z

    def predict(self, summary: pd.DataFrame, horizon_days: float = 365.0) -> pd.DataFrame:
        """customer_id, p_alive, expected_orders, expected_order_value, clv, clv_low, clv_high."""
        self._check_fitted()
        alive = self.probability_alive(summary)
        purchases = self.expected_purchases(summary, horizon_days)
        value = self.expected_order_value(summary)
        low, high = self._value_interval(summary, alive, horizon_days)
        return pd.DataFrame(
            {
                "customer_id": summary["customer_id"].to_numpy(),
                "p_alive": alive,
                "expected_orders": purchases,
                "expected_order_value": value,
                "clv": purchases * value,
                "clv_low": low,
                "clv_high": high,
            }
        )

    def _value_interval(
        self, summary: pd.DataFrame, alive: np.ndarray, horizon_days: float
    ) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.random_state)
        t = self._units(horizon_days)
        tail = (1 - self.interval) / 2
        x_all, T_all, z_all = (summary[c].to_numpy(dtype=float) for c in ("frequency", "T", "monetary_value"))
        low = np.empty(len(summary))
        high = np.empty(len(summary))
        chunk = max(1, 2_000_000 // max(self.n_draws, 1))
        for start in range(0, len(summary), chunk):
            sl = slice(start, start + chunk)
            x, T, z = x_all[sl, None], T_all[sl, None], z_all[sl, None]
            shape = (len(x), self.n_draws)
            is_alive = rng.random(shape) < alive[sl, None]
            r, alpha = self.params_["r"], self.params_["alpha"]
            lam = rng.gamma(r + x, 1.0 / (alpha + T), size=shape)
            if self.model == "bgnbd":
                p_drop = rng.beta(self.params_["a"], self.params_["b"] + x, size=shape)
                arrivals = rng.poisson(lam * t)
                n = np.minimum(arrivals, rng.geometric(np.clip(p_drop, 1e-9, 1.0)))
            else:
                mu = rng.gamma(self.params_["s"], 1.0 / (self.params_["beta"] + T), size=shape)
                life = rng.exponential(1.0 / np.maximum(mu, 1e-12))
                n = rng.poisson(lam * np.minimum(t, life))
            n = np.where(is_alive, n, 0)
            if self.spend_params_ is not None:
                p, q, v = (self.spend_params_[k] for k in ("p", "q", "v"))
                nu = rng.gamma(p * x + q, 1.0 / (v + x * z), size=shape)
                spend = np.where(n > 0, rng.gamma(np.maximum(n, 1) * p, 1.0 / nu), 0.0)
            else:
                spend = n * np.where(x > 0, z, self.mean_order_value_)
            low[sl], high[sl] = np.quantile(spend, [tail, 1 - tail], axis=1)
        return low, high

    def next_purchase_days(
        self, summary: pd.DataFrame, quantiles: tuple[float, ...] = (0.25, 0.5, 0.75), max_days: int = 730
    ) -> np.ndarray:
        """Days until the next purchase at each quantile of its distribution (NaN when the customer is
        unlikely to reach that quantile within ``max_days``). Shape (customers, len(quantiles))."""
        grid = np.unique(np.round(np.geomspace(1, max_days, 48)))
        no_purchase = np.column_stack([self.probability_no_purchase(summary, d) for d in grid])
        bought = 1 - no_purchase  # cumulative distribution of the waiting time, increasing in t
        out = np.full((len(summary), len(quantiles)), np.nan)
        for j, q in enumerate(quantiles):
            reached = bought >= q
            first = reached.argmax(axis=1)
            ok = reached.any(axis=1)
            out[ok, j] = grid[first[ok]]
        return out

    def get_params(self) -> dict[str, object]:
        return {
            k: getattr(self, k)
            for k in (
                "model",
                "method",
                "priors",
                "time_unit_days",
                "max_fit_customers",
                "n_draws",
                "interval",
                "spend_model",
                "random_state",
            )
        }


def _frame(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)


def bgnbd_prob_no_purchase(
    params: dict[str, float], x: np.ndarray, tx: np.ndarray, T: np.ndarray, t: float
) -> np.ndarray:
    """BG/NBD P(X(T, T+t] = 0 | x, t_x, T) (Fader and Hardie 2019, eq. 34), in log space for stability.

    Written with NumPy rather than PyMC-Marketing's xarray method so that a grid of horizons over
    millions of customers (next-order dates) stays fast.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    log_e = np.log(alpha + tx)
    log_f = np.log(alpha + T + t)
    log_m = np.log(alpha + T)
    beta_rep = betaln(a, b + x)
    with np.errstate(invalid="ignore", divide="ignore"):
        k_e = np.where(x > 0, betaln(a + 1, b + np.maximum(x, 1) - 1) - (r + x) * log_e, -np.inf)
    k_f = beta_rep - (r + x) * log_f
    k_m = beta_rep - (r + x) * log_m
    numer = np.logaddexp(k_e, k_f)
    denom = np.logaddexp(k_e, k_m)
    return np.exp(numer - denom)
