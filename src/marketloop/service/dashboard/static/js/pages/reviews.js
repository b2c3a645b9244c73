// Review insights: sentiment and what customers love or complain about, per product
// (GET /v1/reviews/insights, names from GET /v1/products).

import { get } from "../api.js";
import { chart, missingChartsNote } from "../charts.js";
import { start } from "../shell.js";
import { badge, card, empty, errorBox, field, fmt, h, kpi, kpis, loading, note, put, render, table } from "../ui.js";

function aspects(list, tone) {
  if (!list || !list.length) return h("p", { class: "muted small" }, "Nothing mentioned often enough yet.");
  return h("ul", { class: "verdicts" }, list.map((a) => h("li", null, badge(String(a.aspect ?? a.name ?? a), tone),
    h("span", null, a.mentions !== undefined ? `${fmt.int(a.mentions)} mentions` : "",
      a.quote || a.example ? h("q", { class: "muted" }, ` ${a.quote || a.example}`) : null))));
}

function productCard(p, names) {
  const name = p.name || names.get(p.product_id) || p.product_id;
  return card(name,
    h("div", { class: "kpis kpis-compact" },
      kpi("Reviews", fmt.int(p.n_reviews ?? p.reviews)),
      kpi("Average rating", p.avg_rating !== null && p.avg_rating !== undefined ? fmt.num(p.avg_rating, 2) : "–"),
      kpi("Positive", fmt.pct(p.positive_share, 0))),
    p.highlight ? h("p", null, h("q", null, p.highlight)) : null,
    h("div", { class: "grid-2" },
      h("div", null, h("h3", null, "Customers love"), aspects(p.loves, "positive")),
      h("div", null, h("h3", null, "Complaints"), aspects(p.complaints, "negative"))));
}

start(async () => {
  const params = new URLSearchParams(location.search);
  const productInput = h("input", { type: "search", name: "product_id", value: params.get("product_id") || "",
    placeholder: "All products (or a product id)", list: "product-options", autocomplete: "off" });
  const options = h("datalist", { id: "product-options" });
  const out = h("div", null, loading());
  const form = h("form", { class: "filters filters-one", role: "search" }, field("Product", productInput), options,
    h("div", { class: "field" }, h("button", { type: "submit", class: "btn btn-primary" }, "Show")));
  render(missingChartsNote(), card(null, form), out);

  const names = new Map();
  productInput.addEventListener("input", async () => {
    const q = productInput.value.trim();
    if (q.length < 2) return;
    try {
      const res = await get("/v1/products", { q, limit: 10 });
      put(options, ...(res.items || res.products || []).map((p) => {
        names.set(p.product_id, p.name);
        return h("option", { value: p.product_id }, p.name || p.product_id);
      }));
    } catch (e) { /* suggestions are optional */ }
  });

  async function load() {
    const pid = productInput.value.trim();
    history.replaceState(null, "", pid ? `?product_id=${encodeURIComponent(pid)}` : location.pathname);
    put(out, loading());
    let data;
    try {
      data = await get("/v1/reviews/insights", { product_id: pid });
    } catch (err) {
      put(out, errorBox(err, "Review insights"));
      return;
    }
    const products = data.products || data.items || (data.product_id ? [data] : []);
    if (!products.length) {
      put(out, card(null, empty(pid ? `No review insights for ${pid}.` : "No review insights yet.",
        data.hint || "Insights come from scoring the store's reviews: sentiment, and the aspects customers mention.",
        "marketloop reviews analyze")));
      return;
    }
    try {
      const ids = products.filter((p) => !p.name).map((p) => p.product_id);
      await Promise.all(ids.slice(0, 20).map(async (id) => {
        if (names.has(id)) return;
        try { names.set(id, (await get(`/v1/products/${encodeURIComponent(id)}`)).name); } catch (e) { /* keep the id */ }
      }));
    } catch (e) { /* names are a nicety */ }
    const labelOf = (p) => p.name || names.get(p.product_id) || p.product_id;
    const sentiment = data.sentiment || {};
    const total = Object.values(sentiment).reduce((n, v) => n + (typeof v === "number" ? v : 0), 0);
    const top = products.slice(0, 12);
    const aspectList = (list) => (list || []).map((a) => `${a.aspect} (${fmt.int(a.mentions)})`).join(", ") || "–";
    put(out,
      data.hint ? note(data.hint) : null,
      total && products.length !== 1 ? kpis(kpi("Reviews", fmt.int(total), data.model ? `sentiment by ${data.model}` : null),
        ...["positive", "neutral", "negative"].filter((k) => k in sentiment).map((k) =>
          kpi(k, fmt.pct(sentiment[k] / total, 0), `${fmt.int(sentiment[k])} reviews`, k === "negative" ? "bad" : k === "positive" ? "good" : null))) : null,
      products.length === 1 ? productCard(products[0], names) : null,
      top.length > 1 ? card("Share of positive reviews",
        chart("Positive share by product (most reviewed first)", { type: "bar", horizontal: true, labels: top.map(labelOf),
          datasets: [{ label: "Positive", data: top.map((p) => p.positive_share ?? null), color: "#0f7b6c" }],
          yFormat: (v) => fmt.pct(v, 0), tickFormat: (v) => fmt.pct(v, 0), height: 50 + 26 * top.length,
          description: "For each product, the share of its reviews that are positive.",
          table: { rows: top, columns: [
            { key: "product", label: "Product", header: true, value: labelOf, format: fmt.text },
            { key: "n_reviews", label: "Reviews", num: true, format: fmt.int },
            { key: "positive_share", label: "Positive", num: true, format: (v) => fmt.pct(v, 0) },
            { key: "avg_rating", label: "Avg rating", num: true, format: (v) => fmt.num(v, 2) }] } })) : null,
      products.length > 1 ? card("What customers love and complain about", table([
        { key: "product", label: "Product", header: true, value: labelOf, format: fmt.text,
          link: (p) => `?product_id=${encodeURIComponent(p.product_id)}` },
        { key: "n_reviews", label: "Reviews", num: true, format: fmt.int },
        { key: "avg_rating", label: "Avg rating", num: true, format: (v) => fmt.num(v, 1) },
        { key: "positive_share", label: "Positive", num: true, format: (v) => fmt.pct(v, 0) },
        { key: "loves", label: "Loved (mentions)", format: aspectList },
        { key: "complaints", label: "Complaints (mentions)", format: aspectList },
        { key: "highlight", label: "Highlight for copy", format: fmt.text },
      ], products, { caption: "Open a product for its quotes." })) : null,
    );
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  await load();
});
