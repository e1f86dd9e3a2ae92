"""Sandbox faults: the ways an M12.1 system goes wrong that the readiness checks must catch.

Each fault is a few statements against the sandbox database, the same on
ClickHouse 18.16 and current ClickHouse. Metering outages (days without usage)
are a seed-time fault: see `with_outage`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from m12_1_sandbox.schema import EVENT_TYPE_ENUM
from m12_1_sandbox.seed import SeedPlan, _check, _epoch

Execute = Callable[..., object]
UTC = dt.timezone.utc


def _day_start(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(UTC)


def with_outage(plan: SeedPlan, tenant: str, first_day: dt.date, days: int, tz: str = "UTC") -> SeedPlan:
    """The plan with no usage for `tenant` on `days` days of zone `tz` from `first_day` (a metering outage)."""
    outage = (_day_start(first_day, tz), _day_start(first_day + dt.timedelta(days=days), tz))
    tenants = [
        dataclasses.replace(t, outages=(*t.outages, outage)) if t.tenant_id == tenant else t for t in plan.tenants
    ]
    return dataclasses.replace(plan, tenants=tenants)


def with_partial_loss(plan: SeedPlan, tenant: str, day: dt.date, keep_percent: int, tz: str = "UTC") -> SeedPlan:
    """The plan with only `keep_percent` % of `tenant`'s events stored on one day of zone `tz` (ingestion lost
    the rest)."""
    span = (_day_start(day, tz), _day_start(day + dt.timedelta(days=1), tz), keep_percent)
    tenants = [dataclasses.replace(t, thinned=(*t.thinned, span)) if t.tenant_id == tenant else t for t in plan.tenants]
    return dataclasses.replace(plan, tenants=tenants)


def onboarded_days_ago(plan: SeedPlan, tenant: str, days: int) -> SeedPlan:
    """The plan with `tenant`'s first usage ever `days` days before today (nothing stored before that)."""
    first = plan.now.date() - dt.timedelta(days=days)
    return with_outage(plan, tenant, plan.start.date(), (first - plan.start.date()).days)


def _float_sql(value) -> str:
    """A float literal both engines read, NaN and infinities included."""
    v = float(value)
    return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))


def insert_events(execute: Execute, database: str, events: Iterable[dict]) -> int:
    """Insert events given as dicts (event_id, tenant_id, event_type, quantity, cost_usd, timestamp and,
    optionally, created_at: when it was ingested, by default at its timestamp)."""
    selects = []
    for e in events:
        ts = _epoch(e["timestamp"])
        ingested = _epoch(e.get("created_at") or e["timestamp"])
        selects.append(
            f"SELECT '{_check(e['event_id'])}' AS event_id, '{_check(e['tenant_id'])}' AS tenant_id, "
            f"CAST('{_check(e['event_type'])}' AS {EVENT_TYPE_ENUM}) AS event_type, "
            f"toFloat64({_float_sql(e['quantity'])}) AS quantity, toFloat64({_float_sql(e['cost_usd'])}) AS cost_usd, "
            f"'{{\"fault\":true}}' AS metadata, toDateTime({ts}) AS timestamp, toDateTime({ingested}) AS created_at"
        )
    if selects:
        execute(
            f"INSERT INTO {_check(database)}.usage_events "
            "(event_id, tenant_id, event_type, quantity, cost_usd, metadata, timestamp, created_at) "
            f"SELECT * FROM ({' UNION ALL '.join(selects)})"
        )
    return len(selects)


def _query_events(
    tenant: str, at: dt.datetime, n: int, cost: float, tag: str, ingested: dt.datetime | None = None, lag_s: int = 0
) -> list[dict]:
    """n queries from `at` on, a second apart, ingested at `ingested` or `lag_s` after each one happened."""
    events = []
    for i in range(n):
        ts = at + dt.timedelta(seconds=i)
        events.append(
            {
                "event_id": f"{tag}-{tenant}-{i:04d}",
                "tenant_id": tenant,
                "event_type": "query",
                "quantity": 1,
                "cost_usd": cost,
                "timestamp": ts,
                "created_at": ingested or ts + dt.timedelta(seconds=lag_s),
            }
        )
    return events


