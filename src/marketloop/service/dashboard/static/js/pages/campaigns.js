// Campaigns: every campaign with its status and headline predictions (GET /v1/campaigns).

import { get } from "../api.js";
import { headline, idOf, legend, planOf, statusBadge, statusGlossary } from "../campaign_data.js";
import { start } from "../shell.js";
import { card, context, empty, fmt, h, render, table } from "../ui.js";

start(async () => {
  const { canWrite } = context();
  const [data, words] = await Promise.all([get("/v1/campaigns"), statusGlossary()]);
  const items = Array.isArray(data) ? data : (data.items || data.campaigns || []);
  const newButton = canWrite
    ? h("a", { class: "btn btn-primary", href: "/dashboard/campaigns/new" }, "New campaign")
    : h("span", { class: "muted small" }, "Your role can look at campaigns; planning them needs a marketer or admin key.");
  if (items.length === 0) {
    render(h("div", { class: "page-header" }, h("span", { class: "spacer" }), newButton),
      card(null, empty("No campaigns yet.",
        "State a goal (who, budget, margin floor, channels) and MarketLoop plans the audience, offer and timing, "
        + "with the predicted effect before anything is sent.",
        canWrite ? null : "marketloop campaign plan goal.toml"),
      canWrite ? h("p", { class: "empty" }, h("a", { class: "btn btn-primary", href: "/dashboard/campaigns/new" }, "Plan the first campaign")) : null));
    return;
  }
  const rows = items.map((c) => ({ ...c, _id: idOf(c), _name: c.name ?? planOf(c).name, _h: headline(c) }));
  render(
    h("div", { class: "page-header" }, h("p", { class: "muted" }, `${fmt.int(rows.length)} campaign${rows.length === 1 ? "" : "s"}`),
      h("span", { class: "spacer" }), newButton),
    card(null, table([
      { key: "_name", label: "Campaign", header: true, format: (v, r) => v || r._id,
        link: (r) => `/dashboard/campaigns/${encodeURIComponent(r._id)}` },
      { key: "status", label: "Status", format: (v) => (v ? statusBadge(v, words.campaign) : "–") },
      { key: "objective", label: "Objective", value: (r) => r.objective ?? planOf(r).objective, format: (v) => fmt.text(v && String(v).replace(/_/g, " ")) },
      { key: "reach", label: "Contacted", num: true, value: (r) => r._h.reach, format: fmt.int },
      { key: "holdout", label: "Holdout", num: true, value: (r) => r._h.holdout, format: fmt.int },
      { key: "profit", label: "Predicted incr. profit", num: true, value: (r) => r._h.profit, format: fmt.money },
      { key: "created_at", label: "Created", value: (r) => r.created_at ?? planOf(r).created_at, format: fmt.date },
    ], rows), h("p", { class: "muted small" }, "Contacted customers are messaged; the holdout is drawn at random "
      + "from the same groups and never messaged, so the effect can be measured against it."),
    legend("What the statuses mean", words.campaign)),
  );
});
