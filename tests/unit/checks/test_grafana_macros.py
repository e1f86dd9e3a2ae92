"""Golden expansions of the Grafana ClickHouse data source plugin's macros, template variables and time ranges.

Each expected string is written down from the plugin's documentation (the macro table of README.md in
grafana/clickhouse-datasource v4.3.2, whose examples use the range 1415792726123..1447328726456 ms and a
20 s interval) and checked against the plugin's source: pkg/macros/macros.go (backend macros),
src/data/CHDatasource.ts applyConditionalAll / format, src/data/adHocFilter.ts (frontend). Time ranges
and intervals follow Grafana's packages/grafana-data/src/datetime/datemath.ts and rangeutil.ts.
"""

import datetime as dt

import pytest

from billing_readiness.checks.dashboard_latency import macros as m
from billing_readiness.checks.dashboard_latency import substitution as sub
from billing_readiness.checks.dashboard_latency import timerange as tr
from billing_readiness.checks.dashboard_latency import variables as v
from billing_readiness.checks.dashboard_latency.panels import Panel, dashboard_from_export
from billing_readiness.checks.dashboard_latency.queries import LoadContext, direct_query, grafana_request

UTC = dt.timezone.utc
README = m.MacroContext(1415792726123, 1447328726456, 20_000)  # the README's examples
TR = tr.TimeRange(1415792726123, 1447328726456, "a", "b", "UTC")


# ---- backend macros (pkg/macros/macros.go) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, expanded",
    [
        # README: `date >= toDate('2022-10-21') AND date <= toDate('2022-10-23')` (timeToDate: the UTC date)
        ("$__dateFilter(date)", "date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')"),
        # README: `time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)`
        ("$__timeFilter(time)", "time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)"),
        # README: `time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)`
        (
            "$__timeFilter_ms(time)",
            "time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)",
        ),
        # macros.go DateTimeFilter: (date filter) AND (time filter); $__dt is the same function
        (
            "$__dateTimeFilter(d, t)",
            "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND "
            "(t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
        ),
        (
            "$__dt(d, t)",
            "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND "
            "(t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
        ),
        # README: `toDateTime(1415792726)`, `toDateTime(1447328726)`
        ("$__fromTime", "toDateTime(1415792726)"),
        ("$__toTime", "toDateTime(1447328726)"),
        # README: `fromUnixTimestamp64Milli(1415792726123)`, `fromUnixTimestamp64Milli(1447328726456)`
        ("$__fromTime_ms", "fromUnixTimestamp64Milli(1415792726123)"),
        ("$__toTime_ms", "fromUnixTimestamp64Milli(1447328726456)"),
        # README: `20`
        ("$__interval_s", "20"),
        # README: `toStartOfInterval(toDateTime(column), INTERVAL 20 second)`
        ("$__timeInterval(column)", "toStartOfInterval(toDateTime(column), INTERVAL 20 second)"),
        # README: `toStartOfInterval(toDateTime64(column, 3), INTERVAL 20 millisecond)`; macros.go uses the
        # interval's milliseconds (20000 here), the README's "20" being the 20 ms interval of its example
        ("$__timeInterval_ms(column)", "toStartOfInterval(toDateTime64(column, 3), INTERVAL 20000 millisecond)"),
    ],
)
def test_each_backend_macro_expands_as_the_plugin_expands_it(sql, expanded):
    assert m.expand_backend(sql, README) == expanded


def test_backend_macros_in_a_query_with_nested_arguments_and_strings():
    sql = (
        "SELECT $__timeInterval(toDateTime(ts, 'UTC')) AS t, count() / $__interval_s FROM e "
        "WHERE $__timeFilter(toDateTime(ts, 'UTC')) AND note != '$__fromTime(' GROUP BY t"
    )
    assert m.expand_backend(sql, README) == (
        "SELECT toStartOfInterval(toDateTime(toDateTime(ts, 'UTC')), INTERVAL 20 second) AS t, count() / 20 FROM e "
        "WHERE toDateTime(ts, 'UTC') >= toDateTime(1415792726) AND toDateTime(ts, 'UTC') <= toDateTime(1447328726) "
        "AND note != '$__fromTime(' GROUP BY t"
    )


