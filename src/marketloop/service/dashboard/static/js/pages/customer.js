// One customer: profile, interests, churn reasons, recent orders, consents, and recommendations by name.

import { ApiError, get, isMissingRoute } from "../api.js";
import { start } from "../shell.js";
import { auto, badge, card, context, empty, fields, fill, fmt, h, kpi, kpis, label, prose, render, setTitle, stageBadge, table } from "../ui.js";

const SOURCES = { als: "shoppers like them (ALS)", ease: "shoppers like them (EASE)", itemknn: "similar items",
  hybrid: "ranked blend", trending: "trending now", popularity: "popular", content: "similar descriptions",
  "buy again": "bought before", "content (cold start)": "similar descriptions (new customer)", "bought together": "bought together" };
const HEADLINE = ["segment", "orders", "revenue", "clv", "churn_probability", "next_order_at", "lifecycle_stage", "days_inactive"];
const SHOWN = new Set(["customer_id", "interests", "interests_json", "churn_reasons", "churn_reasons_json",
  "propensity_reasons", "propensity_reasons_json"]);

function interestsView(interests) {
  if (!interests || (typeof interests === "object" && Object.keys(interests).length === 0)) {
    return h("p", { class: "muted" }, "No interests yet: they come from the customer's orders and views.");
  }
  if (Array.isArray(interests)) interests = { interests };
  return h("div", { class: "stack" }, Object.entries(interests).map(([kind, tags]) =>
    h("div", null, h("h3", null, label(kind)),
      h("ul", { class: "chips" }, (Array.isArray(tags) ? tags : [tags]).map((t) => {
        if (t && typeof t === "object") {
          const name = t.value ?? t.name ?? t.tag ?? t.label ?? JSON.stringify(t);
          const score = t.share ?? t.score ?? t.weight;
          return h("li", { class: "chip" }, String(name), typeof score === "number" ? h("span", { class: "chip-score" }, fmt.pct(score, 0)) : null);
        }
        return h("li", { class: "chip" }, String(t));
      })))));
}

function reasonsView(reasons, up = "raises the risk", down = "lowers the risk") {
  if (!reasons || reasons.length === 0) {
    return h("p", { class: "muted" }, prose("No reasons to show: the churn model gives per-customer reasons once the store has enough orders to train it (`marketloop analyze`)."));
  }
  return h("ol", { class: "reasons" }, reasons.map((r) => {
    if (typeof r !== "object") return h("li", null, String(r));
    const name = r.label ?? r.feature ?? r.reason ?? "";
    const effect = r.shap ?? r.contribution ?? r.effect;
    return h("li", null, h("strong", null, String(name)),
      r.value !== undefined ? ` = ${auto(r.feature || name, r.value)}` : "",
      typeof effect === "number" ? h("span", { class: "muted" }, ` (${effect >= 0 ? up : down})`) : null);
  }));
}

/** "Linen Coat, Lip Balm ×2": each product once, with its quantity when above one. */
function productList(lines) {
  const qty = new Map();
  for (const l of lines) {
    const name = l.name || l.product_id;
    qty.set(name, (qty.get(name) || 0) + (l.quantity || 1));
  }
  return [...qty].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(", ");
}

function recsView(data, emptyText) {
  const items = (data && data.items) || [];
  if (items.length === 0) return h("p", { class: "muted" }, prose(emptyText));
  return h("div", null, table([
    { key: "name", label: "Product", header: true, value: (r) => r.name || r.product_id, format: fmt.text },
    { key: "category", label: "Category", format: fmt.text },
    { key: "price", label: "Price", num: true, format: fmt.money },
    { key: "source", label: "Source", format: (v) => SOURCES[v] || fmt.text(v) },
  ].filter((c) => c.key === "name" || items.some((r) => r[c.key] !== undefined && r[c.key] !== null)), items),
  data.model ? h("p", { class: "muted small" }, `Model: ${data.model.name || "?"} v${data.model.version ?? "?"}`) : null);
}

/** What the churn risk means: no order within the horizon, and what the customer's band has meant so far. */
function churnNote(churn, band, model) {
  if (!churn) return model ? `model: ${model}` : null;
  const seen = (churn.bands || []).find((b) => b.band === band);
  return [`chance of ${churn.definition}`, seen && seen.observed_rate != null
    ? `${fmt.pct(seen.observed_rate, 0)} of the ${String(band).replace("_", " ")} band churned last time` : null,
  model ? `model: ${model}` : null].filter(Boolean).join("; ");
}

