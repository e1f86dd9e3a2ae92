"""Check 2, invoice immutability: its SQL, its verdict and its run() with stand-in services (no servers, no Airflow),
mirroring plugins/billing_readiness/checks/invoice_immutability/."""

import datetime as dt
from decimal import Decimal

import pytest
from stand_ins import RowsClickHouse, StandInServices, context

from billing_readiness.checks import invoice_immutability as inv
from billing_readiness.checks.invoice_immutability import baseline as inv_baseline
from billing_readiness.checks.invoice_immutability import invoice as inv_invoice
from billing_readiness.checks.invoice_immutability import verdict as inv_verdict
from billing_readiness.checks.invoice_immutability.queries import queries as invoice_queries
from billing_readiness.config import load_config
from billing_readiness.core.errors import CheckError
from billing_readiness.core.timewindow import Month

MONTH = Month.parse("2025-02")


def invoice_rows(costs_nanos, active=None, rollup=None):
    a = [{"tenant_id": t, "total_queries": 10, "total_tokens": 1000, "cost_nanos": n} for t, n in costs_nanos.items()]
    r = (
        rollup
        if rollup is not None
        else [
            {"tenant_id": t, "total_queries": 10, "total_tokens": 1000, "total_cost_usd": n / 1e9}
            for t, n in costs_nanos.items()
        ]
    )
    return {
        "active": [{"tenant_id": t} for t in (active or costs_nanos)],
        "raw": a,
        "rollup": r,
        "late": [],
        "mutations": [],
    }


def invoice(rows, tolerance=Decimal("0.01"), baseline=None, **kwargs):
    return inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, tolerance, baseline, **kwargs)


A_LINE = {"tenant_id": "a", "total_queries": 3, "total_tokens": 10, "cost_nanos": 1_500_000_000}


def invoice_clickhouse(raw=(A_LINE,)):
    rows = {
        "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
        "invoice totals from usage_events, with late arrivals": [
            {
                "late_rows": 0,
                "late_cost_nanos": 0,
                "first_ingested": 0,
                "last_ingested": 0,
                "non_finite": 0,
                "negative_cost": 0,
                "negative_quantity": 0,
                **r,
            }
            for r in raw
        ],
        "invoice totals from usage_daily (summed)": [
            {
                "tenant_id": r["tenant_id"],
                "total_queries": r["total_queries"],
                "total_tokens": r["total_tokens"],
                "total_cost_usd": r["cost_nanos"] / 1e9,
            }
            for r in raw
        ],
        "mutations of the billing tables since the month began (system.mutations)": [],
        "Distributed billing tables and their cluster (system.tables)": [],
    }
    return RowsClickHouse(rows)


VALUES = "events with a non-finite or negative cost_usd or quantity, per tenant"


def value_row(t, non_finite=0, negative=0, nanos=0):
    return {
        "t": t,
        "non_finite": non_finite,
        "negative_cost": negative,
        "negative_nanos": nanos,
        "negative_quantity": 0,
        "non_finite_days": ["2025-02-03"] if non_finite else [],
        "negative_days": ["2025-02-04"] if negative else [],
        "non_finite_ids": ["e-1"] if non_finite else [],
        "negative_cost_ids": ["e-2"] if negative else [],
        "negative_quantity_ids": [],
    }


CFG = load_config(
    {
        "usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
        "usage_daily": {"table": "metering.daily"},
    }
)


# --- queries -------------------------------------------------------------------------------------------------------


