"""The default configuration: the names of the M12.1 system in docs/m12_1_system.md (config.py merges
a deployment's Variable `billing_readiness_config` over it and validates the result)."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "connections": {
        "clickhouse": "clickhouse_native_default",
        "redis": "redis_default",
        "quota_api": "quota_api_default",
        "alerts": None,  # an HTTP connection to a Slack-compatible webhook; None: alerts are logged
        "grafana": None,  # an HTTP connection to Grafana, to read the dashboard live
    },
    "clickhouse": {
        "query_timeout_seconds": 120,
        # What one try of a check may spend on ClickHouse in all; every socket wait is cut to what is left, and
        # a server that accepts and then stays silent fails the check (no retry) instead of hanging it.
        "check_budget_seconds": 900,
        # The first, trivial query of each check must answer within this: a frozen server fails every check in
        # seconds (not a query timeout each, one check after another).
        "liveness_timeout_seconds": 15,
        # Peak memory per check query (max_memory_usage); above half of it GROUP BY and ORDER BY spill to disk
        # instead of failing. None: the server profile's limits only.
        "max_memory_bytes": 2_000_000_000,
        # The cluster (remote_servers) when the tables are Distributed: check 2 then reads system.mutations
        # on every shard. None: one server.
        "cluster": None,
        # The zone the rollups' materialized views cut days and hours in (toDate/toStartOfHour without a zone
        # use the events column's own zone, else the server's). None: read from the server (column, then
        # timezone()); set it only when the views name another zone explicitly.
        "rollup_timezone": None,
    },
    "usage_events": {
        "table": "usage_events",
        "event_id": "event_id",
        "tenant_id": "tenant_id",
        "event_type": "event_type",
        "quantity": "quantity",
        "cost_usd": "cost_usd",
        "timestamp": "timestamp",
        # When the row was written; None: the table has none, and check 2's late-arrival sub-check cannot run.
        "ingested_at": "created_at",
    },
    "usage_hourly": {
        "table": "usage_hourly",
        "tenant_id": "tenant_id",
        "event_type": "event_type",
        "hour": "hour",
        "total_quantity": "total_quantity",
        "total_cost": "total_cost",
        "event_count": "event_count",
    },
    "usage_daily": {
        "table": "usage_daily",
        "tenant_id": "tenant_id",
        "day": "day",
        "query_count": "query_count",
        "input_tokens": "input_tokens",
        "output_tokens": "output_tokens",
        "storage_writes_bytes": "storage_writes_bytes",
        "total_cost_usd": "total_cost_usd",
    },
    "tenant_quotas": {
        "table": "tenant_quotas",
        "tenant_id": "tenant_id",
    },
    "event_types": {  # the event_type values that carry queries, tokens and storage writes
        "query": "query",
        "token_input": "token_input",
        "token_output": "token_output",
        "storage_write": "storage_write",
    },
    # A SELECT returning one column named tenant_id; None: every tenant in tenant_quotas.
    "active_tenants_sql": None,
    "coverage": {
        # A complete day with fewer events than this share of both its neighbourhood (the 7 nearest days) and
        # the same weekday in other weeks is a partial loss (never in a tenant's first 7 days: its ramp-up).
        "partial_day_ratio": 0.1,
        # Rollup rows may differ from usage_events only by the events ingested (or dated) in the last this many
        # seconds: an insert on its way into the materialized views. Everything older is reconciled exactly.
        "ingest_guard_seconds": 300,
        # The metering system is stalled when nothing was ingested (or dated) for longer than this *and* than
        # ingest_silence_factor x its usual quiet spell at the same time of day over the window.
        "max_ingest_silence_seconds": 1800,
        "ingest_silence_factor": 4,
        # A tenant silent for this long whose own history says it sends at least tenant_silence_min_events
        # in such a span at this time of day (median of the previous days and of the same weekday) is a warning.
        "tenant_silence_seconds": 10800,
        "tenant_silence_min_events": 50,
    },
    "cost_values": {
        # Events with a negative cost_usd or quantity (refunds recorded as usage), in check 1's window and
        # check 2's month: "warn" or "fail". NaN and infinite values always fail.
        "negative": "warn",
    },
    "invoice": {
        # A SELECT with %(month_start)s / %(month_end)s (epoch seconds, end exclusive) returning the columns
        # tenant_id, total_queries, total_tokens, cost_nanos (Int64 nano-dollars); None: built from usage_events.
        "sql": None,
        # Rows of a closed month ingested later than its end plus this are late arrivals (normal lag: seconds).
        # At most 48 hours; above the default 3600 the run counts as relaxed.
        "late_arrival_grace_seconds": 3600,
        # mutation_id values of system.mutations reviewed and accepted (e.g. a deliberate correction).
        "accepted_mutations": [],
        # The zone whose calendar months the invoices cover (an IANA name).
        "billing_timezone": "UTC",
    },
    "dashboard": {
        # Panels come from, in order: a Grafana connection (with grafana_uid), a dashboard export file,
        # or the panels below (None: the four panels of the M12.1 tenant dashboard).
        "export_file": None,
        "grafana_uid": None,
        "tenant_variable": "tenant",
        "panels": None,
        # How the panels are timed: "grafana" (each panel through Grafana's POST /api/ds/query, as the browser
        # loads it), "direct" (the panels' SQL, expanded as the plugin does, on the clickhouse connection), or
        # "auto": through Grafana when connections.grafana and grafana_uid are set, else direct.
        "mode": "auto",
        # What a dashboard whose timezone is "browser" (or unset) is rounded in (now/d, now/w): an IANA name.
        "browser_timezone": "UTC",
        # The screen width the dashboard is drawn on: a panel's $__interval is its range over its width in
        # pixels (unless the panel sets maxDataPoints), as in Grafana.
        "screen_width_px": 1920,
    },
    "quota": {
        "probe_tenant_id": "readiness-probe",
        "path": "/query",
        "method": "POST",
        "tenant_header": "X-Tenant-ID",
        "json_body": {"query": "SELECT 1 /* billing-readiness quota probe */"},
        "request_timeout_seconds": 5.0,
        # Redis keys that give the probe tenant its quota ({tenant_id}, {limit} are filled in);
        # each is written with key_ttl_seconds so a crash cannot leave a quota behind.
        "setup_keys": {
            "tenant:{tenant_id}:tier": "free",
            "tenant:{tenant_id}:limit:queries_hourly": "{limit}",
        },
        # Patterns (Redis SCAN MATCH) of every key the probe may create; each must contain {tenant_id}.
        "cleanup_patterns": ["quota:{tenant_id}:*", "tenant:{tenant_id}:*"],
        "key_ttl_seconds": 900,
        # After a request timed out the API may still count it: wait this long, then clean up again.
        "cleanup_grace_seconds": 5.0,
        # Seconds before the API's counter window rolls over within which the probe waits for the next window.
        "window_seconds": 3600,
        "window_guard_seconds": 15,
        # More HTTP connections to the quota API for the same probe tenant, each with another API key (its
        # password, sent as a Bearer token): the probe alternates between them to tell a limiter counting per
        # tenant from one counting per API key.
        "client_connections": [],
        # Instead of Redis keys: an admin endpoint on the quota API connection, e.g. "/admin/quota/{tenant_id}",
        # taking PUT {"limit", "ttl_seconds"}, DELETE (remove quota and counters) and GET (what is left).
        "admin_path": None,
    },
    "report": {
        # A local folder, or an object-storage URL (file://, s3://, gs://, ...: Airflow's ObjectStoragePath) that
        # every worker reaches; None: $AIRFLOW_HOME/billing_readiness_reports.
        "dir": None,
        "conn_id": None,  # the Airflow connection with the object store's credentials (None: its default)
        # Where people open a run's report: a URL prefix under which report.dir is served (e.g. a bucket's
        # website, "https://reports.example.com/billing"), the run's folder appended. None: the report page of
        # the Airflow plugin view (<Airflow's api.base_url>/billing-readiness/...), behind Airflow's login.
        "base_url": None,
    },
    "history": {
        # One small record per run beside the reports (report.dir/<dag_id>/_history/): streaks, since-when,
        # what changed since the last green run, trends. Records older than this are pruned.
        "retention_days": 400,
        "trend_runs": 30,  # runs drawn in each check's trend chart
        # A key figure "moved" when it changed by more than this share of the last green run's value
        # (and by more than 1 for counts): smaller moves are noise and are not listed.
        "noise_band": 0.2,
    },
    "alerts": {
        # Which events send an alert: "failure" (a check fails: the first run, then a reminder every
        # remind_every_hours while it keeps failing), "recovery" (a check that failed passes again),
        # "promotion" (every promotion; without it only the first promotion after a failure or ever),
        # "warnings" (a check shows warning codes the previous run did not: counted by code, the first named).
        "notify_on": ["failure", "recovery"],
        "remind_every_hours": 168,
    },
    "promotion": {
        # May a relaxed run promote (params or config looser than the checks' strict values, or a part of a
        # check that could not run)? "never" (the default), "manual" (only runs triggered by hand, which then
        # say so in the report, the Asset event and the notice), "always". A deployment opts in.
        "allow_relaxed": "never",
        # Burn-in: promote only after this many consecutive green runs that count (1: every green run
        # promotes). Scheduled runs with strict params count; manual and relaxed runs only when allowed below.
        # A failed run of any kind breaks the streak.
        "require_green_runs": 1,
        "count_manual_runs": False,
        "count_relaxed_runs": False,
    },
}

# Keys whose value may be None or of the type given here instead of the default's type.
_NULLABLE: dict[str, type | tuple] = {
    "usage_events.ingested_at": str,
    "clickhouse.max_memory_bytes": int,
    "clickhouse.cluster": str,
    "clickhouse.rollup_timezone": str,
    "connections.alerts": str,
    "connections.grafana": str,
    "active_tenants_sql": str,
    "invoice.sql": str,
    "dashboard.export_file": str,
    "dashboard.grafana_uid": str,
    "dashboard.panels": list,
    "quota.admin_path": str,
    "report.dir": str,
    "report.conn_id": str,
    "report.base_url": str,
}
# Keys whose value is free-form (no key checking below them).
_FREEFORM = {"quota.json_body", "quota.setup_keys"}
