"""The response model: calibration to Hillstrom, heterogeneous effects, determinism, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.sim import Message, SimWorld


@pytest.fixture(scope="module")
def email(big_world: SimWorld) -> pd.DataFrame:
    """Oracle for a plain e-mail, restricted to customers who can be e-mailed, joined with the truth."""
    frame = big_world.true_uplift(big_world.customer_ids, Message(channel="email"))
    return frame[frame["delivered"]].merge(big_world.truth, on="customer_id")


def test_untreated_conversion_and_visits_match_hillstrom(email: pd.DataFrame) -> None:
    # Hillstrom control group: 0.57 % converted and 10.6 % visited within two weeks.
    assert 0.004 < email["p_purchase_untreated"].mean() < 0.009
    assert 0.08 < email["p_visit_untreated"].mean() < 0.14


def test_email_lifts_conversion_by_about_half_a_point(email: pd.DataFrame) -> None:
    # Hillstrom: +0.31 (women's) to +0.68 (men's) points of conversion, visits 15.1-18.3 %.
    lift = email["uplift"].mean()
    assert 0.003 < lift < 0.007
    assert 0.15 < email["p_visit_treated"].mean() < 0.19
    # Most buyers after an e-mail would have bought anyway... or nearly half of them.
    assert email["p_purchase_untreated"].sum() / email["p_purchase_treated"].sum() > 0.35


def test_response_types_exist_with_their_signature(email: pd.DataFrame) -> None:
    by_type = email.groupby("response_type")[["uplift", "p_purchase_untreated", "p_unsubscribe"]].mean()
    assert set(by_type.index) == {"sure_thing", "persuadable", "lost_cause", "sleeping_dog"}
    assert (email.loc[email["response_type"] == "sleeping_dog", "uplift"] <= 0).all()
    assert by_type.loc["sleeping_dog", "uplift"] < -0.001
    assert by_type.loc["persuadable", "uplift"] > 5 * by_type.loc["sure_thing", "uplift"]
    assert by_type.loc["lost_cause", "uplift"] == 0
    assert (
        by_type.loc["sure_thing", "p_purchase_untreated"] > 2 * by_type["p_purchase_untreated"].drop("sure_thing").max()
    )
    assert by_type.loc["sleeping_dog", "p_unsubscribe"] > 5 * by_type.loc["persuadable", "p_unsubscribe"]
    shares = email["response_type"].value_counts(normalize=True)
    assert shares.between(0.04, 0.7).all()


def test_blanket_discount_loses_money_and_targeting_beats_it(big_world: SimWorld) -> None:
    ids = big_world.customer_ids
    plain = big_world.true_uplift(ids, Message())
    blanket = big_world.true_uplift(ids, Message(discount=0.2))
    assert plain["expected_incremental_profit"].sum() > 0  # a plain e-mail pays for itself
    assert blanket["expected_incremental_profit"].sum() < 0  # 20 % off for everyone does not
    assert blanket["uplift"].mean() > plain["uplift"].mean()  # although it converts more
    top = blanket.nlargest(len(ids) // 5, "uplift")
    assert top["expected_incremental_profit"].sum() > blanket["expected_incremental_profit"].sum() + 1000
    # Discounts persuade price-sensitive customers more.
    truth = big_world.truth.set_index("customer_id")
    gain = (blanket["uplift"] - plain["uplift"]).to_numpy()
    assert np.corrcoef(gain, truth.loc[ids, "price_sensitivity"])[0, 1] > 0.1


def test_targeting_on_truth_beats_random_by_a_bounded_margin(big_world: SimWorld, email: pd.DataFrame) -> None:
    # Even an oracle of the *baseline* (a propensity model's best case) barely beats random for uplift.
    n = len(email) * 3 // 10
    random_gain = email["uplift"].mean() * n
    by_baseline = email.nlargest(n, "p_purchase_untreated")["uplift"].sum()
    by_uplift = email.nlargest(n, "uplift")["uplift"].sum()
    assert by_baseline < 2.0 * random_gain
    assert by_uplift > 2.0 * random_gain


def test_consent_gates_the_message(big_world: SimWorld) -> None:
    frame = big_world.true_uplift(big_world.customer_ids[:5000], Message(channel="sms"))
    off = frame[~frame["delivered"]]
    assert len(off) > 1000
    assert (
        (off["uplift"] == 0).all()
        and (off["p_open"] == 0).all()
        and (off["p_unsubscribe"] == 0).all()
        and (off["send_cost"] == 0).all()
    )
    drawn = big_world.respond(off["customer_id"], Message(channel="sms"), seed=1)
    assert not drawn["open"].any() and not drawn["unsubscribe"].any()


def test_relevant_products_and_good_timing_help(big_world: SimWorld) -> None:
    truth = big_world.truth
    fans = truth[truth["top_category"] == "shoes"]["customer_id"].head(2000)
    shoes = big_world.products_in("shoes")[:3]
    books = big_world.products_in("books")[:3]
    on = big_world.true_uplift(fans, Message(product_ids=tuple(shoes)))["uplift"].mean()
    off = big_world.true_uplift(fans, Message(product_ids=tuple(books)))["uplift"].mean()
    assert on > 1.3 * off
    day = big_world.now
    morning = big_world.true_uplift(fans, Message(send_at=day.replace(hour=14)))["p_open"].mean()
    night = big_world.true_uplift(fans, Message(send_at=day.replace(hour=4)))["p_open"].mean()
    assert morning > night


def test_draws_agree_with_the_oracle(big_world: SimWorld) -> None:
    ids = big_world.customer_ids
    message = Message(discount=0.1)
    oracle = big_world.true_uplift(ids, message)
    treated = big_world.respond(ids, message, seed=5)
    control = big_world.respond(ids, None, seed=5)
    n = len(ids)
    for col, expected in (
        ("purchase", oracle["p_purchase_treated"]),
        ("visit", oracle["p_visit_treated"]),
        ("open", oracle["p_open"]),
    ):
        se = np.sqrt(expected.mean() * (1 - expected.mean()) / n)
        assert abs(treated[col].mean() - expected.mean()) < 4 * se, col
    se = np.sqrt(oracle["p_purchase_untreated"].mean() / n)
    assert abs(control["purchase"].mean() - oracle["p_purchase_untreated"].mean()) < 4 * se
    assert not control[["delivered", "open", "click", "unsubscribe"]].any().any()
    assert (treated.loc[treated["click"], "open"]).all() and (treated.loc[treated["purchase"], "visit"]).all()
    spend = treated.loc[treated["purchase"], "revenue"] / 0.9
    assert 95 < spend.mean() < 135  # Hillstrom: about 114-122 dollars per converter
    assert (treated.loc[~treated["purchase"], ["revenue", "margin"]] == 0).all().all()


def test_draws_are_deterministic_coupled_and_subset_free(big_world: SimWorld) -> None:
    ids = big_world.customer_ids[:3000]
    message = Message()
    a = big_world.respond(ids, message, seed=9)
    pd.testing.assert_frame_equal(a, big_world.respond(ids, message, seed=9))
    assert not a.equals(big_world.respond(ids, message, seed=10))
    part = big_world.respond(ids[::-7], message, seed=9).set_index("customer_id")
    pd.testing.assert_frame_equal(part, a.set_index("customer_id").loc[part.index])
    control = big_world.respond(ids, None, seed=9)
    truth = big_world.truth.set_index("customer_id").loc[ids]
    not_sleeping = (truth["response_type"] != "sleeping_dog").to_numpy()
    assert (a["purchase"] | ~control["purchase"])[not_sleeping].all()  # treatment never removes their purchase


def test_oracle_rows_follow_the_requested_ids(big_world: SimWorld) -> None:
    ids = list(big_world.customer_ids[[5, 2, 9]])
    assert big_world.true_uplift(ids, Message())["customer_id"].tolist() == ids


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel": "fax"}, "channel: expected one of email, sms, push, got 'fax'"),
        ({"discount": 0.8}, "discount: expected a fraction between 0 and 0.5 (or None), got 0.8"),
        ({"discount": -0.1}, "discount: expected a fraction between 0 and 0.5 (or None), got -0.1"),
        ({"window_days": 0}, "window_days: expected 1 to 90 days, got 0"),
        ({"send_at": datetime(2026, 1, 1, tzinfo=UTC)}, "send_at: expected a naive UTC datetime"),
    ],
)
def test_bad_messages_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        Message(**kwargs)
    assert err.value.message.startswith(message)


def test_unknown_ids_and_products_are_named(big_world: SimWorld) -> None:
    with pytest.raises(NotFoundError, match="1 customer id.*not in this simulated store, e.g. C9999999"):
        big_world.respond(["C0000001", "C9999999"], Message())
    with pytest.raises(InputError, match="product_ids: 1 product.*not in the catalogue, e.g. P-nope"):
        big_world.true_uplift(["C0000001"], Message(product_ids=("P-nope",)))
    with pytest.raises(InputError, match="send_at: expected a time after the store's start"):
        big_world.true_uplift(["C0000001"], Message(send_at=datetime(2000, 1, 1)))
    with pytest.raises(InputError, match="seed: expected a non-negative integer"):
        big_world.respond(["C0000001"], Message(), seed=-1)
    with pytest.raises(InputError, match="category: expected one of womens_clothing"):
        big_world.products_in("Shoes")
