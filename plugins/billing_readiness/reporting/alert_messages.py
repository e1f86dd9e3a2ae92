"""What the alerts say (plain Python, no Airflow import): the message for a failed check (first, or a reminder),
a check that passed (a recovery, new warnings), a promotion and a refused promotion, built from the task's
callback context and, whether to say anything at all, alert_policy.py over the run history. notifiers.py
sends them; the DAG file imports this module at parse time (for the kinds), so what the builders need is
imported when they run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAILURE, PASSED, PROMOTION, REFUSED = "check_failed", "check_passed", "promoted", "promotion_refused"
# The events a message may carry (PASSED sends RECOVERED or WARNINGS, or nothing).
RECOVERED, WARNINGS = "recovered", "warnings"


@dataclass
class Policy:
    """What the policy decides from: the records before this run (None: unreadable), config alerts, the anchor."""

    previous: list[dict] | None
    alerts: dict
    as_of: str
    report_folder: str = ""
    notes: list[str] = field(default_factory=list)  # why an alert was not sent, for the task log


def _report_line(report: str, policy: Policy | None) -> list[str]:
    """The report's link, and where its files are (a folder or a bucket, for those who read them there)."""
    if not report:
        return []
    folder = policy.report_folder if policy is not None else ""
    return [f"*Report:* {report}" + (f" (files: {folder})" if folder else "")]


def _check_and_result(context: Any) -> tuple[Any, str, dict]:
    from billing_readiness.core.results import RESULT_XCOM_KEY

    ti = context["ti"]
    task = context.get("task") or getattr(ti, "task", None)
    check = getattr(task, "check", None)
    return check, (check.title if check else ti.task_id), ti.xcom_pull(task_ids=ti.task_id, key=RESULT_XCOM_KEY) or {}


def _spell(decision) -> str:
    from billing_readiness.reporting.history import since_text

    return f"since {since_text(decision.since)}, {decision.runs} runs in a row" if decision.since else ""


def _warnings_lines(fresh: dict) -> list[str]:
    if not fresh:
        return []
    counts = ", ".join(f"`{code}` x{n}" for code, n in fresh["counts"].items())
    return [f"*New warnings:* {counts}"] + [f"- {m}" for m in fresh["named"]]


def failure_message(
    context: Any, config_problem: str | None = None, report: str = "", policy: Policy | None = None
) -> dict[str, Any] | None:
    """The alert for a failed check task: check, reasons, impact, run id, log URL, the report's link; the first
    run of a failure, then a reminder per config alerts.remind_every_hours (None: nothing to send now)."""
    from billing_readiness.reporting import alert_policy

    ti = context["ti"]
    check, title, result = _check_and_result(context)
    check_id = check.id if check else ti.task_id
    decision = alert_policy.Decision(True, "no history")
    if policy is not None and policy.previous is not None:
        decision = alert_policy.failure(check_id, policy.previous, policy.as_of, policy.alerts)
    if not decision.send:
        if policy is not None:
            policy.notes.append(f"{title}: no failure alert ({decision.why})")
        return None
    impact = check.impact if check else "Promotion to M12.2 is blocked."
    reasons = [f["message"] for f in result.get("findings", []) if f["severity"] == "fail"][:3]
    if not reasons:
        reasons = [str(context.get("exception") or "the task failed without a result")]
    fresh = (
        alert_policy.new_warnings(check_id, result.get("findings", []), policy.previous or [], policy.alerts)
        if policy is not None
        else {}
    )
    run_id = context.get("run_id") or ti.run_id
    log_url = getattr(ti, "log_url", "")
    reminder = decision.why == "reminder"
    facts = [*_warnings_lines(fresh), f"*Impact:* {impact}", f"*Run:* {run_id} | *Log:* {log_url}"]
    text = _failure_text(title, decision, reasons, facts + _report_line(report, policy), config_problem)
    subject = (
        f"billing-readiness: {title} still failing ({decision.runs} runs), M12.1 not promoted ({run_id})"
        if reminder
        else f"billing-readiness: {title} failed, M12.1 not promoted ({run_id})"
    )
    return {
        "text": text,
        "subject": subject,
        "report": report,
        "event": FAILURE,
        "reminder": reminder,
        "failing_since": decision.since["run_id"] if decision.since else run_id,
        "failing_runs": decision.runs,
        "check": check_id,
        "title": title,
        "reasons": reasons,
        "impact": impact,
        "run_id": run_id,
        "log_url": log_url,
        "new_warnings": fresh.get("counts", {}),
        "config_problem": config_problem,
    }


def _failure_text(title: str, decision, reasons: list[str], facts: list[str], config_problem: str | None) -> str:
    """The failure alert's text: the headline (a reminder says since when), the reasons, then the facts."""
    headline = (
        f":rotating_light: *{title} still failing* {_spell(decision)}: M12.1 is not promoted to M12.2."
        if decision.why == "reminder"
        else f":rotating_light: *{title} failed*: M12.1 is not promoted to M12.2."
    )
    lines = [headline, *(f"- {r}" for r in reasons), *facts]
    return "\n".join(lines + ([f"*Config:* {config_problem}"] if config_problem else []))


