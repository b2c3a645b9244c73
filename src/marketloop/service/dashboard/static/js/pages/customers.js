// Customers: search and filter the profiled customers (GET /v1/customers), open one.

import { get } from "../api.js";
import { start } from "../shell.js";
import { badge, card, empty, errorBox, field, fmt, h, loading, render, select, stageBadge, table, put } from "../ui.js";

const LIMIT = 25;
const SORTS = [["-clv", "Predicted value (high first)"], ["-revenue", "Revenue (high first)"],
  ["-churn_probability", "Churn risk (high first)"], ["-propensity_30d", "Likely to order soon"],
  ["recency_days", "Most recent buyers"], ["-days_inactive", "Longest inactive"], ["customer_id", "Customer id"]];
const STAGES = [["", "All stages"], ["new", "New"], ["active", "Active"], ["at_risk", "At risk"], ["churned", "Churned"]];

start(async () => {
  const params = new URLSearchParams(location.search);
  const state = { q: params.get("q") || "", segment: params.get("segment") || "",
    lifecycle_stage: params.get("lifecycle_stage") || "", sort: params.get("sort") || "-clv",
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0) };

  let segments = [];
  try { segments = ((await get("/v1/segments")).segments || []).map((s) => s.segment); } catch (e) { segments = []; }

  const q = h("input", { type: "search", name: "q", value: state.q, placeholder: "Customer id, or part of it" });
  const seg = select("segment", [["", "All segments"], ...segments.map((s) => [s, s])], state.segment);
  const stage = select("lifecycle_stage", STAGES, state.lifecycle_stage);
  const sort = select("sort", SORTS, state.sort);
  const form = h("form", { class: "filters", role: "search" },
    field("Search", q), field("Segment", seg), field("Lifecycle stage", stage), field("Sort by", sort),
    h("div", { class: "field" }, h("button", { type: "submit", class: "btn btn-primary" }, "Apply")));
  const results = h("div", null, loading());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, { q: q.value.trim(), segment: seg.value, lifecycle_stage: stage.value, sort: sort.value, offset: 0 });
    load();
  });
  render(card(null, form, results));

  async function load() {
    const query = { q: state.q, segment: state.segment, lifecycle_stage: state.lifecycle_stage, sort: state.sort,
      limit: LIMIT, offset: state.offset };
    const url = new URLSearchParams(Object.entries(query).filter(([k, v]) => v !== "" && k !== "limit"
      && !(k === "offset" && v === 0) && !(k === "sort" && v === "-clv")));
    history.replaceState(null, "", `${location.pathname}${url.toString() ? `?${url}` : ""}`);
    put(results, loading());
    let data;
    try {
      data = await get("/v1/customers", query);
    } catch (err) {
      put(results, errorBox(err, "Customers"));
      return;
    }
    const items = data.items || [];
    if ((data.total || 0) === 0 && !state.q && !state.segment && !state.lifecycle_stage) {
      put(results, empty("No profiles yet.",
        data.next_step || "Customer profiles (segment, value, churn risk, interests) are built from the store's orders.",
        "marketloop analyze"));
      return;
    }
    const columns = [
      { key: "customer_id", label: "Customer", header: true, format: fmt.text,
        link: (r) => `/dashboard/customers/${encodeURIComponent(r.customer_id)}` },
      { key: "segment", label: "Segment", format: fmt.text },
      { key: "orders", label: "Orders", num: true, format: fmt.int },
      { key: "revenue", label: "Revenue", num: true, format: fmt.money },
      { key: "clv", label: "Predicted CLV", num: true, format: fmt.money },
      { key: "churn_probability", label: "Churn risk", num: true, format: (v) => fmt.pct(v, 0) },
      { key: "churn_band", label: "Risk band", format: (v) => (v ? badge(String(v).replace("_", " "), v === "very_high" ? "high" : v) : "–") },
      { key: "lifecycle_stage", label: "Stage", format: (v) => (v ? stageBadge(v) : "–") },
      { key: "last_order_at", label: "Last order", format: fmt.date },
    ].filter((c) => items.length === 0 || c.key === "customer_id" || items.some((r) => r[c.key] !== undefined));
    const total = data.total ?? items.length;
    const first = total === 0 ? 0 : state.offset + 1;
    const last = state.offset + items.length;
    const prev = h("button", { type: "button", class: "btn", disabled: state.offset === 0 }, "Previous");
    const next = h("button", { type: "button", class: "btn", disabled: last >= total }, "Next");
    prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); load(); });
    next.addEventListener("click", () => { state.offset += LIMIT; load(); });
    put(results, 
      table(columns, items, { empty: "No customer matches these filters.", caption: `${fmt.int(total)} customers` }),
      h("div", { class: "pager" }, h("span", { class: "muted" }, `${fmt.int(first)}–${fmt.int(last)} of ${fmt.int(total)}`), prev, next));
  }
  await load();
});
