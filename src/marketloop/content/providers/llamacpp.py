"""A local GGUF model run in-process by llama-cpp-python (optional extra ``marketloop[llamacpp]``).

If you already run llama.cpp's ``llama-server``, use the ``openai`` provider with
``base_url=http://127.0.0.1:8080/v1`` instead: it needs no extra package.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from marketloop.content.providers.base import (
    Capabilities,
    ProviderError,
    ProviderOptions,
    TextProvider,
    TextRequest,
    TextResult,
)
from marketloop.content.providers.registry import require
from marketloop.errors import InputError


class LlamaCppOptions(ProviderOptions):
    model_path: Path = Field(..., description="a .gguf model file")
    n_ctx: int = Field(4096, gt=0)
    n_threads: int | None = Field(None, gt=0)


class LlamaCppChat(TextProvider):
    name: ClassVar[str] = "llamacpp"
    capabilities: ClassVar[Capabilities] = Capabilities(json_mode=True)
    Options: ClassVar[type[ProviderOptions]] = LlamaCppOptions
    options: LlamaCppOptions

    def __init__(self, options: ProviderOptions | None = None) -> None:
        super().__init__(options)
        self._llama_cpp = require("llama_cpp", feature="The llamacpp provider (llama-cpp-python)", extra="llamacpp")
        path = Path(self.options.model_path).expanduser()
        if not path.is_file():
            raise InputError(
                f"llamacpp model_path {str(path)!r} is not a file",
                field="model_path",
                value=str(path),
                hint="Point model_path at a local .gguf file.",
            )
        self._path = path
        self._llm: Any = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"llamacpp:{self._path.name}"

    def generate(self, request: TextRequest) -> TextResult:
        with self._lock:
            if self._llm is None:
                self._llm = self._llama_cpp.Llama(
                    model_path=str(self._path),
                    n_ctx=self.options.n_ctx,
                    n_threads=self.options.n_threads,
                    verbose=False,
                )
            kwargs: dict[str, Any] = {
                "messages": [m.model_dump() for m in request.messages],
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
            }
            if request.json_mode:
                kwargs["response_format"] = {"type": "json_object"}
            try:
                data = self._llm.create_chat_completion(**kwargs)
            except Exception as exc:  # noqa: BLE001 - llama.cpp raises plain exceptions
                raise ProviderError(f"llama.cpp failed on {self._path.name}: {exc}") from None
        usage = data.get("usage") or {}
        return TextResult(
            text=data["choices"][0]["message"]["content"] or "",
            model=self.describe(),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=data["choices"][0].get("finish_reason"),
        )