def test_interval_s_is_at_least_one_second_and_interval_ms_at_least_one():
    tiny = m.MacroContext(0, 1000, 1)
    assert m.expand_backend("$__interval_s", tiny) == "1"  # math.Max(interval.Seconds(), 1)
    assert m.expand_backend("$__timeInterval_ms(c)", m.MacroContext(0, 1, 0)).endswith("INTERVAL 1 millisecond)")


@pytest.mark.parametrize(
    "sql, message",
    [
        ("$__timeFilter(a, b)", r"\$__timeFilter expects 1 argument, got 2"),
        ("$__timeFilter()", r"\$__timeFilter expects 1 argument, got 0"),
        ("$__dateTimeFilter(d)", r"\$__dateTimeFilter expects 2 arguments"),
        ("$__timeGroup(t, 5m)", r"\$__timeGroup is not a macro of the ClickHouse data source plugin"),
        ("$__timeFilter(t", r"no closing parenthesis"),
    ],
)
def test_a_misused_or_unknown_macro_is_named(sql, message):
    with pytest.raises(m.MacroError, match=message):
        m.expand_backend(sql, README)


# ---- frontend macros: $__conditionalAll and ad hoc filters --------------------------------------------------------


def test_conditional_all_is_the_condition_unless_the_variable_selects_everything():
    sql = (
        "WHERE $__conditionalAll(event_type IN ($type), $type) AND $__conditionalAll(region IN (${region}), ${region})"
    )
    everything = {"type": False, "region": True}
    assert m.apply_conditional_all(sql, everything.get) == "WHERE event_type IN ($type) AND 1=1"
    assert m.apply_conditional_all("$__conditionalAll(f(a, b) > 0, $x)", lambda n: False) == "f(a, b) > 0"
    with pytest.raises(m.MacroError, match="2 arguments"):
        m.apply_conditional_all("$__conditionalAll(a > 0)", lambda n: False)


def test_ad_hoc_filters_are_additional_table_filters_on_the_first_table():
    filters = [m.AdHocFilter("usage_hourly.event_type", "=", "query"), m.AdHocFilter("tenant_id", "=~", "acme%")]
    sql = "SELECT sum(total_quantity) FROM m12.usage_hourly WHERE hour > now() - 3600;"
    # adHocFilter.ts apply(): ` key op \'value\' AND` joined, appended as a settings clause on the first table
    assert m.apply_adhoc(sql, filters) == (
        "SELECT sum(total_quantity) FROM m12.usage_hourly WHERE hour > now() - 3600 settings "
        "additional_table_filters={'usage_hourly' : ' event_type = \\'query\\' AND tenant_id ILIKE \\'acme%\\' '}"
    )
    assert m.apply_adhoc(sql, []) == sql
    macro = "SELECT 1 FROM a JOIN b USING k SETTINGS $__adHocFilters('a', 'b')"
    assert m.apply_adhoc(macro, filters[:1]) == (
        "SELECT 1 FROM a JOIN b USING k SETTINGS additional_table_filters={'a': ' event_type = \\'query\\' ', "
        "'b': ' event_type = \\'query\\' '}"
    )
    assert m.apply_adhoc(macro, []) == "SELECT 1 FROM a JOIN b USING k SETTINGS additional_table_filters={}"
    quoted = m.adhoc_filter_string([m.AdHocFilter("name", "=", "O'Brien")])
    assert quoted == " name = \\'O\\\\\\'Brien\\' "  # escaped for the inner and the outer string literal
    with pytest.raises(m.MacroError, match="operator 'LIKE'"):
        m.adhoc_filter_string([m.AdHocFilter("k", "LIKE", "x")])


# ---- template variables (templateSrv.replace with the plugin's format) --------------------------------------------


