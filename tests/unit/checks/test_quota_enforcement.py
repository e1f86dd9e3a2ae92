"""Check 4, quota enforcement: its SQL, its verdict and its run() with stand-in services (no servers, no Airflow),
mirroring plugins/billing_readiness/checks/quota_enforcement/."""

import datetime as dt
import json

import pytest
from stand_ins import KeyStoreControl, RowsClickHouse, ScriptedApi, StandInServices, context

from billing_readiness.checks import quota_enforcement as qe
from billing_readiness.checks.quota_enforcement import diagnose as qe_diagnose
from billing_readiness.checks.quota_enforcement import verdict as qe_verdict
from billing_readiness.checks.quota_enforcement import windows
from billing_readiness.checks.quota_enforcement.probe_run import ProbeRun
from billing_readiness.config import load_config
from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.sql import active_tenants_query

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
    services = StandInServices(
        RowsClickHouse(PROBE_CH), http={"quota_api_default": api}, clock=clock, control=KeyStoreControl(keys)
    )
    return services, api, (lambda: qe.CHECK.run(services, context(params, **config)))


def setups(control):
    return [a for a in control.actions if a[0] == "setup"]


def owner(**over):
    base = {
        "dag_id": "billing_readiness",
        "run_id": "scheduled__other-run",
        "task_id": "check_quota_enforcement",
        "try_number": 1,
        "host": "stand-in-host",
        "pid": 99,
    }
    return json.dumps({**base, **over}, sort_keys=True)


CFG = load_config(
    {
        "usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
        "usage_daily": {"table": "metering.daily"},
    }
)


def responses(*statuses, headers=None):
    return [
        {"status": s, "headers": headers or {}, "body": {"error": "quota_exceeded"} if s == 429 else {}}
        for s in statuses
    ]


GOOD_HEADERS = {"Retry-After": "30", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}


UTC = dt.timezone.utc


def ts(*args) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


# --- queries -------------------------------------------------------------------------------------------------------


def test_check_4_probe_usage_sql_and_active_tenants():
    assert qe_diagnose.probe_usage_query(CFG, "readiness-probe").render() == (
        "SELECT 'tenant_quotas' AS source FROM (SELECT 1 FROM tenant_quotas WHERE tenant_id = 'readiness-probe' "
        "LIMIT 1) UNION ALL SELECT 'usage_events' AS source FROM (SELECT 1 FROM metering.events WHERE org_id = "
        "'readiness-probe' LIMIT 1) UNION ALL SELECT 'usage_hourly' AS source FROM (SELECT 1 FROM usage_hourly "
        "WHERE tenant_id = 'readiness-probe' LIMIT 1) UNION ALL SELECT 'usage_daily' AS source FROM (SELECT 1 FROM "
        "metering.daily WHERE tenant_id = 'readiness-probe' LIMIT 1)"
    )
    assert active_tenants_query(CFG).render() == (
        "SELECT DISTINCT tenant_id AS tenant_id FROM tenant_quotas ORDER BY tenant_id"
    )
    configured = active_tenants_query(load_config({"active_tenants_sql": "SELECT id AS tenant_id FROM t"}))
    assert (configured.sql, configured.source) == ("SELECT id AS tenant_id FROM t", "config key 'active_tenants_sql'")


# --- verdict -------------------------------------------------------------------------------------------------------


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
    run = ProbeRun(
        10, responses(*[200] * 10 + [429], headers=GOOD_HEADERS), 7, responses(*[200] * 7 + [429], headers=GOOD_HEADERS)
    )
    run.cleanup.leftovers, run.cleanup.foreign = ["quota:probe:x"], ["quota:probe-2:x"]
    r = qe_verdict.evaluate(qe.CHECK.new_result(), run, "probe")
    assert [f.code for f in r.failures] == ["cleanup_incomplete"]
    assert [f.code for f in r.warnings] == ["cleanup_left_other_keys"]
    run.second = responses(*[200] * 9, headers=GOOD_HEADERS)
    r = qe_verdict.evaluate(qe.CHECK.new_result(), run, "probe")
    assert {f.code for f in r.failures} == {"cleanup_incomplete", "quota_ignored"}


# --- windows -------------------------------------------------------------------------------------------------------


