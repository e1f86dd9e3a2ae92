"""Checks 1 and 2 on the real ClickHouse server at a grid of instants, with every fault placed relative to now.

The clock is an input: each case seeds the sandbox with the instant as its "now" (faults.* place their damage
relative to it) and runs the check with `RunContext.now` at that instant, through the real ClickHouse hook.
The healthy world (weekends, quiet nights, a tenant growing 10x over the window, one onboarded mid-window)
must pass with zero warnings at every instant; every fault must give exactly its documented verdict.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from billing_readiness.checks import invoice_immutability, usage_coverage
from billing_readiness.checks.contract import RunContext
from billing_readiness.config import load_config
from billing_readiness.core.params import strict_params
from billing_readiness.core.timewindow import Window, last_closed_month
from billing_readiness.shell.operators.services import AirflowServices
from m12_1_sandbox import faults, seed

UTC = dt.timezone.utc
NON_FINITE = re.compile(r"\b(nan|inf|infinity)\b|e\+?\d{2,}", re.IGNORECASE)
PARAMS = strict_params([usage_coverage.CHECK, invoice_immutability.CHECK])  # the checks' own strict params
SIZE = {"large_events": 60_000, "medium_tenants": 2, "small_tenants": 4}

INSTANTS = {
    "first-minute-of-a-month": dt.datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC),
    "midday-on-the-1st": dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC),
    "last-second-of-a-30-day-month": dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
    "last-second-of-a-31-day-month": dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    "last-second-of-a-28-day-month": dt.datetime(2027, 2, 28, 23, 59, 59, tzinfo=UTC),
    "2359h30-on-a-29-day-february": dt.datetime(2028, 2, 29, 23, 59, 30, tzinfo=UTC),
    "window-starting-last-year": dt.datetime(2027, 1, 10, 0, 0, 30, tzinfo=UTC),
    "a-quiet-night": dt.datetime(2026, 12, 16, 3, 30, 0, tzinfo=UTC),
    "a-sunday-afternoon": dt.datetime(2026, 12, 6, 15, 0, 0, tzinfo=UTC),
}


class BaselinesInMemory(AirflowServices):
    """The real ClickHouse hook (connection from the environment); no baseline yet: every case is a first run."""

    def baseline(self, key):
        return None


def _services(monkeypatch, database: str, ch_port: int | None = None, ch_login: str = "readiness"):
    from conftest import CH_PORT, connection_env

    for key, value in connection_env(database, ch_port=ch_port or CH_PORT, ch_login=ch_login).items():
        monkeypatch.setenv(key, value)
    return BaselinesInMemory()


def _run(check, services, now: dt.datetime):
    ctx = RunContext(
        load_config(), dict(PARAMS), now, "clock-matrix", "billing_readiness", logging.getLogger("clock-matrix")
    )
    result = check.run(services, ctx)
    codes = lambda sev: {f.code for f in result.findings if f.severity == sev}
    return codes("fail"), codes("warn"), result


def _world(ch, name: str, plan, after_seed=None):
    database = re.sub(r"[^A-Za-z0-9_]", "_", f"rt_clock_{name}")[:60]
    seed.seed(ch.execute, database, plan)
    if after_seed:
        after_seed(ch.execute, database)
    return database


@pytest.mark.parametrize("instant", list(INSTANTS), ids=list(INSTANTS))
def test_the_healthy_world_passes_with_zero_warnings_at_every_instant(ch, monkeypatch, instant):
    now = INSTANTS[instant]
    plan = seed.default_plan(now=now, **SIZE)
    services = _services(monkeypatch, _world(ch, f"healthy_{instant}", plan))
    for check in (usage_coverage.CHECK, invoice_immutability.CHECK):
        fails, warns, result = _run(check, services, now)
        assert (fails, warns) == (set(), set()), [f.message for f in result.findings if f.severity != "info"]
    # the shapes are there: a tenant onboarded in the window (early in a month), growth, weekends
    assert any(f.code == "ok" for f in result.findings)


SMALL_SYSTEMS = {"tiny": {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}, "small": SIZE}
QUIET_TO_BUSY = {  # a quiet (weekend) night just ended: the silence began in the night, days busy again at 06:00
    "saturday-0610": dt.datetime(2026, 12, 5, 6, 10, tzinfo=UTC),
    "sunday-0620": dt.datetime(2026, 12, 6, 6, 20, tzinfo=UTC),
    "monday-0605": dt.datetime(2026, 12, 7, 6, 5, tzinfo=UTC),
}


@pytest.mark.parametrize("size", list(SMALL_SYSTEMS))
@pytest.mark.parametrize("instant", list(QUIET_TO_BUSY))
def test_a_small_system_just_after_its_quiet_night_is_not_stalled(ch, monkeypatch, size, instant):
    """A system of a few events an hour at night is often silent for an hour and a half by 06:10 on a Saturday,
    while earlier days were busy again by then. Healthy: it passes (seen red in CI at Saturday 06:10 UTC)."""
    now = QUIET_TO_BUSY[instant]
    plan = seed.default_plan(now=now, **SMALL_SYSTEMS[size])
    services = _services(monkeypatch, _world(ch, f"quiet_{size}_{instant}", plan))
    fails, warns, result = _run(usage_coverage.CHECK, services, now)
    assert (fails, warns) == (set(), set()), [f.message for f in result.findings if f.severity != "info"]
    assert result.metrics["silence_by_ingestion_s"] >= 0


def _faults(now: dt.datetime, tz: str = "UTC") -> dict:
    """fault -> (plan change, statements after seeding, check 1's (fails, warns), check 2's (fails, warns)), for a
    server whose rollups cut days in `tz` (the invoices stay UTC months)."""
    window = Window(now, 30, tz=tz)
    hour = now.replace(minute=0, second=0, microsecond=0)
    month = last_closed_month(now)
    month_start = dt.datetime(now.year, now.month, 1, tzinfo=UTC)
    last_closed_hour = month.end - dt.timedelta(hours=1)
    in_window = last_closed_hour >= window.start
    closed_drift = {"rollup_drift_daily"} if month.last_day >= window.first_day else set()
    yesterday = window.today - dt.timedelta(days=1)
    rollup_month = month.in_zone(tz)  # the days usage_daily is compared over (check 2)
    return {
        "hourly-drift-this-hour": (
            None,
            lambda x, db: faults.drift_hourly_rollup(x, db, "tenant-m01", hour),
            ({"rollup_drift_hourly"}, set()),
            (set(), set()),
        ),
        "hourly-drift-last-complete-hour": (
            None,
            lambda x, db: faults.drift_hourly_rollup(x, db, "tenant-m01", hour - dt.timedelta(hours=1)),
            ({"rollup_drift_hourly"}, set()),
            (set(), set()),
        ),
        "daily-drift-today": (
            None,
            lambda x, db: faults.drift_daily_rollup(x, db, "tenant-s02", window.today, 2.5),
            ({"rollup_drift_daily"}, set()),
            (set(), set()),
        ),
        "daily-drift-yesterday": (
            None,
            lambda x, db: faults.drift_daily_rollup(x, db, "tenant-s02", window.today - dt.timedelta(days=1), 2.5),
            ({"rollup_drift_daily"}, set()),
            ({"invoice_rollup_mismatch"}, set())
            if rollup_month.first_day <= yesterday <= rollup_month.last_day
            else (set(), set()),
        ),
        "hourly-drift-first-hour-of-the-month": (
            None,
            lambda x, db: faults.drift_hourly_rollup(x, db, "tenant-m01", month_start),
            ({"rollup_drift_hourly"}, set()),
            (set(), set()),
        ),
        "missing-yesterday": (
            lambda p: faults.with_outage(p, "tenant-s01", yesterday, 1, tz),
            None,
            ({"missing_days"}, set()),
            None,
        ),
        "missing-first-day-of-the-window": (
            lambda p: faults.with_outage(p, "tenant-s01", window.first_day, 1, tz),
            None,
            ({"missing_days"}, set()),
            None,
        ),
        "daily-drift-last-day-of-the-closed-month": (
            None,
            lambda x, db: faults.drift_daily_rollup(x, db, "tenant-s02", month.last_day, 2.5),
            (closed_drift, set()),
            ({"invoice_rollup_mismatch"}, set()),
        ),
        "stalled-ingest": (lambda p: faults.stalled_ingest(p, hours=2), None, ({"ingest_stalled"}, set()), None),
        "silent-large-tenant": (
            lambda p: faults.silent_tenant(p, "acme-corp", hours=6),
            None,
            (set(), {"tenant_silent"}),
            None,
        ),
        "non-finite-cost-now": (
            None,
            lambda x, db: faults.add_value_events(
                x, db, "tenant-m01", now - dt.timedelta(minutes=10), float("nan"), n=2, tag="pricing-bug"
            ),
            ({"non_finite_values"}, set()),
            ({"non_finite_values"}, set()) if now - dt.timedelta(minutes=10) < month.end else (set(), set()),
        ),
        "infinite-cost-last-hour-of-the-closed-month": (
            None,
            lambda x, db: faults.add_value_events(x, db, "tenant-m01", last_closed_hour, float("inf"), tag="overflow"),
            ({"non_finite_values"} if in_window else set(), set()),
            ({"non_finite_values"}, set()),
        ),
        "negative-cost-yesterday": (
            None,
            lambda x, db: faults.add_value_events(x, db, "tenant-s01", now - dt.timedelta(days=1), -1.25, tag="refund"),
            (set(), {"negative_costs"}),
            (set(), {"negative_costs"}) if (now - dt.timedelta(days=1)) < month.end else (set(), set()),
        ),
        "late-backfill-last-hour-of-the-closed-month": (
            None,
            lambda x, db: faults.backfill_closed_month(
                x, db, "tenant-s01", last_closed_hour - dt.timedelta(days=3), ingested=now
            ),
            (set(), set()),
            ({"late_arrivals"}, set()),
        ),
    }


FAULT_NAMES = list(_faults(INSTANTS["midday-on-the-1st"]))


@pytest.mark.parametrize("instant", list(INSTANTS), ids=list(INSTANTS))
@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_every_fault_placed_relative_to_now_gets_its_verdict_at_every_instant(ch, monkeypatch, instant, fault):
    now = INSTANTS[instant]
    change, after, expect_1, expect_2 = _faults(now)[fault]
    plan = seed.default_plan(now=now, **SIZE)
    plan = change(plan) if change else plan
    services = _services(monkeypatch, _world(ch, f"{fault[:20]}_{instant[:16]}", plan, after))
    fails, warns, result = _run(usage_coverage.CHECK, services, now)
    shown = [f"{f.severity} {f.code}: {f.message}" for f in result.findings if f.severity != "info"]
    assert (fails, warns) == expect_1, shown
    if expect_2 is not None:
        fails, warns, result = _run(invoice_immutability.CHECK, services, now)
        shown = [f"{f.severity} {f.code}: {f.message}" for f in result.findings if f.severity != "info"]
        assert (fails, warns) == expect_2, shown
    for f in result.findings:  # no message ever shows a figure computed from NaN or infinity
        assert not NON_FINITE.search(f.message.replace("a NaN or infinite", "")), f.message
