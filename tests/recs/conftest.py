"""Tiny deterministic data for the recommendation tests.

The checkerboard: 20 customers in two groups; group A buys items a0..a4, group B buys b0..b4; each
customer bought four of their group's five items, so the one they miss is the known right answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketloop.recs.data import Catalog, Interactions

DAY = 86_400
T0 = 1_700_000_000


def shared_data_dir() -> Path:
    env = os.environ.get("MARKETLOOP_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """The torch models train on one thread in tests: on a shared 2-core machine two threads per process
    fight the other processes and make tiny networks several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.exists():
        pytest.skip(f"shared datasets not found at {path} (set MARKETLOOP_SHARED_DATA)")
    return path


def checkerboard_frame(repeats: int = 3) -> pd.DataFrame:
    rows = []
    for u in range(20):
        group = "a" if u < 10 else "b"
        missing = u % 5
        for r in range(repeats):
            for j in range(5):
                if j == missing:
                    continue
                day = (u + 7 * r + 3 * j) % 60
                rows.append({"user": f"u{u}", "item": f"{group}{j}", "ts": T0 + day * DAY + u * 60 + j, "rating": 1.0})
    return pd.DataFrame(rows)


def checkerboard_products() -> pd.DataFrame:
    a = ["garden spade", "garden rake", "garden hose", "garden gloves", "garden shears"]
    b = ["kitchen knife", "kitchen pan", "kitchen spoon", "kitchen whisk", "kitchen ladle"]
    return pd.DataFrame(
        {
            "product_id": [f"a{j}" for j in range(5)] + [f"b{j}" for j in range(5)],
            "name": a + b,
            "category": ["garden"] * 5 + ["kitchen"] * 5,
            "brand": ["acme", "acme", "zeta", "zeta", "zeta", "acme", "acme", "zeta", "zeta", "zeta"],
            "price": [10.0, 20, 30, 40, 50, 5, 15, 25, 35, 45],
            "cost": [5.0, 5, 5, 5, 5, 4, 4, 4, 4, 4],
            "stock": [1, 1, 0, 1, 1, 1, 1, 1, np.nan, 1],
            "hidden": [False] * 9 + [True],
        }
    )


@pytest.fixture(scope="session")
def board_frame() -> pd.DataFrame:
    return checkerboard_frame()


@pytest.fixture(scope="session")
def board_products() -> pd.DataFrame:
    return checkerboard_products()


@pytest.fixture(scope="session")
def board() -> Interactions:
    return Interactions.from_frame(checkerboard_frame(), weight_col="rating")


@pytest.fixture(scope="session")
def board_catalog(board: Interactions) -> Catalog:
    return Catalog.from_frame(checkerboard_products(), board.items)
