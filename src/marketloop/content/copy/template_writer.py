"""The deterministic, grounded template writer: every fact it states is copied from the brief.

It needs no model, is the default text provider, and is what guardrails fall back to. Variant ``i``
picks the i-th phrasing (subject, call to action, product order) so variants can be A/B tested.
"""

from __future__ import annotations

import datetime as dt

from marketloop.content.copy import phrases as P  # noqa: N812 - P.<phrase> reads as a phrase book
from marketloop.content.copy.brief import (
    CopyBrief,
    EmailCopy,
    MessageCopy,
    ProductBlock,
    PushCopy,
    SmsCopy,
    format_money,
)

LIMITS = {"subject": 78, "preheader": 110, "push_title": 48, "push_body": 150, "sms_gsm": 160, "sms_ucs2": 70}


def format_date(day: dt.date, language: str) -> str:
    if language == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day.strftime('%B')} {day.year}"


def _currency(brief: CopyBrief) -> str:
    return brief.products[0].currency if brief.products else "GBP"


def offer_text(brief: CopyBrief, *, with_code: bool = True, with_terms: bool = True) -> str:
    """The offer in words, e.g. '15% off with code SAVE15 until 5 December 2026'. Empty without an offer."""
    o, lang, cur = brief.offer, brief.language, _currency(brief)
    if o.kind == "none":
        return ""
    if lang == "zh":
        core = {
            "percent": f"{o.value:g}% 优惠",
            "amount": f"立减{format_money(o.value, cur)}",
            "free_shipping": "免费配送",
        }[o.kind]
        parts = [core]
        if with_terms and o.min_spend:
            parts.insert(0, f"满{format_money(o.min_spend, cur)}享")
        if with_code and o.code:
            parts.append(f"，优惠码 {o.code}")
        if with_terms and o.expires:
            parts.append(f"，有效期至{format_date(o.expires, 'zh')}")
        return "".join(parts)
    core = {
        "percent": f"{o.value:g}% off",
        "amount": f"{format_money(o.value, cur)} off",
        "free_shipping": "free delivery",
    }[o.kind]
    parts = [core]
    if with_terms and o.min_spend:
        parts.append(f"on orders over {format_money(o.min_spend, cur)}")
    if with_code and o.code:
        parts.append(f"with code {o.code}")
    if with_terms and o.expires:
        parts.append(f"until {format_date(o.expires, 'en')}")
    return " ".join(parts)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(brief: CopyBrief) -> str:
    return brief.customer.first_name or P.GENERIC_NAME[brief.language]


def _pick(options: list[str], variant: int) -> str:
    return options[variant % len(options)]


def _fit(candidates: list[str], limit: int) -> str:
    for text in candidates:
        if len(text) <= limit:
            return text
    return candidates[-1][:limit]


def _fill(template: str, brief: CopyBrief, **extra: str) -> str:
    return template.format(name=_name(brief), store=brief.brand.store_name, **extra)


def write_email(brief: CopyBrief, variant: int = 0, *, safe: bool = False) -> EmailCopy:
    lang, voice, goal = brief.language, brief.brand.voice, brief.goal_key()
    store = brief.brand.store_name
    offer = offer_text(brief)
    short_offer = offer_text(brief, with_code=False, with_terms=False)
    subject_core = _fill(_pick(P.SUBJECTS[lang][goal], variant), brief)
    sep = "：" if lang == "zh" else ": "
    subject = _fit(
        [f"{subject_core}{sep}{short_offer}" if short_offer else subject_core, subject_core], LIMITS["subject"]
    )
    products = list(brief.products)
    if products and variant % 2 == 1:
        products = products[1:] + products[:1]
    first = products[0].name if products else ""
    if lang == "zh":
        pre_options = [
            f"{short_offer}，{first}等您挑选" if short_offer and first else "",
            f"{first}等精选商品" if first else "",
            f"来自{store}的推荐",
        ]
    else:
        pre_options = [
            f"{_upper_first(short_offer)} on {first} and more" if short_offer and first else "",
            f"{first} and more, picked for you" if first else "",
            f"Picked for you by {store}",
        ]
    preheader = _fit([p for p in pre_options if p], LIMITS["preheader"])
    lines = [_fill(P.OPENERS[lang][voice], brief), "", _fill(P.INTROS[lang][goal], brief)]
    if offer:
        lines += ["", (f"专属优惠：{offer}。" if lang == "zh" else f"Your offer: {offer}.")]
    lines += ["", f"{_pick(P.CTA[lang], variant)}{'：' if lang == 'zh' else ':'}"]
    body = "\n".join(lines)
    blocks = [
        ProductBlock(
            product_id=p.product_id,
            name=p.name,
            price=p.price,
            currency=p.currency,
            url=p.url,
            blurb=(p.highlight or "") if not safe else "",
        )
        for p in products
    ]
    sign = brief.brand.sign_off or store
    footer = "\n".join(
        [P.CLOSINGS[lang][voice], sign, "", P.UNSUBSCRIBE[lang].format(store=store, url=brief.brand.unsubscribe_url)]
    )
    return EmailCopy(subject=subject, preheader=preheader, body=body, products=blocks, footer=footer)


