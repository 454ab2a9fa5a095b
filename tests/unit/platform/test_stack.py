"""Pure parts of the local stack and migrations: pid records, readiness waits, broker settings, migration order."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from services.platform.migrations import available
from services.platform.stack import kafka
from services.platform.stack.process import port_free, read_pid, wait_until
from services.platform.stack.settings import StackSettings


def test_a_recorded_pid_counts_only_while_it_is_the_same_program(tmp_path: Path) -> None:
    record = tmp_path / "x.pid"
    record.write_text(f"{os.getpid()}\npython\n")
    assert read_pid(record) == os.getpid()
    record.write_text(f"{os.getpid()}\nkafka.Kafka\n")  # a reused pid running something else
    assert read_pid(record) is None
    record.write_text("not a pid\n")
    assert read_pid(record) is None
    assert read_pid(tmp_path / "missing.pid") is None


def test_wait_until_returns_when_the_condition_holds_or_the_deadline_passes() -> None:
    calls = iter([False, False, True])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001)
    assert not wait_until(lambda: False, timeout=0.01, interval=0.001)


def test_port_free_sees_a_listening_socket() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert not port_free(held.getsockname()[1])


def test_broker_settings_are_single_node_kraft_without_auto_created_topics(tmp_path: Path) -> None:
    settings = StackSettings(kafka_port=1234, kafka_controller_port=1235)
    props = dict(line.split("=", 1) for line in kafka._properties(settings, tmp_path).splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:1235"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.num.partitions"] == "1"


def test_migrations_are_numbered_and_ordered() -> None:
    versions = [m.version for m in available()]
    assert versions == sorted(versions) and versions[0].startswith("0001_")
    assert len({v[:4] for v in versions}) == len(versions)


def test_a_new_cluster_id_never_reads_as_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """urlsafe base64 of random bytes starts with "-" one time in 64, which the storage tool read as an option."""
    draws = iter([b"\xf8" + bytes(15), b"\x00" * 16])  # the first encodes to "-AAA...", the second to "AAAA..."
    monkeypatch.setattr(kafka.os, "urandom", lambda n: next(draws))
    cluster_id = kafka.new_cluster_id()
    assert cluster_id == "A" * 22
