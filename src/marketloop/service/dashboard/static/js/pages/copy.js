// Copy preview: what a customer would receive, with the guardrail verdicts behind it (POST /v1/copy/preview,
// which writes nothing to the store).

import { post } from "../api.js";
import { start } from "../shell.js";
import { badge, card, errorBox, field, fmt, h, label, loading, render, select, put } from "../ui.js";

const GOALS = [["promotion", "Promotion"], ["winback", "Win back"], ["welcome", "Welcome"], ["cart_recovery", "Cart recovery"],
  ["cross_sell", "Cross-sell"], ["replenish", "Replenish"], ["new_arrivals", "New arrivals"]];
const CHANNELS = [["email", "E-mail"], ["sms", "SMS"], ["push", "Push"]];
const ACTION_TONE = { accepted: "pass", repaired: "warn", replaced: "warn", blocked: "fail" };
const ACTION_TEXT = {
  accepted: "The writer's text passed every check and would be sent as written.",
  repaired: "The writer's text broke a rule; it was repaired and the repaired text passed.",
  replaced: "The writer's text broke a rule; the grounded template's text would be sent instead.",
  blocked: "No text passed the checks: nothing would be sent.",
};

function messageView(m, channel) {
  if (!m) return h("p", { class: "muted" }, "Nothing would be sent.");
  if (m.subject !== undefined) {
    return h("div", { class: "copy-text" },
      h("div", null, h("strong", null, "Subject: "), m.subject),
      m.preheader ? h("div", { class: "muted" }, m.preheader) : null,
      h("hr"),
      h("div", null, m.body),
      (m.products || []).length ? h("ul", null, m.products.map((p) =>
        h("li", null, h("strong", null, p.name || p.product_id), p.price !== undefined ? ` · ${fmt.money(p.price)}` : "",
          p.blurb || p.text ? ` · ${p.blurb || p.text}` : ""))) : null,
      m.footer ? h("div", { class: "muted small" }, m.footer) : null);
  }
  if (m.title !== undefined) return h("div", { class: "copy-text" }, h("strong", null, m.title), h("div", null, m.body));
  return h("div", { class: "copy-text" }, m.text ?? JSON.stringify(m));
}

function verdicts(title, report) {
  const violations = (report && report.violations) || [];
  const kind = (v) => v.code || v.kind || "rule";
  return h("div", null, h("h3", null, title, " ", violations.length ? badge(`${violations.length} problem${violations.length > 1 ? "s" : ""}`, "fail") : badge("pass")),
    violations.length ? h("ul", { class: "verdicts" }, violations.map((v) =>
      h("li", null, badge(label(kind(v)), "fail"), h("span", null, `${v.field ? `${v.field}: ` : ""}${v.detail || ""}`))))
      : h("p", { class: "muted small" }, "Prices, discounts, codes, dates, product names, links, claims, length, opt-out and personal data all checked."));
}

function resultView(r, channel) {
  return card(`Variant ${(r.variant ?? 0) + 1}`,
    h("div", { class: "row" }, badge(r.action || "?", ACTION_TONE[r.action] || "neutral"),
      h("span", { class: "muted small" }, `written by ${r.provider || "?"}${r.final_provider && r.final_provider !== r.provider ? `, final text by ${r.final_provider}` : ""}`
        + `${r.language ? ` · ${r.language}` : ""}${r.latency_ms ? ` · ${fmt.int(r.latency_ms)} ms` : ""}`)),
    h("p", { class: "small" }, ACTION_TEXT[r.action] || ""),
    messageView(r.message, channel),
    h("div", { class: "grid-2" },
      verdicts("Guardrails on the writer's text", r.raw_verdict || r.raw_report),
      verdicts("Guardrails on the text that would be sent", r.verdict || r.final_report)),
    (r.reasons || []).length ? h("div", null, h("h3", null, "Reasons"), h("ul", null, r.reasons.map((x) => h("li", null, x)))) : null);
}

start(async () => {
  const params = new URLSearchParams(location.search);
  const customer = h("input", { type: "text", name: "customer_id", required: true, value: params.get("customer_id") || "",
    placeholder: "e.g. C000123", autocomplete: "off" });
  const channel = select("channel", CHANNELS, "email");
  const goal = select("goal", GOALS, "promotion");
  const products = h("input", { type: "text", name: "product_ids", placeholder: "optional: P001, P002" });
  const discount = h("input", { type: "number", name: "discount", min: 0, max: 90, placeholder: "none" });
  const code = h("input", { type: "text", name: "code", placeholder: "optional, e.g. SAVE15", maxlength: 40 });
  const variants = h("input", { type: "number", name: "variants", min: 1, max: 8, value: 2 });
  const voice = select("voice", [["friendly", "Friendly"], ["premium", "Premium"], ["playful", "Playful"], ["plain", "Plain"]], "friendly");
  const storeName = h("input", { type: "text", name: "store_name", value: "Our Shop", maxlength: 60 });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true },
    h("div", { class: "form-grid" },
      field("Customer id", customer), field("Channel", channel), field("Purpose", goal),
      field("Products", products, "Product ids, comma separated; default: picks for this customer."),
      field("Discount (%)", discount), field("Discount code", code, "Capitals and digits, e.g. SAVE15."),
      field("Variants", variants), field("Voice", voice), field("Shop name", storeName)),
    h("div", { class: "actions form-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Preview")));
  render(h("p", { class: "muted" }, "See the message a customer would get before anything is sent. Every text is checked "
    + "against the catalogue and the offer (prices, codes, dates, product names) and against the rules for claims, "
    + "length, opt-out and personal data. Nothing is stored."), card(null, form), out);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!customer.value.trim()) {
      customer.setAttribute("aria-invalid", "true");
      put(out, errorBox({ message: "Enter a customer id (open one from Customers to fill it in)." }));
      customer.focus();
      return;
    }
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const body = { customer_id: customer.value.trim(), channel: channel.value, goal: goal.value,
      variants: Number(variants.value) || 1, voice: voice.value, store_name: storeName.value.trim() || "Our Shop" };
    const ids = products.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (ids.length) body.product_ids = ids;
    if (discount.value !== "") {
      body.offer = { kind: "percent", value: Number(discount.value) };
      if (code.value.trim()) body.offer.code = code.value.trim().toUpperCase();
    }
    put(out, loading("Writing and checking…"));
    try {
      const res = await post("/v1/copy/preview", body);
      const results = res.variants || res.results || (Array.isArray(res) ? res : [res]);
      const facts = res.products || [];
      put(out, 
        h("p", { class: "muted small" }, [`Language: ${res.language || "?"}`, `provider: ${res.provider || "?"}`,
          res.offer && res.offer.kind && res.offer.kind !== "none" ? `offer: ${res.offer.kind} ${res.offer.value || ""}${res.offer.code ? ` (${res.offer.code})` : ""}` : "no offer",
          facts.length ? `facts it may state: ${facts.map((f) => `${f.name} at ${fmt.money(f.price)}`).join("; ")}` : null].filter(Boolean).join(" · ")),
        ...results.map((r) => resultView(r, body.channel)));
    } catch (err) {
      if (err.field) {
        const top = err.field.split(".")[0];
        const name = top === "offer" ? (err.field.endsWith("code") ? "code" : "discount") : top;
        form.querySelector(`[name="${CSS.escape(name)}"]`)?.setAttribute("aria-invalid", "true");
      }
      put(out, errorBox(err, "No preview"));
    }
  });
  if (customer.value) form.requestSubmit();
});
