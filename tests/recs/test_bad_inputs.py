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
    """A layout change of one model class (the hybrid is at version 3) refuses only that class's older
    artefacts; every other model saved before stays loadable."""
    from marketloop.recs.hybrid import Hybrid

    assert Hybrid.schema_version == 3 and ItemKNN.schema_version == SCHEMA_VERSION == 1
    path = ItemKNN().fit(board).save(tmp_path / "knn")
    assert json.loads((path / "config.json").read_text())["schema_version"] == 1
    assert load_model(path).name == "itemknn"
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**cfg, "model": "hybrid"}))  # an old hybrid's config
    with pytest.raises(InputError, match="schema version 1, this MarketLoop reads 3 for hybrid models"):
        load_model(path)


def _interaction_rows(n_users: int = 30, per_user: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"user_id": f"u{u}", "item_id": f"i{(u + j) % 9}", "timestamp": 1_700_000_000 + j * 86_400 + u}
            for u in range(n_users)
            for j in range(per_user)
        ]
    )


@pytest.mark.parametrize(
    ("sep", "name", "guessed"),
    [("\t", "tab", "tab"), (";", "semicolon", "semicolon"), ("|", "pipe", "pipe")],
)
def test_delimited_files_with_and_without_sep(tmp_path, sep, name, guessed):
    p = tmp_path / "events.csv"
    _interaction_rows().to_csv(p, sep=sep, index=False)
    assert len(read_interactions(p, sep=name).frame) == 180
    assert len(read_interactions(p, sep=sep).frame) == 180
    with pytest.raises(InputError, match=f"separator ','.*header line looks {guessed}-separated") as exc:
        read_interactions(p)
    assert f"--sep {guessed}" in exc.value.hint


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("user_id,item_id,timestamp\n1,2,3\n", {"sep": "::"}, "--sep '::' is not a separator this reader knows"),
        ("", {}, "is empty: expected a header line"),
        ('user_id,item_id\n"1,2\n', {}, "cannot read --interactions .* with separator ','"),
    ],
)
def test_unreadable_files_name_the_problem(tmp_path, content, kwargs, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        read_interactions(p, **kwargs)


def test_a_tab_file_evaluates_with_sep_and_fails_cleanly_without(tmp_path):
    import os
    import subprocess
    import sys

    p = tmp_path / "events.tsv.csv"
    _interaction_rows().to_csv(p, sep="\t", index=False)
    base = [sys.executable, "-m", "marketloop", "eval", "recs", "--interactions", str(p), "--models", "pop,itemknn"]
    env = {**os.environ, "MARKETLOOP_DEBUG": "0"}
    r = subprocess.run([*base, "--protocol", "leave-last-out"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "separator ','" in r.stderr and "tab-separated" in r.stderr and "--sep tab" in r.stderr
    r = subprocess.run(
        [*base, "--protocol", "leave-last-out", "--sep", "tab", "--json"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    assert [m["model"] for m in json.loads(r.stdout)["models"]] == ["pop", "itemknn"]


def test_eval_sentiment_reads_a_semicolon_file_only_with_sep(tmp_path):
    from typer.testing import CliRunner

    from marketloop.cli.main import app

    p = tmp_path / "reviews.csv"
    rows = [("great, really", 5), ("awful; broke", 1)] * 20  # the text holds commas
    pd.DataFrame(rows, columns=["text", "stars"]).to_csv(p, sep=";", index=False)
    args = ["eval", "sentiment", "--data", str(p), "--text-col", "text", "--rating-col", "stars", "--json"]
    r = CliRunner().invoke(app, args)
    assert isinstance(r.exception, InputError) and "semicolon-separated" in r.exception.message
    r = CliRunner().invoke(app, [*args, "--sep", ";"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["binary"]["n_test"] > 0


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["sasrec.max_seconds"], "is not MODEL.PARAM=VALUE"),
        (["sasrec.nope=1"], "the sasrec model has no parameter 'nope'"),
        (["zzz.a=1"], "unknown model 'zzz'"),
    ],
)
def test_model_settings(pairs, message):
    from marketloop.recs.offline import parse_params

    with pytest.raises(InputError, match=message):
        parse_params(pairs)


def test_model_settings_are_read_as_json():
    from marketloop.recs.offline import parse_params

    assert parse_params(["sasrec.max_seconds=30", "bpr.learning_rate=[0.01]", "content.encoder=hashing"]) == {
        "sasrec": {"max_seconds": 30},
        "bpr": {"learning_rate": [0.01]},
        "content": {"encoder": "hashing"},
    }


def test_session_protocol_refuses_models_without_sessions(tmp_path):
    from marketloop.recs.offline import evaluate_models

    data = read_interactions(_write(tmp_path, _interaction_rows()))
    with pytest.raises(InputError, match="model\\(s\\) 'als' cannot rank items for a session"):
        evaluate_models(data, ["sknn", "als"], protocol="session")


def _write(tmp_path, frame):
    p = tmp_path / "events.csv"
    frame.to_csv(p, index=False)
    return p
