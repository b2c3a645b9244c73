"""External series come in through the calendar entity and become forecast features; bad rows are quarantined."""

from __future__ import annotations

import pandas as pd

from marketloop.forecast.calendar import calendar_features, read_calendar
from marketloop.store.engine import open_store
from marketloop.store.ingest.loader import load_file


def test_covariates_and_promotions_from_an_ingested_calendar(tmp_path) -> None:
    path = tmp_path / "calendar.csv"
    path.write_text(
        "day,kind,name,discount,value\n"
        "2026-01-05,covariate,Competitor price index,,1.03\n"
        "2026-01-12,covariate,Competitor price index,,0.98\n"
        "2026-01-07,promotion,Flash sale,0.2,\n"
        "2026-01-08,holiday,Founders day,,\n"
        "2026-01-09,covariate,Competitor price index,,not-a-number\n"
        "2026-01-10,weather,Rain,,3\n"
    )
    store = open_store(f"duckdb:///{tmp_path / 'cal.duckdb'}")
    summary = load_file(store, "calendar", path)
    assert summary.rejected == 2  # the bad value and the unknown kind, each with a reason
    days = pd.date_range("2026-01-04", "2026-01-14", freq="D")
    feats = calendar_features(read_calendar(store), days)
    cov = feats["cov_competitor_price_index"]
    assert cov.loc["2026-01-04"] == 1.03 and cov.loc["2026-01-06"] == 1.03 and cov.loc["2026-01-13"] == 0.98
    assert abs(feats.loc["2026-01-07", "promotion"] - 0.2) < 1e-6 and feats.loc["2026-01-06", "promotion"] == 0.0
    assert feats.loc["2026-01-08", "holiday"] == 1.0 and feats["holiday"].sum() == 1.0
    gb = calendar_features(
        read_calendar(store), pd.date_range("2026-12-24", "2026-12-27", freq="D"), holiday_country="GB"
    )
    assert gb["holiday"].tolist() == [0.0, 1.0, 1.0, 0.0]  # Christmas and Boxing Day
    store.close()
