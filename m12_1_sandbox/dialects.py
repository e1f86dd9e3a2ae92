"""The choices M12.1 leaves open, as switches of the sandbox: each is a faithful M12.1 the gate must judge right.

- QUOTA: how the quota API keys and expires its counters (quota_api.py's switches) and the config a user
  would write for it (a minute-window API names its override key and window length);
- SERVER_TIMEZONES: the ClickHouse server's timezone (scripts/zoned-clickhouse.sh runs the non-UTC ones);
- PROFILES: the checks' ClickHouse user: the recommended readonly=2 profile or a DBA's readonly=1.

scripts/run-dag.sh takes them as --quota-dialect, --server-timezone and --readonly; the tests run each.
"""

from __future__ import annotations

import os

MINUTE_QUOTA = {
    "setup_keys": {"tenant:{tenant_id}:tier": "free", "tenant:{tenant_id}:limit:queries_minute": "{limit}"},
    "window_seconds": 60,
    "window_guard_seconds": 15,
}
# name: (quota API switches, config "quota" section, what it is)
QUOTA = {
    "labelled-window-end": (
        ("--keys", "labelled", "--expiry", "window_end"),
        {},
        "labelled keys (quota:t:queries_hourly:2026-12-04-14), TTL to the window's end",
    ),
    "labelled-first-use": (
        ("--keys", "labelled", "--expiry", "first_use"),
        {},
        "labelled keys, TTL of one window from first use (EXPIRE key 3600 NX)",
    ),
    "plain-first-use": (
        ("--keys", "plain", "--expiry", "first_use"),
        {},
        "one key per tenant and window kind, a window from first use",
    ),
    "plain-aligned": (
        ("--keys", "plain", "--expiry", "window_end"),
        {},
        "one key per tenant and window kind, windows aligned to the clock",
    ),
    "epoch-minute": (
        ("--keys", "epoch", "--expiry", "first_use", "--window", "minute"),
        MINUTE_QUOTA,
        "epoch window numbers, a one-minute primary window",
    ),
    "labelled-minute": (
        ("--keys", "labelled", "--expiry", "first_use", "--window", "minute"),
        MINUTE_QUOTA,
        "labelled one-minute windows, TTL from first use",
    ),
    "labelled-minute-aligned": (
        ("--keys", "labelled", "--expiry", "window_end", "--window", "minute"),
        MINUTE_QUOTA,
        "labelled one-minute windows aligned to the clock, TTL to the minute's end",
    ),
    "plain-minute-aligned": (
        ("--keys", "plain", "--expiry", "window_end", "--window", "minute"),
        MINUTE_QUOTA,
        "one key per tenant, one-minute windows aligned to the clock",
    ),
    "sliding-log-minute": (
        ("--limiter", "sliding_log", "--window", "minute"),
        MINUTE_QUOTA,
        "a sliding log (sorted set of request times), one-minute window",
    ),
    "sliding-log-hour": (("--limiter", "sliding_log"), {}, "a sliding log, one-hour window"),
}
SERVER_TIMEZONES = {  # zone -> the env var and default port of the sandbox server running in it
    "UTC": ("SANDBOX_CH_TCP_PORT", 19000),
    "Europe/Berlin": ("SANDBOX_CH_DST_PORT", 19121),
    "Asia/Kolkata": ("SANDBOX_CH_HALF_HOUR_PORT", 19122),
}
PROFILES = {"2": "readiness", "1": "readiness_ro1"}  # readonly level -> the sandbox user with that profile


def server_port(zone: str, env: dict | None = None) -> int:
    var, default = SERVER_TIMEZONES[zone]
    return int((env if env is not None else os.environ).get(var, default))
