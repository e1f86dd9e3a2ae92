"""The history part of the readiness report (doc["history"], history.view): the green streak and the burn-in,
what changed since the last green run, since when each finding has been present, and each check's key figure
over the last runs as an inline SVG chart (no script, no network: the report opens offline).
HTML through Jinja2 with autoescape; the Markdown is plain lines."""

from __future__ import annotations

from typing import Any

from billing_readiness.reporting.history import since_text

CHART_W, CHART_H, PAD = 300, 70, 6


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.3g}"


def chart(points: list[dict], label: str) -> dict[str, Any]:
    """Coordinates of a small trend chart: a line through the values, a dot per run (red where the check
    failed), and the range; runs without a value leave a gap."""
    values = [p["value"] for p in points if p["value"] is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    step = (CHART_W - 2 * PAD) / max(len(points) - 1, 1)
    dots: list[dict] = []
    segments: list[list[str]] = []
    current: list[str] = []
    for i, p in enumerate(points):
        x = PAD + i * step
        if p["value"] is None:
            if current:
                segments.append(current)
            current = []
            continue
        y = CHART_H - PAD - (p["value"] - low) / span * (CHART_H - 2 * PAD)
        current.append(f"{x:.1f},{y:.1f}")
        dots.append(
            {
                "x": f"{x:.1f}",
                "y": f"{y:.1f}",
                "passed": p["passed"],
                "title": f"{p['as_of'][:16].replace('T', ' ')} UTC: {_fmt(p['value'])} "
                f"({'pass' if p['passed'] else 'FAIL'})",
            }
        )
    if current:
        segments.append(current)
    return {
        "label": label,
        "w": CHART_W,
        "h": CHART_H,
        "lines": [" ".join(s) for s in segments if len(s) > 1],
        "dots": dots,
        "low": _fmt(low if values else None),
        "high": _fmt(high if values else None),
        "runs": len(points),
        "last": _fmt(values[-1]) if values else "-",
    }


TEMPLATE = """
<h2 id="history">History</h2>
{% if unavailable %}<p class="warn">{{ unavailable }}</p>{% else %}
<p><b>Streak:</b> {{ h.streak.runs }} consecutive green run{{ '' if h.streak.runs == 1 else 's' }} that count toward
promotion{% if h.streak.since %}, since {{ since(h.streak.since) }}{% endif %}.
{% if not h.counts %}<span class="muted">This {{ h.run_type }} run does not count toward it (config
promotion.count_manual_runs, count_relaxed_runs).</span>{% endif %}
{% if h.burn_in.required > 1 %} <b>Burn-in:</b>
{%- if h.burn_in.more_needed %} {{ h.burn_in.streak }} of {{ h.burn_in.required }} green runs,
{{ h.burn_in.more_needed }}
 more needed{% else %} complete ({{ h.burn_in.required }} green runs needed){% endif %}.{% endif %}
 <b>Promotion:</b> {{ h.promotion }}. <span class="muted">{{ h.runs_known }}
 run{{ '' if h.runs_known == 1 else 's' }} on record.</span></p>
<h3>Changed since the last green run</h3>
{% set c = h.changes_since_green %}
{% if not c %}<p class="muted">No earlier green run on record.</p>{% else %}
<p class="muted">Last green: {{ since(c.last_green) }}{% if c.last_green.report %},
<a href="{{ c.last_green.report }}">its report</a>{% endif %}; moved: beyond {{ (c.noise_band * 100) | round | int }}
%.</p>
{% if not (c.new or c.gone or c.moved) %}<p>Nothing changed.</p>{% endif %}
<ul>
{% for f in c.new %}<li><span class="{{ f.severity }}">new</span> <code>{{ f.code }}</code> in {{ f.title }}
 ({{ f.count }}{% if f.tenants %}: {{ f.tenants | join(', ') }}{% endif %})</li>{% endfor %}
{% for f in c.gone %}<li><span class="pass">gone</span> <code>{{ f.code }}</code> in {{ f.title }}</li>{% endfor %}
{% for m in c.moved %}<li><span class="warn">moved</span> {{ m.title }}, {{ m.figure }}: {{ fmt(m.before) }}
 &rarr; {{ fmt(m.now) }}</li>{% endfor %}
</ul>{% endif %}
{% if h.findings_since %}<h3>Present since</h3>
<table><tr><th>check</th><th>finding</th><th>since</th><th>runs</th><th>longest-standing tenants</th></tr>
{% for f in h.findings_since %}<tr><td>{{ f.title }}</td><td class="{{ f.severity }}"><code>{{ f.code }}</code></td>
<td>{{ since(f.since) }}</td><td>{{ f.runs }}</td><td>{% for t in f.tenants %}{{ t.tenant }} (since
{{ t.since.as_of[:10] }}){{ ', ' if not loop.last }}{% endfor %}{% if f.tenants_named > f.tenants | length %}
 &hellip; {{ f.tenants_named }} in all{% endif %}</td></tr>{% endfor %}</table>{% endif %}
<h3>Trends</h3><div class="cards">
{% for id, t in charts %}<div class="card"><div>{{ t.title }}</div><div class="muted">{{ t.label }}: {{ t.last }}
 now; {{ t.low }}&ndash;{{ t.high }} over {{ t.runs }} runs</div>
<svg class="trend" width="{{ t.w }}" height="{{ t.h }}" viewBox="0 0 {{ t.w }} {{ t.h }}" role="img"
 aria-label="{{ t.title }}: {{ t.label }} over the last {{ t.runs }} runs">
<rect width="{{ t.w }}" height="{{ t.h }}" fill="#f8fafc"/>
{% for line in t.lines %}<polyline points="{{ line }}" fill="none" stroke="#475467" stroke-width="1.5"/>{% endfor %}
{% for d in t.dots %}<circle cx="{{ d.x }}" cy="{{ d.y }}" r="3" fill="{{ '#12b76a' if d.passed else '#d92d20' }}">
<title>{{ d.title }}</title></circle>{% endfor %}</svg></div>{% endfor %}</div>{% endif %}
"""


def html(doc: dict, titles: dict[str, str]) -> str:
    from billing_readiness.core.html import render

    h = doc.get("history")
    if h is None and not doc.get("history_unavailable"):
        return ""
    charts = [
        (cid, {**chart(t["points"], t["label"]), "title": titles.get(cid, cid)})
        for cid, t in (h or {}).get("trends", {}).items()
    ]
    return render(TEMPLATE, h=h, unavailable=doc.get("history_unavailable"), charts=charts, since=since_text, fmt=_fmt)


def markdown(doc: dict) -> list[str]:
    h = doc.get("history")
    if h is None:
        return ["", "## History", "", doc["history_unavailable"]] if doc.get("history_unavailable") else []
    s = h["streak"]
    out = [
        "",
        "## History",
        "",
        f"**Streak:** {s['runs']} consecutive green runs that count toward promotion"
        + (f", since {since_text(s['since'])}." if s["since"] else ".")
        + ("" if h["counts"] else f" This {h['run_type']} run does not count toward it."),
    ]
    b = h["burn_in"]
    if b["required"] > 1:
        out.append(
            f"**Burn-in:** {b['streak']} of {b['required']} green runs, {b['more_needed']} more needed."
            if b["more_needed"]
            else f"**Burn-in:** complete ({b['required']} green runs needed)."
        )
    out.append(f"**Promotion:** {h['promotion']}.")
    c = h["changes_since_green"]
    out += ["", "### Changed since the last green run", ""]
    if not c:
        out.append("No earlier green run on record.")
    else:
        out.append(f"Last green: {since_text(c['last_green'])}.")
        out += [f"- new `{f['code']}` in {f['title']} ({f['count']})" for f in c["new"]]
        out += [f"- gone `{f['code']}` in {f['title']}" for f in c["gone"]]
        out += [f"- moved {m['title']}, {m['figure']}: {_fmt(m['before'])} -> {_fmt(m['now'])}" for m in c["moved"]]
        if not (c["new"] or c["gone"] or c["moved"]):
            out.append("Nothing changed.")
    if h["findings_since"]:
        out += ["", "### Present since", "", "| check | finding | since | runs |", "|---|---|---|---|"]
        out += [
            f"| {f['title']} | `{f['code']}` | {since_text(f['since'])} | {f['runs']} |" for f in h["findings_since"]
        ]
    out += ["", "### Trends", ""]
    for cid, t in h["trends"].items():
        out.append(f"- {cid}, {t['label']}: " + " ".join(_fmt(p["value"]) for p in t["points"]))
    return out


PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8><title>Readiness history: {{ dag_id }}</title>
<style>{{ css }}</style></head><body><h1>Readiness history: {{ dag_id }}</h1>
<p><b>Streak:</b> {{ streak }} consecutive green runs that count toward promotion{% if since %}, since
{{ since }}{% endif %}.
<span class="muted">{{ records | length }} most recent runs shown; records kept {{ retention }} days.</span></p>
<div class="cards">{% for t in charts %}<div class="card"><div>{{ t.title }}</div><div class="muted">{{ t.label }}:
{{ t.last }} now; {{ t.low }}&ndash;{{ t.high }} over {{ t.runs }} runs</div>
<svg class="trend" width="{{ t.w }}" height="{{ t.h }}" viewBox="0 0 {{ t.w }} {{ t.h }}" role="img"
 aria-label="{{ t.title }}: {{ t.label }}"><rect width="{{ t.w }}" height="{{ t.h }}" fill="#f8fafc"/>
{% for line in t.lines %}<polyline points="{{ line }}" fill="none" stroke="#475467" stroke-width="1.5"/>{% endfor %}
{% for d in t.dots %}<circle cx="{{ d.x }}" cy="{{ d.y }}" r="3" fill="{{ '#12b76a' if d.passed else '#d92d20' }}">
<title>{{ d.title }}</title></circle>{% endfor %}</svg></div>{% endfor %}</div>
<h2>Runs</h2><table><tr><th>as of (UTC)</th><th>run</th><th>verdict</th><th>promoted</th>
{% for cid, title in titles %}<th>{{ title }}</th>{% endfor %}</tr>
{% for r in records %}<tr><td>{{ r.as_of[:16] | replace('T', ' ') }}</td>
<td>{% if r.report %}<a href="{{ r.report }}" target="_top">{{ r.run_id }}</a>{% else %}{{ r.run_id }}{% endif %}
{% if not r.counts %} <span class="muted">(does not count)</span>{% endif %}</td>
<td class="{{ 'pass' if r.green else 'fail' }}">{{ 'green' if r.green else 'NOT READY' }}</td>
<td>{{ 'yes' if r.promoted else 'no' }}</td>
{% for cid, title in titles %}{% set c = r.checks.get(cid) %}<td>{% if c %}<span
class="{{ 'pass' if c.passed else 'fail' }}">
{{ 'PASS' if c.passed else 'FAIL' }}</span>
{% for code, f in c.findings.items() %} <code>{{ code }}</code>&times;{{ f.count }}{% endfor %}
{% endif %}</td>{% endfor %}</tr>{% endfor %}</table></body></html>"""


def history_page(dag_id: str, records: list[dict], cfg: dict) -> str:
    """The DAG's history page (the plugin view): the streak, each check's trend chart, a row per run."""
    from billing_readiness.core.html import render, safe
    from billing_readiness.reporting.history import green_streak, trend
    from billing_readiness.reporting.report_html import CSS

    titles: dict[str, str] = {}
    labels: dict[str, str] = {}
    for r in records:
        for cid, c in r["checks"].items():
            titles.setdefault(cid, c["title"])
            labels.setdefault(cid, c.get("figure_label") or "key figure")
    n, since = green_streak(records)
    charts = []
    for cid, title in titles.items():
        points = trend(records, cid, cfg["history"]["trend_runs"])
        charts.append({**chart(points, labels[cid]), "title": title})
    return render(
        PAGE,
        dag_id=dag_id,
        records=records,
        titles=list(titles.items()),
        charts=charts,
        streak=n,
        since=since_text(since) if since else "",
        css=safe(CSS),
        retention=cfg["history"]["retention_days"],
    )
