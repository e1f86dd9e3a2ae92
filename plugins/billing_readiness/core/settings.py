"""The configuration's building blocks, below every check: the field types (an SQL identifier, a table name, a
connection id, a zone, a bounded number that says why), the rule for configured SQL, and the sections every check
shares (connections, the ClickHouse client, the M12.1 system's names, cost values, report, history, alerts,
promotion). Each check declares its own section beside its params (checks/<check>/settings.py); config/model.py
puts them all together."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
TABLE_PATTERN = r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$"

# A column (or cluster) name that goes into SQL as written.
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
# A table, optionally database-qualified.
TableName = Annotated[str, StringConstraints(pattern=TABLE_PATTERN)]
# An Airflow connection id.
ConnectionId = Annotated[str, StringConstraints(min_length=1)]


def _zone(value: str) -> str:
    from billing_readiness.core import timewindow

    timewindow.zone(value)  # a ValueError naming the zone when it is not one
    return value


# An IANA time zone name.
Zone = Annotated[str, AfterValidator(_zone)]


def bounded(default: Any, low: float, high: float, why: str, description: str = "") -> Any:
    """A number between `low` and `high` (inclusive); `why` is said when a value is refused."""
    return Field(default, ge=low, le=high, description=description or why, json_schema_extra={"why": why})


def plain_select(key: str, sql: str | None) -> str | None:
    from billing_readiness.core import sql_guard

    if sql is not None:
        problem = sql_guard.problem(sql)
        if problem:
            raise ValueError(f"config key '{key}' {problem}")
    return sql


AlertEvent = Literal["failure", "recovery", "promotion", "warnings"]


class Section(BaseModel):
    """A config section: unknown keys are refused, every value is checked against its declared type."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class Connections(Section):
    clickhouse: ConnectionId = "clickhouse_native_default"
    redis: ConnectionId = "redis_default"
    quota_api: ConnectionId = "quota_api_default"
    alerts: ConnectionId | None = Field(
        None, description="an HTTP connection to a Slack-compatible webhook; None: alerts are logged"
    )
    grafana: ConnectionId | None = Field(None, description="an HTTP connection to Grafana, to read the dashboard live")


class ClickHouseClient(Section):
    query_timeout_seconds: int = bounded(120, 1, 3600, "0 would mean no server-side limit")
    check_budget_seconds: int = bounded(
        900,
        1,
        3600,
        "at least clickhouse.query_timeout_seconds; the task's timeout is 20 min",
        "What one try of a check may spend on ClickHouse in all; every socket wait is cut to what is left, and a "
        "server that accepts and then stays silent fails the check (no retry) instead of hanging it.",
    )
    liveness_timeout_seconds: int = bounded(
        15,
        1,
        600,
        "seconds; a trivial query on a healthy server answers in milliseconds",
        "The first, trivial query of each check must answer within this: a frozen server fails every check in seconds.",
    )
    max_memory_bytes: int | None = Field(
        2_000_000_000,
        ge=100_000_000,
        json_schema_extra={"why": "100 MB or null"},
        description="Peak memory per check query (max_memory_usage); above half of it GROUP BY and ORDER BY spill "
        "to disk instead of failing. None: the server profile's limits only.",
    )
    cluster: Identifier | None = Field(
        None,
        description="The cluster (remote_servers) when the tables are Distributed: check 2 then reads "
        "system.mutations on every shard. None: one server.",
    )
    rollup_timezone: Zone | None = Field(
        None,
        description="The zone the rollups' materialized views cut days and hours in. None: read from the "
        "server (the events column, then timezone()).",
    )

    @model_validator(mode="after")
    def _budget_holds_a_query(self) -> ClickHouseClient:
        if self.check_budget_seconds < self.query_timeout_seconds:
            raise ValueError(
                f"config key 'clickhouse.check_budget_seconds' must be between {self.query_timeout_seconds} and 3600 "
                f"(at least clickhouse.query_timeout_seconds; the task's timeout is 20 min), got "
                f"{self.check_budget_seconds!r}"
            )
        return self


