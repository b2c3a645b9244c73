// Overview: the store's KPIs and how they moved month by month (GET /v1/overview).

import { get } from "../api.js";
import { chart, missingChartsNote } from "../charts.js";
import { start } from "../shell.js";
import { card, empty, fmt, h, kpi, kpis, note, render } from "../ui.js";

start(async () => {
  const data = await get("/v1/overview");
  const k = data.kpis || {};
  const series = data.series || [];
  if (!k.orders && series.length === 0) {
    render(card(null, empty("No orders yet.",
      data.next_step || "Load a store's customers, products and orders (or a simulated store), then reload this page.",
      "marketloop sim generate --load   # or: marketloop ingest DATA_DIR")));
    return;
  }
  const tiles = kpis(
    kpi("Revenue", fmt.money(k.revenue), k.as_of ? `orders up to ${fmt.date(k.as_of)}` : null),
    kpi("Orders", fmt.int(k.orders)),
    kpi("Average order value", fmt.money(k.aov)),
    kpi("Active customers", fmt.int(k.active_customers), "ordered in the last 90 days"),
    kpi("Repeat rate", fmt.pct(k.repeat_rate), "customers with 2+ orders"),
  );
  const small = [];
  if (k.customers !== undefined) {
    small.push(`${fmt.int(k.customers)} customers${k.customers_with_orders !== undefined ? ` (${fmt.int(k.customers_with_orders)} with orders)` : ""}`);
  }
  if (k.products !== undefined) small.push(`${fmt.int(k.products)} products`);
  if (k.profiles !== undefined) small.push(`${fmt.int(k.profiles)} customer profiles`);

  const months = series.map((r) => r.month);
  const col = (key) => series.map((r) => (typeof r[key] === "number" ? r[key] : null));
  const tableSpec = { rows: series, columns: [
    { key: "month", label: "Month", header: true, format: fmt.text },
    { key: "revenue", label: "Revenue", num: true, format: fmt.money },
    { key: "orders", label: "Orders", num: true, format: fmt.int },
    { key: "aov", label: "AOV", num: true, format: fmt.money },
    { key: "active_customers", label: "Buying customers", num: true, format: fmt.int },
    { key: "new_customers", label: "New", num: true, format: fmt.int },
    { key: "returning_customers", label: "Returning", num: true, format: fmt.int },
  ].filter((c) => series.some((r) => r[c.key] !== undefined)) };
  const charts = series.length === 0 ? [h("p", { class: "muted" }, "No monthly figures yet.")] : [
    chart("Revenue by month", { type: "bar", labels: months, datasets: [{ label: "Revenue", data: col("revenue") }],
      yFormat: fmt.money, description: `Monthly revenue for ${months.length} months.`, table: tableSpec, height: 260 }),
    h("div", { class: "grid-2" },
      series.some((r) => typeof r.new_customers === "number")
        ? chart("Buying customers: new and returning", { type: "bar", stacked: true, labels: months, datasets: [
          { label: "New", data: col("new_customers"), color: "#0f7b6c" },
          { label: "Returning", data: col("returning_customers"), color: "#2457a6" },
        ], yFormat: fmt.int, description: "Customers who ordered each month, split into first-time and returning buyers." })
        : chart("Orders and active customers", { type: "line", labels: months, datasets: [
          { label: "Orders", data: col("orders") },
          { label: "Active customers", data: col("active_customers"), color: "#b5580b" },
        ], yFormat: fmt.int, description: "Orders and active customers per month." }),
      chart("Average order value", { type: "line", labels: months, datasets: [{ label: "AOV", data: col("aov"), color: "#0f7b6c" }],
        yFormat: fmt.money, description: "Average order value per month." })),
  ];
  render(
    missingChartsNote(),
    data.next_step ? note(h("strong", null, "Next step: "), data.next_step) : null,
    tiles,
    small.length ? h("p", { class: "muted small" }, small.join(" · ")) : null,
    card("Over time", ...charts),
    h("p", { class: "muted small" }, "Next: see who these customers are in ",
      h("a", { href: "/dashboard/segments" }, "Segments"), ", or plan a campaign in ",
      h("a", { href: "/dashboard/campaigns" }, "Campaigns"), "."),
  );
});
