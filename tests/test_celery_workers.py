"""The DAG on a distributed executor: CeleryExecutor (Redis as the broker, PostgreSQL as the metadata database and
the result backend) with two workers that share no folder: each has its own AIRFLOW_HOME and working directory,
and its own queue. Checks 1 and 2 (which writes the invoice CSV) run on one worker, checks 3 and 4, the gate
and the report on the other; config report.dir is an object-storage URL both reach (a file:// URL on a
folder standing for a bucket). A healthy run promotes with every artifact where the report says; a faulty
run fails the right check and alerts."""

import json
import os
import subprocess
import time

import pytest
from conftest import REDIS_PORT, ROOT
from test_production_shape import postgres

from m12_1_sandbox import faults
from m12_1_sandbox.airflow_stack import AirflowStack, free_port, stack_env

READINESS = "billing_readiness"
QUEUES = {
    "check_usage_coverage": "readiness_a",
    "check_invoice_immutability": "readiness_a",
    "check_dashboard_latency": "readiness_b",
    "check_quota_enforcement": "readiness_b",
    "promote_to_m12_2": "readiness_b",
    "readiness_report": "readiness_b",
}
DAG_FILE = f"""# The readiness Airflow DAG, each task on its worker's queue (DAG discovery's safe mode wants "airflow" here)
from billing_readiness.dag import build

dag = build(queues={QUEUES!r})
"""


@pytest.fixture
def celery(make_sandbox, receiver, tmp_path):
    database = "airflow_test_celery"
    postgres("start", database)
    postgres("reset", database)
    sb = make_sandbox("celery", large_events=20_000, medium_tenants=2, small_tenants=3)
    bucket = tmp_path / "bucket"
    sb.configure(connections={"alerts": "alerts_webhook"}, report={"dir": f"file://{bucket}/reports"})
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "billing_readiness_dag.py").write_text(DAG_FILE)
    home = tmp_path / "airflow-home"
    home.mkdir()
    url = postgres("url", database)
    env = stack_env(dict(os.environ), home, free_port(), url)
    env.update(
        BILLING_READINESS_SCHEDULE="none",
        PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/7",
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + url,  # SQLAlchemy URL with its driver (psycopg2)
        AIRFLOW__CELERY__WORKER_CONCURRENCY="2",
        AIRFLOW_CONN_ALERTS_WEBHOOK=json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port}),
    )
    stack = AirflowStack(home, env)
    stack.migrate()
    workers = {}
    try:
        stack.start()
        for name, queue in (("a", "readiness_a"), ("b", "readiness_b")):
            wd = tmp_path / f"worker-{name}"
            (wd / "home").mkdir(parents=True)
            wenv = {
                **env,
                "AIRFLOW_HOME": str(wd / "home"),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(wd / "home" / "logs"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
            log = (wd / "worker.log").open("w")
            workers[name] = (
                wd,
                subprocess.Popen(
                    [
                        str(ROOT / ".venv" / "bin" / "airflow") if (ROOT / ".venv").exists() else "airflow",
                        "celery",
                        "worker",
                        "--queues",
                        queue,
                        "--concurrency",
                        "2",
                        "--celery-hostname",
                        f"{name}@%h",
                    ],
                    cwd=wd,
                    env=wenv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
            )
        stack.wait_healthy()
        stack.wait_for_dag(READINESS)
        yield stack, sb, receiver, workers, bucket
    finally:
        for wd, proc in workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for wd, proc in workers.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        stack.stop()


def ran_on(workers, run_id) -> dict[str, str]:
    """Which worker ran each task: the one whose own log folder holds the task's log."""
    where = {}
    for name, (wd, _) in workers.items():
        for log in (wd / "home" / "logs").rglob("*.log"):
            parts = log.parts
            if any(p == f"run_id={run_id}" for p in parts):
                task = next(p.split("=", 1)[1] for p in parts if p.startswith("task_id="))
                where[task] = name
    return where


def run_to_end(stack, conf=None):
    resp = stack.trigger(READINESS, conf)
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    return run_id, stack.wait_run(READINESS, run_id, timeout=600)


def test_two_celery_workers_without_a_shared_folder(celery):
    stack, sb, receiver, workers, bucket = celery
    run_id, state = run_to_end(stack)
    states = stack.task_states(READINESS, run_id)
    assert state == "success", (states, stack.tail(), (workers["a"][0] / "worker.log").read_text()[-3000:])
    where = ran_on(workers, run_id)
    assert where == {task: queue[-1] for task, queue in QUEUES.items()}, where
    for ti in stack.task_instances(READINESS, run_id):
        assert ti["queue"] == QUEUES[ti["task_id"]]
    folder = bucket / "reports" / READINESS / run_id.replace(":", "_").replace("+", "_")
    report = json.loads((folder / "readiness.json").read_text())
    csvs = [p.name for p in folder.glob("invoices-*.csv")]
    assert report["ready_for_billing"] and len(csvs) == 1, (report["verdict"], list(folder.iterdir()))
    assert f"`{csvs[0]}`" in (folder / "readiness.md").read_text()  # the report names the CSV beside it
    for name, (wd, _) in workers.items():  # nothing of the run landed in a worker's own folders
        assert not list(wd.rglob("readiness.json")) and not list(wd.rglob("invoices-*.csv")), name

    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    run_id, state = run_to_end(stack)
    states = stack.task_states(READINESS, run_id)
    assert state == "failed" and states["check_usage_coverage"] == "failed", states
    assert states["promote_to_m12_2"] == "failed" and states["readiness_report"] == "success", states
    deadline = time.monotonic() + 60
    while not receiver.events("check_failed") and time.monotonic() < deadline:
        time.sleep(1)
    [alert] = [a for a in receiver.events("check_failed")]
    assert "tenant-ghost" in json.dumps(alert) and run_id in json.dumps(alert)
    assert ran_on(workers, run_id)["check_usage_coverage"] == "a"
