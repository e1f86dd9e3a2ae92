"""Check 1's reconciliation: usage_daily and usage_hourly against usage_events, per tenant and day, up to now
(ClickHouse compares; the tenant-days it sends back are judged here)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from billing_readiness.core.money import from_float, from_nanos
from billing_readiness.core.results import FAIL, CheckResult

MAX_EVIDENCE = 10  # differences kept per finding
Rows = list[dict[str, Any]]

# The fields of the scan's drift tuples, in their order (queries.py builds the tuples from these names): the day,
# the raw events' sums (r_), the rollup's (d_ daily, h_ hourly) and what is still in flight (s_: slack).
DAILY_DRIFT = (
    *("d", "r_qc", "r_in", "r_out", "r_sw", "r_nanos"),
    *("d_qc", "d_in", "d_out", "d_sw", "d_cost"),
    *("s_qc", "s_in", "s_out", "s_sw", "s_nanos"),
)
HOURLY_DRIFT = ("d", "et", "r_n", "r_q", "r_c", "h_n", "h_q", "h_c", "s_n", "s_q", "s_c")


def day_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


class DayTexts(dict):
    """day_text, remembered: a window has a few dozen days but a large system millions of rows."""

    def __missing__(self, value: Any) -> str:
        self[value] = text = day_text(value)
        return text


def qty_differs(a: float, b: float, slack: float = 0.0) -> bool:
    """Float sums of the same quantities differ only by summation order (a few ulps, never a unit), plus what may
    still be in flight (`slack`: the quantities ingested in the last guard seconds). Non-finite always differs."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return True
    return abs(a - b) > slack + max(1e-6, 1e-9 * max(abs(a), abs(b)))


def cost_differs(nanos: int, rollup: float, tol: Decimal, slack_nanos: int = 0) -> bool:
    """Raw cost (integer nano-dollars) vs a rollup's Float64 sum, beyond the tolerance and what is in flight,
    exactly."""
    if not math.isfinite(rollup):
        return True
    return abs(from_nanos(nanos) - from_float(rollup)) > tol + from_nanos(slack_nanos)


def reconcile(result: CheckResult, tenant_rows: Rows, tol: Decimal, skip: dict[str, set[str]] | None = None) -> None:
    """The rollups against usage_events, per tenant and day up to now. ClickHouse compared every tenant-day and
    sent back only those that differ by more than what was ingested in the last guard seconds (the slack: an
    insert still on its way into the materialized views); each is judged here by the same rules, exactly
    (Decimal money), and becomes the evidence. Days holding non-finite values (`skip`) are left to the value findings:
    no figure computed from NaN or infinity is ever shown."""
    daily: dict[str, list[dict]] = defaultdict(list)
    hourly: dict[str, list[dict]] = defaultdict(list)
    for row in tenant_rows:
        t = row["t"]
        poisoned = (skip or {}).get(t, set())
        for x in (dict(zip(DAILY_DRIFT, v, strict=True)) for v in row["daily_drift"]):
            if day_text(x["d"]) in poisoned:
                continue
            for name, bad, e, f in (
                ("query_count", abs(int(x["r_qc"]) - int(x["d_qc"])) > int(x["s_qc"]), int(x["r_qc"]), int(x["d_qc"])),
                ("input_tokens", qty_differs(x["r_in"], x["d_in"], x["s_in"]), x["r_in"], x["d_in"]),
                ("output_tokens", qty_differs(x["r_out"], x["d_out"], x["s_out"]), x["r_out"], x["d_out"]),
                ("storage_writes_bytes", qty_differs(x["r_sw"], x["d_sw"], x["s_sw"]), x["r_sw"], x["d_sw"]),
                (
                    "total_cost_usd",
                    cost_differs(x["r_nanos"], x["d_cost"], tol, x["s_nanos"]),
                    from_nanos(x["r_nanos"]),
                    _money(x["d_cost"]),
                ),
            ):
                if bad:
                    daily[t].append({"day": day_text(x["d"]), "column": name, "raw": _num(e), "rollup": _num(f)})
        for x in (dict(zip(HOURLY_DRIFT, v, strict=True)) for v in row["hourly_drift"]):
            if day_text(x["d"]) in poisoned:
                continue
            for name, bad, e, f in (
                ("event_count", abs(int(x["r_n"]) - int(x["h_n"])) > int(x["s_n"]), int(x["r_n"]), int(x["h_n"])),
                ("total_quantity", qty_differs(x["r_q"], x["h_q"], x["s_q"]), x["r_q"], x["h_q"]),
                ("total_cost", cost_differs(x["r_c"], x["h_c"], tol, x["s_c"]), from_nanos(x["r_c"]), _money(x["h_c"])),
            ):
                if bad:
                    hourly[t].append(
                        {
                            "day": day_text(x["d"]),
                            "event_type": x["et"],
                            "column": name,
                            "raw": _num(e),
                            "rollup": _num(f),
                        }
                    )
    _drift_findings(result, "rollup_drift_daily", "usage_daily", daily)
    _drift_findings(result, "rollup_drift_hourly", "usage_hourly", hourly)


def _money(v: float) -> Any:
    return from_float(v) if math.isfinite(v) else v


def _num(v) -> Any:
    if isinstance(v, Decimal):
        return f"{v:.6f}"
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else f"{v} (not a number a bill can hold)"
    return v


def _drift_findings(result: CheckResult, code: str, rollup: str, drift: dict[str, list[dict]]) -> None:
    order = (
        "query_count",
        "input_tokens",
        "output_tokens",
        "storage_writes_bytes",
        "total_cost_usd",
        "event_count",
        "total_quantity",
        "total_cost",
    )
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
            tenant=t,
            differences=diffs[:MAX_EVIDENCE],
            total_differences=len(diffs),
        )
