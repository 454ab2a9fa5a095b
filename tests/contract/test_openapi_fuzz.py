"""Fuzz every operation of the OpenAPI document with schemathesis: no input may cause a server error (5xx).

Runs against the ASGI app in-process with its real lifespan (PostgreSQL pool, Kafka producer) on this test
session's database and topics, with a valid API key of a tenant that has a few orders, so the generated requests
reach the handlers and their queries. Bounded: a few examples per operation and mode, no deadline; the seed is
printed (`-s`) so a failure can be replayed.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from services.ingest.entrypoints.http.problems import PROBLEM_JSON
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.integration.conftest import connection_settings, database_url, kafka_bootstrap, pool, services
from tests.integration.query.conftest import Catalogue, catalogue

__all__ = ["catalogue", "connection_settings", "database_url", "kafka_bootstrap", "pool", "services"]  # fixtures

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def fuzzed_api(connection_settings: ConnectionSettings) -> Any:
    app = create_app(IngestSettings(**connection_settings.model_dump()))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(fuzzed_api: Any, catalogue: Catalogue, mode: GenerationMode) -> None:
    """Each operation in turn (schemathesis' pytest plugin does not load under pytest 9: hypothesis directly), with
    data that fits the schema and data that does not (negative: wrong types, bad formats, missing or extra
    parameters). Every answer is a 2xx or a problem document; none is a 5xx."""
    operations = [result.ok() for result in fuzzed_api.get_all_operations()]
    assert len(operations) >= 10
    statuses: Counter[int] = Counter()
    unsatisfiable: list[str] = []
    run_seed = random.randrange(2**32)
    print(f"schemathesis {mode.value} run, hypothesis seed {run_seed}")
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @seed(run_seed)
        def no_server_error(case: Any) -> None:
            # negative data may drop the key (missing keys are tested on every route elsewhere): reach the handlers
            case.headers = {**(case.headers or {}), "X-API-Key": catalogue.key_a}
            response = case.call_and_validate(checks=[not_a_server_error])
            statuses[response.status_code] += 1
            if response.status_code >= 400:
                content_type = response.headers.get("content-type", [""])
                assert PROBLEM_JSON in str(content_type), (case.path, response.status_code, response.text[:300])

        try:
            no_server_error()
        except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label
            unsatisfiable.append(operation.label)
    print(f"statuses {dict(sorted(statuses.items()))}; no negative data for {unsatisfiable}")
    if mode is GenerationMode.POSITIVE:
        assert statuses[200] > 50, f"the requests barely reached the handlers: {statuses}"
    else:
        assert sum(n for status, n in statuses.items() if 400 <= status < 500) > 50, statuses
