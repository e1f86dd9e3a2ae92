"""Issue 17's reproductions, each on the real services (ClickHouse, Redis, the quota API over HTTP, Airflow):
what a careless operator or an attacker can put in the config, the params and the connections must never
harm another tenant, launder a broken month into a promotion, leak a secret or hang the run.

The probe tests use test_probe_isolation's `isolated` sandbox: every Redis key that is not the probe's is
byte-identical (DUMP) before and after, tenants known only to Redis included."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from test_probe_isolation import PROBE, isolated, quota_api_process, raw_redis  # noqa: F401 (fixtures)

ONLY_IN_REDIS = "newco"  # a tenant the quota system knows and ClickHouse not yet


@contextlib.contextmanager
def quota_api(fault="none", *args):
    """A quota API process of its own (sandbox m12_1_sandbox.quota_api) for the block: its port."""
    proc, port = quota_api_process(fault, *args)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def refused(run, check_id="quota_enforcement") -> str:
    c = run.check(check_id)
    assert run.codes(check_id) == {"check_error"}, c["findings"]
    assert run.state == "failed"
    return c["findings"][0]["message"]


# --- 1-3: the probe harms other tenants ---------------------------------------------------------------------


def test_1_a_probe_id_known_only_to_redis_is_refused_and_its_keys_stay(isolated, raw_redis, run_dag):
    raw_redis.set(f"tenant:{ONLY_IN_REDIS}:tier", "pro")
    raw_redis.set(f"tenant:{ONLY_IN_REDIS}:limit:queries_hourly", "5000")
    raw_redis.set(f"quota:{ONLY_IN_REDIS}:queries_hourly:2099-01-01-00", "17")
    before = {k: raw_redis.dump(k) for k in raw_redis.scan_iter(match=f"*:{ONLY_IN_REDIS}:*")}
    isolated.configure(quota={"probe_tenant_id": ONLY_IN_REDIS})
    message = refused(run_dag(isolated))
    assert "already has 3 key(s) the probe did not create" in message and "quota.probe_tenant_id" in message
    assert {k: raw_redis.dump(k) for k in raw_redis.scan_iter(match=f"*:{ONLY_IN_REDIS}:*")} == before
    assert raw_redis.get(f"billing_readiness_probe.{ONLY_IN_REDIS}") is None
    for key in before:
        raw_redis.delete(key)


def test_1_a_probe_id_in_a_rollup_or_tenant_quotas_is_refused(isolated, run_dag):
    isolated.configure(quota={"probe_tenant_id": "tenant-s01"})
    assert "is an active tenant" in refused(run_dag(isolated))
    isolated.execute(
        f"INSERT INTO {isolated.database}.usage_daily (tenant_id, day, query_count) "
        "SELECT 'retired-co', today() - 400, 1"
    )
    isolated.configure(quota={"probe_tenant_id": "retired-co"})
    message = refused(run_dag(isolated))
    assert "appears in usage_daily" in message and "quota.probe_tenant_id" in message


@pytest.mark.parametrize(
    "path",
    [
        "/admin/quota/tenant-m01#{tenant_id}",
        "/admin/quota/{tenant_id}/../tenant-m01",
        "/admin/quota/%2e%2e/{tenant_id}",
        "/admin/quota/{tenant_id}?t=tenant-m01",
        "/admin/quota/x{tenant_id}",
    ],
)
def test_2_3_an_admin_path_that_could_reach_another_tenant_is_refused_before_any_request(isolated, run_dag, path):
    with quota_api("none") as port:
        isolated.use_api(port)
        isolated.configure(quota={"admin_path": path})
        run = run_dag(isolated)
    message = refused(run)
    assert "config key 'quota.admin_path'" in message, message


def test_2_3_an_admin_path_naming_a_tenant_in_a_fixed_segment_is_refused(isolated, run_dag):
    isolated.configure(quota={"admin_path": "/admin/quota/tenant-m01/{tenant_id}"})
    message = refused(run_dag(isolated))
    assert "names tenant(s) tenant-m01 in a fixed segment" in message


# --- 18-19: cleanup and leftovers ---------------------------------------------------------------------------


def test_18_a_probe_killed_mid_run_is_taken_over_by_the_next_run_which_cleans_its_keys(isolated, raw_redis, run_dag):
    with quota_api("none") as port:
        isolated.use_api(port)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"}
        dags_test = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", "billing_readiness"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and dags_test.poll() is None:
            counters = list(raw_redis.scan_iter(match=f"quota:{PROBE}:queries_hourly:*"))
            if counters and int(raw_redis.get(counters[0]) or 0) >= 3:
                break
            time.sleep(0.002)
        os.killpg(dags_test.pid, signal.SIGKILL)  # SIGKILL: no finally, no cleanup
        dags_test.wait(10)
        marker = raw_redis.get(f"billing_readiness_probe.{PROBE}")
        assert marker is not None and json.loads(marker)["pid"] == dags_test.pid
        assert list(raw_redis.scan_iter(match=f"*:{PROBE}:*"))  # what the crashed probe left
        run = run_dag(isolated)
    c = run.check("quota_enforcement")
    assert c["passed"], c["findings"]
    [took] = [f for f in c["findings"] if f["code"] == "probe_taken_over"]
    assert f"pid {dags_test.pid}" in took["message"] and "is gone" in took["message"]
    # the fixture then requires every other key byte-identical and nothing of the probe left


def test_19_a_cleanup_pattern_that_misses_the_counters_is_named_with_the_pattern_that_would_match(
    isolated, raw_redis, run_dag
):
    with quota_api("none") as port:
        isolated.use_api(port)
        isolated.configure(quota={"cleanup_patterns": ["tenant:{tenant_id}:*"]})
        run = run_dag(isolated, concurrency_probe=False)
    c = run.check("quota_enforcement")
    # the counters are the probe's (its marker owned the tenant before they existed): judged, then removed
    assert run.codes("quota_enforcement") == set() and run.codes("quota_enforcement", "warn") == {
        "cleanup_pattern_missing"
    }, c["findings"]
    [f] = [f for f in c["findings"] if f["code"] == "cleanup_pattern_missing"]
    assert f["evidence"]["patterns"] == ["quota:{tenant_id}:*"] and "add the pattern" in f["message"]
    assert all(k.startswith(f"quota:{PROBE}:") for k in f["evidence"]["keys"])
    assert raw_redis.get(f"billing_readiness_probe.{PROBE}") is None and not list(raw_redis.scan_iter(f"*:{PROBE}:*"))
    assert all(w["counters"] for w in c["details"]["windows"])
    isolated.configure(quota={})
    with quota_api("none") as port:
        isolated.use_api(port)
        again = run_dag(isolated, concurrency_probe=False)
    assert again.check("quota_enforcement")["passed"], again.check("quota_enforcement")["findings"]


# --- 20-21: errors that name what to fix ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "quota, names",
    [
        ({"setup_keys": {"tenant:{tenant_id}:tier": "{tenant_id}"}}, "config key 'quota.setup_keys' value"),
        ({"probe_tenant_id": "readiness-probe\n"}, "config key 'quota.probe_tenant_id'"),
        ({"tenant_header": "X-Tenant-ID\r\nX-Evil: 1"}, "config key 'quota.tenant_header'"),
        ({"cleanup_patterns": ["quota:{tenant_id}:*\n"]}, "config key 'quota.cleanup_patterns'"),
    ],
)
def test_20_21_bad_probe_config_is_refused_naming_the_key(isolated, run_dag, quota, names):
    isolated.configure(quota=quota)
    message = refused(run_dag(isolated))
    assert names in message, message


def test_21_a_table_name_with_a_trailing_newline_is_refused(isolated, run_dag):
    isolated.configure(usage_events={"table": "usage_events\n"})
    assert "config key 'usage_events.table'" in refused(run_dag(isolated), "usage_coverage")


# --- 4-8: false promotions that launder a broken month --------------------------------------------------------


def promotion_refused(run) -> str:
    assert all(run.tasks[t] == "success" for t in run.tasks if t.startswith("check_")), run.tasks
    assert run.state == "failed" and run.tasks["promote_to_m12_2"] == "failed"
    return " ".join(run.report["run"]["relaxed"])


def baseline_stored(key: str) -> bool:
    from test_first_run_trust import baseline_stored as stored

    return stored(key)


def test_4_an_older_billing_month_cannot_launder_a_backfilled_last_month(make_sandbox, run_dag):
    from billing_readiness.core.timewindow import last_closed_month
    from m12_1_sandbox import faults

    sb = make_sandbox("ch_month", large_events=20_000, medium_tenants=2, small_tenants=3)
    last = last_closed_month(sb.now)
    older = last_closed_month(last.start)
    faults.backfill_closed_month(sb.execute, sb.database, "tenant-m01", last.start, n=3, cost=0.25)
    run = run_dag(sb, billing_month=str(older))
    assert run.check("invoice_immutability")["metrics"]["month"] == str(older)
    assert f"billing_month = {older} (strict: empty)" in promotion_refused(run)
    assert run_dag(sb).codes("invoice_immutability") == {"late_arrivals"}  # the strict run sees the backfill


def test_5_the_late_arrival_grace_is_bounded_and_above_the_default_it_relaxes(make_sandbox, run_dag):
    sb = make_sandbox("ch_grace", large_events=20_000, medium_tenants=2, small_tenants=3)
    sb.configure(invoice={"late_arrival_grace_seconds": 10**10})
    message = refused(run_dag(sb), "invoice_immutability")
    assert "config key 'invoice.late_arrival_grace_seconds' must be between 0 and 172800" in message
    sb.configure(invoice={"late_arrival_grace_seconds": 7200})
    assert "config invoice.late_arrival_grace_seconds = 7200 (strict: 3600)" in promotion_refused(run_dag(sb))


def test_6_a_first_run_without_an_ingestion_time_column_records_no_baseline_and_is_relaxed(make_sandbox, run_dag):
    from billing_readiness.core.timewindow import last_closed_month
    from m12_1_sandbox import faults

    sb = make_sandbox("ch_no_ingest", large_events=20_000, medium_tenants=2, small_tenants=3)
    faults.backfill_closed_month(sb.execute, sb.database, "tenant-m01", last_closed_month(sb.now).start, n=3)
    sb.configure(usage_events={"ingested_at": None})
    run = run_dag(sb)
    c = run.check("invoice_immutability")
    assert "late arrivals in" in promotion_refused(run) and "no ingestion-time column" in promotion_refused(run)
    assert c["details"]["baseline"].startswith("not recorded: late arrivals")
    assert not baseline_stored(c["details"]["baseline_variable"])


@pytest.mark.parametrize(
    "sql, read",
    [
        ("SELECT DISTINCT tenant_id FROM usage_events", "usage_events"),
        ("SELECT tenant_id FROM tenant_quotas WHERE tenant_id IN (SELECT tenant_id FROM usage_daily)", "usage_daily"),
    ],
)
def test_7_active_tenants_read_from_the_usage_they_are_checked_against_are_refused(make_sandbox, run_dag, sql, read):
    from m12_1_sandbox import faults

    sb = make_sandbox("ch_active", large_events=20_000, medium_tenants=2, small_tenants=3)
    faults.add_active_tenant_without_usage(sb.execute, sb.database)
    sb.configure(active_tenants_sql=sql)
    message = refused(run_dag(sb), "usage_coverage")
    assert f"config key 'active_tenants_sql' reads {read}" in message


def test_8_switching_off_the_concurrency_probe_against_a_racy_api_does_not_promote(isolated, run_dag):
    with quota_api("racy") as port:
        isolated.use_api(port)
        run = run_dag(isolated, concurrency_probe=False)
    assert "concurrency_probe = False (strict: True)" in promotion_refused(run)


# --- 12, 15-17: table functions, SETTINGS ----------------------------------------------------------------------

PANEL = "SELECT count() AS n FROM usage_hourly WHERE tenant_id = '$tenant'"


@pytest.mark.parametrize(
    "sql, why",
    [
        ("SELECT * FROM url('http://127.0.0.1:18730/api/health', 'JSONEachRow', 'status String')", "url"),
        ("SELECT name FROM remote('127.0.0.1:19000', system, databases, 'default', '')", "remote"),
        (
            "SELECT count() FROM usage_hourly WHERE tenant_id = '$tenant' AND sleepEachRow(3) = 0 "
            "SETTINGS max_execution_time = 0",
            "SETTINGS",
        ),
        ("SELECT number FROM numbers(10)", "numbers"),
    ],
)
def test_12_15_16_panel_sql_with_a_table_function_or_settings_is_refused_naming_the_panel(
    make_sandbox, run_dag, sql, why
):
    sb = make_sandbox("ch_panel", large_events=5_000, medium_tenants=1, small_tenants=3)
    sb.configure(dashboard={"panels": [{"title": "ok", "sql": PANEL}, {"title": "exfil", "sql": sql}]})
    message = refused(run_dag(sb), "dashboard_latency")
    assert "config key 'dashboard.panels[1]' ('exfil')" in message and why in message


def test_17_active_tenants_from_a_url_are_refused(make_sandbox, run_dag):
    sb = make_sandbox("ch_url", large_events=5_000, medium_tenants=1, small_tenants=3)
    sb.configure(active_tenants_sql="SELECT tenant_id FROM url('http://127.0.0.1:18730/t', 'CSV', 'tenant_id String')")
    message = refused(run_dag(sb), "usage_coverage")
    assert "config key 'active_tenants_sql' calls the table function(s) url" in message


# --- 14, 26: bounds that agree ------------------------------------------------------------------------------------


def test_14_a_counter_window_barely_longer_than_its_guard_is_refused(isolated, run_dag):
    isolated.configure(quota={"window_seconds": 301, "window_guard_seconds": 300})
    assert "config key 'quota.window_guard_seconds'" in refused(run_dag(isolated))


def test_26_the_form_allows_no_probe_limit_the_default_config_refuses(dag):
    from billing_readiness.checks.quota_enforcement.probe import longest_probe_seconds
    from billing_readiness.config import load_config

    q = load_config()["quota"]
    top = dag.params.get_param("probe_quota_limit").schema["maximum"]
    assert longest_probe_seconds(q, top) <= q["key_ttl_seconds"] < longest_probe_seconds(q, top + 10)


# --- 9-10: secrets in durable outputs ------------------------------------------------------------------------------


def secret_forms_seen(run, logs: str, secret: str) -> list[str]:
    """Where any printable form of `secret` (raw, stripped, URL-encoded, escaped) appears in what a run keeps."""
    from urllib.parse import quote

    from test_secrets_stay_secret import everything_stored

    text = everything_stored(run) + logs
    forms = {secret, secret.strip(), quote(secret, safe=""), repr(secret)[1:-1]}
    return sorted(f for f in forms if f in text)


def test_9_credentials_written_into_the_quota_api_host_appear_nowhere(isolated, run_dag, monkeypatch, capfd):
    secret = "host-secret-9f3k"
    with quota_api("none") as port:
        monkeypatch.setenv(
            "AIRFLOW_CONN_QUOTA_API_DEFAULT",
            json.dumps({"conn_type": "http", "host": f"http://probe:{secret}@127.0.0.1", "port": port}),
        )
        run = run_dag(isolated)
    c = run.check("quota_enforcement")
    assert c["passed"], c["findings"]
    assert c["metrics"]["api"] == f"http://127.0.0.1:{port}/query"
    assert secret_forms_seen(run, "".join(capfd.readouterr()), secret) == []


def test_10_a_token_with_a_trailing_newline_is_used_stripped_and_never_printed(isolated, run_dag, monkeypatch, capfd):
    token = "adm1n-secret-10q"
    with quota_api("none", "--admin-token", token) as port:
        isolated.use_api(port)
        isolated.configure(quota={"admin_path": "/admin/quota/{tenant_id}"})
        monkeypatch.setenv(
            "AIRFLOW_CONN_QUOTA_API_DEFAULT",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": token + "\n"}),
        )
        run = run_dag(isolated)
        assert run.check("quota_enforcement")["passed"], run.check("quota_enforcement")["findings"]
        # a wrong token with a newline: refused by the API, and the error names no form of it
        wrong = "wrong-secret-10z\n"
        monkeypatch.setenv(
            "AIRFLOW_CONN_QUOTA_API_DEFAULT",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": wrong}),
        )
        refused_run = run_dag(isolated)
    assert not refused_run.check("quota_enforcement")["passed"]
    logs = "".join(capfd.readouterr())
    assert secret_forms_seen(run, logs, token + "\n") == []
    assert secret_forms_seen(refused_run, logs, wrong) == []


# --- 25: non-finite numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["reconciliation_tolerance_usd", "invoice_tolerance_usd", "latency_threshold_s"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_25_a_non_finite_number_param_is_refused_where_the_run_is_created(dag, param_defaults, param, value):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=param):
        dag.test(run_conf={**param_defaults, param: value})


def test_25_the_cli_refuses_a_nan_param_before_any_task_runs(services):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "dags",
            "test",
            "billing_readiness",
            "-c",
            '{"reconciliation_tolerance_usd": NaN}',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"},
        timeout=300,
    )
    assert out.returncode != 0
    assert "reconciliation_tolerance_usd" in out.stdout + out.stderr and "finite" in out.stdout + out.stderr
    assert "check_usage_coverage" not in out.stdout  # refused at creation: no task ran


# --- 11-13: hangs ------------------------------------------------------------------------------------------------


def test_11_a_panel_that_times_out_is_reported_once_and_not_run_again(make_sandbox, run_dag):
    sb = make_sandbox("ch_slow_panel", large_events=20_000, medium_tenants=1, small_tenants=3)
    slow = (
        "SELECT count() AS n FROM usage_events AS a CROSS JOIN usage_events AS b "
        "WHERE a.tenant_id = '$tenant' AND a.cost_usd * b.cost_usd >= 0"
    )
    sb.configure(
        clickhouse={"query_timeout_seconds": 2, "check_budget_seconds": 60},
        dashboard={"panels": [{"title": "fast", "sql": PANEL}, {"title": "never ends", "sql": slow}]},
    )
    run = run_dag(sb)
    c = run.check("dashboard_latency")
    assert run.codes("dashboard_latency") == {"panel_error"}, c["findings"]
    [f] = [f for f in c["findings"] if f["code"] == "panel_error"]
    assert f["evidence"]["panel"] == "never ends" and len(f["evidence"]["error"]) <= 300
    assert c["metrics"]["clickhouse_queries"] == 1 + 2  # the top tenant, then one load of both panels: no re-run


def test_12_the_client_cancels_a_query_whose_server_limit_was_lifted(services, ch):
    from billing_readiness.core.sql import Query
    from billing_readiness.shell.hooks.clickhouse import ClickHouseHook, ClickHouseQueryError

    hook = ClickHouseHook("clickhouse_native_default", query_timeout_seconds=1, budget_seconds=60)
    os.environ["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"] = json.dumps(
        {
            "conn_type": "clickhouse_native",
            "host": "127.0.0.1",
            "port": services["clickhouse"],
            "login": "readiness",
            "password": os.environ.get("SANDBOX_CH_READONLY_PASSWORD", "sandbox-readonly-7Qx2"),
            "schema": "system",
        }
    )
    endless = Query(
        "endless", "SELECT count() FROM system.numbers WHERE number % 7 = 8", settings={"max_execution_time": 0}
    )  # lifted: readonly=2 lets a query do that
    with pytest.raises(ClickHouseQueryError, match="ran past 6 s and was cancelled"):
        hook.run(endless)
    del os.environ["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"]


def clickhouse_pid() -> int:
    return int((ROOT / ".local" / "run" / "clickhouse.pid").read_text().strip())


def run_while_frozen(run_dag, sb):
    """run_dag with the sandbox ClickHouse frozen (SIGSTOP: it keeps its connections and answers nothing)."""
    pid = clickhouse_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        return run_dag(sb)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_13_a_frozen_clickhouse_fails_each_check_within_its_budget_naming_the_connection(make_sandbox, run_dag):
    sb = make_sandbox("ch_frozen", large_events=5_000, medium_tenants=1, small_tenants=3)
    sb.configure(clickhouse={"query_timeout_seconds": 3, "check_budget_seconds": 5})
    run = run_while_frozen(run_dag, sb)
    for check in ("usage_coverage", "invoice_immutability", "dashboard_latency"):
        message = refused(run, check)
        assert "connection 'clickhouse_native_default'" in message and "stopped answering" in message, message
    tries = {ti.task_id: ti.try_number for ti in run.dagrun.get_task_instances()}
    assert tries["check_usage_coverage"] == 1  # failed, not retried: waiting again would wait as long


def test_13b_with_the_default_config_a_frozen_clickhouse_fails_every_check_within_the_liveness_bound(
    make_sandbox, run_dag
):
    """No query timeout each (120 s), one check after another: the first, trivial query of each check answers
    within clickhouse.liveness_timeout_seconds (15 s) or the check fails (docs/reliability.md states the bound)."""
    sb = make_sandbox("ch_frozen_default", large_events=5_000, medium_tenants=1, small_tenants=3)
    run = run_while_frozen(run_dag, sb)
    spans = {}
    for ti in run.dagrun.get_task_instances():
        if ti.task_id in ("check_usage_coverage", "check_invoice_immutability", "check_dashboard_latency"):
            spans[ti.task_id] = (ti.end_date - ti.start_date).total_seconds()
            message = refused(run, ti.task_id.removeprefix("check_"))
            assert "config clickhouse.liveness_timeout_seconds" in message and "15 s" in message, message
    assert len(spans) == 3 and all(s < 15 + 10 + 10 for s in spans.values()), spans  # + connect, + start-up


# --- 22-24: errors that name what to fix ----------------------------------------------------------------------


class Answers:
    """An HTTP server on loopback answering every GET with one fixed body (a proxy's login page, say)."""

    def __init__(self, body: bytes, content_type: str):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(
    "body, content_type, says",
    [
        (b"<html><body>Please log in</body></html>", "text/html", "not a dashboard's JSON"),
        (json.dumps({"dashboard": {"panels": [1, "x", None]}}).encode(), "application/json", "panels[0] is 1"),
    ],
)
def test_22_grafana_answering_something_else_is_named_with_uid_and_connection(
    make_sandbox, run_dag, monkeypatch, body, content_type, says
):
    sb = make_sandbox("ch_grafana", large_events=5_000, medium_tenants=1, small_tenants=3)
    grafana = Answers(body, content_type)
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_GRAFANA_TEST", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": grafana.port})
        )
        sb.configure(connections={"grafana": "grafana_test"}, dashboard={"grafana_uid": "m12-tenant-usage"})
        message = refused(run_dag(sb), "dashboard_latency")
    finally:
        grafana.server.shutdown()
    assert "uid 'm12-tenant-usage' (connection 'grafana_test')" in message and says in message, message


