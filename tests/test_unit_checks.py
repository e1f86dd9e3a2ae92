"""Pure logic of the four checks, on hand-made rows (no servers)."""
import datetime as dt
from decimal import Decimal

import pytest

from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks import invoice_immutability as inv
from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks import usage_coverage as uc
from billing_readiness.config import load_config
from billing_readiness.timewindow import Month, Window

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def coverage_rows(window, tenants, skip=()):
    """Consistent raw/daily/hourly rows: one query event ($0.001) per tenant per day."""
    raw, daily, hourly = [], [], []
    for t in tenants:
        for d in window.complete_days() + [window.today]:
            if (t, d) in skip:
                continue
            raw.append((t, d, "query", 1, 1.0, 1_000_000))
            if d != window.today:
                daily.append((t, d, 1, 0.0, 0.0, 0.0, 0.001))
                hourly.append((t, d, "query", 1, 1.0, 0.001))
    return {"active": [(t,) for t in tenants], "raw": raw, "daily": daily, "hourly": hourly,
            "duplicates": [], "future": []}


def test_coverage_healthy_passes():
    w = Window(NOW, 5)
    r = uc.evaluate(coverage_rows(w, ["a", "b"]), load_config(), w)
    assert r.passed, r.findings
    assert r.details["coverage"]["tenants"]["a"] == [1] * 5


def test_coverage_no_active_tenants_fails():
    w = Window(NOW, 5)
    rows = coverage_rows(w, [])
    r = uc.evaluate(rows, load_config(), w)
    assert not r.passed and r.failures[0].code == "no_active_tenants"


def test_coverage_missing_days_report_only_then_fail_over_threshold():
    w = Window(NOW, 5)
    days = w.complete_days()
    rows = coverage_rows(w, ["a", "b"], skip={("b", days[1]), ("b", days[2])})
    assert uc.evaluate(rows, load_config(), w).passed
    assert [f.code for f in uc.evaluate(rows, load_config(), w).warnings] == ["missing_days"]
    r = uc.evaluate(rows, load_config(), w, max_missing_days=1)
    assert [(f.code, f.evidence["tenant"]) for f in r.failures] == [("missing_days", "b")]
    assert r.failures[0].evidence["missing_days"] == [days[1].isoformat(), days[2].isoformat()]
    assert uc.evaluate(rows, load_config(), w, max_missing_days=2).passed


def test_coverage_drift_duplicates_orphans_future():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    rows["daily"][0] = ("a", d0, 1, 0.0, 0.0, 0.0, 0.5)  # rollup cost drifted
    rows["duplicates"] = [("a", 2, 3, "evt-1")]
    rows["raw"].append(("orphan", d0, "query", 4, 4.0, 4_000_000))
    rows["daily"].append(("orphan", d0, 4, 0.0, 0.0, 0.0, 0.004))
    rows["hourly"].append(("orphan", d0, "query", 4, 4.0, 0.004))
    rows["future"] = [("a", 2, int(NOW.timestamp()) + 86400)]
    r = uc.evaluate(rows, load_config(), w)
    assert {f.code for f in r.failures} == {"rollup_drift_daily", "duplicate_event_ids"}
    assert {f.code for f in r.warnings} == {"usage_without_active_tenant", "future_events"}
    drift = next(f for f in r.failures if f.code == "rollup_drift_daily")
    assert drift.evidence["differences"][0]["day"] == d0.isoformat()


def test_coverage_sql_is_fixed_in_number_and_parameterised():
    w = Window(NOW, 30)
    qs = uc.queries(load_config(), w)
    assert len(qs) == 6
    assert "%(start)s" in qs["raw"].sql and str(int(w.start.timestamp())) in qs["raw"].render()


MONTH = Month.parse("2025-02")


def invoice_rows(costs_nanos, active=None, rollup=None):
    a = [(t, 10, 1000, n) for t, n in costs_nanos.items()]
    r = rollup if rollup is not None else [(t, 10, 1000, n / 1e9) for t, n in costs_nanos.items()]
    return {"active": [(t,) for t in (active or costs_nanos)], "raw_a": a, "raw_b": list(a), "rollup": r}


