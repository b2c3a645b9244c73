"""Hillstrom (women's e-mail vs none, outcome visit): a learner beats random targeting at 30 %."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from marketloop.strategy.uplift_eval import evaluate_uplift


@pytest.mark.realdata
def test_hillstrom_t_learner_beats_random(shared_data: Path) -> None:
    path = shared_data / "hillstrom_email" / "hillstrom.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frame = pd.read_csv(path)
    out = evaluate_uplift(
        frame,
        "segment",
        "Womens E-Mail",
        "No E-Mail",
        "visit",
        seeds=1,
        drop=["conversion", "spend"],
        learners=["t_learner"],
    )
    t30 = out["learners"]["t_learner"]["uplift_at_30"]["mean"]
    random30 = out["learners"]["random"]["uplift_at_30"]["mean"]
    assert out["treated_rate"] == pytest.approx(0.151, abs=0.002)
    assert out["control_rate"] == pytest.approx(0.106, abs=0.002)
    assert t30 > random30 + 0.01
