"""Check 2 in the report: late arrivals, mutations, invoice differences, and where the lines and baseline are."""

from __future__ import annotations

from billing_readiness.checks.invoice_immutability.verdict import Details
from billing_readiness.core.html import render

HTML_ROWS = 200  # rows of each table in the HTML report; all of them are in readiness.json


def _sections(d: Details) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table this check shows."""
    return [
        (
            "Rows ingested after the month closed",
            ["tenant", "rows", "cost USD", "first ingested", "last ingested"],
            [[x.tenant, f"{x.rows:,}", x.cost_usd, x.first_ingested, x.last_ingested] for x in d.late_arrivals],
        ),
        (
            "Mutations of the billing tables",
            ["table", "mutation", "created", "command", "accepted"],
            [[m.table, m.mutation_id, m.created, m.command, "yes" if m.accepted else "no"] for m in d.mutations],
        ),
        (
            "Invoice differences",
            ["tenant", "month", "finding", "before / reference", "now"],
            [[x.tenant, x.month, x.finding, x.before, x.now] for x in d.differences],
        ),
    ]


def markdown(d: Details | None) -> list[str]:
    if not d:
        return []
    out = [
        "",
        f"Invoice lines for {d.month}: {len(d.invoice_lines)}"
        + (f", `{d.invoice_csv}`" if d.invoice_csv else "")
        + f" (baseline: {d.baseline}).",
    ]
    for title, headers, rows in _sections(d):
        if rows:
            out += ["", f"{title}:", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            out += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows[:50]]
            out += (
                [f"| ... and {len(rows) - 50:,} more in readiness.json |" + " |" * (len(headers) - 1)]
                if len(rows) > 50
                else []
            )
    return out


_HTML = """\
{% for title, headers, rows in sections if rows %}
<h3>{{ title }}</h3><table><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows[:limit] %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>
{% if rows|length > limit %}
<p class="muted">... and {{ "{:,}".format(rows|length - limit) }} more rows in readiness.json</p>
{% endif %}
{% endfor %}
{% if d.invoice_lines %}
<p class="muted">{{ d.invoice_lines|length }} invoice lines for {{ d.month }}; baseline: {{ d.baseline }};
CSV: <code>{{ d.invoice_csv }}</code></p>
{% endif %}
"""


def html(d: Details | None) -> str:
    if not d:
        return ""
    return render(_HTML, sections=_sections(d), d=d, limit=HTML_ROWS)
