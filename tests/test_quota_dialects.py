"""Check 4 on many faithful quota APIs, not only the sandbox's first one: every way M12.1 allows counters to be
keyed and expired (a window label or none, an epoch window number, a TTL to the window's end or from first use,
a sliding log), windows of an hour and of a minute, a probe started a second before a window boundary, a quota
store that loses the probe's keys, and a limiter that counts per connection. Real quota API over HTTP, real
Redis, real Airflow (dag.test(); the boundary test calls the check in-process at a chosen instant)."""

import datetime as dt
import time

import pytest

from m12_1_sandbox import dialects

SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}
DIALECTS = {name: (switches, quota) for name, (switches, quota, _) in dialects.QUOTA.items()}
MINUTE_QUOTA = dialects.MINUTE_QUOTA


@pytest.fixture
def quota_sandbox(make_sandbox, redis_client):
    sb = make_sandbox("dq_dialects", **SMALL)
    yield sb
    assert redis_client.keys("*readiness-probe*") == []  # whatever happened, the probe cleaned up


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_healthy_quota_api_passes_check_4_without_a_warning_in_every_dialect(
    quota_sandbox, quota_api, run_dag, dialect
):
    switches, quota = DIALECTS[dialect]
    quota_sandbox.use_api(quota_api("none", *switches))
    quota_sandbox.configure(quota=quota)
    run = run_dag(quota_sandbox)
    c = run.check("quota_enforcement")
    assert (run.codes("quota_enforcement"), run.codes("quota_enforcement", "warn")) == (set(), set()), c["findings"]
    assert c["metrics"]["concurrent_accepted"] == 10
    assert all(seen["counters"] for seen in c["details"]["windows"])  # the counters were seen and judged


@pytest.mark.parametrize(
    "switches, fail, warn",
    [
        (("--fault", "no_expiry"), {"counter_never_expires"}, set()),  # plain keys that never expire: never reset
        (("--fault", "store_loss_once"), set(), {"quota_store_lost_keys"}),  # lost once: run again, decided
        (("--fault", "store_loss"), {"quota_store_lost_keys"}, set()),  # lost every time: the store is named
        (("--limit-by", "connection"), {"limit_per_client"}, set()),  # counts per connection, not per tenant
    ],
)
def test_each_quota_store_or_limiter_fault_has_its_own_verdict(quota_sandbox, quota_api, run_dag, switches, fail, warn):
    fault = switches[1] if switches[0] == "--fault" else "none"
    quota_sandbox.use_api(quota_api(fault, *([] if switches[0] == "--fault" else switches)))
    run = run_dag(quota_sandbox)
    c = run.check("quota_enforcement")
    assert (run.codes("quota_enforcement"), run.codes("quota_enforcement", "warn")) == (fail, warn), c["findings"]
    messages = " ".join(f["message"] for f in c["findings"])
    if fault.startswith("store_loss"):
        assert "connection 'redis_default'" in messages and "quota_not_enforced" not in messages
    if fault == "store_loss":
        assert "twice in a row" in messages
    if "connection" in switches:
        assert "counts per connection, not per tenant" in messages


def _wait_until_second(second: float) -> None:
    """Sleep until the wall clock is at `second` past a minute (the next such instant at least 3 s away)."""
    now = time.time()
    target = now - now % 60 + second
    while target - now < 3:
        target += 60
    time.sleep(target - now)


def test_a_probe_started_a_second_before_a_minute_boundary_reruns_the_cut_limit_and_passes(
    quota_sandbox, quota_api, services, airflow_db
):
    """A minute-window API answering in 150 ms: 11 requests take ~1.7 s, so a probe started at :59 is cut by the
    boundary (its 11th request counts in a fresh window and gets 200). Without the guard wait, the probe sees
    the two windows' keys, runs that limit again in the fresh window, and decides on it."""
    from billing_readiness.checks import quota_enforcement as qe
    from billing_readiness.checks.contract import RunContext
    from billing_readiness.config import load_config
    from billing_readiness.core.params import strict_params
    from billing_readiness.shell.operators.services import AirflowServices

    quota_sandbox.use_api(
        quota_api("none", "--keys", "labelled", "--expiry", "first_use", "--window", "minute", "--delay-ms", "150")
    )
    cfg = load_config({**quota_sandbox.config, "quota": {**MINUTE_QUOTA, "window_guard_seconds": 0}})
    ctx = RunContext(
        cfg, strict_params([qe.CHECK]), dt.datetime.now(dt.timezone.utc), "boundary-run", "billing_readiness"
    )
    _wait_until_second(59.0)
    started = time.time()
    result = qe.CHECK.run(AirflowServices(), ctx)
    assert started % 60 >= 58.9
    assert result.passed, [(f.code, f.message) for f in result.findings]
    reruns = [f for f in result.findings if f.code == "window_rerun"]
    assert reruns and "written under 2 windows" in reruns[0].message, result.findings
    assert [w.limit for w in result.details.windows] == [10, 7]
    assert [r.status for r in result.details.sequential] == [200] * 10 + [429]


