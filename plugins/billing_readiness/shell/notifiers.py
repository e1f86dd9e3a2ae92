"""Alerts through Airflow callbacks, worth reading: a failed check alerts on its first run and then as a reminder
per config alerts.remind_every_hours; a check that passes again says so; new warnings and every promotion
where config alerts.notify_on asks (alert_policy.py decides from the run history); the gate alerts when it
refuses without a check having said why. Every alert links the run's report (artifacts.report_url).

The built-in ReadinessNotifier posts to the HTTP connection named by config 'connections.alerts': a
Slack-compatible incoming webhook, POST {"text": ..., "blocks": [...]} to the path held in the connection's
*password* (masked everywhere; a path in extra "path" still works, with a warning to move it). With no alert
connection, or when it cannot be read or reached, the message is logged instead. A broken config does not
stop the alert: it is sent with the defaults and says what is wrong.

Any Airflow notifier gets the same message: `billing_readiness.shell.dag.build(notifiers=[...])` wraps each in
ForwardedAlert, which renders the notifier's templates with `billing_readiness` in the context (subject,
text, html, reasons, run_id, log_url, report). E.g. SlackWebhookNotifier(text=TEXT) or
SmtpNotifier(subject=SUBJECT, html_content=HTML). The messages are built in alert_messages.py (imported when
an alert fires, not when the DAG is parsed).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from billing_readiness import VARIABLE_KEY
from billing_readiness.reporting.alert_messages import FAILURE, PASSED, PROMOTION, REFUSED

KINDS = (FAILURE, PASSED, PROMOTION, REFUSED)
MESSAGE_MEMO = "_billing_readiness_message"  # the message built for this callback context
# Templates for any notifier's fields: the readiness message as ForwardedAlert puts it in the context.
SUBJECT = "{{ billing_readiness.subject }}"
TEXT = "{{ billing_readiness.text }}"
HTML = "{{ billing_readiness.html }}"


class ReadinessNotifier(BaseNotifier):
    """Sends a check-failure alert or a promotion notice (kind) to the alert webhook, or logs it."""

    def __init__(self, kind: str = FAILURE, alerts_conn_id: str | None = None, config_variable: str = VARIABLE_KEY):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}")
        self.kind = kind
        self.alerts_conn_id = alerts_conn_id
        self.config_variable = config_variable

    def message(self, context: Any) -> tuple[dict | None, dict]:
        """(the readiness message for this kind, or None when there is nothing worth saying now; the config).
        Built once per callback context: the built-in alert and every forwarded one share it (one config,
        history and XCom read)."""
        from billing_readiness.config import variable_config_or_defaults
        from billing_readiness.reporting.alert_messages import BUILDERS, html_body

        memo = context.get(MESSAGE_MEMO) if isinstance(context, dict) else None
        if memo is not None and memo[0] == (self.kind, self.config_variable):
            return memo[1], memo[2]
        cfg, problem = variable_config_or_defaults(self.config_variable)
        run_id = context.get("run_id") or context["ti"].run_id
        policy = self._policy(context, cfg, run_id)
        report = self._report_url(context, cfg, run_id)
        message = BUILDERS[self.kind](context, problem, report=report, policy=policy)
        for note in policy.notes if policy else []:
            self.log.info("billing-readiness: %s", note)
        if message is not None:
            message["report_folder"] = policy.report_folder if policy else ""
            message["html"] = html_body(message)
        if isinstance(context, dict):
            context[MESSAGE_MEMO] = ((self.kind, self.config_variable), message, cfg)
        return message, cfg

    def _report_url(self, context: Any, cfg: dict, run_id: str) -> str:
        from billing_readiness.reporting.artifacts import report_url

        dag = context.get("dag")
        return report_url(cfg, dag.dag_id, run_id, config_variable=self.config_variable) if dag is not None else ""

    def _policy(self, context: Any, cfg: dict, run_id: str):
        """What the alert policy decides from: the runs before this one (None when the history cannot be read:
        the alert goes out) and this run's anchor."""
        import datetime as dt

        from billing_readiness.core.run_anchor import from_context
        from billing_readiness.reporting import history, history_store
        from billing_readiness.reporting.alert_messages import Policy
        from billing_readiness.reporting.artifacts import describe

        dag = context.get("dag")
        if dag is None:
            return None
        as_of = from_context(context, dt.datetime.now(dt.timezone.utc)).at.isoformat()
        try:
            previous = history.previous(history_store.load(cfg, dag.dag_id, before=as_of), run_id, as_of)
        except Exception as exc:  # noqa: BLE001 - an unreadable history must not silence an alert
            self.log.warning(
                "billing-readiness: the run history could not be read (%s: %s); alerting as if this were the first run",
                type(exc).__name__,
                exc,
            )
            previous = None
        return Policy(previous, cfg["alerts"], as_of, report_folder=describe(cfg, dag.dag_id, run_id))

    def notify(self, context: Any) -> None:
        message, cfg = self.message(context)
        if message is None:
            self.log.info("billing-readiness: no %s alert", self.kind)
            return
        conn_id = self.alerts_conn_id or cfg["connections"]["alerts"]
        if not conn_id:
            self.log.warning("billing-readiness alert (no alert connection configured):\n%s", message["text"])
            return
        error = self._post(conn_id, message)
        if error:
            self.log.error(
                "billing-readiness alert could not be sent to connection '%s' (%s); the alert:\n%s",
                conn_id,
                error,
                message["text"],
            )
        else:
            self.log.info("billing-readiness %s alert sent to connection '%s'", message["event"], conn_id)

    def _post(self, conn_id: str, message: dict) -> str | None:
        """POST the message to the webhook; the error in words (never the webhook's secret path), or None."""
        from airflow.sdk.log import mask_secret

        from billing_readiness.shell.hooks.connections import get_connection
        from billing_readiness.shell.hooks.http_api import HttpApiHook

        try:
            conn = get_connection(conn_id, "http", "readiness alerts")
        except Exception as exc:  # noqa: BLE001 - missing connection or a secrets backend error: alert to the log
            return f"connection unreadable: {type(exc).__name__}"
        path = "/" + (conn.password or conn.extra_dejson.get("path") or "").strip().lstrip("/")
        if not conn.password and conn.extra_dejson.get("path") not in (None, "", "/"):
            self.log.warning(
                "Alert connection '%s' keeps the webhook's secret path in extra 'path', which Airflow "
                "shows in the UI and CLI: move it to the connection's password",
                conn_id,
            )
        if path not in ("", "/"):
            mask_secret(path)  # a webhook's path is its secret (Slack: /services/T.../B.../token)
        payload = {
            "text": message["text"],
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}],
            "metadata": {
                "event_type": message["event"],
                "event_payload": {k: v for k, v in message.items() if k != "text"},
            },
        }
        hook = HttpApiHook(
            conn_id, timeout_seconds=10, purpose="readiness alerts", password_is_path=bool(conn.password)
        )
        resp = hook.request("POST", path, json=payload)
        if resp["status"] is None:
            return f"webhook unreachable: {resp['error'].split(':', 1)[0]}"
        if resp["status"] >= 300:
            return f"webhook answered HTTP {resp['status']}"
        return None