def test_23_a_wrong_clickhouse_password_names_the_connection(make_sandbox, run_dag, monkeypatch):
    sb = make_sandbox("ch_password", large_events=5_000, medium_tenants=1, small_tenants=3)
    conn = json.loads(os.environ["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT", json.dumps({**conn, "password": "not-the-password"}))
    run = run_dag(sb)
    message = refused(run, "usage_coverage")
    assert "refused connection 'clickhouse_native_default'" in message and "Fix the login, password" in message
    assert "not-the-password" not in json.dumps(run.report)


def test_24_a_redis_authentication_error_is_permanent_and_names_the_connection(isolated, run_dag, monkeypatch):
    from conftest import REDIS_PORT

    monkeypatch.setenv(
        "AIRFLOW_CONN_REDIS_DEFAULT",
        json.dumps(
            {"conn_type": "redis", "host": "127.0.0.1", "port": REDIS_PORT, "login": "nobody", "password": "wrong-pw"}
        ),
    )
    run = run_dag(isolated)
    message = refused(run)
    assert "Redis (connection 'redis_default') refused its credentials" in message
    assert "transient" not in message
    tries = {ti.task_id: ti.try_number for ti in run.dagrun.get_task_instances()}
    assert tries["check_quota_enforcement"] == 1


def test_24_a_clickhouse_user_without_access_to_the_database_is_permanent_and_names_the_connection(
    make_sandbox, run_dag, monkeypatch
):
    sb = make_sandbox("ch_walled", large_events=5_000, medium_tenants=1, small_tenants=3)
    conn = json.loads(os.environ["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT", json.dumps({**conn, "login": "walled"}))  # system only
    run = run_dag(sb)
    message = refused(run, "usage_coverage")
    assert f"refused connection 'clickhouse_native_default' the database '{sb.database}'" in message, message
    tries = {ti.task_id: ti.try_number for ti in run.dagrun.get_task_instances()}
    assert tries["check_usage_coverage"] == 1
