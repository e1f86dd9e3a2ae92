"""Checks 1 and 2's verdicts on hand-made rows read by column name (no servers, no Airflow)."""
import datetime as dt
from decimal import Decimal

from billing_readiness.checks import invoice_immutability as inv
from billing_readiness.checks import usage_coverage as uc
from billing_readiness.checks.usage_coverage.reconcile import qty_differs
from billing_readiness.config import load_config
from billing_readiness.timewindow import Month, Window
from billing_readiness.checks.invoice_immutability import verdict as inv_verdict
from billing_readiness.checks.usage_coverage import verdict as uc_verdict
from stand_ins import NOW


def daily_drift(d, raw, rollup):
    """A tenant-day ClickHouse found different: raw (queries, in, out, storage, nanos) vs usage_daily's sums."""
    return (d, *raw, *rollup)


def hourly_drift(d, et, raw, rollup):
    """A tenant-day-type ClickHouse found different: raw (events, quantity, nanos) vs usage_hourly's sums."""
    return (d, et, *raw, *rollup)


def coverage_rows(window, tenants, skip=(), events=None, first_usage=None):
    """The "tenants" rows of a system whose rollups agree: `events.get((t, d), 1)` query events ($0.001 each)
    per tenant per day; each tenant's first usage ever (usage_daily's first day) `first_usage[t]`, default long
    before the window."""
    first_usage = first_usage or {}
    now = int(window.now.timestamp())
    live = list(range(int(window.start.timestamp()) // 60, now // 60 + 1))  # something ingested every minute
    rows = {"active": [{"tenant_id": t} for t in tenants], "tenants": [], "duplicate_candidates": [],
            "future": [], "first_usage": [{"t": t, "first_day": first_usage.get(t, dt.date(2020, 1, 1))}
                                          for t in tenants],
            "freshness": [{"event_minutes": live, "ingest_minutes": live}], "values": []}
    for t in tenants:
        days = [d for d in window.complete_days() + [window.today]
                if (t, d) not in skip and d >= first_usage.get(t, dt.date.min)]
        n = [(events or {}).get((t, d), 1) for d in days]
        rows["tenants"].append({"t": t, "day_events": list(zip(days, n)), "cost_nanos": sum(n) * 1_000_000,
                                "daily_drift": [], "hourly_drift": [], "latest": now - 60})
    return rows


def tenant(rows, t):
    return next(r for r in rows["tenants"] if r["t"] == t)


def coverage(rows, window, **kwargs):
    return uc_verdict.evaluate(uc.CHECK.new_result(), rows, load_config(), window, **kwargs)


def test_coverage_healthy_passes():
    w = Window(NOW, 5)
    r = coverage(coverage_rows(w, ["a", "b"]), w)
    assert r.passed, r.findings
    assert r.details.coverage.tenants["a"] == [1] * 5


def test_coverage_no_active_tenants_fails():
    w = Window(NOW, 5)
    r = coverage(coverage_rows(w, []), w)
    assert [f.code for f in r.failures] == ["no_active_tenants"]


def test_coverage_a_missing_day_fails_by_default_and_the_param_allows_n():
    w = Window(NOW, 5)
    days = w.complete_days()
    rows = coverage_rows(w, ["a", "b"], skip={("b", days[1]), ("b", days[2])})
    r = coverage(rows, w)
    assert [(f.code, f.evidence["tenant"]) for f in r.failures] == [("missing_days", "b")]
    assert r.failures[0].evidence["missing_days"] == [days[1].isoformat(), days[2].isoformat()]
    assert not coverage(rows, w, max_missing_days=1).passed
    allowed = coverage(rows, w, max_missing_days=2)
    assert allowed.passed and [f.code for f in allowed.warnings] == ["missing_days"]  # still reported


def test_coverage_days_before_a_tenants_first_usage_do_not_count():
    w = Window(NOW, 30)
    onboarded = w.today - dt.timedelta(days=10)
    rows = coverage_rows(w, ["a", "new"], first_usage={"new": onboarded})
    r = coverage(rows, w)
    assert r.passed, r.failures
    assert [(f.evidence["tenant"], f.evidence["first_usage"]) for f in r.findings
            if f.code == "first_usage_in_window"] == [("new", onboarded.isoformat())]
    assert r.details.coverage.first_usage == {"new": onboarded.isoformat()}
    # the rollup knows older usage: then the same empty days are missing days
    rows["first_usage"] = [{"t": t, "first_day": dt.date(2020, 1, 1)} for t in ("a", "new")]
    assert [f.evidence["tenant"] for f in coverage(rows, w).failures] == ["new"]


def test_coverage_a_day_far_below_the_median_is_a_partial_loss_warning_or_failure():
    w = Window(NOW, 10)
    day = w.complete_days()[4]
    rows = coverage_rows(w, ["a", "b"], events={**{("a", d): 200 for d in w.complete_days()}, ("a", day): 6})
    r = coverage(rows, w)
    assert r.passed and [f.code for f in r.warnings] == ["partial_day_loss"]
    [f] = r.warnings
    assert f.evidence["tenant"] == "a" and f.evidence["days"] == [{"day": day.isoformat(), "events": 6,
                                                                    "median_events": 200.0}]
    assert "3% of the days around it" in f.message and r.details.coverage.partial == {"a": [day.isoformat()]}
    strict = coverage(rows, w, partial_days_fail=True)
    assert [f.code for f in strict.failures] == ["partial_day_loss"]
    rows = coverage_rows(w, ["a"], events={**{("a", d): 200 for d in w.complete_days()}, ("a", day): 25})
    assert coverage(rows, w).warnings == []  # 12.5% of the median is not a loss


def test_coverage_drift_duplicates_orphans_future():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["daily_drift"] = [daily_drift(d0, (1, 0.0, 0.0, 0.0, 1_000_000), (1, 0.0, 0.0, 0.0, 0.5))]
    rows["duplicates"] = [{"t": "a", "duplicated_ids": 2, "extra_rows": 3, "example_event_id": "evt-1"}]
    rows["tenants"].append({"t": "orphan", "day_events": [(d0, 4)], "cost_nanos": 4_000_000, "daily_drift": [],
                            "hourly_drift": [], "latest": int(w.now.timestamp()) - 60})
    rows["future"] = [{"t": "a", "events": 2, "latest": int(NOW.timestamp()) + 86400}]
    r = coverage(rows, w)
    assert {f.code for f in r.failures} == {"rollup_drift_daily", "duplicate_event_ids"}
    assert {f.code for f in r.warnings} == {"usage_without_active_tenant", "future_events"}
    drift = next(f for f in r.failures if f.code == "rollup_drift_daily")
    assert drift.evidence["differences"] == [{"day": d0.isoformat(), "column": "total_cost_usd",
                                              "raw": "0.001000", "rollup": "0.500000"}]


def test_a_small_quantity_drift_on_a_large_total_is_still_caught():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["daily_drift"] = [  # 1,000 bytes more in the rollup
        daily_drift(d0, (1, 0.0, 0.0, 10_000_000_000.0, 1_000_000), (1, 0.0, 0.0, 10_000_001_000.0, 0.001))]
    r = coverage(rows, w)
    assert [f.code for f in r.failures] == ["rollup_drift_daily"]
    assert r.failures[0].evidence["differences"][0]["column"] == "storage_writes_bytes"
    assert not qty_differs(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1)  # summation order alone is no drift


def test_what_clickhouse_sends_back_is_judged_exactly_here():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["hourly_drift"] = [
        hourly_drift(d0, "query", (5, 5.0, 5_000_000), (4, 4.0, 0.004)),  # a lost event in the hourly rollup
        hourly_drift(d0, "token_input", (1, 10.0, 9_995_000), (1, 10.0, 0.0)),  # $0.009995 apart: in tolerance
    ]
    r = coverage(rows, w)
    [f] = r.failures
    assert f.code == "rollup_drift_hourly"
    assert [(x["event_type"], x["column"], x["raw"], x["rollup"]) for x in f.evidence["differences"]] == [
        ("query", "event_count", 5, 4), ("query", "total_quantity", 5.0, 4.0)]  # $0.001 apart: within $0.01


MONTH = Month.parse("2025-02")


def invoice_rows(costs_nanos, active=None, rollup=None):
    a = [{"tenant_id": t, "total_queries": 10, "total_tokens": 1000, "cost_nanos": n} for t, n in costs_nanos.items()]
    r = rollup if rollup is not None else [
        {"tenant_id": t, "total_queries": 10, "total_tokens": 1000, "total_cost_usd": n / 1e9}
        for t, n in costs_nanos.items()]
    return {"active": [{"tenant_id": t} for t in (active or costs_nanos)], "raw": a, "rollup": r,
            "late": [], "mutations": []}


def invoice(rows, tolerance=Decimal("0.01"), baseline=None):
    return inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, tolerance, baseline)


def test_invoice_lines_zero_usage_and_cents_at_the_end():
    r = invoice(invoice_rows({"a": 47_225_000_000}, active=["a", "z"]))
    assert r.passed
    lines = {ln.tenant_id: ln for ln in r.details.invoice_lines}
    assert lines["a"].total_cost_usd == "47.23" and lines["z"].total_cost_usd == "0.00"
    assert lines["a"].invoice_date == "2025-02-28"
    csv = inv_verdict.invoice_csv(r.details.invoice_lines).splitlines()
    assert csv == ["tenant_id,month,total_queries,total_tokens,total_cost_usd,invoice_date",
                   "a,2025-02,10,1000,47.23,2025-02-28", "z,2025-02,0,0,0.00,2025-02-28"]
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
    baseline = {"recorded_at": "t0", "lines": inv_verdict.baseline_lines(first.details.invoice_lines)}
    assert invoice(invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000}), baseline=baseline).passed
    later = invoice(invoice_rows({"a": 1_500_000_000, "b": 2_000_000_000}), baseline=baseline)
    changed = [f for f in later.failures if f.code == "closed_month_changed"]
    assert [(f.evidence["tenant"], f.evidence["old_total"], f.evidence["new_total"]) for f in changed] == [
        ("a", "1.00", "1.50")]
    assert [(d.before, d.now) for d in later.details.differences] == [("1.00", "1.50")]


