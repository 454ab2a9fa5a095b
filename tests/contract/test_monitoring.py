"""The shipped alert rules and dashboard name only metrics the processes export, and parse as their tools expect."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.platform.observability import ImportStates, Metrics, Process
from services.rules_bridge.relay import RelayMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\borderinfo_[a-z_]+")


def exported() -> set[str]:
    """Every family the API, consumer and relay processes expose, with the sample suffixes Prometheus adds."""
    return set().union(*(exported_by(process) for process in Process))


def exported_by(process: Process) -> set[str]:
    """The families `process` exposes, wired as its composition root wires them."""
    metrics = Metrics(process=process)
    if process is Process.CONSUME:
        metrics.track_group_lag(lambda: ({0: 3}, 1.0))
    if process is Process.API:
        metrics.track_imports(lambda: ImportStates({"processing": 1}, 1))
    if process is Process.RELAY:
        metrics.track_relay(RelayMetrics)
    text = metrics.exposition().decode()
    samples = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    samples |= {line.split(" ")[2] for line in text.splitlines() if line.startswith("# HELP ")}  # labelled, unused yet
    return {family(s) for s in samples}


def family(name: str) -> str:
    """A sample's family: `x_total`, `x_bucket`, `x_sum`, `x_count` all belong to `x`."""
    return re.sub(r"_(total|bucket|sum|count|created)$", "", name)


def names_in(text: str) -> set[str]:
    return {family(name) for name in NAME.findall(text)}


def test_alert_rules_parse_and_name_exported_metrics() -> None:
    rules: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert alerts and all({"alert", "expr", "annotations"} <= set(rule) for rule in alerts)
    used = set().union(*(names_in(str(rule["expr"])) for rule in alerts))
    assert used and used <= exported(), sorted(used - exported())


def test_the_dashboard_names_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "orderinfo.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set().union(*(names_in(expr) for expr in exprs))
    assert len(dashboard["panels"]) >= 10 and used <= exported(), sorted(used - exported())


def test_prometheus_scrapes_every_process_of_the_compose_file() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    targets = {t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]}
    assert targets == {"api:8080", "consume:8081", "relay:8082"}
    assert {"api", "consume", "relay", "prometheus", "grafana"} <= set(compose["services"])
    assert compose["services"]["prometheus"]["profiles"] == ["monitoring"]


FAMILIES = {
    Process.API: {
        "orderinfo_http_requests",
        "orderinfo_http_request_duration_seconds",
        "orderinfo_imports",
        "orderinfo_import_rows",
        "orderinfo_imports_active",
        "orderinfo_imports_stuck",
    },
    Process.CONSUME: {
        "orderinfo_ingest_batch_records",
        "orderinfo_ingest_batch_duration_seconds",
        "orderinfo_ingest_orders",
        "orderinfo_ingest_dead_letters",
        "orderinfo_ingest_events",
        "orderinfo_ingest_retries",
        "orderinfo_ingest_batch_splits",
        "orderinfo_ingest_batch_restarts",
        "orderinfo_consumer_group_lag",
        "orderinfo_consumer_group_lag_age_seconds",
    },
    Process.RELAY: {
        "orderinfo_relay_published",
        "orderinfo_relay_parked",
        "orderinfo_outbox_parked",
        "orderinfo_outbox_backlog",
        "orderinfo_outbox_oldest_unsent_age_seconds",
        "orderinfo_relay_restarts",
        "orderinfo_relay_failing_sessions",
        "orderinfo_relay_producer_restarts",
        "orderinfo_relay_owned_shards",
        "orderinfo_relay_publish_duration_seconds",
    },
}


@pytest.mark.parametrize("process", list(Process))
def test_each_process_exports_its_own_families_only(process: Process) -> None:
    assert exported_by(process) == FAMILIES[process]


def test_the_retry_restart_and_split_counters_are_exported_from_the_start() -> None:
    text = Metrics(process=Process.CONSUME).exposition().decode()
    for sample in (
        'orderinfo_ingest_retries_total{kind="unavailable"} 0.0',
        "orderinfo_ingest_batch_restarts_total 0.0",
        "orderinfo_ingest_batch_splits_total 0.0",
    ):
        assert sample in text, sample
