"""billing-readiness as a user installs it: the wheel built from this repository, installed into a fresh venv
with Airflow and nothing of the repository on the path, runs the DAG end to end on the sandbox to a promotion,
and Airflow's providers manager lists the package, its connection type and its notifier."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, connection_env

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 3}


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{cmd}: exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the wheel and the tested pins (requirements.txt as constraints), outside the repository."""
    base = tmp_path_factory.mktemp("installed")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(ROOT)])
    [wheel] = (base / "dist").glob("billing_readiness-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            str(wheel),
            "-c",
            str(ROOT / "requirements.txt"),
        ]
    )
    return base, python, wheel


def test_the_wheel_holds_the_package_and_none_of_the_repository(installed):
    import zipfile

    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "billing_readiness/dag.py" in names and "billing_readiness/checks/usage_coverage/__init__.py" in names
    # the example DAG a pip user copies, and the typing marker of the extension API (Check, ParamSpec, build)
    assert {"billing_readiness/example_dags/billing_readiness_dag.py", "billing_readiness/py.typed"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "m12_1_sandbox/", "dags/", "billing_readiness_plugin"))]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: apache-airflow<4,>=3.3") for r in requires), requires
    assert not [r for r in requires if "==" in r or "psycopg" in r or "asyncpg" in r], requires


def test_the_installed_package_runs_the_dag_to_a_promotion(installed, make_sandbox, monkeypatch):
    base, python, _ = installed
    sb = make_sandbox("installed", **SMALL)
    dags, home = base / "dags", base / "home"
    dags.mkdir(exist_ok=True)
    # the few lines a user copies, from the installed package (nothing of the repository on the path)
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    example = run([str(python), "-m", "billing_readiness.example_dags"], cwd=base, env=bare).stdout.strip()
    assert example.startswith(str(base)) and "site-packages" in example, example
    shutil.copy(example, dags)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    env.update(
        connection_env(sb.database),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(base / "no-plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_VAR_BILLING_READINESS_CONFIG=json.dumps({"report": {"dir": str(base / "reports")}}),
        PATH=f"{python.parent}:{env['PATH']}",
    )
    where = run([str(python), "-c", "import billing_readiness; print(billing_readiness.__file__)"], env=env, cwd=base)
    assert where.stdout.strip().startswith(str(base / "venv")), where.stdout
    run([str(python), "-m", "airflow", "db", "migrate"], env=env, cwd=base)
    providers = json.loads(
        run([str(python), "-m", "airflow", "providers", "list", "-o", "json"], env=env, cwd=base).stdout
    )
    assert [p for p in providers if p["package_name"] == "billing-readiness"], providers
    hooks = run([str(python), "-m", "airflow", "providers", "hooks", "-o", "json"], env=env, cwd=base).stdout
    assert "clickhouse_native" in hooks and "billing_readiness.shell.hooks.clickhouse.ClickHouseHook" in hooks
    form = run(
        [
            str(python),
            "-c",
            "from airflow.providers_manager import ProvidersManager as P; "
            "print(sorted(k for k in P().connection_form_widgets if 'clickhouse_native' in k))",
        ],
        env=env,
        cwd=base,
    ).stdout
    for field in ("secure", "verify", "ca_certs", "server_hostname", "connect_timeout"):
        assert f"extra__clickhouse_native__{field}" in form, form  # the connection form's fields
    notifiers = run(
        [str(python), "-m", "airflow", "providers", "notifications", "-o", "json"], env=env, cwd=base
    ).stdout
    assert "billing_readiness.shell.notifiers.ReadinessNotifier" in notifiers
    test = subprocess.run(
        [str(python), "-m", "airflow", "dags", "test", "billing_readiness"],
        env=env,
        cwd=base,
        capture_output=True,
        text=True,
        timeout=900,
    )
    [report] = (base / "reports").rglob("readiness.json")
    doc = json.loads(report.read_text())
    assert test.returncode == 0 and doc["ready_for_billing"] is True, (doc["verdict"], test.stdout[-3000:])
    assert all(c["passed"] for c in doc["checks"]) and len(doc["checks"]) == 4