def test_check_2_reads_the_invoice_and_its_late_arrivals_in_one_scan():
    qs = invoice_queries(CFG, Month.parse("2025-02"))
    assert (
        qs["raw"].render()
        == "SELECT org_id AS tenant_id,\n       countIf(event_type = 'query') AS total_queries,\n       sumIf(quantity, event_type IN ('token_input', 'token_output')) AS total_tokens,\n       sum(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5))) AS cost_nanos,\n       countIf(NOT isFinite(cost_usd) OR NOT isFinite(quantity)) AS non_finite, countIf(isFinite(cost_usd) AND cost_usd < 0) AS negative_cost, countIf(isFinite(quantity) AND quantity < 0) AS negative_quantity,\n       countIf((created_at > toDateTime(1740787200) AND created_at > event_time + 3600)) AS late_rows, sumIf(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5)), (created_at > toDateTime(1740787200) AND created_at > event_time + 3600)) AS late_cost_nanos,\n       toUInt32(minIf(created_at, (created_at > toDateTime(1740787200) AND created_at > event_time + 3600))) AS first_ingested, toUInt32(maxIf(created_at, (created_at > toDateTime(1740787200) AND created_at > event_time + 3600))) AS last_ingested\nFROM metering.events\nWHERE event_time >= toDateTime(1738368000) AND event_time < toDateTime(1740787200)\nGROUP BY tenant_id"
    )
    assert qs["raw"].settings == {} and "late" not in qs
    assert (
        qs["rollup"].render()
        == """\
SELECT tenant_id AS tenant_id, sum(query_count) AS total_queries,
       sum(input_tokens) + sum(output_tokens) AS total_tokens,
       sum(total_cost_usd) AS total_cost_usd
FROM metering.daily
WHERE day >= toDate('2025-02-01') AND day < toDate('2025-03-01')
GROUP BY tenant_id"""
    )


def test_check_2_with_a_configured_invoice_query_reads_late_arrivals_on_their_own():
    cfg = load_config(
        {
            "usage_events": {"ingested_at": "inserted_at"},
            "invoice": {"late_arrival_grace_seconds": 600, "sql": "SELECT 1 AS tenant_id"},
        }
    )
    assert (
        invoice_queries(cfg, Month.parse("2025-02"))["late"].render()
        == "SELECT tenant_id AS tenant_id, count() AS late_rows,\n       sum(toInt64(floor(if(isFinite(cost_usd), cost_usd, 0) * 1000000000 + 0.5))) AS cost_nanos,\n       toUInt32(min(inserted_at)) AS first_ingested, toUInt32(max(inserted_at)) AS last_ingested\nFROM usage_events\nWHERE timestamp >= toDateTime(1738368000) AND timestamp < toDateTime(1740787200)\n  AND inserted_at > toDateTime(1740787200) AND inserted_at > timestamp + 600\nGROUP BY tenant_id\nORDER BY tenant_id"
    )
    no_column = invoice_queries(load_config({"usage_events": {"ingested_at": None}}), Month.parse("2025-02"))
    assert "late" not in no_column and "late_rows" not in no_column["raw"].sql


def test_check_2_mutations_sql_covers_the_events_table_both_rollups_and_what_distributed_tables_read():
    assert (
        invoice_queries(CFG, Month.parse("2025-02"))["mutations"].render()
        == "SELECT database, table, mutation_id, command, created, is_done\nFROM\n(\n    SELECT database, table, mutation_id, command, toUInt32(create_time) AS created, is_done\n    FROM system.mutations\n    WHERE create_time >= toDateTime(1738368000)\n)\nWHERE (database, table) GLOBAL IN\n      (\n          SELECT database, arrayJoin([name, concat('.inner.', name)]) FROM system.tables WHERE database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))\n          UNION ALL\n          SELECT extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?\\\\s*,') AS db, arrayJoin([t, concat('.inner.', t)])\n          FROM (SELECT engine_full, extract(engine_full, '^Distributed\\\\(\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?[^,\\']+\\'?\\\\s*,\\\\s*\\'?([^,\\')]+)\\'?') AS t FROM system.tables\n                WHERE engine = 'Distributed' AND (database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))))\n      )\n   OR (startsWith(table, '.inner_id.') AND database GLOBAL IN (SELECT database FROM system.tables WHERE database IN ('metering', 'metering', currentDatabase()) AND ((database = 'metering' AND name = 'events') OR (database = 'metering' AND name = 'daily') OR (database = currentDatabase() AND name = 'usage_hourly'))))\nORDER BY created, table"
    )