def passed_message(
    context: Any, config_problem: str | None = None, report: str = "", policy: Policy | None = None
) -> dict[str, Any] | None:
    """For a check that passed: a recovery when it failed in the previous run, else its new warnings when
    configured, else nothing."""
    from billing_readiness.reporting import alert_policy

    ti = context["ti"]
    check, title, result = _check_and_result(context)
    if policy is None or policy.previous is None:
        return None  # without history there is nothing to recover from and no warning is known to be new
    check_id = check.id if check else ti.task_id
    decision = alert_policy.recovery(check_id, policy.previous, policy.alerts)
    fresh = alert_policy.new_warnings(check_id, result.get("findings", []), policy.previous, policy.alerts)
    run_id = context.get("run_id") or ti.run_id
    if decision.send:
        headline = f":large_green_circle: *{title} passes again*: it had been failing {_spell(decision)}."
        event, subject = RECOVERED, f"billing-readiness: {title} recovered ({run_id})"
    elif fresh:
        headline = f":warning: *{title} passed with new warnings*: a person should look."
        event, subject = WARNINGS, f"billing-readiness: {title} has new warnings ({run_id})"
    else:
        policy.notes.append(f"{title}: no alert ({decision.why}; no new warnings to tell)")
        return None
    text = "\n".join(
        [headline, *_warnings_lines(fresh), f"*Run:* {run_id}"]
        + _report_line(report, policy)
        + ([f"*Config:* {config_problem}"] if config_problem else [])
    )
    return {
        "text": text,
        "subject": subject,
        "report": report,
        "event": event,
        "check": check_id,
        "title": title,
        "run_id": run_id,
        "log_url": getattr(ti, "log_url", ""),
        "failing_since": decision.since["run_id"] if decision.since else None,
        "failing_runs": decision.runs if decision.since else 0,
        "new_warnings": fresh.get("counts", {}),
        "reasons": fresh.get("named", []),
        "config_problem": config_problem,
    }


def promotion_message(
    context: Any, config_problem: str | None = None, report: str = "", policy: Policy | None = None
) -> dict[str, Any] | None:
    from billing_readiness.reporting import alert_policy

    if policy is not None and policy.previous is not None:
        decision = alert_policy.promotion(policy.previous, policy.alerts)
        if not decision.send:
            policy.notes.append(f"no promotion notice ({decision.why})")
            return None
    run_id = context.get("run_id") or context["ti"].run_id
    checks = getattr(context.get("task"), "checks", {}) or {}
    gate = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key="return_value") or {}
    relaxed = list(gate.get("relaxed") or [])  # what the gate promoted with
    text = (
        f":white_check_mark: *M12.1 promoted to M12.2*: all {len(checks) or 'the'} readiness checks passed"
        + (f"; promoted with relaxed checks: {'; '.join(relaxed)}" if relaxed else "")
        + f".\n*Run:* {run_id}"
        + "".join("\n" + line for line in _report_line(report, policy))
    )
    return {
        "text": text,
        "subject": f"billing-readiness: M12.1 promoted to M12.2 ({run_id})",
        "report": report,
        "event": PROMOTION,
        "run_id": run_id,
        "log_url": getattr(context["ti"], "log_url", ""),
        "relaxed": relaxed,
        "config_problem": config_problem,
    }


def refusal_message(
    context: Any, config_problem: str | None = None, report: str = "", policy: Policy | None = None
) -> dict[str, Any] | None:
    """The gate refused: an alert only where no check alert already said why (a check skipped, crashed
    without a result, or passed but with params the config does not let promote)."""
    from billing_readiness.core.results import collect_results

    checks = getattr(context.get("task"), "checks", {}) or {}
    results = collect_results(context, checks)
    if all(r is not None for r in results.values()) and any(not r["passed"] for r in results.values() if r):
        return None  # each failed check sent its own alert
    run_id = context.get("run_id") or context["ti"].run_id
    reason = str(context.get("exception") or "the promotion gate failed")
    text = (
        f":rotating_light: *M12.1 is not promoted to M12.2*: {reason}\n*Run:* {run_id}"
        + "".join("\n" + line for line in _report_line(report, policy))
        + (f"\n*Config:* {config_problem}" if config_problem else "")
    )
    return {
        "text": text,
        "subject": f"billing-readiness: M12.1 not promoted ({run_id})",
        "report": report,
        "event": REFUSED,
        "run_id": run_id,
        "reasons": [reason],
        "log_url": getattr(context["ti"], "log_url", ""),
        "config_problem": config_problem,
    }


BUILDERS = {FAILURE: failure_message, PASSED: passed_message, PROMOTION: promotion_message, REFUSED: refusal_message}


ALERT_HTML = """<p><b>{{ m.subject }}</b></p>
{% if m.reasons %}<ul>{% for r in m.reasons %}<li>{{ r }}</li>{% endfor %}</ul>
{% endif %}
{% if m.relaxed %}<p>Promoted with relaxed checks: {{ m.relaxed | join('; ') }}</p>
{% endif %}
{% if m.impact %}<p><b>Impact:</b> {{ m.impact }}</p>
{% endif %}
<p>Run: {{ m.run_id }}
{%- if m.log_url %} | <a href="{{ m.log_url }}">task log</a>{% endif %}
{%- if m.report %} | <a href="{{ m.report }}">readiness report</a>
{%- if m.report_folder %} (files: <code>{{ m.report_folder }}</code>){% endif %}{% endif %}</p>
{% if m.config_problem %}<p><b>Config:</b> {{ m.config_problem }}</p>{% endif %}"""


def html_body(message: dict[str, Any]) -> str:
    """The message as an e-mail body: the same facts as the text, escaped."""
    from billing_readiness.core.html import render

    return render(ALERT_HTML, m=message).strip()
