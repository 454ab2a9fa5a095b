"""The real services every integration test shares: one Kafka broker, one PostgreSQL server.

Where they come from, in order: explicit settings (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL` or their `ORDERINFO_`
names); else the local stack (`orderinfo stack up`, which `make test` runs); else testcontainers when a Docker
engine answers. Tests isolate themselves: this session gets its own freshly migrated database and a topic prefix of
its own, and each test its own tenant.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from services.platform.database import create_pool, scratch_database
from services.platform.settings import ConnectionSettings
from services.platform.topics import delete_topics_with_prefix
from tests.support.services import ServiceAddresses, locate_services

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceAddresses]:
    with locate_services() as found:
        yield found


@pytest.fixture(scope="session")
async def database_url(services: ServiceAddresses) -> AsyncIterator[str]:
    """A database of this test session's own, migrated; dropped at the end."""
    async with scratch_database(services.database_url, "test") as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap(services: ServiceAddresses) -> str:
    return services.kafka_bootstrap


@pytest.fixture(scope="session")
def connection_settings(database_url: str, kafka_bootstrap: str) -> ConnectionSettings:
    """Settings pointing at this session's database and topics (topic names get a prefix of their own)."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    os.environ.setdefault("ORDERINFO_TEST_TOPIC_PREFIX", prefix)
    return ConnectionSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=os.environ["ORDERINFO_TEST_TOPIC_PREFIX"],
        topic_partitions=3,
    )


@pytest.fixture(scope="session", autouse=True)
async def _delete_session_topics(connection_settings: ConnectionSettings) -> AsyncIterator[None]:
    """Every topic this session created carries its prefix: delete them all at the end, so the broker does not
    collect leftovers run after run."""
    yield
    await delete_topics_with_prefix(connection_settings.kafka_bootstrap_servers, connection_settings.topic_prefix)


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, max_size=10)
    yield created
    await created.close()
