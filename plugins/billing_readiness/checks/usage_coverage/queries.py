"""Check 1's SQL, whatever the number of tenants:

1. active tenants, first usage (usage_daily), events dated in the future, the window's size from the
   table's parts (system.parts: no events read), the zone the rollups cut days in (timezone() and the
   timestamp column's type), and freshness: the minutes with dated and with ingested events (two narrow
   columns, at most 1,440 values a day each);
2. the repeats pass: per bucket of the id hash, rows minus distinct hashes (repeats.py), in slices sized
   to the memory limit;
3. the scan of the window (days of the rollups' zone) against both rollups, which also collects the ids of
   the buckets the repeats pass flagged;

then follow-ups only when the rows call for them: the days and ids of events with non-finite or negative
values (cost_values.py, shared with check 2), the hourly history of silent tenants, and, for a mass
duplication, the repeated hashes and their ids. Rows are read by these column names."""

from __future__ import annotations

import datetime as dt

from billing_readiness.checks.usage_coverage.id_queries import repeat_key, window_events
from billing_readiness.checks.usage_coverage.reconcile import DAILY_DRIFT, HOURLY_DRIFT
from billing_readiness.core import cost_values
from billing_readiness.core.money import NANOS_SQL
from billing_readiness.core.sql import Query, active_tenants_query, zone_query
from billing_readiness.core.timewindow import Window, epoch

FUTURE_SKEW_SECONDS = 300  # clock skew we forgive before an event counts as "from the future"


def _differs(a: str, b: str, slack: str = "0") -> str:
    """reconcile.qty_differs in SQL: float sums of the same quantities differ by summation order only, plus
    what may still be in flight (`slack`); a non-finite rollup value always differs."""
    return f"(NOT isFinite({b}) OR abs({a} - {b}) > {slack} + greatest(1e-6, 1e-9 * greatest(abs({a}), abs({b}))))"


def _count_differs(a: str, b: str, slack: str) -> str:
    return f"abs(toInt64({a}) - toInt64({b})) > {slack}"


def _cost_differs(nanos: str, rollup: str, slack_nanos: str) -> str:
    return f"(NOT isFinite({rollup}) OR abs({nanos} / 1e9 - {rollup}) > %(cost_filter)s + {slack_nanos} / 1e9)"


def queries(cfg: dict, window: Window) -> dict[str, Query]:
    """The first round; the repeats pass and the scan follow (UsageCoverage.follow_up), in the days of the
    rollups' zone that the "zone" rows name."""
    return {
        "active": active_tenants_query(cfg),
        "first_usage": _first_usage(cfg),
        "future": _future(cfg, window),
        "window_events": window_events(cfg, window),
        "zone": zone_query(cfg),
        "freshness": _freshness(cfg, _span(cfg, window)),
    }


def scan(cfg: dict, window: Window, tolerance_usd: float, repeat_keys: list[int], parts: int) -> Query:
    return _scan(cfg, _span(cfg, window), tolerance_usd, repeat_keys, parts)


def _span(cfg: dict, window: Window) -> dict:
    """The window's bounds as the queries' parameters (epoch seconds, ISO dates of the window's zone)."""
    guard, now = int(cfg["coverage"]["ingest_guard_seconds"]), epoch(window.now)
    return {
        "start": epoch(window.start),
        "now": now,
        "tomorrow_start": epoch(window.tomorrow_start),
        "first_day": window.first_day.isoformat(),
        "tomorrow": (window.today + dt.timedelta(days=1)).isoformat(),
        "recent_after": epoch(window.now) - guard,
        "now_skew": epoch(window.now) + FUTURE_SKEW_SECONDS,
        "zone": window.tz,
    }


