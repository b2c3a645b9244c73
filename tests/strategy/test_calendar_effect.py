"""The market-calendar correction finds an effect the history shows, and ignores one it does not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import open_store
from marketloop.strategy.calendar_effect import fit_demand

START = dt.date(2025, 1, 1)


def _store(tmp_path, promo_lift: float):
    rng = np.random.default_rng(0)
    promo_days = {START + dt.timedelta(days=d) for d in range(20, 120, 15)}
    orders, k = [], 0
    for d in range(120):
        day = START + dt.timedelta(days=d)
        n = rng.poisson(20 * (promo_lift if day in promo_days else 1.0))
        for _ in range(n):
            orders.append(
                {
                    "order_id": f"O{k}",
                    "customer_id": "C1",
                    "ordered_at": dt.datetime.combine(day, dt.time(12)),
                    "status": "completed",
                    "is_return": False,
                    "total": 50.0,
                }
            )
            k += 1
    store = open_store(f"duckdb:///{tmp_path / f'cal{promo_lift}.duckdb'}")
    with store.begin() as conn:
        insert_frame(conn, schema.orders, pd.DataFrame(orders))
        conn.execute(
            schema.calendar.insert(),
            [
                {"day": d, "kind": "promotion", "name": f"Flash {d}", "region": "global", "discount": 0.2}
                for d in sorted(promo_days)
            ],
        )
    return store, sorted(promo_days)


def test_promotion_effect_is_found_and_applied(tmp_path) -> None:
    store, promos = _store(tmp_path, promo_lift=2.0)
    model = fit_demand(store)
    assert "promotion_discount" in model.coef
    assert model.effects()["promotion_discount"] > 10  # log-effect per unit discount: 20 % off doubles orders
    factor = model.factor(promos[0], promos[0] + dt.timedelta(days=1), window_days=1)
    assert 1.7 < factor < 2.3
    store.close()


def test_no_effect_no_correction(tmp_path) -> None:
    store, promos = _store(tmp_path, promo_lift=1.0)
    model = fit_demand(store)
    assert "promotion_discount" not in model.coef or abs(model.t_stats["promotion_discount"]) >= 2
    assert abs(model.factor(promos[0], promos[0] + dt.timedelta(days=7), window_days=1) - 1) < 0.35  # weekday only
    store.close()
