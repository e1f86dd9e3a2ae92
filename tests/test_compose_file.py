"""docker-compose.yaml agrees with the DAG: the official Airflow 3 shape, a healthcheck on every long-running
service, dags/ and plugins/ mounted, the connection ids and config the DAG reads, and the Grafana dashboard
that check 3 times provisioned from the same file. There is no Docker engine here: Debian's docker-compose
validates the file offline, and this test reads it."""
import json
import re
import shutil
import subprocess

import yaml

from conftest import ROOT
from billing_readiness.config import load_config

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler", "airflow-dag-processor": "dag-processor",
           "airflow-triggerer": "triggerer"}
ONE_SHOT = {"airflow-init", "seed"}
DASHBOARD = json.loads((ROOT / "m12_1_sandbox" / "grafana" / "tenant-usage-dashboard.json").read_text())


def with_defaults(text: str) -> str:
    """${VAR:-default} as compose fills it in with no .env."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def env(service: str) -> dict:
    return {k: with_defaults(str(v)) for k, v in SERVICES[service]["environment"].items()}


def test_docker_compose_validates_the_file():
    binary = shutil.which("docker-compose")
    assert binary, "Debian's docker-compose validates the file (scripts/setup.sh installs it for the tests)"
    out = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_the_official_airflow_3_shape():
    assert set(SERVICES) == {"postgres", "airflow-init", *AIRFLOW, "clickhouse", "redis", "quota-api", "seed", "grafana"}
    for service, command in AIRFLOW.items():
        assert SERVICES[service]["command"] == command
        assert SERVICES[service]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert SERVICES[service]["depends_on"]["postgres"]["condition"] == "service_healthy"
        e = env(service)
        assert e["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        volumes = SERVICES[service]["volumes"]
        assert "./dags:/opt/airflow/dags" in volumes and "./plugins:/opt/airflow/plugins" in volumes
        assert SERVICES[service]["build"]["dockerfile"] == "docker/airflow.Dockerfile"
    assert "airflow db migrate" in SERVICES["airflow-init"]["command"][1]
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in dockerfile and "-r /requirements.txt" in dockerfile


def test_every_long_running_service_has_a_healthcheck_and_one_shots_are_waited_for():
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no"
            assert any(s.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"
                       for s in SERVICES.values())
        else:
            assert service["healthcheck"]["test"], name
    named = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(COMPOSE["volumes"]) and "postgres-db" in named and "airflow-reports" in named


def test_connections_and_config_are_the_ones_the_dag_reads():
    e = env("airflow-scheduler")
    cfg = load_config(e["AIRFLOW_VAR_BILLING_READINESS_CONFIG"])  # valid, as the checks will load it
    conns = {k[len("AIRFLOW_CONN_"):].lower(): json.loads(v) for k, v in e.items() if k.startswith("AIRFLOW_CONN_")}
    for key in ("clickhouse", "redis", "quota_api", "grafana"):
        assert cfg["connections"][key] in conns, key
    assert conns["clickhouse_native_default"]["host"] == "clickhouse" and conns["clickhouse_native_default"]["login"] == "readiness"
    assert conns["redis_default"]["host"] == "redis" and conns["quota_api_default"]["host"] == "quota-api"
    assert (conns["grafana_default"]["host"], conns["grafana_default"]["port"]) == ("grafana", 3000)
    assert conns["grafana_default"]["password"] == env("grafana")["GF_SECURITY_ADMIN_PASSWORD"]
    assert conns["clickhouse_native_default"]["password"] == env("clickhouse")["CLICKHOUSE_READINESS_PASSWORD"]
    assert "8000" in " ".join(SERVICES["quota-api"]["command"]) and conns["quota_api_default"]["port"] == 8000


def test_grafana_provisions_the_dashboard_check_3_reads():
    cfg = load_config(env("airflow-scheduler")["AIRFLOW_VAR_BILLING_READINESS_CONFIG"])
    assert cfg["dashboard"]["grafana_uid"] == DASHBOARD["uid"]
    volumes = SERVICES["grafana"]["volumes"]
    provider = yaml.safe_load((ROOT / "docker" / "grafana" / "provisioning" / "dashboards" / "m12.yaml").read_text())
    assert f"./m12_1_sandbox/grafana:{provider['providers'][0]['options']['path']}:ro" in volumes
    source = yaml.safe_load((ROOT / "docker" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    [ds] = source["datasources"]
    uids = {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p["targets"]}
    assert uids == {ds["uid"]} and ds["type"] == "grafana-clickhouse-datasource"
    assert ds["jsonData"]["host"] == "clickhouse" and ds["jsonData"]["defaultDatabase"] == "m12_sandbox"
    assert "grafana-clickhouse-datasource" in env("grafana")["GF_INSTALL_PLUGINS"]
    assert "--database" in SERVICES["seed"]["command"] and "m12_sandbox" in SERVICES["seed"]["command"]


def test_the_clickhouse_user_is_read_only():
    path = "docker/clickhouse/readiness-user.xml"
    xml = (ROOT / path).read_text()
    assert "<readonly>2</readonly>" in xml and 'from_env="CLICKHOUSE_READINESS_PASSWORD"' in xml
    assert f"./{path}:/etc/clickhouse-server/users.d/readiness-user.xml:ro" in SERVICES["clickhouse"]["volumes"]
