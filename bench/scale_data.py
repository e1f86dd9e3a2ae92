"""Production-scale M12.1 data for the benchmark, generated inside ClickHouse (INSERT ... SELECT FROM numbers).

A scale is tenants x events spread evenly over the previous UTC month and the current month so far
(so check 1's window and check 2's closed month are both full), optionally with one tenant holding a
share of all events. Event n belongs to tenant n mod T (or to the large tenant for its share), so every
tenant has usage on every day and the data is the same whenever it is seeded for the same day. The
rollups are the M12.1 materialized views, filled by the inserts as in production. Then a few of today's
events are stored twice (a known fault), so check 1's verdict at each scale can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from m12_1_sandbox.schema import EVENT_TYPE_ENUM, ddl

UTC = dt.timezone.utc
CHUNK = 10_000_000  # events per INSERT: bounded memory on the server
DUPLICATED = 3  # ids of the first tenant's latest events stored a second time


@dataclass(frozen=True)
class Scale:
    name: str
    tenants: int
    events: int
    large_share: float = 0.0  # share of all events held by tenant 0 (the largest tenant)

    @property
    def database(self) -> str:
        return f"bench_{self.name}"

    def tenant_sql(self, n: str) -> str:
        """The tenant index of event number `n` (SQL)."""
        if not self.large_share:
            return f"{n} % {self.tenants}"
        big = round(self.large_share * 100)
        return (
            f"if({n} % 100 < {big}, 0, 1 + (intDiv({n}, 100) * {100 - big} + {n} % 100 - {big}) % {self.tenants - 1})"
        )


SCALES = [
    Scale("t100_e1m", 100, 1_000_000),
    Scale("t100_e10m", 100, 10_000_000),
    Scale("t1000_e10m", 1_000, 10_000_000),
    Scale("t10000_e10m", 10_000, 10_000_000),
    Scale("t1000_e100m", 1_000, 100_000_000, large_share=0.6),
]


def span(now: dt.datetime) -> tuple[int, int]:
    """[start, end) epoch seconds: the whole previous UTC month and the current month up to `now`."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - dt.timedelta(days=1)).replace(day=1)
    return int(start.timestamp()), int(now.timestamp())


def tenant_id(i: int) -> str:
    return f"tenant-{i:05d}"


def events_sql(scale: Scale, first: int, count: int, start: int, end: int) -> str:
    db = scale.database
    step = (end - start) / scale.events
    return f"""
INSERT INTO {db}.usage_events (event_id, tenant_id, event_type, quantity, cost_usd, metadata, timestamp, created_at)
SELECT
    concat(substring(hx, 1, 8), '-', substring(hx, 9, 4), '-4', substring(hx, 14, 3), '-a', substring(hx, 18, 3), '-',
           substring(hx, 21, 12)) AS event_id,
    concat('tenant-', substring(toString(100000 + ti), 2)) AS tenant_id,
    CAST(et AS {EVENT_TYPE_ENUM}) AS event_type,
    qty AS quantity,
    multiIf(et = 'query', 0.001, et = 'token_input', qty * 0.0000003, et = 'token_output', qty * 0.0000012,
            qty * 0.00000002) AS cost_usd,
    '{{"model":"gpt-4o-mini"}}' AS metadata,
    toDateTime(ts) AS timestamp,
    toDateTime(ts + 1 + r % 30) AS created_at
FROM
(
    SELECT
        number AS n,
        {scale.tenant_sql("number")} AS ti,
        lower(concat(hex(cityHash64(number, 1)), hex(cityHash64(number, 2)))) AS hx,
        cityHash64(number, 3) AS r,
        {start} + toUInt32(number * {step!r}) AS ts,
        multiIf(r % 100 < 40, 'query', r % 100 < 65, 'token_input', r % 100 < 85, 'token_output', 'embedding') AS et,
        toFloat64(multiIf(et = 'query', 1, 20 + r % 4000)) AS qty
    FROM numbers({first}, {count})
)
"""


def seeded(execute, scale: Scale, day: dt.date) -> bool:
    """Whether the scale's database holds this scale seeded on `day` (its window and month are today's)."""
    try:
        rows = execute(f"SELECT day, events FROM {scale.database}.bench_meta")
    except Exception:
        return False
    return bool(rows) and rows[0][0] == day and rows[0][1] == scale.events


def seed(execute, scale: Scale, now: dt.datetime, log=print) -> float:
    """Create and fill the scale's database; returns the seconds it took."""
    started = time.monotonic()
    db = scale.database
    execute(f"DROP DATABASE IF EXISTS {db}")
    for stmt in ddl(db):
        execute(stmt)
    start, end = span(now)
    for first in range(0, scale.events, CHUNK):
        execute(events_sql(scale, first, min(CHUNK, scale.events - first), start, end))
        log(
            f"  {db}: {min(first + CHUNK, scale.events):,} / {scale.events:,} events "
            f"({time.monotonic() - started:.0f}s)"
        )
    execute(f"""INSERT INTO {db}.tenant_quotas (tenant_id, quota_type, quota_limit, quota_used, reset_at, updated_at)
SELECT concat('tenant-', substring(toString(100000 + number), 2)), 'queries_per_day', toFloat64(50000), toFloat64(100),
       toDateTime({end}), toDateTime({end}) FROM numbers({scale.tenants})""")
    # the known fault: the first tenant's latest events a second time (today: inside the window, not the month)
    cols = "event_type, quantity, cost_usd, metadata, timestamp, created_at"
    execute(f"""INSERT INTO {db}.usage_events (event_id, tenant_id, {cols})
SELECT event_id, tenant_id, {cols} FROM {db}.usage_events WHERE tenant_id = '{tenant_id(1)}'
ORDER BY timestamp DESC LIMIT {DUPLICATED}""")
    execute(f"OPTIMIZE TABLE {db}.usage_hourly FINAL")
    execute(f"OPTIMIZE TABLE {db}.usage_daily FINAL")
    execute(f"CREATE TABLE {db}.bench_meta (day Date, events UInt64) ENGINE = TinyLog")
    execute(f"INSERT INTO {db}.bench_meta SELECT toDate('{now.date().isoformat()}'), {scale.events}")
    return time.monotonic() - started
