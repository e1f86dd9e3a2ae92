"""The README's promise: one command runs the DAG end to end on the sandbox (real `airflow dags test`)."""
import os
import subprocess

from conftest import ROOT


def run_dag_command(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    return subprocess.run(["bash", str(ROOT / "scripts" / "run-dag.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


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