class ForwardedAlert(ReadinessNotifier):
    """Hands the readiness message of `kind` to any Airflow notifier (Slack, SMTP, PagerDuty, ...): the
    notifier's template fields are rendered with `billing_readiness` (the message) in the context, so
    SUBJECT, TEXT and HTML (or any `{{ billing_readiness.<key> }}`) carry what the built-in alert says.
    A copy of the notifier is rendered each time: rendering is in place, and one alert must not become the
    next one's text."""

    def __init__(self, notifier: BaseNotifier, kind: str = FAILURE, config_variable: str = VARIABLE_KEY):
        super().__init__(kind=kind, config_variable=config_variable)
        if not callable(notifier):
            raise TypeError(f"notifier must be an Airflow notifier (BaseNotifier), got {type(notifier).__name__}")
        self.notifier = notifier

    def notify(self, context: Any) -> None:
        import copy

        message, _ = self.message(context)
        if message is None:
            return
        forwarded = dict(context)
        forwarded["billing_readiness"] = message
        try:
            copy.deepcopy(self.notifier)(forwarded)
        except Exception as exc:  # noqa: BLE001 - an alert channel down must not hide the others or the verdict
            self.log.error(
                "billing-readiness %s alert could not be sent through %s: %s\nThe alert:\n%s",
                self.kind,
                type(self.notifier).__name__,
                exc,
                message["text"],
            )
        else:
            self.log.info("billing-readiness %s alert sent through %s", message["event"], type(self.notifier).__name__)


def callbacks(kind: str, notifiers: list | None, config_variable: str = VARIABLE_KEY) -> list[BaseNotifier]:
    """The callbacks for one kind of alert: the built-in one, and each of the user's notifiers with the same message."""
    return [
        ReadinessNotifier(kind=kind, config_variable=config_variable),
        *(ForwardedAlert(n, kind=kind, config_variable=config_variable) for n in notifiers or []),
    ]