def test_invoice_no_usage_at_all_fails():
    r = invoice({"active": [{"tenant_id": "a"}], "raw": [], "rollup": [], "late": [], "mutations": []})
    assert [f.code for f in r.failures] == ["no_usage_in_month"]


def test_invoice_late_arrivals_and_mutations_fail_a_first_run_and_block_its_baseline():
    rows = invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000})
    rows["late"] = [{"tenant_id": "b", "late_rows": 3, "cost_nanos": 750_000_000, "first_ingested": 1741000000,
                     "last_ingested": 1741000002}]
    rows["mutations"] = [{"database": "m", "table": "usage_events", "mutation_id": "mutation_7.txt",
                          "command": "UPDATE cost_usd = cost_usd * 1.2 WHERE tenant_id = 'a'", "created": 1740900000,
                          "is_done": 1}]
    r = invoice(rows)
    assert {f.code for f in r.failures} == {"late_arrivals", "closed_month_mutated"}
    late = next(f for f in r.failures if f.code == "late_arrivals")
    assert (late.evidence["tenant"], late.evidence["rows"], late.evidence["cost_usd"]) == ("b", 3, "0.750000")
    assert late.evidence["first_ingested"] == "2025-03-03 11:06:40 UTC"
    mutated = next(f for f in r.failures if f.code == "closed_month_mutated")
    assert mutated.evidence["table"] == "m.usage_events" and "cost_usd * 1.2" in mutated.message
    assert r.details.baseline == "not recorded: this run found closed_month_mutated, late_arrivals, so its totals " \
                                 "cannot be the reference"
    accepted = inv_verdict.evaluate(inv.CHECK.new_result(), {**rows, "late": []}, MONTH, accepted_mutations=["mutation_7.txt"])
    assert accepted.passed and [f.code for f in accepted.warnings] == ["accepted_mutation"]


