"""Checks 3 and 4 against the real sandbox: dashboards from export files and a Grafana API, and every
quota API misbehaviour with its own verdict, on the real quota API over HTTP and real Redis."""

import datetime as dt
import json

import pytest
from conftest import ROOT, _free_port

from billing_readiness.checks.dashboard_latency.panels import DEFAULT_PANELS, panels_from_export

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 3}
EXPORT = ROOT / "m12_1_sandbox" / "grafana" / "tenant-usage-dashboard.json"


def fails(run, check):
    return run.codes(check, "fail")


def warns(run, check):
    return run.codes(check, "warn")


@pytest.fixture
def grafana(sandbox_process):
    """grafana(token=None, database=None, dashboards=None) -> port of a Grafana stand-in whose ClickHouse data
    source reads `database` (a sandbox's) and which serves the dashboards in folder `dashboards`."""

    def start(token=None, database=None, dashboards=None):
        args = (["--token", token] if token else []) + (["--clickhouse-database", database] if database else [])
        return sandbox_process("grafana_api", *args, *(["--dashboards", str(dashboards)] if dashboards else []))

    return start


# ---- check 3 -------------------------------------------------------------------------------------


def test_sandbox_export_file_holds_the_m12_1_panels():
    panels = panels_from_export(EXPORT.read_text())
    assert [(p.title, p.sql) for p in panels] == [(p["title"], p["sql"]) for p in DEFAULT_PANELS]


def test_panels_from_the_export_file_with_per_panel_statistics(large_sandbox, run_dag):
    large_sandbox.configure(dashboard={"export_file": str(EXPORT)})
    run = run_dag(large_sandbox, repetitions=4, top_k_tenants=3)
    c = run.check("dashboard_latency")
    assert c["passed"] and c["metrics"]["panel_source"] == f"export file {EXPORT}"
    tenants = c["details"]["tenants"]
    assert next(t["tenant"] for t in tenants) == "acme-corp" and len(tenants) == 3
    assert tenants[0]["events"] > tenants[1]["events"] >= tenants[2]["events"]
    for panel in tenants[0]["panels"]:
        s = panel["stats"]
        assert s["n"] == 4 and 0 < s["p50"] <= s["p95"] <= s["max"]
        assert panel["rows_read"] > 0 and panel["bytes_read"] > 0 and len(panel["samples"]) == 4
    assert tenants[0]["load"]["n"] == 4
    # a load waits for the slowest panel: never shorter than any panel of it
    assert tenants[0]["load"]["max"] >= max(p["stats"]["max"] for p in tenants[0]["panels"]) * 0.999


def test_panels_live_from_a_grafana_api_with_a_token(make_sandbox, grafana, run_dag, monkeypatch):
    sb = make_sandbox("dq_grafana", **SMALL)
    port = grafana(token="s3cret-token", database=sb.database)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_TEST",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "s3cret-token"}),
    )
    sb.configure(connections={"grafana": "grafana_test"}, dashboard={"grafana_uid": "m12-tenant-usage"})
    run = run_dag(sb)
    c = run.check("dashboard_latency")
    assert c["passed"], c["findings"]
    assert c["metrics"]["panel_source"] == "Grafana dashboard uid 'm12-tenant-usage' (connection 'grafana_test')"
    assert c["metrics"]["mode"] == "grafana" and c["metrics"]["grafana_requests"] >= 4 * 6
    assert [p["title"] for p in c["details"]["tenants"][0]["panels"]] == [p["title"] for p in DEFAULT_PANELS]
    assert all(p["result_rows"] is not None and p["rows_read"] is None for p in c["details"]["tenants"][0]["panels"])
    assert "Mode: through Grafana: each panel's queries in one POST /api/ds/query" in run.markdown
    assert "s3cret-token" not in json.dumps(run.report) and "s3cret-token" not in run.markdown

    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_TEST",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "wrong"}),
    )
    bad = run_dag(sb)
    assert fails(bad, "dashboard_latency") == {"check_error"}
    message = bad.check("dashboard_latency")["findings"][0]["message"]
    assert "HTTP 401" in message and "grafana_test" in message and "dashboard.grafana_uid" in message