class UsageEvents(Section):
    table: TableName = "usage_events"
    event_id: Identifier = "event_id"
    tenant_id: Identifier = "tenant_id"
    event_type: Identifier = "event_type"
    quantity: Identifier = "quantity"
    cost_usd: Identifier = "cost_usd"
    timestamp: Identifier = "timestamp"
    ingested_at: Identifier | None = Field(
        "created_at",
        description="When the row was written; None: the table has none, and check 2's late-arrival "
        "sub-check cannot run.",
    )


class UsageHourly(Section):
    table: TableName = "usage_hourly"
    tenant_id: Identifier = "tenant_id"
    event_type: Identifier = "event_type"
    hour: Identifier = "hour"
    total_quantity: Identifier = "total_quantity"
    total_cost: Identifier = "total_cost"
    event_count: Identifier = "event_count"


class UsageDaily(Section):
    table: TableName = "usage_daily"
    tenant_id: Identifier = "tenant_id"
    day: Identifier = "day"
    query_count: Identifier = "query_count"
    input_tokens: Identifier = "input_tokens"
    output_tokens: Identifier = "output_tokens"
    storage_writes_bytes: Identifier = "storage_writes_bytes"
    total_cost_usd: Identifier = "total_cost_usd"


class TenantQuotas(Section):
    table: TableName = "tenant_quotas"
    tenant_id: Identifier = "tenant_id"


EnumValue = Annotated[str, StringConstraints(pattern=r"^[^'\\]+$")]


class EventTypes(Section):
    """The event_type values that carry queries, tokens and storage writes."""

    query: EnumValue = "query"
    token_input: EnumValue = "token_input"
    token_output: EnumValue = "token_output"
    storage_write: EnumValue = "storage_write"


class CostValues(Section):
    negative: Literal["warn", "fail"] = Field(
        "warn",
        description="Events with a negative cost_usd or quantity (refunds recorded as usage), in check 1's "
        "window and check 2's month. NaN and infinite values always fail.",
    )


class Report(Section):
    dir: str | None = Field(
        None,
        description="A local folder, or an object-storage URL (file://, s3://, gs://, ...: Airflow's "
        "ObjectStoragePath) that every worker reaches; None: $AIRFLOW_HOME/billing_readiness_reports.",
    )
    conn_id: ConnectionId | None = Field(None, description="the Airflow connection with the object store's credentials")
    base_url: str | None = Field(
        None,
        description="Where people open a run's report: a URL prefix under which report.dir is served, the "
        "run's folder appended. None: the Airflow plugin view, behind Airflow's login.",
    )

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"config key 'report.base_url' must be an http(s) URL, got {value!r}")
        return value


class History(Section):
    retention_days: int = bounded(400, 7, 3660, "days of run records kept")
    trend_runs: int = bounded(30, 2, 366, "runs per trend chart")
    noise_band: float = bounded(
        0.2,
        0,
        10,
        "a share of the last green value (0.2: 20 %)",
        "A key figure moved when it changed by more than this share of the last green run's value.",
    )


class Alerts(Section):
    notify_on: list[AlertEvent] = Field(
        default_factory=lambda: list[AlertEvent](["failure", "recovery"]),
        description="failure: a check's first failing run, then reminders; recovery: a check passing again; "
        "promotion: every promotion (else the first after a run that did not promote); warnings: new warning codes.",
    )
    remind_every_hours: int = bounded(168, 1, 24 * 366, "hours between reminders of a failure that persists")


class Promotion(Section):
    allow_relaxed: Literal["never", "manual", "always"] = Field(
        "never",
        description="May a relaxed run promote: never, manual (runs triggered by hand), always.",
    )
    require_green_runs: int = bounded(1, 1, 366, "consecutive green runs before promotion (1: no burn-in)")
    count_manual_runs: bool = False
    count_relaxed_runs: bool = False