def values(**kw):
    return {name: sub.Value(name, "custom", **spec) for name, spec in kw.items()}


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("t = '$one'", "t = 'a'"),
        ("t = '${one}'", "t = 'a'"),
        ("t = '[[one]]'", "t = 'a'"),
        ("t IN ($many)", "t IN ('a','b')"),  # CHDatasource.format: arrays as 'a','b'
        ("t IN (${many:csv})", "t IN (a,b)"),
        ("t IN (${many:sqlstring})", "t IN ('a','b')"),
        ("t IN (${many:singlequote})", "t IN ('a','b')"),
        ("t IN (${many:doublequote})", 't IN ("a","b")'),
        ("t ~ '${many:pipe}'", "t ~ 'a|b'"),
        ("t IN ($all)", "t IN ('x','y','z')"),  # All without a custom all value: every option
        ("t LIKE '$custom_all'", "t LIKE '%'"),  # a custom all value, unformatted
        (
            "$__from $__to ${__from:date:seconds} ${__to:date:iso}",
            "1415792726123 1447328726456 1415792726 2015-11-12T11:45:26.456Z",
        ),
        ("x $unknown_is_left", "x $unknown_is_left"),
        ("$__timeFilter(t) $__interval_s", "$__timeFilter(t) $__interval_s"),  # the backend's
    ],
)
def test_variables_are_substituted_as_grafana_substitutes_them(sql, expected):
    vals = values(
        one={"values": ["a"]},
        many={"values": ["a", "b"], "multi": True},
        all={"values": ["x", "y", "z"], "is_all": True},
        custom_all={"values": ["x"], "is_all": True, "all_value": "%"},
    )
    assert sub.interpolate(sql, vals, TR) == expected


def test_grafana_builtins_of_a_panel():
    b = sub.builtins(TR, 60_000, "1m", {"title": "Usage"})
    assert (
        sub.interpolate("$__interval $__interval_ms $__range_s $__range $__dashboard", {}, TR, b)
        == "1m 60000 31536000 31536000s Usage"
    )
    with pytest.raises(sub.VariableError, match="format ':lucene'"):
        sub.interpolate("${many:lucene}", values(many={"values": ["a"]}), TR)


def test_a_value_that_would_change_the_sql_is_refused_naming_the_variable():
    with pytest.raises(sub.VariableError, match="variable 'one' has the value \"a'b\""):
        sub.interpolate("t = '$one'", values(one={"values": ["a'b"]}), TR)
    with pytest.raises(sub.VariableError, match="variable 'one'"):
        sub.interpolate("t = '$one'", values(one={"values": ["a\\"]}), TR)


NOW = dt.datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)
EVERY_KIND = {
    "title": "Every kind",
    "time": {"from": "now-24h", "to": "now"},
    "templating": {
        "list": [
            {"name": "tenant", "type": "query", "query": "SELECT DISTINCT tenant_id FROM tenant_quotas"},
            {"name": "currency", "type": "constant", "query": "USD"},
            {"name": "search", "type": "textbox", "query": "", "current": {"value": "tok"}},
            {
                "name": "types",
                "type": "custom",
                "multi": True,
                "includeAll": True,
                "query": "Queries : query,token_input,token_output",
                "current": {"value": ["$__all"]},
            },
            {"name": "bucket", "type": "interval", "query": "1h,6h,1d", "current": {"value": "6h"}},
            {
                "name": "auto_bucket",
                "type": "interval",
                "query": "1m,1h",
                "auto": True,
                "auto_count": 24,
                "auto_min": "10s",
                "current": {"value": "$__auto_interval_auto_bucket"},
            },
            {
                "name": "ds",
                "type": "datasource",
                "query": "grafana-clickhouse-datasource",
                "current": {"value": "clickhouse-m12"},
            },
            {
                "name": "quota_type",
                "type": "query",
                "refresh": 1,
                "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${ds}"},
                "query": {"rawSql": "SELECT DISTINCT quota_type FROM tenant_quotas WHERE tenant_id = '$tenant'"},
                "regex": "/^queries_(?<value>.*)$/",
                "sort": 1,
                "current": {"value": "gone"},
            },
            {
                "name": "filters",
                "type": "adhoc",
                "datasource": {"type": "grafana-clickhouse-datasource"},
                "filters": [{"key": "event_type", "operator": "!=", "value": "storage"}],
            },
        ]
    },
}


def test_every_variable_kind_resolves():
    asked = []

    def run(sql, ds):
        asked.append((sql, ds))
        return [["queries_per_day"], ["queries_hourly"], ["tokens_per_day"]]

    rng = tr.dashboard_range(EVERY_KIND, NOW)
    vals = v.resolve(
        EVERY_KIND,
        rng,
        tenant_variable="tenant",
        tenant="acme",
        run_query=run,
        datasource_types=("grafana-clickhouse-datasource",),
    )
    got = {k: (x.values, x.is_all) for k, x in vals.items() if x.type != "adhoc"}
    assert got == {
        "tenant": (["acme"], False),
        "currency": (["USD"], False),
        "search": (["tok"], False),
        "types": (["query", "token_input", "token_output"], True),
        "bucket": (["6h"], False),
        "auto_bucket": (["1h"], False),
        "ds": (["clickhouse-m12"], False),
        "quota_type": (["hourly"], False),
    }  # regex group, sorted, the saved "gone" no longer an option
    assert asked == [
        (
            "SELECT DISTINCT quota_type FROM tenant_quotas WHERE tenant_id = 'acme'",
            {"type": "grafana-clickhouse-datasource", "uid": "clickhouse-m12"},
        )
    ]
    assert vals["filters"].filters == [m.AdHocFilter("event_type", "!=", "storage")]


