"""Checks 1 and 2 on the real ClickHouse server: one sandbox fault per finding, each with its exact verdict."""

import datetime as dt

import pytest

from billing_readiness.core.timewindow import Month, last_closed_month
from m12_1_sandbox import faults, seed

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 4}


def verdict(run, check_id):
    return run.codes(check_id, "fail"), run.codes(check_id, "warn")


def finding(run, check_id, code):
    return [f for f in run.check(check_id)["findings"] if f["code"] == code]


def test_healthy_small_sandbox_passes_both(make_sandbox, run_dag):
    sb = make_sandbox("bd_healthy", **SMALL)
    run = run_dag(sb)
    assert run.state == "success"
    assert verdict(run, "usage_coverage") == (set(), set())
    assert verdict(run, "invoice_immutability") == (set(), set())


def test_active_tenant_without_usage_and_zero_usage_invoice_line(make_sandbox, run_dag):
    sb = make_sandbox("bd_ghost", **SMALL)
    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == ({"tenant_without_usage"}, set())
    [f] = finding(run, "usage_coverage", "tenant_without_usage")
    assert f["evidence"]["tenant"] == "tenant-ghost" and f["evidence"]["found"] == 0
    # check 2 bills it a $0.00 line and passes
    assert verdict(run, "invoice_immutability") == (set(), set())
    line = next(
        ln for ln in run.check("invoice_immutability")["details"]["invoice_lines"] if ln["tenant_id"] == "tenant-ghost"
    )
    assert (line["total_cost_usd"], line["total_queries"], line["total_tokens"]) == ("0.00", 0, 0)
    assert "zero_usage_tenant" in run.codes("invoice_immutability", "info")


def test_three_missing_days_fail_by_default_and_pass_when_the_param_allows_three(make_sandbox, run_dag):
    plan = seed.default_plan(**SMALL)
    today = plan.now.date()
    first = today - dt.timedelta(days=6)
    sb = make_sandbox("bd_outage", plan=faults.with_outage(plan, "tenant-s02", first, 3))
    expected = [(first + dt.timedelta(days=i)).isoformat() for i in range(3)]
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == ({"missing_days"}, set())
    [f] = finding(run, "usage_coverage", "missing_days")
    assert f["evidence"]["tenant"] == "tenant-s02" and f["evidence"]["missing_days"] == expected
    assert run.tasks["promote_to_m12_2"] == "failed"
    assert verdict(run_dag(sb, max_missing_days=2), "usage_coverage") == ({"missing_days"}, set())
    allowed = run_dag(sb, max_missing_days=3)
    assert verdict(allowed, "usage_coverage") == (set(), {"missing_days"})  # allowed, and still reported
    assert allowed.state == "failed" and allowed.tasks["check_usage_coverage"] == "success"  # relaxed: never
    sb.configure(promotion={"allow_relaxed": "manual"})  # a deployment that opts in promotes it by hand
    assert run_dag(sb, max_missing_days=3).state == "success"


def test_a_tenant_onboarded_ten_days_ago_passes(make_sandbox, run_dag):
    plan = faults.onboarded_days_ago(seed.default_plan(**SMALL), "tenant-s04", 10)
    run = run_dag(make_sandbox("bd_onboarded", plan=plan))
    assert verdict(run, "usage_coverage") == (set(), set())
    [f] = [
        f for f in finding(run, "usage_coverage", "first_usage_in_window") if f["evidence"]["tenant"] == "tenant-s04"
    ]
    assert (f["evidence"]["tenant"], f["evidence"]["first_usage"]) == (
        "tenant-s04",
        (plan.now.date() - dt.timedelta(days=10)).isoformat(),
    )
    assert run.state == "success"


def test_a_day_with_a_few_percent_of_usage_is_a_partial_loss_warning(make_sandbox, run_dag):
    # The largest tenant: 3 % of its quietest day (a weekend) is still a few events, so on any date the fault
    # is a partial loss; a medium tenant's weekend thinned to 3 % can be no event at all (a missing day).
    plan = seed.default_plan(**SMALL)
    day = plan.now.date() - dt.timedelta(days=4)
    sb = make_sandbox("bd_partial", plan=faults.with_partial_loss(plan, "acme-corp", day, keep_percent=3))
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == (set(), {"partial_day_loss"})
    [f] = finding(run, "usage_coverage", "partial_day_loss")
    [lost] = f["evidence"]["days"]
    assert (f["evidence"]["tenant"], lost["day"]) == ("acme-corp", day.isoformat())
    assert 0 < lost["events"] < 0.06 * lost["median_events"]
    assert "acme-corp" in run.markdown and day.isoformat() in run.markdown
    strict = run_dag(sb, partial_days_fail=True)
    assert verdict(strict, "usage_coverage") == ({"partial_day_loss"}, set()) and strict.state == "failed"


