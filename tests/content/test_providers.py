"""Provider registry, options validation, plugins, retries, cache and accounting."""

from __future__ import annotations

import sys
from typing import ClassVar

import pytest

from marketloop.content.providers.base import (
    Capabilities,
    Message,
    ProviderOptions,
    TextProvider,
    TextRequest,
    TextResult,
    TransientProviderError,
)
from marketloop.content.providers.registry import ProviderRegistry, get_registry
from marketloop.content.providers.runtime import TextClient
from marketloop.errors import ConfigError, DependencyError, InputError


def test_builtins_are_listed_without_importing_heavy_modules() -> None:
    reg = ProviderRegistry(load_entry_points=False)
    assert reg.names("text") == ["llamacpp", "openai", "template", "transformers"]
    assert reg.names("embedding") == ["minilm", "openai"]
    assert all(e.origin == "builtin" for e in reg.entries())


@pytest.mark.parametrize(
    ("kind", "name", "options", "match"),
    [
        (
            "text",
            "gpt5",
            None,
            r"text provider 'gpt5' is not registered \(known: llamacpp, openai, template, transformers\)",
        ),
        ("embedding", "bert", None, r"embedding provider 'bert' is not registered"),
        ("text", "openai", {}, r"Invalid options for text provider 'openai': model: Field required"),
        ("text", "openai", {"model": "m", "temprature": 0.2}, r"temprature: Extra inputs are not permitted"),
        ("text", "template", {"timeout_s": -1}, r"timeout_s: Input should be greater than 0"),
        (
            "text",
            "transformers",
            {"path": "/nonexistent/model"},
            r"transformers model directory '/nonexistent/model' has no config.json",
        ),
    ],
)
def test_bad_provider_requests_are_clear(kind: str, name: str, options: dict | None, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        get_registry().create(kind, name, options)  # type: ignore[arg-type]
    assert info.value.hint


def test_llamacpp_without_the_package_raises_dependency_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail even if installed
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(DependencyError, match="llama-cpp-python") as info:
        get_registry().create("text", "llamacpp", {"model_path": str(gguf)})
    assert "marketloop[llamacpp]" in info.value.hint


def test_openai_needs_a_key_for_remote_hosts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    remote = get_registry().create(
        "text", "openai", {"model": "m", "base_url": "https://api.example.com/v1", "api_key_env": "MY_KEY"}
    )
    with pytest.raises(ConfigError, match="environment variable MY_KEY is not set"):
        remote.generate(TextRequest(messages=[Message(role="user", content="hi")]))


class Flaky(TextProvider):
    """Fails `fails` times with a transient error, then echoes."""

    name: ClassVar[str] = "flaky"
    capabilities: ClassVar[Capabilities] = Capabilities(languages=("en",))

    def __init__(self, options: ProviderOptions | None = None, fails: int = 2) -> None:
        super().__init__(options)
        self.fails = fails
        self.calls = 0

    def generate(self, request: TextRequest) -> TextResult:
        self.calls += 1
        if self.calls <= self.fails:
            raise TransientProviderError("server busy")
        return TextResult(
            text=request.messages[-1].content.upper(), model="flaky-1", prompt_tokens=3, completion_tokens=2
        )


def test_retries_back_off_exponentially_then_succeed() -> None:
    delays: list[float] = []
    provider = Flaky(ProviderOptions(max_retries=3, backoff_s=0.25))
    client = TextClient(provider, sleep=delays.append)
    result, record = client.generate(TextRequest(messages=[Message(role="user", content="hello")]))
    assert result.text == "HELLO" and record.attempts == 3
    assert delays == [0.25, 0.5]


def test_retries_give_up_and_the_failure_is_recorded() -> None:
    provider = Flaky(ProviderOptions(max_retries=1, backoff_s=0), fails=5)
    client = TextClient(provider, sleep=lambda s: None)
    with pytest.raises(TransientProviderError, match="server busy"):
        client.generate(TextRequest(messages=[Message(role="user", content="x")]))
    assert provider.calls == 2
    assert client.ledger.summary()["flaky"]["errors"] == 1


def test_cache_is_keyed_by_prompt_and_accounting_counts_tokens() -> None:
    provider = Flaky(ProviderOptions(), fails=0)
    client = TextClient(provider)
    req = TextRequest(messages=[Message(role="user", content="same")])
    client.generate(req)
    _, record = client.generate(req)
    client.generate(TextRequest(messages=[Message(role="user", content="other")]))
    assert record.cached and provider.calls == 2
    s = client.ledger.summary()["flaky"]
    assert s["calls"] == 3 and s["cached"] == 1 and s["prompt_tokens"] == 9 and s["completion_tokens"] == 6


def test_cache_can_be_switched_off() -> None:
    provider = Flaky(ProviderOptions(cache=False), fails=0)
    client = TextClient(provider)
    req = TextRequest(messages=[Message(role="user", content="same")])
    client.generate(req)
    client.generate(req)
    assert provider.calls == 2


def test_third_party_plugins_register_through_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    import marketloop.content.providers.registry as registry_mod

    ep = EntryPoint(name="flaky", value=f"{__name__}:Flaky", group="marketloop.providers")
    broken = EntryPoint(name="broken", value="no_such_module_xyz:Thing", group="marketloop.providers")
    monkeypatch.setattr(
        registry_mod, "entry_points", lambda group: [ep, broken] if group == "marketloop.providers" else []
    )
    reg = ProviderRegistry()
    assert "flaky" in reg.names("text") and "broken" not in reg.names("text")
    provider = reg.create("text", "flaky", {"max_retries": 5})
    assert isinstance(provider, Flaky) and provider.options.max_retries == 5
    assert [e.origin for e in reg.entries("text") if e.name == "flaky"][0].startswith("plugin:")


def test_template_provider_refuses_free_form_tasks() -> None:
    from marketloop.content.providers.base import ProviderError

    with pytest.raises(ProviderError, match="only writes from facts"):
        get_registry().create("text", "template").generate(
            TextRequest(messages=[Message(role="user", content="write a poem")])
        )


def test_embedding_cache_on_disk_avoids_reencoding(tmp_path, hash_embedder) -> None:
    import numpy as np

    from marketloop.content.providers.base import EmbeddingProvider
    from marketloop.content.providers.runtime import EmbeddingCache, EmbeddingClient

    class Wrapped(EmbeddingProvider):
        name: ClassVar[str] = "hash"

        def embed(self, texts):
            return hash_embedder.embed(texts)

    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    first = EmbeddingClient(Wrapped(), cache=cache).embed(["a dress", "a scarf", "a dress"])
    again = EmbeddingClient(Wrapped(), cache=EmbeddingCache(tmp_path / "emb.sqlite")).embed(["a scarf", "a dress"])
    assert hash_embedder.calls == 1
    np.testing.assert_allclose(again, first[[1, 0]])
