"""The exact SQL each check sends for a given config: renamed tables and columns flow in, values are parameters."""
from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks.invoice_immutability.queries import queries as invoice_queries
from billing_readiness.checks.usage_coverage.queries import queries as coverage_queries
from billing_readiness.config import load_config
from billing_readiness.sql import active_tenants_query
from billing_readiness.timewindow import Month, Window
from billing_readiness.checks.dashboard_latency import panels as dl_panels
from billing_readiness.checks.quota_enforcement import diagnose as qe_diagnose
from stand_ins import NOW

CFG = load_config({"usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
                   "usage_daily": {"table": "metering.daily"}})
WINDOW = Window(NOW, 3)  # 2025-03-07 .. 2025-03-10 12:00 UTC


def test_check_1_sends_its_queries_then_its_follow_ups():
    qs = coverage_queries(CFG, WINDOW)
    assert {k: q.columns for k, q in qs.items()} == {
        "active": ("tenant_id",),
        "tenants": ("t", "day_events", "cost_nanos", "daily_drift", "hourly_drift", "latest", "non_finite",
                    "negative_cost", "negative_quantity"),
        "freshness": ("event_minutes", "ingest_minutes"),
        "first_usage": ("t", "first_day"),
        "future": ("t", "events", "latest"),
    }


def test_check_1_first_usage_comes_from_the_daily_rollup_over_all_history():
    assert coverage_queries(CFG, WINDOW)["first_usage"].render() == """\
SELECT tenant_id AS t, min(day) AS first_day
FROM metering.daily
GROUP BY t"""


def test_check_1_compares_the_rollups_in_clickhouse_over_the_window_up_to_now_today_included():
    sql = coverage_queries(CFG, WINDOW, 0.05)["tenants"].render()
    # events and both rollups: the whole window through the end of today (now is 12:00; today's rows count)
    assert "FROM metering.events\n                WHERE event_time >= toDateTime(1741305600) AND event_time < " \
           "toDateTime(1741651200)" in sql
    assert "WHERE hour >= toDateTime(1741305600) AND hour < toDateTime(1741651200)" in sql
    assert "FROM metering.daily\n        WHERE day >= toDate('2025-03-07') AND day < toDate('2025-03-11')" in sql
    # what can be in flight: rows ingested (or dated) in the last ingest_guard_seconds (300) before now
    assert "created_at AS _ing" in sql and "_ing >= toDateTime(1741607700) OR _ts >= toDateTime(1741607700)" in sql
    # exact money from nano-dollars, a non-finite cost never summed; the cost filter a micro-dollar looser
    # than the tolerance plus what is in flight, judged in Python
    assert "toInt64(floor(if(isFinite(_c), _c, 0) * 1000000000 + 0.5)) AS _c_n" in sql
    assert "abs(r_nanos / 1e9 - d_cost) > 0.049999 + s_nanos / 1e9" in sql and "NOT isFinite(d_cost)" in sql
    assert "sumIf(r_n, et = 'query') AS r_qc" in sql and "sumIf(r_q, et = 'storage_write') AS r_sw" in sql
    assert sql.count("ALL FULL OUTER JOIN") == 2


def test_check_1_future_events_sql_forgives_five_minutes_of_skew():
    assert coverage_queries(CFG, WINDOW)["future"].render() == """\
SELECT org_id AS t, count() AS events, toUInt32(max(event_time)) AS latest
FROM metering.events
WHERE event_time > toDateTime(1741608300)
GROUP BY t
ORDER BY t"""


