"""Channel plugins: the protocol, the registry and the built-in backends (smtp, webhook, simulator)."""

from marketloop.delivery.channels.base import Channel, DeliveryError, OutboundMessage, Receipt
from marketloop.delivery.channels.registry import ChannelPlugin, ChannelRegistry, ChannelRouter, registry

__all__ = [
    "Channel",
    "ChannelPlugin",
    "ChannelRegistry",
    "ChannelRouter",
    "DeliveryError",
    "OutboundMessage",
    "Receipt",
    "registry",
]
