"""Settings of the relay process. Env prefix `ORDERINFO_RELAY_`; read when built, never at import.

The connection settings it inherits are read from `ORDERINFO_RELAY_*` first, then from the `ORDERINFO_*` names
every other process uses (so one `ORDERINFO_TOPIC_PREFIX` applies to all of them).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from services.platform.settings import ConnectionSettings


class RelaySettings(ConnectionSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERINFO_RELAY_", extra="ignore", populate_by_name=True)

    batch_size: int = Field(default=500, ge=1, description="Rows claimed and published per round trip.")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Look for rows this often without a NOTIFY.")
    shard_retry_interval_s: float = Field(default=5.0, gt=0, description="Try to take unowned shards this often.")
    lock_timeout_ms: int = Field(default=2000, ge=1, description="Longest wait for a shard's in-flight writers.")
    retention_days: float = Field(default=7.0, ge=0, description="Sent rows are deleted after this long.")
    prune_interval_s: float = Field(default=3600.0, gt=0)
    shards: list[int] | None = Field(default=None, description="Shards this relay may own; default: all.")
    linger_ms: int = Field(default=5, ge=0, description="Producer linger: lets concurrent sends share a batch.")
    producer_batch_bytes: int = Field(default=512 * 1024, ge=1024, description="Producer batch size per partition.")
    stuck_after_s: float = Field(
        default=120.0, gt=0, description="Not ready while the oldest unsent event of an owned shard is older."
    )
    ops_host: str = "127.0.0.1"
    ops_port: int = Field(default=8082, description="/healthz, /readyz, /metrics of the relay process (0: none).")

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix="ORDERINFO_")
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings
