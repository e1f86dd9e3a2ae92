"""Check 3 in the report: per tenant, per-panel latency (table) and samples against the threshold (SVG)."""

from __future__ import annotations

from html import escape

from billing_readiness.checks.dashboard_latency.verdict import Details, TenantTiming


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


def latency_chart(tenant: TenantTiming, threshold: float) -> str:
    """Per-panel latency samples (dots), p95 (bar end) and the threshold (red line), in seconds."""
    rows = [("whole dashboard (load)", tenant.load_samples, tenant.load.p95)]
    rows += [(p.title, p.samples, p.stats.p95) for p in tenant.panels]
    scale_max = max([threshold * 1.15] + [max(s or [0]) * 1.1 for _, s, _ in rows])
    width, label_w, row_h = 880, 260, 26
    x = lambda v: label_w + (width - label_w - 20) * (v / scale_max)  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(rows) + 34}" '
        'font-family="system-ui,sans-serif" font-size="12">'
    ]
    for i, (title, samples, p95) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="4" y="{y + 14}">{escape(title[:38])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{max(1, x(p95) - label_w):.1f}" height="12" '
            f'fill="{"#f4b4ae" if p95 >= threshold else "#b7e4c7"}"/>'
        )
        for s in samples:
            parts.append(f'<circle cx="{x(s):.1f}" cy="{y + 11}" r="3" fill="#1d2733" fill-opacity="0.6"/>')
        parts.append(f'<text x="{x(p95) + 6:.1f}" y="{y + 15}" fill="#475467">p95 {p95:.3f}s</text>')
    bottom = 10 + len(rows) * row_h
    parts.append(
        f'<line x1="{x(threshold):.1f}" x2="{x(threshold):.1f}" y1="4" y2="{bottom}" stroke="#d92d20" '
        'stroke-width="2" stroke-dasharray="5,3"/>'
    )
    parts.append(f'<text x="{x(threshold) + 4:.1f}" y="{bottom + 16}" fill="#d92d20">threshold {threshold:.3f}s</text>')
    parts.append(f'<text x="{label_w}" y="{bottom + 16}" fill="#667085">0 s</text></svg>')
    return "".join(parts)


def _count(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"  # Grafana does not say what ClickHouse read


def html(d: Details | None) -> str:
    out: list[str] = []
    if d is None:
        return ""
    if d:
        out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in _mode_lines(d)) + "</ul>")
    for t in d.tenants if d else []:
        out.append(
            f"<h3>Tenant {escape(t.tenant)} ({t.events:,} events): load p50 "
            f"{t.load.p50:.3f}s, p95 {t.load.p95:.3f}s, max {t.load.max:.3f}s</h3>"
        )
        out.append(latency_chart(t, d.threshold_s))
        rows = "".join(
            f"<tr><td>{escape(p.title)}</td><td>{p.stats.p50:.4f}</td><td>{p.stats.p95:.4f}</td>"
            f"<td>{p.stats.max:.4f}</td><td>{_count(p.rows_read)}</td><td>{_count(p.bytes_read)}</td>"
            f"<td>{p.result_rows}</td><td>{'<span class=warn>raw table</span>' if p.reads_raw_table else ''}</td></tr>"
            for p in t.panels
        )
        out.append(
            "<table><tr><th>panel</th><th>p50 s</th><th>p95 s</th><th>max s</th><th>rows read</th>"
            f"<th>bytes read</th><th>rows returned</th><th></th></tr>{rows}</table>"
        )
    return "".join(out)