def test_raw_table_panel_is_flagged_and_a_failing_panel_names_itself(make_sandbox, run_dag):
    sb = make_sandbox("dq_panels", **SMALL)
    raw = {
        "title": "Events today (raw)",
        "sql": "SELECT count() FROM usage_events WHERE tenant_id = '$tenant' AND timestamp >= toStartOfDay(now())",
    }
    sb.configure(dashboard={"panels": DEFAULT_PANELS + [raw]})
    run = run_dag(sb)
    assert run.check("dashboard_latency")["passed"]
    assert warns(run, "dashboard_latency") == {"panel_reads_raw_table"}

    broken = {"title": "Invoices (broken)", "sql": "SELECT sum(amount) FROM invoices WHERE tenant_id = '$tenant'"}
    sb.configure(dashboard={"panels": DEFAULT_PANELS + [broken]})
    run = run_dag(sb)
    assert fails(run, "dashboard_latency") == {"panel_error"}
    [f] = [f for f in run.check("dashboard_latency")["findings"] if f["code"] == "panel_error"]
    assert f["evidence"]["panel"] == "Invoices (broken)" and "FROM invoices" in f["message"]
    assert "invoices" in f["evidence"]["error"].lower()


def test_unsupported_grafana_variable_is_a_clear_error(make_sandbox, run_dag):
    sb = make_sandbox("dq_variable", **SMALL)
    sb.configure(dashboard={"panels": [{"title": "By region", "sql": "SELECT 1 FROM usage_daily WHERE r = '$region'"}]})
    run = run_dag(sb)
    assert fails(run, "dashboard_latency") == {"check_error"}
    assert "panel 'By region'" in run.check("dashboard_latency")["findings"][0]["message"]


EVERY_MACRO = ROOT / "m12_1_sandbox" / "grafana" / "every-macro-dashboard.json"
# Its panels whose expanded SQL needs a newer ClickHouse than Debian's 18.16 (tests/test_current_clickhouse_parity.py
# runs them on current ClickHouse): 18.16's own error for each.
NEEDS_CURRENT = {
    "Hours in range, to the millisecond": "Unknown function fromUnixTimestamp64Milli",
    "Events per interval": "Syntax error",
    "Usage by type, ad hoc filtered": "Syntax error",
}


@pytest.fixture(scope="module")
def runnable_on_18_16(tmp_path_factory):
    """The every-macro dashboard without the panels 18.16 cannot run: every variable kind and every macro
    18.16 has the functions for, as an export file and in a folder the Grafana stand-in serves."""
    folder = tmp_path_factory.mktemp("dashboards")
    export = json.loads(EVERY_MACRO.read_text())
    export["uid"] = "m12-every-macro-18-16"
    export["panels"] = [p for p in export["panels"] if p["title"] not in NEEDS_CURRENT]
    (folder / "every-macro-18-16.json").write_text(json.dumps(export))
    return folder


