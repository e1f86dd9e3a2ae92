"""Check 1, ClickHouse data accuracy: is every active tenant's usage there, once, and do the rollups agree?

Fails when an active tenant has no usage in the lookback window, when a tenant
misses more days than allowed, when usage_daily or usage_hourly disagree with
usage_events for a complete day, or when an event_id appears more than once
(double billing). Usage from tenants that are not active, and events dated in
the future, are warnings. Six queries, whatever the number of tenants.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from billing_readiness.checks import CHECKS
from billing_readiness.money import NANOS_SQL, from_float, from_nanos
from billing_readiness.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Window, epoch

CHECK_ID = "usage_coverage"
FUTURE_SKEW_SECONDS = 300  # clock skew we forgive before an event counts as "from the future"
MAX_EVIDENCE = 10  # evidence rows kept per finding
MATRIX_TENANT_LIMIT = 500  # above this, the report's heat map keeps only tenants with gaps


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
        ),
        "hourly": Query(
            "hourly rollup by tenant, day and event type (usage_hourly, summed)",
            f"""SELECT {hr['tenant_id']} AS t, toDate({hr['hour']}, 'UTC') AS d, toString({hr['event_type']}) AS et,
       sum({hr['event_count']}) AS events, sum({hr['total_quantity']}) AS quantity, sum({hr['total_cost']}) AS cost
FROM {hr['table']}
WHERE {hr['hour']} >= toDateTime(%(start)s) AND {hr['hour']} < toDateTime(%(today_start)s)
GROUP BY t, d, et""",
            rollup_span,
        ),
        # Two passes: a cheap one over a 64-bit hash of every id finds the candidates, the exact one
        # groups only those by the id itself (hash collisions drop out there). Cross-tenant duplicates count too.
        "duplicates": Query(
            "event_ids stored more than once, per tenant",
            f"""SELECT t, count() AS duplicated_ids, sum(c - 1) AS extra_rows, min(eid) AS example_event_id
FROM
(
    SELECT {ev['event_id']} AS eid, count() AS c, groupUniqArray({ev['tenant_id']}) AS tenants
    FROM {ev['table']}
    WHERE {in_window} AND cityHash64({ev['event_id']}) IN
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
        ),
        "future": Query(
            "events dated in the future, per tenant",
            f"""SELECT {ev['tenant_id']} AS t, count() AS events, toUInt32(max({ts})) AS latest
FROM {ev['table']}
WHERE {ts} > toDateTime(%(after)s)
GROUP BY t
ORDER BY t""",
            {"after": epoch(window.now) + FUTURE_SKEW_SECONDS},
        ),
    }


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _qty_differs(a: float, b: float) -> bool:
    """Float sums of the same quantities differ only by summation order: a few ulps, never a unit."""
    return abs(a - b) > max(1e-6, 1e-9 * max(abs(a), abs(b)))


