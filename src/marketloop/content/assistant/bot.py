"""The customer-service assistant: intent, entities, retrieval, order lookup, hand-off.

Every answer is built from something retrieved (a policy section, a catalogue row) or from the
store's own ``orders`` table, and says where it came from (``Reply.sources``). It hands the
conversation to a person when the customer asks for one, is angry, or when it is unsure twice in a row.
Orders are only disclosed to the customer they belong to (``Conversation.customer_id``).

:func:`answer` is the plain function the API exposes: (conversation, message) -> Reply.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from marketloop.content.assistant.entities import anger_score, extract_entities
from marketloop.content.assistant.intents import KeywordIntents
from marketloop.content.assistant.retrieval import Document, HybridRetriever, load_knowledge, product_documents
from marketloop.content.copy.brief import format_money
from marketloop.store import schema

log = logging.getLogger(__name__)

ORDER_INTENTS = {
    "track_order",
    "cancel_order",
    "change_order",
    "track_refund",
    "get_invoice",
    "change_shipping_address",
}
STATUS_TEXT = {
    "pending": "is being prepared and has not been dispatched yet",
    "completed": "has been completed and dispatched",
    "cancelled": "was cancelled",
    "returned": "was returned",
}
GREETING = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you( very much)?|cheers|你好|您好|谢谢)[\s!.,。！]*$",
    re.I,
)
THANKS = re.compile(r"thank|cheers|谢谢", re.I)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
#: the assistant's own sentences, per language (answers from the knowledge base come in the customer's language too)
TEXTS = {
    "en": {
        "hello": "Hello! I can help with orders, delivery, returns, payments and your account. What can I do for you?",
        "welcome": "You are welcome. Is there anything else I can help with?",
        "upset": "I am sorry about this. I am passing you to a member of our team now; they can see this conversation.",
        "person": "Of course. I am passing you to a member of our team; they can see this conversation.",
        "unsure": "I am not sure I can help with this, so I am passing you to a member of our team.",
        "again": "Sorry, I did not quite get that. Could you say it in other words, for example "
        "'where is my order 12345' or 'what is your returns policy'?",
        "found": "Here is what I found in our catalogue: {items}.",
        "ask_order": "I can look that up. What is your order number?",
        "not_found": "I could not find order {order} on your account. Please check the number{signin}",
        "sign_in": " or sign in first.",
        "order": "Your order {order} (placed {placed}{total}) {status}.",
        "total": ", total {total}",
        "can_change": " It can still be changed or cancelled from your account.",
        "cannot_change": " It can no longer be changed or cancelled; you can return it instead.",
        "with_that_number": "with that number",
        "unknown_date": "an unknown date",
    },
    "zh": {
        "hello": "您好！我可以帮您处理订单、配送、退货、支付和账户问题。请问有什么可以帮您？",
        "welcome": "不客气。还有其他需要帮忙的吗？",
        "upset": "非常抱歉给您带来不便。我现在把您转给我们的工作人员，他们可以看到这段对话。",
        "person": "好的，我现在把您转给我们的工作人员，他们可以看到这段对话。",
        "unsure": "这个问题我可能帮不上忙，我把您转给我们的工作人员。",
        "again": "抱歉，我没太明白。您可以换个说法吗？例如“我的订单12345到哪了”或“退货政策是什么”。",
        "found": "我在商品目录中找到了：{items}。",
        "ask_order": "我可以帮您查询。请问您的订单号是多少？",
        "not_found": "在您的账户中没有找到订单{order}。请核对订单号{signin}",
        "sign_in": "，或先登录。",
        "order": "您的订单{order}（下单时间{placed}{total}）{status}。",
        "total": "，金额{total}",
        "can_change": "目前仍可以在您的账户中修改或取消。",
        "cannot_change": "目前已不能修改或取消，您可以申请退货。",
        "with_that_number": "",
        "unknown_date": "未知",
    },
}
STATUS_TEXT_ZH = {
    "pending": "正在备货，尚未发货",
    "completed": "已完成并已发货",
    "cancelled": "已取消",
    "returned": "已退货",
}
PRODUCT_WORDS_ZH = ("有没有", "有卖", "推荐", "多少钱", "价格", "有货", "想买", "在卖")
PRODUCT_WORDS = (
    "do you have",
    "do you sell",
    "looking for",
    "in stock",
    "price of",
    "how much",
    "recommend",
    "product",
)


@dataclass
class Turn:
    role: str
    text: str


@dataclass
class Conversation:
    """State of one chat: who (if signed in), history, what we are waiting for, known entities."""

    customer_id: str | None = None
    history: list[Turn] = field(default_factory=list)
    pending_intent: str | None = None
    order_id: str | None = None
    email: str | None = None
    unsure_turns: int = 0
    handed_off: bool = False
    #: the language of the customer's last message (en or zh): replies follow it
    language: str = "en"


@dataclass
class Reply:
    text: str
    intent: str
    confidence: float
    handoff: bool = False
    reason: str | None = None
    sources: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)


class Assistant:
    def __init__(
        self,
        *,
        intents: Any = None,
        knowledge: list[Document] | None = None,
        store: Any = None,
        embedder: Any = None,
        min_confidence: float = 0.4,
        anger_threshold: float = 0.7,
        max_products: int = 5000,
    ) -> None:
        self.intents = intents if intents is not None else KeywordIntents()
        self.store = store
        self.min_confidence = min_confidence
        self.anger_threshold = anger_threshold
        docs = list(knowledge if knowledge is not None else load_knowledge())
        if store is not None:
            p = schema.products
            products = store.read_sql(
                sa.select(p.c.product_id, p.c.name, p.c.description, p.c.category, p.c.price, p.c.currency)
                .where(p.c.hidden.is_(False))
                .where(p.c.is_product.is_(True))
                .order_by(p.c.product_id)
                .limit(max_products)
            )
            docs += product_documents(products)
        self.retriever = HybridRetriever(docs, embedder=embedder)

    # --- the turn ---------------------------------------------------------------------------------
    def respond(self, conv: Conversation, text: str) -> Reply:
        conv.history.append(Turn("customer", text))
        reply = self._respond(conv, text)
        conv.history.append(Turn("assistant", reply.text))
        conv.handed_off = conv.handed_off or reply.handoff
        return reply

    def _respond(self, conv: Conversation, text: str) -> Reply:
        ents = extract_entities(text)
        rest = text or ""
        for e in ents.order_ids + ents.emails:
            rest = rest.replace(e, " ")
        if _CJK.search(rest):
            conv.language = "zh"
        elif re.search(r"[A-Za-z]{2,}", rest):
            conv.language = "en"  # only an order number or an address: the language stays the conversation's
        lang = conv.language
        say = TEXTS[lang]
        entities = {"order_ids": ents.order_ids, "emails": ents.emails}
        if ents.order_ids:
            conv.order_id = ents.order_ids[0]
        if ents.emails:
            conv.email = ents.emails[0]
        if GREETING.match(text.strip()):
            return Reply(
                say["hello"] if not THANKS.search(text) else say["welcome"],
                "greeting",
                1.0,
                entities=entities,
            )
        intent, conf = self.intents.top(text)
        short = len(text) <= 12 if lang == "zh" else len(text.split()) <= 3
        if conv.pending_intent and (ents.order_ids or conf < self.min_confidence or short):
            intent, conf = conv.pending_intent, max(conf, self.min_confidence)
        anger = anger_score(text)
        if anger >= self.anger_threshold:
            return self._handoff(
                conv,
                intent,
                conf,
                "the customer is upset",
                entities,
                say["upset"],
            )
        if intent == "contact_human_agent" and conf >= self.min_confidence:
            return self._handoff(
                conv,
                intent,
                conf,
                "the customer asked for a person",
                entities,
                say["person"],
            )
        if intent in ORDER_INTENTS and conf >= self.min_confidence:
            return self._order_reply(conv, intent, conf, entities)
        conv.pending_intent = None
        wants_product = any(w in text.lower() for w in (PRODUCT_WORDS_ZH if lang == "zh" else PRODUCT_WORDS))
        if wants_product:
            hits = self.retriever.search(text, k=3, kind="product")
            good = [h for h in hits if h.keyword > 0.15 or (h.semantic or 0) > 0.45]
            if good:
                conv.unsure_turns = 0
                lines = [
                    f"{h.doc.title} ({format_money(h.doc.meta['price'], h.doc.meta['currency'])})"
                    if h.doc.meta.get("price") is not None
                    else h.doc.title
                    for h in good
                ]
                return Reply(
                    say["found"].format(items=("；" if lang == "zh" else "; ").join(lines)),
                    "product_question",
                    conf,
                    sources=[h.doc.doc_id for h in good],
                    entities=entities,
                )
        hits = self.retriever.search(
            text, k=1, kind="policy", intent=intent if conf >= self.min_confidence else None, language=lang
        )
        top = hits[0] if hits else None
        relevant = top is not None and (
            (conf >= self.min_confidence and intent in top.doc.intents)
            or top.keyword > 0.25
            or (top.semantic or 0) > 0.5
        )
        if not relevant:
            conv.unsure_turns += 1
            if conv.unsure_turns >= 2:
                return self._handoff(
                    conv,
                    intent,
                    conf,
                    "low confidence twice in a row",
                    entities,
                    say["unsure"],
                )
            return Reply(
                say["again"],
                intent,
                conf,
                reason="low confidence",
                entities=entities,
            )
        conv.unsure_turns = 0
        return Reply(top.doc.text, intent, conf, sources=[top.doc.doc_id], entities=entities)

    def _handoff(self, conv: Conversation, intent: str, conf: float, reason: str, entities: dict, text: str) -> Reply:
        conv.pending_intent = None
        log.info("assistant hand-off: %s", reason)
        return Reply(text, intent, conf, handoff=True, reason=reason, entities=entities)

    def _order_reply(self, conv: Conversation, intent: str, conf: float, entities: dict) -> Reply:
        lang = conv.language
        say = TEXTS[lang]
        if not conv.order_id:
            conv.pending_intent = intent
            return Reply(
                say["ask_order"],
                intent,
                conf,
                reason="needs order number",
                entities=entities,
            )
        conv.pending_intent = None
        order = self.lookup_order(conv.order_id, conv.customer_id)
        policy = self.retriever.search(intent.replace("_", " "), k=1, kind="policy", intent=intent, language=lang)
        policy_text = policy[0].doc.text if policy and intent in policy[0].doc.intents else ""
        sources = [policy[0].doc.doc_id] if policy_text else []
        if order is None:
            conv.order_id = None
            msg = say["not_found"].format(
                order=entities["order_ids"][0] if entities["order_ids"] else say["with_that_number"],
                signin=say["sign_in"] if conv.customer_id is None else ("。" if lang == "zh" else "."),
            )
            return Reply(msg, intent, conf, reason="order not found", sources=sources, entities=entities)
        if lang == "zh":
            status = STATUS_TEXT_ZH.get(order["status"], f"状态为{order['status']}")
            when = order["ordered_at"]
            placed = f"{when.year}年{when.month}月{when.day}日" if when is not None else say["unknown_date"]
        else:
            status = STATUS_TEXT.get(order["status"], f"has the status {order['status']}")
            placed = (
                order["ordered_at"].strftime("%d %B %Y") if order["ordered_at"] is not None else say["unknown_date"]
            )
        total = (
            say["total"].format(total=format_money(order["total"], order["currency"] or "GBP"))
            if order["total"] is not None
            else ""
        )
        msg = say["order"].format(order=order["order_id"], placed=placed, total=total, status=status)
        if intent in ("cancel_order", "change_order", "change_shipping_address"):
            msg += say["can_change"] if order["status"] == "pending" else say["cannot_change"]
        if policy_text and intent != "track_order":
            msg += " " + policy_text
        else:
            sources = []
        return Reply(msg, intent, conf, sources=[f"orders:{order['order_id']}", *sources], entities=entities)

    def lookup_order(self, order_id: str, customer_id: str | None) -> dict | None:
        """The order, only if it belongs to `customer_id` (anonymous chats see no order data)."""
        if self.store is None or customer_id is None:
            return None
        o = schema.orders
        df = self.store.read_sql(
            sa.select(o.c.order_id, o.c.customer_id, o.c.ordered_at, o.c.status, o.c.total, o.c.currency)
            .where(o.c.order_id == order_id)
            .where(o.c.customer_id == customer_id)
        )
        if df.empty:
            return None
        row = df.iloc[0].to_dict()
        row["ordered_at"] = None if row["ordered_at"] is None else row["ordered_at"]
        row["total"] = None if row["total"] is None or row["total"] != row["total"] else float(row["total"])
        return row


def answer(assistant: Assistant, conversation: Conversation, message: str) -> Reply:
    """The plain function the API exposes: one customer message in, one grounded reply out."""
    return assistant.respond(conversation, message)