LABELLED = {  # a key of each common form, and the window length its label names
    "quota:p:queries_hourly:2026-12-31-23": 3600,
    "quota:p:q:2026-12-31T23": 3600,
    "quota:p:q:2026123123": 3600,
    "quota:p:queries_daily:2028-02-29": 86400,
    "quota:p:q:20280229": 86400,
    "quota:p:queries_monthly:2026-12": 31 * 86400,
    "quota:p:q:202612": 31 * 86400,
    "quota:p:q:2026-12-31-23-59": 60,
    "rl:p:2026-12-31-23:queries": 3600,
}


def test_a_counters_window_comes_from_its_label_in_any_common_form():
    seen = ts(2026, 12, 31, 23, 59, 30)
    for key, seconds in LABELLED.items():
        assert windows.label(key, seen, "p").seconds == seconds, key
    # an epoch window number (epoch // 60) and a window start in epoch seconds or milliseconds
    assert windows.label(f"quota:p:q:{int(seen) // 60}", seen, "p").seconds == 60
    assert windows.label(f"quota:p:q:{int(seen) // 3600}", seen, "p").seconds == 3600
    assert windows.label(f"quota:p:q:{int(seen) - 30}", seen, "p").unit == "epoch"
    assert windows.label(f"quota:p:q:{(int(seen) - 30) * 1000}", seen, "p").unit == "epoch"
    for plain in ("quota:p:queries_hourly", "quota:p:x:2027-02-29", "quota:p:q:7", "quota:2026-12:x"):
        assert windows.label(plain, seen, "2026-12" if plain.startswith("quota:2026") else "p") is None, plain
    assert windows.key_words_seconds("quota:p:queries_per_minute") == 60
    assert windows.key_words_seconds("quota:hourly-co:queries", "hourly-co") is None  # the tenant's name is no word


@pytest.mark.parametrize(
    "seen",
    [
        ts(2026, 12, 31, 23, 59, 50),
        ts(2027, 2, 28, 23, 0, 5),
        ts(2026, 12, 1, 0, 0, 30),
        ts(2026, 12, 4, 14, 57, 0),
        ts(2028, 2, 29, 12, 0, 0),
    ],
)
def test_healthy_counters_pass_at_any_instant_whatever_their_expiry(seen):
    when = dt.datetime.fromtimestamp(seen, UTC)
    hour_end = (when.replace(minute=0, second=0) + dt.timedelta(hours=1)).timestamp()
    # labelled, TTL to the window's end; labelled, TTL of one window from first use (EXPIRE key 3600 NX); labelled
    # minute keys; unlabelled keys expiring one window after first use, or at the aligned window's end; a log
    first_use = seen - 2
    counters = {
        f"quota:p:queries_hourly:{when:%Y-%m-%d-%H}": int(hour_end - seen) + 1,
        f"quota:p:queries_daily:{when:%Y-%m-%d}": 86400 - 2,
        f"quota:p:per_minute:{when:%Y-%m-%d-%H-%M}": 58,
        "quota:p:queries_hourly": {"ttl": 3598, "type": "string"},
        "quota:p:queries_daily": int(
            (when.replace(hour=0, minute=0, second=0) + dt.timedelta(days=1)).timestamp() - seen
        ),
        "sliding:p:queries_hourly": {"ttl": 3600, "type": "zset", "scores": [first_use, seen - 1]},
    }
    assert windows.judge_counters(counters, seen, first_use, "p") == []


def test_a_counter_that_never_resets_fails_and_a_labelled_one_without_expiry_only_warns():
    seen, first = ts(2026, 12, 4, 14, 57), ts(2026, 12, 4, 14, 56, 58)
    [(sev, code, message)] = windows.judge_counters({"quota:p:queries_hourly": -1}, seen, first, "p")
    assert (sev, code) == ("fail", "counter_never_expires")
    [(sev, code, message)] = windows.judge_counters({"quota:p:queries_hourly:2026-12-04-14": -1}, seen, first, "p")
    assert (sev, code) == ("warn", "counter_never_collected") and "resets" in message
    [(sev, code, message)] = windows.judge_counters({"quota:p:queries_hourly": 86400}, seen, first, "p")
    assert (sev, code) == ("fail", "counter_outlives_window") and "1 hour, from its name" in message
    # the length from the API's policy, else config
    assert windows.judge_counters({"quota:p:q": 600}, seen, first, "p", [60])[0][1] == "counter_outlives_window"
    assert windows.judge_counters({"quota:p:q": 600}, seen, first, "p", [], 3600) == []
    assert windows.judge_counters({"quota:p:gone": -2}, seen, first, "p") == []
    [(sev, code, _)] = windows.judge_counters(
        {"log:p:q": {"ttl": -1, "type": "zset", "scores": [first, seen]}}, seen, first, "p"
    )
    assert (sev, code) == ("warn", "counter_never_collected")
    [(sev, code, _)] = windows.judge_counters(
        {"log:p:q": {"ttl": 60, "type": "zset", "scores": [1.0, 2.0]}}, seen, first, "p"
    )
    assert code == "sliding_log_unrecognised"