def add_active_tenant_without_usage(execute: Execute, database: str, tenant: str = "tenant-ghost") -> str:
    """A tenant with a plan (tenant_quotas rows) and no usage at all: check 1 must fail for it."""
    db, t = _check(database), _check(tenant)
    execute(
        f"INSERT INTO {db}.tenant_quotas (tenant_id, quota_type, quota_limit, quota_used, reset_at, updated_at) "
        f"SELECT '{t}', 'queries_per_day', toFloat64(1000), toFloat64(0), now(), now()"
    )
    return tenant


def add_orphan_usage(execute: Execute, database: str, now: dt.datetime, tenant: str = "tenant-orphan") -> str:
    """Usage from a tenant with no plan: nobody would be billed (a warning)."""
    insert_events(execute, database, _query_events(tenant, now - dt.timedelta(days=2), 5, 0.001, "orphan"))
    return tenant


def add_future_events(execute: Execute, database: str, tenant: str, now: dt.datetime, n: int = 3) -> None:
    """Events dated two days ahead (a clock or ingestion bug: a warning)."""
    insert_events(execute, database, _query_events(tenant, now + dt.timedelta(days=2), n, 0.001, "future"))


def duplicate_events(execute: Execute, database: str, tenant: str, n: int = 5, into_tenant: str | None = None) -> None:
    """Store n of the tenant's latest events a second time, same event_id (double billing),
    under the same tenant or, with `into_tenant`, under another one."""
    db, t = _check(database), _check(tenant)
    target = f"'{_check(into_tenant)}'" if into_tenant else "tenant_id"
    cols = "event_type, quantity, cost_usd, metadata, timestamp, created_at"
    execute(
        f"INSERT INTO {db}.usage_events (event_id, tenant_id, {cols}) SELECT event_id, {target}, {cols} "
        f"FROM {db}.usage_events WHERE tenant_id = '{t}' ORDER BY timestamp DESC LIMIT {int(n)}"
    )


def drift_daily_rollup(execute: Execute, database: str, tenant: str, day: dt.date, extra_cost: float = 1.5) -> None:
    """Add cost to one tenant-day in usage_daily only (a rollup that no longer matches raw events)."""
    db, t = _check(database), _check(tenant)
    execute(
        f"INSERT INTO {db}.usage_daily (tenant_id, day, query_count, input_tokens, output_tokens, "
        f"storage_writes_bytes, total_cost_usd) SELECT '{t}', toDate('{day.isoformat()}'), 0, 0, 0, 0, "
        f"toFloat64({float(extra_cost)})"
    )


def add_month_boundary_events(
    execute: Execute, database: str, tenant: str, month_end: dt.datetime, lag_s: int = 5
) -> None:
    """One $1.00 query at 23:59:59 on the month's last day, one $2.00 query at 00:00:00 the next day, each
    ingested `lag_s` seconds later (normal ingest lag: the first one lands after midnight)."""
    last = month_end - dt.timedelta(seconds=1)
    insert_events(execute, database, _query_events(tenant, last, 1, 1.0, "boundary-last", lag_s=lag_s))
    insert_events(execute, database, _query_events(tenant, month_end, 1, 2.0, "boundary-next", lag_s=lag_s))


def backfill_closed_month(
    execute: Execute,
    database: str,
    tenant: str,
    month_start: dt.datetime,
    n: int = 3,
    cost: float = 0.25,
    ingested: dt.datetime | None = None,
) -> None:
    """Late events dated inside an already closed month, ingested now (they change its invoice after the fact)."""
    insert_events(
        execute,
        database,
        _query_events(
            tenant, month_start + dt.timedelta(days=3), n, cost, "backfill", ingested=ingested or dt.datetime.now(UTC)
        ),
    )


