// Demand and stock: one series' sales history, forecast and prediction interval (GET /v1/forecasts),
// the largest series of a level, and the products at risk of selling out or of overstock (GET /v1/inventory).

import { get } from "../api.js";
import { chart, missingChartsNote } from "../charts.js";
import { start } from "../shell.js";
import { badge, card, empty, errorBox, field, fmt, h, kpi, kpis, loading, put, render, select, table } from "../ui.js";

const BAND = "#2457a640";

function seriesChart(data) {
  const hist = data.history || [];
  const pts = data.points || [];
  const labels = [...hist.map((r) => r.ds), ...pts.map((r) => r.ds)];
  const pad = (n) => Array(n).fill(null);
  const level = fmt.num(data.run.level, 0);
  return chart(`${data.level === "store" ? "Store" : data.key}: units sold and forecast`, {
    type: "line",
    labels,
    yFormat: (v) => fmt.num(v, 1),
    description: `Units per ${data.run.freq === "W" ? "week" : "day"}: history, forecast and its ${level} % interval.`,
    height: 300,
    datasets: [
      { label: "Sold", data: [...hist.map((r) => r.units), ...pad(pts.length)], pointRadius: 0 },
      { label: "Forecast", data: [...pad(hist.length), ...pts.map((r) => r.forecast)], color: "#b5580b", pointRadius: 0 },
      { label: `${level} % interval, low`, data: [...pad(hist.length), ...pts.map((r) => r.lo)], color: BAND, pointRadius: 0 },
      { label: `${level} % interval, high`, data: [...pad(hist.length), ...pts.map((r) => r.hi)], color: BAND, pointRadius: 0, fill: "-1" },
    ],
    table: {
      columns: [
        { key: "ds", label: "Period", header: true, format: fmt.date },
        { key: "units", label: "Sold", num: true, format: (v) => fmt.num(v, 1) },
        { key: "forecast", label: "Forecast", num: true, format: (v) => fmt.num(v, 1) },
        { key: "lo", label: "Low", num: true, format: (v) => fmt.num(v, 1) },
        { key: "hi", label: "High", num: true, format: (v) => fmt.num(v, 1) },
      ],
      rows: [...hist.map((r) => ({ ds: r.ds, units: r.units })), ...pts],
    },
  });
}

const RISK_TONE = { stockout: "negative", overstock: "warning", ok: "positive" };

start(async () => {
  const params = new URLSearchParams(location.search);
  const levelSel = select("level", [["store", "Store"], ["category", "Category"], ["product", "Product"]], params.get("level") || "category");
  const keyInput = h("input", { type: "search", name: "key", value: params.get("key") || "", placeholder: "Largest series (or a category / product id)", autocomplete: "off" });
  const form = h("form", { class: "filters", role: "search" }, field("Level", levelSel), field("Series", keyInput),
    h("div", { class: "field" }, h("button", { type: "submit", class: "btn btn-primary" }, "Show")));
  const out = h("div", null, loading());
  const stock = h("div", null, loading());
  render(missingChartsNote(), card(null, form), out, stock);

  let runs;
  try {
    runs = await get("/v1/forecasts/runs");
  } catch (err) {
    put(out, errorBox(err, "Forecasts"));
    return;
  }
  if (!runs.length) {
    put(out, card(null, empty("No forecasts yet.", "Forecasts come from the store's sales, with the market calendar and prices as features.", "marketloop forecast train")));
    put(stock);
    return;
  }

  async function load() {
    const level = levelSel.value;
    let key = keyInput.value.trim();
    history.replaceState(null, "", `?level=${encodeURIComponent(level)}${key ? `&key=${encodeURIComponent(key)}` : ""}`);
    put(out, loading());
    try {
      const list = await get("/v1/forecasts", { level, limit: 12 });
      if (!key) key = level === "store" ? "all" : (list.series[0] || {}).key;
      const data = await get("/v1/forecasts", { level, key, history_days: list.run.freq === "W" ? 364 : 91 });
      const total = data.points.reduce((n, p) => n + p.forecast, 0);
      const run = data.run;
      put(out,
        card(`Forecast: ${level === "store" ? "the store" : `${level} ${key}`}`,
          kpis(
            kpi("Units ahead", fmt.int(total), `${run.horizon} ${run.freq === "W" ? "weeks" : "days"} from ${fmt.date(run.history_end)}`),
            kpi("Interval", `${fmt.int(data.points.reduce((n, p) => n + p.lo, 0))} to ${fmt.int(data.points.reduce((n, p) => n + p.hi, 0))}`, `sum of the periods' ${fmt.num(run.level, 0)} % bounds`),
            kpi("Model", run.method, data.cold_start ? "cold start: a share of its category" : `run ${run.run_id}`)),
          seriesChart(data)),
        level === "store" ? null : card(`Largest ${level} forecasts`, table([
          { key: "key", label: level === "category" ? "Category" : "Product", header: true, format: fmt.text,
            link: (r) => `/dashboard/forecasts?level=${level}&key=${encodeURIComponent(r.key)}` },
          { key: "forecast", label: "Units ahead", num: true, format: fmt.int },
          { key: "lo", label: "Low", num: true, format: fmt.int },
          { key: "hi", label: "High", num: true, format: fmt.int },
        ], list.series)));
    } catch (err) {
      put(out, errorBox(err, "Forecast"));
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  await load();

  try {
    const inv = await get("/v1/inventory", { limit: 25 });
    if (!inv.total) {
      put(stock, card("Stock", empty("No stock cover.", "Stock cover needs products with stock and a forecast run.", "marketloop forecast train")));
      return;
    }
    const counts = inv.counts || {};
    put(stock, card("Stock against the forecast",
      kpis(kpi("Likely to sell out", fmt.int(counts.stockout || 0), "within the selling window"),
        kpi("Overstocked", fmt.int(counts.overstock || 0), "stock left after the overstock period"),
        kpi("In balance", fmt.int(counts.ok || 0))),
      table([
        { key: "product_id", label: "Product", header: true, format: fmt.text,
          link: (r) => `/dashboard/forecasts?level=product&key=${encodeURIComponent(r.product_id)}` },
        { key: "name", label: "Name", format: fmt.text },
        { key: "stock", label: "Stock", num: true, format: fmt.int },
        { key: "daily_demand", label: "Units / day", num: true, format: (v) => fmt.num(v, 1) },
        { key: "days_of_cover", label: "Days of cover", num: true, format: (v) => fmt.num(v, 0) },
        { key: "p_stockout", label: "Stockout risk", num: true, format: (v) => fmt.pct(v, 0) },
        { key: "overstock_units", label: "Excess units", num: true, format: fmt.int },
        { key: "risk", label: "Risk", format: (v) => badge(v, RISK_TONE[v]) },
      ], inv.items)));
  } catch (err) {
    put(stock, errorBox(err, "Stock"));
  }
});
