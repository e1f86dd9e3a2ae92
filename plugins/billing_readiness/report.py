"""The readiness report: every check's verdict, numbers and evidence, as JSON and Markdown.

Pure rendering: the report operator gathers the check results and writes these.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from billing_readiness.checks import CHECKS


def run_report_dir(cfg: dict, dag_id: str, run_id: str) -> Path:
    base = cfg["report"]["dir"] or os.path.join(os.environ.get("AIRFLOW_HOME", "."), "billing_readiness_reports")
    safe_run = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return Path(base) / dag_id / safe_run


def build(results: dict[str, dict | None], run: dict[str, Any]) -> dict[str, Any]:
    """The report document. `results` maps check id -> CheckResult dict, or None when the check produced none."""
    checks = []
    for check_id, (title, impact) in CHECKS.items():
        r = results.get(check_id)
        if r is None:
            checks.append(
                {
                    "check": check_id,
                    "title": title,
                    "passed": False,
                    "summary": f"{title}: NO RESULT: the check did not run to a verdict (see its task log).",
                    "findings": [{"severity": "fail", "code": "no_result",
                                  "message": "The check task produced no result (upstream failure, timeout or "
                                             "crash before it could report).", "evidence": {}}],
                    "metrics": {},
                    "details": {"impact": impact},
                }
            )
        else:
            checks.append(r)
    ready = all(c["passed"] for c in checks)
    return {
        "report": "billing-readiness: M12.1 -> M12.2",
        "ready_for_billing": ready,
        "verdict": "READY: all four checks passed; promotion to M12.2 may proceed."
        if ready
        else "NOT READY: " + ", ".join(c["title"] for c in checks if not c["passed"]) + " failed.",
        "run": run,
        "checks": checks,
    }


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, default=str)


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: dict) -> str:
    run = doc["run"]
    out = [
        "# Billing readiness: M12.1 -> M12.2",
        "",
        f"**{doc['verdict']}**",
        "",
        f"Run `{run.get('run_id')}` of `{run.get('dag_id')}`, {run.get('generated_at')}.",
        "",
        "| # | check | verdict | summary |",
        "|---|---|---|---|",
    ]
    for i, c in enumerate(doc["checks"], start=1):
        verdict = "PASS" if c["passed"] else "FAIL"
        out.append(f"| {i} | {c['title']} | {verdict} | {_md_escape(c['summary'])} |")
    for c in doc["checks"]:
        out += ["", f"## {c['title']}: {'PASS' if c['passed'] else 'FAIL'}", ""]
        if not c["passed"] and c.get("details", {}).get("impact"):
            out += [f"Impact if promoted anyway: {c['details']['impact']}", ""]
        for f in c["findings"]:
            out.append(f"- **{f['severity'].upper()}** `{f['code']}`: {_md_escape(f['message'])}")
        if c.get("metrics"):
            out += ["", "| metric | value |", "|---|---|"]
            out += [f"| {k} | {_md_escape(v)} |" for k, v in c["metrics"].items()]
        out += _md_details(c)
    out.append("")
    return "\n".join(out)


def _md_details(c: dict) -> list[str]:
    d = c.get("details", {})
    out: list[str] = []
    if c["check"] == "dashboard_latency" and d.get("tenants"):
        for t in d["tenants"]:
            out += ["", f"Tenant `{t['tenant']}` ({t.get('events') or 0:,} events): load p50 {t['load']['p50']}s, "
                        f"p95 {t['load']['p95']}s, max {t['load']['max']}s over {t['load']['n']} loads", "",
                    "| panel | p50 s | p95 s | max s | rows read | bytes read | raw table |", "|---|---|---|---|---|---|---|"]
            out += [
                f"| {_md_escape(p['title'])} | {p['p50']} | {p['p95']} | {p['max']} | {p['rows_read']} | "
                f"{p['bytes_read']} | {'yes' if p['reads_raw_table'] else ''} |"
                for p in t["panels"]
            ]
    if c["check"] == "quota_enforcement" and d.get("sequential"):
        out += ["", "| request | status | elapsed s |", "|---|---|---|"]
        out += [f"| {r['n']} | {r['status'] or r['error']} | {r['elapsed_s']} |" for r in d["sequential"]]
        if d.get("concurrent"):
            cc = d["concurrent"]
            out += ["", f"Concurrent probe: {cc['sent']} requests at once, {cc['accepted']} accepted, "
                        f"{cc['refused_429']} refused with 429."]
    if c["check"] == "invoice_immutability" and d.get("invoice_csv"):
        out += ["", f"Invoice lines: `{d['invoice_csv']}` (baseline: {d.get('baseline_status')})."]
    return out
