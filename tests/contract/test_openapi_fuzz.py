"""Fuzz every operation of the OpenAPI document with schemathesis: no input may cause a server error (5xx).

Runs against the ASGI app in-process with its real lifespan (PostgreSQL pool, Kafka producer) on this test
session's database and topics, with a valid API key of a tenant that has a few orders, so the generated requests
reach the handlers and their queries. Bounded: a few examples per operation, no deadline.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from services.ingest.entrypoints.http.app import create_app
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


def test_no_server_errors(fuzzed_api: Any, catalogue: Catalogue) -> None:
    """Each operation in turn (schemathesis' pytest plugin does not load under pytest 9: hypothesis directly)."""
    operations = [result.ok() for result in fuzzed_api.get_all_operations()]
    assert len(operations) >= 10
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: Any) -> None:
            response = case.call_and_validate(headers={"X-API-Key": catalogue.key_a}, checks=[not_a_server_error])
            statuses[response.status_code] += 1

        no_server_error()
    assert statuses[200] > 50, f"the requests barely reached the handlers: {statuses}"
