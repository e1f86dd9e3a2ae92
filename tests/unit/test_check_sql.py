"""The exact SQL each check sends for a given config: renamed tables and columns flow in, values are parameters."""
from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks.invoice_immutability.queries import queries as invoice_queries
from billing_readiness.checks.usage_coverage.queries import queries as coverage_queries
from billing_readiness.config import load_config
from billing_readiness.sql import active_tenants_query
from billing_readiness.timewindow import Month, Window
from stand_ins import NOW

CFG = load_config({"usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
                   "usage_daily": {"table": "metering.daily"}})
WINDOW = Window(NOW, 3)  # 2025-03-07 .. 2025-03-10 12:00 UTC


def test_check_1_sends_seven_queries_with_these_columns():
    qs = coverage_queries(CFG, WINDOW)
    assert {k: q.columns for k, q in qs.items()} == {
        "active": ("tenant_id",),
        "raw": ("t", "d", "et", "events", "quantity", "cost_nanos"),
        "daily": ("t", "d", "query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd"),
        "hourly": ("t", "d", "et", "events", "quantity", "cost"),
        "duplicates": ("t", "duplicated_ids", "extra_rows", "example_event_id"),
        "first_usage": ("t", "first_day"),
        "future": ("t", "events", "latest"),
    }


def test_check_1_first_usage_comes_from_the_daily_rollup_over_all_history():
    assert coverage_queries(CFG, WINDOW)["first_usage"].render() == """\
SELECT tenant_id AS t, min(day) AS first_day
FROM metering.daily
GROUP BY t"""


def test_check_1_raw_usage_sql():
    assert coverage_queries(CFG, WINDOW)["raw"].render() == """\
SELECT org_id AS t, toDate(event_time, 'UTC') AS d, toString(event_type) AS et,
       count() AS events, sum(quantity) AS quantity, sum(toInt64(floor(cost_usd * 1000000000 + 0.5))) AS cost_nanos
FROM metering.events
WHERE event_time >= toDateTime(1741305600) AND event_time < toDateTime(1741608000)
GROUP BY t, d, et"""


def test_check_1_daily_rollup_sql_reads_complete_days_only():
    assert coverage_queries(CFG, WINDOW)["daily"].render() == """\
SELECT tenant_id AS t, day AS d, sum(query_count) AS query_count,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(storage_writes_bytes) AS storage_writes_bytes, sum(total_cost_usd) AS total_cost_usd
FROM metering.daily
WHERE day >= toDate('2025-03-07') AND day < toDate('2025-03-10')
GROUP BY t, d"""


def test_check_1_future_events_sql_forgives_five_minutes_of_skew():
    assert coverage_queries(CFG, WINDOW)["future"].render() == """\
SELECT org_id AS t, count() AS events, toUInt32(max(event_time)) AS latest
FROM metering.events
WHERE event_time > toDateTime(1741608300)
GROUP BY t
ORDER BY t"""


def test_check_2_invoice_sql_and_its_second_single_threaded_read():
    qs = invoice_queries(CFG, Month.parse("2025-02"))
    expected = """\
SELECT org_id AS tenant_id,
       countIf(event_type = 'query') AS total_queries,
       sumIf(quantity, event_type IN ('token_input', 'token_output')) AS total_tokens,
       sum(toInt64(floor(cost_usd * 1000000000 + 0.5))) AS cost_nanos
FROM metering.events
WHERE event_time >= toDateTime(1738368000) AND event_time < toDateTime(1740787200)
GROUP BY tenant_id"""
    assert qs["raw_a"].render() == expected and qs["raw_b"].render() == expected
    assert (qs["raw_a"].settings, qs["raw_b"].settings) == ({}, {"max_threads": 1})
    assert qs["rollup"].render() == """\
SELECT tenant_id AS tenant_id, sum(query_count) AS total_queries,
       sum(input_tokens) + sum(output_tokens) AS total_tokens,
       sum(total_cost_usd) AS total_cost_usd
FROM metering.daily
WHERE day >= toDate('2025-02-01') AND day < toDate('2025-03-01')
GROUP BY tenant_id"""


