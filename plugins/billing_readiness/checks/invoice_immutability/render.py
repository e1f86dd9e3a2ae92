"""Check 2 in the report: the invoice differences and where the invoice lines and the baseline are."""
from __future__ import annotations

from html import escape

from billing_readiness.checks.invoice_immutability.verdict import Details


def markdown(d: Details | None) -> list[str]:
    if not d:
        return []
    out = ["", f"Invoice lines for {d.month}: {len(d.invoice_lines)}"
               + (f", `{d.invoice_csv}`" if d.invoice_csv else "") + f" (baseline: {d.baseline})."]
    if d.late_arrivals:
        out += ["", "| tenant | late rows | cost USD | first ingested | last ingested |", "|---|---|---|---|---|"]
        out += [f"| {x.tenant} | {x.rows} | {x.cost_usd} | {x.first_ingested} | {x.last_ingested} |"
                for x in d.late_arrivals]
    if d.mutations:
        out += ["", "| table | mutation | created | command | accepted |", "|---|---|---|---|---|"]
        out += [f"| {m.table} | {m.mutation_id} | {m.created} | `{m.command.replace('|', '/')}` | "
                f"{'yes' if m.accepted else 'no'} |" for m in d.mutations]
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
    if d.late_arrivals:
        rows = "".join(f"<tr><td>{escape(x.tenant)}</td><td>{x.rows:,}</td><td>{escape(x.cost_usd)}</td>"
                       f"<td>{escape(x.first_ingested)}</td><td>{escape(x.last_ingested)}</td></tr>"
                       for x in d.late_arrivals)
        out.append("<h3>Rows ingested after the month closed</h3><table><tr><th>tenant</th><th>rows</th>"
                   f"<th>cost USD</th><th>first ingested</th><th>last ingested</th></tr>{rows}</table>")
    if d.mutations:
        rows = "".join(f"<tr><td>{escape(m.table)}</td><td>{escape(m.mutation_id)}</td><td>{escape(m.created)}</td>"
                       f"<td><code>{escape(m.command)}</code></td><td>{'accepted' if m.accepted else 'no'}</td></tr>"
                       for m in d.mutations)
        out.append("<h3>Mutations of the billing tables</h3><table><tr><th>table</th><th>mutation</th>"
                   f"<th>created</th><th>command</th><th>accepted</th></tr>{rows}</table>")
    if d.invoice_lines:
        out.append(f'<p class="muted">{len(d.invoice_lines)} invoice lines for {escape(d.month)}; '
                   f'baseline: {escape(d.baseline)}; CSV: <code>{escape(d.invoice_csv)}</code></p>')
    return "".join(out)
