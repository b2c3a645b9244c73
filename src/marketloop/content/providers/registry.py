"""One registry for text and embedding providers: built-ins and third-party plugins alike.

Built-ins are listed below as ``"module:Class"`` strings, exactly like the entry points a third-party
package declares in its ``pyproject.toml``::

    [project.entry-points."marketloop.providers"]
    myllm = "my_package.provider:MyProvider"

The class says whether it is a ``text`` or ``embedding`` provider (its ``kind``). Nothing is imported
until a provider is asked for, so listing providers never loads torch or opens a connection.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from marketloop.content.providers.base import Provider, ProviderKind, ProviderOptions
from marketloop.errors import DependencyError, InputError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "marketloop.providers"

_BUILTINS: dict[tuple[ProviderKind, str], str] = {
    ("text", "template"): "marketloop.content.providers.template:TemplateWriter",
    ("text", "openai"): "marketloop.content.providers.openai_compat:OpenAIChat",
    ("text", "transformers"): "marketloop.content.providers.local_hf:TransformersChat",
    ("text", "llamacpp"): "marketloop.content.providers.llamacpp:LlamaCppChat",
    ("embedding", "minilm"): "marketloop.content.providers.minilm:MiniLMEmbeddings",
    ("embedding", "openai"): "marketloop.content.providers.openai_compat:OpenAIEmbeddings",
}

DEFAULT_TEXT_PROVIDER = "template"
DEFAULT_EMBEDDING_PROVIDER = "minilm"


@dataclass(frozen=True)
class ProviderEntry:
    kind: ProviderKind
    name: str
    target: str
    origin: str  # "builtin", "plugin:<distribution>" or "runtime"


def _load_target(target: str) -> type[Provider]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class ProviderRegistry:
    """Maps (kind, name) to a provider class; creates providers with validated options."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._entries: dict[tuple[ProviderKind, str], ProviderEntry] = {
            key: ProviderEntry(key[0], key[1], target, "builtin") for key, target in _BUILTINS.items()
        }
        self._classes: dict[tuple[ProviderKind, str], type[Provider]] = {}
        self._plugins_loaded = not load_entry_points

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the product
                log.warning("provider plugin %s (%s) could not be loaded: %s", ep.name, ep.value, exc)
                continue
            kind = getattr(cls, "kind", None)
            if kind not in ("text", "embedding") or not isinstance(cls, type) or not issubclass(cls, Provider):
                log.warning("provider plugin %s is not a TextProvider/EmbeddingProvider subclass; ignored", ep.name)
                continue
            dist = getattr(getattr(ep, "dist", None), "name", "?")
            self.register(cls, name=ep.name, origin=f"plugin:{dist}")

    def register(self, cls: type[Provider], *, name: str | None = None, origin: str = "runtime") -> None:
        """Register a provider class (plugins and tests use this; built-ins are pre-listed)."""
        name = name or cls.name
        key = (cls.kind, name)
        self._entries[key] = ProviderEntry(cls.kind, name, f"{cls.__module__}:{cls.__qualname__}", origin)
        self._classes[key] = cls

    def entries(self, kind: ProviderKind | None = None) -> list[ProviderEntry]:
        self._load_plugins()
        return sorted(
            (e for e in self._entries.values() if kind is None or e.kind == kind), key=lambda e: (e.kind, e.name)
        )

    def names(self, kind: ProviderKind) -> list[str]:
        return [e.name for e in self.entries(kind)]

    def provider_class(self, kind: ProviderKind, name: str) -> type[Provider]:
        self._load_plugins()
        key = (kind, name)
        if key not in self._entries:
            raise InputError(
                f"{kind} provider {name!r} is not registered (known: {', '.join(self.names(kind))})",
                field="provider",
                value=name,
                hint=f"Pick one of {', '.join(self.names(kind))}, or install a plugin that registers "
                f"{name!r} under the entry-point group {ENTRY_POINT_GROUP!r}.",
            )
        if key not in self._classes:
            self._classes[key] = _load_target(self._entries[key].target)
        return self._classes[key]

    def create(self, kind: ProviderKind, name: str, options: dict[str, Any] | BaseModel | None = None) -> Provider:
        """Instantiate a provider, validating `options` against its options model."""
        cls = self.provider_class(kind, name)
        opts = validate_options(cls, options)
        return cls(opts)


def validate_options(cls: type[Provider], options: dict[str, Any] | BaseModel | None) -> ProviderOptions:
    model = cls.Options
    if isinstance(options, model):
        return options
    raw = options.model_dump() if isinstance(options, BaseModel) else dict(options or {})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
        )
        allowed = ", ".join(sorted(model.model_fields))
        raise InputError(
            f"Invalid options for {cls.kind} provider {cls.name!r}: {problems}",
            field="provider options",
            value=raw,
            hint=f"Options accepted by {cls.name!r}: {allowed}.",
        ) from None


_default_registry: ProviderRegistry | None = None


def get_registry() -> ProviderRegistry:
    """The process-wide registry (built on first use, entry points read then)."""
    global _default_registry
    if _default_registry is None:
        _default_registry = ProviderRegistry()
    return _default_registry


def require(module: str, *, feature: str, extra: str) -> Any:
    """Import an optional dependency or raise a DependencyError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(
            f"{feature} needs the Python package {module!r}, which is not installed",
            hint=f"pip install 'marketloop[{extra}]'",
        ) from None