def test_an_announced_reset_in_the_past_or_beyond_one_window_warns():
    seen = ts(2026, 12, 1, 21, 30)
    assert windows.judge_reset({"X-RateLimit-Reset": str(int(seen) + 1801)}, seen, 3600) == []
    assert windows.judge_reset({"X-RateLimit-Reset": str((int(seen) + 1801) * 1000)}, seen, 3600) == []
    assert windows.judge_reset({"Retry-After": "1801"}, seen, 3600) == []
    assert windows.judge_reset({"RateLimit": '"hourly";r=0;t=1801'}, seen, 3600) == []
    assert windows.judge_reset({"X-RateLimit-Reset": str(int(seen) - 7200)}, seen, 3600)[0][1] == "reset_in_the_past"
    assert windows.judge_reset({"Retry-After": "86400"}, seen, 3600)[0][1] == "reset_beyond_window"
    assert windows.judge_reset({"RateLimit": '"m";r=0;t=300'}, seen, 60)[0][1] == "reset_beyond_window"
    assert windows.judge_reset({}, seen, 3600) == []
    assert windows.policy_seconds({"RateLimit-Policy": '"hourly";q=10;w=3600, "daily";q=100;w=86400'}) == [3600, 86400]


def test_a_window_boundary_during_a_limit_is_seen_from_keys_remaining_counts_or_the_announced_reset():
    seen = ts(2026, 12, 4, 15, 0, 1)
    two = {"quota:p:q:2026-12-04-14-59": 3, "quota:p:q:2026-12-04-15-00": 8, "quota:p:d:2026-12-04": 11}
    assert "2 windows" in windows.crossed([], two, seen, "p")
    assert windows.crossed([], {"quota:p:q:2026-12-04-15-00": 8, "quota:p:d:2026-12-04": 11}, seen, "p") is None
    ok = [{"status": 200, "headers": {"X-RateLimit-Remaining": str(n)}} for n in (9, 8, 7)]
    assert windows.crossed(ok, {}, seen) is None
    up = ok + [{"status": 200, "headers": {"X-RateLimit-Remaining": "9"}}]
    assert "went up from 7 to 9" in windows.crossed(up, {}, seen)
    reset = [
        {"status": 200, "sent_at": seen - 2, "headers": {"X-RateLimit-Reset": str(int(seen) - 1)}},
        {"status": 200, "sent_at": seen, "headers": {}},
    ]
    assert "after the reset" in windows.crossed(reset, {}, seen)


# --- run -----------------------------------------------------------------------------------------------------------


def test_check_4_probes_two_limits_then_concurrency_and_leaves_no_key():
    other = {"quota:tenant-m01:queries_hourly:2025-03-10-12": "7", "tenant:tenant-m01:tier": "pro"}
    services, api, run = probe(enforcing(), keys=other)
    result = run()
    assert result.passed, result.findings
    assert setups(services.control) == [("setup", 10), ("setup", 7), ("setup", 10)]
    assert len(api.calls) == 11 + 8 + 20 and api.calls[0][2]["headers"] == {"X-Tenant-ID": "readiness-probe"}
    assert services.control.keys == other and services.control.locks == {}  # only the probe's keys went
    assert result.details.cleanup.deleted == [
        "tenant:readiness-probe:limit:queries_hourly",
        "tenant:readiness-probe:tier",
    ]


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


def test_check_4_removes_a_probe_key_outside_the_cleanup_patterns_and_names_the_pattern_to_add():
    services, api, run = probe(enforcing())
    services.control.api_writes = {"usage:readiness-probe:extra": "1"}
    result = run()
    assert result.passed, result.findings  # the probe's verdict on the API stands: all three probes ran
    assert [f.code for f in result.warnings] == ["cleanup_pattern_missing"]
    assert result.warnings[0].evidence["keys"] == ["usage:readiness-probe:extra"]
    assert "add the pattern 'usage:{tenant_id}:*'" in result.warnings[0].message
    assert "usage:readiness-probe:extra" not in services.control.keys and services.control.locks == {}
    assert setups(services.control) == [("setup", 10), ("setup", 7), ("setup", 10)]


