"""Settings of the local stack (`orderinfo stack ...`), env prefix `ORDERINFO_STACK_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_root() -> Path:
    return Path(__file__).resolve().parents[3]


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERINFO_STACK_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: _project_root() / ".local" / "stack",
        description="State, data and logs of the local stack (git-ignored).",
    )
    jar_cache: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "orderinfo" / "kafka",
        description="Resolved Kafka broker jars, shared by every clone on this machine.",
    )
    kafka_version: str = "4.1.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "-Xms256m -Xmx512m"
    kafka_start_timeout: float = 120.0
    postgres_port: int = 15432
    postgres_user: str = "orderinfo"
    postgres_database: str = "orderinfo"
    postgres_os_user: str = Field(default="postgres", description="OS user that runs PostgreSQL when we are root.")

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://{self.postgres_user}@127.0.0.1:{self.postgres_port}/{self.postgres_database}"
