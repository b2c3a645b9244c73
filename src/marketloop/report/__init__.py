"""Self-contained HTML reports with charts (Chart.js, inlined: no network needed to view them)."""

from marketloop.report.charts import Chart, Series, histogram
from marketloop.report.html import Report, Section

__all__ = ["Chart", "Report", "Section", "Series", "histogram"]
