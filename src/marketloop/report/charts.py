"""Charts of a report: what to draw (kind, labels, series, axis titles, number format), as plain data.

A :class:`Chart` is turned into a Chart.js configuration by the page's own script (Chart.js is inlined in the
report, so it opens offline as one file) and into a data table shown beside it, so the figures stay
readable without JavaScript, in print and where Chart.js is not installed. Charts are drawn after the page's
layout is known, in a box of fixed height that takes the width of its card: nothing is sized before the grid
settles, and no chart is wider than its card at any window width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["line", "bar", "hbar", "interval"]
#: how values are written on axes, tooltips and in the data table
Format = Literal["int", "number", "money", "pct", "signed", "signed_pct"]


@dataclass
class Series:
    """One series: a value per label; for interval charts also the low and high end of each interval."""

    name: str
    values: list[float | None]
    low: list[float | None] | None = None
    high: list[float | None] | None = None


@dataclass
class Chart:
    title: str
    kind: Kind
    labels: list[str]
    series: list[Series]
    x_title: str = ""
    y_title: str = ""
    value_format: Format = "number"
    #: a sentence saying what the chart shows (for screen readers and under the chart)
    description: str = ""
    #: a reference line at this value (e.g. 0 for lifts), drawn on the value axis
    reference: float | None = None
    #: the label of the first column of the data table
    label_title: str = ""
    height: int = field(default=0)

    def __post_init__(self) -> None:
        for s in self.series:
            if len(s.values) != len(self.labels):
                raise ValueError(
                    f"chart {self.title!r}: series {s.name!r} has {len(s.values)} values for {len(self.labels)} labels"
                )

    def box_height(self) -> int:
        """Pixels of the drawing area: enough for every category of a horizontal chart, else a fixed height."""
        if self.height:
            return self.height
        if self.kind in ("hbar", "interval"):
            return max(
                160, min(720, 60 + 34 * len(self.labels) * max(1, len(self.series) if self.kind == "interval" else 1))
            )
        return 300

    def config(self) -> dict:
        """What the page script draws (plain JSON: no functions; formats are named)."""

        def clean(values: list[float | None] | None) -> list[float | None] | None:
            if values is None:
                return None
            return [None if v is None or not np.isfinite(float(v)) else float(v) for v in values]

        return {
            "kind": self.kind,
            "labels": [str(label) for label in self.labels],
            "series": [
                {"name": s.name, "values": clean(s.values), "low": clean(s.low), "high": clean(s.high)}
                for s in self.series
            ],
            "x_title": self.x_title,
            "y_title": self.y_title,
            "format": self.value_format,
            "reference": self.reference,
        }

    def frame(self) -> pd.DataFrame:
        """The chart's data as a table (formatted by :func:`marketloop.report.html.format_value`)."""
        from marketloop.report.html import format_value

        data: dict[str, list[str]] = {self.label_title or self.x_title or "": [str(label) for label in self.labels]}
        for s in self.series:
            name = s.name if len(self.series) > 1 or self.kind == "interval" else (self.y_title or s.name)
            data[name] = [format_value(v, self.value_format) for v in s.values]
            if s.low is not None and s.high is not None:
                data[f"{s.name}: interval"] = [
                    f"{format_value(lo, self.value_format)} to {format_value(hi, self.value_format)}"
                    for lo, hi in zip(s.low, s.high, strict=True)
                ]
        return pd.DataFrame(data)


def histogram(
    title: str, values: pd.Series | np.ndarray, *, bins: int = 20, x_title: str = "", value_format: Format = "money"
) -> Chart:
    """A histogram as a bar chart of counts per bin (bins labelled by their range, the top 1 % folded into the
    last bin so one outlier does not squash the rest)."""
    from marketloop.report.html import format_value

    data = pd.Series(values, dtype=float).dropna()
    if data.empty:
        return Chart(
            title, "bar", [], [Series("customers", [])], x_title=x_title, y_title="customers", value_format="int"
        )
    top = float(data.quantile(0.99))
    edges = np.linspace(float(data.min()), top if top > data.min() else float(data.max()) + 1, bins + 1)
    counts, _ = np.histogram(data.clip(upper=edges[-1]), bins=edges)
    wide = edges[-1] - edges[0] >= 10 * bins  # bins wide enough to label in whole numbers
    labels = [
        f"{lo:,.0f}–{hi:,.0f}" if wide else f"{format_value(lo, value_format)}–{format_value(hi, value_format)}"
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    return Chart(
        title,
        "bar",
        labels,
        [Series("customers", [int(c) for c in counts])],
        x_title=x_title,
        y_title="customers",
        value_format="int",
        label_title=x_title or "range",
    )