def _scan(cfg: dict, span: dict, tolerance_usd: float, repeat_keys: list[int], parts: int) -> Query:
    # One scan of the window's events up to the end of today, compared with both rollups inside ClickHouse:
    # per tenant, its events per day (coverage), the newest event, how many events hold a non-finite or
    # negative value (cost_values.py asks for their days and ids only when some do), and only the
    # tenant-days (and types) where a rollup disagrees by more than what was ingested in the last
    # ingest_guard_seconds (what can still be on its way into the materialized views). Today and its current
    # hour are reconciled too. The filters match reconcile.py's rules (cost a micro-dollar looser), which
    # judges what comes back; the rows returned grow with the tenants, not their days.
    # The days are those of the rollups' zone (%(zone)s), as their materialized views cut them.
    types = cfg["event_types"]
    return Query(
        "usage per tenant and day up to now (usage_events), with the days where usage_daily or usage_hourly "
        "disagree beyond what is still in flight"
        + (f" and the ids of {len(repeat_keys)} id-hash bucket(s) holding repeats" if repeat_keys else ""),
        f"""SELECT t, arraySort(groupArray((d, r_events))) AS day_events, sum(r_nanos) AS cost_nanos,
       arraySort(groupArrayIf(({", ".join(DAILY_DRIFT)}), daily_bad)) AS daily_drift,
       arraySort(groupArrayArray(hourly_bad)) AS hourly_drift,
       max(latest) AS latest, sum(v_bad) AS non_finite, sum(v_neg) AS negative_cost, sum(v_negq) AS negative_quantity,
       arraySort(groupArrayArray(rep_ids)) AS repeat_ids
FROM
(
    SELECT t, d, r_events, r_qc, r_in, r_out, r_sw, r_nanos, hourly_bad, d_qc, d_in, d_out, d_sw,
           d_cost, s_qc, s_in, s_out, s_sw, s_nanos, latest, v_bad, v_neg, v_negq, rep_ids,
           ({_count_differs("r_qc", "d_qc", "s_qc")} OR {_differs("r_in", "d_in", "s_in")}
               OR {_differs("r_out", "d_out", "s_out")} OR {_differs("r_sw", "d_sw", "s_sw")}
               OR {_cost_differs("r_nanos", "d_cost", "s_nanos")}) AS daily_bad
    FROM
    (
{_by_day_sql(cfg, repeat_keys, parts)}
    ) AS by_day
    ALL FULL OUTER JOIN
    (
{_daily_sql(cfg)}
    ) AS daily USING (t, d)
)
GROUP BY t""",
        {
            **span,
            "cost_filter": float(tolerance_usd) - 1e-6,
            "query_type": types["query"],
            "input_type": types["token_input"],
            "output_type": types["token_output"],
            "storage_type": types["storage_write"],
            **({"repeat_keys": tuple(repeat_keys)} if repeat_keys else {}),
        },
        columns=(
            "t",
            "day_events",
            "cost_nanos",
            "daily_drift",
            "hourly_drift",
            "latest",
            *cost_values.COUNT_COLUMNS,
            "repeat_ids",
        ),
    )