def sms_limit(text: str, *, gsm: int = LIMITS["sms_gsm"], ucs2: int = LIMITS["sms_ucs2"]) -> int:
    """Characters allowed in one SMS: 160 in the GSM-7 alphabet, 70 once any other character appears."""
    return gsm if is_gsm7(text) else ucs2


_GSM7_EXTENSION = set("^{}\\[~]|€")  # these take two septets (an escape plus the character)
_GSM7 = (
    set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    | _GSM7_EXTENSION
)


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM7 for ch in text)


def sms_length(text: str) -> int:
    """Length as the network counts it: septets for GSM-7 text (extension characters count 2), else characters."""
    if is_gsm7(text):
        return len(text) + sum(1 for ch in text if ch in _GSM7_EXTENSION)
    return len(text)


def write_sms(brief: CopyBrief, variant: int = 0, *, safe: bool = False) -> SmsCopy:
    lang, store = brief.language, brief.brand.store_name
    opt_out = brief.brand.sms_opt_out[lang]
    first = brief.products[0] if brief.products else None
    offer = offer_text(brief)
    offer_short = offer_text(brief, with_terms=False)
    name = _name(brief)
    if lang == "zh":
        cands = [
            f"【{store}】{name}，{offer}。{first.name} {format_money(first.price, first.currency)}。{opt_out}"
            if first and offer
            else "",
            f"【{store}】{name}，{offer}。{opt_out}" if offer else "",
            f"【{store}】{offer_short}。{opt_out}" if offer_short else "",
            f"【{store}】{first.name} {format_money(first.price, first.currency)}。{opt_out}" if first else "",
            f"【{store}】为您精选新品。{opt_out}",
            f"【{store[:20]}】{opt_out}",
        ]
    else:
        cands = [
            f"{store}: Hi {name}, {offer}. {first.name} now {format_money(first.price, first.currency)}. {opt_out}"
            if first and offer
            else "",
            f"{store}: Hi {name}, {offer}. {opt_out}" if offer else "",
            f"{store}: {offer_short}. {opt_out}" if offer_short else "",
            f"{store}: Hi {name}, {first.name} now {format_money(first.price, first.currency)}. {opt_out}"
            if first
            else "",
            f"{store}: new picks for you. {opt_out}",
            f"{store[:40]}: {opt_out}",
        ]
    cands = [c for c in cands if c]
    if variant % 2 == 1 and len(cands) > 2:
        cands = cands[1:]
    for text in cands:
        if sms_length(text) <= sms_limit(text):
            return SmsCopy(text=text)
    return SmsCopy(text=cands[-1])


def write_push(brief: CopyBrief, variant: int = 0, *, safe: bool = False) -> PushCopy:
    lang = brief.language
    title = _fit(
        [_fill(_pick(P.PUSH_TITLES[lang], variant), brief), brief.brand.store_name[: LIMITS["push_title"]]],
        LIMITS["push_title"],
    )
    short_offer = offer_text(brief, with_terms=False)
    first = brief.products[0] if brief.products else None
    if lang == "zh":
        cands = [
            f"{short_offer}。{first.name} {format_money(first.price, first.currency)}" if first and short_offer else "",
            short_offer,
            f"{first.name} {format_money(first.price, first.currency)}" if first else "",
            "为您精选，点击查看",
        ]
    else:
        cands = [
            f"{_upper_first(short_offer)}. {first.name} now {format_money(first.price, first.currency)}"
            if first and short_offer
            else "",
            _upper_first(short_offer),
            f"{first.name} now {format_money(first.price, first.currency)}" if first else "",
            "New picks for you. Tap to see them.",
        ]
    body = _fit([c for c in cands if c], LIMITS["push_body"])
    return PushCopy(title=title, body=body)


def write(brief: CopyBrief, variant: int = 0, *, safe: bool = False) -> MessageCopy:
    """Write the brief's channel. ``safe`` drops free-text extras (review highlights)."""
    writer = {"email": write_email, "sms": write_sms, "push": write_push}[brief.channel]
    return writer(brief, variant, safe=safe)
