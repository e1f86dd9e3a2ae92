"""Check 1's reconciliation: usage_daily and usage_hourly against usage_events, per tenant and complete day."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from billing_readiness.money import from_float, from_nanos
from billing_readiness.results import FAIL, CheckResult

MAX_EVIDENCE = 10  # differences kept per finding
Rows = list[dict[str, Any]]


def day_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def qty_differs(a: float, b: float) -> bool:
    """Float sums of the same quantities differ only by summation order: a few ulps, never a unit."""
    return abs(a - b) > max(1e-6, 1e-9 * max(abs(a), abs(b)))


def reconcile(result, raw, daily_rows: Rows, hourly_rows: Rows, days, types, tol) -> None:
    """usage_daily and usage_hourly against usage_events, per tenant and complete day."""
    day_set = set(days)

    def raw_type(t, d, key):
        return raw.get(t, {}).get(d, {}).get(types[key], (0, 0.0, 0))

    # Daily rollup: the raw figures that usage_daily's columns are defined as.
    names = ("query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd")
    daily = {
        (r["t"], day_text(r["d"])): (int(r["query_count"]), float(r["input_tokens"]), float(r["output_tokens"]),
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
                abs(e - f) > tol if name == "total_cost_usd" else qty_differs(e, f)
            )
            if bad:
                drift[t].append({"day": d, "column": name, "raw": _num(e), "rollup": _num(f)})
    _drift_findings(result, "rollup_drift_daily", "usage_daily", drift)

    hourly = {(r["t"], day_text(r["d"]), r["et"]): (int(r["events"]), float(r["quantity"]), from_float(r["cost"]))
              for r in hourly_rows}
    keys = {(t, d, et) for t in raw for d in raw[t] if d in day_set for et in raw[t][d]} | set(hourly)
    drift = defaultdict(list)
    for t, d, et in sorted(keys):
        n, q, nanos = raw.get(t, {}).get(d, {}).get(et, (0, 0.0, 0))
        fn, fq, fc = hourly.get((t, d, et), (0, 0.0, Decimal(0)))
        for name, e, f, bad in (
            ("event_count", n, fn, n != fn),
            ("total_quantity", q, fq, qty_differs(q, fq)),
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
