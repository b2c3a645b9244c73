"""/metrics: scraped with prometheus-client's own text parser; request counts by route template (never the
raw path), latency histogram, outbox depth and sends by result from the store, model ages, job runs, alerts."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from marketloop.store import schema
from tests.service.conftest import assert_error, make_api


def _scrape(api, role: str = "analyst") -> dict:
    response = api.get("/metrics", role)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def _value(samples, name, **labels) -> float:
    found = [v for lab, v in samples.get(name, []) if all(lab.get(k) == val for k, val in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def test_metrics_scraped_with_the_official_parser(tmp_path) -> None:
    for api in make_api(tmp_path):
        now = dt.datetime(2026, 3, 1)
        with api.store.begin() as conn:
            conn.execute(
                schema.sends.insert(),
                [
                    {
                        "send_id": f"s{i}",
                        "campaign_id": "c1",
                        "customer_id": f"c{i}",
                        "channel": "email",
                        "is_holdout": False,
                        "idempotency_key": f"k{i}",
                        "status": status,
                        "created_at": now,
                        "attempts": 0,
                    }
                    for i, status in enumerate(["queued", "queued", "sent", "sent", "sent", "dead"])
                ],
            )
            conn.execute(
                schema.recs_models.insert().values(
                    name="hybrid",
                    version=3,
                    status="promoted",
                    path="x",
                    params_json="{}",
                    data_json="{}",
                    created_at=now,
                    promoted_at=now,
                )
            )
            conn.execute(
                schema.job_runs.insert().values(
                    run_id="r1", job="monitor", trigger="schedule", started_at=now, finished_at=now, status="failed"
                )
            )
            conn.execute(
                schema.alerts.insert().values(
                    alert_id="a1",
                    kind="drift",
                    subject="x",
                    severity="warning",
                    message="m",
                    created_at=now,
                    last_seen_at=now,
                    occurrences=1,
                )
            )
        for cid in ("C1", "C2", "C3"):
            api.get(f"/v1/customers/{cid}", "analyst")
        samples = _scrape(api)
        assert _value(samples, "marketloop_http_requests_total", route="/v1/customers/{customer_id}", status="404") == 3
        assert not any("C1" in lab.get("route", "") for lab, _ in samples["marketloop_http_requests_total"])
        assert (
            _value(samples, "marketloop_http_request_duration_seconds_count", route="/v1/customers/{customer_id}") == 3
        )
        assert _value(samples, "marketloop_outbox_depth", state="queued") == 2
        assert _value(samples, "marketloop_sends", result="sent") == 3
        assert _value(samples, "marketloop_sends", result="dead") == 1
        assert _value(samples, "marketloop_model_version", model="hybrid") == 3
        assert _value(samples, "marketloop_model_age_seconds", model="hybrid") > 0
        assert _value(samples, "marketloop_job_last_success", job="monitor") == 0
        assert _value(samples, "marketloop_alerts_open", kind="drift") == 1
        assert _value(samples, "marketloop_store_up") == 1
        again = _scrape(api)  # the first scrape itself was counted
        assert _value(again, "marketloop_http_requests_total", route="/metrics", status="200") == 1
        assert_error(api.client.get("/metrics"), 401, "unauthorized")


def test_metrics_can_be_public(tmp_path) -> None:
    for api in make_api(tmp_path, metrics_public=True):
        assert api.client.get("/metrics").status_code == 200


def test_operations_routes(tmp_path) -> None:
    for api in make_api(tmp_path):
        jobs = api.get("/v1/ops/jobs", "analyst").json()
        assert {j["job"] for j in jobs["jobs"]} >= {"profiles", "recs", "uplift", "monitor"}
        assert jobs["schedules_on"] is False and jobs["runs"] == []
        assert_error(api.post("/v1/ops/jobs/monitor/run", "marketer"), 403, "forbidden")
        run = api.post("/v1/ops/jobs/monitor/run", "admin").json()
        assert run["job"] == "monitor" and run["status"] == "ok"
        assert api.get("/v1/ops/jobs", "analyst").json()["runs"][0]["run_id"] == run["run_id"]
        assert_error(api.post("/v1/ops/jobs/nope/run", "admin"), 404, "not_found")
        monitor = api.get("/v1/ops/monitor", "analyst").json()
        assert monitor["references"] == {"customer_features": False, "profile_scores": False}
        assert monitor["freshness"]["figures"]["tables"]["orders"] == {"latest": None, "age_hours": None}
        assert api.get("/v1/ops/alerts", "analyst").json() == {"alerts": []}
        assert_error(api.post("/v1/ops/alerts/nope/resolve", "marketer"), 404, "not_found")
