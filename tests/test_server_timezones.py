"""Checks 1 and 2 on ClickHouse servers whose timezone is not UTC: one with daylight saving time (Europe/Berlin)
and one with a half-hour offset (Asia/Kolkata), started by scripts/zoned-clickhouse.sh. Their rollups' `day` and
`hour` are those zones' (the materialized views call toDate() and toStartOfHour() without a zone), so a gate that
reconciled by UTC days would block these healthy systems every day.

The clock matrix again, on each zoned server: the healthy world passes with zero warnings at every instant, the
DST changes in the window and in the closed month included, and the faults (placed in the server's days where
they are day faults) get their documented verdicts. The invoices stay UTC months (config
invoice.billing_timezone), so check 2 compares usage_daily with the events over the server's days; a run with
the billing zone set to the server's zone is checked too. Last, the whole DAG promotes on the DST server.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from conftest import ROOT, Sandbox, _port_open
from test_clock_matrix import INSTANTS, SIZE, _faults, _run, _services, _world

from billing_readiness.checks import invoice_immutability, usage_coverage
from m12_1_sandbox import dialects, seed

UTC = dt.timezone.utc
ZONES = {z: dialects.server_port(z) for z in ("Europe/Berlin", "Asia/Kolkata")}  # scripts/zoned-clickhouse.sh
ZONED_INSTANTS = {
    **INSTANTS,
    "dst-starts-in-the-window": dt.datetime(2026, 4, 2, 12, 0, tzinfo=UTC),  # Berlin: 29 March had 23 hours
    "on-the-23-hour-day": dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC),
    "in-the-repeated-hour-of-the-25-hour-day": dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
    "dst-ended-in-the-closed-month": dt.datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC),  # 01:00:30 in Berlin
    "first-minute-of-a-month-in-kolkata": dt.datetime(2026, 11, 30, 18, 30, 30, tzinfo=UTC),  # 00:00:30 1 Dec IST
}
FAULT_INSTANTS = [
    "first-minute-of-a-month",
    "last-second-of-a-30-day-month",
    "dst-ended-in-the-closed-month",
    "dst-starts-in-the-window",
    "first-minute-of-a-month-in-kolkata",
]


@pytest.fixture(scope="session")
def zoned(services):
    """zone -> an admin client of the sandbox server running in that zone."""
    from clickhouse_driver import Client

    if not all(_port_open(p) for p in ZONES.values()):
        subprocess.run(["bash", str(ROOT / "scripts" / "zoned-clickhouse.sh"), "start"], check=True)
    clients = {z: Client(host="127.0.0.1", port=p, send_receive_timeout=120) for z, p in ZONES.items()}
    for z, client in clients.items():
        assert client.execute("SELECT timezone()")[0][0] == z
    yield clients
    for client in clients.values():
        client.disconnect()


@pytest.mark.parametrize("readonly", list(dialects.PROFILES))
@pytest.mark.parametrize("zone", list(ZONES))
@pytest.mark.parametrize("instant", list(ZONED_INSTANTS))
def test_the_healthy_world_passes_with_zero_warnings_on_a_server_in_another_zone(
    zoned, monkeypatch, zone, instant, readonly
):
    """And with the checks' user under a readonly=1 profile too (no per-query setting applies)."""
    now = ZONED_INSTANTS[instant]
    plan = seed.default_plan(now=now, **SIZE)
    database = _world(zoned[zone], f"tz_{zone[:6]}_{instant}", plan)
    services = _services(monkeypatch, database, ZONES[zone], dialects.PROFILES[readonly])
    for check in (usage_coverage.CHECK, invoice_immutability.CHECK):
        fails, warns, result = _run(check, services, now)
        assert (fails, warns) == (set(), set()), [f.message for f in result.findings if f.severity != "info"]
    coverage = _run(usage_coverage.CHECK, services, now)[2]
    assert coverage.metrics["days_timezone"] == f"{zone} (the ClickHouse server's timezone())"
    assert coverage.details.coverage.today == now.astimezone(__import__("zoneinfo").ZoneInfo(zone)).date().isoformat()
    assert result.metrics["billing_timezone"] == "UTC" and result.metrics["rollup_timezone"].startswith(zone)


