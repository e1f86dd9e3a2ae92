"""Check 3, dashboard latency: its SQL, its verdict and its run() with stand-in services (no servers, no Airflow),
mirroring plugins/billing_readiness/checks/dashboard_latency/."""

import json

import pytest
from stand_ins import NOW, RowsClickHouse, ScriptedApi, StandInServices, context

from billing_readiness.checks import dashboard_latency as dl
from billing_readiness.checks.dashboard_latency import panels as dl_panels
from billing_readiness.checks.dashboard_latency import queries as dl_queries
from billing_readiness.checks.dashboard_latency import verdict as dl_verdict
from billing_readiness.config import load_config
from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.timewindow import Window

TOP = {"largest tenants by events (usage_hourly)": [{"t": "acme", "events": 100}]}


EXPORT = {
    "title": "d",
    "time": {"from": "now-6h"},
    "panels": [
        {"title": "From export", "targets": [{"rawSql": "SELECT 1 FROM usage_hourly WHERE tenant_id = '$tenant'"}]}
    ],
}


def latency_run(services, **config):
    return dl.CHECK.run(services, context(**config))


CFG = load_config(
    {
        "usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
        "usage_daily": {"table": "metering.daily"},
    }
)


WINDOW = Window(NOW, 3)  # 2025-03-07 .. 2025-03-10 12:00 UTC


def loads(times, panel_errors=None):
    return [
        {
            "load_s": t,
            "panels": [
                {
                    "title": "p",
                    "elapsed_s": t,
                    "rows_read": 10,
                    "bytes_read": 80,
                    "result_rows": 1,
                    "error": panel_errors,
                }
            ],
        }
        for t in times
    ]


def latency(measurements, panels):
    return dl_verdict.evaluate(dl.CHECK.new_result(), measurements, 1.0, "usage_events", panels)


# --- queries -------------------------------------------------------------------------------------------------------


def test_check_3_largest_tenants_sql():
    assert (
        dl_panels.top_tenants_query(CFG, WINDOW, 2).render()
        == """\
SELECT tenant_id AS t, sum(event_count) AS events
FROM usage_hourly
WHERE hour >= toDateTime(1741305600)
GROUP BY t
ORDER BY events DESC, t
LIMIT 2"""
    )


# --- verdict -------------------------------------------------------------------------------------------------------


def test_dashboard_values_are_pasted_as_grafana_pastes_them_and_a_quote_is_refused():
    panel = dl_panels.Panel(
        "p", "SELECT 100 * x % 7 FROM usage_hourly WHERE tenant_id = '$tenant' AND $__timeFilter(hour)"
    )
    q = dl_queries.bind(panel, "tenant", "acme-corp", 100, 200)
    assert (
        q.sql
        == (
            "SELECT 100 * x % 7 FROM usage_hourly WHERE tenant_id = 'acme-corp' "
            "AND hour >= toDateTime(100) AND hour <= toDateTime(200)"
        )
        and q.render() == q.sql
    )
    with pytest.raises(
        dl_panels.DashboardError, match="panel 'p': variable 'tenant' has the value \"evil' OR 1=1 --\""
    ):
        dl_queries.bind(panel, "tenant", "evil' OR 1=1 --", 100, 200)
    with pytest.raises(dl_panels.DashboardError, match="panel 'x': '\\$region' is no variable of the dashboard"):
        dl_queries.bind(dl_panels.Panel("x", "SELECT 1 WHERE r = '$region'"), "tenant", "t", 0, 1)


def test_dashboard_export_parsing_and_raw_table_flag():
    export = {
        "dashboard": {
            "panels": [
                {"type": "row", "panels": [{"title": "A", "targets": [{"rawSql": "SELECT 1 FROM usage_events"}]}]},
                {"title": "B", "targets": [{"query": "SELECT 2 FROM usage_hourly"}, {"rawSql": "", "hide": True}]},
                {"title": "text", "type": "text"},
            ]
        }
    }
    panels = dl_panels.panels_from_export(export)
    assert [p.title for p in panels] == ["A", "B"]
    assert dl_panels.reads_raw_table(panels[0].sql, "usage_events")
    assert not dl_panels.reads_raw_table(panels[1].sql, "usage_events")
    with pytest.raises(dl_panels.DashboardError):
        dl_panels.panels_from_export({"panels": [{"title": "t", "type": "text"}]})


