"""Signed one-click unsubscribe links: ``{public_url}/unsubscribe?c=<customer>&ch=<channel>&sig=<hmac>``.

The signature is HMAC-SHA256 (URL-safe base64, unpadded) over ``"unsubscribe:<channel>:<customer_id>"``
with the service's session key, the same construction as ``service.auth.sign_value(key, "unsubscribe",
value)``, which the service uses to check it (this module sits below ``service`` so that the dispatcher
can put the link in the ``List-Unsubscribe`` header of every e-mail, RFC 2369 / RFC 8058). Links do not
expire: a customer may act on an old e-mail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import urlencode

PURPOSE = "unsubscribe"
PATH = "/unsubscribe"


def signed_value(customer_id: str, channel: str) -> str:
    """What the signature covers; the channel comes first and never holds ':', so this is unambiguous."""
    return f"{channel}:{customer_id}"


def signature(secret: bytes, customer_id: str, channel: str) -> str:
    mac = hmac.new(secret, f"{PURPOSE}:{signed_value(customer_id, channel)}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsubscribe_link(base_url: str, secret: bytes, customer_id: str, channel: str) -> str:
    query = urlencode({"c": customer_id, "ch": channel, "sig": signature(secret, customer_id, channel)})
    return f"{base_url.rstrip('/')}{PATH}?{query}"


def link_builder(base_url: str, secret: bytes) -> Callable[[str, str], str]:
    """``(customer_id, channel) -> link``, as the dispatcher takes it."""
    return lambda customer_id, channel: unsubscribe_link(base_url, secret, customer_id, channel)
