// Segments and value: RFM segments with their size, revenue share, value and churn risk (GET /v1/segments).

import { get } from "../api.js";
import { chart, chartsAvailable, missingChartsNote } from "../charts.js";
import { start } from "../shell.js";
import { card, empty, fmt, h, kpi, kpis, render, table } from "../ui.js";

const pick = (row, ...keys) => { for (const k of keys) if (typeof row[k] === "number") return row[k]; return null; };

start(async () => {
  const data = await get("/v1/segments");
  const segments = data.segments || [];
  if (segments.length === 0) {
    render(card(null, empty("No segments yet.",
      data.next_step || "Segments come from the customer profiles. Build them from the store's orders, then reload this page.",
      "marketloop analyze")));
    return;
  }
  const rows = segments.map((s) => ({
    segment: s.segment,
    customers: pick(s, "customers"),
    share: pick(s, "share", "customer_share"),
    revenue_share: pick(s, "revenue_share"),
    avg_clv: pick(s, "avg_clv", "mean_clv"),
    avg_revenue: pick(s, "avg_revenue", "mean_revenue"),
    churn: pick(s, "churn_probability", "mean_churn", "avg_churn_probability"),
  }));
  const total = rows.reduce((n, r) => n + (r.customers || 0), 0);
  const top = [...rows].sort((a, b) => (b.revenue_share || 0) - (a.revenue_share || 0))[0];
  const risky = [...rows].filter((r) => r.churn !== null).sort((a, b) => b.churn - a.churn)[0];
  const labels = rows.map((r) => r.segment);
  const columns = [
    { key: "segment", label: "Segment", header: true, format: fmt.text,
      link: (r) => `/dashboard/customers?segment=${encodeURIComponent(r.segment)}` },
    { key: "customers", label: "Customers", num: true, format: fmt.int },
    { key: "share", label: "Share of customers", num: true, format: (v) => fmt.pct(v) },
    { key: "revenue_share", label: "Share of revenue", num: true, format: (v) => fmt.pct(v) },
    { key: "avg_revenue", label: "Avg revenue", num: true, format: fmt.money },
    { key: "avg_clv", label: "Avg predicted CLV", num: true, format: fmt.money },
    { key: "churn", label: "Avg churn risk", num: true, format: (v) => fmt.pct(v) },
  ].filter((c) => c.key === "segment" || rows.some((r) => r[c.key] !== null));

  render(
    missingChartsNote(),
    kpis(
      kpi("Profiled customers", fmt.int(total), data.as_of ? `as of ${fmt.date(data.as_of)}` : null),
      kpi("Segments", fmt.int(rows.length)),
      top ? kpi("Most revenue", top.segment, `${fmt.pct(top.revenue_share)} of revenue`) : null,
      risky ? kpi("Highest churn risk", risky.segment, `${fmt.pct(risky.churn)} on average`, "bad") : null,
    ),
    bandTiles(data.churn_bands, total, data.churn),
    !chartsAvailable() ? null : h("div", { class: "grid-2" },
      card("Size and revenue",
        chart("Share of customers and of revenue", { type: "bar", labels, horizontal: true, height: 40 + 30 * labels.length,
          datasets: [{ label: "Customers", data: rows.map((r) => r.share) },
            { label: "Revenue", data: rows.map((r) => r.revenue_share), color: "#0f7b6c" }],
          yFormat: (v) => fmt.pct(v, 1), tickFormat: (v) => fmt.pct(v, 0),
          description: "For each segment, its share of customers and of revenue." })),
      card("Predicted value",
        chart("Average predicted customer value", { type: "bar", labels, horizontal: true, height: 40 + 30 * labels.length,
          datasets: [{ label: "Avg predicted CLV", data: rows.map((r) => r.avg_clv), color: "#7048c2" }],
          yFormat: fmt.money, description: "Average predicted lifetime value per segment." }))),
    card("Segments", table(columns, rows, { caption: "Open a segment to see its customers." })),
  );
});

/** Customers per churn-risk band, as compact tiles (low to very high). */
function bandTiles(bands, total, churn) {
  const order = ["low", "medium", "high", "very_high"];
  if (!bands || !Object.keys(bands).length) return null;
  const present = [...order, ...Object.keys(bands).filter((b) => !order.includes(b))];
  const seen = Object.fromEntries(((churn && churn.bands) || []).map((b) => [b.band, b]));
  const sub = (b) => [total ? `${fmt.pct((bands[b] || 0) / total, 0)} of profiled customers` : null,
    seen[b] && seen[b].observed_rate != null ? `${fmt.pct(seen[b].observed_rate, 0)} churned last time` : null]
    .filter(Boolean).join("; ");
  return h("div", null, h("h2", { class: "section-title" }, "Churn risk"),
    churn ? h("p", { class: "muted small" }, `Churn risk is the chance of ${churn.definition}. Bands are quantiles of it `
      + "(the riskiest tenth is very high); each shows the share of its customers who churned on the latest "
      + "snapshot whose outcome is known.") : null,
    h("div", { class: "kpis kpis-compact" }, present.map((b) => kpi(`${b.replace("_", " ")} risk`, fmt.int(bands[b] || 0),
      sub(b), b === "very_high" ? "bad" : null))));
}