def test_invoice_without_an_ingestion_time_column_says_late_arrivals_were_not_checked():
    rows = invoice_rows({"a": 1_000_000_000})
    del rows["late"]
    r = invoice(rows)
    assert r.passed and [f.code for f in r.warnings] == ["late_arrivals_not_checked"]
    assert "usage_events.ingested_at" in r.warnings[0].message


def test_invoice_over_distributed_tables_needs_the_cluster_configured_to_trust_mutations():
    rows = {**invoice_rows({"a": 1_000_000_000}),
            "distributed": [{"name": "usage_events", "cluster": "two_shards"}, {"name": "usage_daily", "cluster": "two_shards"}]}
    unconfigured = invoice(rows)
    assert [f.code for f in unconfigured.failures] == ["mutations_not_checked_on_cluster"]
    assert "config 'clickhouse.cluster'" in unconfigured.failures[0].message and "'two_shards'" in unconfigured.failures[0].message
    other = inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, cluster="elsewhere")
    assert [f.code for f in other.failures] == ["mutations_not_checked_on_cluster"]
    assert inv_verdict.evaluate(inv.CHECK.new_result(), rows, MONTH, cluster="two_shards").passed
    assert invoice({**rows, "distributed": []}).passed  # one server: its own system.mutations is the whole story


