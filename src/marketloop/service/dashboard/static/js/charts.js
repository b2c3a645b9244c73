// Charts through Chart.js (installed from npm, served from /static/vendor). Every chart comes with its
// data as a table; without Chart.js the tables are shown open with a note on how to get the charts.

import { h, table } from "./ui.js";

export const COLORS = ["#2457a6", "#0f7b6c", "#b5580b", "#7048c2", "#5b6472", "#b42350"];
const GRID = "#e3e7ee";
const INK = "#3b4350";

export const chartsAvailable = () => typeof window.Chart === "function";

let configured = false;
function configure() {
  if (configured || !chartsAvailable()) return;
  const d = window.Chart.defaults;
  d.font.family = getComputedStyle(document.body).fontFamily;
  d.font.size = 12;
  d.color = INK;
  d.animation = false; // still pictures: calmer, and screenshots and tests see the final state
  d.maintainAspectRatio = false;
  d.plugins.legend.labels.boxWidth = 12;
  d.plugins.legend.labels.boxHeight = 12;
  d.plugins.tooltip.titleFont = { weight: "600" };
  configured = true;
}

/** A note shown once per page when Chart.js is not installed. */
export function missingChartsNote() {
  if (chartsAvailable()) return null;
  return h("div", { class: "notice notice-info", role: "note" },
    h("strong", null, "Charts are off. "),
    "Chart.js is not installed on this server. Run ", h("code", null, "make install"),
    " on a machine with npm (Node.js) to add it; the tables show the same data.");
}

function axis(format, extra) {
  return { grid: { color: GRID }, border: { display: false },
    ticks: format ? { callback: (v) => format(v) } : {}, ...extra };
}

/**
 * A chart with its data table (null without Chart.js when it has no table of its own).
 * spec: {type, labels, datasets:[{label, data, color, type?}], yFormat, xFormat, horizontal, stacked,
 *        description (what the chart shows, for screen readers), height, table: {columns, rows}}
 */
export function chart(title, spec) {
  const fig = h("figure", { class: "chart" });
  const caption = h("figcaption", null, title);
  const tableEl = spec.table ? table(spec.table.columns, spec.table.rows, { caption: `${title}: data` }) : null;
  const details = tableEl ? h("details", { class: "chart-data", open: !chartsAvailable() },
    h("summary", null, "Show the data as a table"), tableEl) : null;
  if (!chartsAvailable()) {
    if (!details) return null; // its data is in another chart's table
    fig.append(caption);
    if (details) fig.append(details);
    return fig;
  }
  configure();
  const points = spec.datasets.reduce((n, d) => n + d.data.filter((x) => x !== null && x !== undefined).length, 0);
  const canvas = h("canvas", { role: "img", "aria-label": `${title}. ${spec.description || ""}`.trim(),
    "data-points": points });
  const box = h("div", { class: "chart-box", style: null }, canvas);
  box.style.height = `${spec.height || 240}px`;
  fig.append(caption, box);
  if (details) fig.append(details);
  const horizontal = !!spec.horizontal;
  // Axis ticks use Chart.js' own number formatting (it picks sensible steps) unless told otherwise, e.g.
  // for percentages; `yFormat` formats values in tooltips.
  const valueAxis = axis(spec.tickFormat, { beginAtZero: spec.beginAtZero !== false, stacked: !!spec.stacked });
  const catAxis = { grid: { display: false }, border: { display: false }, stacked: !!spec.stacked,
    ticks: { maxRotation: 0, autoSkipPadding: 12 } };
  const scales = horizontal ? { x: valueAxis, y: catAxis } : { x: catAxis, y: valueAxis };
  const datasets = spec.datasets.map((d, i) => {
    const color = d.color || COLORS[i % COLORS.length];
    const type = d.type || spec.type;
    const base = { ...d, borderColor: color, backgroundColor: type === "line" ? color : `${color}${d.alpha || (d.solid ? "" : "d9")}` };
    if (type === "line") Object.assign(base, { tension: 0.25, pointRadius: d.pointRadius ?? 2.5, borderWidth: 2 });
    if (type === "bar") Object.assign(base, { borderWidth: d.alpha ? 1 : 0, borderRadius: 3, maxBarThickness: 42 });
    delete base.color; delete base.solid; delete base.alpha;
    return base;
  });
  const options = {
    indexAxis: horizontal ? "y" : "x",
    interaction: { mode: "index", intersect: false },
    scales: spec.type === "doughnut" ? {} : scales,
    plugins: {
      legend: { display: datasets.length > 1 || spec.type === "doughnut", position: "bottom" },
      tooltip: spec.tooltip || (spec.yFormat ? { callbacks: { label: (c) => {
        const v = c.raw;
        const txt = Array.isArray(v) ? `${spec.yFormat(v[0])} to ${spec.yFormat(v[1])}` : spec.yFormat(horizontal ? c.parsed.x : c.parsed.y);
        return `${c.dataset.label}: ${txt}`;
      } } } : {}),
    },
  };
  // eslint-disable-next-line no-new
  new window.Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets }, options });
  return fig;
}

/**
 * Intervals as floating bars with the point estimate as a marker (Chart.js has no error bars).
 * rows: [{label, mean, low, high}], several series allowed: series: [{name, rows, color}]
 */
export function intervalChart(title, series, { format, tickFormat, horizontal = true, description, height, table: tableSpec } = {}) {
  const labels = series[0].rows.map((r) => r.label);
  const datasets = [];
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    datasets.push({ type: "bar", label: `${s.name}: interval`, data: s.rows.map((r) => (r.low !== null && r.low !== undefined && r.high !== null && r.high !== undefined ? [r.low, r.high] : null)),
      color, alpha: "4d", grouped: series.length > 1, barPercentage: 0.5 });
    datasets.push({ type: "line", label: `${s.name}: estimate`, data: s.rows.map((r) => r.mean ?? null), color: INK,
      showLine: false, pointRadius: 9, pointHoverRadius: 10, pointStyle: "line", pointBorderWidth: 3,
      pointRotation: horizontal ? 90 : 0 });
  });
  return chart(title, { type: "bar", labels, datasets, horizontal, yFormat: format, tickFormat, beginAtZero: false, description,
    height: height || Math.max(140, 46 * labels.length + 60), table: tableSpec });
}
