// One campaign: the plan with its predicted effect and rationale; approve, launch, pause; the live outbox;
// and once sent, the report: lift against the holdout with intervals, next to what was predicted.

import { get, post } from "../api.js";
import { PREDICTED, legend, planOf, predictionsOf, statusBadge, statusGlossary } from "../campaign_data.js";
import { intervalChart, missingChartsNote } from "../charts.js";
import { start } from "../shell.js";
import { badge, card, context, empty, errorBox, fields, fmt, h, interval, kpi, label, loading, put, render, setTitle, table } from "../ui.js";

const LAUNCHED = new Set(["running", "paused", "completed"]);
const POLL_MS = 2000;

start(async () => {
  const ctx = context();
  const id = ctx.campaignId;
  const path = `/v1/campaigns/${encodeURIComponent(id)}`;
  let timer = null;
  let words = { campaign: {}, send: {}, dispatch: {} };

  async function show() {
    const [c, glossary] = await Promise.all([get(path), statusGlossary()]);
    words = glossary;
    const plan = planOf(c);
    const status = c.status || "planned";
    setTitle(c.name || plan.name || `Campaign ${id}`);
    const liveSlot = h("div");
    const reportSlot = h("div");
    render(
      missingChartsNote(),
      header(c, plan, status),
      actions(status, c.allowed_actions),
      h("p", { class: "muted small status-meaning" }, `${status}: ${words.campaign[status] || ""}`),
      LAUNCHED.has(status) ? card("Delivery", liveSlot) : null,
      LAUNCHED.has(status) ? h("div", { id: "results" }, card(status === "completed" ? "Results" : "Results so far", reportSlot)) : null,
      predictedSection(c, plan),
      plan.rationale || c.rationale ? card("Why this plan", h("p", { class: "rationale" }, plan.rationale || c.rationale)) : null,
      groupsSection(c, plan),
      c.goal ? card("The goal", fields(flatGoal(c.goal))) : null,
    );
    if (LAUNCHED.has(status)) {
      await Promise.all([live(liveSlot, status, 0, reportSlot), report(reportSlot)]);
    }
  }

  function header(c, plan, status) {
    const created = c.created_at || plan.created_at;
    return h("div", { class: "page-header" }, statusBadge(status, words.campaign),
      h("span", { class: "muted" }, [`id ${id}`, created ? `planned ${fmt.datetime(created)}` : null,
        (c.objective || plan.objective) ? `objective: ${String(c.objective || plan.objective).replace(/_/g, " ")}` : null]
        .filter(Boolean).join(" · ")),
      h("span", { class: "spacer" }),
      h("a", { class: "btn", href: "/dashboard/campaigns" }, "All campaigns"));
  }

  function actions(status, allowed) {
    if (!ctx.canWrite) {
      return h("p", { class: "muted small" }, "Approving and launching needs a marketer or admin key.");
    }
    const msg = h("span", { class: "muted small", role: "status" });
    const button = (text, action, body, primary) => {
      const b = h("button", { type: "button", class: ["btn", primary ? "btn-primary" : null] }, text);
      b.addEventListener("click", async () => {
        b.disabled = true;
        msg.textContent = "Working…";
        try {
          await post(`${path}/${action}`, body);
          await show();
        } catch (err) {
          put(msg, errorBox(err, `Could not ${action}`));
          b.disabled = false;
        }
      });
      return b;
    };
    const offered = {
      approve: () => [button("Approve the plan", "approve", undefined, true),
        h("span", { class: "muted small" }, "Approval records who agreed to send this; launching comes next.")],
      launch: () => [button("Launch", "launch", {}, true),
        h("span", { class: "muted small" }, "Writes every message to the outbox; the holdout is drawn now and never messaged.")],
      pause: () => [button("Pause sending", "pause", undefined)],
      resume: () => [button("Resume sending", "resume", undefined, true)],
    };
    const fallback = { planned: ["approve"], approved: ["launch"], running: ["pause"], paused: ["resume"] }[status] || [];
    const steps = (allowed || fallback).filter((a) => offered[a]).flatMap((a) => offered[a]());
    if (!steps.length) return null;
    return card(null, h("div", { class: "actions" }, ...steps, msg));
  }

  async function live(slot, status, wasPending = 0, reportSlot = null) {
    if (!slot.firstChild) put(slot, loading());
    let s;
    try {
      s = await get(`${path}/status`);
    } catch (err) {
      put(slot, errorBox(err, "Delivery status"));
      return;
    }
    const counts = s.outbox || s.counts || {};
    // always the main states; the passing ones (waiting for a bandit, being sent) only while they hold messages
    const always = ["queued", "sent", "skipped", "dead", "holdout"];
    const order = ["waiting", "queued", "sending", "sent", "skipped", "dead", "holdout"];
    const keys = [...order, ...Object.keys(counts).filter((k) => !order.includes(k))]
      .filter((k) => k in counts && (always.includes(k) || counts[k] > 0));
    const hints = { queued: "waiting to be delivered", sent: "confirmed by the channel", skipped: "consent, caps, suppression",
      dead: "failed for good", holdout: "never messaged", waiting: "for the bandit", sending: "in flight" };
    const meaning = (k) => words.send[k] || hints[k];
    const worker = s.worker || {};
    put(slot,
      h("div", { class: "kpis kpis-compact" }, keys.map((k) => {
        const tile = kpi(label(k), fmt.int(counts[k]), hints[k]);
        if (meaning(k)) tile.title = `${k}: ${meaning(k)}`;
        return tile;
      })),
      legend("What the delivery statuses mean", words.send, keys),
      worker.note || worker.last_error ? h("p", { class: "muted small" },
        worker.last_error ? `Dispatcher error: ${worker.last_error}` : sentence(worker.note)) : null,
    );
    clearTimeout(timer);
    const now = s.status || status;
    const pending = (counts.queued || 0) + (counts.sending || 0) + (counts.waiting || 0);
    if (now !== status) {
      timer = setTimeout(() => show().catch(() => {}), 0); // approved elsewhere, completed, paused: redraw all
    } else if (now === "running" && pending > 0) {
      timer = setTimeout(() => live(slot, status, pending, reportSlot), POLL_MS);
    } else if (wasPending > 0 && reportSlot) {
      report(reportSlot); // the last messages went out: the results changed
    }
  }

  async function report(slot) {
    put(slot, loading());
    let r;
    try {
      r = await get(`${path}/report`);
    } catch (err) {
      put(slot, errorBox(err, "The report"));
      return;
    }
    const f = r.funnel || {};
    const o = r.overall || {};
    const level = r.confidence_level ? `${Math.round(r.confidence_level * 100)} %` : "95 %";
    if (!f.audience) {
      put(slot, empty("No outcomes yet.", "Results appear as messages are delivered and customers respond."));
      return;
    }
    const liftRow = (metric, name, format) => ({ label: name, mean: o[`${metric}_lift`], low: o[`${metric}_low`], high: o[`${metric}_high`], format });
    const lifts = [liftRow("conversion", "Conversion rate", (v) => fmt.signedPct(v)),
      liftRow("revenue", "Revenue per customer", (v) => fmt.signed(v)),
      liftRow("profit", "Profit per customer", (v) => fmt.signed(v))].filter((x) => x.mean !== undefined);
    const verdict = (x) => (x.low > 0 ? "good" : x.high < 0 ? "bad" : null);
    const groups = (r.by_segment || []).filter((g) => g.conversion_lift !== null && g.conversion_lift !== undefined);
    put(slot, 
      h("div", { class: "kpis" },
        kpi("Contacted", fmt.int(f.treated), `+ ${fmt.int(f.holdout)} in the holdout (never messaged)`),
        kpi("Sent", fmt.int(f.sent), f.delivered !== undefined ? `${fmt.int(f.delivered)} delivered` : null),
        kpi("Opened", fmt.int(f.opened), f.sent ? `${fmt.pct(f.opened / f.sent)} of sent` : null),
        kpi("Clicked", fmt.int(f.clicked), f.sent ? `${fmt.pct(f.clicked / f.sent)} of sent` : null),
        kpi("Converted", fmt.int(f.converted), f.treated ? `${fmt.pct(f.converted / f.treated)} of treated` : null)),
      h("h3", null, `Lift against the holdout (${level} intervals)`),
      h("div", { class: "kpis" }, lifts.map((x) => kpi(x.label, x.format(x.mean), `${x.format(x.low)} to ${x.format(x.high)}`, verdict(x)))),
      h("p", { class: "muted small" }, "Treated minus holdout, per customer. An interval that spans zero means the "
        + "campaign's effect cannot be told apart from chance yet."),
      groups.length ? intervalChart(`Conversion lift by group (${level} intervals)`,
        [{ name: "Conversion lift", rows: groups.map((g) => ({ label: String(g.level), mean: g.conversion_lift, low: g.conversion_low, high: g.conversion_high })) }],
        { format: (v) => fmt.signedPct(v, 2), tickFormat: (v) => fmt.signedPct(v, 1), description: "Conversion rate of treated minus holdout customers, per group, with intervals.",
          table: { rows: groups, columns: [
            { key: "level", label: "Group", header: true, format: fmt.text },
            { key: "treated", label: "Treated", num: true, format: fmt.int },
            { key: "holdout", label: "Holdout", num: true, format: fmt.int },
            { key: "conversion_lift", label: "Lift", num: true, format: (v) => fmt.signedPct(v) },
            { key: "conversion_low", label: "Low", num: true, format: (v) => fmt.signedPct(v) },
            { key: "conversion_high", label: "High", num: true, format: (v) => fmt.signedPct(v) }] } }) : null,
      predictedVsRealised(r.prediction_vs_realised || []),
      (r.by_variant || []).length > 1 ? h("div", null, h("h3", null, "By variant"), table([
        { key: "level", label: "Variant", header: true, format: fmt.text },
        { key: "treated", label: "Treated", num: true, format: fmt.int },
        { key: "conversion_treated", label: "Conversion", num: true, format: (v) => fmt.pct(v, 2) },
        { key: "conversion_lift", label: "Lift", num: true, format: (v) => fmt.signedPct(v) },
        { key: "revenue_lift", label: "Revenue lift / customer", num: true, format: (v) => fmt.signed(v) },
      ], r.by_variant)) : null,
      Object.keys(r.skip_reasons || {}).length ? h("div", null, h("h3", null, "Skipped at send time"), table([
        { key: "reason", label: "Reason", header: true, format: fmt.text }, { key: "n", label: "Messages", num: true, format: fmt.int }],
      Object.entries(r.skip_reasons).map(([reason, n]) => ({ reason, n })))) : null,
      h("p", { class: "small report-link" }, h("a", { href: `${path}/report.html` }, "Open the full report (HTML, printable)")),
    );
  }

  function predictedVsRealised(rows) {
    if (!rows.length) return null;
    const f = (metric) => (metric === "incremental_conversions" ? (v) => fmt.num(v, 1) : fmt.money);
    const names = { incremental_conversions: "Incremental conversions", incremental_revenue: "Incremental revenue",
      incremental_profit: "Incremental profit" };
    return h("div", null, h("h3", null, "Predicted against realised"), table([
      { key: "metric", label: "Metric", header: true, format: (v) => names[v] || label(v) },
      { key: "predicted", label: "Predicted", num: true, value: (x) => x, format: (x) => interval({ mean: x.predicted, low: x.predicted_low, high: x.predicted_high }, f(x.metric)) },
      { key: "realised", label: "Realised", num: true, value: (x) => x, format: (x) => interval({ mean: x.realised, low: x.realised_low, high: x.realised_high }, f(x.metric)) },
      { key: "covered", label: "Inside the predicted interval", value: (x) => x, format: (x) => (
        typeof x.realised === "number" && typeof x.predicted_low === "number"
          ? badge(x.realised >= x.predicted_low && x.realised <= x.predicted_high ? "yes" : "no",
            x.realised >= x.predicted_low && x.realised <= x.predicted_high ? "ok" : "warn") : "–") },
    ], rows));
  }

  function predictedSection(c, plan) {
    const pr = predictionsOf(c);
    const present = PREDICTED.filter(([k]) => pr[k]);
    if (!present.length) {
      return card("Predicted effect", h("p", { class: "muted" }, "No predictions in this plan."));
    }
    const level = Object.values(pr)[0]?.level;
    const money = ["incremental_revenue", "cost", "incremental_profit"].filter((k) => pr[k]);
    return card(`Predicted effect${level ? ` (${Math.round(level * 100)} % intervals)` : ""}`,
      h("div", { class: "kpis" }, present.map(([k, name, f]) => kpi(name, f(pr[k].mean),
        `${f(pr[k].low)} to ${f(pr[k].high)}`, k === "incremental_profit" ? (pr[k].low > 0 ? "good" : pr[k].high < 0 ? "bad" : null) : null))),
      money.length ? intervalChart("Money: predicted range and estimate", [{ name: "Prediction",
        rows: money.map((k) => ({ label: PREDICTED.find(([key]) => key === k)[1], mean: pr[k].mean, low: pr[k].low, high: pr[k].high })) }],
      { format: fmt.money, description: "Predicted incremental revenue, cost and incremental profit with intervals.",
        table: { rows: money.map((k) => ({ metric: PREDICTED.find(([key]) => key === k)[1], ...pr[k] })), columns: [
          { key: "metric", label: "Quantity", header: true, format: fmt.text },
          { key: "mean", label: "Estimate", num: true, format: fmt.money },
          { key: "low", label: "Low", num: true, format: fmt.money },
          { key: "high", label: "High", num: true, format: fmt.money }] } }) : null);
  }

  function groupsSection(c, plan) {
    const groups = c.groups || plan.groups || [];
    const variants = c.variants || plan.variants || [];
    if (!groups.length && !variants.length) return null;
    return card("Audience and offers",
      groups.length ? table([
        { key: "group", label: "Group", header: true, format: fmt.text },
        { key: "included", label: "Included", format: (v) => badge(v ? "included" : "left out", v ? "included" : "neutral") },
        { key: "customers", label: "Customers", num: true, format: fmt.int },
        { key: "variant", label: "Offer", format: fmt.text },
        { key: "profit", label: "Predicted incr. profit", num: true,
          value: (g) => g.predictions && g.predictions.incremental_profit, format: (v) => (v ? interval(v, fmt.money) : "–") },
        { key: "reason", label: "Why", format: fmt.text },
      ], groups, { caption: "Groups the planner considered; only included groups are messaged." }) : null,
      variants.length ? h("div", null, h("h3", null, "Variants"), table([
        { key: "name", label: "Variant", header: true, format: fmt.text },
        { key: "channel", label: "Channel", format: fmt.text },
        { key: "discount", label: "Discount", num: true, value: (v) => v.offer && v.offer.discount, format: (v) => fmt.pct(v, 0) },
        { key: "subject", label: "Subject", format: fmt.text },
      ], variants)) : null,
      plan.holdout_fraction !== undefined ? h("p", { class: "muted small" }, c.counts
        ? `Audience ${fmt.int(c.counts.audience)}: ${fmt.int(c.counts.contacted)} contacted and ${fmt.int(c.counts.holdout)} `
          + `(${fmt.pct(plan.holdout_fraction, 0)}) held out at random at launch, never messaged.`
        : `Holdout: ${fmt.pct(plan.holdout_fraction, 0)} of the audience, drawn at random at launch.`) : null);
  }

  window.addEventListener("pagehide", () => clearTimeout(timer));
  await show();
});

/** The goal's fields that were set (nested ones as "eligible_segment"), without defaults that say nothing. */
function sentence(text) {
  const s = String(text || "");
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

function flatGoal(goal, prefix = "") {
  const out = {};
  for (const [k, v] of Object.entries(goal || {})) {
    if (v === null || v === undefined || (Array.isArray(v) && !v.length)) continue;
    if (typeof v === "object" && !Array.isArray(v)) Object.assign(out, flatGoal(v, `${prefix}${k}_`));
    else if (!(k === "segment" && v === "all") && !(k === "min_orders" && v === 0) && !(k === "min_days_between" && v === 0)) out[`${prefix}${k}`] = v;
  }
  return out;
}
