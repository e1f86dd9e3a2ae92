"""Check 2, immutable cost storage: does a closed month's invoice come out the same, every time?

The invoice for tenant T and month M is the sum of T's stored cost_usd in M (UTC,
half-open), rounded to cents once. It is generated twice from usage_events (two
independent reads) and once from usage_daily; all must agree within the
tolerance. The first run that sees a closed month records its totals as the
baseline (in Airflow's metadata database, by the operator); every later run
must reproduce them, so a cost mutation or a late backfill is caught.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from billing_readiness.checks import CHECKS
from billing_readiness.money import NANOS_SQL, from_float, from_nanos, to_cents
from billing_readiness.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Month, epoch

CHECK_ID = "invoice_immutability"
CSV_COLUMNS = ("tenant_id", "month", "total_queries", "total_tokens", "total_cost_usd", "invoice_date")
MAX_LISTED = 10


def queries(cfg: dict, month: Month) -> dict[str, Query]:
    ev, dl, types = cfg["usage_events"], cfg["usage_daily"], cfg["event_types"]
    params = {
        "month_start": epoch(month.start),
        "month_end": epoch(month.end),
        "query_type": types["query"],
        "input_type": types["token_input"],
        "output_type": types["token_output"],
    }
    if cfg["invoice"]["sql"]:
        raw_sql, raw_name = cfg["invoice"]["sql"], "invoice totals (configured invoice.sql)"
    else:
        raw_name = "invoice totals from usage_events"
        raw_sql = f"""SELECT {ev['tenant_id']} AS t,
       countIf({ev['event_type']} = %(query_type)s) AS total_queries,
       sumIf({ev['quantity']}, {ev['event_type']} IN (%(input_type)s, %(output_type)s)) AS total_tokens,
       sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS cost_nanos
FROM {ev['table']}
WHERE {ev['timestamp']} >= toDateTime(%(month_start)s) AND {ev['timestamp']} < toDateTime(%(month_end)s)
GROUP BY t"""
    day_params = {"first_day": month.start.date().isoformat(), "next_month": month.end.date().isoformat()}
    return {
        "active": active_tenants_query(cfg),
        "raw_a": Query(raw_name + ", read 1", raw_sql, params),
        # A second, independent read: single-threaded, so a different summation order.
        "raw_b": Query(raw_name + ", read 2 (max_threads=1)", raw_sql, params, {"max_threads": 1}),
        "rollup": Query(
            "invoice totals from usage_daily (summed)",
            f"""SELECT {dl['tenant_id']} AS t, sum({dl['query_count']}) AS total_queries,
       sum({dl['input_tokens']}) + sum({dl['output_tokens']}) AS total_tokens,
       sum({dl['total_cost_usd']}) AS total_cost_usd
