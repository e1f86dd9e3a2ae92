"""Alerts arrive at a real HTTP receiver for a failed check and not for a pass; the promotion notice and
the Asset event happen only when all four checks pass; invalid params are refused; the HTML report renders."""

import json
import shutil
import subprocess

import pytest

from m12_1_sandbox import faults

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 3}


def alerting(sandbox, receiver, monkeypatch):
    sandbox.configure(connections={"alerts": "alerts_webhook"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port, "password": "/services/T0/B0/x"}),
    )


def asset_events():
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_run_id)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "m12_1_ready_for_billing")
        ).all()
    return [(extra, run_id) for extra, run_id in rows]


def test_all_pass_sends_the_promotion_notice_and_updates_the_asset(make_sandbox, run_dag, receiver, monkeypatch):
    sb = make_sandbox("al_pass", **SMALL)
    alerting(sb, receiver, monkeypatch)
    before = len(asset_events())
    run = run_dag(sb)
    assert run.state == "success"
    assert receiver.events("check_failed") == []
    [notice] = receiver.events("promoted")
    assert notice["run_id"] == run.dagrun.run_id
    assert (
        receiver.received[0]["path"] == "/services/T0/B0/x"
        and "promoted to M12.2" in receiver.received[0]["json"]["text"]
    )
    events = asset_events()
    assert len(events) == before + 1
    extra, source_run = events[-1]
    assert source_run == run.dagrun.run_id and extra["ready_for_billing"] is True
    assert set(extra["checks"]) == {"usage_coverage", "invoice_immutability", "dashboard_latency", "quota_enforcement"}


def test_a_failed_check_alerts_once_and_promotes_nothing(make_sandbox, run_dag, receiver, monkeypatch, quota_api):
    sb = make_sandbox("al_fail", **SMALL)
    alerting(sb, receiver, monkeypatch)
    sb.use_api(quota_api("not_enforced"))
    before = len(asset_events())
    run = run_dag(sb)
    assert run.state == "failed"
    [alert] = receiver.events("check_failed")
    assert alert["check"] == "quota_enforcement" and alert["run_id"] == run.dagrun.run_id
    assert "quota not enforced" in alert["reasons"][0]
    assert alert["impact"] == "Runaway usage that nobody will pay for."
    assert alert["log_url"].startswith("http") and "check_quota_enforcement" in alert["log_url"]
    assert receiver.events("promoted") == []
    assert len(asset_events()) == before


def test_two_failed_checks_send_two_alerts(make_sandbox, run_dag, receiver, monkeypatch, quota_api):
    sb = make_sandbox("al_two", **SMALL)
    faults.add_active_tenant_without_usage(sb.execute, sb.database)
    sb.use_api(quota_api("off_by_one"))
    alerting(sb, receiver, monkeypatch)
    run_dag(sb)
    assert sorted(a["check"] for a in receiver.events("check_failed")) == ["quota_enforcement", "usage_coverage"]


def test_without_an_alert_connection_the_alert_is_logged(make_sandbox, run_dag, quota_api, capfd):
    sb = make_sandbox("al_log", **SMALL)
    sb.use_api(quota_api("not_enforced"))
    run = run_dag(sb)
    assert run.state == "failed"
    out = "".join(capfd.readouterr())
    assert (
        "billing-readiness alert (no alert connection configured)" in out and "Check 4: Quota enforcement failed" in out
    )


def test_a_malformed_config_still_alerts_and_reports_why(make_sandbox, run_dag, receiver, monkeypatch):
    sb = make_sandbox("al_badcfg", **SMALL)
    alerting(sb, receiver, monkeypatch)
    sb.configure(quota={"key_ttl_seconds": "soon"})  # a wrong type: every check refuses the config
    run = run_dag(sb)
    assert run.state == "failed" and run.tasks["readiness_report"] == "success"
    alerts = receiver.events("check_failed")
    assert len(alerts) == 4 and all("quota.key_ttl_seconds" in a["reasons"][0] for a in alerts)
    assert all("invalid config" in a["config_problem"] for a in alerts)
    assert "quota.key_ttl_seconds" in run.report["run"]["config_problem"] and "Config problem" in run.markdown