def test_invoice_late_arrivals_counted_by_the_invoice_read_itself():
    rows = invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000})
    del rows["late"]
    for r in rows["raw"]:
        late = r["tenant_id"] == "b"
        r.update(late_rows=3 if late else 0, late_cost_nanos=750_000_000 if late else 0,
                 first_ingested=1741000000 if late else 0, last_ingested=1741000002 if late else 0)
    r = invoice(rows)
    assert [(f.code, f.evidence["tenant"], f.evidence["cost_usd"]) for f in r.failures] == [
        ("late_arrivals", "b", "0.750000")]


def test_coverage_a_stalled_ingest_fails_naming_the_newest_ingestion_and_the_threshold():
    w = Window(NOW, 5)
    rows = coverage_rows(w, ["a"])
    stopped = [m for m in rows["freshness"][0]["ingest_minutes"] if m * 60 < NOW.timestamp() - 3 * 3600]
    rows["freshness"] = [{"event_minutes": rows["freshness"][0]["event_minutes"], "ingest_minutes": stopped}]
    r = coverage(rows, w)
    [f] = r.failures
    assert f.code == "ingest_stalled" and f.evidence["series"] == "ingestion"
    assert "newest ingestion 2025-03-10 08:59 UTC, newest event 2025-03-10 12:00 UTC" in f.message
    assert "threshold is 30 min" in f.message
    assert f.evidence["threshold_seconds"] == 1800 and f.evidence["silence_seconds"] > 3 * 3600 - 60


def test_coverage_today_drift_beyond_what_is_in_flight_fails_and_within_it_passes():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    today = w.today
    # 5 queries in the raw events today, 9 in usage_daily: 4 more than anything that can be in flight (2)
    tenant(rows, "a")["daily_drift"] = [(today, 5, 0.0, 0.0, 0.0, 5_000_000, 9, 0.0, 0.0, 0.0, 0.005,
                                        2, 0.0, 0.0, 0.0, 2_000_000)]
    assert [f.code for f in coverage(rows, w).failures] == ["rollup_drift_daily"]
    tenant(rows, "a")["daily_drift"] = [(today, 5, 0.0, 0.0, 0.0, 5_000_000, 3, 0.0, 0.0, 0.0, 0.003,
                                        2, 0.0, 0.0, 0.0, 2_000_000)]
    assert coverage(rows, w).passed  # the rollup lags by the two events ingested in the last guard seconds