def test_check_2_on_a_cluster_reads_every_servers_mutations_and_finds_distributed_tables():
    qs = invoice_queries(load_config({"clickhouse": {"cluster": "m12_two_shards"}}), Month.parse("2025-02"))
    assert "FROM cluster('m12_two_shards', system, mutations)" in qs["mutations"].render()
    assert "FROM system.mutations" not in qs["mutations"].render()
    assert qs["distributed"].columns == ("name", "cluster")
    assert "engine = 'Distributed'" in qs["distributed"].render()


def test_check_2_configured_invoice_sql_is_sent_as_written_with_the_month_as_parameters():
    sql = (
        "SELECT org AS tenant_id, q AS total_queries, tok AS total_tokens, n AS cost_nanos FROM inv "
        "WHERE ts >= %(month_start)s AND ts < %(month_end)s"
    )
    q = invoice_queries(load_config({"invoice": {"sql": sql}}), Month.parse("2025-02"))["raw"]
    assert q.render() == sql.replace("%(month_start)s", "1738368000").replace("%(month_end)s", "1740787200")
    assert q.source == "config key 'invoice.sql'"


# --- verdict -------------------------------------------------------------------------------------------------------


def test_invoice_lines_zero_usage_and_cents_at_the_end():
    r = invoice(invoice_rows({"a": 47_225_000_000}, active=["a", "z"]))
    assert r.passed
    lines = {ln.tenant_id: ln for ln in r.details.invoice_lines}
    assert lines["a"].total_cost_usd == "47.23" and lines["z"].total_cost_usd == "0.00"
    assert lines["a"].invoice_date == "2025-02-28"
    csv = inv_invoice.invoice_csv(r.details.invoice_lines).splitlines()
    assert csv == [
        "tenant_id,month,total_queries,total_tokens,total_cost_usd,invoice_date",
        "a,2025-02,10,1000,47.23,2025-02-28",
        "z,2025-02,0,0,0.00,2025-02-28",
    ]
    assert r.details.baseline.startswith("recorded")


def test_invoice_rollup_mismatch():
    rows = invoice_rows({"a": 1_000_000_000})
    rows["rollup"] = [{"tenant_id": "a", "total_queries": 10, "total_tokens": 1000, "total_cost_usd": 1.5}]
    r = invoice(rows)
    assert {f.code for f in r.failures} == {"invoice_rollup_mismatch"}
    assert [(d.tenant, d.finding) for d in r.details.differences] == [("a", "invoice_rollup_mismatch")]
    assert r.details.baseline.startswith("not recorded")


def test_invoice_within_tolerance_passes_and_beyond_fails():
    within = [{"tenant_id": "a", "total_queries": 10, "total_tokens": 1000, "total_cost_usd": 1.009}]
    assert invoice(invoice_rows({"a": 1_000_000_000}, rollup=within)).passed
    beyond = [{"tenant_id": "a", "total_queries": 10, "total_tokens": 1000, "total_cost_usd": 1.011}]
    assert not invoice(invoice_rows({"a": 1_000_000_000}, rollup=beyond)).passed


def test_invoice_baseline_comparison():
    first = invoice(invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000}))
    baseline = {"recorded_at": "t0", "lines": inv_invoice.baseline_lines(first.details.invoice_lines)}
    assert invoice(invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000}), baseline=baseline).passed
    later = invoice(invoice_rows({"a": 1_500_000_000, "b": 2_000_000_000}), baseline=baseline)
    changed = [f for f in later.failures if f.code == "closed_month_changed"]
    assert [(f.evidence["tenant"], f.evidence["old_total"], f.evidence["new_total"]) for f in changed] == [
        ("a", "1.00", "1.50")
    ]
    assert [(d.before, d.now) for d in later.details.differences] == [("1.00", "1.50")]
    assert "usage_events.ingested_at" not in changed[0].message
    # a system without an ingestion-time column: the failure itself names the key that would tell why
    blind = invoice(invoice_rows({"a": 1_500_000_000, "b": 2_000_000_000}), baseline=baseline, ingestion_column=False)
    [f] = [f for f in blind.failures if f.code == "closed_month_changed"]
    assert "config usage_events.ingested_at is null" in f.message


