"""Test setup: a private Airflow home, the real sandbox services, and helpers to seed and run.

Airflow reads its settings at import, so the environment is set here, before any
test module imports it. The sandbox services (ClickHouse, Redis, quota API) are
the real ones, started by scripts/services.sh if they are not running.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


LOCAL = ROOT / ".local"
AIRFLOW_HOME = LOCAL / "test-airflow"
CH_PORT = int(os.environ.get("SANDBOX_CH_TCP_PORT", 19000))
REDIS_PORT = int(os.environ.get("SANDBOX_REDIS_PORT", 16379))
API_PORT = int(os.environ.get("SANDBOX_API_PORT", 18700))
CH_HTTP_PORT = int(os.environ.get("SANDBOX_CH_HTTP_PORT", 18123))
CH_TLS_PORT = int(os.environ.get("SANDBOX_CH_TLS_PORT", 19440))
CH_TLS_CA = Path(os.environ.get("LOCAL_DIR", str(LOCAL))) / "tls" / "ca.pem"  # scripts/services.sh makes it
CH_PASSWORD = os.environ.get("SANDBOX_CH_READONLY_PASSWORD", "sandbox-readonly-7Qx2")  # scripts/env.sh

os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    # One Fernet key for this process and every Airflow process it starts, as in production: set before
    # anything imports Airflow, which would otherwise run without one (Variables stored unencrypted).
    AIRFLOW__CORE__FERNET_KEY=os.environ.get("AIRFLOW__CORE__FERNET_KEY") or _fernet_key(),
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
)
for var in [k for k in os.environ if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[var]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "tests" / "unit")]  # stand_ins for tests/unit/checks

UTC = dt.timezone.utc


def _airflow_db() -> None:
    if AIRFLOW_HOME.exists():
        shutil.rmtree(AIRFLOW_HOME)
    AIRFLOW_HOME.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def airflow_db():
    _airflow_db()
    yield


@pytest.fixture(autouse=True)
def _airflow_db_for_integration_tests(request):
    """Every test outside tests/unit gets a fresh Airflow metadata database (once per session);
    the pure tests in tests/unit need none and never import Airflow."""
    if "unit" not in request.node.path.relative_to(ROOT).parts[:2]:
        request.getfixturevalue("airflow_db")


@pytest.fixture(scope="session")
def services():
    """The real sandbox services, started by the project's script when not already running."""
    if not all(_port_open(p) for p in (CH_PORT, REDIS_PORT, API_PORT)):
        subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "start"], check=True)
    return {"clickhouse": CH_PORT, "redis": REDIS_PORT, "api": API_PORT}


@pytest.fixture(scope="session")
def ch(services):
    """An admin ClickHouse client for seeding and faults (the checks themselves connect read-only)."""
    from clickhouse_driver import Client

    client = Client(host="127.0.0.1", port=CH_PORT, send_receive_timeout=120)
    yield client
    client.disconnect()


@pytest.fixture(scope="session")
def redis_client(services):
    import redis

    return redis.Redis(host="127.0.0.1", port=REDIS_PORT, decode_responses=True)


def connection_env(
    database: str, api_port: int = API_PORT, ch_port: int = CH_PORT, ch_login: str = "readiness"
) -> dict[str, str]:
    """The sandbox's connections; `ch_login` the checks' ClickHouse user: "readiness" (profile readonly=2, the
    docs' recommendation) or "readiness_ro1" (readonly=1: no per-query setting, no table function)."""
    return {
        "AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT": json.dumps(
            {
                "conn_type": "clickhouse_native",
                "host": "127.0.0.1",
                "port": ch_port,
                "login": ch_login,
                "password": CH_PASSWORD,
                "schema": database,
            }
        ),
        "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
            {"conn_type": "redis", "host": "127.0.0.1", "port": REDIS_PORT, "extra": {"db": 0}}
        ),
        "AIRFLOW_CONN_QUOTA_API_DEFAULT": json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": api_port, "schema": "http"}
        ),
    }


