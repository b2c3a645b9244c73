"""What a valid row of each canonical entity looks like.

An :class:`EntitySpec` lists the fields a file may provide for one table, their types and limits, the
natural key that makes loading idempotent, and the references that must resolve. The validator turns
these declarations into one set-based query, so the rules live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from marketloop.store import schema

FieldType = Literal["id", "text", "int", "float", "timestamp", "date", "bool", "enum", "email", "phone"]


@dataclass(frozen=True)
class FieldSpec:
    """One input field: its type, whether it is required, and its limits."""

    name: str
    type: FieldType
    required: bool = False
    min: float | None = None
    max: float | None = None
    #: the setting that gives the maximum (e.g. "max_price"), used when `max` is None
    max_setting: str | None = None
    nonzero: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    #: the store column this field fills, when it differs from `name` (e.g. email -> email_hash)
    column: str | None = None

    @property
    def target(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Reference:
    """`field` must name an existing row of `table`.`column` (in the store or in the same load)."""

    field: str
    table: str
    column: str


@dataclass(frozen=True)
class EntitySpec:
    name: str
    table: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...]
    #: "insert": facts, rows already present are skipped; "upsert": dimensions, changed rows are updated
    mode: Literal["insert", "upsert"] = "insert"
    references: tuple[Reference, ...] = ()
    #: store columns filled with a constant when the file has no such field
    defaults: dict[str, object] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def sa_table(self):  # noqa: ANN201 - sqlalchemy Table
        return schema.metadata.tables[self.table]


def _id(name: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "id", required=required, max_length=64)


def _text(name: str, max_length: int | None = None, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "text", required=required, max_length=max_length)


MONEY_LIMITS = dict(min=0.0, max_setting="max_price")

CUSTOMERS = EntitySpec(
    name="customers",
    table="customers",
    key=("customer_id",),
    mode="upsert",
    fields=(
        _id("customer_id", required=True),
        FieldSpec("email", "email", column="email_hash", max_length=254),
        FieldSpec("phone", "phone", column="phone_hash", max_length=32),
        _text("first_name", 100),
        _text("country", 64),
        _text("city", 100),
        _text("time_zone", 64),
        _text("language", 16),
        FieldSpec("birth_year", "int", min=1900, max=2030),
        FieldSpec("signup_at", "timestamp"),
        FieldSpec("is_guest", "bool"),
    ),
    defaults={"is_guest": False},
)

PRODUCTS = EntitySpec(
    name="products",
    table="products",
    key=("product_id",),
    mode="upsert",
    fields=(
        _id("product_id", required=True),
        _text("name", 255, required=True),
        FieldSpec("description", "text", max_setting="max_text_length"),
        _text("category", 255),
        _text("brand", 255),
        FieldSpec("price", "float", **MONEY_LIMITS),
        FieldSpec("cost", "float", **MONEY_LIMITS),
        _text("currency", 3),
        FieldSpec("stock", "int", min=0),
        FieldSpec("is_product", "bool"),
        FieldSpec("hidden", "bool"),
        FieldSpec("created_at", "timestamp"),
    ),
    defaults={"is_product": True, "hidden": False},
)

EVENTS = EntitySpec(
    name="events",
    table="events",
    key=("event_id",),
    fields=(
        _id("event_id", required=True),
        _id("customer_id"),
        _id("session_id"),
        FieldSpec("event_type", "enum", required=True, choices=schema.EVENT_TYPES),
        _id("product_id"),
        _text("query", 255),
        FieldSpec("ts", "timestamp", required=True),
        FieldSpec("value", "float", **MONEY_LIMITS),
    ),
)

ORDERS = EntitySpec(
    name="orders",
    table="orders",
    key=("order_id",),
    fields=(
        _id("order_id", required=True),
        _id("customer_id"),
        FieldSpec("ordered_at", "timestamp", required=True),
        FieldSpec("status", "enum", choices=schema.ORDER_STATUSES),
        FieldSpec("is_return", "bool"),
        _text("country", 64),
        _text("currency", 3),
        FieldSpec("total", "float", min=None, max_setting="max_price"),
        _text("channel", 32),
    ),
    defaults={"status": "completed", "is_return": False},
)

ORDER_LINES = EntitySpec(
    name="order_lines",
    table="order_lines",
    key=("order_id", "line_no"),
    fields=(
        _id("order_id", required=True),
        FieldSpec("line_no", "int", required=True, min=0),
        _id("product_id", required=True),
        FieldSpec("quantity", "int", required=True, nonzero=True, min=-1_000_000, max=1_000_000),
        FieldSpec("unit_price", "float", required=True, **MONEY_LIMITS),
        # discount amount on the line; on returns its sign follows the (negative) quantity
        FieldSpec("discount", "float", min=-1_000_000.0, max_setting="max_price"),
    ),
    references=(Reference("product_id", "products", "product_id"), Reference("order_id", "orders", "order_id")),
)

REVIEWS = EntitySpec(
    name="reviews",
    table="reviews",
    key=("review_id",),
    fields=(
        _id("review_id", required=True),
        _id("product_id", required=True),
        _id("customer_id"),
        FieldSpec("rating", "int", required=True, min=1, max=5),
        _text("title", 255),
        FieldSpec("body", "text", max_setting="max_text_length"),
        FieldSpec("created_at", "timestamp"),
    ),
)

CONSENTS = EntitySpec(
    name="consents",
    table="consents",
    key=("customer_id", "channel"),
    mode="upsert",
    fields=(
        _id("customer_id", required=True),
        FieldSpec("channel", "enum", required=True, choices=schema.CHANNELS),
        FieldSpec("status", "enum", required=True, choices=("granted", "revoked")),
        FieldSpec("updated_at", "timestamp", required=True),
    ),
)

CALENDAR = EntitySpec(
    name="calendar",
    table="calendar",
    key=("day", "kind", "name"),
    mode="upsert",
    fields=(
        FieldSpec("day", "date", required=True),
        FieldSpec("kind", "enum", required=True, choices=schema.CALENDAR_KINDS),
        _text("name", 128, required=True),
        _text("region", 64),
        FieldSpec("discount", "float", min=0.0, max=1.0),
        FieldSpec("value", "float"),
    ),
)

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec for spec in (CUSTOMERS, PRODUCTS, EVENTS, ORDERS, ORDER_LINES, REVIEWS, CONSENTS, CALENDAR)
}

#: Loading order inside one batch, so that references resolve (products before order lines, ...).
LOAD_ORDER = ("customers", "products", "calendar", "orders", "order_lines", "events", "reviews", "consents")
