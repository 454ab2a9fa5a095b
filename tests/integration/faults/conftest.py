"""Fault scenarios run in a database of their own (so their relays drain no other test's outbox) on the shared
stack, with a topic prefix of their own; the restart scenarios get a private stack (see test_restarts.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.platform.settings import ConnectionSettings
from tools.verification.env import VerifyEnv, fresh_database


@pytest.fixture(scope="module")
async def verify_env(
    connection_settings: ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[VerifyEnv]:
    async with fresh_database(connection_settings.database_url) as url:
        shared = connection_settings.model_copy(
            update={"database_url": url, "topic_prefix": f"{connection_settings.topic_prefix}faults."}
        )
        yield VerifyEnv(shared, Path(tmp_path_factory.mktemp("faults")), scenario_timeout_s=150)
