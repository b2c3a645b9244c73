"""Guardrail evaluation of a copy provider over many briefs (``marketloop eval copy``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from marketloop.content.copy.brief import CopyBrief
from marketloop.content.copy.generate import CopyWriter
from marketloop.content.copy.guardrails import check


def evaluate_copy(
    writer: CopyWriter, briefs: Sequence[CopyBrief], *, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Raw pass rate, raw violations by kind, and violations in delivered messages (re-checked
    independently of the writer's own verdict)."""
    raw_kinds: Counter[str] = Counter()
    final_kinds: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    raw_pass = delivered = final_bad = 0
    latency = 0.0
    examples: list[dict] = []
    for i, brief in enumerate(briefs):
        result = writer.write_variant(brief, 0)
        actions[result.action] += 1
        by_channel[f"{brief.channel}/{brief.language}"] += 1
        latency += result.latency_ms
        if result.raw_report.passed:
            raw_pass += 1
        for v in result.raw_report.violations:
            raw_kinds[v.kind] += 1
        if result.message is not None:
            delivered += 1
            recheck = check(result.message, brief, writer.config)
            if not recheck.passed:
                final_bad += 1
                for v in recheck.violations:
                    final_kinds[v.kind] += 1
        if not result.raw_report.passed and len(examples) < 5:
            examples.append(
                {
                    "channel": brief.channel,
                    "language": brief.language,
                    "action": result.action,
                    "violations": [v.model_dump() for v in result.raw_report.violations][:3],
                    "raw": result.raw_text[:300],
                }
            )
        if progress:
            progress(i + 1)
    n = len(briefs)
    return {
        "provider": writer.client.name,
        "messages": n,
        "raw_pass_rate": raw_pass / n if n else None,
        "raw_violations_by_kind": dict(sorted(raw_kinds.items())),
        "actions": dict(sorted(actions.items())),
        "delivered": delivered,
        "blocked": actions.get("blocked", 0),
        "delivered_with_violations": final_bad,
        "final_violations_by_kind": dict(sorted(final_kinds.items())),
        "mean_latency_ms": latency / n if n else None,
        "by_channel_language": dict(sorted(by_channel.items())),
        "raw_failure_examples": examples,
        "usage": writer.client.ledger.summary(),
    }
