"""Anonymous callers cannot grow the metrics or multiply readiness checks (probes 5 and 6 after issue 10)."""

from __future__ import annotations

import asyncio
import re

import pytest

from services.platform.observability import MAX_ROUTE_LABELS, Metrics, Readiness


def _series(metrics: Metrics, label: str) -> set[str]:
    return set(re.findall(rf'{label}="([^"]*)"', metrics.exposition().decode()))


def test_methods_outside_the_standard_set_count_as_other() -> None:
    metrics = Metrics()
    for method in ("GET", "PROBE1", "get", "POST", "X" * 1000, "PATCH"):
        metrics.observe_request(method, "/healthz", 200, 0.01)
    assert _series(metrics, "method") == {"GET", "POST", "PATCH", "other"}


def test_route_labels_are_bounded() -> None:
    metrics = Metrics()
    for n in range(MAX_ROUTE_LABELS + 50):
        metrics.observe_request("GET", f"/route/{n}", 200, 0.01)
    metrics.observe_request("GET", "/route/0", 200, 0.01)  # a known route keeps its own label
    routes = _series(metrics, "route")
    assert len(routes) == MAX_ROUTE_LABELS + 1 and "other" in routes and "/route/0" in routes


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_burst_of_readiness_calls_runs_the_checks_once() -> None:
    calls = 0
    release = asyncio.Event()

    async def slow() -> object:
        nonlocal calls
        calls += 1
        await release.wait()
        return None

    readiness = Readiness({"kafka": slow})
    waiting = [asyncio.create_task(readiness.results()) for _ in range(30)]
    await asyncio.sleep(0)  # let every caller reach the run in flight
    release.set()
    assert [await w for w in waiting] == [{"kafka": "ok"}] * 30
    assert calls == 1


async def test_a_result_is_reused_for_the_ttl_failures_too() -> None:
    clock, outcomes = _Clock(), iter([RuntimeError("down"), None])
    calls = 0

    async def flaky() -> object:
        nonlocal calls
        calls += 1
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return None

    readiness = Readiness({"postgres": flaky}, ttl=1.0, clock=clock)
    assert (await readiness.results())["postgres"] == "RuntimeError: down"
    clock.now += 0.9
    assert (await readiness.results())["postgres"] == "RuntimeError: down"
    assert calls == 1
    clock.now += 0.2
    assert await readiness.results() == {"postgres": "ok"}
    assert calls == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_others_run() -> None:
    release = asyncio.Event()

    async def slow() -> object:
        await release.wait()
        return None

    readiness = Readiness({"kafka": slow})
    impatient = asyncio.create_task(readiness.results())
    patient = asyncio.create_task(readiness.results())
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    release.set()
    assert await patient == {"kafka": "ok"}
    assert readiness.runs == 1


def test_the_relay_exports_its_publish_latency_as_a_histogram() -> None:
    from services.platform.observability import Process
    from services.rules_bridge.relay import RelayMetrics

    relay = RelayMetrics()
    for seconds in (0.004, 0.2, 0.2, 60.0):
        relay.publish_latency.observe(seconds)
    metrics = Metrics(process=Process.RELAY)
    metrics.track_relay(lambda: relay)
    text = metrics.exposition().decode()
    for sample in (
        'orderinfo_relay_publish_duration_seconds_bucket{le="0.005"} 1.0',
        'orderinfo_relay_publish_duration_seconds_bucket{le="0.25"} 3.0',
        'orderinfo_relay_publish_duration_seconds_bucket{le="30.0"} 3.0',
        'orderinfo_relay_publish_duration_seconds_bucket{le="+Inf"} 4.0',
        "orderinfo_relay_publish_duration_seconds_count 4.0",
    ):
        assert sample in text, sample