def test_check_2_reads_the_invoice_and_its_late_arrivals_in_one_scan():
    qs = invoice_queries(CFG, Month.parse("2025-02"))
    assert qs["raw"].render() == "SELECT org_id AS tenant_id,\n       countIf(event_type = 'query') AS total_queries,\n       sumIf(quantity, event_type IN ('token_input', 'token_output')) AS total_tokens,\n       sum(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5))) AS cost_nanos,\n       countIf(NOT isFinite(cost_usd) OR NOT isFinite(quantity)) AS non_finite, countIf(isFinite(cost_usd) AND cost_usd < 0) AS negative_cost, countIf(isFinite(quantity) AND quantity < 0) AS negative_quantity,\n       countIf((created_at > toDateTime(1740787200) AND created_at > event_time + 3600)) AS late_rows, sumIf(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5)), (created_at > toDateTime(1740787200) AND created_at > event_time + 3600)) AS late_cost_nanos,\n       toUInt32(minIf(created_at, (created_at > toDateTime(1740787200) AND created_at > event_time + 3600))) AS first_ingested, toUInt32(maxIf(created_at, (created_at > toDateTime(1740787200) AND created_at > event_time + 3600))) AS last_ingested\nFROM metering.events\nWHERE event_time >= toDateTime(1738368000) AND event_time < toDateTime(1740787200)\nGROUP BY tenant_id"
    assert qs["raw"].settings == {} and "late" not in qs
    assert qs["rollup"].render() == """\
SELECT tenant_id AS tenant_id, sum(query_count) AS total_queries,
       sum(input_tokens) + sum(output_tokens) AS total_tokens,
       sum(total_cost_usd) AS total_cost_usd
FROM metering.daily
WHERE day >= toDate('2025-02-01') AND day < toDate('2025-03-01')
GROUP BY tenant_id"""


def test_check_2_with_a_configured_invoice_query_reads_late_arrivals_on_their_own():
    cfg = load_config({"usage_events": {"ingested_at": "inserted_at"},
                       "invoice": {"late_arrival_grace_seconds": 600, "sql": "SELECT 1 AS tenant_id"}})
    assert invoice_queries(cfg, Month.parse("2025-02"))["late"].render() == 'SELECT tenant_id AS tenant_id, count() AS late_rows,\n       sum(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5))) AS cost_nanos,\n       toUInt32(min(inserted_at)) AS first_ingested, toUInt32(max(inserted_at)) AS last_ingested\nFROM usage_events\nWHERE timestamp >= toDateTime(1738368000) AND timestamp < toDateTime(1740787200)\n  AND inserted_at > toDateTime(1740787200) AND inserted_at > timestamp + 600\nGROUP BY tenant_id\nORDER BY tenant_id'
    no_column = invoice_queries(load_config({"usage_events": {"ingested_at": None}}), Month.parse("2025-02"))
    assert "late" not in no_column and "late_rows" not in no_column["raw"].sql


def test_check_2_mutations_sql_covers_the_events_table_both_rollups_and_what_distributed_tables_read():
    assert invoice_queries(CFG, Month.parse("2025-02"))["mutations"].render() == "SELECT database, table, mutation_id, command, created, is_done\nFROM\n(\n    SELECT database, table, mutation_id, command, toUInt32(create_time) AS created, is_done\n    FROM system.mutations\n    WHERE create_time >= toDateTime(1738368000)\n)\nWHERE (database, table) GLOBAL IN\n      (\n          SELECT database, arrayJoin([name, concat('.inner.', name)]) FROM system.tables WHERE database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))\n          UNION ALL\n          SELECT extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?\\\\s*,') AS db, arrayJoin([t, concat('.inner.', t)])\n          FROM (SELECT engine_full, extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?') AS t FROM system.tables\n                WHERE engine = 'Distributed' AND (database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))))\n      )\n   OR (startsWith(table, '.inner_id.') AND database GLOBAL IN (SELECT database FROM system.tables WHERE database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))))\nORDER BY created, table"


def test_check_2_on_a_cluster_reads_every_servers_mutations_and_finds_distributed_tables():
    qs = invoice_queries(load_config({"clickhouse": {"cluster": "m12_two_shards"}}), Month.parse("2025-02"))
    assert "FROM cluster('m12_two_shards', system, mutations)" in qs["mutations"].render()
    assert "FROM system.mutations" not in qs["mutations"].render()
    assert qs["distributed"].columns == ("name", "cluster")
    assert "engine = 'Distributed'" in qs["distributed"].render()


