"""The readiness report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

It stays readable (and under 2 MB) at 10,000 tenants: failing checks come first, each check has an anchor the
cards link to, a check shows at most FINDINGS_PER_CODE findings of each kind (all of them are in readiness.json
and the check's result file), and each check's part shows a bounded view (check 1's heat map: render.py)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from billing_readiness.checks.contract import Check
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


def _badge(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _findings(check: dict) -> str:
    shown, left = shown_findings(check)
    rows = "".join(
        "<tr><td "
        f'class="{escape(f["severity"])}">{escape(f["severity"].upper())}</td><td><code>{escape(f["code"])}</code></td>'
        f"<td>{escape(f['message'])}</td></tr>"
        for f in shown
    )
    rows += "".join(
        f'<tr><td></td><td><code>{escape(code)}</code></td><td class="muted">... and {n:,} more '
        f"(readiness.json{', ' + escape(check['result_file']) if check.get('result_file') else ''})</td></tr>"
        for code, n in left.items()
    )
    return f"<table><tr><th>severity</th><th>finding</th><th>evidence</th></tr>{rows}</table>" if rows else ""


def _metrics(check: dict) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in check.get("metrics", {}).items()
    )
    return f"<table>{rows}</table>" if rows else ""


def _queries(check: dict) -> str:
    queries = check.get("queries") or []
    if not queries:
        return ""
    items = "".join(f"<p><b>{escape(q['name'])}</b></p><pre>{escape(q['sql'])}</pre>" for q in queries)
    return f"<details><summary>The {len(queries)} queries this check ran</summary>{items}</details>"


def to_html(doc: dict[str, Any], checks: Iterable[Check]) -> str:
    run = doc["run"]
    cards = "".join(
        f'<a class="card" href="#{escape(anchor(c))}"><div>{_badge(c["passed"])} {escape(c["title"])}</div>'
        f'<div class="muted">{escape(c["summary"].split(": ", 1)[-1][:160])}</div></a>'
        for c in doc["checks"]
    )
    sections = []
    for check, c, result in sorted(with_checks(checks, doc), key=lambda x: x[1]["passed"]):  # failing first
        sections.append(
            f'<h2 id="{escape(anchor(c))}">{_badge(c["passed"])} {escape(c["title"])}</h2>'
            + (f'<p class="fail">If promoted anyway: {escape(c["impact"])}</p>' if not c["passed"] else "")
            + (f'<p class="warn">{escape(c["details_unavailable"])}</p>' if c.get("details_unavailable") else "")
            + _findings(c)
            + _metrics(c)
            + check.html(result)
            + _queries(c)
        )
    problem = run.get("config_problem")
    relaxed = "; ".join(run.get("relaxed") or [])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Billing readiness {escape(str(run.get('run_id')))}</title><style>{CSS}</style></head><body>"
        "<h1>Billing readiness: M12.1 &rarr; M12.2</h1>"
        f'<div class="muted">{escape(str(run.get("dag_id")))} run <code>{escape(str(run.get("run_id")))}</code>, '
        f"generated {escape(str(run.get('generated_at')))}"
        + (f", checked as of {escape(str(run['as_of']))}" if run.get("as_of") else "")
        + "</div>"
        + (f'<p class="fail">Config problem: {escape(problem)}</p>' if problem else "")
        + (
            f'<p class="warn">Relaxed checks (params looser than the strict values): {escape(relaxed)}</p>'
            if relaxed
            else ""
        )
        + f'<div class="verdict {"ready" if doc["ready_for_billing"] else "notready"}">{escape(doc["verdict"])}</div>'
        f'<div class="cards">{cards}</div>'
        + report_history.html(doc, {c["check"]: c["title"] for c in doc["checks"]})
        + f"{''.join(sections)}</body></html>"
    )
