"""Alerts through Airflow callbacks: one per failed check, and a notice when M12.1 is promoted.

The target is the HTTP connection named by config 'connections.alerts' (a
Slack-compatible incoming webhook: POST {"text": ..., "blocks": [...]} to the
connection's extra "path", default "/"). With no alert connection the message
is logged instead. For e-mail or the Slack provider, add their notifiers
(SmtpNotifier, SlackWebhookNotifier) to the same callbacks.
"""
from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from billing_readiness.checks import CHECKS

FAILURE, PROMOTION = "check_failed", "promoted"


def failure_message(context: Any) -> dict[str, Any]:
    """The alert for a failed check task: check, reason, impact, run id, log URL."""
    from billing_readiness.operators.base import RESULT_XCOM_KEY

    ti = context["ti"]
    task = context.get("task") or getattr(ti, "task", None)
    check_id = getattr(task, "check_id", "") or ti.task_id
    title, impact = CHECKS.get(check_id, (ti.task_id, "Promotion to M12.2 is blocked."))
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
    )
    return {
        "text": text,
        "event": FAILURE,
        "check": check_id,
        "title": title,
        "reasons": reasons,
        "impact": impact,
        "run_id": run_id,
        "log_url": log_url,
    }


def promotion_message(context: Any) -> dict[str, Any]:
    run_id = context.get("run_id") or context["ti"].run_id
    text = (
        ":white_check_mark: *M12.1 promoted to M12.2*: all four readiness checks passed "
        f"(data accuracy, immutable costs, dashboard performance, quota enforcement).\n*Run:* {run_id}"
    )
    return {"text": text, "event": PROMOTION, "run_id": run_id, "log_url": getattr(context["ti"], "log_url", "")}


class ReadinessNotifier(BaseNotifier):
    """Sends a check-failure alert or a promotion notice (kind) to the alert webhook, or logs it."""

    def __init__(self, kind: str = FAILURE, alerts_conn_id: str | None = None):
        super().__init__()
        if kind not in (FAILURE, PROMOTION):
            raise ValueError(f"kind must be {FAILURE!r} or {PROMOTION!r}")
        self.kind = kind
        self.alerts_conn_id = alerts_conn_id

    def notify(self, context: Any) -> None:
        message = failure_message(context) if self.kind == FAILURE else promotion_message(context)
        conn_id = self.alerts_conn_id or self._configured_conn_id()
        if not conn_id:
            self.log.warning("billing-readiness alert (no alert connection configured):\n%s", message["text"])
            return
        from billing_readiness.hooks.connections import get_connection
        from billing_readiness.hooks.http_api import HttpApiHook

        path = get_connection(conn_id, "http", "readiness alerts").extra_dejson.get("path", "/")
        payload = {"text": message["text"], "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}],
                   "metadata": {"event_type": message["event"], "event_payload": {k: v for k, v in message.items() if k != "text"}}}
        resp = HttpApiHook(conn_id, timeout_seconds=10, purpose="readiness alerts").request("POST", path, json=payload)
        if resp["status"] is None or resp["status"] >= 300:
            raise RuntimeError(f"alert to connection '{conn_id}' failed: {resp['status'] or resp['error']}")
        self.log.info("billing-readiness %s alert sent to connection '%s'", message["event"], conn_id)

    @staticmethod
    def _configured_conn_id() -> str | None:
        from billing_readiness.operators.base import load_config_variable

        return load_config_variable()["connections"]["alerts"]
