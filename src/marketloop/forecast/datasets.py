"""Public datasets prepared for forecast evaluation.

UCI Online Retail is loaded through the same ingestion as any store (``uci-online-retail`` importer)
into a DuckDB file; its products have no category, so :func:`uci_product_types` assigns each product the
first product type its description names (bags, candles, cards, ...), the grouping a gift retailer's
buyer would plan stock by. Products naming none fall in ``other``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.engine import Store, open_store

#: Product types, most specific first (the first one a description names wins).
PRODUCT_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lights and candles", ("T-LIGHT", "TLIGHT", "CANDLE", "LANTERN", "LIGHT", "LAMP")),
    ("bags", ("BAG", "TOTE", "SHOPPER")),
    ("cards and wrap", ("CARD", "WRAP", "ENVELOPE", "TAG", "STICKER", "RIBBON")),
    ("cake and baking", ("CAKE", "BAKING", "CUPCASE", "CUPCAKE", "MOULD", "CUTTER")),
    ("mugs and cups", ("MUG", "CUP", "BEAKER", "TEACUP")),
    ("plates and bowls", ("PLATE", "BOWL", "DISH", "SAUCER", "TRAY")),
    ("tins and boxes", ("TIN", "BOX", "CASE", "JAR", "BASKET", "STORAGE")),
    ("signs and frames", ("SIGN", "FRAME", "PLAQUE", "PICTURE", "MIRROR")),
    ("christmas", ("CHRISTMAS", "XMAS", "ADVENT", "SNOW", "REINDEER", "SANTA")),
    ("decorations", ("DECORATION", "HANGING", "BUNTING", "GARLAND", "WREATH", "ORNAMENT", "HEART")),
    ("textiles", ("CUSHION", "APRON", "TOWEL", "BLANKET", "THROW", "NAPKIN", "OVEN GLOVE", "TEA COSY")),
    ("jewellery", ("NECKLACE", "EARRINGS", "BRACELET", "RING", "CHARM", "BROOCH", "HAIR")),
    ("stationery", ("PEN", "PENCIL", "NOTEBOOK", "BOOK", "PAPER", "CALENDAR", "ERASER", "RULER")),
    ("toys and games", ("TOY", "GAME", "DOLL", "PUZZLE", "SPACEBOY", "DOMINO", "SKITTLES", "PLAYHOUSE")),
    ("garden", ("GARDEN", "PLANT", "FLOWER", "POT", "BIRD", "WATERING")),
    ("clocks", ("CLOCK",)),
    ("kitchen", ("SPOON", "KNIFE", "FORK", "BOTTLE", "TEAPOT", "COASTER", "PLACEMAT", "CHOPPING", "LUNCH")),
)
OTHER = "other"


def product_type(description: str | None) -> str:
    words = set(re.findall(r"[A-Z][A-Z\-]*", (description or "").upper()))
    text = f" {(description or '').upper()} "
    for name, keys in PRODUCT_TYPES:
        for key in keys:
            if (" " in key and key in text) or key in words or any(w.startswith(key) and len(key) >= 4 for w in words):
                return name
    return OTHER


def uci_product_types(store: Store) -> int:
    """Set each UCI product's category to its product type; returns how many products were set."""
    p = schema.products
    products = store.read_sql(sa.select(p.c.product_id, p.c.name).where(p.c.is_product.is_(True)))
    types = pd.Series([product_type(n) for n in products["name"]], index=products["product_id"])
    with store.begin() as conn:
        for name, ids in types.groupby(types).groups.items():
            ids = list(ids)
            for k in range(0, len(ids), 500):
                conn.execute(p.update().where(p.c.product_id.in_(ids[k : k + 500])).values(category=name))
    return len(types)


def load_uci(path: str | Path, db_path: str | Path) -> Store:
    """Load the UCI Online Retail file into a DuckDB store at ``db_path`` (reused when already loaded)."""
    from marketloop.store.ingest.loader import load_file

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"data: UCI Online Retail file not found: {path}",
            field="data",
            value=str(path),
            hint="Pass the online_retail.csv(.gz) file, e.g. ../shared/data/uci_online_retail/online_retail.csv.gz.",
        )
    store = open_store(f"duckdb:///{Path(db_path)}")
    load_file(store, "uci-online-retail", path, options={"currency": "GBP"})
    uci_product_types(store)
    return store
