"""The least hand-written SQL that answers each check's questions: the yardstick of bench_scale.py.

Written for the M12.1 default names (the benchmark's data uses them). Each set answers the same
questions as the check, nothing more, the way a careful engineer would write it by hand:

check 1  active tenants; events, quantity and cost per tenant, day and type in the window (coverage and
         reconciliation); the daily and hourly rollups for the same days; the minutes with ingestion and with
         events (freshness: is ingestion live against its usual rhythm); whether any event_id is stored
         twice (one global count - uniqExact over a hash, in as few slices of the hash space as fit in the
         memory limit: it says *whether*, not which ids or tenants, so it is a lower bound); each tenant's
         first day; events dated in the future.
check 2  active tenants; one invoice read per tenant for the closed month with its late arrivals folded in
         (one scan); the daily rollup's totals; the mutations since the month began.
check 3  the largest tenant; the dashboard's panels, loaded as often as the check loads them.
"""

from __future__ import annotations

from billing_readiness.core.timewindow import Month, Window, epoch


def check_1(window: Window, dup_parts: int = 1) -> dict[str, tuple[str, dict]]:
    """`dup_parts`: the duplicate count in that many slices of the hash space, where one global uniqExact does
    not fit in the memory limit (bench_scale.py finds the fewest that fit)."""
    w = {"start": epoch(window.start), "end": epoch(window.now)}
    in_window = "timestamp >= toDateTime(%(start)s) AND timestamp < toDateTime(%(end)s)"
    days = {
        "first_day": window.first_day.isoformat(),
        "today": window.today.isoformat(),
        "start": epoch(window.start),
        "today_start": epoch(window.today_start),
    }
    return {
        "active": ("SELECT DISTINCT tenant_id FROM tenant_quotas", {}),
        "raw": (
            f"SELECT tenant_id, toDate(timestamp), event_type, count(), sum(quantity), sum(cost_usd) "
            f"FROM usage_events WHERE {in_window} GROUP BY tenant_id, toDate(timestamp), event_type",
            w,
        ),
        "daily": (
            "SELECT tenant_id, day, sum(query_count), sum(input_tokens), sum(output_tokens), "
            "sum(storage_writes_bytes), sum(total_cost_usd) FROM usage_daily "
            "WHERE day >= toDate(%(first_day)s) AND day < toDate(%(today)s) GROUP BY tenant_id, day",
            days,
        ),
        "hourly": (
            "SELECT tenant_id, toDate(hour), event_type, sum(event_count), sum(total_quantity), sum(total_cost) "
            "FROM usage_hourly WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(today_start)s) "
            "GROUP BY tenant_id, toDate(hour), event_type",
            days,
        ),
        **{
            f"duplicates_{k}": (
                f"SELECT count() - uniqExact(cityHash64(event_id)) FROM usage_events WHERE {in_window}"
                + (f" AND modulo(cityHash64(event_id), {dup_parts}) = {k}" if dup_parts > 1 else ""),
                w,
            )
            for k in range(dup_parts)
        },
        "freshness": (  # is ingestion live against its usual rhythm: the window's minutes with ingestion and events
            "SELECT groupUniqArray(intDiv(toUInt32(created_at), 60)), groupUniqArray(intDiv(toUInt32(timestamp), 60)) "
            f"FROM usage_events WHERE {in_window}",
            w,
        ),
        "first_usage": ("SELECT tenant_id, min(day) FROM usage_daily GROUP BY tenant_id", {}),
        "future": (
            "SELECT tenant_id, count() FROM usage_events WHERE timestamp > toDateTime(%(after)s) GROUP BY tenant_id",
            {"after": epoch(window.now) + 300},
        ),
    }


def check_2(month: Month, grace_s: int = 3600) -> dict[str, tuple[str, dict]]:
    m = {
        "start": epoch(month.start),
        "end": epoch(month.end),
        "closed": epoch(month.end) + grace_s,
        "first_day": month.start.date().isoformat(),
        "next": month.end.date().isoformat(),
    }
    return {
        "active": ("SELECT DISTINCT tenant_id FROM tenant_quotas", {}),
        "invoice_and_late": (
            "SELECT tenant_id, countIf(event_type = 'query'), "
            "sumIf(quantity, event_type IN ('token_input', 'token_output')), sum(cost_usd), "
            "countIf(created_at > toDateTime(%(closed)s)), sumIf(cost_usd, created_at > toDateTime(%(closed)s)) "
            "FROM usage_events WHERE timestamp >= toDateTime(%(start)s) AND timestamp < toDateTime(%(end)s) "
            "GROUP BY tenant_id",
            m,
        ),
        "rollup": (
            "SELECT tenant_id, sum(query_count), sum(input_tokens) + sum(output_tokens), sum(total_cost_usd) "
            "FROM usage_daily WHERE day >= toDate(%(first_day)s) AND day < toDate(%(next)s) GROUP BY tenant_id",
            m,
        ),
        "mutations": (
            "SELECT table, mutation_id FROM system.mutations WHERE database = currentDatabase() "
            "AND create_time >= toDateTime(%(start)s)",
            m,
        ),
    }


def largest_tenant(window: Window) -> tuple[str, dict]:
    return (
        "SELECT tenant_id FROM usage_hourly WHERE hour >= toDateTime(%(start)s) GROUP BY tenant_id "
        "ORDER BY sum(event_count) DESC LIMIT 1",
        {"start": epoch(window.start)},
    )
