"""Where the services find Kafka and PostgreSQL.

Every process reads these through its own settings class (which inherits them); nothing is read at import time.
The plain names `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` are honoured as well as the prefixed ones, so an
operator can point everything at existing services with the names they already use.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA = "127.0.0.1:19092"
LOCAL_DATABASE = "postgresql://orderinfo@127.0.0.1:15432/orderinfo"


class ConnectionSettings(BaseSettings):
    """Kafka and PostgreSQL addresses; defaults are the local stack that `orderinfo stack up` starts."""

    model_config = SettingsConfigDict(env_prefix="ORDERINFO_", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default=LOCAL_KAFKA,
        validation_alias=AliasChoices("ORDERINFO_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    database_url: str = Field(
        default=LOCAL_DATABASE,
        validation_alias=AliasChoices("ORDERINFO_DATABASE_URL", "DATABASE_URL"),
    )
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of topics this project creates.")
    topic_replication: int = Field(default=1, ge=1)
    topic_prefix: str = Field(default="", description="Prepended to every topic and group name (test isolation).")

    def topic(self, name: str) -> str:
        """The physical name of a logical topic (or consumer group) name."""
        return f"{self.topic_prefix}{name}"


def explicit_services() -> tuple[bool, bool]:
    """Whether Kafka / PostgreSQL were pointed at explicitly (then the local stack leaves that service alone)."""
    import os

    kafka = any(os.environ.get(n) for n in ("ORDERINFO_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"))
    database = any(os.environ.get(n) for n in ("ORDERINFO_DATABASE_URL", "DATABASE_URL"))
    return kafka, database
