"""E-mails carry the signed one-click unsubscribe link (RFC 2369 List-Unsubscribe, RFC 8058 One-Click)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from marketloop.delivery.channels import ChannelRouter
from marketloop.delivery.dispatcher import Dispatcher, SimClock
from marketloop.delivery.outbox import launch
from marketloop.delivery.unsubscribe import link_builder, signature, unsubscribe_link

from .conftest import T0, make_plan, seed_customers

KEY = b"k" * 32


def _run(store, port: int, links=None) -> None:
    router = ChannelRouter({"email": {"provider": "smtp", "host": "127.0.0.1", "port": port}})
    Dispatcher(store, router, clock=SimClock(T0), unsubscribe_link=links).run("c1")


def test_each_mail_has_its_customers_one_click_unsubscribe_link(store, smtp_server) -> None:
    ids = seed_customers(store, 10)
    make_plan(store, "c1", ids, holdout=0.2)
    launch(store, "c1")
    _run(store, smtp_server.port, link_builder("https://shop.example/", KEY))
    assert len(smtp_server.messages) == 8  # 10 customers less a 20 % holdout
    for mail in smtp_server.messages:
        customer = mail["To"].split("@")[0]
        assert (
            mail["List-Unsubscribe"]
            == f"<https://shop.example/unsubscribe?c={customer}&ch=email&sig={signature(KEY, customer, 'email')}>"
        )
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_a_link_builder_no_header_is_added(store, smtp_server) -> None:
    ids = seed_customers(store, 5)
    make_plan(store, "c1", ids, holdout=0.2)
    launch(store, "c1")
    _run(store, smtp_server.port)
    assert len(smtp_server.messages) == 4
    assert all(m["List-Unsubscribe"] is None and m["List-Unsubscribe-Post"] is None for m in smtp_server.messages)


def test_links_are_bound_to_customer_channel_and_key() -> None:
    link = unsubscribe_link("https://shop.example", KEY, "c 1&x", "sms")
    query = parse_qs(urlsplit(link).query)
    assert query == {"c": ["c 1&x"], "ch": ["sms"], "sig": [signature(KEY, "c 1&x", "sms")]}  # ids are URL-encoded
    sigs = {
        signature(KEY, "c1", "email"),
        signature(KEY, "c1", "sms"),
        signature(KEY, "c2", "email"),
        signature(b"j" * 32, "c1", "email"),
    }
    assert len(sigs) == 4
