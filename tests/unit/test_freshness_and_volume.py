"""Check 1's time-dependent rules on plain data: stalled ingest, silent tenants, partial-loss days."""
import datetime as dt

from billing_readiness.checks.usage_coverage import freshness
from billing_readiness.checks.usage_coverage.gaps import RAMP_UP_DAYS, partial_days

UTC = dt.timezone.utc
DAY = 86400


def minutes(now: int, days: int, every_min: int = 1, quiet=None, stop_after: int | None = None) -> list[int]:
    """Active minutes over `days` before `now`: one every `every_min`; `quiet(minute_of_day)` -> step there."""
    out, m, end = [], (now - days * DAY) // 60, now // 60 if stop_after is None else stop_after // 60
    while m <= end:
        out.append(m)
        m += quiet(m % 1440) if quiet else every_min
    return out


def test_spell_at_measures_the_silence_around_an_instant():
    assert freshness.spell_at([10, 11, 20], 15) == 9 * 60
    assert freshness.spell_at([10, 11, 20], 11) == 0
    assert freshness.spell_at([10, 11, 20], 5) is None and freshness.spell_at([10], 20) is None


def test_a_system_that_ingests_every_minute_stalls_after_the_configured_silence():
    now = int(dt.datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp())
    live = freshness.silence("ingestion", minutes(now, 30), now, 30, 1800, 4)
    assert not live.stalled and live.silence_s < 120 and live.usual_s == 0 and live.samples == 30
    stopped = freshness.silence("ingestion", minutes(now, 30, stop_after=now - 3600), now, 30, 1800, 4)
    assert stopped.stalled and stopped.threshold_s == 1800 and 3500 < stopped.silence_s < 3700


def test_quiet_nights_never_trip_it_and_a_stall_at_night_still_does():
    """Every night 01:00-05:00 nothing is sent at all: at 03:00 a 2-hour silence is the usual."""
    now = int(dt.datetime(2026, 12, 16, 3, tzinfo=UTC).timestamp())

    def nights(minute_of_day):
        return 240 if minute_of_day == 60 else 1  # at 01:00 jump to 05:00

    night = freshness.silence("ingestion", minutes(now, 30, quiet=nights), now, 30, 1800, 4)
    assert not night.stalled and night.usual_s >= 4 * 3600 - 120
    # a system quiet (not silent) at night, stalled since 23:00: caught
    sparse = minutes(now, 30, every_min=5, stop_after=now - 4 * 3600)
    assert freshness.silence("ingestion", sparse, now, 30, 1800, 4).stalled


def test_nothing_at_all_is_a_stall():
    now = 10 * DAY
    assert freshness.silence("event time", [], now, 30, 1800, 4).stalled


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


def days_from(first: dt.date, n: int) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


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
