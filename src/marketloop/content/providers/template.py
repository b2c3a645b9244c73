"""The built-in ``template`` text provider: grounded, deterministic, no model (English and Chinese).

It reads the structured facts of a request (``request.facts``), never the prompt, so it cannot state
anything the facts do not hold. Tasks: ``copy`` (facts = a CopyBrief plus ``variant``).
"""

from __future__ import annotations

import json
from typing import ClassVar

from marketloop.content.providers.base import (
    Capabilities,
    ProviderError,
    ProviderOptions,
    TextProvider,
    TextRequest,
    TextResult,
    approx_tokens,
)


class TemplateWriter(TextProvider):
    name: ClassVar[str] = "template"
    capabilities: ClassVar[Capabilities] = Capabilities(json_mode=True, languages=("en", "zh"), grounded=True)
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions

    def describe(self) -> str:
        return "template/1"

    def generate(self, request: TextRequest) -> TextResult:
        from marketloop.content.copy import template_writer
        from marketloop.content.copy.brief import CopyBrief

        if request.task != "copy" or not request.facts:
            raise ProviderError(
                f"The template writer only writes from facts (task 'copy'); got task {request.task!r}",
                hint="Pick an LLM provider (openai, transformers, llamacpp) for free-form tasks.",
            )
        facts = dict(request.facts)
        variant = int(facts.pop("variant", 0))
        safe = bool(facts.pop("safe", False))
        brief = CopyBrief.model_validate(facts)
        copy = template_writer.write(brief, variant, safe=safe)
        text = json.dumps(copy.model_dump(mode="json"), ensure_ascii=False)
        return TextResult(
            text=text,
            model=self.describe(),
            prompt_tokens=0,
            completion_tokens=approx_tokens(text),
            finish_reason="stop",
        )
