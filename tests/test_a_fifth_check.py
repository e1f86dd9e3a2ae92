"""A fifth check is its package and one line in CHECKS (config section, params and documentation included), or,
outside the package, one module (tests/fifth_check.py) passed to build(checks=[*CHECKS, it]): it then runs as a
task, gates promotion, appears in the report (Markdown and HTML), sends its own alert, and the DAG integrity
tests hold for it as they do for the four (they derive everything from CHECKS)."""

import json

from conftest import Run


def test_the_fifth_check_gates_reports_and_alerts(five_check_dag, make_sandbox, param_defaults, receiver, monkeypatch):
    dag = five_check_dag
    assert set(dag.get_task("promote_to_m12_2").upstream_task_ids) >= {"check_plan_limits"}
    sb = make_sandbox("fifth", large_events=5_000, medium_tenants=1, small_tenants=2)
    sb.configure(connections={"alerts": "alerts_webhook"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port})
    )
    ok = Run(dag.test(run_conf=param_defaults), sb)
    assert ok.state == "success" and ok.tasks["check_plan_limits"] == "success"
    assert ok.report["verdict"].startswith("READY: all 5 checks passed")
    [notice] = receiver.events("promoted")
    assert "all 5 readiness checks passed" in receiver.received[0]["json"]["text"]
    assert "## Check 5: Plan limits: PASS" in ok.markdown and "Plan limits checked for 4 tenant(s)." in ok.markdown

    sb.execute(
        f"INSERT INTO {sb.database}.tenant_quotas SELECT 'tenant-s01', 'queries_per_day', 0, 0, now(), now() + 60"
    )
    bad = Run(dag.test(run_conf=param_defaults), sb)
    assert bad.state == "failed" and bad.tasks["promote_to_m12_2"] == "failed"
    assert bad.codes("plan_limits") == {"no_limit"}
    assert bad.report["verdict"] == "NOT READY: Check 5: Plan limits failed."
    html = (bad.dir / "readiness.html").read_text()
    assert "Check 5: Plan limits" in html and "Plan limits checked for 4 tenant(s): tenant-s01" in html
    [alert] = receiver.events("check_failed")
    assert (alert["check"], alert["title"]) == ("plan_limits", "Check 5: Plan limits")
    assert alert["impact"] == "Tenants without a limit can run up usage nobody agreed to pay for."


PACKAGE = {
    "__init__.py": '''"""Check 5: every active tenant's plan has a positive daily query limit."""
from billing_readiness.checks.contract import ClickHouseCheck
from billing_readiness.checks.plan_limits.settings import PlanLimitsConfig
from billing_readiness.core.params import ParamSpec


class PlanLimits(ClickHouseCheck):
    """Check 5: every tenant's plan has a positive queries_per_day limit."""

    id = "plan_limits"
    title = "Check 5: Plan limits"
    asks = "every active tenant has a positive queries_per_day limit"
    impact = "Tenants without a limit can run up usage nobody agreed to pay for."
    config_sections = {"plan_limits": PlanLimitsConfig}
    params = {"min_plan_limit": ParamSpec(1, "integer", "Smallest plan limit", "Below it a plan has no limit.",
                                          loosens="lower", schema={"minimum": 0})}

    def parts(self):
        return dict, None


CHECK = PlanLimits()
''',
    "settings.py": """from pydantic import Field

from billing_readiness.core.settings import Section


class PlanLimitsConfig(Section):
    quota_type: str = Field("queries_per_day", description="the tenant_quotas row that holds the plan's limit")
""",
}

PROBE = """
import json
from billing_readiness.reporting.check_table import markdown
from billing_readiness.config import load_config
from billing_readiness.config.model import json_schema
from billing_readiness.dag import CHECKS, doc_md
from billing_readiness.core.params import dag_params
cfg = load_config({"plan_limits": {"quota_type": "queries_per_month"}})
print(json.dumps({
    "checks": [c.id for c in CHECKS],
    "config": cfg["plan_limits"],
    "param": "min_plan_limit" in dag_params(CHECKS),
    "doc": "`check_plan_limits` (Check 5: Plan limits)" in doc_md(CHECKS),
    "table": "every active tenant has a positive queries_per_day limit" in markdown(CHECKS),
    "schema": "plan_limits" in json_schema()["properties"],
}))
"""


def test_a_fifth_check_is_its_package_and_one_line_in_checks(tmp_path):
    """Copy the package, add a fifth check as its own package (with its own config section and param) and one
    line to CHECKS: the config, the trigger form's params, the DAG's documentation, the check table and the
    config schema all know it; no other file of the package was touched."""
    import difflib
    import os
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    shutil.copytree(
        ROOT / "plugins" / "billing_readiness",
        tmp_path / "billing_readiness",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    before = {p.relative_to(tmp_path): p.read_text() for p in (tmp_path / "billing_readiness").rglob("*.py")}
    package = tmp_path / "billing_readiness" / "checks" / "plan_limits"
    package.mkdir()
    for name, text in PACKAGE.items():
        (package / name).write_text(text)
    registry = tmp_path / "billing_readiness" / "checks" / "__init__.py"
    text = registry.read_text()
    line = '    "quota_enforcement",  # check 4: quota enforcement\n'
    assert text.count(line) == 1
    registry.write_text(text.replace(line, line + '    "plan_limits",  # check 5: plan limits\n'))

    after = {p.relative_to(tmp_path): p.read_text() for p in (tmp_path / "billing_readiness").rglob("*.py")}
    touched = sorted(str(p) for p in set(before) & set(after) if before[p] != after[p])
    added = sorted(str(p) for p in set(after) - set(before))
    assert touched == ["billing_readiness/checks/__init__.py"]
    assert added == [
        "billing_readiness/checks/plan_limits/__init__.py",
        "billing_readiness/checks/plan_limits/settings.py",
    ]
    diff = [
        line
        for line in difflib.unified_diff(
            before[registry.relative_to(tmp_path)].splitlines(), registry.read_text().splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert len(diff) == 1 and diff[0].startswith("+"), diff

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {
        "checks": ["usage_coverage", "invoice_immutability", "dashboard_latency", "quota_enforcement", "plan_limits"],
        "config": {"quota_type": "queries_per_month"},
        "param": True,
        "doc": True,
        "table": True,
        "schema": True,
    }
