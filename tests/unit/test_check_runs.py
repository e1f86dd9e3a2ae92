"""What each check's run() does around its verdict, with stand-ins for its services (no servers, no Airflow):
month selection and baselines (check 2), where the panels come from (check 3), the probe's sequence
(check 4), and rows read by column name."""
import datetime as dt
import json

import pytest

from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks import invoice_immutability as inv
from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks.usage_coverage.queries import queries as coverage_queries
from billing_readiness.errors import CheckError, ServiceUnavailable
from billing_readiness.timewindow import Month, Window
from stand_ins import NOW, KeyStoreControl, RowsClickHouse, ScriptedApi, StandInServices, context

A_LINE = {"tenant_id": "a", "total_queries": 3, "total_tokens": 10, "cost_nanos": 1_500_000_000}


def invoice_clickhouse(raw=(A_LINE,)):
    rows = {"active tenants (tenant_quotas)": [{"tenant_id": "a"}],
            "invoice totals from usage_events, with late arrivals": [
                {"late_rows": 0, "late_cost_nanos": 0, "first_ingested": 0, "last_ingested": 0, "non_finite": 0,
                 "negative_cost": 0, "negative_quantity": 0, **r} for r in raw],
            "invoice totals from usage_daily (summed)": [
                {"tenant_id": r["tenant_id"], "total_queries": r["total_queries"], "total_tokens": r["total_tokens"],
                 "total_cost_usd": r["cost_nanos"] / 1e9} for r in raw],
            "mutations of the billing tables since the month began (system.mutations)": [],
            "Distributed billing tables and their cluster (system.tables)": []}
    return RowsClickHouse(rows)


def test_check_2_first_run_records_a_baseline_and_writes_the_csv():
    ch = invoice_clickhouse()
    result = inv.CHECK.run(StandInServices(ch), context())
    assert result.passed and result.metrics["month"] == "2025-02"  # NOW is 2025-03-10: last closed month
    key = inv.baseline_key("clickhouse_default/db", context().cfg, Month.parse("2025-02"))
    assert result.record.key == key == result.details.baseline_variable
    assert result.record.value["lines"]["a"]["exact_cost_usd"] == "1.500000000"
    assert [(a.filename, a.text.splitlines()[1]) for a in result.artifacts] == [
        ("invoices-2025-02.csv", "a,2025-02,3,10,1.50,2025-02-28")]


def test_check_2_compares_with_an_existing_baseline_and_records_nothing():
    first = inv.CHECK.run(StandInServices(invoice_clickhouse()), context())
    baselines = {first.record.key: first.record.value}
    same = inv.CHECK.run(StandInServices(invoice_clickhouse(), baselines=baselines), context())
    assert same.passed and same.record is None and same.details.baseline.startswith("compared")
    changed = dict(A_LINE, cost_nanos=1_800_000_000)
    later = inv.CHECK.run(StandInServices(invoice_clickhouse([changed]), baselines=baselines), context())
    assert [f.code for f in later.failures] == ["closed_month_changed"] and later.record is None


def test_check_2_a_failing_first_run_records_no_baseline():
    ch = invoice_clickhouse()
    ch.rows_by_name["invoice totals from usage_daily (summed)"][0]["total_cost_usd"] = 9.0
    result = inv.CHECK.run(StandInServices(ch), context())
    assert not result.passed and result.record is None and result.details.baseline.startswith("not recorded")


@pytest.mark.parametrize("month, message", [
    ("2025-03", "param 'billing_month' is 2025-03, which is not closed yet"),
    ("2025-13", "param 'billing_month': not a month"),
])
def test_check_2_billing_month_param_must_be_a_closed_month(month, message):
    with pytest.raises(CheckError, match=message):
        inv.CHECK.run(StandInServices(invoice_clickhouse()), context({"billing_month": month}))


def test_a_configured_invoice_query_with_wrong_columns_names_them():
    sql = "SELECT tenant_id, count() AS total_queries, sum(cost_usd) AS cost FROM usage_events GROUP BY tenant_id"
    ctx = context(invoice={"sql": sql})
    ch = RowsClickHouse({"active tenants (tenant_quotas)": [{"tenant_id": "a"}],
                         "invoice totals (configured invoice.sql)": [
                             {"tenant_id": "a", "total_queries": 1, "cost": 0.5}]})
    with pytest.raises(CheckError) as err:
        inv.CHECK.run(StandInServices(ch), ctx)
    assert "config key 'invoice.sql'" in str(err.value)
    assert "missing column(s) total_tokens, cost_nanos" in str(err.value) and "unexpected column(s) cost" in str(err.value)