def test_a_query_variable_of_another_data_source_cannot_run_directly():
    board = {
        "templating": {
            "list": [
                {
                    "name": "x",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "p"},
                    "query": "label_values(up, job)",
                    "refresh": 1,
                }
            ]
        }
    }
    with pytest.raises(sub.VariableError, match="variable 'x' is a query of data source type 'prometheus'"):
        v.resolve(
            board,
            TR,
            tenant_variable="tenant",
            tenant="t",
            run_query=lambda s, d: [],
            datasource_types=("grafana-clickhouse-datasource",),
        )


# ---- time ranges (datemath.parse) and intervals (rangeutil) -------------------------------------------------------


def ms(*args, tz=UTC):
    return int(dt.datetime(*args, tzinfo=tz).timestamp() * 1000)


@pytest.mark.parametrize(
    "time, expected_from, expected_to",
    [
        ({"from": "now-24h", "to": "now"}, ms(2026, 11, 30, 0, 0, 30), ms(2026, 12, 1, 0, 0, 30)),
        ({"from": "now-7d", "to": "now"}, ms(2026, 11, 24, 0, 0, 30), ms(2026, 12, 1, 0, 0, 30)),
        ({"from": "now/d", "to": "now/d"}, ms(2026, 12, 1), ms(2026, 12, 1, 23, 59, 59) + 999),  # today so far
        ({"from": "now-1d/d", "to": "now-1d/d"}, ms(2026, 11, 30), ms(2026, 11, 30, 23, 59, 59) + 999),  # yesterday
        ({"from": "now-1M/M", "to": "now-1M/M"}, ms(2026, 11, 1), ms(2026, 11, 30, 23, 59, 59) + 999),  # last month
        ({"from": "now/w", "to": "now"}, ms(2026, 11, 29), ms(2026, 12, 1, 0, 0, 30)),  # weeks start on Sunday
        ({"from": "2026-11-01T00:00:00.000Z", "to": "2026-11-02T12:00:00Z"}, ms(2026, 11, 1), ms(2026, 11, 2, 12)),
        ({"from": "1764547200000", "to": "1764633600000"}, 1764547200000, 1764633600000),  # epoch ms
        ({"from": "2026-11-01", "to": "now"}, ms(2026, 11, 1), ms(2026, 12, 1, 0, 0, 30)),
    ],
)
def test_time_ranges_resolve_as_grafana_resolves_them(time, expected_from, expected_to):
    r = tr.dashboard_range({"time": time, "timezone": "utc"}, NOW)
    assert (r.from_ms, r.to_ms) == (expected_from, expected_to)


def test_time_ranges_round_in_the_dashboards_time_zone_and_months_clamp():
    berlin = tr.dashboard_range({"time": {"from": "now/d", "to": "now"}, "timezone": "Europe/Berlin"}, NOW)
    assert berlin.from_ms == ms(2026, 11, 30, 23)  # midnight in Berlin, 23:00 UTC the day before
    monday = tr.dashboard_range({"time": {"from": "now/w", "to": "now"}, "weekStart": "monday"}, NOW)
    assert monday.from_ms == ms(2026, 11, 30)
    march_31 = dt.datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert tr.parse_time("now-1M", march_31, round_up=False) == dt.datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert tr.dashboard_range({}, NOW).seconds == 6 * 3600  # Grafana's default: the last 6 hours
    with pytest.raises(tr.TimeRangeError, match="dashboard time.from 'yesterday' is not a Grafana time"):
        tr.dashboard_range({"time": {"from": "yesterday", "to": "now"}}, NOW)
    with pytest.raises(tr.TimeRangeError, match="empty or reversed"):
        tr.dashboard_range({"time": {"from": "now", "to": "now-1h"}}, NOW)
    with pytest.raises(tr.TimeRangeError, match="'Mars/Olympus' is not an IANA time zone"):
        tr.dashboard_range({"timezone": "Mars/Olympus"}, NOW)


