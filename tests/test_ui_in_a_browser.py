"""The Airflow UI in a real browser (Debian's chromium driven by Playwright; nothing downloaded): log in,
open billing_readiness, read the trigger form, see an invalid value refused, trigger a valid run, see it
finish green, and find the report summary in the task log. Screenshots are saved as test artifacts."""
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
    env.update(BILLING_READINESS_SCHEDULE="none", PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}")
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

    page.goto(f"{stack.base}/dags/billing_readiness/runs/{run['dag_run_id']}/tasks/readiness_report",
              wait_until="networkidle")
    page.screenshot(path=str(ARTIFACTS / "task-page.png"))
    page.get_by_text("READY: all 4 checks passed").first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "report-in-task-log.png"))
