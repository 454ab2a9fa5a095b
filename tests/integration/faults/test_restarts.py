"""Kafka and PostgreSQL restarted under a running consumer and relay. These scenarios stop servers, so they run on
a private stack (ports 19192/19193/15532, started once for this module and stopped at its end), never on the
shared one other tests and engineers use."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tools.verification.env import VerifyEnv, private_stack
from tools.verification.scenarios import run_broker_restart, run_postgres_restart

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def private_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VerifyEnv]:
    async with private_stack(f"restarts-{uuid.uuid4().hex[:6]}.") as stack:
        yield VerifyEnv(stack.connection, Path(tmp_path_factory.mktemp("restarts")), stack, scenario_timeout_s=200)


async def test_kafka_restart_during_an_import(private_env: VerifyEnv) -> None:
    report = await run_broker_restart(private_env, orders=1500)
    assert report.passed, report


async def test_postgres_restart_during_a_batch(private_env: VerifyEnv) -> None:
    report = await run_postgres_restart(private_env, orders=1500)
    assert report.passed, report
