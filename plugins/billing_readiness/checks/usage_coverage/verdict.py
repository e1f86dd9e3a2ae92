"""Check 1's verdict from the rows of its six queries (plain Python, read by column name)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_readiness.money import from_float, from_nanos
from billing_readiness.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.timewindow import Window

MAX_EVIDENCE = 10  # evidence rows kept per finding
MATRIX_TENANT_LIMIT = 500  # above this, the report's heat map keeps only tenants with gaps

Rows = list[dict[str, Any]]


@dataclass
class Coverage:
    """Events per tenant per complete day (the report's heat map), and today so far."""

    days: list[str]
    today: str
    tenants: dict[str, list[int]]
    today_counts: dict[str, int]


@dataclass
class Details:
    coverage: Coverage | None = None


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _qty_differs(a: float, b: float) -> bool:
    """Float sums of the same quantities differ only by summation order: a few ulps, never a unit."""
    return abs(a - b) > max(1e-6, 1e-9 * max(abs(a), abs(b)))


def _list(items: list[str], limit: int = MAX_EVIDENCE) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def evaluate(
    result: CheckResult,
    rows: dict[str, Rows],
    cfg: dict,
    window: Window,
    max_missing_days: int | None = None,
    tolerance_usd: Decimal = Decimal("0.01"),
) -> CheckResult:
    """Fill `result` with the verdict from the six result sets of `queries()` (keyed the same way)."""
    result.details = Details()
    active = sorted({r["tenant_id"] for r in rows["active"]})
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

    # raw[t][d][et] = (events, quantity, cost_nanos)
    raw: dict[str, dict[str, dict[str, tuple[int, float, int]]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows["raw"]:
        raw[r["t"]][_day(r["d"])][r["et"]] = (int(r["events"]), float(r["quantity"]), int(r["cost_nanos"]))

    def events_on(t: str, d: str) -> int:
        return sum(v[0] for v in raw[t][d].values()) if d in raw.get(t, {}) else 0

    matrix = {t: [events_on(t, d) for d in days] for t in active}
    today_counts = {t: events_on(t, today) for t in active}
    result.metrics.update(events_in_window=sum(int(r["events"]) for r in rows["raw"]))
    without = [t for t in active if sum(matrix[t]) + today_counts[t] == 0]
    for t in without:
        result.add(
            FAIL,
            "tenant_without_usage",
            f"Active tenant '{t}' has no usage records from {days[0]} to {today}: "
            "it would get no invoice line (or a wrong $0.00 one).",
            tenant=t, first_day=days[0], last_day=today, expected="usage on at least one day", found=0,
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
            tenant=t, missing_days=missing, expected="usage every day",
            found=f"{len(missing)} day(s) without usage",
        )
    result.metrics.update(tenants_with_usage=len(active) - len(without), tenants_with_gaps=len(gaps))
    shown = active if len(active) <= MATRIX_TENANT_LIMIT else sorted(set(without) | set(gaps))
    result.details.coverage = Coverage(days, today, {t: matrix[t] for t in shown}, {t: today_counts[t] for t in shown})

    orphans = sorted(set(raw) - set(active))
    for t in orphans:
        events = sum(v[0] for d in raw[t].values() for v in d.values())
        cost = from_nanos(sum(v[2] for d in raw[t].values() for v in d.values()))
        result.add(
            WARN,
            "usage_without_active_tenant",
            f"Tenant '{t}' has {events:,} events (${cost:.2f}) in the window but is not an active tenant: "
            "nobody would be billed for them.",
            tenant=t, events=events, cost_usd=f"{cost:.2f}",
        )

    _reconcile(result, raw, rows["daily"], rows["hourly"], days, cfg["event_types"], tolerance_usd)

    for r in rows["duplicates"]:
        t, ids, extra = r["t"], int(r["duplicated_ids"]), int(r["extra_rows"])
        result.add(
            FAIL,
            "duplicate_event_ids",
            f"Tenant '{t}': {ids:,} event_id(s) stored more than once ({extra:,} extra row(s), "
            f"e.g. {r['example_event_id']}): that usage would be billed twice.",
            tenant=t, duplicated_event_ids=ids, extra_rows=extra, example_event_id=r["example_event_id"],
            expected="each event_id once",
        )
    for r in rows["future"]:
        latest_s = dt.datetime.fromtimestamp(int(r["latest"]), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        result.add(
            WARN,
            "future_events",
            f"Tenant '{r['t']}' has {int(r['events']):,} event(s) dated in the future (latest {latest_s} UTC, now "
            f"{window.now:%Y-%m-%d %H:%M:%S} UTC): a clock or ingestion bug; they would land in a later invoice.",
            tenant=r["t"], events=int(r["events"]), latest=latest_s,
        )
    result.metrics["duplicate_event_ids"] = sum(int(r["duplicated_ids"]) for r in rows["duplicates"])  # per tenant
    result.metrics["future_events"] = sum(int(r["events"]) for r in rows["future"])
    result.metrics["orphan_tenants"] = len(orphans)
    if result.passed:
        result.add(INFO, "ok", f"All {len(active)} active tenants have usage; rollups agree with raw events.")
    return result


def _reconcile(result, raw, daily_rows: Rows, hourly_rows: Rows, days, types, tol) -> None:
    """usage_daily and usage_hourly against usage_events, per tenant and complete day."""
    day_set = set(days)

    def raw_type(t, d, key):
        return raw.get(t, {}).get(d, {}).get(types[key], (0, 0.0, 0))

    # Daily rollup: the raw figures that usage_daily's columns are defined as.
    names = ("query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd")
    daily = {
        (r["t"], _day(r["d"])): (int(r["query_count"]), float(r["input_tokens"]), float(r["output_tokens"]),
                                 float(r["storage_writes_bytes"]), from_float(r["total_cost_usd"]))
        for r in daily_rows
    }
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
        for name, e, f in zip(names, expected, found):
            bad = e != f if name == "query_count" else (
                abs(e - f) > tol if name == "total_cost_usd" else _qty_differs(e, f)
            )
            if bad:
                drift[t].append({"day": d, "column": name, "raw": _num(e), "rollup": _num(f)})
    _drift_findings(result, "rollup_drift_daily", "usage_daily", drift)

    hourly = {(r["t"], _day(r["d"]), r["et"]): (int(r["events"]), float(r["quantity"]), from_float(r["cost"]))
              for r in hourly_rows}
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
            tenant=t, differences=diffs[:MAX_EVIDENCE], total_differences=len(diffs),
        )
