"""The readiness report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

It stays readable (and under 2 MB) at 10,000 tenants: failing checks come first, each check has an anchor the
cards link to, a check shows at most FINDINGS_PER_CODE findings of each kind (all of them are in readiness.json
and the check's result file), and each check's part shows a bounded view (check 1's heat map: render.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from billing_readiness.checks.contract import Check
from billing_readiness.core.html import render, safe
from billing_readiness.reporting import report_history
from billing_readiness.reporting.report import anchor, shown_findings, with_checks

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;
  color:#1d2733;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.verdict{padding:12px 16px;border-radius:8px;font-weight:600;margin:12px 0}
.ready{background:#e3f6e8;color:#135c2a}
.notready{background:#fde8e8;color:#8a1c1c}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #dde3ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f6f9}
.pass{color:#135c2a;font-weight:600}
.fail{color:#b42318;font-weight:600}
.warn{color:#9a6700;font-weight:600}
.info{color:#475467}
.muted{color:#667085;font-size:12px}
code{font-size:12px;background:#f3f6f9;padding:1px 4px;border-radius:3px}
.heat td{width:14px;height:14px;padding:0;border:1px solid #fff}
.heat th{font-weight:normal;font-size:11px;padding:0 6px 0 0;border:0;background:none;white-space:nowrap}
pre{background:#f3f6f9;padding:8px;font-size:12px;overflow-x:auto}
details{margin:8px 0}
h3{font-size:15px;margin:16px 0 6px}
svg.trend{display:block;margin-top:4px}
.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{border:1px solid #dde3ea;border-radius:8px;padding:8px 12px;min-width:230px;color:inherit;text-decoration:none}
"""


PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8>
<title>Billing readiness {{ run.run_id }}</title><style>{{ css }}</style></head><body>
<h1>Billing readiness: M12.1 &rarr; M12.2</h1>
<div class="muted">{{ run.dag_id }} run <code>{{ run.run_id }}</code>, generated {{ run.generated_at }}
{%- if run.as_of %}, checked as of {{ run.as_of }}{% endif %}</div>
{% if run.config_problem %}<p class="fail">Config problem: {{ run.config_problem }}</p>{% endif %}
{% if relaxed %}<p class="warn">Relaxed checks (params looser than the strict values): {{ relaxed }}</p>{% endif %}
<div class="verdict {{ 'ready' if ready else 'notready' }}">{{ verdict }}</div>
<div class="cards">
{% for c in cards %}<a class="card" href="#{{ c.anchor }}"><div>{{ badge(c.passed) }} {{ c.title }}</div>
<div class="muted">{{ c.summary }}</div></a>
{% endfor %}</div>
{{ history }}
{% for s in sections %}<h2 id="{{ s.anchor }}">{{ badge(s.passed) }} {{ s.title }}</h2>
{% if not s.passed %}<p class="fail">If promoted anyway: {{ s.impact }}</p>{% endif %}
{% if s.unavailable %}<p class="warn">{{ s.unavailable }}</p>{% endif %}
{% if s.findings or s.left %}<table><tr><th>severity</th><th>finding</th><th>evidence</th></tr>
{% for f in s.findings %}<tr><td class="{{ f.severity }}">{{ f.severity | upper }}</td>
<td><code>{{ f.code }}</code></td><td>{{ f.message }}</td></tr>
{% endfor %}{% for code, n in s.left %}<tr><td></td><td><code>{{ code }}</code></td>
<td class="muted">... and {{ n }} more (readiness.json{% if s.result_file %}, {{ s.result_file }}{% endif %})</td></tr>
{% endfor %}</table>{% endif %}
{% if s.metrics %}<table>{% for k, v in s.metrics %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{% endif %}
{{ s.details }}
{% if s.queries %}<details><summary>The {{ s.queries | length }} queries this check ran</summary>
{% for q in s.queries %}<p><b>{{ q.name }}</b></p><pre>{{ q.sql }}</pre>{% endfor %}</details>{% endif %}
{% endfor %}</body></html>"""


def _badge(passed: bool):
    return safe('<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>')


def to_html(doc: dict[str, Any], checks: Iterable[Check]) -> str:
    run = doc["run"]
    cards = [
        {
            "anchor": anchor(c),
            "passed": c["passed"],
            "title": c["title"],
            "summary": c["summary"].split(": ", 1)[-1][:160],
        }
        for c in doc["checks"]
    ]
    sections = []
    for check, c, result in sorted(with_checks(checks, doc), key=lambda x: x[1]["passed"]):  # failing first
        shown, left = shown_findings(c)
        sections.append(
            {
                "anchor": anchor(c),
                "passed": c["passed"],
                "title": c["title"],
                "impact": c["impact"],
                "unavailable": c.get("details_unavailable"),
                "findings": shown,
                "left": [(code, f"{n:,}") for code, n in left.items()],
                "result_file": c.get("result_file"),
                "metrics": [(str(k), str(v)) for k, v in c.get("metrics", {}).items()],
                "details": safe(check.html(result)),
                "queries": c.get("queries") or [],
            }
        )
    history = report_history.html(doc, {c["check"]: c["title"] for c in doc["checks"]})
    return render(
        PAGE,
        run=run,
        css=safe(CSS),
        relaxed="; ".join(run.get("relaxed") or []),
        ready=doc["ready_for_billing"],
        verdict=doc["verdict"],
        cards=cards,
        badge=_badge,
        history=safe(history),
        sections=sections,
    )
