"""Fuzzing the OpenAPI document with schemathesis: whatever a client sends, the API never answers 5xx.

Every operation of /v1/openapi.json gets generated requests (valid and invalid bodies, parameters and
ids) sent with an admin key, through the real ASGI app over a real store with data: the small analysed
shop of ``shop.py`` with trained recommendation models (its own copy, since fuzzing writes to it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from marketloop.config import load_settings
from marketloop.service.app import create_app
from marketloop.service.keys import create_key
from tests.service.shop import build_shop

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    tmp = Path(tmp_path_factory.mktemp("fuzz"))
    shop = build_shop(tmp)
    store = shop.store
    _KEY["admin"] = create_key(store, "fuzzer", "admin").token
    conf = load_settings(
        db_url=str(store.url),
        session_secret_file=tmp / "session.key",
        api_rate_limit=1e6,
        api_rate_burst=10**6,
        models_dir=shop.models_dir,
        cache_dir=tmp / "cache",
    )
    app = create_app(conf, store=store, background=False)
    yield schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    store.close()


def test_no_server_errors(fuzz_app) -> None:
    # One hypothesis run per operation, inside one test: schemathesis' pytest loader for fixtures does not
    # work with this pytest version, and the app must be built in a fixture (no side effects at import).
    headers = {"Authorization": f"Bearer {_KEY['admin']}"}
    failures: list[str] = []
    operations = [result.ok() for result in fuzz_app.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected so that every failing operation is reported
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
