"""Entities in a customer message: order numbers and e-mail addresses (plus a simple anger signal)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "order 12345", "order #A-1234", "order number is 581234", "#581234", "订单 12345", or a bare long number
_ORDER_AFTER = re.compile(
    r"(?:\border(?:\s+(?:number|no\.?|id|nr\.?))?|\bpurchase|\binvoice|订单(?:号)?|单号)\s*(?:is|was|:|：|#|number)?\s*#?\s*"
    r"(?P<id>[A-Za-z]{0,4}-?\d[\w-]{2,30})",
    re.I,
)
_HASH_ID = re.compile(r"#\s?(?P<id>[A-Za-z]{0,4}-?\d[\w-]{2,30})")
_BARE_NUMBER = re.compile(r"(?<![\w.@£$€¥-])(?P<id>[A-Za-z]?\d{5,20})(?![\w.@-])")

ANGER_WORDS = re.compile(
    r"\b(angry|furious|ridiculous|unacceptable|outrageous|disgusting|scam|fraud|worst|useless|pathetic|"
    r"sue|lawyer|never again|fed up|sick of|wtf|fuck\w*|shit\w*|damn|bloody|idiots?|incompetent|rubbish)\b"
    r"|气死|垃圾|骗子|投诉你们|太差|滚|妈的|傻逼",
    re.I,
)


@dataclass
class Entities:
    order_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


def extract_entities(text: str) -> Entities:
    """Order numbers (after 'order', '#', '订单', or a bare 5+ digit number) and e-mail addresses."""
    text = text or ""
    emails = _EMAIL.findall(text)
    stripped = _EMAIL.sub(" ", text)
    ids: list[str] = []
    for rx in (_ORDER_AFTER, _HASH_ID, _BARE_NUMBER):
        for m in rx.finditer(stripped):
            candidate = m.group("id").strip("-")
            if candidate not in ids and any(ch.isdigit() for ch in candidate):
                ids.append(candidate)
    # a number found inside a longer id (e.g. "A-12345" and "12345") is the same order
    ids = [i for i in ids if not any(i != j and i in j for j in ids)]
    return Entities(order_ids=ids, emails=emails)


def anger_score(text: str) -> float:
    """0 (calm) to 1 (angry): anger words and insults, shouting in capitals, runs of '!' or '?'."""
    text = text or ""
    score = 0.5 * min(2, len(ANGER_WORDS.findall(text)))
    letters = [c for c in text if c.isalpha() and c.isascii()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        score += 0.4
    if re.search(r"[!?！？]{3,}", text):
        score += 0.3
    return min(1.0, score)
