"""One error hierarchy for MarketLoop.

Every error a user can cause says three things: what was wrong (naming the field, argument or file),
what was expected, and how to fix it. The CLI and the API translate these errors at the edge into a
short message and an exit code / HTTP status; no traceback is shown for a user mistake.
"""

from __future__ import annotations


class MarketLoopError(Exception):
    """Root of every error MarketLoop raises on purpose.

    ``hint`` is a one-line suggestion of how to fix the problem; ``exit_code`` is what the CLI exits
    with when the error reaches it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nHint: {self.hint}"
        return self.message


class InputError(ValueError, MarketLoopError):
    """A value given by the user (argument, option, file content, goal) is not acceptable."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        MarketLoopError.__init__(self, message, hint=hint)
        self.field = field
        self.value = value


class ConfigError(MarketLoopError):
    """Settings are missing or invalid (environment, marketloop.toml, command-line overrides)."""

    exit_code = 2


class NotFoundError(LookupError, MarketLoopError):
    """A named thing (customer, product, campaign, file) does not exist."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        MarketLoopError.__init__(self, message, hint=hint)


class ConflictError(MarketLoopError):
    """The action does not fit the current state of a thing (e.g. approving a campaign twice, or
    launching one that is not approved). The API answers 409."""

    exit_code = 2


class StoreError(MarketLoopError):
    """The store cannot be reached, is locked by another process, or has an unexpected schema."""

    exit_code = 4


class DependencyError(MarketLoopError):
    """An optional dependency needed for this feature is not installed."""

    exit_code = 5


def describe_value(value: object, limit: int = 60) -> str:
    """Render a user value for an error message: quoted, shortened, with control characters shown."""
    text = repr(value) if not isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
