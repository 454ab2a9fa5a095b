"""Several tenants upload at once through the HTTP API (uvicorn subprocess) with a consumer and a relay process:
every import completes without an error reaching a user; the figures are printed (full size: `python -m
tools.verification.load --tenants 4 --rows 5000`)."""

from __future__ import annotations

import pytest

from tools.verification.env import VerifyEnv
from tools.verification.load import run_load

pytestmark = pytest.mark.integration


async def test_concurrent_uploads_of_several_tenants(verify_env: VerifyEnv) -> None:
    report = await run_load(verify_env, tenants=3, rows=2000)
    print("\n".join(report.lines()))
    assert report.ok, report.lines()
    assert report.orders == report.rows // 2
