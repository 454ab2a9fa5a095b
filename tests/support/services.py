"""Finding the real Kafka and PostgreSQL for integration tests (see tests/integration/conftest.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from services.platform.settings import ConnectionSettings, explicit_services
from services.platform.stack import kafka, postgres
from services.platform.stack.settings import StackSettings


@dataclass(frozen=True)
class ServiceAddresses:
    kafka_bootstrap: str
    database_url: str
    origin: str


def docker_available() -> bool:
    """True when a Docker engine answers (not just a client on PATH)."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def locate_services() -> Iterator[ServiceAddresses]:
    kafka_given, database_given = explicit_services()
    settings = ConnectionSettings()
    if kafka_given and database_given:
        yield ServiceAddresses(settings.kafka_bootstrap_servers, settings.database_url, "environment")
        return
    stack = StackSettings()
    if kafka.status(stack) is not None and postgres.status(stack) is not None:
        yield ServiceAddresses(
            settings.kafka_bootstrap_servers if kafka_given else stack.kafka_bootstrap,
            settings.database_url if database_given else stack.database_url,
            "local stack",
        )
        return
    if os.environ.get("ORDERINFO_TEST_CONTAINERS", "auto") != "off" and docker_available():
        with _containers() as found:
            yield found
        return
    import pytest

    pytest.fail(
        "integration tests need Kafka and PostgreSQL: run `make test` (it starts the local stack), "
        "`orderinfo stack up`, set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL, or start a Docker engine"
    )


@contextlib.contextmanager
def _containers() -> Iterator[ServiceAddresses]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka_container,
        PostgresContainer("postgres:16-alpine", driver=None) as pg,
    ):
        url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield ServiceAddresses(kafka_container.get_bootstrap_server(), url, "testcontainers")
