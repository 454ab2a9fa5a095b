"""The two `orderinfo verify` scenarios of issue 10 on the shared stack: a poison record under a JSON content-type
among good ones, and a consumer SIGKILLed while it splits a poisoned batch. Every good order exactly once, the
poison dead-lettered."""

from __future__ import annotations

import pytest

from tools.verification.env import VerifyEnv
from tools.verification.scenarios import run_json_header_poison, run_kill_during_split

pytestmark = pytest.mark.integration


async def test_undecodable_records_among_good_ones_are_dead_lettered_and_the_good_ones_land(
    verify_env: VerifyEnv,
) -> None:
    report = await run_json_header_poison(verify_env, orders=400)
    assert report.passed, report


async def test_a_consumer_killed_while_splitting_out_a_poison_record_loses_and_doubles_nothing(
    verify_env: VerifyEnv,
) -> None:
    report = await run_kill_during_split(verify_env, orders=1000)
    assert report.passed, report
