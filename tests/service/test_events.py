"""Event tracking: validation, idempotency, roles and back-pressure."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.service.conftest import assert_error, make_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")


def _events(n: int, start: int = 0, **extra) -> dict:
    return {
        "events": [
            {
                "event_id": f"e{i}",
                "event_type": "view",
                "customer_id": "c1",
                "product_id": "p1",
                "ts": "2026-01-02T10:00:00+01:00",
                **extra,
            }
            for i in range(start, start + n)
        ]
    }


@pytest.mark.parametrize("role, status", [("admin", 200), ("ingest", 200), ("marketer", 403), ("analyst", 403)])
def test_tracking_role_matrix(api, role, status) -> None:
    r = api.post("/v1/events", role, json=_events(1))
    assert r.status_code == status, r.text
    if status == 403:
        assert_error(r, 403, "forbidden")


def test_batches_are_idempotent_by_event_id(api) -> None:
    first = api.post("/v1/events", "ingest", json=_events(3)).json()
    assert first == {"received": 3, "inserted": 3, "duplicates": 0}
    again = api.post("/v1/events", "ingest", json=_events(4)).json()  # e0..e2 again plus e3
    assert again == {"received": 4, "inserted": 1, "duplicates": 3}
    rows = api.store.read_sql("SELECT event_id, ts, source FROM events ORDER BY event_id")
    assert list(rows["event_id"]) == ["e0", "e1", "e2", "e3"]
    assert rows["ts"].iloc[0] == dt.datetime(2026, 1, 2, 9, 0)  # stored as UTC
    assert rows["source"].iloc[0].startswith("api:")


def test_duplicate_ids_inside_one_batch_are_written_once(api) -> None:
    body = {"events": [{"event_id": "same", "event_type": "view"}, {"event_id": "same", "event_type": "click"}]}
    assert api.post("/v1/events", "ingest", json=body).json() == {"received": 2, "inserted": 1, "duplicates": 1}


@pytest.mark.parametrize(
    "event, field, words",
    [
        ({"event_id": "x", "event_type": "teleport"}, "events.0.event_type", "Input should be"),
        ({"event_id": "", "event_type": "view"}, "events.0.event_id", "at least 1 character"),
        ({"event_id": "x", "event_type": "view", "value": -3}, "events.0.value", "greater than or equal to 0"),
        ({"event_id": "x", "event_type": "view", "ts": "yesterday"}, "events.0.ts", "datetime"),
        ({"event_id": "x", "event_type": "view", "colour": "red"}, "events.0.colour", "Extra inputs"),
        ({"event_type": "view"}, "events.0.event_id", "Field required"),
    ],
)
def test_bad_events_are_named_and_nothing_is_written(api, event, field, words) -> None:
    body = {"events": [{"event_id": "good", "event_type": "view"}, event]}
    body["events"] = [event]
    err = assert_error(api.post("/v1/events", "ingest", json=body), 422, "invalid_input", field=field)
    assert words in err["message"]
    assert api.store.count("events") == 0


def test_one_bad_event_refuses_the_whole_batch(api) -> None:
    body = {
        "events": [
            {"event_id": "good", "event_type": "view"},
            {"event_id": "bad", "event_type": "view", "ts": "2999-01-01T00:00:00Z"},
        ]
    }
    err = assert_error(api.post("/v1/events", "ingest", json=body), 422, "invalid_input", field="events.1.ts")
    assert "outside" in err["message"]
    assert api.store.count("events") == 0


def test_search_events_need_their_text(api) -> None:
    assert_error(
        api.post("/v1/events", "ingest", json={"events": [{"event_id": "s", "event_type": "search"}]}),
        422,
        "invalid_input",
        field="events.0.query",
    )


@pytest.mark.parametrize(
    "content, status, code",
    [
        (b"{not json", 400, "malformed_json"),
        (b"[]", 422, "invalid_input"),
        (b'{"events": []}', 422, "invalid_input"),
        (b'{"events": "lots"}', 422, "invalid_input"),
    ],
)
def test_malformed_and_wrongly_typed_bodies(api, content, status, code) -> None:
    r = api.post("/v1/events", "ingest", content=content, headers={"Content-Type": "application/json"})
    assert_error(r, status, code)


def test_batch_over_the_limit_is_refused(tmp_path) -> None:
    for api in make_api(tmp_path, api_max_batch=5):
        err = assert_error(api.post("/v1/events", "ingest", json=_events(6)), 413, "batch_too_large", field="events")
        assert "6 events" in err["message"]
        assert api.store.count("events") == 0


def test_back_pressure_answers_503_not_loss(api) -> None:
    slots = api.client.app.state.ml.write_slots
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        r = api.post("/v1/events", "ingest", json=_events(2))
        assert_error(r, 503, "busy")
        assert r.headers["Retry-After"] == "1"
    finally:
        for _ in range(taken):
            slots.release()
    assert api.post("/v1/events", "ingest", json=_events(2)).json()["inserted"] == 2
