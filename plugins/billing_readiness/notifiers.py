"""Alerts through Airflow callbacks: one per failed check, and a notice when M12.1 is promoted.

The target is the HTTP connection named by config 'connections.alerts' (a
Slack-compatible incoming webhook: POST {"text": ..., "blocks": [...]} to the
connection's extra "path", default "/"). With no alert connection, or when it
cannot be read or reached, the message is logged instead. A broken config does
not stop the alert: it is sent with the defaults and says what is wrong.
For e-mail or the Slack provider, add their notifiers (SmtpNotifier,
SlackWebhookNotifier) to the same callbacks.
"""
from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from billing_readiness.relaxation import relaxed_params
from billing_readiness.config import VARIABLE_KEY, config_or_defaults
from billing_readiness.results import RESULT_XCOM_KEY, collect_results

FAILURE, PROMOTION, REFUSED = "check_failed", "promoted", "promotion_refused"


def failure_message(context: Any, config_problem: str | None = None) -> dict[str, Any]:
    """The alert for a failed check task: check, reason, impact, run id, log URL."""
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
        + (f"\n*Config:* {config_problem}" if config_problem else "")
    )
    return {
        "text": text,
        "event": FAILURE,
        "check": check.id if check else ti.task_id,
        "title": title,
        "reasons": reasons,
        "impact": impact,
        "run_id": run_id,
        "log_url": log_url,
        "config_problem": config_problem,
    }


def promotion_message(context: Any, config_problem: str | None = None) -> dict[str, Any]:
    run_id = context.get("run_id") or context["ti"].run_id
    checks = getattr(context.get("task"), "checks", {}) or {}
    relaxed = relaxed_params(list(checks.values()), dict(context.get("params") or {}))
    text = (f":white_check_mark: *M12.1 promoted to M12.2*: all {len(checks) or 'the'} readiness checks passed"
            + (f"; promoted with relaxed checks: {'; '.join(relaxed)}" if relaxed else "") + f".\n*Run:* {run_id}")
    return {"text": text, "event": PROMOTION, "run_id": run_id, "log_url": getattr(context["ti"], "log_url", ""),
            "relaxed": relaxed, "config_problem": config_problem}


def refusal_message(context: Any, config_problem: str | None = None) -> dict[str, Any] | None:
    """The gate refused: an alert only where no check alert already said why (a check skipped, crashed
    without a result, or passed but with params the config does not let promote)."""
    checks = getattr(context.get("task"), "checks", {}) or {}
    results = collect_results(context, checks)
    if all(r is not None for r in results.values()) and any(not r["passed"] for r in results.values()):
        return None  # each failed check sent its own alert
    run_id = context.get("run_id") or context["ti"].run_id
    reason = str(context.get("exception") or "the promotion gate failed")
    text = f":rotating_light: *M12.1 is not promoted to M12.2*: {reason}\n*Run:* {run_id}" + (
        f"\n*Config:* {config_problem}" if config_problem else "")
    return {"text": text, "event": REFUSED, "run_id": run_id, "reasons": [reason],
            "log_url": getattr(context["ti"], "log_url", ""), "config_problem": config_problem}


class ReadinessNotifier(BaseNotifier):
    """Sends a check-failure alert or a promotion notice (kind) to the alert webhook, or logs it."""

    def __init__(self, kind: str = FAILURE, alerts_conn_id: str | None = None, config_variable: str = VARIABLE_KEY):
        super().__init__()
        if kind not in (FAILURE, PROMOTION, REFUSED):
            raise ValueError(f"kind must be {FAILURE!r}, {PROMOTION!r} or {REFUSED!r}")
        self.kind = kind
        self.alerts_conn_id = alerts_conn_id
        self.config_variable = config_variable

    def notify(self, context: Any) -> None:
        from airflow.sdk import Variable

        cfg, problem = config_or_defaults(lambda: Variable.get(self.config_variable, default=None))
        build = {FAILURE: failure_message, PROMOTION: promotion_message, REFUSED: refusal_message}[self.kind]
        message = build(context, problem)
        if message is None:
            self.log.info("billing-readiness: no %s alert (the failed checks sent their own)", self.kind)
            return
        conn_id = self.alerts_conn_id or cfg["connections"]["alerts"]
        if not conn_id:
            self.log.warning("billing-readiness alert (no alert connection configured):\n%s", message["text"])
            return
        error = self._post(conn_id, message)
        if error:
            self.log.error("billing-readiness alert could not be sent to connection '%s' (%s); the alert:\n%s",
                           conn_id, error, message["text"])
        else:
            self.log.info("billing-readiness %s alert sent to connection '%s'", message["event"], conn_id)

    @staticmethod
    def _post(conn_id: str, message: dict) -> str | None:
        """POST the message to the webhook; the error in words (never the webhook's secret path), or None."""
        from billing_readiness.hooks.connections import get_connection
        from billing_readiness.hooks.http_api import HttpApiHook

        from airflow.sdk.log import mask_secret

        try:
            path = get_connection(conn_id, "http", "readiness alerts").extra_dejson.get("path", "/")
        except Exception as exc:  # missing connection or a secrets backend error: alert to the log instead
            return f"connection unreadable: {type(exc).__name__}"
        if path not in ("", "/"):
            mask_secret(path)  # a webhook's path is its secret (Slack: /services/T.../B.../token)
        payload = {"text": message["text"],
                   "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}],
                   "metadata": {"event_type": message["event"],
                                "event_payload": {k: v for k, v in message.items() if k != "text"}}}
        resp = HttpApiHook(conn_id, timeout_seconds=10, purpose="readiness alerts").request("POST", path, json=payload)
        if resp["status"] is None:
            return f"webhook unreachable: {resp['error'].split(':', 1)[0]}"
        if resp["status"] >= 300:
            return f"webhook answered HTTP {resp['status']}"
        return None
