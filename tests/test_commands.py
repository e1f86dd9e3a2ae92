"""The README's promise: one command runs the DAG end to end on the sandbox (real `airflow dags test`)."""

import os
import subprocess

import pytest
from conftest import ROOT


def run_dag_command(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "run-dag.sh"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_run_dag_promotes_the_healthy_sandbox(services):
    out = run_dag_command()
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "READY: all 4 checks passed" in out.stdout
    assert "| 4 | Check 4: Quota enforcement | PASS |" in out.stdout


def test_run_dag_with_a_fault_exits_non_zero_and_names_the_check(services):
    out = run_dag_command("--fault", "quota-not-enforced")
    assert out.returncode != 0
    assert "NOT READY: Check 4: Quota enforcement failed." in out.stdout
    assert "quota not enforced" in out.stdout


def test_connections_exported_as_the_readme_shows_are_used_as_written(services):
    """docs/operations.md "Pointing it at a real system": export AIRFLOW_CONN_* as JSON, then run; env.sh keeps them intact."""
    import json

    from conftest import CH_PASSWORD, CH_PORT, REDIS_PORT

    exported = {
        "AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT": json.dumps(
            {
                "conn_type": "clickhouse_native",
                "host": "127.0.0.1",
                "port": CH_PORT,
                "login": "readiness",
                "password": CH_PASSWORD,
                "schema": "m12_sandbox",
            }
        ),
        "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
            {"conn_type": "redis", "host": "127.0.0.1", "port": REDIS_PORT, "extra": {"db": 0}}
        ),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    shown = subprocess.run(
        [
            "bash",
            "-c",
            "source scripts/env.sh && printf '%s\\n%s' \"$AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT\" "
            '"$AIRFLOW_CONN_REDIS_DEFAULT"',
        ],
        cwd=ROOT,
        env={**env, **exported},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert shown == [exported["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"], exported["AIRFLOW_CONN_REDIS_DEFAULT"]]
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run-dag.sh")],
        cwd=ROOT,
        env={**env, **exported},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_run_like_production_promotes_on_postgres_backed_airflow(services):
    """docs/operations.md "Run it like production": one command, PostgreSQL metadata database, four Airflow processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run-like-production.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "metadata database postgresql+psycopg2://" in out.stdout
    assert "scheduler, dag-processor, api-server" in out.stdout
    assert "m12_2_billing_integration (triggered by the promotion Asset): success" in out.stdout
    assert "READY: all 4 checks passed" in out.stdout


@pytest.mark.parametrize(
    "fault, exit_zero, shown",
    [
        ("stalled-ingest", False, "Nothing new by ingestion for 2.0 h"),
        ("hourly-drift-today", False, "usage_hourly disagrees with usage_events"),
        ("non-finite-costs", False, "NaN or infinite cost_usd"),
        ("counter-no-expiry", False, "has no expiry"),
        ("negative-costs", True, "negative cost_usd"),
        ("silent-tenant", True, "Tenant 'acme-corp' has sent nothing for 6.0 h"),
        ("growing-tenant", True, "READY: all 4 checks passed"),
    ],
)
def test_run_dag_with_the_time_dependent_faults(services, fault, exit_zero, shown):
    """Each sandbox fault placed relative to now, through the README's one command: blocks, or warns."""
    out = run_dag_command("--fault", fault)
    assert (out.returncode == 0) == exit_zero, out.stdout[-3000:] + out.stderr[-3000:]
    assert shown in out.stdout, out.stdout[-4000:]
    if fault == "growing-tenant":  # a healthy shape: no warning at all
        assert "**WARN**" not in out.stdout, out.stdout[-4000:]


SCRIPTS = sorted(
    p.name for p in (ROOT / "scripts").glob("*.sh") if p.name not in ("env.sh", "lib.sh", "clickhouse-lib.sh")
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_answers_help_before_it_installs_or_starts_anything(script, tmp_path):
    """--help first: on a fresh machine (no .venv, no .local) or with a port taken, it prints and exits 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    env.update(VENV=str(tmp_path / "venv"), LOCAL_DIR=str(tmp_path / "local"))
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) >= 2 and "#" not in out.stdout.splitlines()[0], out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing installed, nothing started
    if script == "run-dag.sh":
        assert "--fault" in out.stdout and "stalled-ingest" in out.stdout