def test_rows_are_read_by_name_whatever_their_order():
    q = coverage_queries(context().cfg, Window(NOW, 3))["future"]
    assert q.named_rows(["latest", "t", "events"], [(5, "a", 2)]) == [{"latest": 5, "t": "a", "events": 2}]


# ---- check 3: where the panels come from ----------------------------------------------------------

TOP = {"largest tenants by events (usage_hourly)": [{"t": "acme", "events": 100}]}
EXPORT = {"title": "d", "time": {"from": "now-6h"}, "panels": [{"title": "From export", "targets": [
    {"rawSql": "SELECT 1 FROM usage_hourly WHERE tenant_id = '$tenant'"}]}]}


def latency_run(services, **config):
    return dl.CHECK.run(services, context(**config))


def test_check_3_grafana_comes_before_an_export_file_and_config(tmp_path):
    export = tmp_path / "d.json"
    export.write_text(json.dumps(EXPORT))
    grafana = ScriptedApi(lambda n: 200, body={"dashboard": {**EXPORT, "panels": [dict(EXPORT["panels"][0], title="Live")]}})
    services = StandInServices(RowsClickHouse(TOP), http={"grafana_default": grafana})
    result = latency_run(services, connections={"grafana": "grafana_default"},
                         dashboard={"grafana_uid": "u1", "export_file": str(export), "panels": []})
    assert result.metrics["panel_source"] == "Grafana dashboard uid 'u1' (connection 'grafana_default')"
    assert [p.title for p in result.details.tenants[0].panels] == ["Live"]
    assert grafana.calls == [("GET", "/api/dashboards/uid/u1", {})]


def test_check_3_export_file_comes_before_config_panels_and_sets_the_time_range(tmp_path):
    export = tmp_path / "d.json"
    export.write_text(json.dumps(EXPORT))
    panels, source, range_s = dl.dashboard_panels(StandInServices(), context(
        dashboard={"export_file": str(export), "panels": [{"title": "cfg", "sql": "SELECT 1"}]}).cfg)
    assert ([p.title for p in panels], source, range_s) == (["From export"], f"export file {export}", 6 * 3600)
    config_only = dl.dashboard_panels(StandInServices(), context(dashboard={"panels": [{"title": "cfg", "sql": "SELECT 1"}]}).cfg)
    assert [p.title for p in config_only[0]] == ["cfg"] and config_only[1] == "config 'dashboard.panels'"
    default = dl.dashboard_panels(StandInServices(), context().cfg)
    assert len(default[0]) == 4 and default[1] == "M12.1 default panels"


def test_check_3_dashboard_source_errors_name_what_to_fix(tmp_path):
    bad = tmp_path / "not.json"
    bad.write_text("<html>")
    with pytest.raises(CheckError, match=f"config key 'dashboard.export_file': {bad} is not a JSON"):
        dl.dashboard_panels(StandInServices(), context(dashboard={"export_file": str(bad)}).cfg)
    with pytest.raises(CheckError, match="config key 'dashboard.panels' is empty"):
        latency_run(StandInServices(RowsClickHouse(TOP)), dashboard={"panels": []})
    denied = StandInServices(http={"g": ScriptedApi(lambda n: 401)})
    with pytest.raises(CheckError, match="HTTP 401 .*'dashboard.grafana_uid'"):
        dl.dashboard_panels(denied, context(connections={"grafana": "g"}, dashboard={"grafana_uid": "u"}).cfg)
    down = StandInServices(http={"g": ScriptedApi(lambda n: None)})
    with pytest.raises(ServiceUnavailable, match="Grafana \\(connection 'g'\\) unreachable"):
        dl.dashboard_panels(down, context(connections={"grafana": "g"}, dashboard={"grafana_uid": "u"}).cfg)


# ---- check 4: the probe's sequence ------------------------------------------------------------

PROBE_CH = {"active tenants (tenant_quotas)": [{"tenant_id": "a"}], "the probe tenant in the billing tables": []}


def enforcing(calls_per_phase=(11, 8, 20)):
    """An API that enforces 10, then 7, then (concurrently) 10: statuses by request number."""
    first, second, _ = calls_per_phase

    def status(n):
        if n <= first:
            return 200 if n <= 10 else 429
        if n <= first + second:
            return 200 if n - first <= 7 else 429
        return 200 if n - first - second <= 10 else 429
    return status


