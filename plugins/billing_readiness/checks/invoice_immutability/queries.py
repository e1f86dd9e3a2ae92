"""Check 2's SQL: the closed month's invoice totals, twice from usage_events and once from usage_daily."""
from __future__ import annotations

from billing_readiness.money import NANOS_SQL
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Month, epoch

INVOICE_COLUMNS = ("tenant_id", "total_queries", "total_tokens", "cost_nanos")  # what invoice.sql must return


def queries(cfg: dict, month: Month) -> dict[str, Query]:
    ev, dl, types = cfg["usage_events"], cfg["usage_daily"], cfg["event_types"]
    params = {
        "month_start": epoch(month.start),
        "month_end": epoch(month.end),
        "query_type": types["query"],
        "input_type": types["token_input"],
        "output_type": types["token_output"],
    }
    source = ""
    if cfg["invoice"]["sql"]:
        raw_sql, raw_name, source = cfg["invoice"]["sql"], "invoice totals (configured invoice.sql)", "config key 'invoice.sql'"
    else:
        raw_name = "invoice totals from usage_events"
        raw_sql = f"""SELECT {ev['tenant_id']} AS tenant_id,
       countIf({ev['event_type']} = %(query_type)s) AS total_queries,
       sumIf({ev['quantity']}, {ev['event_type']} IN (%(input_type)s, %(output_type)s)) AS total_tokens,
       sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS cost_nanos
FROM {ev['table']}
WHERE {ev['timestamp']} >= toDateTime(%(month_start)s) AND {ev['timestamp']} < toDateTime(%(month_end)s)
GROUP BY tenant_id"""
    day_params = {"first_day": month.start.date().isoformat(), "next_month": month.end.date().isoformat()}
    return {
        "active": active_tenants_query(cfg),
        "raw_a": Query(raw_name + ", read 1", raw_sql, params, columns=INVOICE_COLUMNS, source=source),
        # A second, independent read: single-threaded, so a different summation order.
        "raw_b": Query(raw_name + ", read 2 (max_threads=1)", raw_sql, params, {"max_threads": 1},
                       columns=INVOICE_COLUMNS, source=source),
        "rollup": Query(
            "invoice totals from usage_daily (summed)",
            f"""SELECT {dl['tenant_id']} AS tenant_id, sum({dl['query_count']}) AS total_queries,
       sum({dl['input_tokens']}) + sum({dl['output_tokens']}) AS total_tokens,
       sum({dl['total_cost_usd']}) AS total_cost_usd
FROM {dl['table']}
WHERE {dl['day']} >= toDate(%(first_day)s) AND {dl['day']} < toDate(%(next_month)s)
GROUP BY tenant_id""",
            day_params,
            columns=("tenant_id", "total_queries", "total_tokens", "total_cost_usd"),
        ),
    }
