"""Channel plugins through a registry: built-ins are registered exactly like third-party ones.

A plugin is a name, a pydantic options model (``extra="forbid"``) and a factory. Third-party
packages expose plugins under the entry-point group ``marketloop.channels`` (the entry point is a
:class:`ChannelPlugin`). A *routing* maps the logical channels of a plan (email, sms, push, webhook)
to a plugin and its options, e.g. ``{"email": {"provider": "smtp", "host": "mail", "port": 25}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from marketloop.delivery.channels.base import Channel
from marketloop.errors import ConfigError, InputError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "marketloop.channels"


@dataclass(frozen=True)
class ChannelPlugin:
    name: str
    options: type[BaseModel]
    factory: Callable[[Any], Channel]
    description: str = ""


class ChannelRegistry:
    def __init__(self) -> None:
        self._plugins: dict[str, ChannelPlugin] = {}
        self._loaded = False

    def register(self, plugin: ChannelPlugin, *, replace: bool = False) -> None:
        if plugin.name in self._plugins and not replace:
            raise ConfigError(
                f"channel plugin {plugin.name!r} is already registered",
                hint="Pick another name, or pass replace=True to override a built-in.",
            )
        self._plugins[plugin.name] = plugin

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        from marketloop.delivery.channels import builtin

        for plugin in builtin.PLUGINS:
            self._plugins.setdefault(plugin.name, plugin)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken third-party plugin must not break the built-ins
                log.warning("channel plugin %s could not be loaded: %s", ep.name, exc)
                continue
            self._plugins.setdefault(plugin.name, plugin)

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._plugins)

    def get(self, name: str) -> ChannelPlugin:
        self._ensure_loaded()
        if name not in self._plugins:
            raise InputError(
                f"provider: expected one of {', '.join(self.names())}, got {name!r}",
                field="provider",
                value=name,
                hint="Install the plugin package or fix the channel routing.",
            )
        return self._plugins[name]

    def create(self, name: str, options: Mapping[str, Any] | None = None) -> Channel:
        return self.get(name).factory(self.validate(name, options))

    def validate(self, name: str, options: Mapping[str, Any] | None = None) -> BaseModel:
        """The plugin's parsed options; raises InputError naming the bad option."""
        plugin = self.get(name)
        try:
            parsed = plugin.options.model_validate(dict(options or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            raise InputError(
                f"{name} channel option {where}: {first['msg']}",
                field=where,
                value=first.get("input"),
                hint=f"Options of {name}: {', '.join(plugin.options.model_fields)}.",
            ) from None
        return parsed


registry = ChannelRegistry()

LOGICAL_CHANNELS = ("email", "sms", "push", "webhook")


class ChannelRouter:
    """Logical channel -> channel instance, built from a routing mapping; instances are created once."""

    def __init__(self, routing: Mapping[str, Mapping[str, Any]], reg: ChannelRegistry | None = None) -> None:
        self._registry = reg or registry
        self._routing: dict[str, tuple[str, dict[str, Any]]] = {}
        for logical, spec in routing.items():
            if logical not in LOGICAL_CHANNELS:
                raise InputError(
                    f"channel routing: expected keys among {', '.join(LOGICAL_CHANNELS)}, got {logical!r}",
                    field="channels",
                    value=logical,
                    hint='E.g. {"email": {"provider": "smtp", "host": "localhost"}}.',
                )
            spec = dict(spec)
            provider = spec.pop("provider", None)
            if not provider:
                raise InputError(
                    f"channel routing for {logical}: missing 'provider'",
                    field=f"channels.{logical}",
                    value=spec,
                    hint=f"One of: {', '.join(self._registry.names())}.",
                )
            self._registry.validate(provider, spec)  # fail on bad options before anything is sent
            self._routing[logical] = (provider, spec)
        self._instances: dict[str, Channel] = {}

    @property
    def channels(self) -> list[str]:
        return list(self._routing)

    def get(self, logical: str) -> Channel | None:
        if logical not in self._routing:
            return None
        if logical not in self._instances:
            provider, options = self._routing[logical]
            self._instances[logical] = self._registry.create(provider, options)
        return self._instances[logical]

    def close(self) -> None:
        for channel in self._instances.values():
            channel.close()
        self._instances.clear()