# The raw events and usage_hourly meet per tenant, day and type on one UInt64 key, a hash of the three
# (18.16 joins on it about 15 % faster than on the three columns): the key columns are the raw side's, or
# the hourly side's for a group only usage_hourly has. Two groups whose keys collided would be joined with
# each other's sums and be told apart as drift: a collision can fail the check, never pass it. Each side is
# grouped by the stored event type and names it once per group (toString on every row costs more).
def _by_day_sql(cfg: dict, repeat_keys: list[int], parts: int) -> str:
    """Per tenant, day and event type: the raw events (with what is still in flight) against usage_hourly."""
    ev, hr = cfg["usage_events"], cfg["usage_hourly"]
    ts, ing = ev["timestamp"], ev["ingested_at"] or ev["timestamp"]
    recent = "_ing >= toDateTime(%(recent_after)s) OR _ts >= toDateTime(%(recent_after)s)"
    ids = (
        f"groupArrayIf(toString(_eid), _ts < toDateTime(%(now)s) AND {repeat_key('cityHash64(_eid)', parts)} "
        "IN %(repeat_keys)s)"
        if repeat_keys
        else "CAST([] AS Array(String))"
    )
    return f"""        SELECT t, d, sum(r_n) AS r_events, sumIf(r_n, et = %(query_type)s) AS r_qc,
               sumIf(r_q, et = %(input_type)s) AS r_in, sumIf(r_q, et = %(output_type)s) AS r_out,
               sumIf(r_q, et = %(storage_type)s) AS r_sw, sum(r_c) AS r_nanos,
               sumIf(s_n, et = %(query_type)s) AS s_qc, sumIf(s_q, et = %(input_type)s) AS s_in,
               sumIf(s_q, et = %(output_type)s) AS s_out, sumIf(s_q, et = %(storage_type)s) AS s_sw,
               sum(s_c) AS s_nanos, max(latest) AS latest, sum(non_finite) AS v_bad,
               sum(negative_cost) AS v_neg, sum(negative_quantity) AS v_negq, groupArrayArray(ids) AS rep_ids,
               groupArrayIf(({", ".join(HOURLY_DRIFT)}),
                   {_count_differs("r_n", "h_n", "s_n")} OR {_differs("r_q", "h_q", "s_q")}
                   OR {_cost_differs("r_c", "h_c", "s_c")}) AS hourly_bad
        FROM
        (
        SELECT if(r_n = 0, h_t, r_t) AS t, if(r_n = 0, h_d, r_d) AS d, if(r_n = 0, h_et, r_et) AS et,
               r_n, r_q, r_c, s_n, s_q, s_c, latest, non_finite, negative_cost, negative_quantity, ids, h_n, h_q, h_c
        FROM
        (
            SELECT r_t, r_d, toString(r_et_raw) AS r_et, cityHash64(r_t, r_d, r_et) AS k,
                   count() AS r_n, sum(_q_ok) AS r_q, sum(_c_n) AS r_c,
                   countIf(_recent) AS s_n, sumIf(_q_ok, _recent) AS s_q, sumIf(_c_n, _recent) AS s_c,
                   toUInt32(maxIf(_ts, _ts <= toDateTime(%(now_skew)s))) AS latest,
                       {cost_values.counts_sql("_c", "_q")},
                   {ids} AS ids
            FROM
            (
                SELECT toString({ev["tenant_id"]}) AS r_t, toDate({ts}, %(zone)s) AS r_d,
                       {ev["event_type"]} AS r_et_raw,
                       {ev["quantity"]} AS _q, {ev["cost_usd"]} AS _c, {ts} AS _ts, {ing} AS _ing,
                       if(isFinite(_q), _q, 0) AS _q_ok, {NANOS_SQL.format(col="_c")} AS _c_n, {recent} AS _recent,
                       {ev["event_id"] if repeat_keys else "''"} AS _eid
                FROM {ev["table"]}
                WHERE {ts} >= toDateTime(%(start)s) AND {ts} < toDateTime(%(tomorrow_start)s)
            )
            GROUP BY r_t, r_d, r_et_raw
        ) AS raw
        ALL FULL OUTER JOIN
        (
            SELECT toString({hr["tenant_id"]}) AS h_t, toDate({hr["hour"]}, %(zone)s) AS h_d,
                   {hr["event_type"]} AS h_et_raw, toString(h_et_raw) AS h_et, cityHash64(h_t, h_d, h_et) AS k,
                   sum({hr["event_count"]}) AS h_n, sum({hr["total_quantity"]}) AS h_q, sum({hr["total_cost"]}) AS h_c
            FROM {hr["table"]}
            WHERE {hr["hour"]} >= toDateTime(%(start)s) AND {hr["hour"]} < toDateTime(%(tomorrow_start)s)
            GROUP BY h_t, h_d, h_et_raw
        ) AS hourly USING (k)
        )
        GROUP BY t, d"""


