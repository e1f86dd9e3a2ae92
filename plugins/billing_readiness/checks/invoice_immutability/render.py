"""Check 2 in the report: the invoice differences and where the invoice lines and the baseline are."""
from __future__ import annotations

from html import escape

from billing_readiness.checks.invoice_immutability.verdict import Details


def markdown(d: Details | None) -> list[str]:
    if not d:
        return []
    out = ["", f"Invoice lines for {d.month}: {len(d.invoice_lines)}"
               + (f", `{d.invoice_csv}`" if d.invoice_csv else "") + f" (baseline: {d.baseline})."]
    if d.differences:
        out += ["", "| tenant | month | finding | before | now |", "|---|---|---|---|---|"]
        out += [f"| {x.tenant} | {x.month} | `{x.finding}` | {x.before} | {x.now} |" for x in d.differences[:50]]
    return out


def html(d: Details | None) -> str:
    if not d:
        return ""
    out = []
    if d.differences:
        rows = "".join(
            f"<tr><td>{escape(x.tenant)}</td><td>{escape(x.month)}</td><td><code>{escape(x.finding)}</code></td>"
            f"<td>{escape(x.before)}</td><td>{escape(x.now)}</td></tr>"
            for x in d.differences
        )
        out.append("<h3>Invoice differences</h3><table><tr><th>tenant</th><th>month</th><th>finding</th>"
                   f"<th>before / reference</th><th>now</th></tr>{rows}</table>")
    if d.invoice_lines:
        out.append(f'<p class="muted">{len(d.invoice_lines)} invoice lines for {escape(d.month)}; '
                   f'baseline: {escape(d.baseline)}; CSV: <code>{escape(d.invoice_csv)}</code></p>')
    return "".join(out)