def probe(status_for, params=None, clock=1_000_000.0, keys=None, **config):
    api = ScriptedApi(status_for)
    services = StandInServices(RowsClickHouse(PROBE_CH), http={"quota_api_default": api}, clock=clock,
                               control=KeyStoreControl(keys))
    return services, api, (lambda: qe.CHECK.run(services, context(params, **config)))


def setups(control):
    return [a for a in control.actions if a[0] == "setup"]


def test_check_4_probes_two_limits_then_concurrency_and_leaves_no_key():
    other = {"quota:tenant-m01:queries_hourly:2025-03-10-12": "7", "tenant:tenant-m01:tier": "pro"}
    services, api, run = probe(enforcing(), keys=other)
    result = run()
    assert result.passed, result.findings
    assert setups(services.control) == [("setup", 10), ("setup", 7), ("setup", 10)]
    assert len(api.calls) == 11 + 8 + 20 and api.calls[0][2]["headers"] == {"X-Tenant-ID": "readiness-probe"}
    assert services.control.keys == other and services.control.locks == {}  # only the probe's keys went
    assert result.details.cleanup.deleted == ["tenant:readiness-probe:limit:queries_hourly", "tenant:readiness-probe:tier"]


def test_check_4_a_quota_blind_api_fails_on_the_second_limit_even_without_the_concurrency_probe():
    services, api, run = probe(lambda n: 200 if n <= 10 or 11 < n <= 21 else 429, {"concurrency_probe": False})
    result = run()
    assert [f.code for f in result.failures] == ["quota_ignored"]
    assert "With the quota set to 7" in result.failures[0].message
    assert len(api.calls) == 11 + 9 and setups(services.control) == [("setup", 10), ("setup", 7)]


def test_check_4_skips_the_later_probes_when_the_first_sequence_failed_and_still_cleans():
    services, api, run = probe(lambda n: 200)
    result = run()
    assert [f.code for f in result.failures] == ["quota_not_enforced"]
    assert setups(services.control) == [("setup", 10)] and len(api.calls) == 12
    assert services.control.keys == {}


def test_check_4_an_unreachable_api_is_transient_after_cleanup():
    services, api, run = probe(lambda n: None)
    with pytest.raises(ServiceUnavailable, match="quota API \\(connection 'quota_api_default'"):
        run()
    # a request given up on may still be counted: clean, wait the grace period, clean again
    assert services.slept == [5.0] and services.control.keys == {} and services.control.locks == {}


def test_check_4_a_probe_key_outside_the_cleanup_patterns_is_a_cleanup_pattern_problem_naming_the_pattern():
    services, api, run = probe(enforcing())
    services.control.api_writes = {"usage:readiness-probe:extra": "1"}
    result = run()
    assert [f.code for f in result.failures] == ["cleanup_pattern_missing"]
    assert result.failures[0].evidence["keys"] == ["usage:readiness-probe:extra"]
    assert "add the pattern 'usage:{tenant_id}:*'" in result.failures[0].message
    # the marker stays, so the next run (with the pattern added) knows the key is the probe's
    assert list(services.control.locks) == ["billing_readiness_probe.readiness-probe"]


def test_check_4_refuses_a_probe_id_with_keys_it_did_not_create_and_touches_nothing():
    stranger = {"tenant:readiness-probe:tier": "pro", "quota:readiness-probe:queries_hourly:x": "3"}
    services, api, run = probe(enforcing(), keys=stranger)
    with pytest.raises(CheckError, match="already has 2 key\\(s\\) the probe did not create"):
        run()
    assert services.control.keys == stranger and services.control.actions == [] and api.calls == []
    assert services.control.locks == {}


def owner(**over):
    base = {"dag_id": "billing_readiness", "run_id": "scheduled__other-run", "task_id": "check_quota_enforcement",
            "try_number": 1, "host": "stand-in-host", "pid": 99}
    return json.dumps({**base, **over}, sort_keys=True)


def test_check_4_refuses_to_probe_while_another_live_run_holds_the_probe_tenant():
    services, api, run = probe(enforcing())
    services.control.locks["billing_readiness_probe.readiness-probe"] = owner()
    services.alive = {99: True}
    with pytest.raises(CheckError, match="another run \\(run scheduled__other-run, task check_quota_enforcement "
                                         "try 1 \\(pid 99 on stand-in-host\\)\\) is probing"):
        run()
    assert api.calls == []