def test_invoice_no_usage_at_all_fails():
    r = invoice({"active": [{"tenant_id": "a"}], "raw": [], "rollup": [], "late": [], "mutations": []})
    assert [f.code for f in r.failures] == ["no_usage_in_month"]


def test_invoice_late_arrivals_and_mutations_fail_a_first_run_and_block_its_baseline():
    rows = invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000})
    rows["late"] = [
        {
            "tenant_id": "b",
            "late_rows": 3,
            "cost_nanos": 750_000_000,
            "first_ingested": 1741000000,
            "last_ingested": 1741000002,
        }
    ]
    rows["mutations"] = [
        {
            "database": "m",
            "table": "usage_events",
            "mutation_id": "mutation_7.txt",
            "command": "UPDATE cost_usd = cost_usd * 1.2 WHERE tenant_id = 'a'",
            "created": 1740900000,
            "is_done": 1,
        }
    ]
    r = invoice(rows)
    assert {f.code for f in r.failures} == {"late_arrivals", "closed_month_mutated"}
    late = next(f for f in r.failures if f.code == "late_arrivals")
    assert (late.evidence["tenant"], late.evidence["rows"], late.evidence["cost_usd"]) == ("b", 3, "0.750000")
    assert late.evidence["first_ingested"] == "2025-03-03 11:06:40 UTC"
    mutated = next(f for f in r.failures if f.code == "closed_month_mutated")
    assert mutated.evidence["table"] == "m.usage_events" and "cost_usd * 1.2" in mutated.message
    assert (
        r.details.baseline == "not recorded: this run found closed_month_mutated, late_arrivals, so its totals "
        "cannot be the reference"
    )
    accepted = inv_verdict.evaluate(
        inv.CHECK.new_result(), {**rows, "late": []}, MONTH, accepted_mutations=["mutation_7.txt"]
    )
    assert accepted.passed and [f.code for f in accepted.warnings] == ["accepted_mutation"]


def test_invoice_without_an_ingestion_time_column_says_late_arrivals_were_not_checked():
    rows = invoice_rows({"a": 1_000_000_000})
    del rows["late"]
    r = invoice(rows)
    assert r.passed and [f.code for f in r.warnings] == ["late_arrivals_not_checked"]
    assert "usage_events.ingested_at" in r.warnings[0].message


def test_invoice_over_distributed_tables_needs_the_cluster_configured_to_trust_mutations():
    rows = {
        **invoice_rows({"a": 1_000_000_000}),
        "distributed": [
            {"name": "usage_events", "cluster": "two_shards"},
            {"name": "usage_daily", "cluster": "two_shards"},
        ],
    }
    unconfigured = invoice(rows)
    assert [f.code for f in unconfigured.failures] == ["mutations_not_checked_on_cluster"]
    assert (
        "config 'clickhouse.cluster'" in unconfigured.failures[0].message
        and "'two_shards'" in unconfigured.failures[0].message
    )
    other = inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, cluster="elsewhere")
    assert [f.code for f in other.failures] == ["mutations_not_checked_on_cluster"]
    assert inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, cluster="two_shards").passed
    assert invoice({**rows, "distributed": []}).passed  # one server: its own system.mutations is the whole story


def test_invoice_late_arrivals_counted_by_the_invoice_read_itself():
    rows = invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000})
    del rows["late"]
    for r in rows["raw"]:
        late = r["tenant_id"] == "b"
        r.update(
            late_rows=3 if late else 0,
            late_cost_nanos=750_000_000 if late else 0,
            first_ingested=1741000000 if late else 0,
            last_ingested=1741000002 if late else 0,
        )
    r = invoice(rows)
    assert [(f.code, f.evidence["tenant"], f.evidence["cost_usd"]) for f in r.failures] == [
        ("late_arrivals", "b", "0.750000")
    ]


# --- run -----------------------------------------------------------------------------------------------------------


