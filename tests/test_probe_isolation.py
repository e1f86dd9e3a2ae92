"""The quota probe never touches another tenant's Redis keys: every key that is not the probe tenant's is
byte-identical (DUMP) before and after each probe variant, on the real quota API over HTTP and real Redis,
and nothing of the probe is left behind. Configs that would reach other tenants' keys are refused."""

import json
import subprocess
import sys
import threading
import time

import pytest
import redis
from conftest import REDIS_PORT, ROOT, _free_port, _port_open

from m12_1_sandbox import seed

PROBE = "readiness-probe"
SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}
OTHER_KEYS = {  # other tenants' state, and look-alikes of the probe's keys that are not the probe's
    "quota:tenant-m01:queries_hourly:2099-01-01-00": "7",
    "quota:tenant-m01:queries_daily:2099-01-01": "42",
    "quota:tenant-m02:queries_daily:2099-01-01": "3",
    "tenant:tenant-m01:limit:queries_hourly": "50",
    "tenant:tenant-m02:limit:queries_daily": "500",
    "quota:readiness-probe-2:queries_hourly:2099-01-01-00": "1",
    "tenant:readiness-probe-old:tier": "free",
    "quota:m0:queries_hourly:2099-01-01-00": "9",
    "readiness-probe": "a bare key named like the probe",
    "quota:readiness-probe.old:queries_hourly:2099-01-01-00": "2",
}


@pytest.fixture
def raw_redis(services):
    return redis.Redis(host="127.0.0.1", port=REDIS_PORT)


def probe_keys(r) -> list[bytes]:
    return sorted(set(r.scan_iter(match=f"*:{PROBE}:*")) | set(r.scan_iter(match=f"*:{PROBE}")))


def snapshot(r) -> dict:
    """Every key that is not the probe's own: its serialized value and whether it expires."""
    own = set(probe_keys(r))
    return {k: (r.dump(k), r.pttl(k) > 0) for k in r.scan_iter(match="*", count=1000) if k not in own}


@pytest.fixture
def isolated(make_sandbox, raw_redis):
    sb = make_sandbox("iso", **SMALL)
    for key in [k for k in raw_redis.scan_iter(match="*")]:
        raw_redis.delete(key)
    seed.seed_redis(raw_redis, sb.plan)
    for key, value in OTHER_KEYS.items():
        raw_redis.set(key, value)
    raw_redis.set("quota:tenant-m02:queries_monthly:2099-01", "11", ex=3600)
    before = snapshot(raw_redis)
    yield sb
    after, left = snapshot(raw_redis), probe_keys(raw_redis)
    for key in [k for k in raw_redis.scan_iter(match="*")]:  # leave Redis as clean as found, whatever failed
        raw_redis.delete(key)
    assert after == before  # byte-identical, whatever the variant did
    assert left == [] and raw_redis.get(f"billing_readiness_probe.{PROBE}") is None


def quota_api_process(fault="none", *args):
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "m12_1_sandbox.quota_api",
            "--port",
            str(port),
            "--fault",
            fault,
            "--redis-url",
            f"redis://127.0.0.1:{REDIS_PORT}/0",
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not _port_open(port):
        assert proc.poll() is None and time.monotonic() < deadline, "quota API did not start"
        time.sleep(0.1)
    return proc, port


@pytest.mark.parametrize(
    "variant, fault, quota, fails",
    [
        ("Redis setup keys", "none", {}, set()),
        ("timeouts", "slow", {"request_timeout_seconds": 0.5, "cleanup_grace_seconds": 3}, {"api_failing"}),
        ("API failing", "error_5xx", {}, {"api_failing"}),
        ("quota-blind API", "constant_limit", {}, {"quota_ignored"}),
        ("off by one", "off_by_one", {}, {"off_by_one"}),
    ],
)
def test_probe_variants_leave_other_tenants_keys_byte_identical(isolated, run_dag, variant, fault, quota, fails):
    proc, port = quota_api_process(fault)
    try:
        isolated.use_api(port)
        isolated.configure(quota=quota)
        run = run_dag(isolated, concurrency_probe=False) if fault == "constant_limit" else run_dag(isolated)
    finally:
        proc.terminate()
        proc.wait(10)
    c = run.check("quota_enforcement")
    assert run.codes("quota_enforcement") == fails, c["findings"]
    cleanup = c["details"]["cleanup"]
    assert cleanup["leftovers"] == [] and all(k.split(":")[1] == PROBE for k in cleanup["deleted"])
    assert "Cleanup: deleted" in run.markdown


def test_the_admin_endpoint_variant_leaves_other_tenants_keys_byte_identical(isolated, run_dag, monkeypatch):
    proc, port = quota_api_process("none", "--admin-token", "adm1n")
    try:
        isolated.use_api(port)
        isolated.configure(quota={"admin_path": "/admin/quota/{tenant_id}"})
        monkeypatch.setenv(
            "AIRFLOW_CONN_QUOTA_API_DEFAULT",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "adm1n"}),
        )
        run = run_dag(isolated)
    finally:
        proc.terminate()
        proc.wait(10)
    assert run.check("quota_enforcement")["passed"], run.check("quota_enforcement")["findings"]


def test_an_api_crashing_mid_probe_fails_the_check_and_the_probe_still_cleans_up(isolated, run_dag, raw_redis):
    proc, port = quota_api_process("none")
    isolated.use_api(port)

    def kill_once_the_probe_counts():
        """Kill the API once it has counted three of the probe's requests: the first ones were answered."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counters = [k for k in raw_redis.scan_iter(match=f"quota:{PROBE}:queries_hourly:*")]
            if counters and int(raw_redis.get(counters[0]) or 0) >= 3:
                break
            time.sleep(0.002)
        proc.kill()

    killer = threading.Thread(target=kill_once_the_probe_counts, daemon=True)
    killer.start()
    run = run_dag(isolated)
    killer.join(5)
    c = run.check("quota_enforcement")
    assert run.codes("quota_enforcement") == {"api_failing"}, c["findings"]
    statuses = [r["status"] for r in c["details"]["sequential"]]
    assert statuses[0] == 200 and statuses[-1] is None, statuses


@pytest.mark.parametrize(
    "quota, key",
    [
        ({"probe_tenant_id": "tenant-m01:limit"}, "quota.probe_tenant_id"),
        ({"probe_tenant_id": "m0", "cleanup_patterns": ["*{tenant_id}*"]}, "quota.cleanup_patterns"),
        ({"cleanup_patterns": []}, "quota.cleanup_patterns"),
        ({"probe_tenant_id": "tenant-m02:queries_daily"}, "quota.probe_tenant_id"),
    ],
)
def test_configs_that_could_reach_other_tenants_keys_are_refused(isolated, run_dag, quota, key):
    isolated.configure(quota=quota)
    run = run_dag(isolated)
    c = run.check("quota_enforcement")
    assert run.codes("quota_enforcement") == {"check_error"} and key in c["findings"][0]["message"]
    assert c["details"] is None  # refused before any request
