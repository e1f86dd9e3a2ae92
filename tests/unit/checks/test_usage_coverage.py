"""Check 1, usage coverage: its SQL, its verdict and its run() with stand-in services (no servers, no Airflow),
mirroring plugins/billing_readiness/checks/usage_coverage/."""

import bisect
import datetime as dt

import pytest
from stand_ins import NOW, RowsClickHouse, StandInServices, context

from billing_readiness.checks import usage_coverage as uc
from billing_readiness.checks.usage_coverage import freshness, repeats
from billing_readiness.checks.usage_coverage import verdict as uc_verdict
from billing_readiness.checks.usage_coverage.freshness_findings import silent_candidates
from billing_readiness.checks.usage_coverage.gaps import RAMP_UP_DAYS, partial_days
from billing_readiness.checks.usage_coverage.queries import FUTURE_SKEW_SECONDS, scan
from billing_readiness.checks.usage_coverage.queries import queries as coverage_queries
from billing_readiness.checks.usage_coverage.reconcile import qty_differs
from billing_readiness.config import load_config
from billing_readiness.core.timewindow import Window


def spell_at(minutes: list[int], t_min: int) -> int | None:
    """Length in seconds of the silence containing minute `t_min` (0 when that minute had activity); None when
    there is no activity before it (the window does not reach back that far)."""
    i = bisect.bisect_right(minutes, t_min)
    if i == 0:
        return None
    prev = minutes[i - 1]
    if prev == t_min:
        return 0
    nxt = minutes[i] if i < len(minutes) else None
    return (nxt - prev) * 60 if nxt is not None else None  # the plain definition DayBounds.spell_at must agree with


def daily_drift(d, raw, rollup, in_flight=(0, 0.0, 0.0, 0.0, 0)):
    """A tenant-day ClickHouse found different: raw (queries, in, out, storage, nanos) vs usage_daily's sums."""
    return (d, *raw, *rollup, *in_flight)


def hourly_drift(d, et, raw, rollup, in_flight=(0, 0.0, 0)):
    """A tenant-day-type ClickHouse found different: raw (events, quantity, nanos) vs usage_hourly's sums."""
    return (d, et, *raw, *rollup, *in_flight)


