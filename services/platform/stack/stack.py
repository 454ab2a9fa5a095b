"""`orderinfo stack up | down | status`: the real Kafka broker and PostgreSQL for development, tests and CI.

Idempotent: `up` twice and `down` when down are fine. Only processes this stack started are stopped (by recorded
pid). A service pointed at explicitly (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, or their `ORDERINFO_` names)
is left alone.
"""

from __future__ import annotations

import time

from services.platform.settings import explicit_services
from services.platform.stack import kafka, postgres
from services.platform.stack.settings import StackSettings


def up(settings: StackSettings) -> list[str]:
    kafka_given, database_given = explicit_services()
    report = []
    started = time.monotonic()
    report.append("postgres: using DATABASE_URL" if database_given else postgres.start(settings))
    report.append("kafka: using KAFKA_BOOTSTRAP_SERVERS" if kafka_given else kafka.start(settings))
    report.append(f"stack up in {time.monotonic() - started:.1f} s")
    return report


def down(settings: StackSettings) -> list[str]:
    return [kafka.stop(settings), postgres.stop(settings)]


def status(settings: StackSettings) -> list[str]:
    kpid, ppid = kafka.status(settings), postgres.status(settings)
    return [
        "kafka:    " + (f"running, pid {kpid}, {settings.kafka_bootstrap}" if kpid else "stopped"),
        "postgres: " + (f"running, pid {ppid}, {settings.database_url}" if ppid else "stopped"),
    ]
