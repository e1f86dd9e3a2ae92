"""What the alerts say (plain Python, no Airflow import): the message for a failed check, for a promotion and
for a refused promotion, built from the task's callback context. notifiers.py sends them; the DAG file
imports this module at parse time (for the kinds), so what the builders need is imported when they run."""
from __future__ import annotations

from typing import Any

FAILURE, PROMOTION, REFUSED = "check_failed", "promoted", "promotion_refused"


def failure_message(context: Any, config_problem: str | None = None, report: str = "") -> dict[str, Any]:
    """The alert for a failed check task: check, reason, impact, run id, log URL, where the report is."""
    from billing_readiness.results import RESULT_XCOM_KEY

    ti = context["ti"]
    task = context.get("task") or getattr(ti, "task", None)
    check = getattr(task, "check", None)
    title = check.title if check else ti.task_id
    impact = check.impact if check else "Promotion to M12.2 is blocked."
    result = ti.xcom_pull(task_ids=ti.task_id, key=RESULT_XCOM_KEY) or {}
    reasons = [f["message"] for f in result.get("findings", []) if f["severity"] == "fail"][:3]
    if not reasons:
        reasons = [str(context.get("exception") or "the task failed without a result")]
    run_id = context.get("run_id") or ti.run_id
    log_url = getattr(ti, "log_url", "")
    text = (
        f":rotating_light: *{title} failed*: M12.1 is not promoted to M12.2.\n"
        + "\n".join(f"- {r}" for r in reasons)
        + f"\n*Impact:* {impact}\n*Run:* {run_id} | *Log:* {log_url}"
        + (f"\n*Report:* {report}" if report else "")
        + (f"\n*Config:* {config_problem}" if config_problem else "")
    )
    return {
        "text": text,
        "subject": f"billing-readiness: {title} failed, M12.1 not promoted ({run_id})",
        "report": report,
        "event": FAILURE,
        "check": check.id if check else ti.task_id,
        "title": title,
        "reasons": reasons,
        "impact": impact,
        "run_id": run_id,
        "log_url": log_url,
        "config_problem": config_problem,
    }


def promotion_message(context: Any, config_problem: str | None = None, report: str = "") -> dict[str, Any]:
    run_id = context.get("run_id") or context["ti"].run_id
    checks = getattr(context.get("task"), "checks", {}) or {}
    gate = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key="return_value") or {}
    relaxed = list(gate.get("relaxed") or [])  # what the gate promoted with
    text = (f":white_check_mark: *M12.1 promoted to M12.2*: all {len(checks) or 'the'} readiness checks passed"
            + (f"; promoted with relaxed checks: {'; '.join(relaxed)}" if relaxed else "") + f".\n*Run:* {run_id}"
            + (f"\n*Report:* {report}" if report else ""))
    return {"text": text, "subject": f"billing-readiness: M12.1 promoted to M12.2 ({run_id})", "report": report,
            "event": PROMOTION, "run_id": run_id, "log_url": getattr(context["ti"], "log_url", ""),
            "relaxed": relaxed, "config_problem": config_problem}


def refusal_message(context: Any, config_problem: str | None = None, report: str = "") -> dict[str, Any] | None:
    """The gate refused: an alert only where no check alert already said why (a check skipped, crashed
    without a result, or passed but with params the config does not let promote)."""
    from billing_readiness.results import collect_results

    checks = getattr(context.get("task"), "checks", {}) or {}
    results = collect_results(context, checks)
    if all(r is not None for r in results.values()) and any(not r["passed"] for r in results.values()):
        return None  # each failed check sent its own alert
    run_id = context.get("run_id") or context["ti"].run_id
    reason = str(context.get("exception") or "the promotion gate failed")
    text = (f":rotating_light: *M12.1 is not promoted to M12.2*: {reason}\n*Run:* {run_id}"
            + (f"\n*Report:* {report}" if report else "")
            + (f"\n*Config:* {config_problem}" if config_problem else ""))
    return {"text": text, "subject": f"billing-readiness: M12.1 not promoted ({run_id})", "report": report,
            "event": REFUSED, "run_id": run_id, "reasons": [reason],
            "log_url": getattr(context["ti"], "log_url", ""), "config_problem": config_problem}


BUILDERS = {FAILURE: failure_message, PROMOTION: promotion_message, REFUSED: refusal_message}


def html_body(message: dict[str, Any]) -> str:
    """The message as an e-mail body: the same facts as the text, escaped."""
    from html import escape

    lines = [f"<p><b>{escape(message['subject'])}</b></p>"]
    if message.get("reasons"):
        lines.append("<ul>" + "".join(f"<li>{escape(str(r))}</li>" for r in message["reasons"]) + "</ul>")
    if message.get("relaxed"):
        lines.append(f"<p>Promoted with relaxed checks: {escape('; '.join(message['relaxed']))}</p>")
    if message.get("impact"):
        lines.append(f"<p><b>Impact:</b> {escape(message['impact'])}</p>")
    facts = [f"Run: {escape(str(message.get('run_id')))}"]
    if message.get("log_url"):
        facts.append(f'<a href="{escape(message["log_url"], quote=True)}">task log</a>')
    if message.get("report"):
        facts.append(f"Report: <code>{escape(message['report'])}</code>")
    lines.append("<p>" + " | ".join(facts) + "</p>")
    if message.get("config_problem"):
        lines.append(f"<p><b>Config:</b> {escape(message['config_problem'])}</p>")
    return "\n".join(lines)
