// Reading campaign answers of the API: the plan, its predictions, groups and outbox counts, wherever the
// answer nests them (the campaign, its plan, or a summary row of the list).

import { get } from "./api.js";
import { badge, fmt, h } from "./ui.js";

export const STATUSES = ["planned", "approved", "running", "paused", "completed", "cancelled"];

export function planOf(c) {
  return (c && (c.plan || c)) || {};
}

export function predictionsOf(c) {
  const p = planOf(c);
  return c.predictions || c.predicted_effect || c.predicted || p.predictions || {};
}

/** The prediction tiles of a plan, in reading order, with how to format each. */
export const PREDICTED = [
  ["reach", "Contacted (predicted)", fmt.int],
  ["incremental_conversions", "Incremental conversions", (v) => fmt.num(v, 1)],
  ["incremental_revenue", "Incremental revenue", fmt.money],
  ["cost", "Cost", fmt.money],
  ["incremental_profit", "Incremental profit", fmt.money],
  ["roi", "ROI", (v) => fmt.num(v, 2)],
];

export function headline(c) {
  const pr = predictionsOf(c);
  const val = (k) => {
    const v = pr[k] ?? c[k] ?? c[`predicted_${k}`];
    return v && typeof v === "object" ? v.mean : v;
  };
  const counts = c.counts || {};
  return { reach: counts.contacted ?? val("reach") ?? c.audience ?? c.customers, holdout: counts.holdout,
    profit: val("incremental_profit"),
    revenue: val("incremental_revenue"), conversions: val("incremental_conversions") };
}

export function idOf(c) {
  return c.campaign_id ?? c.id ?? planOf(c).campaign_id;
}

let glossary = null;

/** What every status word means ({campaign, send, dispatch}: word -> meaning), from the API, fetched once. */
export async function statusGlossary() {
  if (!glossary) glossary = get("/v1/campaigns/statuses").catch(() => ({ campaign: {}, send: {}, dispatch: {} }));
  return glossary;
}

/** A status badge whose tooltip says what the status means. */
export function statusBadge(status, meanings) {
  const el = badge(status);
  const text = meanings && meanings[status];
  if (text) el.title = `${status}: ${text}`;
  return el;
}

/** A folded legend: each word of `meanings` (only those in `words`, when given) with what it means. */
export function legend(title, meanings, words) {
  const keys = (words || Object.keys(meanings || {})).filter((k) => meanings && meanings[k]);
  if (!keys.length) return null;
  return h("details", { class: "legend" }, h("summary", null, title),
    h("dl", null, keys.flatMap((k) => [h("dt", null, k), h("dd", null, meanings[k])])));
}
