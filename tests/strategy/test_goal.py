"""Goals: valid TOML / dict goals load; every bad field is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketloop.errors import InputError
from marketloop.strategy.goal import load_goal, parse_goal

BASE = {"name": "Win back"}


def test_defaults_and_margin_floor() -> None:
    goal = parse_goal(BASE)
    assert goal.objective == "incremental_profit"
    assert goal.channels == ["email"]
    # cost ratio 0.6 and a 30 % floor: (1 - d - 0.6) / (1 - d) >= 0.3  <=>  d <= 1 - 0.6 / 0.7
    floor = parse_goal({**BASE, "margin_floor": 0.3, "max_discount": 0.5, "discounts": [0.0]})
    assert floor.allowed_discount(0.6) == pytest.approx(1 - 0.6 / 0.7)
    assert floor.allowed_discount(0.8) == 0.0


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"name": ""}, "name", "at least 1 character"),
        ({"objective": "opens"}, "objective", "incremental_profit"),
        ({"budget": -5}, "budget", "greater than 0"),
        ({"margin_floor": 1.2}, "margin_floor", "less than 1"),
        ({"max_discount": 0.9}, "max_discount", "less than or equal to 0.5"),
        ({"discounts": [0.0, 0.4], "max_discount": 0.3}, "discounts", "above max_discount"),
        ({"discounts": []}, "discounts", "at least one level"),
        ({"channels": ["fax"]}, "channels.0", "email"),
        ({"channels": ["email", "email"]}, "channels", "each channel may appear once"),
        ({"window_days": 0}, "window_days", "greater than or equal to 1"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end", "is before start"),
        ({"budgets": 10}, "budgets", "unknown field"),
        ({"eligible": {"segment": "vip"}}, "eligible.segment", "lapsing"),
        (
            {"eligible": {"min_days_since_order": 90, "max_days_since_order": 30}},
            "eligible.max_days_since_order",
            "must not exceed",
        ),
        ({"eligible": {"colour": "red"}}, "eligible.colour", "unknown field"),
        ({"frequency": {"max_messages": 0}}, "frequency.max_messages", "greater than or equal to 1"),
        ({"budget": float("inf")}, "budget", "finite number"),
        ({"discounts": [0.0, float("nan")]}, "discounts.1", "finite number"),
    ],
)
def test_bad_goals_name_the_field(change: dict, field: str, text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_goal({**BASE, **change})
    assert info.value.field == field
    assert text in info.value.message
    assert info.value.hint


def test_missing_name() -> None:
    with pytest.raises(InputError, match="name: required"):
        parse_goal({"objective": "conversions"})


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "goal.toml"
    path.write_text(
        'name = "Spring"\nobjective = "conversions"\nbudget = 500\n[eligible]\nsegment = "lapsing"\n', encoding="utf-8"
    )
    goal = load_goal(path)
    assert goal.budget == 500 and goal.eligible.segment == "lapsing"
    bad = tmp_path / "bad.toml"
    bad.write_text("name = Spring\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_goal(bad)
    with pytest.raises(InputError, match="file not found"):
        load_goal(tmp_path / "missing.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('name = "x"\nbudjet = 5\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"budjet: unknown field in unknown\.toml"):
        load_goal(unknown)
