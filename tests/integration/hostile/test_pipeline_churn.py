"""The pipelined consumer (issue 15) through a churning group, real processes on the shared stack: members join,
one is stopped (SIGTERM) and one killed (SIGKILL) while batches are in flight behind their handlers, and a share of
the orders is sent a second time, under the same key, on another partition (a raw producer choosing partitions),
so two members insert the same new order at once, or one member gets both in one batch. Afterwards every order
once with its lines, status and persona, every event once (copies only with identical ids), the import's counters
add up (each order `created` once); no member split a batch (a concurrent insert is planned again, not failed)
or exited. The seed picks the orders sent twice and their partitions; ORDERINFO_CHURN_SEED replays it
(the processes' timing is the stack's)."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from services.ingest.contracts.orders_ingest_v1 import TOPIC, OrderIngestV1, message_key
from services.platform.settings import ConnectionSettings
from tests.integration.faults.conftest import verify_env  # noqa: F401 (the fixture)
from tools.verification import scenarios
from tools.verification.checks import Findings, eventually
from tools.verification.env import VerifyEnv, _free_port
from tools.verification.processes import ServiceProcess, service_env
from tools.verification.workload import prepare, publish

pytestmark = pytest.mark.integration
ORDERS = 2400
SENT_TWICE = ORDERS // 4
# A split batch (a concurrent insert must be planned again, not fail the batch), a batch's task failing after its
# commit. (A commit refused for a partition revoked meanwhile is the design: rewound, redelivered to its owner.)
SIGNS_OF_TROUBLE = ("applying its records one by one", "AssertionError", "exception was never retrieved")


async def _elsewhere(settings: ConnectionSettings, orders: Sequence[OrderIngestV1], rng: random.Random) -> None:
    """Each of `orders` again, with its key, on a partition its key does not route to."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True)
    topic = settings.topic(TOPIC.name)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        sends = []
        for m in orders:
            key = message_key(m.tenant_id, m.order_no)
            routed = DefaultPartitioner()(key, partitions, partitions)
            other = rng.choice([p for p in partitions if p != routed] or partitions)
            sends.append(await producer.send(topic, m.model_dump_json().encode(), key=key, partition=other))
        for sent in sends:
            await sent
    finally:
        await producer.stop()


async def test_members_joining_stopping_and_dying_mid_pipeline_lose_and_double_nothing(
    verify_env: VerifyEnv,  # noqa: F811
) -> None:
    given = os.environ.get("ORDERINFO_CHURN_SEED")
    seed = int(given) if given else random.randrange(1 << 30)
    print(f"seed {seed} (ORDERINFO_CHURN_SEED={seed} replays it)")
    rng = random.Random(seed)

    async def body(stage: scenarios.Stage) -> Findings:
        async with stage.pool.acquire() as conn:
            work = await prepare(conn, "pipeline churn", ORDERS, customers=ORDERS // 5, tag="C")
        await publish(stage.settings, work.orders)
        await _elsewhere(stage.settings, rng.sample(list(work.orders), SENT_TWICE), rng)
        env = service_env(stage.settings, verify_env.consumer_env)

        def member(name: str) -> ServiceProcess:
            ops = {"ORDERINFO_CONSUMER_OPS_PORT": str(_free_port())}
            return stage.group.spawn(name, ["services.cli", "consume"], {**env, **ops})

        async def at(share: float, what: str) -> None:
            n = await eventually(lambda: stage.stored(work), lambda n: n >= ORDERS * share, 90, what, 0.02)
            stage.injected.append(f"{what} at {n}/{ORDERS}")

        verify_env.relay(stage.group, stage.settings)
        first, second = member("churn-a"), member("churn-b")
        await at(0.1, "a third joined")
        third = member("churn-c")
        await at(0.3, "the second stopped")
        second.stop()
        await at(0.5, "the first killed")
        first.kill()
        fourth = member("churn-d")
        await scenarios._settle(stage, work)
        found = await scenarios._verify(stage, work)
        for process in (first, second, third, fourth):
            log = process.log.read_text(errors="replace")
            found.problems += [f"{process.name}: {s!r} in its log" for s in SIGNS_OF_TROUBLE if s in log]
        found.problems += [f"{p.name} exited:\n{p.log_tail()}" for p in (third, fourth) if not p.running]
        return found

    report = await scenarios._scenario(verify_env, verify_env.shared, "pipeline churn", body)
    assert report.passed, f"{report} (seed {seed})"
