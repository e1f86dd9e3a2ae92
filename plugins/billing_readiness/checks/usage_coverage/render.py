"""Check 1 in the report: the tenant x day coverage heat map (HTML) and the tenants with gaps (Markdown)."""
from __future__ import annotations

import math
from html import escape

from billing_readiness.checks.usage_coverage.verdict import Coverage, Details


def markdown(details: Details | None) -> list[str]:
    cov = details.coverage if details else None
    if not cov:
        return []
    gaps = {t: sum(1 for d, n in zip(cov.days, counts) if n == 0 and d >= cov.first_usage.get(t, ""))
            for t, counts in cov.tenants.items()}
    gaps = {t: n for t, n in gaps.items() if n}
    out = ["", f"Coverage: {len(cov.tenants)} tenant(s) x {len(cov.days)} complete UTC days "
               f"({cov.days[0]} .. {cov.days[-1]}); {len(gaps)} with days without usage, "
               f"{len(cov.partial)} with partial-loss days, {len(cov.first_usage)} first used inside the window."]
    if gaps or cov.partial:
        out += ["", "| tenant | days without usage | partial-loss days | first usage |", "|---|---|---|---|"]
        for t in sorted(set(gaps) | set(cov.partial)):
            out.append(f"| {t} | {gaps.get(t, 0)} | {', '.join(cov.partial.get(t, []))} | {cov.first_usage.get(t, '')} |")
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


def heat_map(cov: Coverage) -> str:
    """Tenant x day coverage: red cells are days without usage."""
    days, tenants = cov.days, cov.tenants
    if not days or not tenants:
        return '<p class="muted">No coverage data.</p>'
    top = max((max(v) for v in tenants.values() if v), default=1) or 1
    head = "".join(f'<th title="{escape(d)}">{escape(d[8:10]) if i % 2 == 0 else ""}</th>' for i, d in enumerate(days))
    body = []
    for tenant, counts in sorted(tenants.items(), key=lambda kv: (min(kv[1] or [0]) > 0, kv[0])):
        first, partial = cov.first_usage.get(tenant, ""), set(cov.partial.get(tenant, []))
        cells = "".join(
            f'<td style="background:{_heat_color(n, top, d < first, d in partial)}" '
            f'title="{escape(tenant)} {escape(d)}: {n} events"></td>'
            for d, n in zip(days, counts)
        )
        body.append(f"<tr><th>{escape(tenant)}</th>{cells}</tr>")
    return (
        f'<p class="muted">{len(tenants)} tenants x {len(days)} complete UTC days ({escape(days[0])} .. {escape(days[-1])}); '
        "red: no usage that day; orange: partial loss; grey: before the tenant's first usage; "
        "darker green: more events.</p>"
        f'<table class="heat"><tr><th></th>{head}</tr>{"".join(body)}</table>'
    )


def html(details: Details | None) -> str:
    if not details or not details.coverage:
        return ""
    return "<h3>Tenant x day coverage</h3>" + heat_map(details.coverage)