def test_check_2_late_arrivals_sql_uses_the_ingestion_column_and_the_grace_period():
    cfg = load_config({"usage_events": {"ingested_at": "inserted_at"}, "invoice": {"late_arrival_grace_seconds": 600}})
    assert invoice_queries(cfg, Month.parse("2025-02"))["late"].render() == """\
SELECT tenant_id AS tenant_id, count() AS late_rows,
       sum(toInt64(floor(cost_usd * 1000000000 + 0.5))) AS cost_nanos,
       toUInt32(min(inserted_at)) AS first_ingested, toUInt32(max(inserted_at)) AS last_ingested
FROM usage_events
WHERE timestamp >= toDateTime(1738368000) AND timestamp < toDateTime(1740787200)
  AND inserted_at > toDateTime(1740787800)
GROUP BY tenant_id
ORDER BY tenant_id"""
    assert "late" not in invoice_queries(load_config({"usage_events": {"ingested_at": None}}), Month.parse("2025-02"))


def test_check_2_mutations_sql_covers_the_events_table_both_rollups_and_what_distributed_tables_read():
    assert invoice_queries(CFG, Month.parse("2025-02"))["mutations"].render() == "SELECT database, table, mutation_id, command, created, is_done\nFROM\n(\n    SELECT database, table, mutation_id, command, toUInt32(create_time) AS created, is_done\n    FROM system.mutations\n    WHERE create_time >= toDateTime(1738368000)\n)\nWHERE (database, table) GLOBAL IN\n      (\n          SELECT database, arrayJoin([name, concat('.inner.', name)]) FROM system.tables WHERE (database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly')\n          UNION ALL\n          SELECT extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?\\\\s*,') AS db, arrayJoin([t, concat('.inner.', t)])\n          FROM (SELECT engine_full, extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?') AS t FROM system.tables\n                WHERE engine = 'Distributed' AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly')))\n      )\n   OR (startsWith(table, '.inner_id.') AND database GLOBAL IN (SELECT database FROM system.tables WHERE (database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly')))\nORDER BY created, table"


def test_check_2_on_a_cluster_reads_every_servers_mutations_and_finds_distributed_tables():
    qs = invoice_queries(load_config({"clickhouse": {"cluster": "m12_two_shards"}}), Month.parse("2025-02"))
    assert "FROM cluster('m12_two_shards', system, mutations)" in qs["mutations"].render()
    assert "FROM system.mutations" not in qs["mutations"].render()
    assert qs["distributed"].columns == ("name", "cluster")
    assert "engine = 'Distributed'" in qs["distributed"].render()


def test_check_1_duplicates_are_found_across_shards_with_global_in():
    assert "cityHash64(event_id) GLOBAL IN" in coverage_queries(CFG, WINDOW)["duplicates"].render()


def test_check_2_configured_invoice_sql_is_sent_as_written_with_the_month_as_parameters():
    sql = "SELECT org AS tenant_id, q AS total_queries, tok AS total_tokens, n AS cost_nanos FROM inv " \
          "WHERE ts >= %(month_start)s AND ts < %(month_end)s"
    q = invoice_queries(load_config({"invoice": {"sql": sql}}), Month.parse("2025-02"))["raw_a"]
    assert q.render() == sql.replace("%(month_start)s", "1738368000").replace("%(month_end)s", "1740787200")
    assert q.source == "config key 'invoice.sql'"


def test_check_3_largest_tenants_sql():
    assert dl.top_tenants_query(CFG, WINDOW, 2).render() == """\
SELECT tenant_id AS t, sum(event_count) AS events
FROM usage_hourly
WHERE hour >= toDateTime(1741305600)
GROUP BY t
ORDER BY events DESC, t
LIMIT 2"""


def test_check_4_probe_usage_sql_and_active_tenants():
    assert qe.probe_usage_query(CFG, "readiness-probe").render() == (
        "SELECT org_id AS tenant_id FROM metering.events WHERE org_id = 'readiness-probe' LIMIT 1")
    assert active_tenants_query(CFG).render() == (
        "SELECT DISTINCT tenant_id AS tenant_id FROM tenant_quotas ORDER BY tenant_id")
    configured = active_tenants_query(load_config({"active_tenants_sql": "SELECT id AS tenant_id FROM t"}))
    assert (configured.sql, configured.source) == ("SELECT id AS tenant_id FROM t", "config key 'active_tenants_sql'")
