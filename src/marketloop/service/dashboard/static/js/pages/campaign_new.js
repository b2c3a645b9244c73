// New campaign: state a goal; the planner answers with a planned campaign (POST /v1/campaigns).

import { post } from "../api.js";
import { start } from "../shell.js";
import { card, context, errorBox, field, h, render, select, put } from "../ui.js";

const OBJECTIVES = [["incremental_profit", "Incremental profit"], ["incremental_revenue", "Incremental revenue"],
  ["conversions", "Conversions"], ["reactivations", "Reactivations (lapsed customers buying again)"]];
const SEGMENTS = [["all", "Everyone eligible"], ["new", "New customers"], ["active", "Active customers"],
  ["lapsing", "Lapsing customers"], ["lapsed", "Lapsed customers"]];
const DISCOUNTS = [0, 5, 10, 15, 20, 25, 30];
const CHANNELS = [["email", "E-mail"], ["sms", "SMS"], ["push", "Push"], ["webhook", "Webhook"]];

const num = (name, attrs = {}) => h("input", { type: "number", name, id: `f-${name.replace(".", "-")}`, ...attrs });

function checks(name, options, checked) {
  return h("div", { class: "checks" }, options.map(([value, text]) =>
    h("label", null, h("input", { type: "checkbox", name, value, checked: checked.includes(value) }), text)));
}

function fieldset(legend, ...children) {
  return h("fieldset", { class: "fieldset" }, h("legend", null, legend), ...children);
}

start(async () => {
  if (!context().canWrite) {
    render(card(null, h("p", null, "Planning campaigns needs a marketer or admin key; yours is read-only."),
      h("a", { href: "/dashboard/campaigns" }, "Back to campaigns")));
    return;
  }
  const form = h("form", { novalidate: true },
    fieldset("Goal",
      h("div", { class: "form-grid" },
        h("div", { class: "wide" }, field("Name", h("input", { type: "text", name: "name", id: "f-name", required: true,
          maxlength: 200, placeholder: "e.g. Win back lapsing customers" }))),
        field("Objective", select("objective", OBJECTIVES, "incremental_profit"), "What the planner maximises."),
        field("Budget", num("budget", { min: 0, step: "any", placeholder: "no limit" }), "Money for discounts and sends."),
        field("Attribution window (days)", num("window_days", { min: 1, max: 90, value: 14 })))),
    fieldset("Offer",
      h("div", { class: "form-grid" },
        field("Margin floor (%)", num("margin_floor", { min: 0, max: 99, step: "any", value: 10 }), "Gross margin to keep on discounted orders."),
        field("Largest discount (%)", num("max_discount", { min: 0, max: 50, step: "any", value: 20 })),
        h("div", { class: "field" }, h("span", { class: "field-label", id: "discounts-label" }, "Discount levels to consider"),
          h("div", { role: "group", "aria-labelledby": "discounts-label" },
            checks("discounts", DISCOUNTS.map((d) => [String(d), d === 0 ? "none" : `${d} %`]), ["0", "10", "20"]))))),
    fieldset("Audience and channels",
      h("div", { class: "form-grid" },
        field("Who", select("eligible.segment", SEGMENTS, "all")),
        field("Minimum past orders", num("eligible.min_orders", { min: 0, value: 0 })),
        field("Holdout (%)", num("holdout_fraction", { min: 0, max: 90, step: "any", value: 10 }), "Kept out at random, to measure the lift."),
        field("Days since last order, at least", num("eligible.min_days_since_order", { min: 0 })),
        field("Days since last order, at most", num("eligible.max_days_since_order", { min: 0 })),
        h("div", { class: "field" }, h("span", { class: "field-label", id: "channels-label" }, "Channels"),
          h("div", { role: "group", "aria-labelledby": "channels-label" }, checks("channels", CHANNELS, ["email"]))))),
    fieldset("Timing",
      h("div", { class: "form-grid" },
        field("First day", h("input", { type: "date", name: "start", id: "f-start" })),
        field("Last day", h("input", { type: "date", name: "end", id: "f-end" })),
        field("At most one message every (days)", num("frequency.min_days_between", { min: 0, max: 365, value: 0 })))),
    h("div", { id: "form-error" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, "Plan the campaign"),
      h("a", { class: "btn", href: "/dashboard/campaigns" }, "Cancel"),
      h("span", { class: "muted small", id: "form-status", role: "status" })),
  );
  render(h("p", { class: "muted" }, "State what you want; the planner chooses the audience by uplift, the offer under "
    + "your margin floor, and predicts the effect with intervals before anything is sent. You approve and launch it next."),
  card(null, form));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const errorSlot = form.querySelector("#form-error");
    const status = form.querySelector("#form-status");
    put(errorSlot);
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const goal = buildGoal(form);
    if (!goal.name) {
      markInvalid(form, "name");
      errorSlot.append(errorBox({ message: "Give the campaign a name." }));
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.textContent = "Planning: scoring the audience and predicting the effect…";
    try {
      const created = await post("/v1/campaigns", goal);
      const id = created.campaign_id ?? created.id ?? (created.plan && created.plan.campaign_id);
      location.assign(`/dashboard/campaigns/${encodeURIComponent(id)}`);
    } catch (err) {
      status.textContent = "";
      if (err.field) markInvalid(form, err.field);
      errorSlot.append(errorBox(err, "The goal was not accepted"));
    } finally {
      button.disabled = false;
    }
  });
});

function markInvalid(form, name) {
  const el = form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (!el) return;
  const group = el.type === "checkbox" ? el.closest("[role=group]") : null; // checkboxes: mark their group
  (group || el).setAttribute("aria-invalid", "true");
  el.focus();
}

function buildGoal(form) {
  const v = (name) => form.querySelector(`[name="${name}"]`).value.trim();
  const number = (name, scale = 1) => (v(name) === "" ? undefined : Number(v(name)) / scale);
  const all = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((el) => el.value);
  const goal = {
    name: v("name"),
    objective: v("objective"),
    budget: number("budget"),
    margin_floor: number("margin_floor", 100),
    max_discount: number("max_discount", 100),
    discounts: all("discounts").map((d) => Number(d) / 100),
    channels: all("channels"),
    window_days: number("window_days"),
    holdout_fraction: number("holdout_fraction", 100),
    start: v("start") || undefined,
    end: v("end") || undefined,
    eligible: {
      segment: v("eligible.segment"),
      min_orders: number("eligible.min_orders"),
      min_days_since_order: number("eligible.min_days_since_order"),
      max_days_since_order: number("eligible.max_days_since_order"),
    },
    frequency: { min_days_between: number("frequency.min_days_between") },
  };
  const prune = (o) => {
    for (const k of Object.keys(o)) {
      if (o[k] === undefined) delete o[k];
      else if (o[k] && typeof o[k] === "object" && !Array.isArray(o[k])) { prune(o[k]); if (!Object.keys(o[k]).length) delete o[k]; }
    }
    return o;
  };
  return prune(goal);
}
