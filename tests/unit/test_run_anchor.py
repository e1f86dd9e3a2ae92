"""The instant a run checks as of: from the run, not from when a worker happens to pick the task up."""

import datetime as dt

from billing_readiness.core.run_anchor import anchor

UTC = dt.timezone.utc
WALL = dt.datetime(2026, 12, 2, 9, 15, 42, 600000, tzinfo=UTC)
NIGHT = dt.datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_a_scheduled_run_checks_as_of_the_end_of_its_data_interval_whenever_it_runs():
    for wall in (NIGHT + dt.timedelta(seconds=5), WALL, WALL + dt.timedelta(days=3)):  # first try, retry, re-run
        a = anchor("scheduled", NIGHT, NIGHT - dt.timedelta(hours=1), wall)
        assert (a.at, a.source) == (NIGHT, "data_interval_end")


def test_a_backfill_is_anchored_like_a_scheduled_run():
    assert anchor("backfill", NIGHT, WALL, WALL).at == NIGHT


def test_a_manual_run_checks_as_of_its_trigger_time_in_whole_seconds():
    triggered = dt.datetime(2026, 12, 2, 8, 59, 59, 999999, tzinfo=UTC)
    a = anchor("manual", WALL, triggered, WALL)  # a manual run's data interval is not what the user asked about
    assert (a.at, a.source) == (triggered.replace(microsecond=0), "run_after")
    assert anchor("asset_triggered", None, triggered, WALL).source == "run_after"


def test_an_anchor_ahead_of_the_wall_clock_is_the_wall_clock_and_says_so():
    a = anchor("manual", None, WALL + dt.timedelta(minutes=5), WALL)
    assert a.at == WALL.replace(microsecond=0) and "later" in a.source


def test_without_run_times_the_wall_clock_and_a_naive_time_is_utc():
    assert anchor(None, None, None, WALL).source == "wall clock"
    assert anchor("manual", None, dt.datetime(2026, 12, 2, 1, 2, 3), WALL).at == dt.datetime(
        2026, 12, 2, 1, 2, 3, tzinfo=UTC
    )


def test_run_type_enums_are_read_by_value():
    class RunType:
        value = "SCHEDULED"

    assert anchor(RunType(), NIGHT, WALL, WALL).at == NIGHT
