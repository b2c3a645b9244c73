"""Shared fixtures: one small generated store per test session, and a larger in-memory world."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketloop.sim import SimWorld, generate_store

SMALL = {"customers": 3000, "products": 300, "days": 120, "seed": 7}


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "store"
    generate_store(out, chunk_customers=1000, **SMALL)
    return out


@pytest.fixture(scope="session")
def world(store_dir: Path) -> SimWorld:
    return SimWorld.load(store_dir)


@pytest.fixture(scope="session")
def big_world() -> SimWorld:
    """40,000 customers without history: enough for calibration tolerances, built in about a second."""
    return SimWorld.build(customers=40_000, products=500, days=365, seed=11)
