"""The run history's answers and the alert policy, on records built by hand (plain Python, no I/O)."""

import datetime as dt

import pytest

from billing_readiness.config import ConfigError, load_config
from billing_readiness.reporting import alert_policy, history, history_store
from billing_readiness.reporting.promotion import decide

CFG = load_config()
T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.timezone.utc)


def rec(
    i: int,
    green: bool = True,
    *,
    counts: bool = True,
    promoted: bool | None = None,
    tenants=(),
    figure=None,
    warn=(),
    run_type="scheduled",
) -> dict:
    """The record of night i (anchored i days after T0)."""
    findings = (
        {"tenant_without_usage": {"severity": "fail", "count": len(tenants), "tenants": sorted(tenants)}}
        if tenants
        else {}
    )
    findings.update({code: {"severity": "warn", "count": 1, "tenants": []} for code in warn})
    return {
        "run_id": f"night{i}",
        "as_of": (T0 + dt.timedelta(days=i)).isoformat(),
        "green": green,
        "counts": counts,
        "run_type": run_type,
        "promoted": green if promoted is None else promoted,
        "checks": {
            "usage_coverage": {
                "title": "Check 1",
                "passed": green,
                "findings": findings,
                "figure": float(len(tenants)) if figure is None else figure,
                "metrics": {"active_tenants": 100.0},
            }
        },
    }


def newest_first(*records):
    return sorted(records, key=lambda r: r["as_of"], reverse=True)


def test_the_streak_counts_green_runs_that_count_and_a_failed_run_of_any_kind_breaks_it():
    assert history.green_streak(newest_first(rec(1), rec(2), rec(3)))[0] == 3
    n, since = history.green_streak(newest_first(rec(1), rec(2, False), rec(3), rec(4, counts=False), rec(5)))
    assert (n, since["run_id"]) == (2, "night3")  # a manual green run neither adds nor breaks
    assert history.green_streak(newest_first(rec(1), rec(2, False, counts=False), rec(3)))[0] == 1


def test_manual_and_relaxed_runs_count_only_where_configured():
    p = CFG["promotion"]
    assert history.counts_toward_streak("scheduled", [], p)
    assert not history.counts_toward_streak("manual", [], p)
    assert not history.counts_toward_streak("asset_triggered", [], p)
    assert not history.counts_toward_streak("scheduled", ["lookback_days = 7 (strict: 30)"], p)
    assert history.counts_toward_streak("manual", [], {**p, "count_manual_runs": True})
    assert history.counts_toward_streak("scheduled", ["x"], {**p, "count_relaxed_runs": True})


def test_burn_in_refuses_until_enough_green_runs_and_says_how_many_more():
    cfg = {**CFG, "promotion": {**CFG["promotion"], "require_green_runs": 3}}
    waiting = decide(True, [], "scheduled", cfg, newest_first(rec(1)))
    assert not waiting.promote and waiting.refused is None
    assert "2 of 3 consecutive green runs; 1 more needed" in waiting.waiting
    assert decide(True, [], "scheduled", cfg, newest_first(rec(1), rec(2))).promote
    manual = decide(True, [], "manual", cfg, newest_first(rec(1), rec(2)))
    assert not manual.promote and "this run does not count: a manual run" in manual.waiting
    unreadable = decide(True, [], "scheduled", cfg, None)
    assert not unreadable.promote and "report.dir" in unreadable.refused
    assert decide(True, [], "scheduled", CFG, None).promote  # no burn-in: the history is not needed
    assert decide(False, [], "scheduled", CFG, []).refused


def test_since_when_per_finding_and_per_tenant():
    records = newest_first(
        rec(1, tenants=["a"]),
        rec(2, False, tenants=["a", "b"]),
        rec(3, False, tenants=["b", "c"]),
        rec(4, False, tenants=["b", "c"]),
    )
    since = history.finding_since(records)
    assert since[("usage_coverage", "tenant_without_usage")]["run_id"] == "night1"
    per_tenant = history.tenant_since(records, "usage_coverage", "tenant_without_usage")
    assert {t: r["run_id"] for t, r in per_tenant.items()} == {"b": "night2", "c": "night3"}


def test_changes_since_the_last_green_run_new_gone_and_moved_beyond_the_noise_band():
    last_green = rec(1, warn=["negative_cost"], figure=0.0)
    now = rec(3, False, tenants=["x"], figure=1.0)
    now["checks"]["usage_coverage"]["metrics"]["active_tenants"] = 130.0  # +30 % of 100: moved
    c = history.changes_since_green(newest_first(last_green, rec(2, False), now), 0.2)
    assert c["last_green"]["run_id"] == "night1"
    assert [(f["code"], f["tenants"]) for f in c["new"]] == [("tenant_without_usage", ["x"])]
    assert [f["code"] for f in c["gone"]] == ["negative_cost"]
    assert [(m["figure"], m["before"], m["now"]) for m in c["moved"]] == [("active_tenants", 100.0, 130.0)]
    assert not history.moved_beyond(100.0, 119.0, 0.2) and not history.moved_beyond(1.0, 2.0, 0.2)
    assert history.moved_beyond(0.8, 1.2, 0.2) and history.changes_since_green([now], 0.2) is None


