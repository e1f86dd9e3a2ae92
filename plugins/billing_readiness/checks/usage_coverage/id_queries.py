"""Check 1's SQL for duplicate event ids (repeats.py decides from the rows): the window's size from the events
table's parts, which slices the repeats pass; the repeats pass; and, for a mass duplication only, the repeated
hashes of the flagged buckets and the ids behind them."""

from __future__ import annotations

from billing_readiness.checks.usage_coverage.repeats import REPEAT_BUCKETS, slices
from billing_readiness.core.sql import DISTRIBUTED_DB, DISTRIBUTED_TABLE, Query, configured_tables, table_params
from billing_readiness.core.timewindow import Window, epoch

MAX_CANDIDATES = 1000  # duplicated hashes sent back as a list; beyond that the second pass finds them itself
BYTES_PER_ID = 40  # what ClickHouse's GROUP BY of one 64-bit hash with its count holds in memory, about


def _in_window(cfg: dict, window: Window) -> tuple[str, dict]:
    """The events of the lookback window, up to now: the condition and its parameters."""
    ts = cfg["usage_events"]["timestamp"]
    return (
        f"{ts} >= toDateTime(%(start)s) AND {ts} < toDateTime(%(end)s)",
        {"start": epoch(window.start), "end": epoch(window.now)},
    )


def repeat_key(h: str, parts: int) -> str:
    """The repeats pass's bucket of id hash `h` (SQL): its low bits, plus the slice times REPEAT_BUCKETS."""
    key = f"bitAnd({h}, {REPEAT_BUCKETS - 1})"
    return key + (f" + {REPEAT_BUCKETS} * modulo(intDiv({h}, {REPEAT_BUCKETS}), {parts})" if parts > 1 else "")


def window_events(cfg: dict, window: Window) -> Query:
    """The window's events estimated from the events table's active parts (their row counts and time
    ranges; on a cluster every server's, the Distributed table's local one): what the repeats pass is
    sliced by. Reads no events. 0 when the table has no parts of its own (a view)."""
    table = cfg["usage_events"]["table"]
    params = {
        **table_params(table, "events"),
        "start": epoch(window.start),
        "now": epoch(window.now),
        "distributed_db": DISTRIBUTED_DB,
        "distributed_table": DISTRIBUTED_TABLE,
    }
    configured = configured_tables({"events": table})
    cluster = cfg["clickhouse"]["cluster"]
    if cluster:
        params["cluster"] = cluster
    # As with check 2's system.mutations, the tables are matched where the query starts. On a cluster, one row
    # per server when the profile forbids cluster() and each server is asked directly: the rows are summed.
    sql = _PARTS_SQL.format(configured=configured, source="{source}")
    return Query(
        "events in the window, estimated from the table's parts (system.parts)",
        sql.format(source="cluster(%(cluster)s, system, parts)" if cluster else "system.parts"),
        params,
        columns=("events",),
        local_sql=sql.format(source="system.parts") if cluster else None,
    )


_PARTS_SQL = """SELECT
    toUInt64(sum(if(hi = 0, toFloat64(rows), rows * greatest(0, least(hi, %(now)s) - greatest(lo, %(start)s) + 1)
                              / (hi - lo + 1)))) AS events
FROM
(
    SELECT database, table, rows, toInt64(toUInt32(min_time)) AS lo, toInt64(toUInt32(max_time)) AS hi
    FROM {source}
    WHERE active
)
WHERE (database, table) GLOBAL IN
      (
          SELECT database, name FROM system.tables WHERE {configured}
          UNION ALL
          SELECT extract(engine_full, %(distributed_db)s), extract(engine_full, %(distributed_table)s)
          FROM system.tables WHERE engine = 'Distributed' AND ({configured})
      )"""