@pytest.mark.parametrize("state, alive, why", [
    ("failed", True, "its task instance is failed"),
    ("running", False, "its process 99 on stand-in-host is gone"),
    ("absent", None, "no longer exists"),
])
def test_check_4_takes_over_a_crashed_probe_and_cleans_only_its_keys(state, alive, why):
    left = {"tenant:readiness-probe:tier": "free", "quota:readiness-probe:queries_hourly:x": "4"}
    other = {"tenant:tenant-m01:tier": "pro"}
    services, api, run = probe(enforcing(), keys={**left, **other})
    services.control.locks["billing_readiness_probe.readiness-probe"] = owner()
    services.task_states = {("billing_readiness", "scheduled__other-run", "check_quota_enforcement"): state}
    services.alive = {99: alive}
    result = run()
    assert result.passed, result.findings
    assert [f.code for f in result.warnings] == ["probe_taken_over"] and why in result.warnings[0].message
    assert services.control.keys == other and services.control.locks == {}
    assert set(left) <= set(result.details.cleanup.deleted)


def test_check_4_key_ttl_must_outlive_the_probe():
    services, api, run = probe(enforcing(), {"probe_quota_limit": 500}, quota={"key_ttl_seconds": 600})
    with pytest.raises(CheckError, match="config key 'quota.key_ttl_seconds' \\(600\\) is shorter"):
        run()
    assert api.calls == []


def test_check_4_waits_for_the_next_counter_window_when_it_is_about_to_roll_over():
    services, api, run = probe(enforcing(), clock=3600 * 100 - 5)
    run()
    assert services.slept[0] == pytest.approx(6)


def test_check_4_refuses_a_probe_id_that_is_an_active_tenant_before_sending_anything():
    services, api, run = probe(enforcing(), quota={"probe_tenant_id": "a"})
    with pytest.raises(CheckError, match="probe tenant 'a' is an active tenant"):
        run()
    assert api.calls == [] and services.control.actions == []


def test_check_1_asks_for_the_ids_only_when_a_hash_repeats():
    from billing_readiness.checks import usage_coverage as uc

    nothing = {q.name: [] for q in uc.CHECK.queries(context()).values()}  # every first-pass query: no rows
    nothing["event_id hashes stored more than once (first pass)"] = []
    clean = RowsClickHouse({**nothing, "active tenants (tenant_quotas)": [{"tenant_id": "a"}]})
    uc.CHECK.run(StandInServices(clean), context())
    assert [q.name for q in clean.sent][-1] != "event_ids stored more than once, per tenant" and len(clean.sent) == 6
    found = RowsClickHouse({
        **nothing, "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
        "event_id hashes stored more than once (first pass)": [{"h": 42, "c": 2}],
        "event_ids stored more than once, per tenant": [
            {"t": "a", "duplicated_ids": 1, "extra_rows": 1, "example_event_id": "evt-1"}]})
    result = uc.CHECK.run(StandInServices(found), context())
    assert found.sent[-1].params["hashes"] == (42,) and len(found.sent) == 7
    assert "duplicate_event_ids" in {f.code for f in result.failures}
    assert "event_ids stored more than once, per tenant" in {q["name"] for q in result.queries}


def test_check_2_records_no_baseline_before_the_month_settled():
    """At 00:00:30 on the 1st the month's last events may still be on their way (normal lag): pass, do not record."""
    early = dt.datetime(2025, 3, 1, 0, 0, 30, tzinfo=dt.timezone.utc)
    result = inv.CHECK.run(StandInServices(invoice_clickhouse()), context(now=early))
    assert result.passed and result.record is None and result.details.baseline.startswith("not recorded yet")
    assert "baseline_recorded" not in {f.code for f in result.findings}
    settled = inv.CHECK.run(StandInServices(invoice_clickhouse()), context(now=early + dt.timedelta(hours=1)))
    assert settled.record is not None


VALUES = "events with a non-finite or negative cost_usd or quantity, per tenant"


def value_row(t, non_finite=0, negative=0, nanos=0):
    return {"t": t, "non_finite": non_finite, "negative_cost": negative, "negative_nanos": nanos,
            "negative_quantity": 0, "non_finite_days": ["2025-02-03"] if non_finite else [],
            "negative_days": ["2025-02-04"] if negative else [], "non_finite_ids": ["e-1"] if non_finite else [],
            "negative_cost_ids": ["e-2"] if negative else [], "negative_quantity_ids": []}


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
