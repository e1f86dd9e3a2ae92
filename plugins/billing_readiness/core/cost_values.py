"""Cost values a bill can be made of: events whose cost_usd or quantity is NaN, infinite or negative.

Checked before any arithmetic, by checks 1 (the window) and 2 (the closed month) with the same query: a
non-finite value fails (no sum containing it means anything, and no message shows a figure computed from it);
a negative cost or quantity (a refund recorded as usage?) is a warning, or a failure with config
`cost_values.negative` = "fail". The money sums elsewhere count a non-finite cost as 0 (money.NANOS_SQL).
"""

from __future__ import annotations

from typing import Any

from billing_readiness.core.money import NANOS_SQL, from_nanos
from billing_readiness.core.results import FAIL, WARN, CheckResult
from billing_readiness.core.sql import Query

FIRST_IDS = 5  # event ids shown per kind
COUNT_COLUMNS = ("non_finite", "negative_cost", "negative_quantity")  # what a check's own scan counts
COLUMNS = (
    "t",
    "non_finite",
    "negative_cost",
    "negative_nanos",
    "negative_quantity",
    "non_finite_days",
    "negative_days",
    "non_finite_ids",
    "negative_cost_ids",
    "negative_quantity_ids",
)


def counts_sql(cost: str, quantity: str) -> str:
    """The COUNT_COLUMNS as aggregates, for a scan that reads cost and quantity anyway: only when one of them is
    not zero does the check ask `query()` for the days and ids, of those tenants only."""
    return (
        f"countIf(NOT isFinite({cost}) OR NOT isFinite({quantity})) AS non_finite, "
        f"countIf(isFinite({cost}) AND {cost} < 0) AS negative_cost, "
        f"countIf(isFinite({quantity}) AND {quantity} < 0) AS negative_quantity"
    )


def flagged(rows: list[dict[str, Any]], tenant_column: str) -> list[str]:
    """Tenants whose counts (COUNT_COLUMNS) say they have such events."""
    return sorted({r[tenant_column] for r in rows if any(int(r.get(c) or 0) for c in COUNT_COLUMNS)})


def query(cfg: dict, start: int, end: int, where: str, tenants: list[str] | None = None, zone: str = "UTC") -> Query:
    """Per tenant with such events in [start, end) (epoch seconds): counts, the negative total, days, first ids;
    only for `tenants` when given (the primary key starts with the tenant: only their rows are read). The filter
    on the two value columns lets ClickHouse read event ids only where such a row is."""
    ev = cfg["usage_events"]
    ts, c, q = ev["timestamp"], ev["cost_usd"], ev["quantity"]
    bad = "NOT isFinite(_c) OR NOT isFinite(_q)"
    neg = "(isFinite(_c) AND _c < 0) OR (isFinite(_q) AND _q < 0)"

    tenant_filter = f" AND {ev['tenant_id']} IN %(values_tenants)s" if tenants else ""

    def first(cond: str) -> str:
        return f"arraySlice(arraySort(groupArrayIf(1000)(_id, {cond})), 1, {FIRST_IDS})"

    return Query(
        f"events with a non-finite or negative cost_usd or quantity, per tenant ({where})",
        f"""SELECT t, countIf({bad}) AS non_finite, countIf(isFinite(_c) AND _c < 0) AS negative_cost,
       sumIf({NANOS_SQL.format(col="_c")}, _c < 0) AS negative_nanos, countIf(isFinite(_q) AND _q < 0) AS
           negative_quantity,
       arraySort(groupUniqArrayIf(toString(toDate(_ts, %(zone)s)), {bad})) AS non_finite_days,
       arraySort(groupUniqArrayIf(toString(toDate(_ts, %(zone)s)), {neg})) AS negative_days,
       {first(bad)} AS non_finite_ids, {first("isFinite(_c) AND _c < 0")} AS negative_cost_ids,
       {first("isFinite(_q) AND _q < 0")} AS negative_quantity_ids
FROM
(
    SELECT {ev["tenant_id"]} AS t, {ev["event_id"]} AS _id, {c} AS _c, {q} AS _q, {ts} AS _ts
    FROM {ev["table"]}
    WHERE {ts} >= toDateTime(%(values_start)s) AND {ts} < toDateTime(%(values_end)s){tenant_filter}
      AND (NOT isFinite({c}) OR NOT isFinite({q}) OR {c} < 0 OR {q} < 0)
)
GROUP BY t
ORDER BY t""",
        {
            "values_start": int(start),
            "values_end": int(end),
            "zone": zone,
            **({"values_tenants": tuple(sorted(tenants))} if tenants else {}),
        },
        columns=COLUMNS,
    )


def non_finite_days(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Per tenant, the days (ISO, of the query's zone) holding a non-finite value: no reconciliation figure of theirs
    is shown."""
    return {r["t"]: {str(d) for d in r["non_finite_days"]} for r in rows if int(r["non_finite"])}


def _days(days: list) -> str:
    days = [str(d) for d in days]
    return ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")


def add_findings(result: CheckResult, rows: list[dict[str, Any]], where: str, negative: str = "warn") -> None:
    """The findings for the rows of `query()`; `where` names the span ("the lookback window", "2026-11")."""
    neg_severity = FAIL if negative == "fail" else WARN
    for r in rows:
        t = r["t"]
        if int(r["non_finite"]):
            n = int(r["non_finite"])
            result.add(
                FAIL,
                "non_finite_values",
                f"Tenant '{t}' has {n:,} event(s) with a NaN or infinite cost_usd or quantity in {where} "
                f"(on {_days(r['non_finite_days'])}; first event ids: {', '.join(r['non_finite_ids'])}): no invoice "
                "can be computed from them. They are left out of every figure in this report.",
                tenant=t,
                events=n,
                days=list(map(str, r["non_finite_days"])),
                first_event_ids=list(r["non_finite_ids"]),
            )
        if int(r["negative_cost"]):
            n, total = int(r["negative_cost"]), from_nanos(int(r["negative_nanos"]))
            result.add(
                neg_severity,
                "negative_costs",
                f"Tenant '{t}' has {n:,} event(s) with a negative cost_usd in {where}, totalling "
                f"-${abs(total):,.2f} (first event ids: {', '.join(r['negative_cost_ids'])}): refunds recorded as "
                "usage would be subtracted from the invoice.",
                tenant=t,
                events=n,
                total_usd=f"{total:.2f}",
                days=list(map(str, r["negative_days"])),
                first_event_ids=list(r["negative_cost_ids"]),
            )
        if int(r["negative_quantity"]):
            n = int(r["negative_quantity"])
            result.add(
                neg_severity,
                "negative_quantities",
                f"Tenant '{t}' has {n:,} event(s) with a negative quantity in {where} (first event ids: "
                f"{', '.join(r['negative_quantity_ids'])}): usage counts and token totals on the invoice would shrink.",
                tenant=t,
                events=n,
                days=list(map(str, r["negative_days"])),
                first_event_ids=list(r["negative_quantity_ids"]),
            )
    result.metrics["events_with_non_finite_values"] = sum(int(r["non_finite"]) for r in rows)
    result.metrics["events_with_negative_cost"] = sum(int(r["negative_cost"]) for r in rows)