def test_percentiles_nearest_rank():
    samples = [0.1 * i for i in range(1, 21)]
    from billing_readiness.core.quantile import quantile

    assert quantile(samples, 0.95, "nearest_rank") == pytest.approx(1.9)
    assert quantile(samples, 0.50, "nearest_rank") == pytest.approx(1.0)
    assert quantile([0.3], 0.95, "nearest_rank") == 0.3


def test_dashboard_verdicts():
    panels = [dl_panels.Panel("p", "SELECT 1 FROM usage_hourly")]
    ok = latency([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 0.3])}], panels)
    assert ok.passed and ok.details.tenants[0].load.p95 == 0.3
    slow = latency([{"tenant": "t", "events": 5, "loads": loads([0.1, 0.2, 1.3])}], panels)
    assert [f.code for f in slow.failures] == ["dashboard_too_slow"]
    err = latency([{"tenant": "t", "events": 5, "loads": loads([0.1], "Table x doesn't exist")}], panels)
    assert [f.code for f in err.failures] == ["panel_error"] and "SELECT 1 FROM usage_hourly" in err.failures[0].message
    assert [f.code for f in latency([], panels).failures] == ["no_tenants"]


@pytest.mark.parametrize(
    "sql, problem",
    [
        ("SELECT ';' AS x FROM usage_hourly WHERE tenant_id = '$tenant'", None),
        ("WITH t AS (SELECT 1) SELECT * FROM t", None),
        ("SELECT 1; DROP TABLE usage_events", "holds more than one statement"),
        ("KILL QUERY WHERE user = 'default'", "is not a SELECT"),
        ("INSERT INTO usage_events SELECT * FROM usage_events", "is not a SELECT"),
    ],
)
def test_a_panel_must_be_one_select(sql, problem):
    if problem is None:
        assert dl_queries.bind(dl_panels.Panel("p", sql), "tenant", "t", 0, 1).sql
    else:
        with pytest.raises(dl_panels.DashboardError, match=f"panel 'p' {problem}"):
            dl_queries.bind(dl_panels.Panel("p", sql), "tenant", "t", 0, 1)


# --- run -----------------------------------------------------------------------------------------------------------


def test_check_3_grafana_comes_before_an_export_file_and_config(tmp_path):
    export = tmp_path / "d.json"
    export.write_text(json.dumps(EXPORT))
    grafana = ScriptedApi(
        lambda n: 200, body={"dashboard": {**EXPORT, "panels": [dict(EXPORT["panels"][0], title="Live")]}}
    )
    services = StandInServices(RowsClickHouse(TOP), http={"grafana_default": grafana})
    result = latency_run(
        services,
        connections={"grafana": "grafana_default"},
        dashboard={"grafana_uid": "u1", "export_file": str(export), "panels": [], "mode": "direct"},
    )
    assert result.metrics["mode"] == "direct" and result.details.mode == "direct"
    assert result.metrics["panel_source"] == "Grafana dashboard uid 'u1' (connection 'grafana_default')"
    assert [p.title for p in result.details.tenants[0].panels] == ["Live"]
    assert grafana.calls == [("GET", "/api/dashboards/uid/u1", {})]


def test_check_3_export_file_comes_before_config_panels_and_sets_the_time_range(tmp_path):
    export = tmp_path / "d.json"
    export.write_text(json.dumps(EXPORT))
    board = dl.load_dashboard(
        StandInServices(),
        context(dashboard={"export_file": str(export), "panels": [{"title": "cfg", "sql": "SELECT 1"}]}).cfg,
    )
    assert ([p.title for p in board.panels], board.source) == (["From export"], f"export file {export}")
    assert dl_panels.time_range_seconds(board.json) == 6 * 3600
    config_only = dl.load_dashboard(
        StandInServices(), context(dashboard={"panels": [{"title": "cfg", "sql": "SELECT 1"}]}).cfg
    )
    assert [p.title for p in config_only.panels] == ["cfg"] and config_only.source == "config 'dashboard.panels'"
    default = dl.load_dashboard(StandInServices(), context().cfg)
    assert len(default.panels) == 4 and default.source == "M12.1 default panels"
    assert dl_panels.time_range_seconds(default.json) == 24 * 3600


