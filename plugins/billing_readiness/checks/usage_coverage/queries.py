"""Check 1's SQL: four queries whatever the number of tenants, then the duplicate passes (the repeated id
hashes, in slices sized to the memory limit; the ids only when some repeat). Rows are read by these column names."""
from __future__ import annotations

from billing_readiness.money import NANOS_SQL
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Window, epoch

FUTURE_SKEW_SECONDS = 300  # clock skew we forgive before an event counts as "from the future"
MAX_CANDIDATES = 1000  # duplicated hashes sent back as a list; beyond that the second pass finds them itself
BYTES_PER_ID = 40  # what ClickHouse's GROUP BY of one 64-bit hash with its count holds in memory, about


def _in_window(cfg: dict, window: Window) -> tuple[str, dict]:
    """The events of the lookback window, up to now: the condition and its parameters."""
    ts = cfg["usage_events"]["timestamp"]
    return (f"{ts} >= toDateTime(%(start)s) AND {ts} < toDateTime(%(end)s)",
            {"start": epoch(window.start), "end": epoch(window.now)})


def _differs(a: str, b: str) -> str:
    """reconcile.qty_differs in SQL: float sums of the same quantities differ by summation order only."""
    return f"abs({a} - {b}) > greatest(1e-6, 1e-9 * greatest(abs({a}), abs({b})))"


