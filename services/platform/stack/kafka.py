"""A single-node KRaft Apache Kafka broker from Maven Central jars, run with `java`."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from pathlib import Path

from services.core.bounds import MAX_MESSAGE_BYTES
from services.platform.stack.maven import STAMP, ResolveError, copy_dependencies
from services.platform.stack.packages import ensure_command
from services.platform.stack.process import (
    StackError,
    alive,
    failure,
    port_free,
    read_pid,
    spawn,
    stop_pid,
    wait_until,
)
from services.platform.stack.settings import StackSettings

_HERE = Path(__file__).parent
_MARKER = "kafka.Kafka"


def new_cluster_id() -> str:
    """A random cluster id as Kafka's `Uuid.randomUuid` spells it: URL-safe base64 of 16 bytes, never starting with
    "-" (the storage tool would read such an id as an option: "--cluster-id expected one argument", 1 time in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def jar_dir(settings: StackSettings) -> Path:
    return settings.jar_cache / settings.kafka_version


def resolve_jars(settings: StackSettings) -> Path:
    """Resolve the broker jars into the cache once; a stamp marks a complete copy, so a half download is redone."""
    target = jar_dir(settings)
    if (target / STAMP).exists():
        return target
    print(f"resolving Apache Kafka {settings.kafka_version} jars from Maven Central into {target} ...", flush=True)
    pom = (_HERE / "kafka-pom.xml").read_text().replace("@KAFKA_VERSION@", settings.kafka_version)
    try:
        return copy_dependencies(pom, target, stamp=settings.kafka_version, check=_broker_jars)
    except ResolveError as error:
        raise StackError(f"resolving Kafka jars failed ({error})") from error


def _broker_jars(folder: Path, output: str) -> str | None:
    if not any(folder.glob("kafka_2.13-*.jar")):
        return f"no kafka_2.13 jar was copied:\n{output[-3000:]}"
    if not any(folder.glob("log4j-slf4j*-impl-*.jar")):
        return "resolved Kafka jars have no slf4j binding: the broker would log nothing"
    return None


def _paths(settings: StackSettings) -> dict[str, Path]:
    home = settings.home / "kafka"
    return {
        "home": home,
        "data": home / "data",
        "config": home / "server.properties",
        "log": home / "kafka.log",
        "pid": home / "kafka.pid",
    }


def _properties(settings: StackSettings, data: Path) -> str:
    port, cport = settings.kafka_port, settings.kafka_controller_port
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": "4194304",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),  # = every topic's max.message.bytes, every producer's limit
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def status(settings: StackSettings) -> int | None:
    return read_pid(_paths(settings)["pid"])


def start(settings: StackSettings) -> str:
    """Start the broker unless ours is already running; return once a real client call succeeds."""
    paths = _paths(settings)
    if status(settings) is not None:
        _wait_ready(settings, paths["log"])
        return f"kafka already running on {settings.kafka_bootstrap}"
    for port in (settings.kafka_port, settings.kafka_controller_port):
        if not port_free(port):
            raise StackError(
                f"port {port} is taken by another process: set ORDERINFO_STACK_KAFKA_PORT / "
                "ORDERINFO_STACK_KAFKA_CONTROLLER_PORT, or point KAFKA_BOOTSTRAP_SERVERS at that broker"
            )
    jars = resolve_jars(settings)
    java = ensure_command("java", "openjdk-17-jre-headless")
    paths["home"].mkdir(parents=True, exist_ok=True)
    paths["config"].write_text(_properties(settings, paths["data"]))
    classpath = f"{jars}/*"
    if not (paths["data"] / "meta.properties").exists():
        cluster_id = new_cluster_id()
        fmt = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(paths["config"])],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{fmt.stdout}{fmt.stderr}")
    paths["log"].write_text("")
    argv = [
        java,
        *settings.kafka_heap.split(),
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={_HERE / 'kafka-log4j2.yaml'}",
        "-cp",
        classpath,
        _MARKER,
        str(paths["config"]),
    ]
    pid = spawn(argv, log=paths["log"], pid_file=paths["pid"], marker=_MARKER)
    _wait_started(settings, paths["log"], pid)
    _wait_ready(settings, paths["log"])
    return f"kafka started on {settings.kafka_bootstrap} (pid {pid})"


def _wait_started(settings: StackSettings, log: Path, pid: int) -> None:
    def started() -> bool:
        if not alive(pid):
            raise failure("the Kafka broker exited during start", log)
        return "Kafka Server started" in log.read_text(errors="replace")

    if not wait_until(started, settings.kafka_start_timeout):
        stop_pid(pid)
        raise failure(f"the Kafka broker did not start within {settings.kafka_start_timeout:.0f} s", log)


def _wait_ready(settings: StackSettings, log: Path) -> None:
    """The port opens before the broker can serve: confirm with a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    def ready() -> bool:
        try:
            asyncio.run(probe())
        except Exception:
            return False
        return True

    if not wait_until(ready, 60.0, interval=0.5):
        raise failure("the Kafka broker runs but does not answer metadata requests", log)


def stop(settings: StackSettings) -> str:
    pid = status(settings)
    if pid is None:
        return "kafka not running"
    stop_pid(pid, timeout=30.0)
    _paths(settings)["pid"].unlink(missing_ok=True)
    return f"kafka stopped (pid {pid})"
