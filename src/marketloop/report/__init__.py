"""Self-contained HTML reports with charts (Plotly, embedded: no network needed to view them)."""

from marketloop.report.html import Report, Section

__all__ = ["Report", "Section"]
