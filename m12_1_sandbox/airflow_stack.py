"""Airflow as production runs it, on this machine: a scheduler, a DAG processor, an API server and a
triggerer as separate processes (or `airflow standalone`), with a REST client to trigger and watch runs.

Used by the production command (m12_1_sandbox/production.py) and the tests that need a real scheduler.
Every process gets the same environment: metadata database, executor, JWT secret (the API server
must accept the tokens the scheduler gives its task workers), ports of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

TERMINAL = {"success", "failed"}
COMPONENTS = ("scheduler", "dag-processor", "api-server", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(base: dict, home: Path, port: int, sql_alchemy_conn: str | None = None) -> dict:
    """The environment every Airflow process of one stack shares."""
    env = dict(base)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__PARALLELISM=base.get("AIRFLOW__CORE__PARALLELISM", "4"),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",  # task logs as production has them (the report is logged at INFO)
        AIRFLOW__API_AUTH__JWT_SECRET=base.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_hex(32),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        PATH=f"{Path(sys.executable).parent}:{base.get('PATH', '')}",
    )
    if sql_alchemy_conn:
        env.update(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sql_alchemy_conn, AIRFLOW__CORE__EXECUTOR="LocalExecutor")
    return env


class AirflowStack:
    """Start (`standalone=True`: `airflow standalone`; else the four components), wait, drive over REST, stop."""

    def __init__(self, home: Path, env: dict, standalone: bool = False):
        self.home, self.env, self.standalone = home, env, standalone
        self.base = env["AIRFLOW__API__BASE_URL"]
        self.procs: list[subprocess.Popen] = []
        self.session = requests.Session()
        self.airflow = str(Path(sys.executable).parent / "airflow")

    def log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def migrate(self) -> None:
        with self.log("db-migrate").open("w") as out:
            subprocess.run(
                [self.airflow, "db", "migrate"], env=self.env, stdout=out, stderr=subprocess.STDOUT, check=True
            )

    def start(self) -> AirflowStack:
        commands = [["standalone"]] if self.standalone else [[c] for c in COMPONENTS]
        for command in commands:
            out = self.log(command[0]).open("a")
            self.procs.append(
                subprocess.Popen(
                    [self.airflow, *command], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        return self

    def tail(self, lines: int = 40) -> str:
        names = ["standalone"] if self.standalone else list(COMPONENTS)
        return "\n".join(
            f"--- {n} ---\n" + "\n".join(self.log(n).read_text(errors="replace").splitlines()[-lines:])
            for n in names
            if self.log(n).exists()
        )

    def wait_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p.args for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"Airflow process(es) exited: {dead}\n{self.tail()}")
            try:
                health = requests.get(f"{self.base}/api/v2/monitor/health", timeout=2).json()
                if all(
                    health.get(k, {}).get("status") == "healthy" for k in ("scheduler", "dag_processor", "triggerer")
                ):
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        else:
            raise RuntimeError(f"Airflow did not become healthy in {timeout}s\n{self.tail()}")
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = requests.post(
            f"{self.base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.api("GET", f"/dags/{dag_id}").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} was never parsed\n{self.tail()}")
            time.sleep(1)

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]

    def trigger(self, dag_id: str, conf: dict | None = None) -> requests.Response:
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            if state in TERMINAL:
                return state
            time.sleep(2)
        raise RuntimeError(f"{dag_id} {run_id} did not finish in {timeout}s\n{self.tail()}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs = []
