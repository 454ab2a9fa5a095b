"""Settings of the ingest processes (HTTP API, consumer). Env prefix `ORDERINFO_`; read when built, not at import."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.platform.settings import ConnectionSettings


class IngestSettings(ConnectionSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERINFO_", extra="ignore", populate_by_name=True)

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ops_host: str = "127.0.0.1"
    consumer_ops_port: int = Field(default=8081, description="/healthz, /readyz, /metrics of the consumer process.")
    consumer_lag_interval_s: float = Field(
        default=15, gt=0, description="How often the consumer reads its group's lag from the broker (/metrics)."
    )
    import_stuck_after_s: float = Field(
        default=900, gt=0, description="An import queued or processing without progress this long counts as stuck."
    )
    import_states_interval_s: float = Field(default=30, gt=0, description="How often the API counts active imports.")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, description="Uploads above this are refused unread.")
    max_rows: int = Field(default=5000, description="Data rows per import.")
    http_head_timeout_seconds: float = Field(
        default=10, gt=0, description="A request's line and headers must arrive within this (else 408, closed)."
    )
    http_body_grace_seconds: float = Field(
        default=10, gt=0, description="A request's body may take this long before its minimum rate applies."
    )
    http_body_min_bytes_per_second: float = Field(
        default=16 * 1024,
        gt=0,
        description="After the grace, a request's body must have arrived at this rate at least (else 408, closed):"
        " a body of n bytes may take grace + n / rate seconds (20 MiB at 16 KiB/s: about 21 min).",
    )
    http_keep_alive_seconds: float = Field(default=5, gt=0, description="Idle keep-alive connections close after.")
    max_uploads_in_flight: int = Field(
        default=4,
        ge=1,
        description="Uploads handled at once, counted from their request head (before the body is read); past it 503"
        " with Retry-After (each costs CPU, memory).",
    )
    max_uploads_per_tenant: int | None = Field(
        default=None,
        ge=1,
        description="Uploads one tenant may have in flight (default: half of max_uploads_in_flight, rounded up);"
        " past it 429 with Retry-After, so that one tenant never keeps the others out.",
    )
    upload_retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After of those 503 and 429.")
    max_exports_in_flight: int = Field(
        default=4,
        ge=1,
        description="Order exports (GET /v1/orders/export) streamed at once; past it 503 with Retry-After (each"
        " holds a thread writing rows, the event loop's GIL and a database connection per page).",
    )
    max_exports_per_tenant: int | None = Field(
        default=None,
        ge=1,
        description="Exports one tenant may stream at once (default: half of max_exports_in_flight, rounded up);"
        " past it 429 with Retry-After (16 at once slowed another tenant's order list to 3.2 s at p95).",
    )
    max_letter_reads_in_flight: int = Field(
        default=2,
        ge=1,
        description="Dead-letter listings and replays (/v1/admin/dead-letters) reading the topic at once; past it 503"
        " with Retry-After (each reads up to 64 MiB of letters for up to 20 s, holding them in memory).",
    )
    max_letter_reads_per_tenant: int | None = Field(
        default=None,
        ge=1,
        description="Dead-letter reads one tenant may have at once (default: half of max_letter_reads_in_flight,"
        " rounded up); past it 429 with Retry-After.",
    )
    default_timezone: str = "Asia/Shanghai"
    mobile_placeholders: list[str] = Field(default_factory=list, description="Extra placeholder mobiles.")
    consumer_max_records: int = Field(default=1000, description="Upper bound of records per consumed batch.")
    consumer_batch_timeout_ms: int = 100
    consumer_max_retries: int = Field(
        default=5, ge=0, le=20, description="Backed-off retries of a batch after a transient storage failure."
    )
    consumer_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Group members in one process; the process is CPU-bound, so more were measured no faster"
        " (docs/scaling.md); scale out by processes instead.",
    )
    consumer_overlap_folds: bool = Field(
        default=True,
        description="Fold a batch's personas while the next batch is applied (on a second connection), not before"
        " it: the fold's PostgreSQL work overlaps the next batch's Python work.",
    )
    consumer_pipeline: bool = Field(
        default=True,
        description="Read the next batch ahead while a batch's transaction runs and its offsets are committed"
        " (entrypoints.consumer.Pipeline); off: each batch is handled whole before the next is fetched.",
    )
    repeat_after_paid_orders: int = 2
    dormant_after_days: int = 180
    publish_linger_ms: int = 5
    console_assets_dir: str | None = Field(
        default=None, description="The npm packages the console and /docs serve (default: the checkout's node_modules)."
    )
    persona_stage_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the consumer process folds persona deltas no batch folded (a crash, a skipped lock).",
    )
    lifecycle_sweep_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the consumer process moves customers into `dormant`."
    )
    push_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Bodies of POST /v1/orders:batch above this are refused (413)."
    )
    push_orders_per_second: float = Field(
        default=2000, gt=0, description="Orders a tenant may push per second, per API process (past it 429)."
    )
    import_rows_per_hour: int = Field(
        default=500_000, ge=1, description="Rows of a tenant's imports in the last hour past which uploads are 429."
    )
    push_idempotency_retention_hours: float = Field(
        default=24, gt=0, description="How long an answer is kept by its Idempotency-Key (then purged)."
    )
