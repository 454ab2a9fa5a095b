"""An event over the message bound among another tenant's events, with real consumer and relay processes: it is
parked with its reason and the other tenant's orders and events all arrive (issue 10, finding 2)."""

from __future__ import annotations

import pytest

from tools.verification.env import VerifyEnv
from tools.verification.scenarios import run_oversized_event

pytestmark = pytest.mark.integration


async def test_an_oversized_event_is_parked_and_the_other_tenants_events_keep_flowing(verify_env: VerifyEnv) -> None:
    report = await run_oversized_event(verify_env, orders=400)
    assert report.passed, report
    assert "over" in report.injected