@pytest.mark.parametrize("limit_by, fail", [("tenant", set()), ("api_key", {"limit_per_client"})])
def test_other_api_keys_of_the_probe_tenant_tell_a_limiter_counting_per_key(
    quota_sandbox, quota_api, run_dag, monkeypatch, limit_by, fail
):
    """Config quota.client_connections names a second connection with another API key of the probe tenant: the
    probe alternates between the keys, so a limiter that counts per key (each key its own quota) fails, one that
    counts per tenant passes with no warning."""
    import json

    port = quota_api("none", "--limit-by", limit_by)
    quota_sandbox.use_api(port)
    monkeypatch.setenv(
        "AIRFLOW_CONN_QUOTA_API_KEY2",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "probe-key-2"}),
    )
    quota_sandbox.configure(quota={"client_connections": ["quota_api_key2"]})
    run = run_dag(quota_sandbox)
    c = run.check("quota_enforcement")
    assert (run.codes("quota_enforcement"), run.codes("quota_enforcement", "warn")) == (fail, set()), c["findings"]
    if fail:
        [f] = [f for f in c["findings"] if f["code"] == "limit_per_client"]
        assert "counts per API key" in f["message"] and "quota_api_key2" in f["message"]
        assert "probe-key-2" not in json.dumps(run.report)  # the key itself is a secret


API_FAULTS = {  # the quota API's misbehaviour -> check 4's (fails, warns), whatever the dialect
    "not_enforced": ({"quota_not_enforced"}, set()),
    "off_by_one": ({"off_by_one"}, set()),
    "racy": ({"over_admission"}, set()),
    "error_5xx": ({"api_failing"}, set()),
    "constant_limit": ({"quota_ignored"}, set()),
    "no_headers": (set(), {"missing_retry_after", "missing_rate_limit_headers"}),
    "stale_reset": (set(), {"reset_in_the_past"}),
}


@pytest.fixture(scope="module")
def matrix_db(ch):
    """One seeded database for the whole fault matrix (check 4 reads only the probe tenant's absence from it)."""
    from m12_1_sandbox import seed

    plan = seed.default_plan(**SMALL)
    seed.seed(ch.execute, "rt_dq_fault_matrix", plan)
    return plan


@pytest.mark.parametrize("fault", list(API_FAULTS))
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_quota_api_fault_gets_its_verdict_in_every_dialect(
    matrix_db, ch, monkeypatch, tmp_path, quota_api, redis_client, dialect, fault
):
    """The real quota API of each dialect with each misbehaviour, probed by check 4 in-process through the real
    hooks (Redis, HTTP; ClickHouse for the probe tenant's guard): the documented verdict every time."""
    from conftest import Sandbox

    from billing_readiness.checks import quota_enforcement as qe
    from billing_readiness.checks.contract import RunContext
    from billing_readiness.config import load_config
    from billing_readiness.core.params import strict_params
    from billing_readiness.shell.operators.services import AirflowServices

    switches, quota = DIALECTS[dialect]
    sb = Sandbox(ch, "rt_dq_fault_matrix", matrix_db, monkeypatch, tmp_path)
    sb.use_api(quota_api(fault, *switches))
    ctx = RunContext(
        load_config({**sb.config, "quota": quota}),
        strict_params([qe.CHECK]),
        dt.datetime.now(dt.timezone.utc),
        f"matrix-{dialect}-{fault}",
        "billing_readiness",
    )
    result = qe.CHECK.run(AirflowServices(), ctx)
    codes = (
        {f.code for f in result.findings if f.severity == "fail"},
        {f.code for f in result.findings if f.severity == "warn"},
    )
    assert codes == API_FAULTS[fault], [(f.code, f.message) for f in result.findings]
    assert redis_client.keys("*readiness-probe*") == []