def test_rollup_drift_is_caught_per_tenant_and_day(make_sandbox, run_dag):
    sb = make_sandbox("bd_drift", **SMALL)
    day = sb.now.date() - dt.timedelta(days=2)
    faults.drift_daily_rollup(sb.execute, sb.database, "tenant-m01", day, extra_cost=1.5)
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == ({"rollup_drift_daily"}, set())
    [f] = finding(run, "usage_coverage", "rollup_drift_daily")
    diff = f["evidence"]["differences"][0]
    assert (f["evidence"]["tenant"], diff["day"], diff["column"]) == ("tenant-m01", day.isoformat(), "total_cost_usd")
    assert float(diff["rollup"]) - float(diff["raw"]) == pytest.approx(1.5, abs=1e-6)
    # check 2 sees it only when that day lies in the billed (last closed) month
    month = last_closed_month(sb.now)
    in_month = month.start.date() <= day <= month.last_day
    assert verdict(run, "invoice_immutability")[0] == ({"invoice_rollup_mismatch"} if in_month else set())


def test_duplicate_event_ids_fail_check_1(make_sandbox, run_dag):
    sb = make_sandbox("bd_dupes", **SMALL)
    faults.duplicate_events(sb.execute, sb.database, "tenant-m02", n=5)
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == ({"duplicate_event_ids"}, set())
    [f] = finding(run, "usage_coverage", "duplicate_event_ids")
    assert (f["evidence"]["tenant"], f["evidence"]["duplicated_event_ids"], f["evidence"]["extra_rows"]) == (
        "tenant-m02",
        5,
        5,
    )
    # the same event id under two tenants is double billing too, and both tenants are named
    faults.duplicate_events(sb.execute, sb.database, "tenant-s01", n=2, into_tenant="tenant-s02")
    run = run_dag(sb)
    found = {
        f["evidence"]["tenant"]: f["evidence"]["duplicated_event_ids"]
        for f in finding(run, "usage_coverage", "duplicate_event_ids")
    }
    assert found == {"tenant-m02": 5, "tenant-s01": 2, "tenant-s02": 2}


def test_orphan_usage_and_future_events_are_warnings(make_sandbox, run_dag):
    sb = make_sandbox("bd_orphan_future", **SMALL)
    faults.add_orphan_usage(sb.execute, sb.database, sb.now, "tenant-orphan")
    faults.add_future_events(sb.execute, sb.database, "tenant-s01", sb.now, n=3)
    run = run_dag(sb)
    assert verdict(run, "usage_coverage") == (set(), {"usage_without_active_tenant", "future_events"})
    assert run.tasks["check_usage_coverage"] == "success"
    [orphan] = finding(run, "usage_coverage", "usage_without_active_tenant")
    [future] = finding(run, "usage_coverage", "future_events")
    assert orphan["evidence"]["tenant"] == "tenant-orphan" and orphan["evidence"]["events"] == 5
    assert future["evidence"]["tenant"] == "tenant-s01" and future["evidence"]["events"] == 3


def test_month_boundary_event_belongs_to_its_utc_month_and_ingest_lag_is_no_late_arrival(make_sandbox, run_dag):
    sb = make_sandbox("bd_boundary", **SMALL)
    month = last_closed_month(sb.now)
    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-boundary")
    # ingested 5 s after it happened: the last-day event lands after midnight, inside the grace period
    faults.add_month_boundary_events(sb.execute, sb.database, "tenant-boundary", month.end, lag_s=5)
    run = run_dag(sb)
    line = next(
        ln
        for ln in run.check("invoice_immutability")["details"]["invoice_lines"]
        if ln["tenant_id"] == "tenant-boundary"
    )
    # $1.00 at 23:59:59 on the last day is in; $2.00 at 00:00:00 the next day is not
    assert (line["total_cost_usd"], line["total_queries"], line["month"]) == ("1.00", 1, str(month))
    assert verdict(run, "invoice_immutability") == (set(), set())
    explicit = run_dag(sb, billing_month=str(month))
    assert explicit.check("invoice_immutability")["metrics"]["month"] == str(month)


def test_cost_mutation_in_a_closed_month_is_caught_on_the_next_run(make_sandbox, run_dag):
    sb = make_sandbox("bd_mutation", **SMALL)
    month = last_closed_month(sb.now)
    first = run_dag(sb)
    assert first.check("invoice_immutability")["details"]["baseline"].startswith("recorded")
    faults.mutate_costs(sb.execute, sb.database, "tenant-s03", month.start, month.end, factor=1.5)
    run = run_dag(sb)
    # the mutation bypasses the rollup too, so raw and usage_daily also disagree; system.mutations shows it
    assert verdict(run, "invoice_immutability") == (
        {"closed_month_changed", "invoice_rollup_mismatch", "closed_month_mutated"},
        set(),
    )
    [f] = finding(run, "invoice_immutability", "closed_month_changed")
    assert f["evidence"]["tenant"] == "tenant-s03" and f["evidence"]["month"] == str(month)
    assert float(f["evidence"]["new_total"]) == pytest.approx(float(f["evidence"]["old_total"]) * 1.5, abs=0.011)
    assert "tenant-s03" in f["message"] and f["evidence"]["old_total"] in f["message"]