FROM {dl['table']}
WHERE {dl['day']} >= toDate(%(first_day)s) AND {dl['day']} < toDate(%(next_month)s)
GROUP BY t""",
            day_params,
        ),
    }


def _totals(rows: list[tuple], cost_is_nanos: bool = True) -> dict[str, tuple[int, int, Decimal]]:
    out = {}
    for t, queries_, tokens, cost in rows:
        out[t] = (int(queries_), int(round(float(tokens))), from_nanos(cost) if cost_is_nanos else from_float(cost))
    return out


def invoice_lines(active: list[str], totals: dict[str, tuple[int, int, Decimal]], month: Month) -> list[dict]:
    """One line per active tenant; a tenant with no usage gets a $0.00 line."""
    lines = []
    for t in active:
        q, tok, cost = totals.get(t, (0, 0, Decimal(0)))
        lines.append(
            {
                "tenant_id": t,
                "month": str(month),
                "total_queries": q,
                "total_tokens": tok,
                "total_cost_usd": f"{to_cents(cost):.2f}",
                "invoice_date": month.last_day.isoformat(),
                "exact_cost_usd": f"{cost:.9f}",
            }
        )
    return lines


def invoice_csv(lines: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow([line[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def baseline_from(lines: list[dict]) -> dict[str, dict[str, Any]]:
    return {
        ln["tenant_id"]: {k: ln[k] for k in ("total_queries", "total_tokens", "exact_cost_usd", "total_cost_usd")}
        for ln in lines
    }


def _compare(result, code, label_a, a, label_b, b, tol, month, why) -> None:
    for t in sorted(set(a) | set(b)):
        qa, ta, ca = a.get(t, (0, 0, Decimal(0)))
        qb, tb, cb = b.get(t, (0, 0, Decimal(0)))
        if qa != qb or ta != tb or abs(ca - cb) > tol:
            result.add(
                FAIL,
                code,
                f"Tenant '{t}', {month}: {label_a} gives ${ca:.6f} ({qa} queries, {ta} tokens) but "
                f"{label_b} gives ${cb:.6f} ({qb} queries, {tb} tokens); difference ${abs(ca - cb):.6f}, "
                f"tolerance ${tol}. {why}",
                tenant=t,
                month=str(month),
                expected={"source": label_a, "cost_usd": f"{ca:.6f}", "queries": qa, "tokens": ta},
                found={"source": label_b, "cost_usd": f"{cb:.6f}", "queries": qb, "tokens": tb},
            )


def evaluate(
    rows: dict[str, list[tuple]],
    month: Month,
    tolerance_usd: Decimal = Decimal("0.01"),
    baseline: dict | None = None,
) -> CheckResult:
    """The verdict; `baseline` is what an earlier run recorded for `month` (None: first time seen)."""
    title, impact = CHECKS[CHECK_ID]
    result = CheckResult(CHECK_ID, title)
    result.details["impact"] = impact
    active = sorted({r[0] for r in rows["active"]})
    a, b = _totals(rows["raw_a"]), _totals(rows["raw_b"])
    rollup = _totals(rows["rollup"], cost_is_nanos=False)
    lines = invoice_lines(active, a, month)
    billed = sum((a[t][2] for t in active if t in a), Decimal(0))
    result.metrics.update(
        month=str(month),
        active_tenants=len(active),
        tenants_with_usage=sum(1 for t in active if t in a),
        zero_usage_tenants=sum(1 for t in active if t not in a),
        total_billed_usd=f"{to_cents(billed):.2f}",
        tolerance_usd=str(tolerance_usd),
    )
    result.details["invoice_lines"] = lines
    if not active:
        result.add(FAIL, "no_active_tenants", "No active tenants: there is no invoice to regenerate.")
        return result
    if not a:
        result.add(
            FAIL,
            "no_usage_in_month",
            f"No usage rows at all in {month} ({month.start:%Y-%m-%d} .. {month.last_day} UTC): "
            "nothing to regenerate, so immutability cannot be shown.",
            month=str(month),
        )
        return result
    for t in active:
        if t not in a:
            result.add(INFO, "zero_usage_tenant", f"Tenant '{t}' has no usage in {month}: $0.00 invoice line.",
                       tenant=t, month=str(month))
    for t in sorted(set(a) - set(active)):
        result.add(
            WARN,
            "usage_not_invoiced",
            f"Tenant '{t}' has ${a[t][2]:.2f} of usage in {month} but is not an active tenant: it is on no invoice.",
            tenant=t,
            month=str(month),
            cost_usd=f"{a[t][2]:.2f}",
        )

    _compare(result, "invoice_not_reproducible", "read 1", a, "read 2", b, tolerance_usd, month,
             "Two reads of the same closed month disagree: stored costs are not stable.")
    _compare(result, "invoice_rollup_mismatch", "usage_events", a, "usage_daily", rollup, tolerance_usd, month,
             "The rollup would bill a different amount than the raw events.")

    if baseline is None:
        if result.passed:
            result.details["baseline_status"] = "recorded"
            result.add(
                INFO,
                "baseline_recorded",
                f"First run to see {month}: its totals are recorded as the baseline; "
                "later runs must reproduce them within the tolerance.",
                month=str(month),
            )
        else:
            result.details["baseline_status"] = "not recorded (this run failed)"
    else:
        result.details["baseline_status"] = f"compared with the baseline recorded {baseline.get('recorded_at', '?')}"
        _against_baseline(result, baseline, a, active, month, tolerance_usd)
    if result.passed:
        result.add(INFO, "ok", f"{month}: {len(active)} invoice lines, ${to_cents(billed):.2f} in all, reproducible.")
    return result


def _against_baseline(result, baseline: dict, now: dict, active: list[str], month: Month, tol: Decimal) -> None:
    old_lines = baseline.get("lines", {})
    recorded = baseline.get("recorded_at", "an earlier run")
    for t in sorted(set(old_lines) | set(active)):
        old = old_lines.get(t)
        q, tok, cost = now.get(t, (0, 0, Decimal(0)))
        if old is None:
            # A tenant that was not active when the baseline was taken: only its usage in a closed month is news.
            if q or tok or cost:
                result.add(
                    FAIL,
                    "closed_month_changed",
                    f"Tenant '{t}', {month}: no invoice line when the baseline was recorded ({recorded}), "
                    f"now ${cost:.2f} ({q} queries, {tok} tokens): usage was backfilled into a closed month.",
                    tenant=t, month=str(month), old_total="0.00", new_total=f"{cost:.2f}",
                )
            continue
        old_cost = Decimal(old["exact_cost_usd"])
        if old["total_queries"] != q or old["total_tokens"] != tok or abs(old_cost - cost) > tol:
            result.add(
                FAIL,
                "closed_month_changed",
                f"Tenant '{t}', {month}: total was ${to_cents(old_cost):.2f} ({old['total_queries']} queries, "
                f"{old['total_tokens']} tokens) when first seen ({recorded}), now ${to_cents(cost):.2f} "
                f"({q} queries, {tok} tokens): stored costs of a closed month changed "
                "(cost mutation or late backfill).",
                tenant=t,
                month=str(month),
                old_total=f"{to_cents(old_cost):.2f}",
                new_total=f"{to_cents(cost):.2f}",
                old_queries=old["total_queries"],
                new_queries=q,
                old_tokens=old["total_tokens"],
                new_tokens=tok,
            )