def test_a_failure_alerts_first_then_once_per_interval_then_recovers():
    alerts = {"notify_on": ["failure", "recovery"], "remind_every_hours": 48}
    at = lambda i: (T0 + dt.timedelta(days=i)).isoformat()
    assert alert_policy.failure("usage_coverage", newest_first(rec(1)), at(2), alerts).why == "first failure"
    assert alert_policy.failure("usage_coverage", [], at(2), alerts).send
    spell = newest_first(rec(1), rec(2, False))
    assert not alert_policy.failure("usage_coverage", spell, at(3), alerts).send  # 24 h into the spell
    reminder = alert_policy.failure("usage_coverage", newest_first(*spell, rec(3, False)), at(4), alerts)
    assert reminder.send and reminder.since["run_id"] == "night2" and reminder.runs == 3
    assert not alert_policy.failure(
        "usage_coverage", newest_first(*spell, rec(3, False), rec(4, False)), at(5), alerts
    ).send
    back = alert_policy.recovery("usage_coverage", newest_first(*spell, rec(3, False)), alerts)
    assert back.send and back.since["run_id"] == "night2" and back.runs == 2
    assert not alert_policy.recovery("usage_coverage", newest_first(rec(1)), alerts).send
    assert not alert_policy.failure("usage_coverage", [], at(2), {**alerts, "notify_on": ["recovery"]}).send


def test_promotion_notices_only_the_first_after_a_run_that_did_not_promote_unless_asked():
    quiet = {"notify_on": ["failure", "recovery"], "remind_every_hours": 24}
    assert alert_policy.promotion([], quiet).send
    assert not alert_policy.promotion(newest_first(rec(1)), quiet).send
    assert alert_policy.promotion(newest_first(rec(1), rec(2, False)), quiet).send
    assert alert_policy.promotion(newest_first(rec(1, promoted=False)), quiet).send  # after a burn-in
    assert alert_policy.promotion(newest_first(rec(1)), {**quiet, "notify_on": ["promotion"]}).send


def test_new_warnings_are_counted_by_code_and_the_first_named():
    alerts = {"notify_on": ["warnings"], "remind_every_hours": 24}
    findings = [{"severity": "warn", "code": "negative_cost", "message": f"m{i}"} for i in range(5)]
    findings.append({"severity": "warn", "code": "tenant_silent", "message": "old news"})
    fresh = alert_policy.new_warnings("usage_coverage", findings, newest_first(rec(1, warn=["tenant_silent"])), alerts)
    assert fresh == {"counts": {"negative_cost": 5}, "named": ["m0", "m1", "m2"]}
    assert alert_policy.new_warnings("usage_coverage", findings, [], {**alerts, "notify_on": ["failure"]}) == {}


def test_record_names_sort_by_anchor_and_the_store_prunes_by_retention(tmp_path):
    cfg = {**CFG, "report": {**CFG["report"], "dir": str(tmp_path)}}
    for i in range(5):
        history_store.write(cfg, "d", {**rec(i), "run_id": f"scheduled__night:{i}+00"})
    names = sorted(p.name for p in (tmp_path / "d" / "_history").iterdir())
    assert names[0] == "20261128T030000Z__scheduled__night_0_00.json"
    assert [r["run_id"] for r in history_store.load(cfg, "d", limit=2)] == [
        "scheduled__night:4+00",
        "scheduled__night:3+00",
    ]
    assert len(history_store.load(cfg, "d", before=(T0 + dt.timedelta(days=2)).isoformat())) == 2
    (tmp_path / "d" / "_history" / "20261201T030000Z__torn.json").write_text('{"run_id": ')  # a crashed writer
    assert len(history_store.load(cfg, "d")) == 5
    cfg["history"] = {**cfg["history"], "retention_days": 7}
    assert history_store.prune(cfg, "d", T0 + dt.timedelta(days=9, hours=1)) == 3
    assert len(history_store.load(cfg, "d")) == 2 and history_store.load(cfg, "other") == []


@pytest.mark.parametrize(
    "override, key",
    [
        ({"alerts": {"notify_on": ["failure", "fridays"]}}, "alerts.notify_on"),
        ({"alerts": {"remind_every_hours": 0}}, "alerts.remind_every_hours"),
        ({"promotion": {"require_green_runs": 0}}, "promotion.require_green_runs"),
        ({"history": {"retention_days": 1}}, "history.retention_days"),
        ({"report": {"base_url": "reports.example.com"}}, "report.base_url"),
    ],
)
def test_bad_history_and_alert_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(override)
