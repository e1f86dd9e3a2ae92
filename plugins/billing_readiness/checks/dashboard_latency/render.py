"""Check 3 in the report: per tenant, per-panel latency (table) and samples against the threshold (SVG)."""

from __future__ import annotations

from billing_readiness.checks.dashboard_latency.verdict import Details, TenantTiming
from billing_readiness.core.html import render, safe


def _mode_lines(d: Details) -> list[str]:
    lines = [f"Mode: {d.measures or d.mode}."]
    if d.time_range:
        lines.append(f"Time range: {d.time_range}.")
    lines += [f"Not timed: panel '{s['panel']}': {s['reason']}." for s in d.skipped]
    return lines


def markdown(d: Details | None) -> list[str]:
    out: list[str] = []
    if d:
        out += ["", *(f"- {line}" for line in _mode_lines(d))]
    for t in d.tenants if d else []:
        out += [
            "",
            f"Tenant `{t.tenant}` ({t.events:,} events): load p50 {t.load.p50}s, p95 {t.load.p95}s, "
            f"max {t.load.max}s over {t.load.n} loads",
            "",
            "| panel | p50 s | p95 s | max s | rows read | bytes read | raw table |",
            "|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {p.title.replace('|', '/')} | {p.stats.p50} | {p.stats.p95} | {p.stats.max} | "
            f"{'' if p.rows_read is None else p.rows_read} | "
            f"{'' if p.bytes_read is None else p.bytes_read} | {'yes' if p.reads_raw_table else ''} |"
            for p in t.panels
        ]
    return out


_CHART = """\
<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}"
 font-family="system-ui,sans-serif" font-size="12">
{% for r in rows %}
<text x="4" y="{{ r.y + 14 }}">{{ r.title[:38] }}</text>
<rect x="{{ label_w }}" y="{{ r.y + 5 }}" width="{{ "%.1f"|format(r.bar) }}" height="12" fill="{{ r.fill }}"/>
{% for cx in r.dots %}
<circle cx="{{ "%.1f"|format(cx) }}" cy="{{ r.y + 11 }}" r="3" fill="#1d2733" fill-opacity="0.6"/>
{% endfor %}
<text x="{{ "%.1f"|format(r.p95_x + 6) }}" y="{{ r.y + 15 }}" fill="#475467">
p95 {{ "%.3f"|format(r.p95) }}s</text>
{% endfor %}
<line x1="{{ "%.1f"|format(tx) }}" x2="{{ "%.1f"|format(tx) }}" y1="4" y2="{{ bottom }}" stroke="#d92d20"
 stroke-width="2" stroke-dasharray="5,3"/>
<text x="{{ "%.1f"|format(tx + 4) }}" y="{{ bottom + 16 }}" fill="#d92d20">
threshold {{ "%.3f"|format(threshold) }}s</text>
<text x="{{ label_w }}" y="{{ bottom + 16 }}" fill="#667085">0 s</text></svg>"""


def latency_chart(tenant: TenantTiming, threshold: float) -> str:
    """Per-panel latency samples (dots), p95 (bar end) and the threshold (red line), in seconds."""
    series = [("whole dashboard (load)", tenant.load_samples, tenant.load.p95)]
    series += [(p.title, p.samples, p.stats.p95) for p in tenant.panels]
    scale_max = max([threshold * 1.15] + [max(s or [0]) * 1.1 for _, s, _ in series])
    width, label_w, row_h = 880, 260, 26

    def x(v: float) -> float:
        return label_w + (width - label_w - 20) * (v / scale_max)

    rows = [
        {
            "y": 10 + i * row_h,
            "title": title,
            "bar": max(1, x(p95) - label_w),
            "fill": "#f4b4ae" if p95 >= threshold else "#b7e4c7",
            "dots": [x(s) for s in samples],
            "p95": p95,
            "p95_x": x(p95),
        }
        for i, (title, samples, p95) in enumerate(series)
    ]
    bottom = 10 + len(rows) * row_h
    return render(
        _CHART,
        rows=rows,
        width=width,
        height=row_h * len(rows) + 34,
        label_w=label_w,
        bottom=bottom,
        tx=x(threshold),
        threshold=threshold,
    )


def _count(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"  # Grafana does not say what ClickHouse read


_HTML = """\
<ul>{% for line in mode_lines %}<li>{{ line }}</li>{% endfor %}</ul>
{% for t, chart in tenants %}
<h3>Tenant {{ t.tenant }} ({{ "{:,}".format(t.events) }} events): load p50 {{ "%.3f"|format(t.load.p50) }}s,
p95 {{ "%.3f"|format(t.load.p95) }}s, max {{ "%.3f"|format(t.load.max) }}s</h3>
{{ chart }}
<table><tr><th>panel</th><th>p50 s</th><th>p95 s</th><th>max s</th><th>rows read</th><th>bytes read</th>
<th>rows returned</th><th></th></tr>
{% for p in t.panels %}
<tr><td>{{ p.title }}</td><td>{{ "%.4f"|format(p.stats.p50) }}</td><td>{{ "%.4f"|format(p.stats.p95) }}</td>
<td>{{ "%.4f"|format(p.stats.max) }}</td><td>{{ count(p.rows_read) }}</td><td>{{ count(p.bytes_read) }}</td>
<td>{{ p.result_rows }}</td><td>{% if p.reads_raw_table %}<span class=warn>raw table</span>{% endif %}</td></tr>
{% endfor %}
</table>
{% endfor %}
"""


def html(d: Details | None) -> str:
    if d is None:
        return ""
    tenants = [(t, safe(latency_chart(t, d.threshold_s))) for t in d.tenants]
    return render(_HTML, mode_lines=_mode_lines(d), tenants=tenants, count=_count)
