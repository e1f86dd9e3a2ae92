"""Deterministic M12.1 seed data, generated inside ClickHouse (INSERT ... SELECT).

Tenants: one large (>= 1,000,000 events by default), a handful of medium and a
few dozen small ones, spread evenly over the whole previous UTC month and the
current month so far. Each event's cost is priced at event time the way M12.1
prices it (model price + 20% markup, $0.001 base per query) and stored. The same
statements run on Debian's ClickHouse 18.16 and on current ClickHouse (chdb), and
give the same rows on both: ids and values come from MD5/cityHash64 of the seed.

    python -m m12_1_sandbox.seed --port 19000 --database m12_sandbox --reset
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from m12_1_sandbox.schema import EVENT_TYPE_ENUM, ddl

Execute = Callable[[str], object]
UTC = dt.timezone.utc
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")

MIN_DAYS = 35  # the sandbox always spans at least this many days, so a 30-day lookback is covered
WEEKEND_SHARE = 40  # percent of a weekday's volume on Saturdays and Sundays
NIGHT_SHARE = 25  # percent of the daytime volume between 00:00 and 06:00 UTC
GROWTH_PER_30_DAYS = 10  # a growing tenant's volume multiplies by this every 30 days

TIER_LIMITS = {  # quota_limit per quota_type, by tier (tenant_quotas rows)
    "free": {"queries_per_day": 1_000, "tokens_per_day": 1_000_000, "storage_gb": 1},
    "pro": {"queries_per_day": 50_000, "tokens_per_day": 50_000_000, "storage_gb": 100},
    "enterprise": {"queries_per_day": 2_000_000, "tokens_per_day": 5_000_000_000, "storage_gb": 10_000},
}


@dataclass(frozen=True)
class TenantPlan:
    tenant_id: str
    tier: str
    events: int
    # events = the volume over MIN_DAYS days; older sandboxes span more days and hold more
    # (start, end) UTC datetimes with no events: a metering outage for that tenant
    outages: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    # (start, end, keep percent): only that share of the events in the span is stored (a partial loss)
    thinned: tuple[tuple[dt.datetime, dt.datetime, int], ...] = ()
    # A growing customer: volume x10 every 30 days (1 % of `events` two months back, all of it at the end of
    # the current month), anchored to the calendar month so that re-seeding leaves closed months unchanged.
    growing: bool = False


@dataclass
class SeedPlan:
    now: dt.datetime
    tenants: list[TenantPlan]
    seed: int = 12
    # The shapes of a healthy system: every tenant keeps WEEKEND_SHARE % of its volume on Saturdays and
    # Sundays and NIGHT_SHARE % between 00:00 and 06:00 UTC (quiet, never silent).
    weekly: bool = True
    nights: bool = True
    start: dt.datetime = field(init=False)

    def __post_init__(self):
        # The whole previous month, and never less than 35 days, so a 30-day lookback is covered.
        first_of_month = self.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        prev_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
        back = (self.now - dt.timedelta(days=MIN_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
        self.start = min(prev_month, back)


def default_plan(
    now: dt.datetime | None = None,
    large_events: int = 1_200_000,
    medium_tenants: int = 8,
    small_tenants: int = 27,
    seed: int = 12,
) -> SeedPlan:
    """The sandbox's tenants: acme-corp (large), tenant-mNN (pro), tenant-sNN (free)."""
    now = (now or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    tenants = [TenantPlan("acme-corp", "enterprise", large_events)]
    tenants += [
        TenantPlan(f"tenant-m{i:02d}", "pro", max(1_000, large_events // 60 + rng.randint(0, 5_000)))
        for i in range(1, medium_tenants + 1)
    ]
    tenants += [
        TenantPlan(f"tenant-s{i:02d}", "free", 800 + rng.randint(0, 1_200)) for i in range(1, small_tenants + 1)
    ]
    if medium_tenants >= 2:  # one customer ramping up (x10 over a 30-day window), as real ones do
        tenants[2] = dataclasses.replace(tenants[2], growing=True, events=tenants[2].events * 20)
    if small_tenants >= 3:  # one onboarded 12 days before the current month began (mid-window early in a month)
        onboard = month_start(now) - dt.timedelta(days=12)
        tenants[1 + medium_tenants + 2] = dataclasses.replace(
            tenants[1 + medium_tenants + 2], outages=((month_start(now) - dt.timedelta(days=120), onboard),)
        )
    return SeedPlan(now=now, tenants=tenants, seed=seed)


def month_start(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(t: dt.datetime) -> dt.datetime:
    return (month_start(t) + dt.timedelta(days=32)).replace(day=1)


def _epoch(t: dt.datetime) -> int:
    return int(t.astimezone(UTC).timestamp())


def _check(name: str) -> str:
    if not _SAFE.fullmatch(name):
        raise ValueError(f"unsafe identifier for the sandbox: {name!r}")
    return name


def shape_sql(tenant: TenantPlan, end: dt.datetime, weekly: bool, nights: bool) -> str:
    """The conditions that thin a tenant's even stream into a realistic one (weekends, nights, growth), on
    per-event hashes k3..k5 and the event time `ts` (epoch seconds): pure arithmetic, the same on every engine.
    Weekday from the epoch (1970-01-01 was a Thursday): (day + 3) % 7 is 5 on Saturday, 6 on Sunday."""
    out = ""
    if weekly:
        out += f" AND NOT ((intDiv(ts, 86400) + 3) % 7 >= 5 AND k3 >= {WEEKEND_SHARE})"
    if nights:
        out += f" AND NOT (intDiv(ts % 86400, 3600) < 6 AND k4 >= {NIGHT_SHARE})"
    if tenant.growing:  # keep 10^((ts - end of the current month) / 30 days): 1 % two months back, 100 % at its end
        out += f" AND k5 < 10000 * pow({GROWTH_PER_30_DAYS}, (ts - {_epoch(next_month_start(end))}) / 2592000)"
    return out


def events_insert_sql(
    database: str,
    tenant: TenantPlan,
    start: dt.datetime,
    end: dt.datetime,
    seed: int,
    weekly: bool = False,
    nights: bool = False,
) -> str:
    """One INSERT ... SELECT that generates the tenant's priced events between start and end.

    Events are laid out per UTC day (ids and values hashed from tenant, day and index), so a
    past day's rows are the same whenever the sandbox is re-seeded: closed months stay closed.
    """
    db, tid = _check(database), _check(tenant.tenant_id)
    t0 = _epoch(start)
    days = (_epoch(end) - t0) // 86400 + 1  # full days and today so far
    per_day = max(1, -(-tenant.events // MIN_DAYS))  # fixed per tenant, so past days never change
    step = max(1, 86400 // per_day)
    h = f"{seed}, '{tid}', day, i"
    outage = "".join(f" AND NOT (ts >= {_epoch(a)} AND ts < {_epoch(b)})" for a, b in tenant.outages)
    outage += "".join(
        f" AND NOT (ts >= {_epoch(a)} AND ts < {_epoch(b)} AND k2 >= {int(keep)})" for a, b, keep in tenant.thinned
    )
    return f"""
INSERT INTO {db}.usage_events (event_id, tenant_id, event_type, quantity, cost_usd, metadata, timestamp, created_at)
SELECT
    concat(substring(hx, 1, 8), '-', substring(hx, 9, 4), '-4', substring(hx, 14, 3), '-a',
           substring(hx, 18, 3), '-', substring(hx, 21, 12)) AS event_id,
    '{tid}' AS tenant_id,
    CAST(et AS {EVENT_TYPE_ENUM}) AS event_type,
    qty AS quantity,
    cost AS cost_usd,
    concat('{{"model":"', model, '","units":', toString(qty_int), '}}') AS metadata,
    toDateTime(ts) AS timestamp,
    toDateTime(ts + 1 + r % 30) AS created_at
FROM
(
    SELECT
        {t0} + intDiv(number, {per_day}) * 86400 AS day,
        number % {per_day} AS i,
        lower(hex(MD5(concat('{seed}:{tid}:', toString(day), ':', toString(i))))) AS hx,
        cityHash64({h}, 3) AS r,
        cityHash64({h}, 4) % 100 AS k,
        cityHash64({h}, 5) % 3 AS m,
        cityHash64({h}, 6) % 100 AS k2,
        cityHash64({h}, 7) % 100 AS k3,
        cityHash64({h}, 8) % 100 AS k4,
        cityHash64({h}, 9) % 10000 AS k5,
        day + intDiv(i * 86400, {per_day}) + r % {step} AS ts,
        multiIf(k < 40, 'query', k < 65, 'token_input', k < 85, 'token_output',
                k < 92, 'embedding', k < 97, 'storage_write', 'storage_read') AS et,
        ['gpt-4o-mini', 'gpt-4o', 'claude-3-haiku'][m + 1] AS model,
        multiIf(et = 'query', 1, et = 'token_input', 50 + r % 4000, et = 'token_output', 20 + r % 1500,
                et = 'embedding', 100 + r % 2000, 1000 + r % 5000000) AS qty_int,
        toFloat64(qty_int) AS qty,
        multiIf(et = 'query', 0.001,
                et = 'token_input', qty * [0.15, 2.5, 0.25][m + 1] / 1000000 * 1.2,
                et = 'token_output', qty * [0.6, 10.0, 1.25][m + 1] / 1000000 * 1.2,
                et = 'embedding', qty * 0.02 / 1000000 * 1.2,
                et = 'storage_write', qty * 0.023 / 1000000000 * 1.2,
                qty * 0.01 / 1000000000 * 1.2) AS cost
    FROM numbers({days * per_day})
)
WHERE ts < {_epoch(end)}{outage}{shape_sql(tenant, end, weekly, nights)}
"""


def quotas_insert_sql(database: str, tenants: list[TenantPlan], now: dt.datetime) -> str:
    db = _check(database)
    reset = now.replace(hour=0, minute=0, second=0) + dt.timedelta(days=1)
    rows = []
    for t in tenants:
        for qtype, limit in TIER_LIMITS[t.tier].items():
            used = round(limit * 0.37, 2)
            rows.append(
                f"SELECT '{_check(t.tenant_id)}', '{qtype}', toFloat64({float(limit)}), toFloat64({used}), "
                f"toDateTime({_epoch(reset)}), toDateTime({_epoch(now)})"
            )
    # INSERT ... SELECT, not VALUES: clickhouse-driver sends VALUES rows as client-side data.
    return (
        f"INSERT INTO {db}.tenant_quotas (tenant_id, quota_type, quota_limit, quota_used, reset_at, updated_at) "
        f"SELECT * FROM ({' UNION ALL '.join(rows)})"
    )


def seed(execute: Execute, database: str, plan: SeedPlan, reset: bool = True, ttl: bool = False) -> dict:
    """Create the schema in `database` and fill it from `plan`. Returns counts."""
    if reset:
        execute(f"DROP DATABASE IF EXISTS {_check(database)}")
    for stmt in ddl(database, ttl=ttl):
        execute(stmt)
    for tenant in plan.tenants:
        execute(events_insert_sql(database, tenant, plan.start, plan.now, plan.seed, plan.weekly, plan.nights))
    execute(quotas_insert_sql(database, plan.tenants, plan.now))
    return {"tenants": len(plan.tenants)}


def seed_redis(redis_client, plan: SeedPlan) -> None:
    """The API's plan per tenant: tenant:{id}:tier."""
    pipe = redis_client.pipeline()
    for t in plan.tenants:
        pipe.set(f"tenant:{t.tenant_id}:tier", t.tier)
    pipe.execute()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=19000)
    ap.add_argument("--database", default="m12_sandbox")
    ap.add_argument("--large-events", type=int, default=1_200_000)
    ap.add_argument("--redis-url", default=None, help="also write each tenant's tier to this Redis")
    ap.add_argument("--now", default=None, help="reference time, ISO 8601 UTC (default: now)")
    args = ap.parse_args(argv)
    from clickhouse_driver import Client

    now = dt.datetime.fromisoformat(args.now).replace(tzinfo=UTC) if args.now else None
    plan = default_plan(now=now, large_events=args.large_events)
    client = Client(host=args.host, port=args.port)
    started = time.monotonic()
    counts = seed(client.execute, args.database, plan)
    counts["events"] = client.execute(f"SELECT count() FROM {args.database}.usage_events")[0][0]
    if args.redis_url:
        import redis

        seed_redis(redis.Redis.from_url(args.redis_url), plan)
    print(
        f"seeded {counts['tenants']} tenants, {counts['events']:,} events into {args.database} "
        f"({plan.start:%Y-%m-%d} .. {plan.now:%Y-%m-%d %H:%M} UTC) in {time.monotonic() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
