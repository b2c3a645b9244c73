"""The HTML report: readable headers and numbers, charts drawn by the inlined Chart.js at any width, one
offline file, Chinese text marked for CJK fonts; checked in a real browser at 1,280 and 1,920 px."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketloop.report import Chart, Report, Section, Series, histogram
from marketloop.report import html as report_html
from marketloop.report.html import format_value, header, table_html
from tests.report.browser import assert_fits, look


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (-0.0001, "number", "0.000"),
        (-0.001, "money", "0.00"),
        (-0.00004, "signed_pct", "+0.00 pp"),
        (0.0143, "signed_pct", "+1.43 pp"),
        (0.25, "pct", "25.0 %"),
        (1234567.891, "money", "1,234,568"),
        (12.5, "money", "12.50"),
        (3.0, "number", "3"),
        (float("nan"), "number", "–"),
        (float("inf"), "money", "–"),
        (None, "int", "–"),
        (True, "number", "yes"),
        (-2.004, "signed", "-2.00"),
    ],
)
def test_numbers_are_formatted_for_people(value, kind, text) -> None:
    assert format_value(value, kind) == text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("conversion_lift", "Conversion lift"),
        ("customer_id", "Customer ID"),
        ("mean_clv", "Mean CLV"),
        ("roi", "ROI"),
        ("avg rating", "Avg rating"),
        ("new_in: share", "New in: share"),
    ],
)
def test_headers_are_readable(name, text) -> None:
    assert header(name) == text


def test_tables_format_by_column_and_never_show_minus_zero() -> None:
    frame = pd.DataFrame(
        {
            "level": ["a", "b"],
            "treated": [1200, 30],
            "offer_rate": [0.5, 0.125],
            "conversion_lift": [-0.00001, 0.0213],
            "revenue_lift": [-0.0001, 12.3456],
        }
    )
    html = table_html(frame)
    assert "-0.00" not in html and "_" not in re.sub(r"<[^>]+>", " ", html)
    for text in ("Conversion lift", "Offer rate", "1,200", "50.0 %", "+2.13 pp", "+0.00 pp", "+12.35", "+0.00"):
        assert text in html, text
    assert html.startswith('<div class="table-wrap">')


def _big_report() -> Report:
    weeks = pd.date_range("2025-01-06", periods=53, freq="W-MON")
    rng = np.random.default_rng(0)
    long_labels = [
        f"{k} · e-mail with a long offer name, no discount, group {k}"
        for k in ("would buy anyway", "persuadable", "put off by messages", "low response")
    ]
    return Report(title="Report test", subtitle="all chart kinds").add(
        Section(
            title="Overview",
            figures={"revenue": "1,234", "orders": "56"},
            charts=[
                Chart(
                    "Revenue per week",
                    "line",
                    [f"{w:%Y-%m-%d}" for w in weeks],
                    [Series("revenue", rng.uniform(5000, 14000, 53).tolist())],
                    x_title="week starting",
                    y_title="revenue",
                    value_format="money",
                ),
                Chart(
                    "Orders by category, with a title long enough to wrap over two lines in a narrow card",
                    "hbar",
                    [f"Category {i} with a long name" for i in range(12)],
                    [Series("orders", list(range(100, 1300, 100)))],
                    value_format="int",
                ),
                histogram("Predicted customer value (CLV)", pd.Series(rng.gamma(2, 40, 2000))),
                Chart(
                    "Conversion lift by group",
                    "interval",
                    long_labels,
                    [
                        Series(
                            "lift",
                            [0.02, 0.01, -0.03, 0.001],
                            low=[0.01, 0.0, -0.06, -0.004],
                            high=[0.03, 0.02, 0.0, 0.006],
                        )
                    ],
                    value_format="signed_pct",
                    reference=0.0,
                ),
                Chart(
                    "Predicted and realised",
                    "interval",
                    ["incremental revenue", "incremental profit"],
                    [
                        Series("predicted", [6700, 2300], low=[2000, 460], high=[10800, 4160]),
                        Series("realised", [21900, 7500], low=[16900, 5800], high=[26900, 9200]),
                    ],
                    value_format="money",
                    reference=0.0,
                ),
            ],
            tables=[("Wide table", pd.DataFrame({f"column_number_{i}": rng.normal(size=3) for i in range(18)}))],
            blocks=[("e-mail (zh) for customer C1", "主题：我们想念您，Kenji：八五折\n您好，欢迎回到我们的商店。")],
        )
    )


def test_report_is_one_small_offline_file_without_chart_js_too(tmp_path: Path, monkeypatch) -> None:
    path = _big_report().write(tmp_path / "r.html")
    html = path.read_text()
    assert path.stat().st_size < 1_000_000
    assert "plotly" not in html.lower() and "<script src" not in html and "https://" not in html.split("<script>")[0]
    assert '<pre lang="zh">' in html and "Noto Sans CJK SC" in html and "Microsoft YaHei" in html
    if report_html.CHART_FILE.is_file():
        assert html.count('class="chart-spec"') == 5 and "Chart.js v4" in html
    monkeypatch.setattr(report_html, "CHART_FILE", tmp_path / "absent.js")
    plain = _big_report().render()
    assert "chart-spec" not in plain and plain.count('<details class="chart-data" open>') == 5
    assert "Charts need Chart.js" in plain and "Revenue per week" in plain


@pytest.mark.slow
def test_charts_fit_their_cards_at_1280_and_1920_px(tmp_path: Path) -> None:
    path = _big_report().write(tmp_path / "r.html")
    shots = Path(os.environ.get("MARKETLOOP_SCREENSHOTS", tmp_path / "shots"))
    measured = look(path, (1280, 1920, 700), shots, "report-kinds")
    for width, m in measured.items():
        assert_fits(m, width)
        assert all("Noto Sans CJK SC" in family for family in m["zh"]) and m["zh"]
        if m["chartJs"]:
            line = next(c for c in m["charts"] if c["title"] == "Revenue per week")
            assert line["labels"] == 53 and line["shownLast"] == "2026-01-05"  # the whole year, not January to June
    # a narrow window stacks the charts, each as wide as its card (sized after layout, not once at load)
    narrow = measured[700]["charts"][0]
    assert narrow["figure"]["width"] > 0.9 * (narrow["card"]["width"] - 48)