def test_invoice_lines_zero_usage_and_cents_at_the_end():
    rows = invoice_rows({"a": 47_225_000_000}, active=["a", "z"])
    r = inv.evaluate(rows, MONTH)
    assert r.passed
    lines = {ln["tenant_id"]: ln for ln in r.details["invoice_lines"]}
    assert lines["a"]["total_cost_usd"] == "47.23" and lines["z"]["total_cost_usd"] == "0.00"
    assert lines["a"]["invoice_date"] == "2025-02-28"
    csv = inv.invoice_csv(r.details["invoice_lines"]).splitlines()
    assert csv[0] == "tenant_id,month,total_queries,total_tokens,total_cost_usd,invoice_date"
    assert csv[1] == "a,2025-02,10,1000,47.23,2025-02-28"
    assert r.details["baseline_status"] == "recorded"


def test_invoice_reads_disagree_and_rollup_mismatch():
    rows = invoice_rows({"a": 1_000_000_000})
    rows["raw_b"] = [("a", 10, 1000, 1_020_000_000)]
    rows["rollup"] = [("a", 10, 1000, 1.5)]
    r = inv.evaluate(rows, MONTH)
    assert {f.code for f in r.failures} == {"invoice_not_reproducible", "invoice_rollup_mismatch"}
    assert r.details["baseline_status"].startswith("not recorded")


def test_invoice_within_tolerance_passes():
    rows = invoice_rows({"a": 1_000_000_000}, rollup=[("a", 10, 1000, 1.009)])
    assert inv.evaluate(rows, MONTH, Decimal("0.01")).passed


def test_invoice_baseline_comparison():
    first = inv.evaluate(invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000}), MONTH)
    baseline = {"recorded_at": "t0", "lines": inv.baseline_from(first.details["invoice_lines"])}
    assert inv.evaluate(invoice_rows({"a": 1_000_000_000, "b": 2_000_000_000}), MONTH, baseline=baseline).passed
    later = inv.evaluate(invoice_rows({"a": 1_500_000_000, "b": 2_000_000_000}), MONTH, baseline=baseline)
    changed = [f for f in later.failures if f.code == "closed_month_changed"]
    assert [(f.evidence["tenant"], f.evidence["old_total"], f.evidence["new_total"]) for f in changed] == [
        ("a", "1.00", "1.50")
    ]


def test_invoice_no_usage_at_all_fails():
    r = inv.evaluate({"active": [("a",)], "raw_a": [], "raw_b": [], "rollup": []}, MONTH)
    assert [f.code for f in r.failures] == ["no_usage_in_month"]


def test_dashboard_binding_never_pastes_the_tenant():
    panel = dl.Panel("p", "SELECT 100 * x % 7 FROM usage_hourly WHERE tenant_id = '$tenant' AND $__timeFilter(hour)")
    q = dl.bind(panel, "tenant", "evil' OR 1=1 --", 100, 200)
    assert "evil" not in q.sql and "%(tenant)s" in q.sql and "%%" in q.sql
    assert "hour >= toDateTime(%(time_from)s)" in q.sql
    assert "'evil\\' OR 1=1 --'" in q.render()
    with pytest.raises(dl.DashboardError, match="panel 'x'.*\\$region"):
        dl.bind(dl.Panel("x", "SELECT 1 WHERE r = '$region'"), "tenant", "t", 0, 1)


def test_dashboard_export_parsing_and_raw_table_flag():
    export = {"dashboard": {"panels": [
        {"type": "row", "panels": [{"title": "A", "targets": [{"rawSql": "SELECT 1 FROM usage_events"}]}]},
        {"title": "B", "targets": [{"query": "SELECT 2 FROM usage_hourly"}, {"rawSql": "", "hide": True}]},
        {"title": "text", "type": "text"},
    ]}}
    panels = dl.panels_from_export(export)
    assert [p.title for p in panels] == ["A", "B"]
    assert dl.reads_raw_table(panels[0].sql, "usage_events") and not dl.reads_raw_table(panels[1].sql, "usage_events")
    with pytest.raises(dl.DashboardError):
        dl.panels_from_export({"panels": [{"title": "t", "type": "text"}]})


def test_percentiles_nearest_rank():
    samples = [0.1 * i for i in range(1, 21)]
    assert dl.percentile(samples, 95) == pytest.approx(1.9)
    assert dl.percentile(samples, 50) == pytest.approx(1.0)
    assert dl.percentile([0.3], 95) == 0.3


def loads(times, panel_errors=None):
    return [{"load_s": t, "panels": [{"title": "p", "elapsed_s": t, "rows_read": 10, "bytes_read": 80, "result_rows": 1,
                                       "error": panel_errors}]} for t in times]