@pytest.mark.parametrize("zone", list(ZONES))
@pytest.mark.parametrize("instant", FAULT_INSTANTS)
@pytest.mark.parametrize("fault", list(_faults(INSTANTS["midday-on-the-1st"])))
def test_every_fault_gets_its_verdict_on_a_server_in_another_zone(zoned, monkeypatch, zone, instant, fault):
    now = ZONED_INSTANTS[instant]
    change, after, expect_1, expect_2 = _faults(now, zone)[fault]
    plan = seed.default_plan(now=now, **SIZE)
    plan = change(plan) if change else plan
    database = _world(zoned[zone], f"tzf_{zone[:6]}_{fault[:18]}_{instant[:14]}", plan, after)
    services = _services(monkeypatch, database, ZONES[zone])
    fails, warns, result = _run(usage_coverage.CHECK, services, now)
    assert (fails, warns) == expect_1, [
        f"{f.severity} {f.code}: {f.message}" for f in result.findings if f.severity != "info"
    ]
    if expect_2 is not None:
        fails, warns, result = _run(invoice_immutability.CHECK, services, now)
        assert (fails, warns) == expect_2, [
            f"{f.severity} {f.code}: {f.message}" for f in result.findings if f.severity != "info"
        ]


@pytest.mark.parametrize("zone", list(ZONES))
def test_invoices_in_the_servers_own_zone_need_no_second_read(zoned, monkeypatch, zone):
    """invoice.billing_timezone set to the server's zone: the month is that zone's, usage_daily is compared with
    the same read, and the month's boundary events land in that zone's month."""
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    database = _world(zoned[zone], f"tzb_{zone[:6]}", seed.default_plan(now=now, **SIZE))
    services = _services(monkeypatch, database, ZONES[zone])
    monkeypatch.setenv("AIRFLOW_VAR_BILLING_READINESS_CONFIG", "{}")
    from test_clock_matrix import PARAMS

    from billing_readiness.checks.contract import RunContext
    from billing_readiness.config import load_config

    ctx = RunContext(load_config({"invoice": {"billing_timezone": zone}}), dict(PARAMS), now, "tz-billing")
    result = invoice_immutability.CHECK.run(services, ctx)
    assert result.passed, [f.message for f in result.findings]
    assert result.metrics["billing_timezone"] == zone and result.metrics["month"] == "2026-11"
    names = [q["name"] for q in result.queries]
    assert "invoice totals from usage_daily (summed)" in names and not any("over the days of" in n for n in names)
    # with UTC invoices the same server needs the events over its own days too
    utc_ctx = RunContext(load_config(), dict(PARAMS), now, "tz-billing-utc")
    names = [q["name"] for q in invoice_immutability.CHECK.run(services, utc_ctx).queries]
    assert (
        f"invoice totals from usage_events, with late arrivals, over the days of {zone} (usage_daily's days)" in names
    )


def test_the_whole_dag_promotes_on_a_server_with_daylight_saving_time(zoned, monkeypatch, tmp_path, run_dag):
    plan = seed.default_plan(large_events=5_000, medium_tenants=1, small_tenants=3)
    seed.seed(zoned["Europe/Berlin"].execute, "rt_tz_dag", plan)
    sb = Sandbox(zoned["Europe/Berlin"], "rt_tz_dag", plan, monkeypatch, tmp_path / "reports")
    sb.ch_port = ZONES["Europe/Berlin"]
    sb.apply_env()
    run = run_dag(sb)
    assert run.state == "success", {c["check"]: c["findings"] for c in run.report["checks"] if not c["passed"]}
    assert all(not run.codes(c["check"], "warn") for c in run.report["checks"]), run.report["checks"]