def test_check_3_dashboard_source_errors_name_what_to_fix(tmp_path):
    bad = tmp_path / "not.json"
    bad.write_text("<html>")
    with pytest.raises(CheckError, match=f"config key 'dashboard.export_file': {bad} is not a JSON"):
        dl.load_dashboard(StandInServices(), context(dashboard={"export_file": str(bad)}).cfg)
    with pytest.raises(CheckError, match="config key 'dashboard.panels' is empty"):
        latency_run(StandInServices(RowsClickHouse(TOP)), dashboard={"panels": []})
    denied = StandInServices(http={"g": ScriptedApi(lambda n: 401)})
    with pytest.raises(CheckError, match="HTTP 401 .*'dashboard.grafana_uid'"):
        dl.load_dashboard(denied, context(connections={"grafana": "g"}, dashboard={"grafana_uid": "u"}).cfg)
    down = StandInServices(http={"g": ScriptedApi(lambda n: None)})
    with pytest.raises(ServiceUnavailable, match="Grafana \\(connection 'g'\\) unreachable"):
        dl.load_dashboard(down, context(connections={"grafana": "g"}, dashboard={"grafana_uid": "u"}).cfg)


def test_check_3_mode_is_grafana_with_a_grafana_dashboard_unless_config_forces_one():
    def mode(**config):
        return dl.choose_mode(context(**config).cfg)

    live = {"connections": {"grafana": "g"}, "dashboard": {"grafana_uid": "u"}}
    assert mode(**live) == "grafana" and mode() == "direct"
    assert mode(connections={"grafana": "g"}, dashboard={"grafana_uid": "u", "mode": "direct"}) == "direct"
    with pytest.raises(CheckError, match="dashboard.mode is 'grafana' but connections.grafana is not set"):
        mode(dashboard={"mode": "grafana"})
    with pytest.raises(CheckError, match="dashboard.mode is 'grafana' but dashboard.grafana_uid is not set"):
        mode(connections={"grafana": "g"}, dashboard={"mode": "grafana"})
    with pytest.raises(Exception, match="dashboard.mode"):
        load_config({"dashboard": {"mode": "browser"}})


def test_check_3_direct_mode_says_which_panels_it_cannot_time():
    export = {
        "title": "d",
        "panels": [
            {"title": "Prom", "datasource": {"type": "prometheus", "uid": "p"}, "targets": [{"expr": "up"}]},
            {"title": "CH", "targets": [{"rawSql": "SELECT 1 FROM usage_hourly WHERE tenant_id = '$tenant'"}]},
        ],
    }
    services = StandInServices(RowsClickHouse(TOP), http={"g": ScriptedApi(lambda n: 200, body={"dashboard": export})})
    result = latency_run(services, connections={"grafana": "g"}, dashboard={"grafana_uid": "u", "mode": "direct"})
    assert result.passed and [p.title for p in result.details.tenants[0].panels] == ["CH"]
    assert result.details.skipped == [
        {
            "panel": "Prom",
            "reason": (
                "data source type 'prometheus' is not the ClickHouse plugin: direct mode cannot run it (through Grafana it "
                "is timed)"
            ),
        }
    ]
    assert result.metrics["panels_skipped"] == 1 and result.metrics["mode"] == "direct"
    only_prom = {"title": "d", "panels": export["panels"][:1]}
    services = StandInServices(
        RowsClickHouse(TOP), http={"g": ScriptedApi(lambda n: 200, body={"dashboard": only_prom})}
    )
    result = latency_run(services, connections={"grafana": "g"}, dashboard={"grafana_uid": "u", "mode": "direct"})
    assert [f.code for f in result.failures] == ["no_panels"] and "through Grafana" in result.failures[0].message
