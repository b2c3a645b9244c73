// Small DOM helpers. Every piece of data goes into the page as text (textContent / text nodes),
// never as HTML, so names, reviews and copy from the store cannot inject markup or script.

import { ApiError, isMissingRoute } from "./api.js";

const SAFE_HREF = /^(\/(?![\/\\])|\?|#)/; // same-site paths, queries and fragments only

/** h("a", {href: "/x", class: "y"}, "text", child, [more]) builds an element; strings become text. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "href") el.setAttribute("href", SAFE_HREF.test(String(v)) ? String(v) : "#");
    else if (k === "text") el.textContent = String(v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace `el`'s children with these nodes (null and false are left out, strings become text). */
export function put(el, ...nodes) {
  el.replaceChildren();
  append(el, nodes);
  return el;
}

/** Replace the page body (#app) with these nodes. */
export function render(...nodes) {
  put(document.getElementById("app"), ...nodes);
}

/** The page's context from <main data-...>: role, write permission, chart availability, path ids. */
export function context() {
  const d = document.getElementById("main").dataset;
  return { ...d, canWrite: d.canWrite === "true", charts: d.charts === "true" };
}

export function setTitle(text) {
  document.getElementById("page-title").textContent = text;
  document.title = `${text} · MarketLoop`;
}

// ---------- formatting ----------
const nf = (digits) => new Intl.NumberFormat("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/** `v`, or 0 when it rounds to zero at `d` digits: never "-0.00". */
const nz = (v, d) => (Math.abs(v) < 0.5 * 10 ** -d ? 0 : v);

export const fmt = {
  int: (v) => (isNum(v) ? nf(0).format(nz(Math.round(v), 0)) : "–"),
  num: (v, d = 2) => (isNum(v) ? nf(d).format(nz(v, d)) : "–"),
  money: (v) => (isNum(v) ? nf(Math.abs(v) >= 1000 ? 0 : 2).format(nz(v, Math.abs(v) >= 1000 ? 0 : 2)) : "–"),
  pct: (v, d = 1) => (isNum(v) ? `${nf(d).format(nz(v * 100, d))} %` : "–"),
  signedPct: (v, d = 2) => (isNum(v) ? `${nz(v * 100, d) > 0 ? "+" : ""}${nf(d).format(nz(v * 100, d))} pp` : "–"),
  signed: (v, d = 2) => (isNum(v) ? `${nz(v, d) > 0 ? "+" : ""}${nf(d).format(nz(v, d))}` : "–"),
  date: (v) => (v ? String(v).slice(0, 10) : "–"),
  datetime: (v) => (v ? String(v).replace("T", " ").slice(0, 16) : "–"),
  text: (v) => (v === null || v === undefined || v === "" ? "–" : String(v)),
};

const LABELS = { clv: "Predicted value (CLV)", clv_low: "CLV, low end", clv_high: "CLV, high end", aov: "Average order value",
  p_alive: "Chance of ordering again (not lapsed for good)", churn_probability: "Churn risk (chance of no order in the horizon)", r_score: "Recency score (1-5)", f_score: "Frequency score (1-5)",
  m_score: "Monetary score (1-5)", propensity_30d: "Chance of an order in 30 days", roi: "ROI",
  recency_days: "Days since last order", as_of: "Profile as of", computed_at: "Computed at" };

/** A readable label from a field name: "churn_probability" -> "Churn probability". */
export function label(key) {
  if (LABELS[key]) return LABELS[key];
  const s = String(key).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Format any value by the shape of its name: money-ish, rates, dates, counts. */
export function auto(key, v) {
  if (v === null || v === undefined || v === "") return "–";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : auto(key, x))).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  const k = String(key).toLowerCase();
  if (typeof v === "number") {
    if (/(probability|rate|share|fraction|margin|floor|discounts?|^p_alive)$/.test(k) || /propensity|_rate_|_share_/.test(k)) return fmt.pct(v);
    if (/(revenue|clv|value|aov|price|spend|cost|profit|amount|total)/.test(k)) return fmt.money(v);
    if (Number.isInteger(v)) return fmt.int(v);
    return fmt.num(v);
  }
  if (/^\d{4}-\d\d-\d\dT00:00(:00)?$/.test(String(v))) return fmt.date(v);
  if (/^\d{4}-\d\d-\d\dT/.test(String(v))) return fmt.datetime(v);
  if (/(band|status|objective|segment)$/.test(k)) return String(v).replace(/_/g, " ");
  return String(v);
}

// ---------- building blocks ----------
export function card(title, ...children) {
  const id = title ? `c-${Math.random().toString(36).slice(2, 9)}` : null;
  return h("section", { class: "card", "aria-labelledby": id },
    title ? h("h2", { id }, title) : null, ...children);
}

export function kpi(labelText, value, sub, tone) {
  return h("div", { class: ["kpi", tone ? `kpi-${tone}` : null] },
    h("div", { class: "kpi-label" }, labelText),
    h("div", { class: "kpi-value" }, value),
    sub ? h("div", { class: "kpi-sub" }, sub) : null);
}

export function kpis(...tiles) {
  return h("div", { class: "kpis" }, ...tiles);
}

export function badge(text, tone) {
  return h("span", { class: ["badge", `badge-${tone || String(text).toLowerCase().replace(/[^a-z]/g, "")}`] }, text);
}

const STAGE_TONE = { new: "planned", active: "ok", at_risk: "medium", churned: "high" };

/** A customer's lifecycle stage (new, active, at_risk, churned) as a badge; `suffix` is appended to the text. */
export function stageBadge(stage, suffix = "") {
  return badge(`${String(stage).replace("_", " ")}${suffix}`, STAGE_TONE[stage] || "planned");
}

/**
 * A table. columns: [{key, label, format(v,row), num: bool, link(row) -> href}], rows: objects.
 */
export function table(columns, rows, { caption, empty = "Nothing to show.", className } = {}) {
  if (!rows || rows.length === 0) return h("p", { class: "muted" }, empty);
  const thead = h("thead", null, h("tr", null, columns.map((c) =>
    h("th", { scope: "col", class: c.num ? "num" : null }, c.label ?? label(c.key)))));
  const tbody = h("tbody", null, rows.map((row) => h("tr", null, columns.map((c) => {
    const raw = typeof c.value === "function" ? c.value(row) : row[c.key];
    let content = c.format ? c.format(raw, row) : auto(c.key, raw);
    if (c.link) {
      const href = c.link(row);
      if (href) content = h("a", { href }, content);
    }
    return h(c.header ? "th" : "td", { class: c.num ? "num" : null, scope: c.header ? "row" : null }, content);
  }))));
  return h("div", { class: ["table-wrap", className] },
    h("table", null, caption ? h("caption", null, caption) : null, thead, tbody));
}

/** Columns for any list of flat objects (keys of the first row; nested values shown compactly). */
export function autoColumns(rows, skip = []) {
  const keys = rows && rows.length ? Object.keys(rows[0]).filter((k) => !skip.includes(k)) : [];
  return keys.map((k) => ({ key: k, num: typeof rows[0][k] === "number" }));
}

/** A definition list of an object's fields (all, or those named in `keys`). */
export function fields(obj, keys) {
  const entries = (keys || Object.keys(obj || {})).filter((k) => obj && k in obj);
  return h("dl", { class: "fields" }, entries.map((k) => [h("dt", null, label(k)), h("dd", null, auto(k, obj[k]))]));
}

/** Text whose `backticked` parts are commands: they become <code> elements (still text, never HTML). */
export function prose(text) {
  return String(text ?? "").split("`").map((part, i) => (i % 2 ? h("code", null, part) : part)).filter((x) => x !== "");
}

/** An empty state: what is missing and the command that fills it (shown unless `text` names one). */
export function empty(title, text, command) {
  const named = text && String(text).includes("`");
  return h("div", { class: "empty" },
    h("p", { class: "empty-title" }, title),
    text ? h("p", null, prose(text)) : null,
    command && !named ? h("p", null, h("code", { class: "command" }, command)) : null);
}

/** A blue note, e.g. the API's hint on what to set up next. */
export function note(...content) {
  return h("div", { class: "notice notice-info", role: "note" }, content.map((c) => (typeof c === "string" ? prose(c) : c)));
}

/** An error from the API, with its hint; a route this server lacks is said so plainly. */
export function errorBox(err, what) {
  if (isMissingRoute(err)) {
    return h("div", { class: "notice notice-warn", role: "status" },
      h("strong", null, `${what || "This page"} is not available on this server yet. `),
      `It needs ${err.path}, which this version of the service does not have.`);
  }
  const e = err instanceof ApiError ? err : new ApiError(0, { error: { message: String(err && err.message || err) } });
  return h("div", { class: "notice notice-error", role: "alert" },
    h("strong", null, what ? `${what}: ` : ""), e.message,
    e.hint ? h("div", { class: "hint" }, prose(e.hint)) : null);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading" }, text);
}

/** Replace `slot`'s content with what `load()` builds, showing a loading line and errors in place. */
export async function fill(slot, load, what) {
  put(slot, loading());
  try {
    put(slot, await load());
  } catch (err) {
    put(slot, errorBox(err, what));
  }
}

/** "mean (low to high)" for an interval object {mean, low, high, level}. */
export function interval(iv, f = fmt.num) {
  if (!iv || typeof iv !== "object") return "–";
  return `${f(iv.mean)} (${f(iv.low)} to ${f(iv.high)})`;
}

/** A labelled form control. */
export function field(labelText, control, help) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control,
    help ? h("p", { class: "help", id: helpId }, help) : null);
}

export function select(name, options, value) {
  return h("select", { name, id: `f-${name.replace(/\W/g, "-")}` }, options.map(([v, text]) =>
    h("option", { value: v, selected: String(v) === String(value ?? "") }, text)));
}