def test_check_1_cuts_the_first_duplicate_pass_to_fit_the_memory_limit():
    from billing_readiness.checks.usage_coverage.queries import duplicate_candidates, hash_partitions

    assert hash_partitions(CFG, 10_000_000) == 1  # 400 MB of hashes: one pass under 60 % of 2 GB
    assert hash_partitions(CFG, 55_000_000) == 2
    assert hash_partitions(load_config({"clickhouse": {"max_memory_bytes": None}}), 10**9) == 1
    one = duplicate_candidates(CFG, WINDOW, 0, 1)
    assert "modulo" not in one.sql and one.settings == {"max_bytes_before_external_group_by": 1_500_000_000}
    second = duplicate_candidates(CFG, WINDOW, 1, 2)
    assert "AND modulo(h, 2) = 1\nGROUP BY h\nHAVING c > 1" in second.sql and second.name.endswith("slice 2 of 2)")


def test_check_1_looks_at_ids_only_when_a_hash_repeats_and_across_shards():
    from billing_readiness.checks.usage_coverage.queries import MAX_CANDIDATES, duplicates

    assert duplicates(CFG, WINDOW, []) is None  # the common case: one pass over the ids
    few = duplicates(CFG, WINDOW, [{"h": 7, "c": 2}, {"h": 3, "c": 2}])
    assert "cityHash64(event_id) IN (3, 7)" in few.render()
    assert few.columns == ("t", "duplicated_ids", "extra_rows", "example_event_id")
    many = duplicates(CFG, WINDOW, [{"h": i, "c": 2} for i in range(MAX_CANDIDATES + 1)])
    assert "GLOBAL IN (SELECT cityHash64(event_id) AS h FROM metering.events" in many.render()


def test_check_2_configured_invoice_sql_is_sent_as_written_with_the_month_as_parameters():
    sql = "SELECT org AS tenant_id, q AS total_queries, tok AS total_tokens, n AS cost_nanos FROM inv " \
          "WHERE ts >= %(month_start)s AND ts < %(month_end)s"
    q = invoice_queries(load_config({"invoice": {"sql": sql}}), Month.parse("2025-02"))["raw"]
    assert q.render() == sql.replace("%(month_start)s", "1738368000").replace("%(month_end)s", "1740787200")
    assert q.source == "config key 'invoice.sql'"


def test_check_3_largest_tenants_sql():
    assert dl_panels.top_tenants_query(CFG, WINDOW, 2).render() == """\
SELECT tenant_id AS t, sum(event_count) AS events
FROM usage_hourly
WHERE hour >= toDateTime(1741305600)
GROUP BY t
ORDER BY events DESC, t
LIMIT 2"""


def test_check_4_probe_usage_sql_and_active_tenants():
    assert qe_diagnose.probe_usage_query(CFG, "readiness-probe").render() == (
        "SELECT 'tenant_quotas' AS source FROM (SELECT 1 FROM tenant_quotas WHERE tenant_id = 'readiness-probe' "
        "LIMIT 1) UNION ALL SELECT 'usage_events' AS source FROM (SELECT 1 FROM metering.events WHERE org_id = "
        "'readiness-probe' LIMIT 1) UNION ALL SELECT 'usage_hourly' AS source FROM (SELECT 1 FROM usage_hourly "
        "WHERE tenant_id = 'readiness-probe' LIMIT 1) UNION ALL SELECT 'usage_daily' AS source FROM (SELECT 1 FROM "
        "metering.daily WHERE tenant_id = 'readiness-probe' LIMIT 1)")
    assert active_tenants_query(CFG).render() == (
        "SELECT DISTINCT tenant_id AS tenant_id FROM tenant_quotas ORDER BY tenant_id")
    configured = active_tenants_query(load_config({"active_tenants_sql": "SELECT id AS tenant_id FROM t"}))
    assert (configured.sql, configured.source) == ("SELECT id AS tenant_id FROM t", "config key 'active_tenants_sql'")