def test_check_2_first_run_records_a_baseline_and_writes_the_csv():
    ch = invoice_clickhouse()
    result = inv.CHECK.run(StandInServices(ch), context())
    assert result.passed and result.metrics["month"] == "2025-02"  # NOW is 2025-03-10: last closed month
    key = inv.baseline_key("clickhouse_native_default/db", context().cfg, Month.parse("2025-02"))
    assert result.record.key == key == result.details.baseline_variable
    assert result.record.value["lines"]["a"]["exact_cost_usd"] == "1.500000000"
    assert [(a.filename, a.text.splitlines()[1]) for a in result.artifacts] == [
        ("invoices-2025-02.csv", "a,2025-02,3,10,1.50,2025-02-28")
    ]


def test_check_2_compares_with_an_existing_baseline_and_records_nothing():
    first = inv.CHECK.run(StandInServices(invoice_clickhouse()), context())
    baselines = {first.record.key: first.record.value}
    same = inv.CHECK.run(StandInServices(invoice_clickhouse(), baselines=baselines), context())
    assert same.passed and same.record is None and same.details.baseline.startswith("compared")
    changed = dict(A_LINE, cost_nanos=1_800_000_000)
    later = inv.CHECK.run(StandInServices(invoice_clickhouse([changed]), baselines=baselines), context())
    assert [f.code for f in later.failures] == ["closed_month_changed"] and later.record is None


def test_a_recorded_baseline_carries_its_provenance_and_a_digest_the_next_run_shows():
    first = inv.CHECK.run(StandInServices(invoice_clickhouse()), context())
    value = first.record.value
    assert value["run_id"] == "run-1" and value["digest"] == inv_baseline.digest(value["lines"])
    assert first.metrics["baseline"]["digest"] == value["digest"]
    same = inv.CHECK.run(StandInServices(invoice_clickhouse(), baselines={first.record.key: value}), context())
    assert same.metrics["baseline"] == {
        "variable": first.record.key,
        "run_id": "run-1",
        "recorded_at": value["recorded_at"],
        "digest": value["digest"],
        "digest_now": value["digest"],
    }
    assert f"recorded by run run-1 at {value['recorded_at']}, digest {value['digest']}" in same.details.baseline


def test_a_baseline_edited_outside_the_dag_fails_naming_the_variable():
    first = inv.CHECK.run(StandInServices(invoice_clickhouse()), context())
    edited = {**first.record.value, "lines": {"a": {**first.record.value["lines"]["a"], "total_queries": 99}}}
    result = inv.CHECK.run(StandInServices(invoice_clickhouse(), baselines={first.record.key: edited}), context())
    assert "baseline_altered" in {f.code for f in result.failures}
    assert first.record.key in next(f.message for f in result.failures if f.code == "baseline_altered")


@pytest.mark.parametrize("value", [[], "totals", {"month": "2025-02"}, {"lines": "x"}])
def test_a_baseline_variable_that_is_not_a_baseline_is_an_error_naming_it(value):
    key = inv.baseline_key("clickhouse_native_default/db", context().cfg, Month.parse("2025-02"))
    with pytest.raises(CheckError, match=f"baseline Variable '{key}'"):
        inv.CHECK.run(StandInServices(invoice_clickhouse(), baselines={key: value}), context())


def test_a_baseline_held_at_the_last_promotion_and_gone_now_warns_and_says_whether_the_totals_match():
    first = inv.CHECK.run(StandInServices(invoice_clickhouse()), context())
    promotion = {"checks": {"invoice_immutability": {"metrics": first.metrics}}}
    for rows, same in (([A_LINE], True), ([dict(A_LINE, cost_nanos=1_800_000_000)], False)):
        services = StandInServices(invoice_clickhouse(rows))
        services.promotion = promotion
        result = inv.CHECK.run(services, context())
        [warning] = [f for f in result.warnings if f.code == "baseline_missing"]
        assert first.record.key in warning.message and warning.evidence["same_totals"] is same
        assert ("still give the same digest" in warning.message) is same
        assert result.record is not None  # recorded again, and said so
    services = StandInServices(invoice_clickhouse())
    services.promotion = {"checks": {"invoice_immutability": {"metrics": {"baseline": {"variable": "another"}}}}}
    assert not [f for f in inv.CHECK.run(services, context()).warnings if f.code == "baseline_missing"]


