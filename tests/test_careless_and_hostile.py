"""Issue 17's reproductions, each on the real services (ClickHouse, Redis, the quota API over HTTP, Airflow):
what a careless operator or an attacker can put in the config, the params and the connections must never
harm another tenant, launder a broken month into a promotion, leak a secret or hang the run.

The probe tests use test_probe_isolation's `isolated` sandbox: every Redis key that is not the probe's is
byte-identical (DUMP) before and after, tenants known only to Redis included."""
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
    isolated.execute(f"INSERT INTO {isolated.database}.usage_daily (tenant_id, day, query_count) "
                     "SELECT 'retired-co', today() - 400, 1")
    isolated.configure(quota={"probe_tenant_id": "retired-co"})
    message = refused(run_dag(isolated))
    assert "appears in usage_daily" in message and "quota.probe_tenant_id" in message


@pytest.mark.parametrize("path", [
    "/admin/quota/tenant-m01#{tenant_id}",
    "/admin/quota/{tenant_id}/../tenant-m01",
    "/admin/quota/%2e%2e/{tenant_id}",
    "/admin/quota/{tenant_id}?t=tenant-m01",
    "/admin/quota/x{tenant_id}",
])
def test_2_3_an_admin_path_that_could_reach_another_tenant_is_refused_before_any_request(isolated, run_dag, path):
    proc, port = quota_api_process("none")
    try:
        isolated.use_api(port)
        isolated.configure(quota={"admin_path": path})
        run = run_dag(isolated)
    finally:
        proc.terminate()
        proc.wait(10)
    message = refused(run)
    assert "config key 'quota.admin_path'" in message, message


def test_2_3_an_admin_path_naming_a_tenant_in_a_fixed_segment_is_refused(isolated, run_dag):
    isolated.configure(quota={"admin_path": "/admin/quota/tenant-m01/{tenant_id}"})
    message = refused(run_dag(isolated))
    assert "names tenant(s) tenant-m01 in a fixed segment" in message


# --- 18-19: cleanup and leftovers ---------------------------------------------------------------------------

def test_18_a_probe_killed_mid_run_is_taken_over_by_the_next_run_which_cleans_its_keys(isolated, raw_redis,
                                                                                      run_dag):
    proc, port = quota_api_process("none")
    try:
        isolated.use_api(port)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"}
        dags_test = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", "billing_readiness"],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
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
    finally:
        proc.terminate()
        proc.wait(10)
    c = run.check("quota_enforcement")
    assert c["passed"], c["findings"]
    [took] = [f for f in c["findings"] if f["code"] == "probe_taken_over"]
    assert f"pid {dags_test.pid}" in took["message"] and "is gone" in took["message"]
    # the fixture then requires every other key byte-identical and nothing of the probe left


def test_19_a_cleanup_pattern_that_misses_the_counters_is_named_with_the_pattern_that_would_match(
        isolated, raw_redis, run_dag):
    proc, port = quota_api_process("none")
    try:
        isolated.use_api(port)
        isolated.configure(quota={"cleanup_patterns": ["tenant:{tenant_id}:*"]})
        run = run_dag(isolated, concurrency_probe=False)
    finally:
        proc.terminate()
        proc.wait(10)
    c = run.check("quota_enforcement")
    assert run.codes("quota_enforcement") == {"cleanup_pattern_missing"}, c["findings"]
    [f] = [f for f in c["findings"] if f["code"] == "cleanup_pattern_missing"]
    assert f["evidence"]["patterns"] == ["quota:{tenant_id}:*"]
    assert all(k.startswith(f"quota:{PROBE}:") for k in f["evidence"]["keys"])
    # the marker stays, so the keys are known to be the probe's: the next run, configured right, cleans them
    assert raw_redis.get(f"billing_readiness_probe.{PROBE}") is not None
    isolated.configure(quota={})
    proc, port = quota_api_process("none")
    try:
        isolated.use_api(port)
        again = run_dag(isolated, concurrency_probe=False)
    finally:
        proc.terminate()
        proc.wait(10)
    assert again.check("quota_enforcement")["passed"], again.check("quota_enforcement")["findings"]


# --- 20-21: errors that name what to fix ----------------------------------------------------------------------

@pytest.mark.parametrize("quota, names", [
    ({"setup_keys": {"tenant:{tenant_id}:tier": "{tenant_id}"}}, "config key 'quota.setup_keys' value"),
    ({"probe_tenant_id": "readiness-probe\n"}, "config key 'quota.probe_tenant_id'"),
    ({"tenant_header": "X-Tenant-ID\r\nX-Evil: 1"}, "config key 'quota.tenant_header'"),
    ({"cleanup_patterns": ["quota:{tenant_id}:*\n"]}, "config key 'quota.cleanup_patterns'"),
])
def test_20_21_bad_probe_config_is_refused_naming_the_key(isolated, run_dag, quota, names):
    isolated.configure(quota=quota)
    message = refused(run_dag(isolated))
    assert names in message, message


def test_21_a_table_name_with_a_trailing_newline_is_refused(isolated, run_dag):
    isolated.configure(usage_events={"table": "usage_events\n"})
    assert "config key 'usage_events.table'" in refused(run_dag(isolated), "usage_coverage")