@pytest.mark.parametrize("mode", ["grafana", "direct"])
def test_a_dashboard_with_every_macro_and_variable_kind_is_timed_in_both_modes(
    make_sandbox, grafana, run_dag, monkeypatch, runnable_on_18_16, mode
):
    sb = make_sandbox(f"dq_macros_{mode}", **SMALL)
    port = grafana(token="t0ken", database=sb.database, dashboards=runnable_on_18_16)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_TEST",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "t0ken"}),
    )
    sb.configure(
        connections={"grafana": "grafana_test"}, dashboard={"grafana_uid": "m12-every-macro-18-16", "mode": mode}
    )
    run = run_dag(sb)
    c = run.check("dashboard_latency")
    assert c["passed"] and run.state == "success", c["findings"]
    assert c["metrics"]["mode"] == mode
    timed = [p["title"] for p in c["details"]["tenants"][0]["panels"]]
    clickhouse = [
        "Events per bucket",
        "Cost per day",
        "Range as Grafana gives it",
        "Quota usage % (chained query variable)",
    ]
    if mode == "grafana":  # a panel's queries are one request; the TestData panel is Grafana's to run
        assert timed == clickhouse[:2] + ["Hours and events in range"] + clickhouse[2:] + ["Random walk (TestData)"]
        assert c["details"]["skipped"] == []
    else:  # one query each; the TestData panel is said, not timed
        assert (
            timed
            == clickhouse[:2] + ["Hours and events in range [A]", "Hours and events in range [B]"] + clickhouse[2:]
        )
        assert c["details"]["skipped"] == [
            {
                "panel": "Random walk (TestData)",
                "reason": (
                    "data source type 'grafana-testdata-datasource' is not the ClickHouse plugin: direct mode cannot run "
                    "it (through Grafana it is timed)"
                ),
            }
        ]
        assert "Not timed: panel 'Random walk (TestData)'" in run.markdown
    assert all(p["result_rows"] for p in c["details"]["tenants"][0]["panels"] if "Random" not in p["title"])
    assert "now-2d/d to now (" in c["metrics"]["time_range"] and "UTC" in c["metrics"]["time_range"]
    assert f"Mode: {'through Grafana' if mode == 'grafana' else 'direct'}" in run.markdown


@pytest.mark.parametrize("mode", ["grafana", "direct"])
def test_a_panel_that_errors_fails_the_check_naming_the_panel_and_the_error(
    make_sandbox, grafana, run_dag, monkeypatch, mode
):
    """The full every-macro dashboard on 18.16: the three panels whose SQL needs a newer ClickHouse fail, each
    named with ClickHouse's message (through Grafana: Grafana's), and nothing else does."""
    sb = make_sandbox(f"dq_errors_{mode}", **SMALL)
    port = grafana(database=sb.database)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_TEST", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port})
    )
    sb.configure(connections={"grafana": "grafana_test"}, dashboard={"grafana_uid": "m12-every-macro", "mode": mode})
    run = run_dag(sb, repetitions=2)
    c = run.check("dashboard_latency")
    errors = {f["evidence"]["panel"]: f["message"] for f in c["findings"] if f["code"] == "panel_error"}
    assert fails(run, "dashboard_latency") == {"panel_error"} and run.state == "failed"
    assert set(errors) == set(NEEDS_CURRENT), errors
    for panel, says in NEEDS_CURRENT.items():
        assert f"Panel '{panel}' fails for tenant 'acme-corp': " in errors[panel] and says in errors[panel]
        assert ("Grafana: " in errors[panel]) == (mode == "grafana")


# ---- check 4 -------------------------------------------------------------------------------------


@pytest.fixture
def quota_sandbox(make_sandbox, redis_client):
    sb = make_sandbox("dq_quota", **SMALL)
    yield sb
    assert redis_client.keys("*readiness-probe*") == []  # whatever happened, the probe cleaned up


