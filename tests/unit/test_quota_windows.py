"""Check 4's window rules: counters that never expire or outlive their window, announced resets."""
import datetime as dt

from billing_readiness.checks.quota_enforcement import windows

UTC = dt.timezone.utc


def ts(*args) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def test_a_counters_window_comes_from_its_period_label():
    assert windows.window_end("quota:p:queries_hourly:2026-12-31-23") == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert windows.window_end("quota:p:queries_daily:2028-02-29") == dt.datetime(2028, 3, 1, tzinfo=UTC)
    assert windows.window_end("quota:p:queries_monthly:2026-12") == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert windows.window_end("quota:p:queries_hourly") is None
    assert windows.window_end("quota:p:x:2027-02-29") is None  # not a date


def test_counters_that_expire_with_their_window_pass_at_any_instant():
    for seen in (ts(2026, 12, 31, 23, 59, 50), ts(2027, 2, 28, 23, 0, 5), ts(2026, 12, 1, 0, 0, 30)):
        when = dt.datetime.fromtimestamp(seen, UTC)
        ends = {f"quota:p:queries_hourly:{when:%Y-%m-%d-%H}": (when.replace(minute=0, second=0) + dt.timedelta(hours=1)),
                f"quota:p:queries_daily:{when:%Y-%m-%d}": when.replace(hour=0, minute=0, second=0) + dt.timedelta(days=1)}
        counters = {k: int(e.timestamp() - seen) + 1 for k, e in ends.items()}
        assert windows.judge_counters(counters, seen) == []


def test_a_counter_without_expiry_fails_and_one_that_outlives_its_window_fails():
    seen = ts(2026, 12, 1, 21, 30)
    [(sev, code, _)] = windows.judge_counters({"quota:p:queries_hourly:2026-12-01-21": -1}, seen)
    assert (sev, code) == ("fail", "counter_never_expires")
    [(sev, code, message)] = windows.judge_counters({"quota:p:queries_hourly:2026-12-01-21": 86400}, seen)
    assert (sev, code) == ("fail", "counter_outlives_window") and "2026-12-01 22:00:00 UTC" in message
    assert windows.judge_counters({"quota:p:gone:2026-12-01-21": -2}, seen) == []
    assert windows.judge_counters({"quota:p:unlabelled": 40 * 86400}, seen)[0][1] == "counter_outlives_window"


def test_an_announced_reset_in_the_past_or_beyond_every_window_warns():
    seen = ts(2026, 12, 1, 21, 30)
    counters = {"quota:p:queries_hourly:2026-12-01-21": 1801}
    assert windows.judge_reset({"X-RateLimit-Reset": str(int(seen) + 1801)}, counters, seen) == []
    assert windows.judge_reset({"Retry-After": "1801"}, counters, seen) == []
    assert windows.judge_reset({"X-RateLimit-Reset": str(int(seen) - 7200)}, counters, seen)[0][1] == "reset_in_the_past"
    assert windows.judge_reset({"Retry-After": "86400"}, counters, seen)[0][1] == "reset_beyond_window"
    assert windows.judge_reset({}, counters, seen) == []
