"""The built-in channel plugins, registered through the same registry as third-party ones."""

from __future__ import annotations

from marketloop.delivery.channels.registry import ChannelPlugin


def _smtp(options):  # noqa: ANN001, ANN202
    from marketloop.delivery.channels.smtp import SmtpChannel

    return SmtpChannel(options)


def _webhook(options):  # noqa: ANN001, ANN202
    from marketloop.delivery.channels.webhook import WebhookChannel

    return WebhookChannel(options)


def _sim(options):  # noqa: ANN001, ANN202
    from marketloop.delivery.channels.sim import SimChannel

    return SimChannel(options)


def _plugins() -> list[ChannelPlugin]:
    from marketloop.delivery.channels.sim import SimOptions
    from marketloop.delivery.channels.smtp import SmtpOptions
    from marketloop.delivery.channels.webhook import WebhookOptions

    return [
        ChannelPlugin("smtp", SmtpOptions, _smtp, "E-mail through an SMTP server (smtplib)."),
        ChannelPlugin(
            "webhook",
            WebhookOptions,
            _webhook,
            "Signed JSON webhook (HMAC-SHA256); SMS and push providers sit behind one.",
        ),
        ChannelPlugin("simulator", SimOptions, _sim, "Simulated customers of a marketloop sim store."),
    ]


def __getattr__(name: str):  # noqa: ANN202 - PLUGINS built on first use, no work at import
    if name == "PLUGINS":
        return _plugins()
    raise AttributeError(name)
