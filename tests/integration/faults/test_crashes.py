"""Crashes, poison and rebalances on the shared stack: after each, every order once with its lines, status and
persona, every event on `orders.events.v1` (copies only with identical ids), and the import's counters add up."""

from __future__ import annotations

import pytest

from tools.verification.env import VerifyEnv
from tools.verification.scenarios import (
    run_consumer_crash,
    run_poison_messages,
    run_rebalance,
    run_relay_crash,
)

pytestmark = pytest.mark.integration


async def test_consumer_sigkill_mid_batch_loses_and_doubles_nothing(verify_env: VerifyEnv) -> None:
    report = await run_consumer_crash(verify_env, orders=1500)
    assert report.passed, report


async def test_relay_sigkill_between_publish_and_mark_republishes_identical_events(verify_env: VerifyEnv) -> None:
    report = await run_relay_crash(verify_env, orders=800)
    assert report.passed, report
    assert report.duplicate_events > 0 and report.duplicates_identical


async def test_poison_messages_are_dead_lettered_and_their_neighbours_land(verify_env: VerifyEnv) -> None:
    report = await run_poison_messages(verify_env, orders=400)
    assert report.passed, report


async def test_a_second_consumer_joining_mid_import_changes_nothing(verify_env: VerifyEnv) -> None:
    report = await run_rebalance(verify_env, orders=2000)
    assert report.passed, report