def _daily_sql(cfg: dict) -> str:
    """Per tenant and day: usage_daily over the window's days."""
    dl = cfg["usage_daily"]
    return f"""        SELECT {dl["tenant_id"]} AS t, {dl["day"]} AS d, sum({dl["query_count"]}) AS d_qc,
        sum({dl["input_tokens"]}) AS d_in,
               sum({dl["output_tokens"]}) AS d_out, sum({dl["storage_writes_bytes"]}) AS d_sw,
               sum({dl["total_cost_usd"]}) AS d_cost
        FROM {dl["table"]}
        WHERE {dl["day"]} >= toDate(%(first_day)s) AND {dl["day"]} < toDate(%(tomorrow)s)
        GROUP BY t, d"""


def _freshness(cfg: dict, span: dict) -> Query:
    ev = cfg["usage_events"]
    ts, ing = ev["timestamp"], ev["ingested_at"] or ev["timestamp"]
    # Freshness: the minutes of the window in which something was ingested, and in which events are dated
    # (at most ~1,440 a day each): freshness.py measures the current silence against the usual quiet spell
    # at the same time of day.
    return Query(
        "minutes with ingested and with dated events over the window (usage_events)",
        f"""SELECT arraySort(groupUniqArrayIf(intDiv(toUInt32(_ts), 60), _ts <= toDateTime(%(now_skew)s))) AS
            event_minutes,
       arraySort(groupUniqArrayIf(intDiv(toUInt32(_ing), 60), _ing <= toDateTime(%(now_skew)s))) AS ingest_minutes
FROM
(
    SELECT {ts} AS _ts, {ing} AS _ing
    FROM {ev["table"]}
    WHERE {ts} >= toDateTime(%(start)s) AND {ts} <= toDateTime(%(now_skew)s)
)""",
        {k: span[k] for k in ("start", "now_skew")},
        columns=("event_minutes", "ingest_minutes"),
    )


def _first_usage(cfg: dict) -> Query:
    dl = cfg["usage_daily"]
    # A tenant's first usage ever: the first day in the daily rollup (all history, tenants x days rows,
    # far smaller than the events). Days before it do not count as missing (a tenant onboarded lately).
    return Query(
        "first day with usage per tenant (usage_daily, all history)",
        f"""SELECT {dl["tenant_id"]} AS t, min({dl["day"]}) AS first_day
FROM {dl["table"]}
GROUP BY t""",
        columns=("t", "first_day"),
    )


def _future(cfg: dict, window: Window) -> Query:
    ev = cfg["usage_events"]
    ts = ev["timestamp"]
    return Query(
        "events dated in the future, per tenant",
        f"""SELECT {ev["tenant_id"]} AS t, count() AS events, toUInt32(max({ts})) AS latest
FROM {ev["table"]}
WHERE {ts} > toDateTime(%(after)s)
GROUP BY t
ORDER BY t""",
        {"after": epoch(window.future_after) + FUTURE_SKEW_SECONDS},
        columns=("t", "events", "latest"),
    )


def tenant_hours(cfg: dict, window: Window, tenants: list[str]) -> Query | None:
    """Only for tenants silent for longer than config 'coverage.tenant_silence_seconds': their events per hour
    over the window (usage_hourly), so freshness.py can say how much they usually send at this time of day."""
    if not tenants:
        return None
    hr = cfg["usage_hourly"]
    return Query(
        "events per hour of the silent tenants (usage_hourly)",
        f"""SELECT t, arraySort(groupArray((h, n))) AS hours
FROM
(
    SELECT {hr["tenant_id"]} AS t, toUInt32({hr["hour"]}) AS h, sum({hr["event_count"]}) AS n
    FROM {hr["table"]}
    WHERE {hr["hour"]} >= toDateTime(%(start)s) AND {hr["hour"]} < toDateTime(%(now)s) AND {hr["tenant_id"]} IN
        %(tenants)s
    GROUP BY t, h
)
GROUP BY t
ORDER BY t""",
        {"start": epoch(window.start), "now": epoch(window.now), "tenants": tuple(sorted(tenants))},
        columns=("t", "hours"),
    )
