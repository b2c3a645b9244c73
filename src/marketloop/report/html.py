"""A small report builder: titled sections of text, key figures, charts and tables, written as one HTML
file that opens offline.

Charts are :class:`~marketloop.report.charts.Chart` specifications drawn by Chart.js, which is inlined once in
the page (the same copy the dashboard serves, installed by ``make install``; about 200 KB, where an embedded
Plotly was 3.5 MB). Each chart sits in a box of fixed height that takes its card's width, is drawn once the
layout is known, and carries its data as a table, so the report stays readable without JavaScript and in
print (and shows the tables open where Chart.js is not installed). Tables get readable headers and numbers
formatted by what their column holds (no ``snake_case``, no ``-0.00``); text in Chinese is marked
``lang="zh"`` and the font stack falls back to the usual CJK fonts of each system.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

from marketloop.clock import wall_utcnow
from marketloop.report.charts import Chart

#: Chart.js, copied here from npm by `make install` (never committed); the dashboard serves the same file.
CHART_FILE = Path(__file__).parent / "vendor" / "chart.umd.js"

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@dataclass
class Section:
    title: str
    intro: str = ""
    #: headline numbers shown as cards: label -> formatted value
    figures: dict[str, str] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    #: preformatted text blocks (e.g. a generated message or a transcript)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, *sections: Section) -> Report:
        self.sections.extend(sections)
        return self

    def render(self) -> str:
        env = Environment(autoescape=select_autoescape(["html"]))
        env.filters["lang"] = lambda text: Markup(' lang="zh"') if _CJK.search(str(text or "")) else ""
        template = env.from_string(resources.files("marketloop.report").joinpath("templates/report.html").read_text())
        chart_js = CHART_FILE.read_text(encoding="utf-8") if CHART_FILE.is_file() else ""
        rendered = []
        n = 0
        for section in self.sections:
            charts = []
            for chart in section.charts:
                n += 1
                charts.append(
                    {
                        "id": f"chart-{n}",
                        "title": chart.title,
                        "description": chart.description,
                        "legend": "Bars: intervals; dots: estimates." if chart.kind == "interval" else "",
                        "height": chart.box_height(),
                        "config": Markup(_json_for_script(chart.config())),
                        "table": Markup(table_html(chart.frame(), formatted=True)),
                    }
                )
            rendered.append(
                {
                    "title": section.title,
                    "intro": section.intro,
                    "figures": section.figures,
                    "charts": charts,
                    "tables": [(caption, Markup(table_html(frame))) for caption, frame in section.tables],
                    "blocks": section.blocks,
                    "notes": section.notes,
                }
            )
        return template.render(
            title=self.title,
            subtitle=self.subtitle,
            generated=wall_utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            sections=rendered,
            chart_js=Markup(chart_js.replace("</script", "<\\/script")),
            has_charts=bool(chart_js),
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(path)  # never leave a half-written report
        return path


def _json_for_script(payload: object) -> str:
    """JSON safe inside a <script type="application/json"> element (no closing tag can appear in it)."""
    return json.dumps(payload, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


# ------------------------------------------------------------------------------------------ formatting
#: words kept in capitals (or as written) when a column name is turned into a header
_WORDS = {"id": "ID", "clv": "CLV", "roi": "ROI", "aov": "AOV", "rfm": "RFM", "ece": "ECE", "url": "URL"}


def header(name: object) -> str:
    """A readable column header: ``conversion_lift`` -> ``Conversion lift``, ``customer_id`` -> ``Customer ID``."""
    words = [_WORDS.get(w.lower(), w) for w in str(name).replace("_", " ").split()]
    if not words:
        return str(name)
    first = words[0]
    words[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def format_value(value: object, kind: str = "number") -> str:
    """One number as people read it: thousands separators, no ``-0.00``, percentages with a % sign."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "–"
    if kind == "pct":
        return f"{_nozero(v * 100, 1):.1f} %"
    if kind == "signed_pct":
        return f"{_nozero(v * 100, 2):+.2f} pp"
    if kind == "signed":
        return f"{_nozero(v, 2):+,.2f}"
    if kind == "int":
        return f"{round(v):,}"
    if kind == "money":
        return f"{_nozero(v, 0):,.0f}" if abs(v) >= 1000 else f"{_nozero(v, 2):,.2f}"
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    digits = 2 if abs(v) >= 1 else 3
    return f"{_nozero(v, digits):,.{digits}f}"


def _nozero(v: float, digits: int) -> float:
    """``v`` with a value that rounds to zero made positive zero, so it never prints as ``-0.00``."""
    return 0.0 if round(v, digits) == 0 else v


_PCT = re.compile(r"(share|rate|probability|fraction|depth|conversion_(treated|holdout)|pct)$")
_SIGNED_PCT = re.compile(r"conversion_(lift|low|high)$")
_SIGNED = re.compile(r"(revenue|profit)_(lift|low|high)$")
_MONEY = re.compile(r"(revenue|profit|value|clv|price|cost|spend|amount|total|discount_value|benefit)")


def column_format(name: object, values: pd.Series) -> str:
    """How a column is written, read off its name (the same rules as the dashboard's tables)."""
    key = str(name).lower().replace(" ", "_")
    if values.dtype.kind in "iub":
        return "int"
    if _SIGNED_PCT.search(key):
        return "signed_pct"
    if _SIGNED.search(key):
        return "signed"
    if _PCT.search(key) or key in ("discount", "holdout_fraction", "share"):
        return "pct"
    if _MONEY.search(key):
        return "money"
    return "number"


def table_html(frame: pd.DataFrame, *, formatted: bool = False) -> str:
    """A table with readable headers and formatted numbers, in a wrapper that scrolls sideways on a narrow
    screen instead of overflowing its card. ``formatted``: the cells are already text."""
    if frame is None or frame.empty:
        return '<p class="note">No rows.</p>'
    heads = [str(c) for c in frame.columns]
    formats = (
        {} if formatted else {c: column_format(c, frame[c]) for c in frame.columns if frame[c].dtype.kind in "iufb"}
    )
    numeric = {c for c in frame.columns if c in formats} | (
        {c for c in frame.columns if frame[c].astype(str).str.match(r"^[+\-–]?[\d,.]+( %| pp)?$").all()}
        if formatted
        else set()
    )
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = (
                format_value(value, formats[column]) if column in formats else ("–" if _missing(value) else str(value))
            )
            cls = ' class="num"' if column in numeric else ""
            lang = ' lang="zh"' if _CJK.search(text) else ""
            cells.append(f"<td{cls}{lang}>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    num_class = ' class="num"'
    head = "".join(
        f'<th scope="col"{num_class if c in numeric else ""}>{escape(header(h))}</th>'
        for c, h in zip(frame.columns, heads, strict=True)
    )
    return (
        '<div class="table-wrap"><table class="data"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT
