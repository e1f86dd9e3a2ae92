"""The plugin is registered once, however Airflow finds it (the plugins folder and the installed package's entry
point), so the deployment's other plugins still load: Airflow 3.3's task-runner plugin loader stops at the first
name it sees twice, which had silently dropped the OpenLineage provider's listener."""

import json
import os
import subprocess
import sys

from conftest import ROOT

CODE = """
import json
from airflow import plugins_manager as core
from airflow.sdk import plugins_manager as sdk
for name, manager in (("core", core), ("sdk", sdk)):
    plugins, errors = manager._get_plugins()
    print(json.dumps({"where": name, "plugins": [p.name for p in plugins], "sources": [str(p.source)[:80] for p in plugins],
                      "listeners": [type(l).__name__ for p in plugins for l in p.listeners], "errors": errors}))
"""


def test_the_plugin_loads_once_and_the_openlineage_listener_with_it(airflow_db):
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}',
    }
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    loaded = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [x["where"] for x in loaded] == ["core", "sdk"], out.stderr[-2000:]
    for x in loaded:
        assert x["plugins"].count("billing_readiness") == 1 and "OpenLineageProviderPlugin" in x["plugins"], x
        assert x["errors"] == {}, x
    assert "OpenLineageListener" in loaded[1]["listeners"]
    assert "already registered" not in out.stderr