def queries(cfg: dict, window: Window, tolerance_usd: float = 0.01) -> dict[str, Query]:
    ev, hr, dl, types = cfg["usage_events"], cfg["usage_hourly"], cfg["usage_daily"], cfg["event_types"]
    ts = ev["timestamp"]
    in_window, span = _in_window(cfg, window)
    rollup_span = {
        "start": epoch(window.start),
        "today_start": epoch(window.today_start),
        "first_day": window.first_day.isoformat(),
        "today": window.today.isoformat(),
    }
    return {
        "active": active_tenants_query(cfg),
        # One scan of the window's events, compared with both rollups inside ClickHouse: per tenant, its
        # events per day (coverage) and only the tenant-days (and types) where a rollup disagrees. The
        # filters match reconcile.py's rules (cost a micro-dollar looser), which judges what comes back;
        # so the rows returned grow with the tenants, not with tenants x days x types.
        "tenants": Query(
            "usage per tenant and day (usage_events), with the days where usage_daily or usage_hourly disagree",
            f"""SELECT t, arraySort(groupArray((d, r_events))) AS day_events, sum(r_nanos) AS cost_nanos,
       arraySort(groupArrayIf((d, r_qc, r_in, r_out, r_sw, r_nanos, d_qc, d_in, d_out, d_sw, d_cost), daily_bad))
           AS daily_drift,
       arraySort(groupArrayArray(hourly_bad)) AS hourly_drift
FROM
(
    SELECT t, d, r_events, r_qc, r_in, r_out, r_sw, r_nanos, hourly_bad, d_qc, d_in, d_out, d_sw, d_cost,
           d < toDate(%(today)s) AND (r_qc != d_qc OR {_differs('r_in', 'd_in')} OR {_differs('r_out', 'd_out')}
               OR {_differs('r_sw', 'd_sw')} OR abs(r_nanos / 1e9 - d_cost) > %(cost_filter)s) AS daily_bad
    FROM
    (
        SELECT t, d, sum(r_n) AS r_events, sumIf(r_n, et = %(query_type)s) AS r_qc,
               sumIf(r_q, et = %(input_type)s) AS r_in, sumIf(r_q, et = %(output_type)s) AS r_out,
               sumIf(r_q, et = %(storage_type)s) AS r_sw, sum(r_c) AS r_nanos,
               groupArrayIf((d, et, r_n, r_q, r_c, h_n, h_q, h_c), d < toDate(%(today)s)
                   AND (r_n != h_n OR {_differs('r_q', 'h_q')} OR abs(r_c / 1e9 - h_c) > %(cost_filter)s)) AS hourly_bad
        FROM
        (
            SELECT {ev['tenant_id']} AS t, toDate({ts}, 'UTC') AS d, toString({ev['event_type']}) AS et, count() AS r_n,
                   sum({ev['quantity']}) AS r_q, sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS r_c
            FROM {ev['table']}
            WHERE {in_window}
            GROUP BY t, d, et
        ) AS raw
        ALL FULL OUTER JOIN
        (
            SELECT {hr['tenant_id']} AS t, toDate({hr['hour']}, 'UTC') AS d, toString({hr['event_type']}) AS et,
                   sum({hr['event_count']}) AS h_n, sum({hr['total_quantity']}) AS h_q, sum({hr['total_cost']}) AS h_c
            FROM {hr['table']}
            WHERE {hr['hour']} >= toDateTime(%(start)s) AND {hr['hour']} < toDateTime(%(today_start)s)
            GROUP BY t, d, et
        ) AS hourly USING (t, d, et)
        GROUP BY t, d
    ) AS by_day
    ALL FULL OUTER JOIN
    (
        SELECT {dl['tenant_id']} AS t, {dl['day']} AS d, sum({dl['query_count']}) AS d_qc, sum({dl['input_tokens']}) AS d_in,
               sum({dl['output_tokens']}) AS d_out, sum({dl['storage_writes_bytes']}) AS d_sw,
               sum({dl['total_cost_usd']}) AS d_cost
        FROM {dl['table']}
        WHERE {dl['day']} >= toDate(%(first_day)s) AND {dl['day']} < toDate(%(today)s)
        GROUP BY t, d
    ) AS daily USING (t, d)
)
GROUP BY t""",
            {**span, **rollup_span, "cost_filter": float(tolerance_usd) - 1e-6,
             "query_type": types["query"], "input_type": types["token_input"], "output_type": types["token_output"],
             "storage_type": types["storage_write"]},
            columns=("t", "day_events", "cost_nanos", "daily_drift", "hourly_drift"),
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


def hash_partitions(cfg: dict, events: int) -> int:
    """Into how many slices of the id hashes the first duplicate pass is cut, so that each slice's GROUP BY
    fits in ~60 % of the memory limit without spilling to disk (spilling is several times slower; it stays
    the safety net, at 75 %). Each slice reads the ids again, which costs far less than a spill."""
    limit = cfg["clickhouse"]["max_memory_bytes"]
    if limit is None:
        return 1
    return max(1, -(-events * BYTES_PER_ID // int(0.6 * limit)))


def duplicate_candidates(cfg: dict, window: Window, part: int, parts: int) -> Query:
    """Duplicate event ids, first pass, one slice of the hash space: the hashes seen more than once (a 64-bit
    hash of every id in the window, the cheapest question that can say "none"). Only when some come back
    does duplicates() look at the ids themselves."""
    ev = cfg["usage_events"]
    in_window, params = _in_window(cfg, window)
    limit = cfg["clickhouse"]["max_memory_bytes"]
    return Query(
        "event_id hashes stored more than once (first pass" + (f", slice {part + 1} of {parts})" if parts > 1 else ")"),
        f"""SELECT cityHash64({ev['event_id']}) AS h, count() AS c
FROM {ev['table']}
WHERE {in_window}{f" AND modulo(h, {parts}) = {part}" if parts > 1 else ""}
GROUP BY h
HAVING c > 1
LIMIT {MAX_CANDIDATES + 1}""",
        params,
        {"max_bytes_before_external_group_by": int(0.75 * limit)} if limit else {},
        columns=("h", "c"),
    )


def duplicates(cfg: dict, window: Window, candidates: list[dict]) -> Query | None:
    """Second pass, only when the first found candidates: the ids behind those hashes, per tenant (hash
    collisions drop out here; cross-tenant copies count). The candidates were found on the whole cluster
    (copies may sit on different shards); past MAX_CANDIDATES they are found again here, with GLOBAL IN so
    that over Distributed tables the subquery runs once and its set goes to every shard."""
    if not candidates:
        return None
    ev = cfg["usage_events"]
    in_window, params = _in_window(cfg, window)
    if len(candidates) <= MAX_CANDIDATES:  # a literal set: every shard tests it (18.16 refuses GLOBAL here)
        params["hashes"] = tuple(sorted(int(r["h"]) for r in candidates))
        wanted = "IN %(hashes)s"
    else:
        wanted = (f"GLOBAL IN (SELECT cityHash64({ev['event_id']}) AS h FROM {ev['table']} WHERE {in_window} "
                  "GROUP BY h HAVING count() > 1)")
    return Query(
        "event_ids stored more than once, per tenant",
        f"""SELECT t, count() AS duplicated_ids, sum(c - 1) AS extra_rows, min(eid) AS example_event_id
FROM
(
    SELECT {ev['event_id']} AS eid, count() AS c, groupUniqArray({ev['tenant_id']}) AS tenants
    FROM {ev['table']}
    WHERE {in_window} AND cityHash64({ev['event_id']}) {wanted}
    GROUP BY eid
    HAVING c > 1
)
ARRAY JOIN tenants AS t
GROUP BY t
ORDER BY extra_rows DESC, t""",
        params,
        columns=("t", "duplicated_ids", "extra_rows", "example_event_id"),
    )
