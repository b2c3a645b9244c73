"""A small report builder: titled sections of text, key figures, charts and tables, written as one
HTML file that opens offline (plotly.js is embedded once in the page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from marketloop.clock import wall_utcnow

CHART_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass
class Section:
    title: str
    intro: str = ""
    #: headline numbers shown as cards: label -> formatted value
    figures: dict[str, str] = field(default_factory=dict)
    charts: list[go.Figure] = field(default_factory=list)
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
        from plotly.offline import get_plotlyjs

        env = Environment(autoescape=select_autoescape(["html"]))
        template = env.from_string(resources.files("marketloop.report").joinpath("templates/report.html").read_text())
        rendered = []
        for section in self.sections:
            rendered.append(
                {
                    "title": section.title,
                    "intro": section.intro,
                    "figures": section.figures,
                    "charts": [Markup(_chart_html(fig)) for fig in section.charts],
                    "tables": [(caption, Markup(_table_html(frame))) for caption, frame in section.tables],
                    "blocks": section.blocks,
                    "notes": section.notes,
                }
            )
        return template.render(
            title=self.title,
            subtitle=self.subtitle,
            generated=wall_utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            sections=rendered,
            plotly_js=Markup(get_plotlyjs()),
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(path)  # never leave a half-written report
        return path


def _chart_html(fig: go.Figure) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=50, r=20, t=50, b=40), height=340)
    return fig.to_html(full_html=False, include_plotlyjs=False, config=CHART_CONFIG)


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="data", border=0, float_format=lambda v: f"{v:,.2f}", na_rep="")