@pytest.mark.parametrize(
    "conf, param",
    [
        ({"lookback_days": 0}, "lookback_days"),
        ({"billing_month": "2025-13"}, "billing_month"),
        ({"latency_threshold_s": -1}, "latency_threshold_s"),
        ({"probe_quota_limit": "ten"}, "probe_quota_limit"),
        ({"repetitions": 1000}, "repetitions"),
    ],
)
def test_invalid_params_are_refused_naming_the_param(dag, param_defaults, conf, param):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError) as err:
        dag.test(run_conf={**param_defaults, **conf})  # refused when the run is created, before any task
    assert param in str(err.value)


def test_the_html_report_shows_heat_map_latency_and_probe(make_sandbox, run_dag, tmp_path):
    sb = make_sandbox("al_html", **SMALL)
    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    run = run_dag(sb)
    html = (run.dir / "readiness.html").read_text()
    assert "NOT READY" in html and "tenant-ghost" in html
    assert 'class="heat"' in html and 'title="tenant-ghost ' in html and "#d92d20" in html  # red cells
    assert "<svg" in html and "threshold 1.000s" in html
    assert "Sequential probe, request by request" in html and "expected 429" in html
    assert "<script" not in html and "<link" not in html and " src=" not in html  # self-contained
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed to render the report (scripts/setup.sh installs it for tests)"
    png = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            f"--screenshot={png}",
            f"file://{run.dir / 'readiness.html'}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one


USER_NOTIFIERS_DAG = '''"""A deployment's own Airflow DAG file: the readiness DAG with its Slack and e-mail notifiers."""
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from billing_readiness.dag import build
from billing_readiness.shell.notifiers import HTML, SUBJECT, TEXT

dag = build("billing_readiness_notified", notifiers=[
    SlackWebhookNotifier(slack_webhook_conn_id="slack_test", text=TEXT),
    SmtpNotifier(smtp_conn_id="smtp_test", from_email="readiness@example.test", to="billing@example.test",
                 subject=SUBJECT, html_content=HTML),
])
'''


class Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps the messages it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        from conftest import _free_port

        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=_free_port())
        self.controller.start()
        self.port = self.controller.port

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def bodies(self) -> list[tuple[str, str]]:
        return [(m["Subject"], m.get_body(preferencelist=("html", "plain")).get_content()) for m in self.messages]


def test_the_users_slack_and_smtp_notifiers_get_the_same_alerts(
    make_sandbox, receiver, monkeypatch, tmp_path, param_defaults, airflow_db
):
    """SlackWebhookNotifier posts to a webhook on loopback (real HTTP) and SmtpNotifier mails a real SMTP server,
    each with the built-in alert's subject and body: the promotion, then a failed check with its reasons."""
    from conftest import Run, dag_from_folder

    inbox = Inbox()
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_TEST",
            json.dumps(
                {
                    "conn_type": "slackwebhook",
                    "host": f"127.0.0.1:{receiver.port}",
                    "schema": "http",
                    "password": "services/T1/B1/slack-secret",
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_TEST",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": inbox.port,
                    "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "readiness@example.test"},
                }
            ),
        )
        folder = tmp_path / "dags"
        folder.mkdir()
        (folder / "notified.py").write_text(USER_NOTIFIERS_DAG)
        dag = dag_from_folder(folder, "billing_readiness_notified")
        sb = make_sandbox("user_notifiers", **SMALL)

        ok = Run(dag.test(run_conf=param_defaults), sb)
        assert ok.state == "success", ok.report["verdict"]
        [posted] = receiver.received
        assert posted["path"] == "/services/T1/B1/slack-secret" and "promoted to M12.2" in posted["json"]["text"]
        [(subject, body)] = inbox.bodies()
        assert subject == f"billing-readiness: M12.1 promoted to M12.2 ({ok.dagrun.run_id})"
        assert str(ok.dir) in body

        faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
        failed = Run(dag.test(run_conf=param_defaults), sb)
        assert failed.tasks["check_usage_coverage"] == "failed" and failed.tasks["promote_to_m12_2"] == "failed"
        assert len(receiver.received) == 2 and len(inbox.messages) == 2  # one alert per failed check, no refusal
        text = receiver.received[1]["json"]["text"]
        subject, body = inbox.bodies()[1]
        assert "Check 1: ClickHouse data accuracy failed" in text and "tenant-ghost" in text
        assert (
            subject
            == f"billing-readiness: Check 1: ClickHouse data accuracy failed, M12.1 not promoted ({failed.dagrun.run_id})"
        )
        assert "tenant-ghost" in body and "<li>" in body and str(failed.dir) in body and str(failed.dir) in text
    finally:
        inbox.controller.stop()
