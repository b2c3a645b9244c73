"""Fixtures for the content tests: real-data folder, a deterministic fake embedder, a tiny store."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def content_data() -> Path:
    path = Path(os.environ.get("MARKETLOOP_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path} (set MARKETLOOP_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETLOOP_SECRET_FILE", str(tmp_path / "secret" / "pii.key"))
    monkeypatch.setenv("MARKETLOOP_DB_URL", f"duckdb:///{tmp_path / 'default.duckdb'}")
    monkeypatch.setenv("MARKETLOOP_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    from marketloop.config import get_settings

    get_settings.cache_clear()


class HashEmbedder:
    """Deterministic bag-of-character-trigrams embedder (no model): similar texts get similar vectors."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            t = f"  {t.lower()}  "
            for j in range(len(t) - 2):
                h = int(hashlib.md5(t[j : j + 3].encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def tiny_store(tmp_path: Path):
    """A DuckDB store with 3 customers, 5 products, orders and reviews."""
    from marketloop.store import schema
    from marketloop.store.engine import open_store

    store = open_store(f"duckdb:///{tmp_path / 'tiny.duckdb'}")
    t0 = dt.datetime(2026, 10, 1)
    with store.begin() as c:
        c.execute(
            schema.customers.insert(),
            [
                {"customer_id": "C1", "first_name": "Anna", "language": "en", "is_guest": False},
                {"customer_id": "C2", "first_name": "Ben", "language": "en", "is_guest": False},
                {"customer_id": "C3", "first_name": "丽华", "language": "zh-CN", "is_guest": False},
            ],
        )
        c.execute(
            schema.products.insert(),
            [
                {
                    "product_id": "P1",
                    "name": "Linen Summer Dress",
                    "description": "A light linen dress for warm days",
                    "category": "Dresses",
                    "price": 49.0,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P2",
                    "name": "Wool Scarf",
                    "description": "Soft merino wool scarf",
                    "category": "Accessories",
                    "price": 19.5,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P3",
                    "name": "Pack of 12 Tealights",
                    "description": "Unscented tealights",
                    "category": "Home",
                    "price": 3.25,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P4",
                    "name": "Denim Jacket",
                    "description": "Classic blue denim jacket",
                    "category": "Jackets",
                    "price": 65.0,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "POST",
                    "name": "POSTAGE",
                    "description": None,
                    "category": None,
                    "price": 18.0,
                    "currency": "GBP",
                    "is_product": False,
                    "hidden": False,
                },
            ],
        )
        c.execute(
            schema.orders.insert(),
            [
                {
                    "order_id": "581234",
                    "customer_id": "C1",
                    "ordered_at": t0,
                    "status": "pending",
                    "is_return": False,
                    "currency": "GBP",
                    "total": 68.5,
                },
                {
                    "order_id": "581235",
                    "customer_id": "C2",
                    "ordered_at": t0 + dt.timedelta(days=2),
                    "status": "completed",
                    "is_return": False,
                    "currency": "GBP",
                    "total": 3.25,
                },
                {
                    "order_id": "581236",
                    "customer_id": "C2",
                    "ordered_at": t0 + dt.timedelta(days=3),
                    "status": "completed",
                    "is_return": False,
                    "currency": "GBP",
                    "total": 65.0,
                },
            ],
        )
        c.execute(
            schema.order_lines.insert(),
            [
                {"order_id": "581234", "line_no": 1, "product_id": "P1", "quantity": 1, "unit_price": 49.0},
                {"order_id": "581234", "line_no": 2, "product_id": "P2", "quantity": 1, "unit_price": 19.5},
                {"order_id": "581235", "line_no": 1, "product_id": "P3", "quantity": 1, "unit_price": 3.25},
                {"order_id": "581236", "line_no": 1, "product_id": "P4", "quantity": 1, "unit_price": 65.0},
            ],
        )
        reviews = []
        texts_p1 = [
            "Love the fit, so flattering.",
            "The fit is perfect and the fabric is soft.",
            "Beautiful dress, the fit is great.",
            "Great fit, lovely colour.",
            "The material is itchy and cheap.",
            "Fabric is thin, see-through. Disappointed.",
        ]
        for i, t in enumerate(texts_p1):
            reviews.append(
                {
                    "review_id": f"R1{i}",
                    "product_id": "P1",
                    "customer_id": "C2",
                    "rating": 5 if i < 4 else 2,
                    "title": None,
                    "body": t,
                }
            )
        for i, t in enumerate(
            [
                "Terrible quality, it fell apart.",
                "Awful, the seams ripped. Poor quality.",
                "Bad quality, returned it.",
                "Nice colour.",
            ]
        ):
            reviews.append(
                {
                    "review_id": f"R4{i}",
                    "product_id": "P4",
                    "customer_id": "C1",
                    "rating": 1 if i < 3 else 4,
                    "title": None,
                    "body": t,
                }
            )
        c.execute(schema.reviews.insert(), reviews)
    yield store
    store.close()
