"""Eight nights in a row over a changing sandbox, through real Airflow (dag.test), ClickHouse, Redis and HTTP:
green, green, a tenant without usage appears, the fault persists twice, its usage arrives, green, green.
Each run is anchored an hour after the last (a night, compressed: config alerts.remind_every_hours = 2), and
the test asserts what a billing team reads every morning: the streak, since when each finding has been present,
what changed since the last green run, the burn-in (two green runs before promotion), and exactly which
alerts went out: one promotion notice, one failure, one reminder, one recovery, one notice again; no nightly
spam."""

import datetime as dt
import json

from conftest import Run

from m12_1_sandbox import faults

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 3}
GHOST = "tenant-ghost"


def test_a_week_of_nights_streaks_since_when_burn_in_and_alerts(
    make_sandbox, dag, param_defaults, receiver, monkeypatch
):
    sb = make_sandbox("nightly", **SMALL)
    sb.configure(
        connections={"alerts": "alerts_webhook"},
        alerts={"remind_every_hours": 2},
        promotion={"require_green_runs": 2, "count_manual_runs": True},
    )  # dag.test() runs are manual
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port, "password": "/services/T0/B0/x"}),
    )
    first = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=9)
    runs: list[Run] = []

    def night(expect_state: str) -> Run:
        sent = len(receiver.received)
        run = Run(dag.test(run_conf=param_defaults, run_after=first + dt.timedelta(hours=len(runs))), sb)
        assert run.state == expect_state, (len(runs) + 1, run.report and run.report["verdict"], run.tasks)
        run.alerts = [r["json"]["metadata"]["event_payload"] for r in receiver.received[sent:]]
        runs.append(run)
        return run

    def alerts(run: Run) -> list[tuple]:
        return [(a["event"], a.get("reminder", False)) for a in run.alerts]

    # Night 1: green, but the burn-in wants two green runs: the gate skips, the run stays green, nothing is sent.
    n1 = night("success")
    h1 = n1.report["history"]
    assert n1.tasks["promote_to_m12_2"] == "skipped"
    assert h1["streak"]["runs"] == 1 and h1["burn_in"] == {
        "streak": 1,
        "required": 2,
        "more_needed": 1,
        "complete": False,
    }
    assert "1 more needed" in h1["promotion"] and h1["changes_since_green"] is None
    assert alerts(n1) == []

    # Night 2: the second green run promotes, with the first promotion notice.
    n2 = night("success")
    assert n2.tasks["promote_to_m12_2"] == "success" and n2.report["history"]["streak"]["runs"] == 2
    assert n2.report["history"]["streak"]["since"]["run_id"] == n1.dagrun.run_id
    assert alerts(n2) == [("promoted", False)]
    assert n2.alerts[0]["report"].endswith(
        "/billing-readiness/report/billing_readiness/" + n2.dagrun.run_id.replace(":", "%3A").replace("+", "%2B")
    )

    # Night 3: a tenant with a plan and no usage: check 1 fails, one alert; the report says what is new.
    faults.add_active_tenant_without_usage(sb.execute, sb.database, GHOST)
    n3 = night("failed")
    h3 = n3.report["history"]
    assert h3["streak"]["runs"] == 0
    change = h3["changes_since_green"]
    assert change["last_green"]["run_id"] == n2.dagrun.run_id
    [new] = [f for f in change["new"] if f["code"] == "tenant_without_usage"]
    assert new["check"] == "usage_coverage" and new["tenants"] == [GHOST]
    assert alerts(n3) == [("check_failed", False)] and n3.alerts[0]["check"] == "usage_coverage"

    # Nights 4 and 5: it persists. Night 4 is within the reminder interval: silence. Night 5 reminds, once.
    n4 = night("failed")
    n5 = night("failed")
    assert alerts(n4) == []
    assert alerts(n5) == [("check_failed", True)]
    assert n5.alerts[0]["failing_since"] == n3.dagrun.run_id and n5.alerts[0]["failing_runs"] == 3
    assert "still failing" in n5.alerts[0]["subject"]
    [since] = [f for f in n5.report["history"]["findings_since"] if f["code"] == "tenant_without_usage"]
    assert since["since"]["run_id"] == n3.dagrun.run_id and since["runs"] == 3
    assert since["tenants"] == [{"tenant": GHOST, "since": since["since"]}]
    assert "Present since" in n5.markdown and n3.dagrun.run_id in n5.markdown

    # Night 6: the tenant's usage arrives: check 1 passes again, one recovery; the streak starts over (1 of 2).
    faults.insert_events(
        sb.execute,
        sb.database,
        faults._query_events(GHOST, first + dt.timedelta(hours=4, minutes=30), 5, 0.001, "arrived"),
    )
    n6 = night("success")
    assert alerts(n6) == [("recovered", False)] and n6.alerts[0]["failing_since"] == n3.dagrun.run_id
    assert n6.tasks["promote_to_m12_2"] == "skipped" and n6.report["history"]["burn_in"]["more_needed"] == 1
    assert [f["code"] for f in n6.report["history"]["changes_since_green"]["new"]] == []

    # Night 7 promotes again and says so (the first promotion after runs that did not); night 8 promotes quietly.
    n7 = night("success")
    n8 = night("success")
    assert alerts(n7) == [("promoted", False)] and alerts(n8) == []
    assert n8.report["history"]["streak"] == {
        "runs": 3,
        "since": {
            "run_id": n6.dagrun.run_id,
            "as_of": n6.report["history"]["streak"]["since"]["as_of"],
            "report": n6.report["history"]["streak"]["since"]["report"],
        },
    }

    # Every alert of the week, in order: no promotion spam, one reminder.
    assert [e for r in runs for e in alerts(r)] == [
        ("promoted", False),
        ("check_failed", False),
        ("check_failed", True),
        ("recovered", False),
        ("promoted", False),
    ]
    # The trend of check 1's key figure: tenants with failing findings, night by night.
    points = n8.report["history"]["trends"]["usage_coverage"]["points"]
    assert [p["value"] for p in points] == [0, 0, 1, 1, 1, 0, 0, 0]
    html = (n8.dir / "readiness.html").read_text()
    assert html.count('<svg class="trend"') == 4 and "<script" not in html
    assert len(list((sb.report_dir / "billing_readiness" / "_history").glob("*.json"))) == 8
