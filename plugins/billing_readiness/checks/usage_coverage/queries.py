"""Check 1's SQL: seven queries, whatever the number of tenants (rows are read by these column names)."""
from __future__ import annotations

from billing_readiness.money import NANOS_SQL
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Window, epoch

FUTURE_SKEW_SECONDS = 300  # clock skew we forgive before an event counts as "from the future"


def queries(cfg: dict, window: Window) -> dict[str, Query]:
    ev, hr, dl = cfg["usage_events"], cfg["usage_hourly"], cfg["usage_daily"]
    ts = ev["timestamp"]
    span = {"start": epoch(window.start), "end": epoch(window.now)}
    rollup_span = {
        "start": epoch(window.start),
        "today_start": epoch(window.today_start),
        "first_day": window.first_day.isoformat(),
        "today": window.today.isoformat(),
    }
    in_window = f"{ts} >= toDateTime(%(start)s) AND {ts} < toDateTime(%(end)s)"
    return {
        "active": active_tenants_query(cfg),
        "raw": Query(
            "raw usage by tenant, day and event type (usage_events)",
            f"""SELECT {ev['tenant_id']} AS t, toDate({ts}, 'UTC') AS d, toString({ev['event_type']}) AS et,
       count() AS events, sum({ev['quantity']}) AS quantity, sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS cost_nanos
FROM {ev['table']}
WHERE {in_window}
GROUP BY t, d, et""",
            span,
            columns=("t", "d", "et", "events", "quantity", "cost_nanos"),
        ),
        "daily": Query(
            "daily rollup by tenant and day (usage_daily, summed)",
            f"""SELECT {dl['tenant_id']} AS t, {dl['day']} AS d, sum({dl['query_count']}) AS query_count,
       sum({dl['input_tokens']}) AS input_tokens, sum({dl['output_tokens']}) AS output_tokens,
       sum({dl['storage_writes_bytes']}) AS storage_writes_bytes, sum({dl['total_cost_usd']}) AS total_cost_usd
FROM {dl['table']}
WHERE {dl['day']} >= toDate(%(first_day)s) AND {dl['day']} < toDate(%(today)s)
GROUP BY t, d""",
            rollup_span,
            columns=("t", "d", "query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd"),
        ),
        "hourly": Query(
            "hourly rollup by tenant, day and event type (usage_hourly, summed)",
            f"""SELECT {hr['tenant_id']} AS t, toDate({hr['hour']}, 'UTC') AS d, toString({hr['event_type']}) AS et,
       sum({hr['event_count']}) AS events, sum({hr['total_quantity']}) AS quantity, sum({hr['total_cost']}) AS cost
FROM {hr['table']}
WHERE {hr['hour']} >= toDateTime(%(start)s) AND {hr['hour']} < toDateTime(%(today_start)s)
GROUP BY t, d, et""",
            rollup_span,
            columns=("t", "d", "et", "events", "quantity", "cost"),
        ),
        # Two passes: a cheap one over a 64-bit hash of every id finds the candidates, the exact one
        # groups only those by the id itself (hash collisions drop out there). Cross-tenant duplicates count too.
        # GLOBAL IN: over Distributed tables the candidates are found once on the whole cluster (copies of an
        # id may sit on different shards) and sent to every shard; on one server it is a plain IN.
        "duplicates": Query(
            "event_ids stored more than once, per tenant",
            f"""SELECT t, count() AS duplicated_ids, sum(c - 1) AS extra_rows, min(eid) AS example_event_id
FROM
(
    SELECT {ev['event_id']} AS eid, count() AS c, groupUniqArray({ev['tenant_id']}) AS tenants
    FROM {ev['table']}
    WHERE {in_window} AND cityHash64({ev['event_id']}) GLOBAL IN
    (
        SELECT cityHash64({ev['event_id']}) AS h FROM {ev['table']} WHERE {in_window} GROUP BY h HAVING count() > 1
    )
    GROUP BY eid
    HAVING c > 1
)
ARRAY JOIN tenants AS t
GROUP BY t
ORDER BY extra_rows DESC, t""",
            span,
            columns=("t", "duplicated_ids", "extra_rows", "example_event_id"),
        ),
        # A tenant's first usage ever: the first day in the daily rollup (all history, tenants x days rows,
        # far smaller than the events). Days before it do not count as missing (a tenant onboarded lately).
        "first_usage": Query(
            "first day with usage per tenant (usage_daily, all history)",
            f"""SELECT {dl['tenant_id']} AS t, min({dl['day']}) AS first_day
FROM {dl['table']}
GROUP BY t""",
            columns=("t", "first_day"),
        ),
        "future": Query(
            "events dated in the future, per tenant",
            f"""SELECT {ev['tenant_id']} AS t, count() AS events, toUInt32(max({ts})) AS latest
FROM {ev['table']}
WHERE {ts} > toDateTime(%(after)s)
GROUP BY t
ORDER BY t""",
            {"after": epoch(window.now) + FUTURE_SKEW_SECONDS},
            columns=("t", "events", "latest"),
        ),
    }
