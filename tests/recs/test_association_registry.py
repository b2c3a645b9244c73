"""Association rules against hand counts; the model registry's versions, promotion and rollback."""

from __future__ import annotations

import pandas as pd
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.recs.association import AssociationRules
from marketloop.recs.data import Interactions
from marketloop.recs.neighbours import ItemKNN
from marketloop.recs.registry import ModelRegistry
from marketloop.store import open_store

DAY = 86_400


def test_rules_support_confidence_lift():
    # 5 baskets (customer, day): {x,y}, {x,y}, {x,z}, {w}, {y}
    baskets = [
        ("c1", 0, "x"),
        ("c1", 0, "y"),
        ("c2", 0, "x"),
        ("c2", 0, "y"),
        ("c3", 0, "x"),
        ("c3", 0, "z"),
        ("c1", 5, "w"),
        ("c2", 5, "y"),
    ]
    frame = pd.DataFrame([{"user": u, "item": i, "ts": d * DAY} for u, d, i in baskets])
    model = AssociationRules(min_count=1, min_confidence=0.0).fit(Interactions.from_frame(frame))
    r = model.rules("x").set_index("consequent")
    assert r.loc["y", "support"] == pytest.approx(2 / 5)
    assert r.loc["y", "confidence"] == pytest.approx(2 / 3)
    assert r.loc["y", "lift"] == pytest.approx((2 / 3) / (3 / 5))
    assert r.loc["z", "lift"] == pytest.approx((1 / 3) / (1 / 5))
    assert r.loc["y", "baskets"] == 2
    assert list(r.index) == ["z", "y"]  # by lift
    assert AssociationRules(min_count=2, min_confidence=0.0).fit(Interactions.from_frame(frame)).rules("x")[
        "consequent"
    ].tolist() == ["y"]
    assert model.rules("unknown").empty


@pytest.fixture
def registry(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 's.duckdb'}")
    return ModelRegistry(store, tmp_path / "models")


def test_register_promote_rollback(registry, board):
    snap = board.snapshot()
    v1 = registry.register(ItemKNN(shrink=1.0).fit(board), snap, {"ndcg@10": 0.1})
    v2 = registry.register(ItemKNN(shrink=50.0).fit(board), snap)
    assert (v1.version, v2.version) == (1, 2) and v1.status == "trained"
    assert v1.data["sha256"] == snap["sha256"] and v1.metrics == {"ndcg@10": 0.1}
    with pytest.raises(NotFoundError, match="no promoted version of model 'itemknn'"):
        registry.load_promoted("itemknn")
    assert registry.promoted_versions() == {}
    registry.promote("itemknn", 1)
    assert registry.load_promoted("itemknn").shrink == 1.0
    registry.promote("itemknn", 2)
    assert registry.promoted_versions() == {"itemknn": 2}
    assert registry.load_promoted("itemknn").shrink == 50.0
    assert {v.version: v.status for v in registry.versions("itemknn")} == {1: "retired", 2: "promoted"}
    back = registry.rollback("itemknn")
    assert back.version == 1 and registry.load_promoted("itemknn").shrink == 1.0


def test_registry_errors(registry, board):
    registry.register(ItemKNN().fit(board), board.snapshot())
    with pytest.raises(NotFoundError, match="model 'itemknn' has no version 7 \\(versions: 1\\)"):
        registry.promote("itemknn", 7)
    registry.promote("itemknn", 1)
    with pytest.raises(InputError, match="no earlier promoted version"):
        registry.rollback("itemknn")
