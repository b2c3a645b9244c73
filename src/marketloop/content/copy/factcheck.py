"""Structured fact check: find every price, discount, code, date, link and product name a text states,
and compare each with the facts of the brief.

Extraction turns text into typed claims (:class:`Claim`); checking compares claims with the set of
true values derived from the brief (product prices, offer value, discounted prices, code, expiry date).
Both English and Chinese forms are recognised ("£12.50", "12.50 元", "15% off", "85折", "5 December
2026", "December 5", "2026-12-05", "12月5日").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from marketloop.clock import utcnow
from marketloop.content.copy.brief import CopyBrief, EmailCopy, MessageCopy

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONEY_BEFORE = re.compile(rf"(?P<cur>[£$€¥￥]|\b(?:GBP|USD|EUR|CNY|RMB)\s?)\s?(?P<num>{_NUM})")
_MONEY_AFTER = re.compile(rf"(?P<num>{_NUM})\s?(?P<cur>元|块|(?:GBP|USD|EUR|CNY|RMB|pounds?|dollars?|euros?)\b)", re.I)
_PERCENT = re.compile(rf"(?P<num>{_NUM})\s?(?:%|％|\s?per\s?cent\b|\s?percent\b)", re.I)
_ZHE = re.compile(r"(?P<num>\d+(?:\.\d)?)\s?折")
_CODE_AFTER = re.compile(
    r"(?:\bcode|\bcoupon|\bvoucher|\bpromo|优惠码|折扣码|券码|口令)\s*[:：]?\s*(?P<code>[A-Za-z0-9][A-Za-z0-9_-]{2,31})",
    re.I,
)
_CODE_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_-])(?=[A-Z0-9_-]*\d)(?=[A-Z0-9_-]*[A-Z])[A-Z0-9][A-Z0-9_-]{3,31}(?![A-Za-z0-9_-])"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
}
_MON = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON}\.?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I),
    re.compile(rf"\b{_MON}\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I),
    re.compile(r"(?:(?P<y>\d{4})\s?年\s?)?(?P<m>\d{1,2})\s?月\s?(?P<d>\d{1,2})\s?[日号]"),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{2,4})\b"),
]
_RELATIVE = re.compile(
    r"\b(?:today only|ends today|ends tonight|tonight only|tomorrow|last day|final hours|24 hours|48 hours|"
    r"this weekend|next week|this week only|midnight)\b|今天|今日|明天|今晚|最后一天|本周末",
    re.I,
)
_NUMBER_WORDS = {
    "five": 5,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "twenty-five": 25,
    "twenty five": 25,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "seventy-five": 75,
    "eighty": 80,
    "ninety": 90,
}
_WORD_PERCENT = re.compile(
    r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+(?:per\s?cent|percent)\b", re.I
)
# discounts stated without a number: half price is 50 %, buy-one-get-one is 50 % on two items
_WORD_DISCOUNT = re.compile(
    r"\b(?:half[- ]price|half off|buy one,? get one(?: free)?|bogo|2 for 1|two for one)\b|半价|买一送一|第二件半价",
    re.I,
)
_WEEKDAYS = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|(?:周|星期)([一二三四五六日天])", re.I
)
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_URL = re.compile(r"https?://[^\s<>\"'）)]+", re.I)


@dataclass(frozen=True)
class Claim:
    kind: str  # price, discount, code, date, link, product
    text: str
    value: object


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _month(name: str) -> int:
    name = name.lower()[:3]
    return next(i for m, i in _MONTHS.items() if m.startswith(name))


def extract_claims(text: str) -> list[Claim]:
    """Every checkable statement in `text` (overlapping matches are reported once)."""
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free(span: tuple[int, int]) -> bool:
        return not any(a < span[1] and span[0] < b for a, b in taken)

    for rx in _DATE_PATTERNS:
        for m in rx.finditer(text):
            g = m.groupdict()
            y = int(g["y"]) if g.get("y") else None
            if y is not None and y < 100:
                y += 2000
            if g.get("mon"):
                options = [(y, _month(g["mon"]), int(g["d"]))]
            elif g.get("a"):
                a, b = int(g["a"]), int(g["b"])
                options = [(y, b, a), (y, a, b)]  # day/month or month/day: either may be meant
            else:
                options = [(y, int(g["m"]), int(g["d"]))]
            if free(m.span()):
                taken.append(m.span())
                claims.append(Claim("date", m.group(0), tuple(options)))
    for m in _RELATIVE.finditer(text):
        claims.append(Claim("date", m.group(0), ("relative",)))
    for m in _WEEKDAYS.finditer(text):
        wd = _WEEKDAYS_INDEX.get(m.group(1).lower()) if m.group(1) else _ZH_WEEKDAY[m.group(2)]
        claims.append(Claim("date", m.group(0), ("weekday", wd)))
    for m in _URL.finditer(text):
        taken.append(m.span())
        claims.append(Claim("link", m.group(0), m.group(0).rstrip(".,;:!?。，")))
    for rx in (_MONEY_BEFORE, _MONEY_AFTER):
        for m in rx.finditer(text):
            if free(m.span()):
                taken.append(m.span())
                claims.append(Claim("price", m.group(0), _num(m.group("num"))))
    for m in _PERCENT.finditer(text):
        if free(m.span()):
            taken.append(m.span())
            claims.append(Claim("discount", m.group(0), _num(m.group("num"))))
    for m in _WORD_PERCENT.finditer(text):
        taken.append(m.span())
        claims.append(Claim("discount", m.group(0), float(_NUMBER_WORDS[m.group(1).lower()])))
    for m in _WORD_DISCOUNT.finditer(text):
        taken.append(m.span())
        claims.append(Claim("discount", m.group(0), 50.0))
    for m in _ZHE.finditer(text):
        if free(m.span()):
            n = float(m.group("num"))
            pct = 100 - n * 10 if n < 10 else 100 - n
            taken.append(m.span())
            claims.append(Claim("discount", m.group(0), pct))
    for rx in (_CODE_AFTER, _CODE_TOKEN):
        for m in rx.finditer(text):
            span = m.span("code") if "code" in rx.groupindex else m.span()
            if free(span):
                token = m.group("code") if "code" in rx.groupindex else m.group(0)
                if rx is _CODE_AFTER and not any(c.isdigit() or c.isupper() for c in token):
                    continue  # "code below": an English word, not a code
                taken.append(span)
                claims.append(Claim("code", token, token.upper()))
    return claims


_WEEKDAYS_INDEX = {
    d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
}


@dataclass(frozen=True)
class FactViolation:
    kind: str
    field: str
    detail: str
    value: str


def true_amounts(brief: CopyBrief) -> set[float]:
    amounts = {round(p.price, 2) for p in brief.products}
    o = brief.offer
    if o.kind == "amount":
        amounts.add(round(o.value, 2))
        amounts |= {round(max(p.price - o.value, 0), 2) for p in brief.products}
    if o.kind == "percent":
        amounts |= {round(p.price * (1 - o.value / 100), 2) for p in brief.products}
    if o.min_spend:
        amounts.add(round(o.min_spend, 2))
    return amounts


def _date_ok(value: tuple, brief: CopyBrief) -> bool:
    expires, today = brief.offer.expires, brief.today
    allowed = [d for d in (expires,) if d is not None]
    if value and value[0] == "relative":
        return bool(expires and today and 0 <= (expires - today).days <= 1)
    if value and value[0] == "weekday":
        return bool(expires and expires.weekday() == value[1] and (today is None or 0 <= (expires - today).days < 7))
    for y, m, d in value:
        for day in allowed:
            if day.month == m and day.day == d and (y is None or y == day.year):
                return True
    return False


def check_facts(
    copy: MessageCopy, fields: dict[str, str], brief: CopyBrief, *, allowed_links: set[str]
) -> list[FactViolation]:
    """Compare every claim in every field, and every e-mail product block, with the brief."""
    out: list[FactViolation] = []
    amounts = true_amounts(brief)
    code = (brief.offer.code or "").upper()
    product_words = {w.upper() for p in brief.products for w in re.split(r"[\s/,()]+", f"{p.name} {p.product_id}") if w}
    for field, text in fields.items():
        for claim in extract_claims(text):
            if claim.kind == "price" and not any(abs(claim.value - a) < 0.006 for a in amounts):
                out.append(
                    FactViolation(
                        "price",
                        field,
                        f"states {claim.text!r}, which is no price, offer or discounted price supplied",
                        claim.text,
                    )
                )
            elif claim.kind == "discount" and not (
                brief.offer.kind == "percent" and abs(claim.value - brief.offer.value) < 1e-6
            ):
                expected = f"{brief.offer.value:g}%" if brief.offer.kind == "percent" else "no percentage"
                out.append(
                    FactViolation("discount", field, f"states {claim.text!r}; the offer is {expected}", claim.text)
                )
            elif claim.kind == "code" and claim.value != code and claim.value not in product_words:
                expected = code or "no code"
                out.append(
                    FactViolation("code", field, f"states code {claim.text!r}; the offer has {expected}", claim.text)
                )
            elif claim.kind == "date" and not _date_ok(claim.value, brief):
                expected = str(brief.offer.expires) if brief.offer.expires else "no date"
                out.append(
                    FactViolation("date", field, f"states {claim.text!r}; the offer's date is {expected}", claim.text)
                )
            elif claim.kind == "link" and claim.value not in allowed_links:
                out.append(
                    FactViolation("link", field, f"links to {claim.value!r}, which is not a supplied URL", claim.text)
                )
        lowered = text.lower()
        for other in brief.other_product_names:
            if other and other.lower() in lowered and not any(other.lower() in p.name.lower() for p in brief.products):
                out.append(FactViolation("product", field, f"names {other!r}, a product that was not supplied", other))
    if isinstance(copy, EmailCopy):
        by_id = {p.product_id: p for p in brief.products}
        for i, block in enumerate(copy.products):
            fact = by_id.get(block.product_id)
            field = f"products[{i}]"
            if fact is None:
                out.append(
                    FactViolation(
                        "product", field, f"product id {block.product_id!r} was not supplied", block.product_id
                    )
                )
                continue
            if block.name.strip() != fact.name.strip():
                out.append(
                    FactViolation("product", field, f"names {block.name!r}; the product is {fact.name!r}", block.name)
                )
            if abs(block.price - fact.price) > 0.005 or block.currency.upper() != fact.currency.upper():
                out.append(
                    FactViolation(
                        "price",
                        field,
                        f"prices {block.name!r} at {block.price:g} {block.currency}; the fact is {fact.price:g} {fact.currency}",
                        str(block.price),
                    )
                )
            if block.url and block.url != fact.url:
                out.append(
                    FactViolation(
                        "link", field, f"links {block.name!r} to {block.url!r}; the fact is {fact.url!r}", block.url
                    )
                )
    return out


def today_utc() -> dt.date:
    return utcnow().date()
