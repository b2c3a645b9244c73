// Reading campaign answers of the API: the plan, its predictions, groups and outbox counts, wherever the
// answer nests them (the campaign, its plan, or a summary row of the list).

import { fmt } from "./ui.js";

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
  ["reach", "Reach", fmt.int],
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
  return { reach: val("reach") ?? c.audience ?? c.customers, profit: val("incremental_profit"),
    revenue: val("incremental_revenue"), conversions: val("incremental_conversions") };
}

export function idOf(c) {
  return c.campaign_id ?? c.id ?? planOf(c).campaign_id;
}
