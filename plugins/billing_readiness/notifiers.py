"""Alerts through Airflow callbacks: one per failed check, and a notice when M12.1 is promoted.

The target is the HTTP connection named by config 'connections.alerts' (a
Slack-compatible incoming webhook: POST {"text": ..., "blocks": [...]} to the
connection's extra "path", default "/"). With no alert connection, or when it
cannot be read or reached, the message is logged instead. A broken config does
not stop the alert: it is sent with the defaults and says what is wrong.
For e-mail or the Slack provider, add their notifiers (SmtpNotifier,
SlackWebhookNotifier) to the same callbacks. The messages themselves are built
in alert_messages.py (imported when an alert fires, not when the DAG is parsed).
"""
from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from billing_readiness import VARIABLE_KEY

from billing_readiness.alert_messages import FAILURE, PROMOTION, REFUSED


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
        from billing_readiness.alert_messages import BUILDERS
        from billing_readiness.config import variable_config_or_defaults

        cfg, problem = variable_config_or_defaults(self.config_variable)
        message = BUILDERS[self.kind](context, problem)
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