class Sandbox:
    """A seeded sandbox database and the environment that points the DAG at it."""

    def __init__(self, ch, database: str, plan, monkeypatch, report_dir: Path):
        self.ch, self.database, self.plan, self.monkeypatch = ch, database, plan, monkeypatch
        self.report_dir = report_dir
        self.config: dict = {"report": {"dir": str(report_dir)}}
        self.api_port = API_PORT
        self.ch_port = CH_PORT  # a cluster's sandbox points at one of its shards
        self.ch_login = "readiness"  # the checks' ClickHouse user (connection_env)
        self.apply_env()

    @property
    def now(self) -> dt.datetime:
        return self.plan.now

    def execute(self, sql: str, *args, **kwargs):
        return self.ch.execute(sql, *args, **kwargs)

    def configure(self, **sections) -> None:
        self.config.update(sections)
        self.apply_env()

    def use_api(self, port: int) -> None:
        self.api_port = port
        self.apply_env()

    def apply_env(self) -> None:
        for key, value in connection_env(self.database, self.api_port, self.ch_port, self.ch_login).items():
            self.monkeypatch.setenv(key, value)
        self.monkeypatch.setenv("AIRFLOW_VAR_BILLING_READINESS_CONFIG", json.dumps(self.config))


@pytest.fixture
def make_sandbox(ch, monkeypatch, tmp_path):
    """make_sandbox(name, plan=None, large_events=...) -> Sandbox seeded in database `rt_<name>`."""
    from m12_1_sandbox import seed

    def make(name: str, plan=None, large_events: int = 20_000, **plan_kwargs) -> Sandbox:
        plan = plan or seed.default_plan(large_events=large_events, **plan_kwargs)
        database = f"rt_{name}"
        seed.seed(ch.execute, database, plan)
        return Sandbox(ch, database, plan, monkeypatch, tmp_path / "reports")

    return make


LARGE_SANDBOX_FRESH_FOR = dt.timedelta(minutes=10)


@pytest.fixture(scope="session")
def large_sandbox_db(ch):
    """The full-size sandbox (>= 1,000,000 events for the largest tenant), seeded once per session and again
    when a test needs it more than LARGE_SANDBOX_FRESH_FOR later: a seed is a metering system that stopped at
    its "now", and check 1 rightly calls a long-stopped one stalled."""
    from m12_1_sandbox import seed

    seeded: dict = {}

    def fresh():
        plan = seeded.get("plan")
        if plan is None or dt.datetime.now(dt.timezone.utc) - plan.now > LARGE_SANDBOX_FRESH_FOR:
            plan = seeded["plan"] = seed.default_plan()
            seed.seed(ch.execute, "rt_large", plan)
        return "rt_large", plan

    return fresh


