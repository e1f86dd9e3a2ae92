"""Checks 3 and 4's verdicts on hand-made measurements and responses (no servers, no Airflow)."""
import pytest

from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks.dashboard_latency import panels as dl_panels
from billing_readiness.checks.dashboard_latency import verdict as dl_verdict
from billing_readiness.checks.quota_enforcement import diagnose as qe_diagnose
from billing_readiness.checks.quota_enforcement import probe as qe_probe
from billing_readiness.checks.quota_enforcement import verdict as qe_verdict


def test_dashboard_binding_never_pastes_the_tenant():
    panel = dl_panels.Panel("p", "SELECT 100 * x % 7 FROM usage_hourly WHERE tenant_id = '$tenant' AND $__timeFilter(hour)")
    q = dl_panels.bind(panel, "tenant", "evil' OR 1=1 --", 100, 200)
    assert "evil" not in q.sql and "%(tenant)s" in q.sql and "%%" in q.sql
    assert "hour >= toDateTime(%(time_from)s)" in q.sql
    assert "'evil\\' OR 1=1 --'" in q.render()
    with pytest.raises(dl_panels.DashboardError, match="panel 'x'.*\\$region"):
        dl_panels.bind(dl_panels.Panel("x", "SELECT 1 WHERE r = '$region'"), "tenant", "t", 0, 1)


def test_dashboard_export_parsing_and_raw_table_flag():
    export = {"dashboard": {"panels": [
        {"type": "row", "panels": [{"title": "A", "targets": [{"rawSql": "SELECT 1 FROM usage_events"}]}]},
        {"title": "B", "targets": [{"query": "SELECT 2 FROM usage_hourly"}, {"rawSql": "", "hide": True}]},
        {"title": "text", "type": "text"},
    ]}}
    panels = dl_panels.panels_from_export(export)
    assert [p.title for p in panels] == ["A", "B"]
    assert dl_panels.reads_raw_table(panels[0].sql, "usage_events")
    assert not dl_panels.reads_raw_table(panels[1].sql, "usage_events")
    with pytest.raises(dl_panels.DashboardError):
        dl_panels.panels_from_export({"panels": [{"title": "t", "type": "text"}]})


def test_percentiles_nearest_rank():
    samples = [0.1 * i for i in range(1, 21)]
    assert dl_verdict.percentile(samples, 95) == pytest.approx(1.9)
    assert dl_verdict.percentile(samples, 50) == pytest.approx(1.0)
    assert dl_verdict.percentile([0.3], 95) == 0.3


def loads(times, panel_errors=None):
    return [{"load_s": t, "panels": [{"title": "p", "elapsed_s": t, "rows_read": 10, "bytes_read": 80, "result_rows": 1,
                                       "error": panel_errors}]} for t in times]


def latency(measurements, panels):
    return dl_verdict.evaluate(dl.CHECK.new_result(), measurements, 1.0, "usage_events", panels)


def test_dashboard_verdicts():
    panels = [dl_panels.Panel("p", "SELECT 1 FROM usage_hourly")]
    ok = latency([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 0.3])}], panels)
    assert ok.passed and ok.details.tenants[0].load.p95 == 0.3
    slow = latency([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 1.3])}], panels)
    assert [f.code for f in slow.failures] == ["dashboard_too_slow"]
    err = latency([{"tenant": "t", "events": 5, "loads": loads([0.1], "Table x doesn't exist")}], panels)
    assert [f.code for f in err.failures] == ["panel_error"] and "SELECT 1 FROM usage_hourly" in err.failures[0].message
    assert [f.code for f in latency([], panels).failures] == ["no_tenants"]


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
    got = qe_diagnose.diagnose_sequence(responses(*statuses, headers=GOOD_HEADERS), 10)
    assert (got[0] if got else None) == code


def test_quota_probe_stops_at_first_refusal_and_looks_one_past_the_limit():
    assert qe_diagnose.need_more(responses(*[200] * 5), 10)
    assert not qe_diagnose.need_more(responses(200, 429), 10)
    assert qe_diagnose.need_more(responses(*[200] * 11), 10)
    assert not qe_diagnose.need_more(responses(*[200] * 12), 10)


def test_quota_concurrency_and_headers():
    assert qe_diagnose.diagnose_concurrency(responses(*[200] * 10 + [429] * 10), 10) is None
    assert qe_diagnose.diagnose_concurrency(responses(*[200] * 14 + [429] * 6), 10)[0] == "over_admission"
    assert qe_diagnose.diagnose_concurrency(responses(*[200] * 5 + [503] * 15), 10)[0] == "api_failing_under_load"
    assert qe_diagnose.inspect_429(GOOD_HEADERS, {"error": "quota_exceeded"}) == []
    ietf = {"Retry-After": "3", "RateLimit": '"h";r=0;t=3', "RateLimit-Policy": '"h";q=10;w=3600'}
    assert qe_diagnose.inspect_429(ietf, {"error": "x"}) == []
    codes = {c for _, c, _ in qe_diagnose.inspect_429({}, "too many")}
    assert codes == {"missing_retry_after", "missing_rate_limit_headers", "no_error_body"}


def test_quota_probe_tenant_must_not_be_real():
    assert qe_diagnose.probe_tenant_conflict("probe", ["a", "probe"], []) is not None
    assert qe_diagnose.probe_tenant_conflict("probe", ["a"], ["probe"]) is not None
    assert qe_diagnose.probe_tenant_conflict("probe", ["a"], []) is None


def test_quota_evaluate_reports_cleanup_leftovers():
    run = qe_probe.ProbeRun(10, responses(*[200] * 10 + [429], headers=GOOD_HEADERS), 7,
                      responses(*[200] * 7 + [429], headers=GOOD_HEADERS))
    run.cleanup.leftovers, run.cleanup.foreign = ["quota:probe:x"], ["quota:probe-2:x"]
    r = qe_verdict.evaluate(qe.CHECK.new_result(), run, "probe")
    assert [f.code for f in r.failures] == ["cleanup_incomplete"]
    assert [f.code for f in r.warnings] == ["cleanup_left_other_keys"]
    run.second = responses(*[200] * 9, headers=GOOD_HEADERS)
    r = qe_verdict.evaluate(qe.CHECK.new_result(), run, "probe")
    assert {f.code for f in r.failures} == {"cleanup_incomplete", "quota_ignored"}


@pytest.mark.parametrize("sql, problem", [
    ("SELECT ';' AS x FROM usage_hourly WHERE tenant_id = '$tenant'", None),
    ("WITH t AS (SELECT 1) SELECT * FROM t", None),
    ("SELECT 1; DROP TABLE usage_events", "holds more than one statement"),
    ("KILL QUERY WHERE user = 'default'", "is not a SELECT"),
    ("INSERT INTO usage_events SELECT * FROM usage_events", "is not a SELECT"),
])
def test_a_panel_must_be_one_select(sql, problem):
    if problem is None:
        assert dl_panels.bind(dl_panels.Panel("p", sql), "tenant", "t", 0, 1).sql
    else:
        with pytest.raises(dl_panels.DashboardError, match=f"panel 'p' {problem}"):
            dl_panels.bind(dl_panels.Panel("p", sql), "tenant", "t", 0, 1)
