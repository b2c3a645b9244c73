"""The facts a message may use (the brief) and the shapes of the messages written from them."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["en", "zh"]
Channel = Literal["email", "sms", "push"]
Voice = Literal["friendly", "premium", "playful", "plain"]
CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "CNY": "¥", "JPY": "¥"}

GOALS = ("winback", "welcome", "cart_recovery", "cross_sell", "promotion", "replenish", "new_arrivals")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductFact(_Strict):
    product_id: str
    name: str = Field(..., min_length=1, max_length=255)
    price: float = Field(..., ge=0)
    currency: str = Field("GBP", min_length=3, max_length=3)
    url: str | None = None
    highlight: str | None = Field(None, description="a true, sourced remark, e.g. from review summaries")


class Offer(_Strict):
    kind: Literal["none", "percent", "amount", "free_shipping"] = Field("none", description="What the offer gives.")
    value: float = Field(0.0, ge=0, description="Percent off (0 < value < 100) or money off (> 0); 0 otherwise.")
    code: str | None = Field(None, pattern=r"^[A-Z0-9][A-Z0-9_-]{2,31}$", description="Discount code, e.g. SAVE15.")
    expires: dt.date | None = Field(None, description="Last day of the offer (YYYY-MM-DD).")
    min_spend: float | None = Field(None, ge=0, description="Smallest order the offer applies to.")

    @model_validator(mode="after")
    def _check(self) -> Offer:
        if self.kind == "percent" and not 0 < self.value < 100:
            raise ValueError("a percent offer needs 0 < value < 100")
        if self.kind == "amount" and self.value <= 0:
            raise ValueError("an amount offer needs value > 0")
        return self


class BrandVoice(_Strict):
    store_name: str = Field("Our Shop", min_length=1, max_length=60)
    voice: Voice = "friendly"
    sign_off: str | None = None
    unsubscribe_url: str = "https://example.com/unsubscribe"
    sms_opt_out: dict[str, str] = Field(default_factory=lambda: {"en": "Reply STOP to opt out", "zh": "回T退订"})


class CustomerFact(_Strict):
    customer_id: str
    first_name: str | None = Field(None, max_length=100)
    language: Language = "en"


class CopyBrief(_Strict):
    """Everything a message may state. Guardrails check every output against exactly this."""

    customer: CustomerFact
    goal: str = Field("promotion", min_length=1, max_length=200)
    channel: Channel = "email"
    offer: Offer = Field(default_factory=Offer)
    products: list[ProductFact] = Field(default_factory=list, max_length=12)
    brand: BrandVoice = Field(default_factory=BrandVoice)
    language: Language = "en"
    variants: int = Field(1, ge=1, le=8)
    today: dt.date | None = None
    #: other customers' identifiers known to the caller (names, ids, e-mails) that must never appear
    forbidden_terms: list[str] = Field(default_factory=list)
    #: names of catalogue products that were NOT supplied; naming one is a fact error
    other_product_names: list[str] = Field(default_factory=list)

    @field_validator("goal")
    @classmethod
    def _goal(cls, value: str) -> str:
        return value.strip()

    def goal_key(self) -> str:
        text = self.goal.lower().replace("-", "_").replace(" ", "_")
        for key in GOALS:
            if key in text:
                return key
        aliases = {
            "win_back": "winback",
            "lapsing": "winback",
            "lapsed": "winback",
            "abandon": "cart_recovery",
            "cart": "cart_recovery",
            "new_customer": "welcome",
            "upsell": "cross_sell",
            "sale": "promotion",
            "reorder": "replenish",
            "new_in": "new_arrivals",
        }
        for alias, key in aliases.items():
            if alias in text:
                return key
        return "promotion"

    def symbol(self, currency: str | None = None) -> str:
        cur = currency or (self.products[0].currency if self.products else "GBP")
        return CURRENCY_SYMBOLS.get(cur.upper(), cur.upper() + " ")


class ProductBlock(_Strict):
    product_id: str
    name: str
    price: float
    currency: str
    url: str | None = None
    blurb: str = ""


class EmailCopy(_Strict):
    subject: str
    preheader: str
    body: str
    products: list[ProductBlock] = Field(default_factory=list)
    footer: str = ""


class SmsCopy(_Strict):
    text: str


class PushCopy(_Strict):
    title: str
    body: str


MessageCopy = EmailCopy | SmsCopy | PushCopy


def copy_model(channel: str) -> type[EmailCopy] | type[SmsCopy] | type[PushCopy]:
    return {"email": EmailCopy, "sms": SmsCopy, "push": PushCopy}[channel]


def message_fields(copy: MessageCopy) -> dict[str, str]:
    """The customer-visible text of a message, field by field (email product blocks included)."""
    if isinstance(copy, EmailCopy):
        fields = {"subject": copy.subject, "preheader": copy.preheader, "body": copy.body, "footer": copy.footer}
        for i, block in enumerate(copy.products):
            fields[f"products[{i}]"] = f"{block.name} {format_money(block.price, block.currency)} {block.blurb}".strip()
        return fields
    if isinstance(copy, SmsCopy):
        return {"text": copy.text}
    return {"title": copy.title, "body": copy.body}


def format_money(amount: float, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency.upper() + " ")
    return f"{symbol}{amount:,.2f}"


def render_email_text(copy: EmailCopy) -> str:
    """Plain-text rendering of an e-mail, as a mail client without HTML would show it."""
    lines = [copy.body, ""]
    for block in copy.products:
        lines.append(f"* {block.name} - {format_money(block.price, block.currency)}")
        if block.blurb:
            lines.append(f"  {block.blurb}")
        if block.url:
            lines.append(f"  {block.url}")
    lines += ["", copy.footer]
    return "\n".join(lines).strip()