@pytest.fixture
def large_sandbox(large_sandbox_db, ch, monkeypatch, tmp_path):
    database, plan = large_sandbox_db()
    return Sandbox(ch, database, plan, monkeypatch, tmp_path / "reports")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sandbox_process(services):
    """sandbox_process(module, *args) -> port of a real sandbox server process (m12_1_sandbox.<module>)."""
    procs = []

    def start(module: str, *args: str) -> int:
        port = _free_port()
        path = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])])
        proc = subprocess.Popen(
            [sys.executable, "-m", f"m12_1_sandbox.{module}", "--port", str(port), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        procs.append(proc)
        deadline = time.monotonic() + 30
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} {args} did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def quota_api(sandbox_process):
    """quota_api(fault, *more args) -> port of a real sandbox quota API with that misbehaviour switched on."""

    def start(fault: str = "none", *args: str) -> int:
        return sandbox_process("quota_api", "--fault", fault, "--redis-url", f"redis://127.0.0.1:{REDIS_PORT}/0", *args)

    return start


@pytest.fixture(scope="session")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["billing_readiness"]


class Run:
    def __init__(self, dagrun, sandbox: Sandbox):
        self.dagrun = dagrun
        self.state = str(dagrun.state)
        self.tasks = {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances()}
        from billing_readiness.reporting.artifacts import run_location as run_report_dir

        try:
            self.dir = run_report_dir(
                {"report": {"conn_id": None, **sandbox.config["report"]}}, dagrun.dag_id, dagrun.run_id
            )
        except Exception:
            self.dir = None
        found = self.dir is not None and (self.dir / "readiness.json").exists()
        self.report = json.loads((self.dir / "readiness.json").read_text()) if found else None
        self.markdown = (self.dir / "readiness.md").read_text() if found else ""

    def check(self, check_id: str) -> dict:
        return next(c for c in self.report["checks"] if c["check"] == check_id)

    def codes(self, check_id: str, severity: str = "fail") -> set[str]:
        return {f["code"] for f in self.check(check_id)["findings"] if f["severity"] == severity}


@pytest.fixture(scope="session")
def param_defaults(dag):
    return dict(dag.params.dump())


@pytest.fixture
def run_dag(dag, param_defaults):
    def run(sandbox: Sandbox, **conf) -> Run:
        # dag.test() keeps a run's conf in the DAG's params: always pass every param explicitly.
        return Run(dag.test(run_conf={**param_defaults, **conf}), sandbox)

    return run


class Receiver:
    """A Slack-style incoming webhook on loopback that keeps what it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, kind):
        return [
            r["json"]["metadata"]["event_payload"] for r in self.received if r["json"]["metadata"]["event_type"] == kind
        ]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def assert_check_3_timed_alone(task_instances):
    """Check 3 starts only after every other check ended: its timings never include the gate's own load.
    Checks 1, 2 and 4 do run in parallel (parallelism 4), so this is not the one-at-a-time of dag.test()."""
    from datetime import datetime

    span = {
        ti["task_id"]: (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
        for ti in task_instances
        if ti["task_id"].startswith("check_")
    }
    others = [span[t] for t in ("check_usage_coverage", "check_invoice_immutability", "check_quota_enforcement")]
    assert span["check_dashboard_latency"][0] >= max(end for _, end in others), span
    assert max(start for start, _ in others) < min(end for _, end in others), span  # the three overlapped


FIFTH_IMPORT = "import fifth_check  # check 5 (tests only)\n"
SHIPPED_LINE = "dag = build()\n"
FIFTH_LINE = 'dag = build("billing_readiness_5", checks=[*CHECKS, fifth_check.CHECK])  # plus check 5\n'


@pytest.fixture(scope="session")
def five_check_dag(airflow_db, tmp_path_factory):
    """The shipped DAG file with tests/fifth_check.py added as a deployment adds a check of its own: its import,
    and the package's CHECKS plus it in build() (with a test-only dag id). Nothing in the package changes."""
    source = (ROOT / "dags" / "billing_readiness_dag.py").read_text()
    imports = "from billing_readiness.dag import build\n"
    assert SHIPPED_LINE in source and imports in source
    folder = tmp_path_factory.mktemp("dags")
    copy = source.replace(SHIPPED_LINE, FIFTH_LINE).replace(
        imports, "from billing_readiness.dag import CHECKS, build\n" + FIFTH_IMPORT
    )
    assert len(copy.splitlines()) == len(source.splitlines()) + 1  # one line added, two changed
    (folder / "billing_readiness_5.py").write_text(copy)
    return dag_from_folder(folder, "billing_readiness_5")


def dag_from_folder(folder: Path, dag_id: str):
    """The DAG `dag_id` parsed from a DAGs folder and known to the metadata DB, ready for dag.test()."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()  # dag.test() runs only DAGs the DB knows, in a bundle it knows
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    return bag.dags[dag_id]
