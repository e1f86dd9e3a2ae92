"""The Airflow UI in a real browser (Debian's chromium driven by Playwright; nothing downloaded): log in,
open billing_readiness, read the trigger form, see an invalid value refused, trigger a valid run, see it
finish green, find the report summary in the task log, open the run's "Readiness report" tab and the DAG's
"Readiness history" tab (the plugin view) and see the report and the trend charts. Screenshots are saved as
test artifacts. And the plugin view's guards over real HTTP: Airflow's login and DAG access, and only files
under report.dir."""

import json
import os
import shutil

import pytest
from conftest import LOCAL, ROOT

from m12_1_sandbox.airflow_stack import AirflowStack, free_port, stack_env

ARTIFACTS = LOCAL / "test-artifacts" / "ui"


@pytest.fixture
def airflow_ui(make_sandbox, tmp_path):
    sb = make_sandbox("ui", large_events=5_000, medium_tenants=1, small_tenants=3)
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = stack_env(dict(os.environ), home, free_port())
    env.update(
        BILLING_READINESS_SCHEDULE="none",
        PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}",
        # a user who can log in but may read no DAG (Simple auth manager: no role)
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,nobody:",
    )
    stack = AirflowStack(home, env, standalone=True).start()
    try:
        stack.wait_healthy()
        stack.wait_for_dag("billing_readiness")
        yield stack, sb
    finally:
        stack.stop()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium drives the UI test (scripts/setup.sh installs it for the tests)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield browser.new_page(viewport={"width": 1400, "height": 1100})
        browser.close()


def test_trigger_form_refusal_green_run_and_report_in_the_log(airflow_ui, page, dag):
    stack, _ = airflow_ui
    password = json.loads((stack.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    page.goto(stack.base + "/", wait_until="networkidle")
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)

    page.goto(stack.base + "/dags/billing_readiness", wait_until="networkidle")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.wait_for()
    text = form.inner_text()
    for name in dag.params:  # every param, with its title and description
        param = dag.params.get_param(name)
        assert param.schema["title"] in text and param.description in text, name
        assert form.locator(f"[name=element_{name}]").count() == 1, name
    page.screenshot(path=str(ARTIFACTS / "trigger-form.png"))

    month = form.locator("input[name=element_billing_month]")
    month.fill("2025-13")  # not a month: the server refuses the run
    form.get_by_role("button", name="Trigger").click()
    page.get_by_text("Failed to Trigger Dag").wait_for(timeout=15_000)
    assert form.is_visible() and stack.runs("billing_readiness") == []
    page.screenshot(path=str(ARTIFACTS / "trigger-refused.png"))

    month.fill("")
    form.get_by_role("button", name="Trigger").press("Enter")  # the refusal's toast may cover the button
    page.wait_for_url("**/dags/billing_readiness/runs/**", timeout=30_000)
    [run] = stack.runs("billing_readiness")
    assert stack.wait_run("billing_readiness", run["dag_run_id"]) == "success"
    page.reload(wait_until="networkidle")
    page.get_by_text("success").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "run-success.png"))

    page.goto(
        f"{stack.base}/dags/billing_readiness/runs/{run['dag_run_id']}/tasks/readiness_report", wait_until="networkidle"
    )
    page.screenshot(path=str(ARTIFACTS / "task-page.png"))
    page.get_by_text("READY: all 4 checks passed").first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "report-in-task-log.png"))

    # The run's "Readiness report" tab: the HTML report, with its history part, inside Airflow.
    page.goto(f"{stack.base}/dags/billing_readiness/runs/{run['dag_run_id']}", wait_until="networkidle")
    page.get_by_role("tab", name="Readiness report").or_(
        page.get_by_role("link", name="Readiness report")
    ).first.click()
    report = page.frame_locator("iframe[title='Readiness report']")
    report.get_by_text("READY: all 4 checks passed").first.wait_for(timeout=30_000)
    assert report.locator("svg.trend").count() == 4 and report.get_by_text("Streak:").count() == 1
    page.screenshot(path=str(ARTIFACTS / "report-tab.png"))
    # The DAG's "Readiness history" tab: a row per run and each check's trend chart.
    page.goto(f"{stack.base}/dags/billing_readiness", wait_until="networkidle")
    page.get_by_role("tab", name="Readiness history").or_(
        page.get_by_role("link", name="Readiness history")
    ).first.click()
    history = page.frame_locator("iframe[title='Readiness history']")
    history.get_by_text(run["dag_run_id"]).wait_for(timeout=30_000)
    assert history.locator("svg.trend").count() == 4
    page.screenshot(path=str(ARTIFACTS / "history-tab.png"))


def _token(stack, user: str) -> str:
    import requests

    password = json.loads((stack.home / "simple_auth_manager_passwords.json.generated").read_text())[user]
    return requests.post(f"{stack.base}/auth/token", json={"username": user, "password": password}, timeout=10).json()[
        "access_token"
    ]


def test_the_report_view_needs_a_login_and_access_to_the_dag_and_serves_only_report_files(
    airflow_ui, dag, param_defaults
):
    """An anonymous request gets 401, a logged-in user without access to the DAG 403; a reader gets the run's
    report, and nothing outside the DAG's report folder: not `..`, not an absolute path, not a symlink out."""
    import requests
    from conftest import Run

    stack, sb = airflow_ui
    run = Run(dag.test(run_conf=param_defaults), sb)  # a real run writes its report under report.dir
    assert run.state == "success"
    base = f"{stack.base}/billing-readiness"
    url = f"{base}/report/billing_readiness/{requests.utils.quote(run.dagrun.run_id, safe='')}"
    reader = {"Authorization": f"Bearer {_token(stack, 'admin')}"}

    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(f"{base}/history/billing_readiness", timeout=10).status_code == 401
    nobody = {"Authorization": f"Bearer {_token(stack, 'nobody')}"}
    assert requests.get(url, headers=nobody, timeout=10).status_code == 403
    assert requests.get(f"{base}/history/billing_readiness", headers=nobody, timeout=10).status_code == 403

    ok = requests.get(url, headers=reader, timeout=10)
    assert ok.status_code == 200 and "READY: all 4 checks passed" in ok.text
    assert (
        "script-src" not in ok.headers["Content-Security-Policy"]
        and "default-src 'none'" in ok.headers["Content-Security-Policy"]
    )
    assert requests.get(f"{url}/readiness.json", headers=reader, timeout=10).json()["ready_for_billing"] is True
    page = requests.get(f"{base}/history/billing_readiness", headers=reader, timeout=10)
    assert page.status_code == 200 and run.dagrun.run_id in page.text

    secret = sb.report_dir.parent / "outside.txt"
    secret.write_text("not a report")
    (run.dir / "link-out.txt").symlink_to(secret)
    (sb.report_dir / "top-level.txt").write_text("not this DAG's")
    for path in (
        f"{url}/link-out.txt",
        f"{url}/..%2F..%2Foutside.txt",
        f"{url}/%2Fetc%2Fpasswd",
        f"{base}/report/billing_readiness/../top-level.txt",
        f"{base}/report/billing_readiness/..",
        f"{base}/report/billing_readiness/%2E%2E/top-level.txt",
        f"{url}/.hidden",
    ):
        refused = requests.get(path, headers=reader, timeout=10)
        assert refused.status_code in (400, 403, 404), (path, refused.status_code)
        assert "not a report" not in refused.text and "not this DAG" not in refused.text and "root:" not in refused.text
    assert requests.get(f"{url}/no-such-file.json", headers=reader, timeout=10).status_code == 404
