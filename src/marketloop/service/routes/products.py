"""The product catalogue for the dashboard: search by name or id, and one product with its sales."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from marketloop.errors import NotFoundError
from marketloop.service.auth import require
from marketloop.service.keys import Principal
from marketloop.service.values import plain, records
from marketloop.store import overview, schema

router = APIRouter(prefix="/v1", tags=["products"])
P = schema.products


class ProductRow(BaseModel):
    product_id: str
    name: str
    category: str | None = None
    brand: str | None = None
    price: float | None = None
    currency: str | None = None
    stock: int | None = Field(None, description="Units in stock (None: unknown).")
    hidden: bool


class ProductPage(BaseModel):
    total: int = Field(..., description="Products matching the filters (all pages).")
    items: list[ProductRow]


class ProductSales(BaseModel):
    orders: int
    units: int
    revenue: float
    last_ordered_at: dt.datetime | None = None
    reviews: int
    mean_rating: float | None = None


class ProductOut(ProductRow):
    description: str | None = None
    cost: float | None = Field(None, description="Unit cost; margin = price - cost.")
    is_product: bool = Field(..., description="False for postage, fees and manual adjustments.")
    created_at: dt.datetime | None = None
    sales: ProductSales = Field(..., description="Sales (returns excluded) and reviews.")


LIST_COLUMNS = [P.c[name] for name in ProductRow.model_fields]


@router.get("/products", summary="Search the product catalogue", response_model=ProductPage)
def list_products(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or id (case-insensitive).")] = None,
    category: Annotated[str | None, Query(max_length=255, description="Only this category.")] = None,
    include_hidden: Annotated[bool, Query(description="Also list hidden products.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    _: Principal = Depends(require("read")),
) -> ProductPage:
    store = request.app.state.ml.store
    where = [P.c.is_product]
    if not include_hidden:
        where.append(P.c.hidden.is_not(True))
    if category is not None:
        where.append(P.c.category == category)
    if q:
        needle = q.lower()
        where.append(
            sa.or_(
                sa.func.lower(P.c.name).contains(needle, autoescape=True),
                sa.func.lower(P.c.product_id).contains(needle, autoescape=True),
            )
        )
    total = int(store.scalar(sa.select(sa.func.count()).select_from(P).where(*where)) or 0)
    page = store.read_sql(
        sa.select(*LIST_COLUMNS).where(*where).order_by(P.c.name, P.c.product_id).limit(limit).offset(offset)
    )
    return ProductPage(total=total, items=[ProductRow(**row) for row in records(page)])


@router.get(
    "/products/{product_id}",
    summary="One product with its sales and reviews",
    response_model=ProductOut,
    responses={404: {"description": "no such product"}},
)
def get_product(
    request: Request,
    product_id: Annotated[str, Path(min_length=1, max_length=64)],
    _: Principal = Depends(require("read")),
) -> ProductOut:
    store = request.app.state.ml.store
    row = store.read_sql(sa.select(P).where(P.c.product_id == product_id))
    if row.empty:
        raise NotFoundError(
            f"no product {product_id!r} in this store", hint="Search the catalogue with GET /v1/products?q=..."
        )
    fields = {k: plain(v) for k, v in row.iloc[0].to_dict().items() if k in ProductOut.model_fields}
    return ProductOut(**fields, sales=ProductSales(**overview.product_sales(store, product_id)))