def test_dashboard_verdicts():
    panels = [dl.Panel("p", "SELECT 1 FROM usage_hourly")]
    ok = dl.evaluate([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 0.3])}], 1.0, "usage_events", panels)
    assert ok.passed and ok.details["tenants"][0]["load"]["p95"] == 0.3
    slow = dl.evaluate([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 1.3])}], 1.0, "usage_events", panels)
    assert [f.code for f in slow.failures] == ["dashboard_too_slow"]
    err = dl.evaluate([{"tenant": "t", "events": 5, "loads": loads([0.1], "Table x doesn't exist")}], 1.0,
                      "usage_events", panels)
    assert [f.code for f in err.failures] == ["panel_error"] and "SELECT 1 FROM usage_hourly" in err.failures[0].message
    assert [f.code for f in dl.evaluate([], 1.0, "usage_events", panels).failures] == ["no_tenants"]


def responses(*statuses, headers=None):
    return [{"status": s, "headers": headers or {}, "body": {"error": "quota_exceeded"} if s == 429 else {}}
            for s in statuses]


GOOD_HEADERS = {"Retry-After": "30", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}


@pytest.mark.parametrize(
    "statuses, code",
    [
        ([200] * 10 + [429], None),
        ([200] * 12, "quota_not_enforced"),
        ([200] * 11 + [429], "off_by_one"),
        ([200] * 3 + [429], "limit_applied_early"),
        ([200, 503], "api_failing"),
        ([None], "api_failing"),
        ([200] * 10 + [403], "wrong_refusal"),
        ([200, 401], "unexpected_status"),
    ],
)
def test_quota_sequence_diagnosis(statuses, code):
    got = qe.diagnose_sequence(responses(*statuses, headers=GOOD_HEADERS), 10)
    assert (got and got[0]) == code


def test_quota_probe_stops_at_first_refusal_and_looks_one_past_the_limit():
    assert qe.need_more(responses(*[200] * 5), 10)
    assert not qe.need_more(responses(200, 429), 10)
    assert qe.need_more(responses(*[200] * 11), 10)
    assert not qe.need_more(responses(*[200] * 12), 10)


def test_quota_concurrency_and_headers():
    assert qe.diagnose_concurrency(responses(*[200] * 10 + [429] * 10), 10) is None
    assert qe.diagnose_concurrency(responses(*[200] * 14 + [429] * 6), 10)[0] == "over_admission"
    assert qe.diagnose_concurrency(responses(*[200] * 5 + [503] * 15), 10)[0] == "api_failing_under_load"
    assert qe.inspect_429(GOOD_HEADERS, {"error": "quota_exceeded"}) == []
    ietf = {"Retry-After": "3", "RateLimit": '"h";r=0;t=3', "RateLimit-Policy": '"h";q=10;w=3600'}
    assert qe.inspect_429(ietf, {"error": "x"}) == []
    codes = {c for _, c, _ in qe.inspect_429({}, "too many")}
    assert codes == {"missing_retry_after", "missing_rate_limit_headers", "no_error_body"}


def test_quota_probe_tenant_must_not_be_real():
    assert qe.probe_tenant_conflict("probe", ["a", "probe"], []) is not None
    assert qe.probe_tenant_conflict("probe", ["a"], ["probe"]) is not None
    assert qe.probe_tenant_conflict("probe", ["a"], []) is None


def test_quota_evaluate_reports_cleanup_leftovers():
    r = qe.evaluate(10, responses(*[200] * 10 + [429], headers=GOOD_HEADERS), None, ["quota:probe:x"], "probe")
    assert [f.code for f in r.failures] == ["cleanup_incomplete"]


def test_a_small_quantity_drift_on_a_large_total_is_still_caught():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    rows["raw"].append(("a", d0, "storage_write", 1, 10_000_000_000.0, 0))
    rows["daily"][0] = ("a", d0, 1, 0.0, 0.0, 10_000_001_000.0, 0.001)  # 1,000 bytes more in the rollup
    rows["hourly"].append(("a", d0, "storage_write", 1, 10_000_000_000.0, 0.0))
    r = uc.evaluate(rows, load_config(), w)
    assert [f.code for f in r.failures] == ["rollup_drift_daily"]
    assert r.failures[0].evidence["differences"][0]["column"] == "storage_writes_bytes"
    assert not uc._qty_differs(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1)  # summation order alone is no drift