@pytest.mark.parametrize(
    "range_ms, points, minimum, interval",
    [
        (86_400_000, 960, None, (120_000, "2m")),  # 90 s per point rounds up to 2m (roundInterval: < 210000)
        (86_400_000, 1920, None, (60_000, "1m")),
        (3_600_000, 1920, None, (2_000, "2s")),
        (3_600_000, 1920, "1m", (60_000, "1m")),  # the panel's min interval
        (30 * 86_400_000, 100, None, (21_600_000, "6h")),  # 7.2 h per point: < 9 h rounds to 6h
        (365 * 86_400_000, 10, None, (2_592_000_000, "30d")),
        (365 * 86_400_000, 2, None, (31_536_000_000, "1y")),
        (1_000, 1000, None, (1, "1ms")),
    ],
)
def test_intervals_as_rangeutil_calculates_them(range_ms, points, minimum, interval):
    got = tr.calculate_interval(tr.TimeRange(0, range_ms, "", "", "UTC"), points, minimum)
    assert (got.ms, got.text) == interval


# ---- a panel's query, both ways -----------------------------------------------------------------------------------


def test_a_panel_in_both_modes():
    board = dashboard_from_export(
        {
            "title": "B",
            "time": {"from": "now-24h", "to": "now"},
            "templating": EVERY_KIND["templating"],
            "panels": [
                {
                    "id": 7,
                    "title": "Usage",
                    "type": "timeseries",
                    "gridPos": {"w": 12},
                    "interval": "1m",
                    "datasource": {"type": "grafana-clickhouse-datasource", "uid": "clickhouse-m12"},
                    "targets": [
                        {
                            "refId": "A",
                            "format": 0,
                            "rawSql": "SELECT $__timeInterval(hour) AS t, sum(total_quantity) FROM usage_hourly "
                            "WHERE tenant_id = '$tenant' AND $__timeFilter(hour) "
                            "AND $__conditionalAll(event_type IN ($types), $types)",
                        }
                    ],
                }
            ],
        }
    )
    rng = tr.dashboard_range(board.json, NOW)
    vals = v.resolve(
        board.json,
        rng,
        tenant_variable="tenant",
        tenant="acme",
        run_query=lambda s, d: [["queries_hourly"]],
        datasource_types=None,
    )
    ctx = LoadContext(rng, vals, board.json, 1920)
    (panel,) = board.panels
    assert direct_query(panel, ctx).sql == (
        "SELECT toStartOfInterval(toDateTime(hour), INTERVAL 120 second) AS t, sum(total_quantity) FROM usage_hourly "
        f"WHERE tenant_id = 'acme' AND hour >= toDateTime({rng.from_ms // 1000}) AND hour <= "
        f"toDateTime({rng.to_ms // 1000}) AND 1=1 settings additional_table_filters="
        "{'usage_hourly' : ' event_type != \\'storage\\' '}"
    )
    body = grafana_request([panel], ctx)
    assert body == {
        "from": str(rng.from_ms),
        "to": str(rng.to_ms),
        "queries": [
            {
                "refId": "A",
                "format": 0,
                "datasource": {"type": "grafana-clickhouse-datasource", "uid": "clickhouse-m12"},
                "intervalMs": 120_000,
                "maxDataPoints": 960,
                "meta": {"timezone": "UTC"},
                "rawSql": "SELECT $__timeInterval(hour) AS t, sum(total_quantity) FROM usage_hourly WHERE tenant_id = 'acme' "
                "AND $__timeFilter(hour) AND 1=1 settings additional_table_filters="
                "{'usage_hourly' : ' event_type != \\'storage\\' '}",
            }
        ],
    }


def test_a_direct_query_stays_one_read_once_its_variables_are_in():
    board = {"templating": {"list": [{"name": "n", "type": "textbox", "current": {"value": "1; DROP TABLE x"}}]}}
    vals = v.resolve(board, TR, tenant_variable="tenant", tenant="t", run_query=None, datasource_types=())
    with pytest.raises(Exception, match="holds more than one statement once its variables are in"):
        direct_query(Panel("p", "SELECT * FROM usage_hourly LIMIT $n"), LoadContext(TR, vals, board))
