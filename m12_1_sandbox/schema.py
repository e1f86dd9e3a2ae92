"""The M12.1 ClickHouse schema, in SQL that Debian's ClickHouse 18.16 and current ClickHouse both accept."""

EVENT_TYPE_ENUM = (
    "Enum8('query' = 1, 'token_input' = 2, 'token_output' = 3, "
    "'storage_write' = 4, 'storage_read' = 5, 'embedding' = 6)"
)
QUOTA_TYPE_ENUM = "Enum8('queries_per_day' = 1, 'tokens_per_day' = 2, 'storage_gb' = 3)"


def ddl(database: str, ttl: bool = False) -> list[str]:
    """CREATE statements for the four M12.1 objects in `database`.

    `ttl` adds production's 36-month TTL, which 18.16 does not understand (chdb does).
    """
    ttl_clause = " TTL timestamp + INTERVAL 36 MONTH" if ttl else ""
    db = database
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"""CREATE TABLE {db}.usage_events (
            event_id String,
            tenant_id String,
            event_type {EVENT_TYPE_ENUM},
            quantity Float64,
            cost_usd Float64,
            metadata String,
            timestamp DateTime,
            created_at DateTime DEFAULT now()
        ) ENGINE = MergeTree() PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant_id, timestamp){ttl_clause}""",
        f"""CREATE MATERIALIZED VIEW {db}.usage_hourly
        ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(hour) ORDER BY (tenant_id, event_type, hour)
        AS SELECT
            tenant_id,
            event_type,
            toStartOfHour(timestamp) AS hour,
            sum(quantity) AS total_quantity,
            sum(cost_usd) AS total_cost,
            count() AS event_count
        FROM {db}.usage_events
        GROUP BY tenant_id, event_type, hour""",
        f"""CREATE MATERIALIZED VIEW {db}.usage_daily
        ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(day) ORDER BY (tenant_id, day)
        AS SELECT
            tenant_id,
            toDate(timestamp) AS day,
            countIf(event_type = 'query') AS query_count,
            sumIf(quantity, event_type = 'token_input') AS input_tokens,
            sumIf(quantity, event_type = 'token_output') AS output_tokens,
            sumIf(quantity, event_type = 'storage_write') AS storage_writes_bytes,
            sum(cost_usd) AS total_cost_usd
        FROM {db}.usage_events
        GROUP BY tenant_id, day""",
        f"""CREATE TABLE {db}.tenant_quotas (
            tenant_id String,
            quota_type {QUOTA_TYPE_ENUM},
            quota_limit Float64,
            quota_used Float64,
            reset_at DateTime,
            updated_at DateTime
        ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY (tenant_id, quota_type)""",
    ]
