"""Pure logic: configuration validation, UTC windows and months, money."""

import datetime as dt
from decimal import Decimal

import pytest

from billing_readiness.config import ConfigError, load_config
from billing_readiness.core.money import from_nanos, to_cents
from billing_readiness.core.timewindow import Month, Window, last_closed_month

UTC = dt.timezone.utc


def test_defaults_are_the_m12_1_names():
    cfg = load_config()
    assert cfg["usage_events"]["table"] == "usage_events"
    assert cfg["usage_daily"]["total_cost_usd"] == "total_cost_usd"
    assert cfg["connections"]["clickhouse"] == "clickhouse_native_default"
    assert cfg["quota"]["tenant_header"] == "X-Tenant-ID"


def test_override_is_deep_merged_and_json_accepted():
    cfg = load_config('{"usage_events": {"table": "metering.events"}}')
    assert cfg["usage_events"]["table"] == "metering.events"
    assert cfg["usage_events"]["tenant_id"] == "tenant_id"


@pytest.mark.parametrize(
    "override, names",
    [
        ({"usage_evnts": {}}, "usage_evnts"),
        ({"usage_events": {"tabel": "x"}}, "under 'usage_events': tabel"),
        ({"usage_events": {"table": "x; DROP TABLE y"}}, "usage_events.table"),
        ({"usage_daily": {"day": "day`"}}, "usage_daily.day"),
        ({"quota": {"key_ttl_seconds": "600"}}, "quota.key_ttl_seconds"),
        ({"quota": {"cleanup_patterns": ["quota:*"]}}, "quota.cleanup_patterns"),
        ({"quota": {"probe_tenant_id": "probe*"}}, "quota.probe_tenant_id"),
        ({"quota": {"probe_tenant_id": "tenant-m01:limit"}}, "quota.probe_tenant_id"),
        ({"quota": {"cleanup_patterns": ["*{tenant_id}*"]}}, "quota.cleanup_patterns"),
        ({"quota": {"cleanup_patterns": []}}, "quota.cleanup_patterns"),
        ({"quota": {"cleanup_patterns": ["quota:{tenant_id}:*"]}}, "is matched by no 'quota.cleanup_patterns'"),
        ({"quota": {"setup_keys": {"tenant:{tenant_id}:*": "x"}}}, "quota.setup_keys"),
        ({"quota": {"tenant_header": ""}}, "quota.tenant_header"),
        ({"quota": {"window_guard_seconds": 3600}}, "quota.window_guard_seconds"),
        ({"quota": {"request_timeout_seconds": 0}}, "quota.request_timeout_seconds"),
        ({"quota": {"cleanup_grace_seconds": 3600}}, "quota.cleanup_grace_seconds"),
        ({"quota": {"key_ttl_seconds": 5}}, "quota.key_ttl_seconds"),
        ({"clickhouse": {"query_timeout_seconds": 0}}, "clickhouse.query_timeout_seconds"),
        ({"clickhouse": {"max_memory_bytes": 1000}}, "clickhouse.max_memory_bytes"),
        ({"clickhouse": {"cluster": "two shards; DROP"}}, "clickhouse.cluster"),
        ({"coverage": {"partial_day_ratio": 1.5}}, "coverage.partial_day_ratio"),
        ({"invoice": {"accepted_mutations": [""]}}, "invoice.accepted_mutations"),
        ({"promotion": {"allow_relaxed": "sometimes"}}, "promotion.allow_relaxed"),
        ({"active_tenants_sql": "DELETE FROM t"}, "active_tenants_sql"),
        ({"connections": {"clickhouse": None}}, "connections.clickhouse"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_config_names_the_key(override, names):
    with pytest.raises(ConfigError) as err:
        load_config(override)
    assert names in str(err.value)


def test_month_is_half_open_in_utc():
    m = Month.parse("2025-01")
    assert m.start == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert m.end == dt.datetime(2025, 2, 1, tzinfo=UTC)
    assert m.last_day == dt.date(2025, 1, 31)
    assert str(Month.parse("2024-12").next()) == "2025-01"
    assert str(Month.parse("2025-01").previous()) == "2024-12"
    assert not Month.parse("2025-01").is_closed(dt.datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC))
    assert Month.parse("2025-01").is_closed(dt.datetime(2025, 2, 1, tzinfo=UTC))
    assert str(last_closed_month(dt.datetime(2025, 3, 1, 0, 0, 1, tzinfo=UTC))) == "2025-02"
    with pytest.raises(ValueError):
        Month.parse("2025-13")


def test_window_counts_complete_days_before_today():
    w = Window(dt.datetime(2025, 3, 1, 5, 0, tzinfo=UTC), 30)
    days = w.complete_days()
    assert len(days) == 30 and days[-1] == dt.date(2025, 2, 28) and days[0] == dt.date(2025, 1, 30)
    assert w.start == dt.datetime(2025, 1, 30, tzinfo=UTC)


def test_money_rounds_once_half_up():
    assert from_nanos(47_225_000_000) == Decimal("47.225")
    assert to_cents(from_nanos(47_225_000_000)) == Decimal("47.23")
    assert to_cents(from_nanos(4_999_999)) == Decimal("0.00")


def test_the_report_and_alerts_fall_back_to_defaults_keeping_the_usable_parts():
    from billing_readiness.config import config_or_defaults

    cfg, problem = config_or_defaults(lambda: '{"connections": {"alerts": "hook"}, "quota": {"key_ttl_seconds": "x"}}')
    assert cfg["connections"]["alerts"] == "hook" and "quota.key_ttl_seconds" in problem
    cfg, problem = config_or_defaults(lambda: "{not json")
    assert cfg["connections"]["alerts"] is None and "not valid JSON" in problem
    assert config_or_defaults(lambda: None) == (load_config(), None)


def test_every_check_query_carries_the_memory_limit_and_spills_past_half_of_it():
    from billing_readiness.core.sql import memory_settings

    assert memory_settings(load_config()) == {
        "max_memory_usage": 2_000_000_000,
        "max_bytes_before_external_group_by": 1_000_000_000,
        "max_bytes_before_external_sort": 1_000_000_000,
        "distributed_aggregation_memory_efficient": 1,
    }
    assert memory_settings(load_config({"clickhouse": {"max_memory_bytes": None}})) == {}


# --- time zones: days and months of the rollups' and the billing zone ----------------------------------------------


def _utc(*a):
    return dt.datetime(*a, tzinfo=dt.timezone.utc)


def test_a_windows_days_are_those_of_its_zone_23_and_25_hour_days_and_half_hours_included():
    spring = Window(_utc(2026, 3, 29, 12), 2, tz="Europe/Berlin")  # DST starts 02:00 local that day
    assert spring.today == dt.date(2026, 3, 29)
    assert spring.start == _utc(2026, 3, 26, 23) and spring.today_start == _utc(2026, 3, 28, 23)
    assert (spring.tomorrow_start - spring.today_start).total_seconds() == 23 * 3600  # epoch difference
    autumn = Window(_utc(2026, 10, 25, 12), 1, tz="Europe/Berlin")
    assert autumn.tomorrow_start.timestamp() - autumn.today_start.timestamp() == 25 * 3600
    india = Window(_utc(2026, 12, 31, 19), 1, tz="Asia/Kolkata")  # 00:30 on 1 January there
    assert india.today == dt.date(2027, 1, 1) and india.today_start == _utc(2026, 12, 31, 18, 30)
    assert Window(_utc(2026, 12, 31, 19), 1).today == dt.date(2026, 12, 31)  # UTC, as before


def test_a_billing_month_is_a_calendar_month_of_the_billing_zone():
    berlin = Month(2026, 10, "Europe/Berlin")
    assert berlin.start == _utc(2026, 9, 30, 22) and berlin.end == _utc(2026, 10, 31, 23)
    assert last_closed_month(_utc(2026, 10, 31, 23, 30), "Europe/Berlin") == berlin  # 00:30 on 1 Nov there
    assert last_closed_month(_utc(2026, 10, 31, 23, 30)) == Month(2026, 9)  # still October in UTC
    assert Month(2026, 10).in_zone("Asia/Kolkata").start == _utc(2026, 9, 30, 18, 30)


def test_the_rollups_zone_comes_from_config_the_column_or_the_server():
    from billing_readiness.core.sql import rollup_zone

    cfg = load_config()
    assert rollup_zone([{"server_timezone": "Europe/Berlin", "timestamp_type": "DateTime"}], cfg)[0] == "Europe/Berlin"
    assert rollup_zone([{"server_timezone": "Europe/Berlin", "timestamp_type": "DateTime('Asia/Kolkata')"}], cfg) == (
        "Asia/Kolkata",
        "the column timestamp's own zone",
    )
    assert (
        rollup_zone([{"server_timezone": "UTC", "timestamp_type": "DateTime64(3, 'America/New_York')"}], cfg)[0]
        == "America/New_York"
    )
    assert rollup_zone([], load_config({"clickhouse": {"rollup_timezone": "Asia/Tokyo"}}))[0] == "Asia/Tokyo"
    with pytest.raises(ConfigError, match="config key 'invoice.billing_timezone'.*'Mars/Olympus'"):
        load_config({"invoice": {"billing_timezone": "Mars/Olympus"}})


def test_check_2_compares_usage_daily_with_the_events_over_its_own_days_when_the_zones_differ():
    from billing_readiness.checks.invoice_immutability.queries import queries

    cfg = load_config()
    assert "raw_rollup_zone" not in queries(cfg, Month(2026, 10), "Etc/UTC")
    qs = queries(cfg, Month(2026, 10), "Europe/Berlin")
    assert qs["raw"].params["month_start"] == int(_utc(2026, 10, 1).timestamp())
    assert qs["raw_rollup_zone"].params["month_start"] == int(_utc(2026, 9, 30, 22).timestamp())
    assert qs["raw_rollup_zone"].params["month_end"] == int(_utc(2026, 10, 31, 23).timestamp())
    assert qs["rollup"].params == {"first_day": "2026-10-01", "next_month": "2026-11-01"}
