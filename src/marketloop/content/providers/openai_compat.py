"""Providers for any endpoint that speaks the OpenAI HTTP API: chat completions and embeddings.

That covers hosted APIs and local servers: vLLM (``vllm serve MODEL`` -> http://127.0.0.1:8000/v1),
Ollama (http://127.0.0.1:11434/v1), llama.cpp's ``llama-server`` (http://127.0.0.1:8080/v1).
The key is read from the environment variable named by ``api_key_env``, never from a file or option.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np
from pydantic import Field

from marketloop.content.providers.base import (
    Capabilities,
    EmbeddingProvider,
    ProviderError,
    ProviderOptions,
    TextProvider,
    TextRequest,
    TextResult,
    TransientProviderError,
)
from marketloop.content.providers.registry import require
from marketloop.errors import ConfigError

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


class OpenAIOptions(ProviderOptions):
    base_url: str = Field("https://api.openai.com/v1", description="endpoint root, ending in /v1")
    model: str = Field(..., min_length=1, description="model name the server knows")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key")
    json_mode: bool = Field(False, description="send response_format=json_object when JSON is wanted")
    extra_headers: dict[str, str] = Field(default_factory=dict)


def _api_key(opts: OpenAIOptions) -> str | None:
    key = os.environ.get(opts.api_key_env)
    host = urlparse(opts.base_url).hostname or ""
    if not key and host not in _LOCAL_HOSTS:
        raise ConfigError(
            f"No API key for {opts.base_url}: environment variable {opts.api_key_env} is not set",
            hint=f"export {opts.api_key_env}=... (local servers such as vLLM or Ollama on 127.0.0.1 need none).",
        )
    return key or None


class _HttpMixin:
    options: OpenAIOptions

    def _client(self) -> Any:
        if getattr(self, "_http", None) is None:
            httpx = require("httpx", feature="The OpenAI-compatible provider", extra="llm")
            headers = {"Content-Type": "application/json", **self.options.extra_headers}
            key = _api_key(self.options)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._http = httpx.Client(
                base_url=self.options.base_url.rstrip("/") + "/", headers=headers, timeout=self.options.timeout_s
            )
        return self._http

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        try:
            response = self._client().post(path, json=payload)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientProviderError(
                f"{self.options.base_url}/{path}: {type(exc).__name__}: {exc}",
                hint="Check that the server is running and reachable, or raise timeout_s.",
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientProviderError(
                f"{self.options.base_url}/{path} answered {response.status_code}: {response.text[:200]}"
            )
        if response.status_code >= 400:
            raise ProviderError(
                f"{self.options.base_url}/{path} answered {response.status_code}: {response.text[:300]}",
                hint="Check the model name, the key and the base URL (it usually ends in /v1).",
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                f"{self.options.base_url}/{path} did not answer JSON: {response.text[:200]!r}"
            ) from None

    def describe(self) -> str:
        return f"{self.options.model}@{self.options.base_url}"

    def close(self) -> None:
        if getattr(self, "_http", None) is not None:
            self._http.close()
            self._http = None


class OpenAIChat(_HttpMixin, TextProvider):
    """Chat completions over HTTP (``POST {base_url}/chat/completions``)."""

    name: ClassVar[str] = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(json_mode=True, needs_network=True)
    Options: ClassVar[type[ProviderOptions]] = OpenAIOptions
    options: OpenAIOptions

    def generate(self, request: TextRequest) -> TextResult:
        payload: dict[str, Any] = {
            "model": self.options.model,
            "messages": [m.model_dump() for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.json_mode and self.options.json_mode:
            payload["response_format"] = {"type": "json_object"}
        data = self._post("chat/completions", payload)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ProviderError(
                f"Unexpected chat-completions reply from {self.options.base_url}: {str(data)[:200]}"
            ) from None
        usage = data.get("usage") or {}
        return TextResult(
            text=text,
            model=str(data.get("model") or self.options.model),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
        )


class OpenAIEmbeddingOptions(OpenAIOptions):
    model: str = Field("text-embedding-3-small", min_length=1)


class OpenAIEmbeddings(_HttpMixin, EmbeddingProvider):
    """Embeddings over HTTP (``POST {base_url}/embeddings``); rows are L2-normalised."""

    name: ClassVar[str] = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(needs_network=True)
    Options: ClassVar[type[ProviderOptions]] = OpenAIEmbeddingOptions
    options: OpenAIEmbeddingOptions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        data = self._post("embeddings", {"model": self.options.model, "input": list(texts)})
        try:
            rows = sorted(data["data"], key=lambda d: d.get("index", 0))
            mat = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise ProviderError(
                f"Unexpected embeddings reply from {self.options.base_url}: {str(data)[:200]}"
            ) from None
        if mat.shape[0] != len(texts):
            raise ProviderError(f"{self.options.base_url} returned {mat.shape[0]} embeddings for {len(texts)} texts")
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        return mat / np.where(norms == 0, 1, norms)