@pytest.mark.parametrize(
    "fault, expected_fail, expected_warn",
    [
        ("none", set(), set()),
        ("not_enforced", {"quota_not_enforced"}, set()),
        ("off_by_one", {"off_by_one"}, set()),
        ("racy", {"over_admission"}, set()),
        ("error_5xx", {"api_failing"}, set()),
        ("no_headers", set(), {"missing_retry_after", "missing_rate_limit_headers"}),
        ("no_expiry", {"counter_never_expires"}, set()),
        ("stale_reset", set(), {"reset_in_the_past"}),
    ],
)
def test_each_quota_api_misbehaviour_has_its_own_verdict(
    quota_sandbox, quota_api, run_dag, fault, expected_fail, expected_warn
):
    quota_sandbox.use_api(quota_api(fault))
    run = run_dag(quota_sandbox)
    assert (fails(run, "quota_enforcement"), warns(run, "quota_enforcement")) == (expected_fail, expected_warn)
    c = run.check("quota_enforcement")
    statuses = [r["status"] for r in c["details"]["sequential"]]
    if fault == "none":
        assert statuses == [200] * 10 + [429]
        assert c["details"]["concurrent"] == {"sent": 20, "accepted": 10, "refused_429": 10, "other": []}
        assert {k.lower() for k in c["details"]["sequential"][-1]["headers"]} >= {
            "retry-after",
            "x-ratelimit-remaining",
        }
        # looked at before each cleanup: the hourly, daily and monthly counters, each expiring within its window
        for seen in c["details"]["windows"]:
            assert len(seen["counters"]) == 3 and all(0 < ttl <= 31 * 86400 + 1 for ttl in seen["counters"].values())
        assert [w["limit"] for w in c["details"]["windows"]] == [10, 7]
    if fault == "no_expiry":
        assert all(ttl == -1 for w in c["details"]["windows"] for ttl in w["counters"].values())
    if fault == "off_by_one":
        assert statuses == [200] * 11 + [429] and "off by one" in c["summary"]
    if fault == "racy":
        assert statuses == [200] * 10 + [429] and c["details"]["concurrent"]["accepted"] > 10
    if fault == "error_5xx":
        assert "the API is failing, not enforcing" in c["summary"] and statuses == [503]


def test_a_slow_api_times_out_as_failing(quota_sandbox, quota_api, run_dag):
    quota_sandbox.use_api(quota_api("slow"))  # answers after 2 s, and counts the request then
    quota_sandbox.configure(quota={"request_timeout_seconds": 0.5, "cleanup_grace_seconds": 3})
    run = run_dag(quota_sandbox)
    assert fails(run, "quota_enforcement") == {"api_failing"}
    assert "Timeout" in run.check("quota_enforcement")["summary"]
    assert "connection 'quota_api_default'" in run.check("quota_enforcement")["summary"]
    assert "config 'quota.request_timeout_seconds'" in run.check("quota_enforcement")["summary"]
    # the request that timed out was still counted by the server later: cleanup waited for it


def test_an_api_that_is_down_is_transient_retried_then_failed(quota_sandbox, run_dag, dag, monkeypatch):
    monkeypatch.setattr(dag.get_task("check_quota_enforcement"), "retry_delay", dt.timedelta(seconds=1))
    quota_sandbox.use_api(_free_port())  # nothing listens there
    run = run_dag(quota_sandbox)
    assert fails(run, "quota_enforcement") == {"check_error"}
    message = run.check("quota_enforcement")["findings"][0]["message"]
    assert "the quota API (connection 'quota_api_default'" in message and "cannot be reached" in message
    [ti] = [ti for ti in run.dagrun.get_task_instances() if ti.task_id == "check_quota_enforcement"]
    assert (str(ti.state), ti.try_number) == ("failed", 3)  # two retries, like an unreachable ClickHouse


def test_a_limit_applied_early_is_named(quota_sandbox, run_dag):
    # a stricter daily limit of 3 also set for the probe: request 4 is refused although the quota is 10
    quota_sandbox.configure(
        quota={
            "setup_keys": {
                "tenant:{tenant_id}:tier": "free",
                "tenant:{tenant_id}:limit:queries_hourly": "{limit}",
                "tenant:{tenant_id}:limit:queries_daily": "3",
            }
        }
    )
    run = run_dag(quota_sandbox)
    assert fails(run, "quota_enforcement") == {"limit_applied_early"}
    assert "Request 4 was already refused" in run.check("quota_enforcement")["summary"]


