"""A causal language model from a local directory, run with Hugging Face transformers.

The user points ``path`` at a directory holding ``config.json``, the weights and the tokenizer (as
written by ``save_pretrained``). Nothing is downloaded: files are loaded with ``local_files_only``.
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


class TransformersOptions(ProviderOptions):
    path: Path = Field(..., description="directory written by save_pretrained (config, weights, tokenizer)")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda:0")
    max_new_tokens: int | None = Field(None, gt=0, description="cap on generated tokens (default: the request's)")
    threads: int | None = Field(None, gt=0, description="torch CPU threads")


class TransformersChat(TextProvider):
    name: ClassVar[str] = "transformers"
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type[ProviderOptions]] = TransformersOptions
    options: TransformersOptions

    def __init__(self, options: ProviderOptions | None = None) -> None:
        super().__init__(options)
        path = Path(self.options.path).expanduser()
        if not (path / "config.json").is_file():
            raise InputError(
                f"transformers model directory {str(path)!r} has no config.json",
                field="path",
                value=str(path),
                hint="Point path at a directory written by model.save_pretrained() and tokenizer.save_pretrained().",
            )
        self._path = path
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"transformers:{self._path.name}"

    def _load(self) -> None:
        if self._model is not None:
            return
        transformers = require("transformers", feature="The transformers provider", extra="llm")
        torch = require("torch", feature="The transformers provider", extra="llm")
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(self._path, local_files_only=True)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(self._path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ProviderError(
                f"Cannot load a causal language model from {str(self._path)!r}: {str(exc).splitlines()[0]}",
                hint="The directory needs config.json, weights (*.safetensors) and tokenizer files.",
            ) from None
        self._model.to(self.options.device)
        self._model.eval()

    def _prompt(self, request: TextRequest) -> str:
        tok = self._tokenizer
        messages = [m.model_dump() for m in request.messages]
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:"

    def generate(self, request: TextRequest) -> TextResult:
        with self._lock:
            self._load()
            import torch

            prompt = self._prompt(request)
            inputs = self._tokenizer(prompt, return_tensors="pt").to(self.options.device)
            limit = getattr(self._model.config, "n_positions", None) or getattr(
                self._model.config, "max_position_embeddings", None
            )
            n_prompt = int(inputs["input_ids"].shape[1])
            max_new = self.options.max_new_tokens or request.max_tokens
            if limit:
                if n_prompt >= limit:
                    keep = max(1, limit - max_new)
                    inputs = {k: v[:, -keep:] for k, v in inputs.items()}
                    n_prompt = keep
                max_new = max(1, min(max_new, limit - n_prompt))
            pad = self._tokenizer.pad_token_id
            if pad is None:
                pad = self._tokenizer.eos_token_id
            kwargs: dict[str, Any] = {
                "max_new_tokens": max_new,
                "max_time": self.options.timeout_s,
                "pad_token_id": pad,
            }
            if request.temperature > 0:
                kwargs.update(do_sample=True, temperature=request.temperature)
                if request.seed is not None:
                    torch.manual_seed(request.seed)
            else:
                kwargs.update(do_sample=False)
            with torch.no_grad():
                out = self._model.generate(**inputs, **kwargs)
            new_tokens = out[0, n_prompt:]
            text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)
        return TextResult(
            text=text,
            model=self.describe(),
            prompt_tokens=n_prompt,
            completion_tokens=int(new_tokens.shape[0]),
            finish_reason="length" if int(new_tokens.shape[0]) >= max_new else "stop",
        )