def test_check_4_refuses_a_probe_id_with_keys_it_did_not_create_and_touches_nothing():
    stranger = {"tenant:readiness-probe:tier": "pro", "quota:readiness-probe:queries_hourly:x": "3"}
    services, api, run = probe(enforcing(), keys=stranger)
    with pytest.raises(CheckError, match="already has 2 key\\(s\\) the probe did not create"):
        run()
    assert services.control.keys == stranger and services.control.actions == [] and api.calls == []
    assert services.control.locks == {}


def test_check_4_refuses_to_probe_while_another_live_run_holds_the_probe_tenant():
    services, api, run = probe(enforcing())
    services.control.locks["billing_readiness_probe.readiness-probe"] = owner()
    services.alive = {99: True}
    with pytest.raises(
        CheckError,
        match="another run \\(run scheduled__other-run, task check_quota_enforcement "
        "try 1 \\(pid 99 on stand-in-host\\)\\) is probing",
    ):
        run()
    assert api.calls == []


@pytest.mark.parametrize(
    "state, alive, why",
    [
        ("failed", True, "its task instance is failed"),
        ("running", False, "its process 99 on stand-in-host is gone"),
        ("absent", None, "no longer exists"),
    ],
)
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


def test_check_4_runs_a_limit_again_when_a_window_ended_during_it_and_judges_only_the_fresh_run():
    # the first run of limit 10 straddled a minute boundary: request 11 landed in a fresh window and got 200
    status = {n: 200 for n in range(1, 13)}
    status.update({n: (200 if n - 12 <= 10 else 429) for n in range(13, 24)})
    services, api, run = probe(lambda n: status.get(n) or enforcing()(n - 12), {"concurrency_probe": False})
    services.control.counter_script = [
        {
            "quota:readiness-probe:queries_minute:2026-12-04-14-59": 10,
            "quota:readiness-probe:queries_minute:2026-12-04-15-00": 2,
        },
        {"quota:readiness-probe:queries_minute:2026-12-04-15-00": 50},
        {"quota:readiness-probe:queries_minute:2026-12-04-15-00": 45},
    ]
    result = run()
    assert result.passed, result.findings
    assert [f.code for f in result.findings if f.code == "window_rerun"] == ["window_rerun"]
    assert setups(services.control) == [("setup", 10), ("setup", 10), ("setup", 7)]


def test_check_4_blames_the_quota_store_not_the_api_when_it_loses_the_probes_keys():
    services, api, run = probe(lambda n: 200, {"concurrency_probe": False})  # what an API without its keys does
    lost = "the probe's own key(s) tenant:readiness-probe:tier vanished from the quota store"
    services.control.losses = [lost, lost]
    result = run()
    assert [f.code for f in result.failures] == ["quota_store_lost_keys"]
    assert (
        "quota_not_enforced" not in {f.code for f in result.findings} and "twice in a row" in result.failures[0].message
    )
    assert services.control.keys == {}  # cleaned all the same
    # lost once: run again, decide on the second run, and warn
    services, api, run = probe(lambda n: 200 if n <= 12 else enforcing()(n - 12), {"concurrency_probe": False})
    services.control.losses = [lost]
    result = run()
    assert result.passed and [f.code for f in result.warnings] == ["quota_store_lost_keys"]


def test_check_4_tells_a_limiter_counting_per_client_from_a_race():
    first, second = 11, 8

    def per_client(n):
        if n <= first + second:
            return enforcing()(n)
        if n <= first + second + 20:
            return 200  # the burst: every connection its own quota
        return 200  # one at a time over two connections: each got its own quota too

    services, api, run = probe(per_client)
    result = run()
    assert [f.code for f in result.failures] == ["limit_per_client"]
    assert "counts per connection, not per tenant" in result.failures[0].message
    services, api, run = probe(lambda n: 200 if first + second < n <= first + second + 20 else enforcing()(n))
    result = run()  # the same burst, but one at a time the limit holds: a race
    assert [f.code for f in result.failures] == ["over_admission"]