def test_check_2_a_failing_first_run_records_no_baseline():
    ch = invoice_clickhouse()
    ch.rows_by_name["invoice totals from usage_daily (summed)"][0]["total_cost_usd"] = 9.0
    result = inv.CHECK.run(StandInServices(ch), context())
    assert not result.passed and result.record is None and result.details.baseline.startswith("not recorded")


@pytest.mark.parametrize(
    "month, message",
    [
        ("2025-03", "param 'billing_month' is 2025-03, which is not closed yet"),
        ("2025-13", "param 'billing_month': not a month"),
    ],
)
def test_check_2_billing_month_param_must_be_a_closed_month(month, message):
    with pytest.raises(CheckError, match=message):
        inv.CHECK.run(StandInServices(invoice_clickhouse()), context({"billing_month": month}))


def test_a_configured_invoice_query_with_wrong_columns_names_them():
    sql = "SELECT tenant_id, count() AS total_queries, sum(cost_usd) AS cost FROM usage_events GROUP BY tenant_id"
    ctx = context(invoice={"sql": sql})
    ch = RowsClickHouse(
        {
            "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
            "invoice totals (configured invoice.sql)": [{"tenant_id": "a", "total_queries": 1, "cost": 0.5}],
        }
    )
    with pytest.raises(CheckError) as err:
        inv.CHECK.run(StandInServices(ch), ctx)
    assert "config key 'invoice.sql'" in str(err.value)
    assert "missing column(s) total_tokens, cost_nanos" in str(err.value) and "unexpected column(s) cost" in str(
        err.value
    )


def test_check_2_records_no_baseline_before_the_month_settled():
    """At 00:00:30 on the 1st the month's last events may still be on their way (normal lag): pass, do not record."""
    early = dt.datetime(2025, 3, 1, 0, 0, 30, tzinfo=dt.timezone.utc)
    result = inv.CHECK.run(StandInServices(invoice_clickhouse()), context(now=early))
    assert result.passed and result.record is None and result.details.baseline.startswith("not recorded yet")
    assert "baseline_recorded" not in {f.code for f in result.findings}
    settled = inv.CHECK.run(StandInServices(invoice_clickhouse()), context(now=early + dt.timedelta(hours=1)))
    assert settled.record is not None


def test_check_2_fails_non_finite_costs_without_arithmetic_on_them_and_warns_on_negative_ones():
    ch = invoice_clickhouse([dict(A_LINE, non_finite=2)])  # the invoice scan counts them; then their details
    ch.rows_by_name["invoice totals from usage_daily (summed)"][0]["total_cost_usd"] = float("inf")
    ch.rows_by_name[f"{VALUES} (closed month 2025-02)"] = [value_row("a", non_finite=2)]
    result = inv.CHECK.run(StandInServices(ch), context())
    assert [f.code for f in result.failures] == ["non_finite_values"] and result.record is None
    assert all("inf" not in f.message.replace("infinite", "") for f in result.findings), result.findings
    assert ch.sent[-1].params["values_tenants"] == ("a",)
    ch = invoice_clickhouse([dict(A_LINE, negative_cost=3)])
    ch.rows_by_name[f"{VALUES} (closed month 2025-02)"] = [value_row("a", negative=3, nanos=-3_750_000_000)]
    result = inv.CHECK.run(StandInServices(ch), context())
    assert result.passed and [f.code for f in result.warnings] == ["negative_costs"]
    assert "totalling -$3.75" in result.warnings[0].message
    strict = inv.CHECK.run(StandInServices(ch), context(cost_values={"negative": "fail"}))
    assert [f.code for f in strict.failures] == ["negative_costs"]


def test_a_non_finite_rollup_total_without_non_finite_events_fails_on_its_own():
    ch = invoice_clickhouse()
    ch.rows_by_name["invoice totals from usage_daily (summed)"][0]["total_cost_usd"] = float("nan")
    result = inv.CHECK.run(StandInServices(ch), context())
    assert [f.code for f in result.failures] == ["rollup_non_finite"]
    assert VALUES not in {q.name.split(" (")[0] for q in ch.sent}  # nothing counted: no details asked for
