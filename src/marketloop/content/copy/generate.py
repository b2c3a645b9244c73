"""Copy generation: ask a text provider for a message, check it, repair or replace it, record why.

Flow per variant: provider -> parse -> guardrails. If the raw output passes it is ``accepted``; if
only the opt-out text or a length limit is wrong it is ``repaired`` and re-checked; otherwise it is
``replaced`` by the template writer (then by its plain "safe" form). If nothing passes, the message is
``blocked`` and not delivered. Every step is recorded in :class:`CopyResult`.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from marketloop.content.copy import phrases as P  # noqa: N812 - P.<phrase> reads as a phrase book
from marketloop.content.copy import template_writer
from marketloop.content.copy.brief import CopyBrief, EmailCopy, MessageCopy, PushCopy, SmsCopy, copy_model
from marketloop.content.copy.guardrails import GuardrailConfig, GuardrailReport, Violation, check
from marketloop.content.providers.base import Message, ProviderError, TextRequest
from marketloop.content.providers.runtime import TextClient

log = logging.getLogger(__name__)

_FIELDS = {
    "email": '{"subject": str, "preheader": str, "body": str, "products": [{"product_id": str, "name": str, "price": number, "currency": str, "url": str|null, "blurb": str}], "footer": str}',
    "sms": '{"text": str}',
    "push": '{"title": str, "body": str}',
}

SYSTEM_PROMPT = (
    "You write marketing messages for an online store. Use ONLY the facts given: never invent prices, "
    "discounts, codes, dates, product names or links; never promise guarantees, health effects or anything "
    "'free' unless the offer is free delivery. Do not mention any other person. Keep the channel's limits: "
    "e-mail subject <= {subject} characters, SMS <= 160 characters including the opt-out text, push title <= {push_title} "
    "characters. Reply with one JSON object and nothing else."
)


class CopyResult(BaseModel):
    channel: str
    language: str
    variant: int
    provider: str
    action: Literal["accepted", "repaired", "replaced", "blocked"]
    message: EmailCopy | SmsCopy | PushCopy | None = None
    raw_text: str = ""
    raw_report: GuardrailReport
    final_report: GuardrailReport
    reasons: list[str] = Field(default_factory=list)
    final_provider: str = ""
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def delivered(self) -> bool:
        return self.message is not None and self.final_report.passed


def build_request(brief: CopyBrief, variant: int, *, safe: bool = False) -> TextRequest:
    facts = brief.model_dump(mode="json")
    prompt_facts = {k: v for k, v in facts.items() if k not in ("forbidden_terms", "other_product_names", "variants")}
    opt_out = brief.brand.sms_opt_out[brief.language]
    user = (
        f"Write variant {variant + 1} of a {brief.channel} message in "
        f"{'Chinese' if brief.language == 'zh' else 'English'} for the goal {brief.goal!r}, "
        f"in a {brief.brand.voice} voice for {brief.brand.store_name}.\n"
        f"Facts (JSON): {json.dumps(prompt_facts, ensure_ascii=False)}\n"
        + (
            f"The e-mail footer must contain the unsubscribe link {brief.brand.unsubscribe_url}.\n"
            if brief.channel == "email"
            else ""
        )
        + (f"The SMS must end with {opt_out!r}.\n" if brief.channel == "sms" else "")
        + f"Reply with JSON of this shape: {_FIELDS[brief.channel]}"
    )
    system = SYSTEM_PROMPT.format(
        subject=template_writer.LIMITS["subject"], push_title=template_writer.LIMITS["push_title"]
    )
    return TextRequest(
        task="copy",
        messages=[Message(role="system", content=system), Message(role="user", content=user)],
        facts={**facts, "variant": variant, "safe": safe},
        max_tokens=700 if brief.channel == "email" else 200,
        temperature=0.0,
        json_mode=True,
        seed=variant,
    )


def parse_copy(text: str, channel: str) -> MessageCopy:
    """The first JSON object in `text`, validated as the channel's message shape."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the output")
    data = json.loads(text[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the JSON is not an object")
    return copy_model(channel).model_validate(data)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def repair(copy: MessageCopy, report: GuardrailReport, brief: CopyBrief, config: GuardrailConfig) -> MessageCopy | None:
    """Fix what can be fixed without touching facts (missing opt-out, over-long headers); else None."""
    kinds = set(report.kinds())
    if not kinds or not kinds <= {"opt_out", "length"}:
        return None
    if isinstance(copy, EmailCopy):
        footer = copy.footer
        if "opt_out" in kinds:
            line = P.UNSUBSCRIBE[brief.language].format(store=brief.brand.store_name, url=brief.brand.unsubscribe_url)
            footer = f"{footer}\n\n{line}".strip()
        if any(v.field == "body" and v.kind == "length" for v in report.violations):
            return None
        return copy.model_copy(
            update={
                "footer": footer,
                "subject": _truncate(copy.subject, config.subject_max),
                "preheader": _truncate(copy.preheader, config.preheader_max),
            }
        )
    if isinstance(copy, SmsCopy):
        if "length" in kinds:
            return None
        return SmsCopy(text=f"{copy.text.rstrip()} {brief.brand.sms_opt_out[brief.language]}")
    if isinstance(copy, PushCopy):
        return PushCopy(
            title=_truncate(copy.title, config.push_title_max), body=_truncate(copy.body, config.push_body_max)
        )
    return None


class CopyWriter:
    """Writes checked messages with any text provider; the template writer is the safety net."""

    def __init__(
        self,
        client: TextClient | None = None,
        *,
        config: GuardrailConfig | None = None,
        fallback: TextClient | None = None,
    ) -> None:
        from marketloop.content.providers.registry import get_registry

        registry = get_registry()
        self.client = client or TextClient(registry.create("text", "template"))  # type: ignore[arg-type]
        self.fallback = fallback or (
            self.client if self.client.name == "template" else TextClient(registry.create("text", "template"))
        )  # type: ignore[arg-type]
        self.config = config or GuardrailConfig()

    def write(self, brief: CopyBrief) -> list[CopyResult]:
        return [self.write_variant(brief, i) for i in range(brief.variants)]

    def write_variant(self, brief: CopyBrief, variant: int = 0) -> CopyResult:
        reasons: list[str] = []
        raw_text, copy, latency, ptok, ctok = "", None, 0.0, None, None
        try:
            result, record = self.client.generate(build_request(brief, variant))
            raw_text, latency, ptok, ctok = (
                result.text,
                record.latency_ms,
                result.prompt_tokens,
                result.completion_tokens,
            )
            copy = parse_copy(result.text, brief.channel)
        except ProviderError as exc:
            raw_report = GuardrailReport(
                violations=[Violation(kind="format", field="*", detail=f"provider failed: {exc.message}")]
            )
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0][:200]
            raw_report = GuardrailReport(
                violations=[Violation(kind="format", field="*", detail=f"unparseable output: {first}")]
            )
        else:
            raw_report = check(copy, brief, self.config)
        common = dict(
            channel=brief.channel,
            language=brief.language,
            variant=variant,
            provider=self.client.name,
            raw_text=raw_text,
            raw_report=raw_report,
            latency_ms=latency,
            prompt_tokens=ptok,
            completion_tokens=ctok,
        )
        if raw_report.passed and copy is not None:
            return CopyResult(
                action="accepted", message=copy, final_report=raw_report, final_provider=self.client.name, **common
            )
        reasons.append(f"{self.client.name}: {raw_report.summary()}")
        if copy is not None:
            fixed = repair(copy, raw_report, brief, self.config)
            if fixed is not None:
                report = check(fixed, brief, self.config)
                if report.passed:
                    reasons.append("repaired: " + ", ".join(raw_report.kinds()))
                    return CopyResult(
                        action="repaired",
                        message=fixed,
                        final_report=report,
                        reasons=reasons,
                        final_provider=self.client.name,
                        **common,
                    )
                reasons.append(f"repair failed: {report.summary()}")
        report = raw_report  # what a blocked result reports when the template writer cannot write either
        for safe in (False, True):
            try:
                result, _ = self.fallback.generate(build_request(brief, variant, safe=safe))
                replacement = parse_copy(result.text, brief.channel)
            except (ProviderError, ValueError, ValidationError) as exc:  # e.g. a brief the template cannot write from
                reasons.append(f"template failed: {exc}")
                continue
            report = check(replacement, brief, self.config)
            if report.passed:
                reasons.append("replaced by the template writer" + (" (plain form)" if safe else ""))
                return CopyResult(
                    action="replaced",
                    message=replacement,
                    final_report=report,
                    reasons=reasons,
                    final_provider="template",
                    **common,
                )
            reasons.append(f"template{' (plain)' if safe else ''}: {report.summary()}")
        log.warning("message blocked for customer %s: %s", brief.customer.customer_id, reasons[-1])
        return CopyResult(
            action="blocked", message=None, final_report=report, reasons=reasons, final_provider="", **common
        )
