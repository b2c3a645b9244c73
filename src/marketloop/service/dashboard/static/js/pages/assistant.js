// The assistant: chat turns with the customer-service assistant (POST /v1/assistant/chat).

import { post } from "../api.js";
import { start } from "../shell.js";
import { errorBox, field, fmt, h, render, put } from "../ui.js";

start(async () => {
  const params = new URLSearchParams(location.search);
  let conversationId = null;
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const message = h("textarea", { name: "message", rows: 2, maxlength: 2000, required: true,
    placeholder: "e.g. Where is my order? · Can I return a jacket? · What goes with the blue mug?" });
  const customer = h("input", { type: "text", name: "customer_id", value: params.get("customer_id") || "",
    placeholder: "optional", autocomplete: "off" });
  const send = h("button", { type: "submit", class: "btn btn-primary" }, "Send");
  const form = h("form", { class: "chat-form" }, field("Message", message),
    field("As customer", customer), h("div", { class: "field" }, send));
  const restart = h("button", { type: "button", class: "btn" }, "New conversation");
  restart.addEventListener("click", () => { conversationId = null; put(log, intro()); message.focus(); });

  function intro() {
    return h("p", { class: "muted" }, "Ask what a shopper would ask. The assistant answers from the store's help pages, "
      + "orders and catalogue, names its sources, and hands over to a person when unsure. Give a customer id to answer "
      + "as that signed-in customer.");
  }

  function bubble(who, text, meta) {
    const el = h("div", { class: ["msg", who === "user" ? "msg-user" : "msg-bot"] }, text, meta ? h("div", { class: "msg-meta" }, meta) : null);
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  render(h("div", { class: "chat" }, h("div", { class: "row" }, h("span", { class: "spacer" }), restart), log, form));
  log.append(intro());

  message.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = message.value.trim();
    if (!text) { message.focus(); return; }
    bubble("user", text);
    message.value = "";
    send.disabled = true;
    const waiting = bubble("bot", "…");
    try {
      const body = { message: text };
      if (conversationId) body.conversation_id = conversationId;
      if (customer.value.trim()) body.customer_id = customer.value.trim();
      const r = await post("/v1/assistant/chat", body);
      conversationId = r.conversation_id || conversationId;
      const meta = [r.intent ? `intent: ${String(r.intent).replace(/_/g, " ")}` : null,
        typeof r.confidence === "number" ? `confidence ${fmt.pct(r.confidence, 0)}` : null,
        r.handoff ? "handed over to a person" : null,
        (r.sources || []).length ? `sources: ${r.sources.map((s) => (typeof s === "object" ? s.title || s.id || JSON.stringify(s) : s)).join(", ")}` : null,
      ].filter(Boolean).join(" · ");
      waiting.replaceWith(bubble("bot", r.reply ?? r.text ?? "", meta));
    } catch (err) {
      waiting.replaceWith(errorBox(err, "No answer"));
    } finally {
      send.disabled = false;
      message.focus();
    }
  });
  message.focus();
});