start(async () => {
  const id = context().customerId;
  setTitle(`Customer ${id}`);
  const data = await get(`/v1/customers/${encodeURIComponent(id)}`);
  const p = data.profile || {};
  const who = data.customer || {};
  const band = p.churn_band;
  const recsFor = h("div"), recsAgain = h("div");
  const actions = h("div", { class: "actions" },
    h("a", { class: "btn", href: `/dashboard/copy?customer_id=${encodeURIComponent(id)}` }, "Preview a message"),
    h("a", { class: "btn", href: `/dashboard/assistant?customer_id=${encodeURIComponent(id)}` }, "Ask the assistant"),
    h("a", { class: "btn btn-quiet", href: "/dashboard/customers" }, "Back to customers"));
  const hasProfile = Object.keys(p).length > 0;
  const otherFields = Object.keys(p).filter((k) => !SHOWN.has(k) && !HEADLINE.includes(k));
  render(
    h("div", { class: "page-header" }, p.segment ? badge(p.segment, "planned") : null,
      p.high_value ? badge("high value", "approved") : null,
      [who.country, who.language, who.is_guest ? "guest" : null, who.signup_at ? `since ${fmt.date(who.signup_at)}` : null]
        .filter(Boolean).length ? h("span", { class: "muted small" }, [who.country, who.language, who.is_guest ? "guest" : null,
          who.signup_at ? `customer since ${fmt.date(who.signup_at)}` : null].filter(Boolean).join(" · ")) : null,
      band ? badge(`churn risk: ${String(band).replace("_", " ")}`, band === "very_high" ? "high" : band) : null,
      p.lifecycle_stage ? stageBadge(p.lifecycle_stage, p.days_inactive != null ? `, inactive ${p.days_inactive} days` : "") : null,
      h("span", { class: "spacer" }), actions),
    hasProfile ? kpis(
      kpi("Orders", fmt.int(p.orders)),
      kpi("Revenue", fmt.money(p.revenue)),
      kpi("Predicted value", fmt.money(p.clv), p.clv_low !== undefined ? `${fmt.money(p.clv_low)} to ${fmt.money(p.clv_high)}` : null),
      kpi("Churn risk", fmt.pct(p.churn_probability, 0), churnNote(data.churn, band, p.churn_model), band === "very_high" ? "bad" : null),
      kpi("Next order", p.next_order_at ? fmt.date(p.next_order_at) : "not expected", p.propensity_30d !== undefined ? `${fmt.pct(p.propensity_30d, 0)} chance in 30 days` : null),
    ) : card(null, empty("No profile for this customer yet.", data.next_step || "Profiles are built for customers with orders.",
      data.next_step ? null : "marketloop analyze")),
    h("div", { class: "grid-2" },
      card("Recommended for this customer", recsFor),
      card("Buy again", recsAgain)),
    h("div", { class: "grid-2" },
      card("Interests", interestsView(data.interests ?? p.interests)),
      card("Why the churn risk", reasonsView(data.churn_reasons ?? p.churn_reasons),
        (data.propensity_reasons || []).length ? [h("h3", null, "What drives the chance of an order"), reasonsView(data.propensity_reasons, "raises it", "lowers it")] : null)),
    card("Recent orders", table([
      { key: "order_id", label: "Order", header: true, format: fmt.text },
      { key: "ordered_at", label: "Date", value: (r) => r.ordered_at ?? r.created_at ?? r.ts, format: fmt.date },
      { key: "items", label: "Items", num: true, format: fmt.int,
        value: (r) => (Array.isArray(r.lines) ? r.lines.reduce((n, l) => n + (l.quantity || 0), 0) : r.items) },
      { key: "products", label: "Products", value: (r) => (Array.isArray(r.lines) ? productList(r.lines) : null), format: fmt.text },
      { key: "total", label: "Total", num: true, value: (r) => r.total ?? r.revenue ?? r.amount, format: fmt.money },
      { key: "status", label: "Status", value: (r) => (r.is_return ? "return" : r.status), format: fmt.text },
    ], data.recent_orders || [], { empty: "No orders." })),
    h("div", { class: "grid-2" },
      card("Consents", table([
        { key: "channel", label: "Channel", header: true, format: fmt.text },
        { key: "status", label: "Status", format: (v) => (v ? badge(v) : "–") },
        { key: "updated_at", label: "Since", value: (r) => r.updated_at ?? r.ts ?? r.granted_at, format: fmt.datetime },
        { key: "source", label: "Source", format: fmt.text },
      ], data.consents || [], { empty: "No consent recorded: messages on any channel are skipped at send time." })),
      card("All profile fields", hasProfile ? fields(p, otherFields) : h("p", { class: "muted" }, "None."))),
  );
  // No trained models is a setup step, not a failure: say which command trains them.
  const recs = async (kind, emptyText) => {
    try {
      return recsView(await get(`/v1/recommendations/${kind}/${encodeURIComponent(id)}`, { n: 6 }), emptyText);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && !isMissingRoute(err)) {
        return h("p", { class: "muted" }, prose(err.hint || err.message));
      }
      throw err;
    }
  };
  fill(recsFor, () => recs("for-you", "No recommendations: train the models with `marketloop recs train`."), "Recommendations");
  fill(recsAgain, () => recs("buy-again", "Nothing to buy again yet: the customer has no past purchases the models know."), "Buy again");
});
