"""Bad inputs give clear errors naming the argument, the value and a fix."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.recs import load_model
from marketloop.recs.base import SCHEMA_VERSION
from marketloop.recs.data import Interactions
from marketloop.recs.evaluation import split
from marketloop.recs.neighbours import ItemKNN
from marketloop.recs.offline import parse_models
from marketloop.recs.sources import read_interactions


def test_fit_rejects_wrong_types_and_empty(board):
    with pytest.raises(InputError, match="fit expects an Interactions object, got DataFrame"):
        ItemKNN().fit(pd.DataFrame())
    with pytest.raises(InputError, match="empty interaction log"):
        ItemKNN().fit(board.select(board.ts < 0))
    with pytest.raises(InputError, match="parameter shrink must be >= 0, got -1"):
        ItemKNN(shrink=-1).fit(board)


def test_unfitted_model():
    with pytest.raises(InputError, match="ItemKNN is not fitted yet"):
        ItemKNN().recommend("u0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "random"}, "protocol 'random' is not known"),
        ({"protocol": "temporal", "test_days": 0}, "test days must be positive"),
        ({"protocol": "random-stratified", "test_frac": 1.5}, "test fraction must be between 0 and 1"),
    ],
)
def test_split_arguments(board, kwargs, message):
    with pytest.raises(InputError, match=message):
        split(board, **kwargs)


@pytest.mark.parametrize(
    ("text", "message"),
    [("als,foo", "unknown model\\(s\\) 'foo'"), ("", "unknown model")],
)
def test_model_list(text, message):
    with pytest.raises(InputError, match=message):
        parse_models(text)


def test_interaction_file_errors(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_interactions(tmp_path / "nope.csv")
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="has no column\\(s\\) 'user_id', 'item_id', 'timestamp'"):
        read_interactions(p)
    with pytest.raises(InputError, match="has no column\\(s\\) 'CustomerID', 'Description'"):
        read_interactions(p, "uci")
    with pytest.raises(InputError, match="format 'xml' is not known"):
        read_interactions(p, "xml")
    q = tmp_path / "t.csv"
    q.write_text("user_id,item_id,timestamp\n1,2,yesterday\n")
    frame = read_interactions(q).frame
    with pytest.raises(InputError, match="not a date or time: 'yesterday'"):
        Interactions.from_frame(frame)


def test_damaged_artefacts(board, tmp_path):
    path = ItemKNN().fit(board).save(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text())
    cfg["schema_version"] = 99
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(
        InputError, match=f"schema version 99, this MarketLoop reads {SCHEMA_VERSION} for itemknn models"
    ):
        load_model(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_model(path)
    with pytest.raises(NotFoundError, match="no saved model"):
        load_model(tmp_path / "empty")


def test_schema_versions_are_per_model_class(board, tmp_path):
    """A layout change of one model class (the hybrid is at version 2) refuses only that class's older
    artefacts; every other model saved before stays loadable."""
    from marketloop.recs.hybrid import Hybrid

    assert Hybrid.schema_version == 2 and ItemKNN.schema_version == SCHEMA_VERSION == 1
    path = ItemKNN().fit(board).save(tmp_path / "knn")
    assert json.loads((path / "config.json").read_text())["schema_version"] == 1
    assert load_model(path).name == "itemknn"
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**cfg, "model": "hybrid"}))  # an old hybrid's config
    with pytest.raises(InputError, match="schema version 1, this MarketLoop reads 2 for hybrid models"):
        load_model(path)
