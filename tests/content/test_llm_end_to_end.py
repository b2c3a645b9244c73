"""The `openai` and `transformers` providers end to end: a local OpenAI-protocol server on 127.0.0.1
and a tiny randomly initialised GPT-2 built here (no downloads). Garbage and false outputs are caught
by the guardrails and replaced by the template writer, with the reason recorded."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketloop.content.copy.brief import BrandVoice, CopyBrief, CustomerFact, Offer, ProductFact
from marketloop.content.copy.generate import CopyWriter
from marketloop.content.providers.registry import get_registry
from marketloop.content.providers.runtime import TextClient


def brief(channel: str = "sms", language: str = "en") -> CopyBrief:
    return CopyBrief(
        customer=CustomerFact(customer_id="C1", first_name="Anna"),
        goal="winback",
        channel=channel,
        language=language,
        offer=Offer(kind="percent", value=15, code="SAVE15", expires=dt.date(2026, 12, 5)),
        products=[ProductFact(product_id="P1", name="Linen Summer Dress", price=49.0, currency="GBP")],
        brand=BrandVoice(store_name="Northwind"),
        today=dt.date(2026, 11, 26),
    )


class FakeLLM(BaseHTTPRequestHandler):
    """Speaks POST /v1/chat/completions and /v1/embeddings. `mode` is set by the test."""

    mode = "good"
    requests: list[dict] = []
    failures_left = 0

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **data})
        if self.path.endswith("/embeddings"):
            vecs = [[float(len(t)), 1.0, float(t.count("a"))] for t in data["input"]]
            return self._send(
                200, {"data": [{"index": i, "embedding": v} for i, v in enumerate(vecs)], "model": data["model"]}
            )
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            return self._send(503, {"error": {"message": "overloaded"}})
        if type(self).mode == "slow":
            time.sleep(1.0)
        facts = json.loads(re.search(r"Facts \(JSON\): (\{.*\})\n", data["messages"][-1]["content"]).group(1))
        name = facts["customer"]["first_name"]
        offer = facts["offer"]
        content = {
            "good": json.dumps(
                {"text": f"Northwind: {name}, {offer['value']:g}% off with code {offer['code']}. Reply STOP to opt out"}
            ),
            "garbage": "As an AI language model I cannot <<<>>> asdf qwerty",
            "wrong_price": json.dumps(
                {"text": f"{name}, the Linen Summer Dress is now just £9.99, guaranteed! Reply STOP to opt out"}
            ),
            "no_opt_out": json.dumps(
                {"text": f"Northwind: {name}, {offer['value']:g}% off with code {offer['code']}."}
            ),
            "slow": json.dumps({"text": "late"}),
        }[type(self).mode]
        self._send(
            200,
            {
                "id": "x",
                "model": data["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 120, "completion_tokens": 30},
            },
        )


@pytest.fixture
def llm_server():
    FakeLLM.mode, FakeLLM.requests, FakeLLM.failures_left = "good", [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def openai_writer(base_url: str, **opts) -> CopyWriter:
    provider = get_registry().create(
        "text", "openai", {"base_url": base_url, "model": "local-model", "json_mode": True, "backoff_s": 0, **opts}
    )
    return CopyWriter(TextClient(provider))  # type: ignore[arg-type]


def test_openai_good_output_is_accepted_with_usage_recorded(llm_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    writer = openai_writer(llm_server)
    [result] = writer.write(brief())
    assert result.action == "accepted", result.reasons
    assert result.provider == "openai" and result.final_provider == "openai"
    assert result.message.text.startswith("Northwind: Anna, 15% off with code SAVE15")
    assert result.prompt_tokens == 120 and result.completion_tokens == 30
    req = FakeLLM.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["model"] == "local-model"
    assert req["auth"] == "Bearer sk-test" and req["response_format"] == {"type": "json_object"}
    assert writer.client.ledger.summary()["openai"]["calls"] == 1


@pytest.mark.parametrize(
    ("mode", "kinds", "action"),
    [
        ("garbage", ["format"], "replaced"),
        ("wrong_price", ["banned_claim", "price"], "replaced"),
        ("no_opt_out", ["opt_out"], "repaired"),
    ],
)
def test_openai_bad_outputs_are_caught_and_fixed(llm_server: str, mode: str, kinds: list[str], action: str) -> None:
    FakeLLM.mode = mode
    [result] = openai_writer(llm_server).write(brief())
    assert result.raw_report.kinds() == kinds
    assert result.action == action
    assert result.final_report.passed and result.message is not None
    assert result.reasons and result.reasons[0].startswith("openai: ")
    if action == "replaced":
        assert result.final_provider == "template" and "replaced by the template writer" in result.reasons[-1]


def test_openai_transient_errors_are_retried(llm_server: str) -> None:
    FakeLLM.failures_left = 2
    [result] = openai_writer(llm_server, max_retries=2).write(brief())
    assert result.action == "accepted"
    assert len([r for r in FakeLLM.requests if r["path"].endswith("/completions")]) == 3


def test_openai_timeout_falls_back_to_template(llm_server: str) -> None:
    FakeLLM.mode = "slow"
    [result] = openai_writer(llm_server, timeout_s=0.2, max_retries=0).write(brief())
    assert result.action == "replaced" and "provider failed" in result.reasons[0]


def test_openai_server_down_is_a_clean_failure() -> None:
    [result] = openai_writer("http://127.0.0.1:9/v1", max_retries=0, timeout_s=1).write(brief())
    assert result.action == "replaced" and result.message is not None


def test_openai_embeddings(llm_server: str) -> None:
    from marketloop.content.providers.runtime import EmbeddingClient

    client = EmbeddingClient(get_registry().create("embedding", "openai", {"base_url": llm_server, "model": "emb"}))  # type: ignore[arg-type]
    vecs = client.embed(["aa", "b", "aa"])
    assert vecs.shape == (3, 3)
    assert abs(float((vecs**2).sum(axis=1)[0]) - 1.0) < 1e-6
    assert len([r for r in FakeLLM.requests if r["path"].endswith("/embeddings")]) == 1


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised 1-layer GPT-2 and a word-level tokenizer, built here and saved."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    path = tmp_path_factory.mktemp("tiny-gpt2")
    words = "the a dress off code save reply stop to opt out anna hi northwind linen summer { } : , . % £ json text write".split()
    vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", "[EOS]", *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(vocab),
        n_positions=1024,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_transformers_tiny_model_writes_garbage_that_is_replaced(tiny_model_dir) -> None:
    provider = get_registry().create("text", "transformers", {"path": str(tiny_model_dir), "max_new_tokens": 24})
    client = TextClient(provider)  # type: ignore[arg-type]
    writer = CopyWriter(client)
    [result] = writer.write(brief("email"))
    assert result.provider == "transformers"
    assert not result.raw_report.passed and "format" in result.raw_report.kinds()
    assert result.action == "replaced" and result.final_provider == "template" and result.final_report.passed
    assert result.prompt_tokens and result.prompt_tokens > 50 and result.completion_tokens == 24
    usage = client.ledger.summary()["transformers"]
    assert usage["calls"] == 1 and usage["completion_tokens"] == 24


def test_transformers_generation_is_deterministic_and_cached(tiny_model_dir) -> None:
    from marketloop.content.providers.base import Message, TextRequest

    provider = get_registry().create("text", "transformers", {"path": str(tiny_model_dir), "max_new_tokens": 8})
    client = TextClient(provider)  # type: ignore[arg-type]
    req = TextRequest(messages=[Message(role="user", content="write the text")])
    a, _ = client.generate(req)
    b, rec = client.generate(req)
    fresh, _ = TextClient(provider).generate(req)  # type: ignore[arg-type]
    assert a.text == b.text == fresh.text and rec.cached