def repeats(cfg: dict, window: Window, part: int, parts: int) -> Query:
    """Duplicate event ids, one slice of the hash space: per bucket of the id hash (repeat_key), the rows
    minus the distinct hashes, where above 0. As cheap as the plain count - uniqExact (one hash set per
    bucket instead of one for all), and it says where to look (repeats.py)."""
    ev = cfg["usage_events"]
    in_window, params = _in_window(cfg, window)
    limit = cfg["clickhouse"]["max_memory_bytes"]
    return Query(
        "event_id hash buckets holding an id more than once" + (f" (slice {part + 1} of {parts})" if parts > 1 else ""),
        f"""SELECT k, count() - uniqExact(h) AS extra
FROM
(
    SELECT cityHash64({ev["event_id"]}) AS h, {repeat_key("h", parts)} AS k
    FROM {ev["table"]}
    WHERE {in_window}
)
{f"WHERE modulo(intDiv(h, {REPEAT_BUCKETS}), {parts}) = {part}" if parts > 1 else ""}
GROUP BY k
HAVING extra > 0""",
        params,
        {"max_bytes_before_external_group_by": int(0.75 * limit)} if limit else {},
        columns=("k", "extra"),
    )


def hash_partitions(cfg: dict, events: int) -> int:
    """Into how many slices of the id hashes duplicate_candidates is cut, so that each slice's GROUP BY
    fits in ~60 % of the memory limit without spilling to disk (spilling is several times slower; it stays
    the safety net, at 75 %). Each slice reads the ids again, which costs far less than a spill."""
    return slices(events, cfg["clickhouse"]["max_memory_bytes"], BYTES_PER_ID, 0.6)


def duplicate_candidates(cfg: dict, window: Window, part: int, parts: int, keys: list[int], key_parts: int) -> Query:
    """A mass duplication only (more ids in the flagged buckets than the scan collects): the hashes of the
    buckets the repeats pass flagged (`keys`, bucketed in `key_parts` slices) stored more than once, in `parts`
    slices of the hash space sized to the memory limit (hash_partitions). duplicates() then reads their ids."""
    ev = cfg["usage_events"]
    in_window, params = _in_window(cfg, window)
    params["keys"] = tuple(keys)
    limit = cfg["clickhouse"]["max_memory_bytes"]
    return Query(
        "event_id hashes stored more than once (first pass" + (f", slice {part + 1} of {parts})" if parts > 1 else ")"),
        f"""SELECT cityHash64({ev["event_id"]}) AS h, count() AS c
FROM {ev["table"]}
WHERE {in_window} AND {repeat_key("h", key_parts)} IN %(keys)s{f" AND modulo(h, {parts}) = {part}" if parts > 1 else ""}
GROUP BY h
HAVING c > 1
LIMIT {MAX_CANDIDATES + 1}""",
        params,
        {"max_bytes_before_external_group_by": int(0.75 * limit)} if limit else {},
        columns=("h", "c"),
    )


def duplicates(cfg: dict, window: Window, candidates: list[dict]) -> Query | None:
    """After duplicate_candidates, only when it found some: the ids behind those hashes, per tenant (hash
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
        wanted = (
            f"GLOBAL IN (SELECT cityHash64({ev['event_id']}) AS h FROM {ev['table']} WHERE {in_window} "
            "GROUP BY h HAVING count() > 1)"
        )
    return Query(
        "event_ids stored more than once, per tenant",
        f"""SELECT t, count() AS duplicated_ids, sum(c - 1) AS extra_rows, min(eid) AS example_event_id
FROM
(
    SELECT {ev["event_id"]} AS eid, count() AS c, groupUniqArray({ev["tenant_id"]}) AS tenants
    FROM {ev["table"]}
    WHERE {in_window} AND cityHash64({ev["event_id"]}) {wanted}
    GROUP BY eid
    HAVING c > 1
)
ARRAY JOIN tenants AS t
GROUP BY t
ORDER BY extra_rows DESC, t""",
        params,
        columns=("t", "duplicated_ids", "extra_rows", "example_event_id"),
    )