def mutate_costs(
    execute: Execute,
    database: str,
    tenant: str,
    start: dt.datetime,
    end: dt.datetime,
    factor: float = 1.1,
    timeout_s: float = 60,
    table: str = "usage_events",
) -> None:
    """Re-price stored events (ALTER ... UPDATE cost_usd): what 'immutable cost storage' forbids.
    On a cluster, `table` is one shard's local table (a mutation runs where the data is)."""
    db, t, table = _check(database), _check(tenant), _check(table)
    execute(
        f"ALTER TABLE {db}.{table} UPDATE cost_usd = cost_usd * {float(factor)} "
        f"WHERE tenant_id = '{t}' AND timestamp >= toDateTime({_epoch(start)}) AND timestamp < "
        f"toDateTime({_epoch(end)})"
    )
    deadline = time.monotonic() + timeout_s
    while True:
        pending = execute(
            f"SELECT count() FROM system.mutations WHERE database = '{db}' AND table = '{table}' AND is_done = 0"
        )
        if not pending or not pending[0][0]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"mutation on {db}.{table} not done after {timeout_s}s")
        time.sleep(0.1)


def with_gap(plan: SeedPlan, tenants: Iterable[str] | None, start: dt.datetime, end: dt.datetime) -> SeedPlan:
    """The plan with nothing stored for `tenants` (None: every tenant) between start and end."""
    wanted = None if tenants is None else set(tenants)
    return dataclasses.replace(
        plan,
        tenants=[
            dataclasses.replace(t, outages=(*t.outages, (start, end))) if wanted is None or t.tenant_id in wanted else t
            for t in plan.tenants
        ],
    )


def stalled_ingest(plan: SeedPlan, hours: float = 2) -> SeedPlan:
    """Ingestion stopped `hours` before now: no tenant has anything after that (every day still has usage)."""
    return with_gap(plan, None, plan.now - dt.timedelta(hours=hours), plan.now + dt.timedelta(seconds=1))


def silent_tenant(plan: SeedPlan, tenant: str = "acme-corp", hours: float = 6) -> SeedPlan:
    """One (large) tenant has sent nothing for `hours`; everyone else is live."""
    return with_gap(plan, [tenant], plan.now - dt.timedelta(hours=hours), plan.now + dt.timedelta(seconds=1))


def drift_hourly_rollup(
    execute: Execute,
    database: str,
    tenant: str,
    hour: dt.datetime,
    extra_cost: float = 25.0,
    extra_events: int = 40,
    event_type: str = "query",
) -> None:
    """Add events and cost to one tenant-hour in usage_hourly only (the hourly rollup drifts from raw events)."""
    db, t, et = _check(database), _check(tenant), _check(event_type)
    start = hour.replace(minute=0, second=0, microsecond=0)
    execute(
        f"INSERT INTO {db}.usage_hourly (tenant_id, event_type, hour, total_quantity, total_cost, event_count) "
        f"SELECT '{t}', CAST('{et}' AS {EVENT_TYPE_ENUM}), toDateTime({_epoch(start)}), "
        f"toFloat64({int(extra_events)}), "
        f"toFloat64({float(extra_cost)}), toUInt64({int(extra_events)})"
    )


def add_value_events(
    execute: Execute,
    database: str,
    tenant: str,
    at: dt.datetime,
    cost: float,
    n: int = 3,
    tag: str = "value",
    quantity: float = 1.0,
) -> None:
    """n events with this cost_usd (negative: a refund recorded as usage; float('nan') / float('inf'): a pricing
    bug) and quantity, a second apart from `at`, ingested as they happen."""
    events = _query_events(tenant, at, n, 0.0, tag)
    insert_events(execute, database, [{**e, "cost_usd": cost, "quantity": quantity} for e in events])


def growing(plan: SeedPlan, tenant: str) -> SeedPlan:
    """`tenant` ramps up x10 every 30 days (seed.GROWTH_PER_30_DAYS), at its planned volume by the month's end."""
    return dataclasses.replace(
        plan, tenants=[dataclasses.replace(t, growing=True) if t.tenant_id == tenant else t for t in plan.tenants]
    )