def coverage_rows(window, tenants, skip=(), events=None, first_usage=None):
    """The "tenants" rows of a system whose rollups agree: `events.get((t, d), 1)` query events ($0.001 each)
    per tenant per day; each tenant's first usage ever (usage_daily's first day) `first_usage[t]`, default long
    before the window."""
    first_usage = first_usage or {}
    now = int(window.now.timestamp())
    live = list(range(int(window.start.timestamp()) // 60, now // 60 + 1))  # something ingested every minute
    rows = {
        "active": [{"tenant_id": t} for t in tenants],
        "tenants": [],
        "future": [],
        "first_usage": [{"t": t, "first_day": first_usage.get(t, dt.date(2020, 1, 1))} for t in tenants],
        "freshness": [{"event_minutes": live, "ingest_minutes": live}],
        "values": [],
    }
    for t in tenants:
        days = [
            d
            for d in window.complete_days() + [window.today]
            if (t, d) not in skip and d >= first_usage.get(t, dt.date.min)
        ]
        n = [(events or {}).get((t, d), 1) for d in days]
        rows["tenants"].append(
            {
                "t": t,
                "day_events": list(zip(days, n)),
                "cost_nanos": sum(n) * 1_000_000,
                "daily_drift": [],
                "hourly_drift": [],
                "latest": now - 60,
                "repeat_ids": [],
            }
        )
    return rows


def tenant(rows, t):
    return next(r for r in rows["tenants"] if r["t"] == t)


def coverage(rows, window, **kwargs):
    return uc_verdict.evaluate(uc.CHECK.new_result(), rows, load_config(), window, **kwargs)


CFG = load_config(
    {
        "usage_events": {"table": "metering.events", "timestamp": "event_time", "tenant_id": "org_id"},
        "usage_daily": {"table": "metering.daily"},
    }
)


WINDOW = Window(NOW, 3)  # 2025-03-07 .. 2025-03-10 12:00 UTC


UTC = dt.timezone.utc


DAY = 86400


def minutes(now: int, days: int, every_min: int = 1, quiet=None, stop_after: int | None = None) -> list[int]:
    """Active minutes over `days` before `now`: one every `every_min`; `quiet(minute_of_day)` -> step there."""
    out, m, end = [], (now - days * DAY) // 60, now // 60 if stop_after is None else stop_after // 60
    while m <= end:
        out.append(m)
        m += quiet(m % 1440) if quiet else every_min
    return out


def days_from(first: dt.date, n: int) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


# --- queries -------------------------------------------------------------------------------------------------------


def test_check_1_sends_its_queries_then_its_follow_ups():
    qs = coverage_queries(CFG, WINDOW)
    assert {k: q.columns for k, q in qs.items()} == {
        "active": ("tenant_id",),
        "first_usage": ("t", "first_day"),
        "future": ("t", "events", "latest"),
        "window_events": ("events",),
        "zone": ("server_timezone", "timestamp_type"),
        "freshness": ("event_minutes", "ingest_minutes"),
    }
    assert "FROM system.parts" in qs["window_events"].sql and "usage_events" not in qs["window_events"].render()
    assert scan(CFG, WINDOW, 0.01, [], 1).columns == (
        "t",
        "day_events",
        "cost_nanos",
        "daily_drift",
        "hourly_drift",
        "latest",
        "non_finite",
        "negative_cost",
        "negative_quantity",
        "repeat_ids",
    )


def test_check_1_first_usage_comes_from_the_daily_rollup_over_all_history():
    assert (
        coverage_queries(CFG, WINDOW)["first_usage"].render()
        == """\
SELECT tenant_id AS t, min(day) AS first_day
FROM metering.daily
GROUP BY t"""
    )


def test_check_1_compares_the_rollups_in_clickhouse_over_the_window_up_to_now_today_included():
    sql = scan(CFG, WINDOW, 0.05, [], 1).render()
    # events and both rollups: the whole window through the end of today (now is 12:00; today's rows count)
    assert (
        "FROM metering.events\n                WHERE event_time >= toDateTime(1741305600) AND event_time < "
        "toDateTime(1741651200)" in sql
    )
    assert "WHERE hour >= toDateTime(1741305600) AND hour < toDateTime(1741651200)" in sql
    assert "FROM metering.daily\n        WHERE day >= toDate('2025-03-07') AND day < toDate('2025-03-11')" in sql
    # what can be in flight: rows ingested (or dated) in the last ingest_guard_seconds (300) before now
    assert "created_at AS _ing" in sql and "_ing >= toDateTime(1741607700) OR _ts >= toDateTime(1741607700)" in sql
    # exact money from nano-dollars, a non-finite cost never summed; the cost filter a micro-dollar looser
    # than the tolerance plus what is in flight, judged in Python
    assert "toInt64(floor(if(isFinite(_c), _c, 0) * 1000000000 + 0.5)) AS _c_n" in sql
    assert "abs(r_nanos / 1e9 - d_cost) > 0.049999 + s_nanos / 1e9" in sql and "NOT isFinite(d_cost)" in sql
    assert "sumIf(r_n, et = 'query') AS r_qc" in sql and "sumIf(r_q, et = 'storage_write') AS r_sw" in sql
    assert sql.count("ALL FULL OUTER JOIN") == 2


def test_check_1_future_events_sql_forgives_five_minutes_of_skew():
    assert (
        coverage_queries(CFG, WINDOW)["future"].render()
        == """\
SELECT org_id AS t, count() AS events, toUInt32(max(event_time)) AS latest
FROM metering.events
WHERE event_time > toDateTime(1741608300)
GROUP BY t
ORDER BY t"""
    )


def test_check_1_cuts_the_repeats_pass_to_fit_the_memory_limit():
    from billing_readiness.checks.usage_coverage.id_queries import duplicate_candidates, hash_partitions
    from billing_readiness.checks.usage_coverage.id_queries import repeats as repeats_pass

    assert repeats.slices(10_000_000, 2_000_000_000) == 1  # 240 MB of hashes: one pass under 70 % of 2 GB
    assert repeats.slices(94_000_000, 2_000_000_000) == 2 and repeats.slices(58_000_000, 2_000_000_000) == 1
    assert repeats.slices(0, 2_000_000_000) == 1 and repeats.slices(10**9, None) == 1  # unknown, no limit
    one = repeats_pass(CFG, WINDOW, 0, 1)
    assert "bitAnd(h, 1023) AS k" in one.sql and "modulo" not in one.sql and one.columns == ("k", "extra")
    assert one.settings == {"max_bytes_before_external_group_by": 1_500_000_000}  # past 70 %: spill, not fail
    second = repeats_pass(CFG, WINDOW, 1, 2)
    assert "bitAnd(h, 1023) + 1024 * modulo(intDiv(h, 1024), 2) AS k" in second.sql
    assert "WHERE modulo(intDiv(h, 1024), 2) = 1\nGROUP BY k\nHAVING extra > 0" in second.sql
    assert second.name.endswith("(slice 2 of 2)")
    # a mass duplication: the repeated hashes of the flagged buckets only, sliced to the memory limit
    assert hash_partitions(CFG, 10_000_000) == 1 and hash_partitions(CFG, 55_000_000) == 2
    flagged = duplicate_candidates(CFG, WINDOW, 1, 2, [3, 1500], 2)
    assert "IN %(keys)s AND modulo(h, 2) = 1\nGROUP BY h" in flagged.sql and flagged.params["keys"] == (3, 1500)
    assert flagged.settings == {"max_bytes_before_external_group_by": 1_500_000_000}


def test_the_scan_collects_the_ids_of_flagged_buckets_only():
    none = scan(CFG, WINDOW, 0.01, [], 1)
    assert "CAST([] AS Array(String))" in none.sql and "repeat_keys" not in none.params
    some = scan(CFG, WINDOW, 0.01, [7, 1030], 2)
    assert (
        "groupArrayIf(toString(_eid), _ts < toDateTime(%(now)s) AND bitAnd(cityHash64(_eid), 1023) + 1024 * "
        "modulo(intDiv(cityHash64(_eid), 1024), 2) IN %(repeat_keys)s)" in some.sql
    )
    assert some.params["repeat_keys"] == (7, 1030) and "2 id-hash bucket(s)" in some.name


def test_duplicates_are_counted_from_the_collected_ids_across_tenants():
    rows = [
        {"t": "a", "repeat_ids": ["x", "x", "y", "z"]},
        {"t": "b", "repeat_ids": ["z", "w"]},
        {"t": "c", "repeat_ids": ["v"]},
    ]
    assert repeats.duplicate_rows(rows) == [
        {"t": "a", "duplicated_ids": 2, "extra_rows": 2, "example_event_id": "x"},
        {"t": "b", "duplicated_ids": 1, "extra_rows": 1, "example_event_id": "z"},
    ]
    assert repeats.duplicate_rows([{"t": "a", "repeat_ids": ["x", "y"]}]) == []
    assert repeats.flagged([{"k": 9, "extra": 1}, {"k": 2, "extra": 3}]) == [2, 9]
    assert repeats.collectable([1, 2], 10_000_000, 1) and not repeats.collectable(list(range(60)), 10_000_000, 1)
    assert repeats.collectable(list(range(8)), 0, 1) and not repeats.collectable(list(range(9)), 0, 1)  # size unknown


def test_check_1_looks_at_ids_only_when_a_hash_repeats_and_across_shards():
    from billing_readiness.checks.usage_coverage.id_queries import MAX_CANDIDATES, duplicates

    assert duplicates(CFG, WINDOW, []) is None  # the common case: one pass over the ids
    few = duplicates(CFG, WINDOW, [{"h": 7, "c": 2}, {"h": 3, "c": 2}])
    assert "cityHash64(event_id) IN (3, 7)" in few.render()
    assert few.columns == ("t", "duplicated_ids", "extra_rows", "example_event_id")
    many = duplicates(CFG, WINDOW, [{"h": i, "c": 2} for i in range(MAX_CANDIDATES + 1)])
    assert "GLOBAL IN (SELECT cityHash64(event_id) AS h FROM metering.events" in many.render()


def test_rows_are_read_by_name_whatever_their_order():
    q = coverage_queries(context().cfg, Window(NOW, 3))["future"]
    assert q.named_rows(["latest", "t", "events"], [(5, "a", 2)]) == [{"latest": 5, "t": "a", "events": 2}]


def test_an_event_is_in_the_future_only_after_the_wall_clock_not_after_a_past_anchor():
    """A run re-checked a day later keeps its anchor; the day of events since then is not "in the future"."""
    later = NOW + dt.timedelta(days=1)
    assert (
        coverage_queries(context().cfg, Window(NOW, 3, clock=later))["future"].params["after"]
        == int(later.timestamp()) + FUTURE_SKEW_SECONDS
    )
    assert (
        coverage_queries(context().cfg, Window(NOW, 3))["future"].params["after"]
        == int(NOW.timestamp()) + FUTURE_SKEW_SECONDS
    )
    assert Window(NOW, 3, clock=later).first_day == WINDOW.first_day  # the window itself follows the anchor


# --- verdict -------------------------------------------------------------------------------------------------------


def test_coverage_healthy_passes():
    w = Window(NOW, 5)
    r = coverage(coverage_rows(w, ["a", "b"]), w)
    assert r.passed, r.findings
    assert r.details.coverage.tenants["a"] == [1] * 5


def test_coverage_no_active_tenants_fails():
    w = Window(NOW, 5)
    r = coverage(coverage_rows(w, []), w)
    assert [f.code for f in r.failures] == ["no_active_tenants"]


def test_coverage_a_missing_day_fails_by_default_and_the_param_allows_n():
    w = Window(NOW, 5)
    days = w.complete_days()
    rows = coverage_rows(w, ["a", "b"], skip={("b", days[1]), ("b", days[2])})
    r = coverage(rows, w)
    assert [(f.code, f.evidence["tenant"]) for f in r.failures] == [("missing_days", "b")]
    assert r.failures[0].evidence["missing_days"] == [days[1].isoformat(), days[2].isoformat()]
    assert not coverage(rows, w, max_missing_days=1).passed
    allowed = coverage(rows, w, max_missing_days=2)
    assert allowed.passed and [f.code for f in allowed.warnings] == ["missing_days"]  # still reported


def test_coverage_days_before_a_tenants_first_usage_do_not_count():
    w = Window(NOW, 30)
    onboarded = w.today - dt.timedelta(days=10)
    rows = coverage_rows(w, ["a", "new"], first_usage={"new": onboarded})
    r = coverage(rows, w)
    assert r.passed, r.failures
    assert [
        (f.evidence["tenant"], f.evidence["first_usage"]) for f in r.findings if f.code == "first_usage_in_window"
    ] == [("new", onboarded.isoformat())]
    assert r.details.coverage.first_usage == {"new": onboarded.isoformat()}
    # the rollup knows older usage: then the same empty days are missing days
    rows["first_usage"] = [{"t": t, "first_day": dt.date(2020, 1, 1)} for t in ("a", "new")]
    assert [f.evidence["tenant"] for f in coverage(rows, w).failures] == ["new"]


def test_coverage_a_day_far_below_the_median_is_a_partial_loss_warning_or_failure():
    w = Window(NOW, 10)
    day = w.complete_days()[4]
    rows = coverage_rows(w, ["a", "b"], events={**{("a", d): 200 for d in w.complete_days()}, ("a", day): 6})
    r = coverage(rows, w)
    assert r.passed and [f.code for f in r.warnings] == ["partial_day_loss"]
    [f] = r.warnings
    assert f.evidence["tenant"] == "a" and f.evidence["days"] == [
        {"day": day.isoformat(), "events": 6, "median_events": 200.0}
    ]
    assert "3% of the days around it" in f.message and r.details.coverage.partial == {"a": [day.isoformat()]}
    strict = coverage(rows, w, partial_days_fail=True)
    assert [f.code for f in strict.failures] == ["partial_day_loss"]
    rows = coverage_rows(w, ["a"], events={**{("a", d): 200 for d in w.complete_days()}, ("a", day): 25})
    assert coverage(rows, w).warnings == []  # 12.5% of the median is not a loss


def test_coverage_drift_duplicates_orphans_future():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["daily_drift"] = [daily_drift(d0, (1, 0.0, 0.0, 0.0, 1_000_000), (1, 0.0, 0.0, 0.0, 0.5))]
    rows["duplicates"] = [{"t": "a", "duplicated_ids": 2, "extra_rows": 3, "example_event_id": "evt-1"}]
    rows["tenants"].append(
        {
            "t": "orphan",
            "day_events": [(d0, 4)],
            "cost_nanos": 4_000_000,
            "daily_drift": [],
            "hourly_drift": [],
            "latest": int(w.now.timestamp()) - 60,
            "repeat_ids": [],
        }
    )
    rows["future"] = [{"t": "a", "events": 2, "latest": int(NOW.timestamp()) + 86400}]
    r = coverage(rows, w)
    assert {f.code for f in r.failures} == {"rollup_drift_daily", "duplicate_event_ids"}
    assert {f.code for f in r.warnings} == {"usage_without_active_tenant", "future_events"}
    drift = next(f for f in r.failures if f.code == "rollup_drift_daily")
    assert drift.evidence["differences"] == [
        {"day": d0.isoformat(), "column": "total_cost_usd", "raw": "0.001000", "rollup": "0.500000"}
    ]


def test_a_small_quantity_drift_on_a_large_total_is_still_caught():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["daily_drift"] = [  # 1,000 bytes more in the rollup
        daily_drift(d0, (1, 0.0, 0.0, 10_000_000_000.0, 1_000_000), (1, 0.0, 0.0, 10_000_001_000.0, 0.001))
    ]
    r = coverage(rows, w)
    assert [f.code for f in r.failures] == ["rollup_drift_daily"]
    assert r.failures[0].evidence["differences"][0]["column"] == "storage_writes_bytes"
    assert not qty_differs(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1)  # summation order alone is no drift


def test_what_clickhouse_sends_back_is_judged_exactly_here():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    d0 = w.complete_days()[0]
    tenant(rows, "a")["hourly_drift"] = [
        hourly_drift(d0, "query", (5, 5.0, 5_000_000), (4, 4.0, 0.004)),  # a lost event in the hourly rollup
        hourly_drift(d0, "token_input", (1, 10.0, 9_995_000), (1, 10.0, 0.0)),  # $0.009995 apart: in tolerance
    ]
    r = coverage(rows, w)
    [f] = r.failures
    assert f.code == "rollup_drift_hourly"
    assert [(x["event_type"], x["column"], x["raw"], x["rollup"]) for x in f.evidence["differences"]] == [
        ("query", "event_count", 5, 4),
        ("query", "total_quantity", 5.0, 4.0),
    ]  # $0.001 apart: within $0.01


def test_coverage_a_stalled_ingest_fails_naming_the_newest_ingestion_and_the_threshold():
    w = Window(NOW, 5)
    rows = coverage_rows(w, ["a"])
    stopped = [m for m in rows["freshness"][0]["ingest_minutes"] if m * 60 < NOW.timestamp() - 3 * 3600]
    rows["freshness"] = [{"event_minutes": rows["freshness"][0]["event_minutes"], "ingest_minutes": stopped}]
    r = coverage(rows, w)
    [f] = r.failures
    assert f.code == "ingest_stalled" and f.evidence["series"] == "ingestion"
    assert "newest ingestion 2025-03-10 08:59 UTC, newest event 2025-03-10 12:00 UTC" in f.message
    assert "threshold is 30 min" in f.message
    assert f.evidence["threshold_seconds"] == 1800 and f.evidence["silence_seconds"] > 3 * 3600 - 60


def test_coverage_today_drift_beyond_what_is_in_flight_fails_and_within_it_passes():
    w = Window(NOW, 3)
    rows = coverage_rows(w, ["a"])
    today = w.today
    # 5 queries in the raw events today, 9 in usage_daily: 4 more than anything that can be in flight (2)
    tenant(rows, "a")["daily_drift"] = [
        (today, 5, 0.0, 0.0, 0.0, 5_000_000, 9, 0.0, 0.0, 0.0, 0.005, 2, 0.0, 0.0, 0.0, 2_000_000)
    ]
    assert [f.code for f in coverage(rows, w).failures] == ["rollup_drift_daily"]
    tenant(rows, "a")["daily_drift"] = [
        (today, 5, 0.0, 0.0, 0.0, 5_000_000, 3, 0.0, 0.0, 0.0, 0.003, 2, 0.0, 0.0, 0.0, 2_000_000)
    ]
    assert coverage(rows, w).passed  # the rollup lags by the two events ingested in the last guard seconds


# --- freshness_and_gaps --------------------------------------------------------------------------------------------


def silence_of(series, minutes, now, *args, min_active=10):
    return freshness.silence(series, freshness.DayBounds.from_minutes(minutes, now // 60), now, *args, min_active)


def test_the_day_bounds_answer_every_silence_as_the_minutes_do():
    """Randomized: the silence around each earlier day's instant, from per-day first and last minutes, equals the
    plain search over every minute, at any time of day."""
    import random

    rnd = random.Random(20)
    for trial in range(300):
        days = rnd.randint(1, 9)
        now_min = 29_000_000 + rnd.randint(0, 5000)
        start = (now_min // 1440 - days) * 1440
        minutes = sorted({rnd.randint(start, now_min + 4) for _ in range(rnd.choice([0, 1, 3, 30, 400]))})
        bounds = freshness.DayBounds.from_minutes(minutes, now_min)
        for k in range(1, days + 1):
            assert bounds.spell_at(k) == spell_at(minutes, now_min - k * 1440), (trial, k)
        assert bounds.newest == (minutes[-1] if minutes else None)


def test_spell_at_measures_the_silence_around_an_instant():
    assert spell_at([10, 11, 20], 15) == 9 * 60
    assert spell_at([10, 11, 20], 11) == 0
    assert spell_at([10, 11, 20], 5) is None and spell_at([10], 20) is None


def test_a_system_that_ingests_every_minute_stalls_after_the_configured_silence():
    now = int(dt.datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp())
    live = silence_of("ingestion", minutes(now, 30), now, 30, 1800, 4)
    assert not live.stalled and live.silence_s < 120 and live.usual_s == 0 and live.samples == 30
    stopped = silence_of("ingestion", minutes(now, 30, stop_after=now - 3600), now, 30, 1800, 4)
    assert stopped.stalled and stopped.threshold_s == 1800 and 3500 < stopped.silence_s < 3700


def test_quiet_nights_never_trip_it_and_a_stall_at_night_still_does():
    """Every night 01:00-05:00 nothing is sent at all: at 03:00 a 2-hour silence is the usual."""
    now = int(dt.datetime(2026, 12, 16, 3, tzinfo=UTC).timestamp())

    def nights(minute_of_day):
        return 240 if minute_of_day == 60 else 1  # at 01:00 jump to 05:00

    night = silence_of("ingestion", minutes(now, 30, quiet=nights), now, 30, 1800, 4)
    assert not night.stalled and night.usual_s >= 4 * 3600 - 120
    # a system quiet (not silent) at night, stalled since 23:00: caught
    sparse = minutes(now, 30, every_min=5, stop_after=now - 4 * 3600)
    assert silence_of("ingestion", sparse, now, 30, 1800, 4).stalled


def test_a_sparse_nights_silence_is_a_stall_only_once_activity_was_expected():
    """A small system: one event at 04:30 each night, one every 2 minutes from 06:00. At 06:10 on a day like the
    others the silence (100 min) is far beyond the usual spell at 06:10 (2 min), yet the same span of earlier days
    held only the few minutes after 06:00: no stall. At 06:30 the span usually holds 15 active minutes: a stall."""

    def sparse_nights(minute_of_day):
        if minute_of_day < 270:
            return 270 - minute_of_day  # one event at 04:30 ...
        return 90 if minute_of_day == 270 else 2  # ... then nothing until 06:00, then one every 2 minutes

    day = dt.datetime(2026, 12, 5, tzinfo=UTC)
    for hhmm, stalled in (((6, 10), False), ((6, 30), True)):
        now = int(day.replace(hour=hhmm[0], minute=hhmm[1]).timestamp())
        history = [m for m in minutes(now, 30, quiet=sparse_nights) if m < (now - now % DAY) // 60 + 271]
        s = silence_of("ingestion", history, now, 30, 1800, 4)
        assert s.silence_s > s.threshold_s, hhmm  # the spell rule alone would call both a stall
        assert s.stalled is stalled, (hhmm, s)
    assert 4 <= s.usual_active <= 16


def test_nothing_at_all_is_a_stall():
    now = 10 * DAY
    assert silence_of("event time", [], now, 30, 1800, 4).stalled


def test_a_tenants_usual_volume_at_this_time_of_day_is_the_smaller_of_all_days_and_the_same_weekday():
    now = int(dt.datetime(2026, 12, 6, 15, tzinfo=UTC).timestamp())  # a Sunday
    start = now - 30 * DAY
    hours = []
    for h in range(start - start % 3600, now, 3600):
        weekend = (h // DAY + 3) % 7 >= 5
        hours.append((h, 0 if weekend else 100))  # a B2B tenant: nothing on weekends
    since = now - 6 * 3600
    assert freshness.expected_events(hours, since, now, 30) == 0  # Sundays are silent: no warning on a Sunday
    weekday = now - 2 * DAY  # Friday
    hours_friday = [(h, n) for h, n in hours if h < weekday]
    assert freshness.expected_events(hours_friday, weekday - 6 * 3600, weekday, 28) == 600


def test_a_tenant_growing_10x_over_the_window_has_no_partial_days():
    days = days_from(dt.date(2026, 11, 1), 30)
    counts = [round(100 * 10 ** (i / 29)) for i in range(30)]
    assert partial_days(days, counts, None, 0.1) == []


def test_quiet_weekends_are_not_partial_but_a_collapsed_weekday_is():
    days = days_from(dt.date(2026, 11, 2), 28)  # starts on a Monday
    counts = [300 if i % 7 >= 5 else 1000 for i in range(28)]
    assert partial_days(days, counts, None, 0.1) == []
    counts_b2b = [20 if i % 7 >= 5 else 1000 for i in range(28)]  # weekends at 2 %: still their own normal
    assert partial_days(days, counts_b2b, None, 0.1) == []
    counts_b2b[9] = 30  # a Wednesday at 3 %
    [p] = partial_days(days, counts_b2b, None, 0.1)
    assert (p.day, p.events) == (days[9], 30)


def test_the_ramp_up_after_onboarding_is_never_partial_but_a_later_collapse_is():
    days = days_from(dt.date(2026, 11, 1), 30)
    first = days[10]
    counts = [0] * 10 + [1, 5, 40, 200, 600, 900, 1000] + [1000] * 13
    assert partial_days(days, counts, first, 0.1) == []
    assert RAMP_UP_DAYS == 7
    counts[25] = 20
    assert [p.day for p in partial_days(days, counts, first, 0.1)] == [days[25]]


def test_the_first_day_of_the_window_is_judged_against_the_days_after_it():
    days = days_from(dt.date(2026, 11, 1), 30)
    counts = [1000] * 30
    counts[0] = 10
    assert [p.day for p in partial_days(days, counts, None, 0.1)] == [days[0]]


# --- run -----------------------------------------------------------------------------------------------------------


def test_check_1_asks_for_the_ids_only_when_a_hash_repeats():
    from billing_readiness.checks import usage_coverage as uc

    nothing = {q.name: [] for q in uc.CHECK.queries(context()).values()}  # every first-round query: no rows
    repeats_name = "event_id hash buckets holding an id more than once"
    plain_scan = (
        "usage per tenant and day up to now (usage_events), with the days where usage_daily or "
        "usage_hourly disagree beyond what is still in flight"
    )
    tenant_a = {
        "t": "a",
        "day_events": [],
        "cost_nanos": 0,
        "daily_drift": [],
        "hourly_drift": [],
        "latest": 0,
        "non_finite": 0,
        "negative_cost": 0,
        "negative_quantity": 0,
    }
    clean = RowsClickHouse(
        {
            **nothing,
            "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
            repeats_name: [],
            plain_scan: [{**tenant_a, "repeat_ids": []}],
        }
    )
    uc.CHECK.run(StandInServices(clean), context())
    assert [q.name for q in clean.sent][-2:] == [repeats_name, plain_scan] and len(clean.sent) == 8
    found = RowsClickHouse(
        {
            **nothing,
            "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
            repeats_name: [{"k": 42, "extra": 1}],
            plain_scan + " and the ids of 1 id-hash bucket(s) holding repeats": [
                {**tenant_a, "repeat_ids": ["evt-1", "evt-2", "evt-1"]}
            ],
        }
    )
    result = uc.CHECK.run(StandInServices(found), context())
    assert found.sent[-1].params["repeat_keys"] == (42,) and len(found.sent) == 8  # no second read of the ids
    [dup] = [f for f in result.failures if f.code == "duplicate_event_ids"]
    assert dup.evidence["example_event_id"] == "evt-1" and dup.evidence["extra_rows"] == 1


def test_a_mass_duplication_reads_the_window_again_for_what_the_scan_cannot_answer():
    from billing_readiness.checks import usage_coverage as uc

    first = {q.name: [] for q in uc.CHECK.queries(context()).values()}
    estimate = "events in the window, estimated from the table's parts (system.parts)"
    many = [{"k": k, "extra": 1} for k in range(200)]  # 200 buckets of ~10,000 ids each: 2 M ids, too many
    scan_name = (
        "usage per tenant and day up to now (usage_events), with the days where usage_daily or "
        "usage_hourly disagree beyond what is still in flight"
    )
    tenant_a = {
        "t": "a",
        "day_events": [],
        "cost_nanos": 0,
        "daily_drift": [],
        "hourly_drift": [],
        "latest": 0,
        "non_finite": 0,
        "negative_cost": 0,
        "negative_quantity": 0,
        "repeat_ids": [],
    }
    ch = RowsClickHouse(
        {
            **first,
            "active tenants (tenant_quotas)": [{"tenant_id": "a"}],
            estimate: [{"events": 10_000_000}],
            "event_id hash buckets holding an id more than once": many,
            scan_name: [tenant_a],
            "event_id hashes stored more than once (first pass)": [{"h": 42, "c": 3}],
            "event_ids stored more than once, per tenant": [
                {"t": "a", "duplicated_ids": 1, "extra_rows": 2, "example_event_id": "evt-9"}
            ],
            "minutes with ingested and with dated events over the window (usage_events)": [
                {"event_minutes": [], "ingest_minutes": []}
            ],
        }
    )
    result = uc.CHECK.run(StandInServices(ch), context())
    sent = [q.name for q in ch.sent]
    assert sent[-3] == scan_name
    assert sent[-2:] == [
        "event_id hashes stored more than once (first pass)",
        "event_ids stored more than once, per tenant",
    ]
    assert "repeat_keys" not in ch.sent[-3].params and ch.sent[-2].params["keys"] == tuple(range(200))
    assert {f.code for f in result.failures} >= {"duplicate_event_ids", "ingest_stalled"}  # nothing in the minutes


def test_partial_days_is_the_plain_definition_only_faster():
    """gaps.partial_days skips days at or above `ratio` of the busiest day and walks to the nearest days instead
    of sorting them all; on random tenants it finds exactly what the plain definition finds."""
    import random
    import statistics

    from billing_readiness.checks.usage_coverage.gaps import NEIGHBOURS

    def plain(days, counts, first, ratio):
        idx = [i for i, d in enumerate(days) if (first is None or d >= first) and counts[i] > 0]
        out = []
        for i in idx:
            if first and dt.date.fromisoformat(days[i]) < dt.date.fromisoformat(first) + dt.timedelta(
                days=RAMP_UP_DAYS
            ):
                continue
            others = sorted((j for j in idx if j != i), key=lambda j: (abs(j - i), j))[:NEIGHBOURS]
            if len(others) < 3:
                continue
            near = statistics.median(counts[j] for j in others)
            weekday = [counts[j] for j in idx if j != i and (j - i) % 7 == 0]
            if counts[i] < ratio * near and (not weekday or counts[i] < ratio * statistics.median(weekday)):
                out.append((days[i], counts[i], float(near)))
        return out

    rng = random.Random(7)
    days = days_from(dt.date(2025, 1, 1), 31)
    found = 0
    for _ in range(3000):
        counts = [rng.choice([0, 0, 1, 2, 5, 50, 100, 120, 1000]) for _ in days]
        first = rng.choice([None, days[0], days[rng.randrange(31)]])
        ratio = rng.choice([0.1, 0.5, 1.0])
        want = plain(days, counts, first, ratio)
        assert [(p.day, p.events, p.median_events) for p in partial_days(days, counts, first, ratio)] == want
        found += bool(want)
    assert found > 100  # the comparison saw many partial days, not only none


def test_only_active_tenants_are_told_silent_a_renamed_one_keeps_its_unbilled_usage_warning():
    """A tenant whose id changed mid-window: the old id stopped sending (and is no longer active), the new one
    took over. The old id's usage is warned once (nobody bills it); it is never called silent."""
    window = Window(NOW, 7)
    rows = coverage_rows(window, ["acme-old", "acme-new", "b"])
    rows["active"] = [{"tenant_id": "acme-new"}, {"tenant_id": "b"}]
    now = int(window.now.timestamp())
    tenant(rows, "acme-old")["latest"] = now - 3 * DAY
    tenant(rows, "b")["latest"] = now - 8 * 3600  # an active tenant gone quiet: a candidate
    assert silent_candidates(rows, load_config(), window) == ["b"]
    rows["tenant_hours"] = [{"t": "acme-old", "hours": [(now - 5 * DAY + h * 3600, 500) for h in range(48)]}]
    result = coverage(rows, window)
    assert "tenant_silent" not in {f.code for f in result.findings}
    assert [f.evidence["tenant"] for f in result.findings if f.code == "usage_without_active_tenant"] == ["acme-old"]


def test_a_tenants_usual_volume_counts_hours_that_start_on_a_half_hour():
    """usage_hourly on a server in Asia/Kolkata: its hours start at :30 UTC. 100 events an hour every day; the
    6 silent hours usually hold 600 events, whichever way the hours are cut."""
    now = int(dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC).timestamp())
    for offset in (0, 1800):
        hours = [(h, 100) for h in range(now - 10 * DAY + offset, now - 6 * 3600, 3600)]
        assert freshness.expected_events(hours, now - 6 * 3600, now, 7) == pytest.approx(600)
