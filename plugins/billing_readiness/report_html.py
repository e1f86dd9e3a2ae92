"""The readiness report as one self-contained HTML page (inline CSS and SVG, no scripts, no network)."""
from __future__ import annotations

import math
from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1d2733;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.verdict{padding:12px 16px;border-radius:8px;font-weight:600;margin:12px 0}
.ready{background:#e3f6e8;color:#135c2a} .notready{background:#fde8e8;color:#8a1c1c}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px} th,td{border:1px solid #dde3ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f6f9} .pass{color:#135c2a;font-weight:600} .fail{color:#b42318;font-weight:600} .warn{color:#9a6700;font-weight:600}
.info{color:#475467} .muted{color:#667085;font-size:12px} code{font-size:12px;background:#f3f6f9;padding:1px 4px;border-radius:3px}
.heat td{width:14px;height:14px;padding:0;border:1px solid #fff} .heat th{font-weight:normal;font-size:11px;padding:0 6px 0 0;border:0;background:none;white-space:nowrap}
pre{background:#f3f6f9;padding:8px;font-size:12px;overflow-x:auto} details{margin:8px 0}
.cards{display:flex;gap:10px;flex-wrap:wrap} .card{border:1px solid #dde3ea;border-radius:8px;padding:8px 12px;min-width:230px}
"""


def _badge(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _findings(check: dict) -> str:
    rows = "".join(
        f'<tr><td class="{escape(f["severity"])}">{escape(f["severity"].upper())}</td><td><code>{escape(f["code"])}</code></td>'
        f"<td>{escape(f['message'])}</td></tr>"
        for f in check["findings"]
    )
    return f"<table><tr><th>severity</th><th>finding</th><th>evidence</th></tr>{rows}</table>" if rows else ""


def _metrics(check: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in check.get("metrics", {}).items())
    return f"<table>{rows}</table>" if rows else ""


def _heat_color(n: int, top: int) -> str:
    if n == 0:
        return "#d92d20"
    share = math.log1p(n) / math.log1p(top) if top else 0  # log scale: small tenants stay visible
    light = int(90 - 55 * min(1.0, share))
    return f"hsl(145,55%,{light}%)"


def heat_map(coverage: dict) -> str:
    """Tenant x day coverage: red cells are days without usage."""
    days, tenants = coverage.get("days", []), coverage.get("tenants", {})
    if not days or not tenants:
        return '<p class="muted">No coverage data.</p>'
    top = max((max(v) for v in tenants.values() if v), default=1) or 1
    head = "".join(f'<th title="{escape(d)}">{escape(d[8:10]) if i % 2 == 0 else ""}</th>' for i, d in enumerate(days))
    body = []
    for tenant, counts in sorted(tenants.items(), key=lambda kv: (min(kv[1] or [0]) > 0, kv[0])):
        cells = "".join(
            f'<td style="background:{_heat_color(n, top)}" title="{escape(tenant)} {escape(d)}: {n} events"></td>'
            for d, n in zip(days, counts)
        )
        body.append(f"<tr><th>{escape(tenant)}</th>{cells}</tr>")
    return (
        f'<p class="muted">{len(tenants)} tenants x {len(days)} complete UTC days ({escape(days[0])} .. {escape(days[-1])}); '
        "red: no usage that day; darker green: more events.</p>"
        f'<table class="heat"><tr><th></th>{head}</tr>{"".join(body)}</table>'
    )


def latency_chart(tenant: dict, threshold: float) -> str:
    """Per-panel latency samples (dots), p95 (bar end) and the threshold (red line), in seconds."""
    rows = [("whole dashboard (load)", tenant["load_samples"], tenant["load"]["p95"])]
    rows += [(p["title"], p["samples"], p["p95"]) for p in tenant["panels"]]
    scale_max = max([threshold * 1.15] + [max(s or [0]) * 1.1 for _, s, _ in rows])
    width, label_w, row_h = 880, 260, 26
    x = lambda v: label_w + (width - label_w - 20) * (v / scale_max)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(rows) + 34}" '
             'font-family="system-ui,sans-serif" font-size="12">']
    for i, (title, samples, p95) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="4" y="{y + 14}">{escape(title[:38])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 5}" width="{max(1, x(p95) - label_w):.1f}" height="12" '
                     f'fill="{"#f4b4ae" if p95 >= threshold else "#b7e4c7"}"/>')
        for s in samples:
            parts.append(f'<circle cx="{x(s):.1f}" cy="{y + 11}" r="3" fill="#1d2733" fill-opacity="0.6"/>')
        parts.append(f'<text x="{x(p95) + 6:.1f}" y="{y + 15}" fill="#475467">p95 {p95:.3f}s</text>')
    bottom = 10 + len(rows) * row_h
    parts.append(f'<line x1="{x(threshold):.1f}" x2="{x(threshold):.1f}" y1="4" y2="{bottom}" stroke="#d92d20" '
                 'stroke-width="2" stroke-dasharray="5,3"/>')
    parts.append(f'<text x="{x(threshold) + 4:.1f}" y="{bottom + 16}" fill="#d92d20">threshold {threshold:.3f}s</text>')
    parts.append(f'<text x="{label_w}" y="{bottom + 16}" fill="#667085">0 s</text></svg>')
    return "".join(parts)


def _check_details(check: dict) -> str:
    d = check.get("details", {})
    out = []
    if check["check"] == "usage_coverage" and d.get("coverage"):
        out.append("<h3>Tenant x day coverage</h3>" + heat_map(d["coverage"]))
    if check["check"] == "invoice_immutability":
        diffs = [f for f in check["findings"] if f["severity"] == "fail" and f["evidence"].get("tenant")]
        if diffs:
            rows = "".join(
                f"<tr><td>{escape(str(f['evidence'].get('tenant')))}</td><td>{escape(str(f['evidence'].get('month', '')))}</td>"
                f"<td><code>{escape(f['code'])}</code></td>"
                f"<td>{escape(str(f['evidence'].get('old_total') or f['evidence'].get('expected', '')))}</td>"
                f"<td>{escape(str(f['evidence'].get('new_total') or f['evidence'].get('found', '')))}</td></tr>"
                for f in diffs
            )
            out.append("<h3>Invoice differences</h3><table><tr><th>tenant</th><th>month</th><th>finding</th>"
                       f"<th>before / expected</th><th>now / found</th></tr>{rows}</table>")
        lines = d.get("invoice_lines", [])
        if lines:
            out.append(f'<p class="muted">{len(lines)} invoice lines for {escape(str(check["metrics"].get("month")))}; '
                       f'baseline: {escape(str(d.get("baseline_status", "")))}; CSV: <code>{escape(str(d.get("invoice_csv", "")))}</code></p>')
    if check["check"] == "dashboard_latency":
        threshold = float(check.get("metrics", {}).get("threshold_s", 1.0))
        for t in d.get("tenants", []):
            out.append(f"<h3>Tenant {escape(t['tenant'])} ({(t.get('events') or 0):,} events): load p50 "
                       f"{t['load']['p50']:.3f}s, p95 {t['load']['p95']:.3f}s, max {t['load']['max']:.3f}s</h3>")
            out.append(latency_chart(t, threshold))
            rows = "".join(
                f"<tr><td>{escape(p['title'])}</td><td>{p['p50']:.4f}</td><td>{p['p95']:.4f}</td><td>{p['max']:.4f}</td>"
                f"<td>{p['rows_read'] or 0:,}</td><td>{p['bytes_read'] or 0:,}</td><td>{p['result_rows']}</td>"
                f"<td>{'<span class=warn>raw table</span>' if p['reads_raw_table'] else ''}</td></tr>"
                for p in t["panels"]
            )
            out.append("<table><tr><th>panel</th><th>p50 s</th><th>p95 s</th><th>max s</th><th>rows read</th>"
                       f"<th>bytes read</th><th>rows returned</th><th></th></tr>{rows}</table>")
    if check["check"] == "quota_enforcement" and d.get("sequential"):
        limit = check.get("metrics", {}).get("limit")
        rows = "".join(
            f"<tr><td>{r['n']}</td><td>{'expected 2xx' if limit and r['n'] <= limit else 'expected 429'}</td>"
            f"<td class=\"{'pass' if (r['status'] == 429) == bool(limit and r['n'] > limit) and r['status'] else 'fail'}\">"
            f"{escape(str(r['status'] or r.get('error')))}</td><td>{r.get('elapsed_s')}</td>"
            f"<td>{escape(', '.join(f'{k}: {v}' for k, v in (r.get('headers') or {}).items()))}</td></tr>"
            for r in d["sequential"]
        )
        out.append("<h3>Sequential probe, request by request</h3><table><tr><th>#</th><th>expected</th><th>got</th>"
                   f"<th>seconds</th><th>rate-limit headers</th></tr>{rows}</table>")
        if d.get("concurrent"):
            c = d["concurrent"]
            out.append(f"<p>Concurrent probe: {c['sent']} requests at once, <b>{c['accepted']}</b> accepted "
                       f"(limit {escape(str(limit))}), {c['refused_429']} refused with 429"
                       + (f", other: {escape(', '.join(c['other']))}" if c["other"] else "") + ".</p>")
    if d.get("queries"):
        items = "".join(f"<p><b>{escape(q['name'])}</b></p><pre>{escape(q['sql'])}</pre>" for q in d["queries"].values())
        out.append(f"<details><summary>The {len(d['queries'])} queries this check ran</summary>{items}</details>")
    return "".join(out)


def to_html(doc: dict[str, Any]) -> str:
    run = doc["run"]
    cards = "".join(
        f'<div class="card"><div>{_badge(c["passed"])} {escape(c["title"])}</div>'
        f'<div class="muted">{escape(c["summary"].split(": ", 1)[-1][:160])}</div></div>'
        for c in doc["checks"]
    )
    sections = []
    for c in doc["checks"]:
        impact = c.get("details", {}).get("impact")
        sections.append(
            f"<h2>{_badge(c['passed'])} {escape(c['title'])}</h2>"
            + (f'<p class="fail">If promoted anyway: {escape(impact)}</p>' if impact and not c["passed"] else "")
            + _findings(c) + _metrics(c) + _check_details(c)
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Billing readiness {escape(str(run.get('run_id')))}</title><style>{CSS}</style></head><body>"
        "<h1>Billing readiness: M12.1 &rarr; M12.2</h1>"
        f'<div class="muted">{escape(str(run.get("dag_id")))} run <code>{escape(str(run.get("run_id")))}</code>, '
        f"generated {escape(str(run.get('generated_at')))}</div>"
        f'<div class="verdict {"ready" if doc["ready_for_billing"] else "notready"}">{escape(doc["verdict"])}</div>'
        f'<div class="cards">{cards}</div>{"".join(sections)}</body></html>'
    )
