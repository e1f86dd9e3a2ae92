"""Check 1's reconciliation: usage_daily and usage_hourly against usage_events, per tenant and complete day
(ClickHouse compares; the tenant-days it sends back are judged here)."""
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


class DayTexts(dict):
    """day_text, remembered: a window has a few dozen days but a large system millions of rows."""

    def __missing__(self, value: Any) -> str:
        self[value] = text = day_text(value)
        return text


def qty_differs(a: float, b: float) -> bool:
    """Float sums of the same quantities differ only by summation order: a few ulps, never a unit."""
    return abs(a - b) > max(1e-6, 1e-9 * max(abs(a), abs(b)))


def cost_differs(nanos: int, rollup: float, tol: Decimal) -> bool:
    """Raw cost (integer nano-dollars) vs a rollup's Float64 sum, beyond the tolerance, exactly."""
    return abs(from_nanos(nanos) - from_float(rollup)) > tol


def reconcile(result: CheckResult, tenant_rows: Rows, tol: Decimal) -> None:
    """The rollups against usage_events, per tenant and complete day. ClickHouse compared every tenant-day
    (queries.py) and sent back only those it found different: each is judged here by the same rules,
    exactly (Decimal money), and becomes the evidence."""
    daily: dict[str, list[dict]] = defaultdict(list)
    hourly: dict[str, list[dict]] = defaultdict(list)
    for row in tenant_rows:
        t = row["t"]
        for d, r_qc, r_in, r_out, r_sw, r_nanos, d_qc, d_in, d_out, d_sw, d_cost in row["daily_drift"]:
            for name, bad, e, f in (
                ("query_count", int(r_qc) != int(d_qc), int(r_qc), int(d_qc)),
                ("input_tokens", qty_differs(r_in, d_in), r_in, d_in),
                ("output_tokens", qty_differs(r_out, d_out), r_out, d_out),
                ("storage_writes_bytes", qty_differs(r_sw, d_sw), r_sw, d_sw),
                ("total_cost_usd", cost_differs(r_nanos, d_cost, tol), from_nanos(r_nanos), from_float(d_cost)),
            ):
                if bad:
                    daily[t].append({"day": day_text(d), "column": name, "raw": _num(e), "rollup": _num(f)})
        for d, et, n, q, nanos, fn, fq, fc in row["hourly_drift"]:
            for name, bad, e, f in (
                ("event_count", int(n) != int(fn), int(n), int(fn)),
                ("total_quantity", qty_differs(q, fq), q, fq),
                ("total_cost", cost_differs(nanos, fc, tol), from_nanos(nanos), from_float(fc)),
            ):
                if bad:
                    hourly[t].append({"day": day_text(d), "event_type": et, "column": name, "raw": _num(e),
                                      "rollup": _num(f)})
    _drift_findings(result, "rollup_drift_daily", "usage_daily", daily)
    _drift_findings(result, "rollup_drift_hourly", "usage_hourly", hourly)


def _num(v) -> Any:
    if isinstance(v, Decimal):
        return f"{v:.6f}"
    if isinstance(v, float):
        return round(v, 6)
    return v


def _drift_findings(result: CheckResult, code: str, rollup: str, drift: dict[str, list[dict]]) -> None:
    order = ("query_count", "input_tokens", "output_tokens", "storage_writes_bytes", "total_cost_usd", "event_count",
             "total_quantity", "total_cost")
    for t, diffs in sorted(drift.items()):
        diffs.sort(key=lambda x: (x["day"], x.get("event_type", ""), order.index(x["column"])))
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
