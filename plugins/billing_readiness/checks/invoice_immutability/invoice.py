"""The invoice as the billing run would produce it from the month's totals: one line per active tenant (a
tenant without usage gets a $0.00 line), cost rounded to cents once at the end; its CSV and the baseline's
form of it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_readiness.core.money import from_float, from_nanos, to_cents
from billing_readiness.core.timewindow import Month

CSV_COLUMNS = ("tenant_id", "month", "total_queries", "total_tokens", "total_cost_usd", "invoice_date")
Totals = dict[str, tuple[int, int, Decimal]]  # tenant -> (queries, tokens, cost)


@dataclass
class InvoiceLine:
    tenant_id: str
    month: str
    total_queries: int
    total_tokens: int
    total_cost_usd: str  # rounded to cents once, at the end
    invoice_date: str
    exact_cost_usd: str  # before rounding, for the baseline


def totals(rows: list[dict[str, Any]], cost_column: str = "cost_nanos") -> Totals:
    to_money = from_nanos if cost_column == "cost_nanos" else from_float
    return {
        r["tenant_id"]: (int(r["total_queries"]), round(float(r["total_tokens"])), to_money(r[cost_column]))
        for r in rows
    }


def invoice_lines(active: list[str], billed: Totals, month: Month) -> list[InvoiceLine]:
    """One line per active tenant; a tenant with no usage gets a $0.00 line."""
    lines, name, invoice_date, zero = [], str(month), month.last_day.isoformat(), (0, 0, Decimal(0))
    for t in active:
        q, tok, cost = billed.get(t, zero)
        lines.append(InvoiceLine(t, name, q, tok, f"{to_cents(cost):.2f}", invoice_date, f"{cost:.9f}"))
    return lines


def invoice_csv(lines: list[InvoiceLine]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow([getattr(line, c) for c in CSV_COLUMNS])
    return buf.getvalue()


def baseline_lines(lines: list[InvoiceLine]) -> dict[str, dict[str, Any]]:
    return {
        ln.tenant_id: {
            "total_queries": ln.total_queries,
            "total_tokens": ln.total_tokens,
            "exact_cost_usd": ln.exact_cost_usd,
            "total_cost_usd": ln.total_cost_usd,
        }
        for ln in lines
    }
