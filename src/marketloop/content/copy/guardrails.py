"""Guardrails every message passes before it may be used.

Checks (each violation has a ``kind``): ``format`` (unparseable or empty output), ``language``,
``price`` / ``discount`` / ``code`` / ``date`` / ``product`` / ``link`` (the structured fact check in
:mod:`.factcheck`), ``banned_claim`` and ``free_claim`` (configurable list), ``length`` (channel limits),
``opt_out`` (unsubscribe / STOP text), ``pii`` (another customer's data, e-mail addresses, phone
numbers) and ``profanity``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketloop.content.copy.brief import CopyBrief, EmailCopy, MessageCopy, PushCopy, SmsCopy, message_fields
from marketloop.content.copy.factcheck import check_facts
from marketloop.content.copy.template_writer import LIMITS, sms_length, sms_limit

VIOLATION_KINDS = (
    "format",
    "language",
    "price",
    "discount",
    "code",
    "date",
    "product",
    "link",
    "banned_claim",
    "free_claim",
    "length",
    "opt_out",
    "pii",
    "profanity",
)

#: Claims no message may make. Medical and guarantee claims are regulated in most markets; Chinese
#: advertising law also forbids absolute superlatives (最佳, 第一, 最低价).
DEFAULT_BANNED = [
    r"\bguarantee[ds]?\b",
    r"\brisk[- ]free\b",
    r"\bno[- ]risk\b",
    r"\bcures?\b",
    r"\bheals?\b",
    r"\bhealing\b",
    r"\bclinically (?:proven|tested)\b",
    r"\bdoctors? recommended\b",
    r"\bweight[- ]loss\b",
    r"\blose weight\b",
    r"\bmiracle\b",
    r"\b100\s?%",
    r"\blowest price\b",
    r"\bcheapest\b",
    r"\bbest price\b",
    r"\bno\.? ?1\b",
    r"\bnumber one\b",
    r"\bscientifically proven\b",
    r"\banti[- ]?aging\b",
    r"\bdetox\b",
    r"保证",
    r"包治",
    r"治愈",
    r"治疗",
    r"根治",
    r"减肥",
    r"奇迹",
    r"无风险",
    r"最低价",
    r"全网最低",
    r"最佳",
    r"第一",
    r"国家级",
    r"100%",
]
DEFAULT_PROFANITY = [
    "fuck",
    "fucking",
    "shit",
    "bitch",
    "bastard",
    "asshole",
    "arsehole",
    "cunt",
    "dick",
    "piss",
    "slut",
    "whore",
    "wtf",
    "crap",
    "damn",
    "bollocks",
    "wanker",
    "twat",
    "prick",
    "傻逼",
    "他妈的",
    "妈的",
    "操你",
    "狗屎",
    "混蛋",
    "王八蛋",
    "贱人",
    "去死",
]
_FREE = re.compile(r"\bfree\b|免费|免運|免运|包邮", re.I)
_FREE_OK = re.compile(r"\bfree (?:delivery|shipping)\b|免费配送|免运费|包邮", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s().-]{8,}\d(?![\w.])")
_CJK = re.compile(r"[\u4e00-\u9fff]")


class GuardrailConfig(BaseModel):
    """Tunable rules (all have safe defaults)."""

    model_config = ConfigDict(extra="forbid")

    banned_claims: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BANNED), description="regular expressions, case-insensitive"
    )
    profanity: list[str] = Field(default_factory=lambda: list(DEFAULT_PROFANITY))
    subject_max: int = LIMITS["subject"]
    preheader_max: int = LIMITS["preheader"]
    email_body_max: int = 6000
    push_title_max: int = LIMITS["push_title"]
    push_body_max: int = LIMITS["push_body"]
    sms_gsm_max: int = LIMITS["sms_gsm"]
    sms_ucs2_max: int = LIMITS["sms_ucs2"]
    allowed_emails: list[str] = Field(default_factory=list, description="the store's own contact addresses")


class Violation(BaseModel):
    kind: Literal[
        "format",
        "language",
        "price",
        "discount",
        "code",
        "date",
        "product",
        "link",
        "banned_claim",
        "free_claim",
        "length",
        "opt_out",
        "pii",
        "profanity",
    ]
    field: str
    detail: str


class GuardrailReport(BaseModel):
    violations: list[Violation] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def kinds(self) -> list[str]:
        return sorted({v.kind for v in self.violations})

    def summary(self) -> str:
        return "pass" if self.passed else "; ".join(f"{v.kind} in {v.field}: {v.detail}" for v in self.violations)


def _mask_supplied(text: str, brief: CopyBrief) -> str:
    """Hide the supplied names (products, store, customer) so that digits or words inside them
    ('PACK OF 72 ...', '100% cotton tee') are not mistaken for claims."""
    names = [p.name for p in brief.products] + [p.product_id for p in brief.products] + [brief.brand.store_name]
    if brief.customer.first_name:
        names.append(brief.customer.first_name)
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        # whole tokens only: product id "P1" must not be masked inside the offer code "SAVEP1"
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", "\u25af", text, flags=re.I)
    return text


def check(copy: MessageCopy, brief: CopyBrief, config: GuardrailConfig | None = None) -> GuardrailReport:
    """Run every guardrail on one message written for `brief`."""
    cfg = config or GuardrailConfig()
    v: list[Violation] = []
    fields = message_fields(copy)
    if not any(t.strip() for t in fields.values()) or any(
        not fields[k].strip() for k in fields if k in ("subject", "body", "text", "title")
    ):
        v.append(Violation(kind="format", field="*", detail="a required field is empty"))
    masked = {k: _mask_supplied(t, brief) for k, t in fields.items()}
    allowed_links = {brief.brand.unsubscribe_url} | {p.url for p in brief.products if p.url}
    for fv in check_facts(copy, masked, brief, allowed_links=allowed_links):
        v.append(Violation(kind=fv.kind, field=fv.field, detail=fv.detail))  # type: ignore[arg-type]
    joined_masked = "\n".join(masked.values())
    for field, text in masked.items():
        for pattern in cfg.banned_claims:
            m = re.search(pattern, text, flags=re.I)
            if m:
                v.append(
                    Violation(kind="banned_claim", field=field, detail=f"claims {m.group(0)!r} (banned: {pattern})")
                )
        for m in _FREE.finditer(text):
            ok = brief.offer.kind == "free_shipping" and _FREE_OK.match(text, m.start())
            if not ok:
                v.append(
                    Violation(
                        kind="free_claim",
                        field=field,
                        detail=f"says {text[m.start() : m.start() + 20]!r} but nothing is free in this offer",
                    )
                )
                break
        lowered = text.lower()
        for word in cfg.profanity:
            if (_CJK.search(word) and word in text) or (
                not _CJK.search(word) and re.search(rf"\b{re.escape(word)}\b", lowered)
            ):
                v.append(Violation(kind="profanity", field=field, detail=f"contains {word!r}"))
                break
        for m in _EMAIL.finditer(text):
            if m.group(0).lower() not in {e.lower() for e in cfg.allowed_emails}:
                v.append(Violation(kind="pii", field=field, detail=f"contains the e-mail address {m.group(0)!r}"))
        for m in _PHONE.finditer(text):
            if sum(ch.isdigit() for ch in m.group(0)) >= 9:
                v.append(Violation(kind="pii", field=field, detail=f"contains the phone-like number {m.group(0)!r}"))
    full = "\n".join(fields.values())
    own = (brief.customer.first_name or "").lower()
    for term in brief.forbidden_terms:
        # whole-token match: customer "C12" must not be found inside "C123" or a product code
        if term and term.lower() != own and re.search(rf"(?<![\w@.]){re.escape(term)}(?![\w@])", full, flags=re.I):
            v.append(Violation(kind="pii", field="*", detail=f"contains {term!r}, another customer's data"))
    has_cjk = bool(_CJK.search(joined_masked))
    if brief.language == "zh" and not has_cjk:
        v.append(
            Violation(kind="language", field="*", detail="written in another language; Chinese (zh) was asked for")
        )
    if brief.language == "en" and has_cjk:
        v.append(
            Violation(kind="language", field="*", detail="contains Chinese characters; English (en) was asked for")
        )
    v += _length_and_opt_out(copy, brief, cfg)
    return GuardrailReport(violations=v)


def _length_and_opt_out(copy: MessageCopy, brief: CopyBrief, cfg: GuardrailConfig) -> list[Violation]:
    v: list[Violation] = []

    def limit(field: str, text: str, n: int) -> None:
        if len(text) > n:
            v.append(Violation(kind="length", field=field, detail=f"{len(text)} characters, limit {n}"))

    if isinstance(copy, EmailCopy):
        limit("subject", copy.subject, cfg.subject_max)
        limit("preheader", copy.preheader, cfg.preheader_max)
        limit("body", copy.body, cfg.email_body_max)
        if "\n" in copy.subject:
            v.append(Violation(kind="format", field="subject", detail="a subject must be one line"))
        text = f"{copy.body}\n{copy.footer}"
        if brief.brand.unsubscribe_url not in text:
            v.append(
                Violation(
                    kind="opt_out",
                    field="footer",
                    detail=f"the unsubscribe link {brief.brand.unsubscribe_url} is missing",
                )
            )
    elif isinstance(copy, SmsCopy):
        n = sms_limit(copy.text, gsm=cfg.sms_gsm_max, ucs2=cfg.sms_ucs2_max)
        if sms_length(copy.text) > n:
            v.append(
                Violation(kind="length", field="text", detail=f"{sms_length(copy.text)} SMS characters, limit {n}")
            )
        opt = brief.brand.sms_opt_out[brief.language]
        if opt.lower() not in copy.text.lower():
            v.append(Violation(kind="opt_out", field="text", detail=f"the opt-out text {opt!r} is missing"))
    elif isinstance(copy, PushCopy):
        limit("title", copy.title, cfg.push_title_max)
        limit("body", copy.body, cfg.push_body_max)
    return v