def test_late_backfill_into_a_closed_month_is_caught(make_sandbox, run_dag):
    sb = make_sandbox("bd_backfill", **SMALL)
    month = last_closed_month(sb.now)
    assert run_dag(sb).state == "success"
    faults.backfill_closed_month(sb.execute, sb.database, "tenant-m02", month.start, n=3, cost=0.25)
    run = run_dag(sb)
    assert verdict(run, "invoice_immutability") == ({"closed_month_changed", "late_arrivals"}, set())
    [f] = finding(run, "invoice_immutability", "closed_month_changed")
    assert f["evidence"]["new_queries"] - f["evidence"]["old_queries"] == 3
    assert float(f["evidence"]["new_total"]) - float(f["evidence"]["old_total"]) == pytest.approx(0.75, abs=0.011)


def test_a_sandbox_without_usage_fails_instead_of_passing_vacuously(make_sandbox, run_dag):
    sb = make_sandbox("bd_empty", **SMALL)
    sb.execute(f"TRUNCATE TABLE {sb.database}.usage_events")
    sb.execute(f"DROP TABLE {sb.database}.usage_daily")  # rollups are gone with their data
    sb.execute(f"DROP TABLE {sb.database}.usage_hourly")
    from m12_1_sandbox.schema import ddl

    for stmt in ddl(sb.database)[2:4]:
        sb.execute(stmt)
    run = run_dag(sb)
    assert "tenant_without_usage" in run.codes("usage_coverage")
    assert run.codes("invoice_immutability") == {"no_usage_in_month"}
    assert run.state == "failed"


def test_a_sandbox_without_tenants_fails(make_sandbox, run_dag):
    sb = make_sandbox("bd_no_tenants", **SMALL)
    sb.execute(f"TRUNCATE TABLE {sb.database}.tenant_quotas")
    run = run_dag(sb)
    assert run.codes("usage_coverage") == {"no_active_tenants"}
    assert run.codes("invoice_immutability") == {"no_active_tenants"}


SILENT_HISTORY = "events per hour of the silent tenants (usage_hourly)"


def queries_without_the_silence_follow_up(run, check: str) -> int:
    """The check's query count, less the one follow-up that depends on the hour: at night small tenants are
    quiet for hours, and check 1 then reads their hourly history (one query, however many tenants)."""
    names = [q["name"] for q in run.check(check)["queries"]]
    assert names.count(SILENT_HISTORY) <= 1
    return run.check(check)["metrics"]["clickhouse_queries"] - names.count(SILENT_HISTORY)


def test_query_count_does_not_depend_on_the_number_of_tenants(make_sandbox, run_dag):
    few = run_dag(make_sandbox("bd_few", large_events=5_000, medium_tenants=1, small_tenants=2))
    many = run_dag(make_sandbox("bd_many", large_events=5_000, medium_tenants=10, small_tenants=40))
    for check in ("usage_coverage", "invoice_immutability"):
        assert few.check(check)["metrics"]["active_tenants"] < many.check(check)["metrics"]["active_tenants"]
        assert queries_without_the_silence_follow_up(few, check) == queries_without_the_silence_follow_up(many, check)
    # active, first usage, future, the window's size (system.parts), the rollups' zone, freshness, one repeats
    # pass and the scan: nothing more on a healthy system
    assert queries_without_the_silence_follow_up(many, "usage_coverage") == 8


def test_billing_month_param_must_be_closed(make_sandbox, run_dag):
    sb = make_sandbox("bd_open_month", **SMALL)
    run = run_dag(sb, billing_month=str(Month.containing(sb.now)))
    assert run.codes("invoice_immutability") == {"check_error"}
    assert "param 'billing_month'" in run.check("invoice_immutability")["findings"][0]["message"]


def test_configured_invoice_query_is_validated(make_sandbox, run_dag):
    sb = make_sandbox("bd_custom_invoice", **SMALL)
    sql = (
        "SELECT tenant_id, countIf(event_type = 'query') AS total_queries, sumIf(quantity, event_type IN "
        "('token_input', 'token_output')) AS total_tokens, sum(toInt64(floor(cost_usd * 1000000000 + 0.5))) AS "
        "cost_nanos FROM usage_events WHERE timestamp >= toDateTime(%(month_start)s) AND "
        "timestamp < toDateTime(%(month_end)s) GROUP BY tenant_id"
    )
    sb.configure(invoice={"sql": sql})
    run = run_dag(sb)
    assert verdict(run, "invoice_immutability") == (set(), set())
    assert "configured invoice.sql" in run.check("invoice_immutability")["queries"][1]["name"]
    # the same query without the names the check reads fails at once, naming the config key and the columns
    sb.configure(invoice={"sql": sql.replace(" AS total_tokens", "")})
    run = run_dag(sb)
    assert run.codes("invoice_immutability") == {"check_error"}
    message = run.check("invoice_immutability")["findings"][0]["message"]
    assert "config key 'invoice.sql'" in message and "missing column(s) total_tokens" in message