def evaluate(
    rows: dict[str, list[tuple]],
    cfg: dict,
    window: Window,
    max_missing_days: int | None = None,
    tolerance_usd: Decimal = Decimal("0.01"),
) -> CheckResult:
    """The verdict from the six result sets of `queries()` (keyed the same way)."""
    title, impact = CHECKS[CHECK_ID]
    result = CheckResult(CHECK_ID, title)
    active = sorted({r[0] for r in rows["active"]})
    days = [d.isoformat() for d in window.complete_days()]
    today = window.today.isoformat()
    result.metrics.update(
        active_tenants=len(active),
        lookback_days=window.days,
        window=f"{days[0]} .. {today} {window.now:%H:%M} UTC",
    )
    if not active:
        result.add(
            FAIL,
            "no_active_tenants",
            "No active tenants to check: the active-tenant query returned no rows "
            "(tenant_quotas is empty or config 'active_tenants_sql' selects nothing).",
        )
        return result

    types = cfg["event_types"]
    # raw[t][d][et] = (events, quantity, cost_nanos)
    raw: dict[str, dict[str, dict[str, tuple[int, float, int]]]] = defaultdict(lambda: defaultdict(dict))
    for t, d, et, events, qty, nanos in rows["raw"]:
        raw[t][_day(d)][et] = (int(events), float(qty), int(nanos))

    # Coverage: events per active tenant per day.
    matrix = {t: [sum(v[0] for v in raw[t][d].values()) if d in raw.get(t, {}) else 0 for d in days] for t in active}
    today_counts = {t: sum(v[0] for v in raw[t][today].values()) if today in raw.get(t, {}) else 0 for t in active}
    result.metrics.update(events_in_window=sum(int(r[3]) for r in rows["raw"]))
    without = [t for t in active if sum(matrix[t]) + today_counts[t] == 0]
    for t in without:
        result.add(
            FAIL,
            "tenant_without_usage",
            f"Active tenant '{t}' has no usage records from {days[0]} to {today}: "
            "it would get no invoice line (or a wrong $0.00 one).",
            tenant=t,
            first_day=days[0],
            last_day=today,
            expected="usage on at least one day",
            found=0,
        )
    gaps = {t: [d for d, n in zip(days, matrix[t]) if n == 0] for t in active if t not in without}
    gaps = {t: g for t, g in gaps.items() if g}
    for t, missing in sorted(gaps.items()):
        over = max_missing_days is not None and len(missing) > max_missing_days
        allowed = "report only" if max_missing_days is None else f"at most {max_missing_days} allowed"
        result.add(
            FAIL if over else WARN,
            "missing_days",
            f"Tenant '{t}' has no usage on {len(missing)} of {len(days)} complete days ({allowed}): "
            f"{_list(missing)}.",
            tenant=t,
            missing_days=missing,
            expected="usage every day",
            found=f"{len(missing)} day(s) without usage",
        )
    result.metrics.update(tenants_with_usage=len(active) - len(without), tenants_with_gaps=len(gaps))
    shown = active if len(active) <= MATRIX_TENANT_LIMIT else sorted(set(without) | set(gaps))
    result.details["coverage"] = {
        "days": days,
        "today": today,
        "tenants": {t: matrix[t] for t in shown},
        "today_counts": {t: today_counts[t] for t in shown},
    }

    # Orphans: usage in the window from tenants nobody bills.
    active_set = set(active)
    orphans = sorted(set(raw) - active_set)
    for t in orphans:
        events = sum(v[0] for d in raw[t].values() for v in d.values())
        cost = from_nanos(sum(v[2] for d in raw[t].values() for v in d.values()))
        result.add(
            WARN,
            "usage_without_active_tenant",
            f"Tenant '{t}' has {events:,} events (${cost:.2f}) in the window but is not an active tenant: "
            "nobody would be billed for them.",
            tenant=t,
            events=events,
            cost_usd=f"{cost:.2f}",
        )

    _reconcile(result, raw, rows["daily"], rows["hourly"], days, types, tolerance_usd)

    for t, ids, extra, example in rows["duplicates"]:
        result.add(
            FAIL,
            "duplicate_event_ids",
            f"Tenant '{t}': {int(ids):,} event_id(s) stored more than once ({int(extra):,} extra row(s), "
            f"e.g. {example}): that usage would be billed twice.",
            tenant=t,
            duplicated_event_ids=int(ids),
            extra_rows=int(extra),
            example_event_id=example,
            expected="each event_id once",
        )
    for t, n, latest in rows["future"]:
        latest_s = dt.datetime.fromtimestamp(int(latest), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        result.add(
            WARN,
            "future_events",
            f"Tenant '{t}' has {int(n):,} event(s) dated in the future (latest {latest_s} UTC, now "
            f"{window.now:%Y-%m-%d %H:%M:%S} UTC): a clock or ingestion bug; they would land in a later invoice.",
            tenant=t,
            events=int(n),
            latest=latest_s,
        )
    result.metrics["duplicate_event_ids"] = sum(int(r[1]) for r in rows["duplicates"])  # per tenant
    result.metrics["future_events"] = sum(int(r[1]) for r in rows["future"])
    result.metrics["orphan_tenants"] = len(orphans)
    if result.passed:
        result.add(INFO, "ok", f"All {len(active)} active tenants have usage; rollups agree with raw events.")
    result.details["impact"] = impact
    return result


def _list(items: list[str], limit: int = MAX_EVIDENCE) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _reconcile(result, raw, daily_rows, hourly_rows, days, types, tol) -> None:
    """usage_daily and usage_hourly against usage_events, per tenant and complete day."""
    day_set = set(days)

    def raw_type(t, d, key):
        return raw.get(t, {}).get(d, {}).get(types[key], (0, 0.0, 0))

    # Daily rollup: the raw figures that usage_daily's columns are defined as.
    daily = {(t, _day(d)): (int(q), float(i), float(o), float(s), from_float(c)) for t, d, q, i, o, s, c in daily_rows}
    keys = {(t, d) for t in raw for d in raw[t] if d in day_set} | set(daily)
    drift: dict[str, list[dict]] = defaultdict(list)
    for t, d in sorted(keys):
        expected = (
            raw_type(t, d, "query")[0],
            raw_type(t, d, "token_input")[1],
            raw_type(t, d, "token_output")[1],
            raw_type(t, d, "storage_write")[1],
            from_nanos(sum(v[2] for v in raw.get(t, {}).get(d, {}).values())),
        )
        found = daily.get((t, d), (0, 0.0, 0.0, 0.0, Decimal(0)))
        names = ("query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd")
        for name, e, f in zip(names, expected, found):
            bad = e != f if name == "query_count" else (
                abs(e - f) > tol if name == "total_cost_usd" else _qty_differs(e, f)
            )
            if bad:
                drift[t].append({"day": d, "column": name, "raw": _num(e), "rollup": _num(f)})
    _drift_findings(result, "rollup_drift_daily", "usage_daily", drift)

    hourly = {(t, _day(d), et): (int(n), float(q), from_float(c)) for t, d, et, n, q, c in hourly_rows}
    keys = {(t, d, et) for t in raw for d in raw[t] if d in day_set for et in raw[t][d]} | set(hourly)
    drift = defaultdict(list)
    for t, d, et in sorted(keys):
        n, q, nanos = raw.get(t, {}).get(d, {}).get(et, (0, 0.0, 0))
        fn, fq, fc = hourly.get((t, d, et), (0, 0.0, Decimal(0)))
        for name, e, f, bad in (
            ("event_count", n, fn, n != fn),
            ("total_quantity", q, fq, _qty_differs(q, fq)),
            ("total_cost", from_nanos(nanos), fc, abs(from_nanos(nanos) - fc) > tol),
        ):
            if bad:
                drift[t].append({"day": d, "event_type": et, "column": name, "raw": _num(e), "rollup": _num(f)})
    _drift_findings(result, "rollup_drift_hourly", "usage_hourly", drift)


def _num(v) -> Any:
    if isinstance(v, Decimal):
        return f"{v:.6f}"
    if isinstance(v, float):
        return round(v, 6)
    return v


def _drift_findings(result: CheckResult, code: str, rollup: str, drift: dict[str, list[dict]]) -> None:
    for t, diffs in sorted(drift.items()):
        first = diffs[0]
        what = f"{first['column']}" + (f" ({first['event_type']})" if "event_type" in first else "")
        result.add(
            FAIL,
            code,
            f"Tenant '{t}': {rollup} disagrees with usage_events on {len({x['day'] for x in diffs})} day(s); "
            f"first: {first['day']} {what} raw {first['raw']} vs rollup {first['rollup']}. "
            "Dashboards and rollup-based invoices would be wrong.",
            tenant=t,
            differences=diffs[:MAX_EVIDENCE],
            total_differences=len(diffs),
        )

