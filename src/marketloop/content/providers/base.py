"""The two provider protocols (text generation and embeddings), their options and capabilities.

A provider does one attempt of one call. Timeouts are enforced by the provider (it knows its transport);
retries, the response cache and latency / token accounting live in :mod:`.runtime`, the same for all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from marketloop.errors import MarketLoopError

ProviderKind = Literal["text", "embedding"]


class ProviderError(MarketLoopError):
    """A provider call failed for a reason that retrying will not fix (bad request, bad key, bad reply)."""


class TransientProviderError(ProviderError):
    """A provider call failed for a reason that may pass (timeout, connection refused, 429, 5xx)."""


class Capabilities(BaseModel):
    """What a provider declares it can do; callers check flags instead of provider names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    streaming: bool = False
    json_mode: bool = False
    languages: tuple[str, ...] = Field(("*",), description="ISO codes, or '*' for any language")
    grounded: bool = Field(False, description="writes only from the structured facts it is given")
    needs_network: bool = False
    dimension: int | None = Field(None, description="embedding width, when fixed")

    def supports_language(self, language: str) -> bool:
        return "*" in self.languages or language in self.languages


class ProviderOptions(BaseModel):
    """Options shared by every provider; each provider extends this with its own fields.

    Unknown keys are rejected (``extra="forbid"``) so that a typo in a config file is an error.
    """

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(60.0, gt=0, description="seconds one attempt may take")
    max_retries: int = Field(2, ge=0, le=10, description="extra attempts after a transient failure")
    backoff_s: float = Field(0.5, ge=0, description="first retry delay; doubles each retry")
    cache: bool = Field(True, description="reuse the reply to an identical request")


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class TextRequest(BaseModel):
    """One generation request.

    ``messages`` is what a language model reads. ``facts`` is the same request as structured data, for
    grounded providers (the template writer) that write from facts instead of prompts; ``task`` names
    the kind of output wanted (``copy``, ``answer``, ...).
    """

    model_config = ConfigDict(extra="forbid")

    task: str = "chat"
    messages: list[Message]
    facts: dict[str, Any] | None = None
    max_tokens: int = Field(512, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)
    json_mode: bool = False
    seed: int | None = 0


class TextResult(BaseModel):
    text: str
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


class Provider(ABC):
    """Common base: a name, a kind, declared capabilities and a validated options model."""

    name: ClassVar[str]
    kind: ClassVar[ProviderKind]
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def describe(self) -> str:
        """Model or endpoint identity used in cache keys and accounting (never a secret)."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook; pragma: no cover - most providers hold nothing
        """Release clients or models."""


class TextProvider(Provider):
    kind: ClassVar[ProviderKind] = "text"

    @abstractmethod
    def generate(self, request: TextRequest) -> TextResult:
        """One attempt; raise TransientProviderError for failures worth retrying."""


class EmbeddingProvider(Provider):
    kind: ClassVar[ProviderKind] = "embedding"

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dimension), rows L2-normalised."""


def approx_tokens(text: str) -> int:
    """Token estimate for providers that do not count: ~4 characters per token, 1 per CJK character."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk + max(0, (len(text) - cjk)) // 4 + (1 if text else 0)