def test_quota_set_through_an_admin_endpoint(quota_sandbox, quota_api, run_dag, monkeypatch):
    port = quota_api("none", "--admin-token", "adm1n")
    quota_sandbox.use_api(port)
    quota_sandbox.configure(quota={"admin_path": "/admin/quota/{tenant_id}"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_QUOTA_API_DEFAULT",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "adm1n"}),
    )
    monkeypatch.delenv("AIRFLOW_CONN_REDIS_DEFAULT")  # Redis is not needed on this path
    run = run_dag(quota_sandbox)
    c = run.check("quota_enforcement")
    assert c["passed"], c["findings"]
    assert c["metrics"]["quota_set_via"] == "admin endpoint /admin/quota/readiness-probe"
    assert c["details"]["windows"][0]["counters"]  # the endpoint reports TTLs: the window reset was checked
    assert "adm1n" not in json.dumps(run.report)


def test_the_probe_never_runs_as_a_real_tenant(quota_sandbox, run_dag, redis_client):
    redis_client.set("quota:tenant-s01:queries_hourly:keep", "7")
    quota_sandbox.configure(quota={"probe_tenant_id": "tenant-s01"})
    run = run_dag(quota_sandbox)
    assert fails(run, "quota_enforcement") == {"check_error"}
    assert "'tenant-s01' is an active tenant" in run.check("quota_enforcement")["findings"][0]["message"]
    assert run.check("quota_enforcement")["details"] is None  # no request was sent
    assert redis_client.get("quota:tenant-s01:queries_hourly:keep") == "7"  # a real tenant's keys untouched
    redis_client.delete("quota:tenant-s01:queries_hourly:keep")


def test_a_missing_connection_names_the_connection_to_create(quota_sandbox, run_dag, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_REDIS_DEFAULT")
    run = run_dag(quota_sandbox)
    message = run.check("quota_enforcement")["findings"][0]["message"]
    assert "'redis_default'" in message and "AIRFLOW_CONN_REDIS_DEFAULT" in message
    assert run.tasks["check_quota_enforcement"] == "failed"


def test_redis_control_writes_expiring_keys_and_finds_the_probes(redis_client):
    from billing_readiness.config import load_config
    from billing_readiness.shell.hooks.quota_control import RedisQuotaControl

    q = load_config()["quota"]
    redis_client.set("quota:readiness-probe-2:queries_hourly:x", "1")  # a look-alike tenant's key
    redis_client.set("quota:readiness-probe:queries_hourly:old", "9")  # a stale counter of the probe
    control = RedisQuotaControl(redis_client, q, "readiness-probe")
    try:
        control.setup(10)
        ttls = control.ttls()
        assert set(ttls) == {"tenant:readiness-probe:tier", "tenant:readiness-probe:limit:queries_hourly"}
        assert all(0 < t <= q["key_ttl_seconds"] for t in ttls.values())
        assert redis_client.get("tenant:readiness-probe:limit:queries_hourly") == "10"
        assert control.matching_keys() == [
            "quota:readiness-probe:queries_hourly:old",
            "tenant:readiness-probe:limit:queries_hourly",
            "tenant:readiness-probe:tier",
        ]
        assert control.leftovers() == control.matching_keys()
        assert control.delete(control.matching_keys()) == 3 and control.leftovers() == []
        assert redis_client.get("quota:readiness-probe-2:queries_hourly:x") == "1"
        marker = "billing_readiness_probe.readiness-probe"
        assert control.claim(marker, "run-a", 60) is None and control.claim(marker, "run-b", 60) == "run-a"
        assert not control.take_over(marker, "run-x", "run-b", 60)  # only from the owner it found
        assert control.take_over(marker, "run-a", "run-b", 60) and redis_client.get(marker) == "run-b"
        control.unlock(marker, "run-a")  # not its owner any more: stays
        assert redis_client.get(marker) == "run-b"
        control.unlock(marker, "run-b")
        assert redis_client.get(marker) is None
    finally:
        redis_client.delete(
            "quota:readiness-probe-2:queries_hourly:x", "quota:readiness-probe:queries_hourly:old", *control.setup_keys
        )
