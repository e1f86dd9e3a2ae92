"""Check 1 in the report: the tenant x day coverage heat map (HTML), the tenants with gaps (Markdown) and the
full matrix as a CSV beside the report.

At 10,000 tenants a heat map of everyone is a 30 MB page nobody can read: the map shows the tenants with
findings (most days without usage first, at most HEAT_MAP_FLAGGED) and the HEAT_MAP_TOP largest by volume,
and says where the rest is (the CSV)."""

from __future__ import annotations

import csv
import io
import math

from billing_readiness.checks.usage_coverage.verdict import Coverage, Details
from billing_readiness.core.html import render

HEAT_MAP_FLAGGED = 200  # tenants with findings shown in the heat map (the most days without usage first)
HEAT_MAP_TOP = 25  # the largest tenants by events, shown beside them
MARKDOWN_ROWS = 200  # rows of the Markdown table of tenants with gaps


def gap_days(cov: Coverage) -> dict[str, int]:
    """Tenants with complete days without usage since their first usage, and how many."""
    from billing_readiness.checks.usage_coverage.gaps import missing_days  # the one home of the rule

    gaps = {t: len(missing_days(cov.days, counts, cov.first_usage.get(t))) for t, counts in cov.tenants.items()}
    return {t: n for t, n in gaps.items() if n}


def shown_tenants(cov: Coverage, flagged: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The heat map's rows: tenants with gaps, partial-loss days or other findings (`flagged`), the most gap days
    first, at most HEAT_MAP_FLAGGED; then the HEAT_MAP_TOP largest tenants not already shown."""
    gaps = gap_days(cov)
    marked = sorted(
        (set(gaps) | set(cov.partial) | set(flagged)) & set(cov.tenants),
        key=lambda t: (-gaps.get(t, 0), -len(cov.partial.get(t, [])), t),
    )[:HEAT_MAP_FLAGGED]
    rest = sorted(set(cov.tenants) - set(marked), key=lambda t: (-sum(cov.tenants[t]), t))[:HEAT_MAP_TOP]
    return marked + rest


def coverage_csv(cov: Coverage) -> str:
    """The whole tenant x day matrix: one row per active tenant, one column per complete day, then today so far."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "tenant_id",
            "first_usage_in_window",
            "days_without_usage",
            "partial_loss_days",
            *cov.days,
            f"{cov.today} (so far)",
        ]
    )
    gaps = gap_days(cov)
    for t in sorted(cov.tenants):
        w.writerow(
            [
                t,
                cov.first_usage.get(t, ""),
                gaps.get(t, 0),
                " ".join(cov.partial.get(t, [])),
                *cov.tenants[t],
                cov.today_counts.get(t, 0),
            ]
        )
    return out.getvalue()


def markdown(details: Details | None) -> list[str]:
    cov = details.coverage if details else None
    if not cov or details is None:
        return []
    gaps = gap_days(cov)
    out = [
        "",
        f"Coverage: {len(cov.tenants)} tenant(s) x {len(cov.days)} complete days of {cov.timezone} "
        f"({cov.days[0]} .. {cov.days[-1]}); {len(gaps)} with days without usage, "
        f"{len(cov.partial)} with partial-loss days, {len(cov.first_usage)} first used inside the window"
        + (f"; every tenant and day: `{details.coverage_csv}`." if details.coverage_csv else "."),
    ]
    listed = sorted(set(gaps) | set(cov.partial), key=lambda t: (-gaps.get(t, 0), t))
    if listed:
        out += ["", "| tenant | days without usage | partial-loss days | first usage |", "|---|---|---|---|"]
        for t in listed[:MARKDOWN_ROWS]:
            out.append(
                f"| {t} | {gaps.get(t, 0)} | {', '.join(cov.partial.get(t, []))} | {cov.first_usage.get(t, '')} |"
            )
        if len(listed) > MARKDOWN_ROWS:
            out += [
                "",
                f"... and {len(listed) - MARKDOWN_ROWS:,} more tenants with gaps"
                + (f" (`{details.coverage_csv}`)." if details.coverage_csv else "."),
            ]
    return out


def _heat_color(n: int, top: int, before_first: bool = False, partial: bool = False) -> str:
    if before_first:
        return "#d0d5dd"
    if n == 0:
        return "#d92d20"
    if partial:
        return "#f79009"
    share = math.log1p(n) / math.log1p(top) if top else 0  # log scale: small tenants stay visible
    light = int(90 - 55 * min(1.0, share))
    return f"hsl(145,55%,{light}%)"


_HEAT_MAP = """\
{% if not rows %}
<p class="muted">No coverage data.</p>
{% else %}
<p class="muted">{{ scope }} x {{ days|length }} complete days of {{ timezone }} ({{ days[0] }} .. {{ days[-1] }})
{%- if csv_name %}; every tenant and day: <code>{{ csv_name }}</code>{% endif %}.
Red: no usage that day; orange: partial loss; grey: before the tenant's first usage; darker green: more events.</p>
<table class="heat"><tr><th></th>
{%- for d in days %}<th title="{{ d }}">{{ d[8:10] if loop.index0 % 2 == 0 }}</th>{% endfor %}</tr>
{% for tenant, cells in rows %}
<tr><th>{{ tenant }}</th>
{%- for color, d, n in cells %}<td style="background:{{ color }}" title="{{ tenant }} {{ d }}: {{ n }} events"></td>
{%- endfor %}</tr>
{% endfor %}
</table>
{% endif %}
"""


def heat_map(cov: Coverage, flagged: set[str] | frozenset[str] = frozenset(), csv_name: str = "") -> str:
    """Tenant x day coverage: red cells are days without usage."""
    days, tenants = cov.days, cov.tenants
    if not days or not tenants:
        return render(_HEAT_MAP, rows=[])
    shown = shown_tenants(cov, flagged)
    top = max((max(tenants[t]) for t in shown if tenants[t]), default=1) or 1
    rows = []
    for tenant in shown:
        first, partial = cov.first_usage.get(tenant, ""), set(cov.partial.get(tenant, []))
        cells = [(_heat_color(n, top, d < first, d in partial), d, n) for d, n in zip(days, tenants[tenant])]
        rows.append((tenant, cells))
    scope = (
        f"all {len(tenants)} tenants"
        if len(shown) == len(tenants)
        else f"{len(shown):,} of {len(tenants):,} tenants: those with findings (most days without usage first, "
        f"at most {HEAT_MAP_FLAGGED}) and the {HEAT_MAP_TOP} largest by events"
    )
    return render(_HEAT_MAP, rows=rows, scope=scope, days=days, timezone=cov.timezone, csv_name=csv_name)


def html(details: Details | None, flagged: set[str] | frozenset[str] = frozenset()) -> str:
    if not details or not details.coverage:
        return ""
    return "<h3>Tenant x day coverage</h3>" + heat_map(details.coverage, flagged, details.coverage_csv)
