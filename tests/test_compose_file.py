"""docker-compose.yaml agrees with the DAG: the official Airflow 3 shape with one Fernet key and one config for
every Airflow container, a healthcheck (with timeout and start period) on every long-running service, the
package installed in the image, the connection ids and config the DAG reads, a service-account token for
check 3, and the Grafana dashboard that check 3 times provisioned from the same file, on pinned images.
There is no Docker engine here: Debian's docker-compose resolves the file offline (with the .env that
scripts/compose-env.sh writes), and this test reads what it resolved."""

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT

from billing_readiness.config import load_config

AIRFLOW = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
ONE_SHOT = {"airflow-init", "seed", "grafana-token"}
SANDBOX = {"clickhouse", "redis", "quota-api", "seed", "grafana", "grafana-token"}  # the stand-in M12.1
DASHBOARD = json.loads((ROOT / "m12_1_sandbox" / "grafana" / "tenant-usage-dashboard.json").read_text())
RAW = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def raw_volumes(service: str) -> list[str]:
    """The file's own volume lines (anchors merged), without comments."""
    return [v.split("  #")[0].strip() for v in RAW["services"][service].get("volumes", [])]


def compose(*args, env_file=None):
    binary = shutil.which("docker-compose")
    assert binary, "Debian's docker-compose validates the file (scripts/setup.sh installs it for the tests)"
    cmd = [binary, *(["--env-file", str(env_file)] if env_file else []), "-f", str(ROOT / "docker-compose.yaml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def dotenv(tmp_path_factory):
    path = tmp_path_factory.mktemp("compose") / ".env"
    out = subprocess.run(["bash", str(ROOT / "scripts" / "compose-env.sh"), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose-env.sh"), str(path)], capture_output=True, text=True
    )
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites the key that decrypts the DB
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")), path


@pytest.fixture(scope="module")
def resolved(dotenv):
    out = compose("config", env_file=dotenv[1])
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


@pytest.fixture(scope="module")
def services(resolved):
    return resolved["services"]


def env(services, service: str) -> dict:
    return {k: str(v) for k, v in services[service]["environment"].items()}


def test_compose_refuses_to_start_without_the_env_file_naming_the_command():
    out = compose("config", "-q")
    assert out.returncode != 0 and "scripts/compose-env.sh" in out.stderr


def test_every_airflow_container_shares_one_fernet_key_and_one_config(services, dotenv):
    from cryptography.fernet import Fernet

    values, _ = dotenv
    Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # a valid key
    for name in [*AIRFLOW, "airflow-init", "grafana-token"]:
        e = env(services, name)
        assert e.get("AIRFLOW__CORE__FERNET_KEY") == values["AIRFLOW_FERNET_KEY"], name
        assert e.get("AIRFLOW_CONFIG") == "/opt/airflow/config/airflow.cfg", name
    for name in [*AIRFLOW, "airflow-init"]:
        assert "airflow-config:/opt/airflow/config" in raw_volumes(name), name


def test_the_official_airflow_3_shape(services):
    assert set(services) == {
        "postgres",
        "airflow-init",
        *AIRFLOW,
        "clickhouse",
        "redis",
        "quota-api",
        "seed",
        "grafana",
        "grafana-token",
    }
    for service, command in AIRFLOW.items():
        assert services[service]["command"] in (command, [command])
        assert services[service]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[service]["depends_on"]["postgres"]["condition"] == "service_healthy"
        e = env(services, service)
        assert e["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        mounts = {v.split(":")[1] for v in raw_volumes(service)}
        assert "/opt/airflow/dags" in mounts and "/opt/airflow/plugins" not in mounts  # the package is installed
        assert services[service]["build"]["dockerfile"] == "docker/airflow.Dockerfile"
    init = RAW["services"]["airflow-init"]
    script = init["command"][1]
    assert "/entrypoint airflow version" in script and "/entrypoint airflow config list" in script
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "printf" not in script and "json.dumps" in script  # the password file is written by a JSON encoder
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in dockerfile and "-c /opt/billing-readiness/requirements.txt" in dockerfile
    assert "pip install" in dockerfile and "plugins/billing_readiness" in dockerfile


def test_images_and_the_grafana_plugin_are_pinned_to_versions_that_fit_together(services):
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), (name, image)
    grafana = (ROOT / "docker" / "grafana.Dockerfile").read_text()
    assert "FROM grafana/grafana:11.3.0" in grafana
    assert "grafana cli plugins install grafana-clickhouse-datasource 4.3.2" in grafana
    assert "GF_INSTALL_PLUGINS" not in env(services, "grafana")  # nothing downloaded at start


def test_every_long_running_service_has_a_healthcheck_and_one_shots_are_waited_for(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no"
            # waited for, except the token job: nothing of a deployment may wait for the sandbox (the DAG
            # starts paused; check 3 without the token fails naming the connection)
            assert name == "grafana-token" or any(
                s.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"
                for s in services.values()
            )
        else:
            check = service["healthcheck"]
            assert check["test"] and check["timeout"] and check["start_period"] and check["retries"], name
    named = {v.split(":")[0] for s in RAW["services"].values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(RAW["volumes"]) and "postgres-db" in named and "airflow-reports" in named


def test_connections_and_config_are_the_ones_the_dag_reads(services, dotenv):
    values, _ = dotenv
    e = env(services, "airflow-scheduler")
    cfg = load_config(e["AIRFLOW_VAR_BILLING_READINESS_CONFIG"])  # valid, as the checks will load it
    conns = {k[len("AIRFLOW_CONN_") :].lower(): json.loads(v) for k, v in e.items() if k.startswith("AIRFLOW_CONN_")}
    for key in ("clickhouse", "redis", "quota_api"):
        assert cfg["connections"][key] in conns, key
    ch = conns["clickhouse_native_default"]
    assert (ch["conn_type"], ch["host"], ch["login"]) == ("clickhouse_native", "clickhouse", "readiness")
    assert (
        ch["password"]
        == values["CLICKHOUSE_READINESS_PASSWORD"]
        == env(services, "clickhouse")["CLICKHOUSE_READINESS_PASSWORD"]
    )
    assert conns["redis_default"]["host"] == "redis" and conns["quota_api_default"]["host"] == "quota-api"
    assert "8000" in " ".join(services["quota-api"]["command"]) and conns["quota_api_default"]["port"] == 8000
    # Grafana: no admin password in any Airflow container; the token job stores the connection check 3 reads.
    assert cfg["connections"]["grafana"] == "grafana_default" and "grafana_default" not in conns
    for name in AIRFLOW:
        assert values["GRAFANA_ADMIN_PASSWORD"] not in json.dumps(services[name]["environment"]), name
    job = (ROOT / "docker" / "grafana_token.py").read_text()
    assert '"/api/serviceaccounts"' in job and '"role": "Viewer"' in job and "/tokens" in job
    assert 'CONN_ID = os.environ.get("GRAFANA_CONN_ID", "grafana_default")' in job


def test_grafana_provisions_the_dashboard_check_3_reads(services):
    cfg = load_config(env(services, "airflow-scheduler")["AIRFLOW_VAR_BILLING_READINESS_CONFIG"])
    assert cfg["dashboard"]["grafana_uid"] == DASHBOARD["uid"]
    volumes = RAW["services"]["grafana"]["volumes"]
    provider = yaml.safe_load((ROOT / "docker" / "grafana" / "provisioning" / "dashboards" / "m12.yaml").read_text())
    assert f"./m12_1_sandbox/grafana:{provider['providers'][0]['options']['path']}:ro" in volumes
    source = yaml.safe_load(
        (ROOT / "docker" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    )
    ds, testdata = source["datasources"]
    uids = {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p["targets"]}
    assert uids == {ds["uid"]} and ds["type"] == "grafana-clickhouse-datasource"
    # every data source the every-macro dashboard names (directly or through its datasource variable) is provisioned
    every = json.loads((ROOT / "m12_1_sandbox" / "grafana" / "every-macro-dashboard.json").read_text())
    [ds_var] = [v for v in every["templating"]["list"] if v["type"] == "datasource"]
    named = {
        t["datasource"]["uid"].replace("${ds}", ds_var["current"]["value"])
        for p in every["panels"]
        for t in p["targets"]
    }
    assert named == {ds["uid"], testdata["uid"]} and testdata["type"] == "grafana-testdata-datasource"
    assert ds["jsonData"]["host"] == "clickhouse" and ds["jsonData"]["defaultDatabase"] == "m12_sandbox"
    assert "--database" in services["seed"]["command"] and "m12_sandbox" in services["seed"]["command"]


def test_the_clickhouse_user_is_read_only():
    path = "docker/clickhouse/readiness-user.xml"
    xml = (ROOT / path).read_text()
    assert "<readonly>2</readonly>" in xml and 'from_env="CLICKHOUSE_READINESS_PASSWORD"' in xml
    assert f"./{path}:/etc/clickhouse-server/users.d/readiness-user.xml:ro" in RAW["services"]["clickhouse"]["volumes"]


def test_the_sandbox_is_a_profile_and_a_deployment_against_its_own_m12_1_needs_none_of_it(dotenv, tmp_path):
    profiled = {name for name, s in RAW["services"].items() if "sandbox" in s.get("profiles", [])}
    assert profiled == SANDBOX
    default = set(RAW["services"]) - profiled
    assert default == {"postgres", "airflow-init", *AIRFLOW}
    for name in default:  # `docker compose up` without the profile starts nothing that waits for the sandbox
        assert not set(RAW["services"][name].get("depends_on") or {}) & SANDBOX, name
    assert RAW["services"]["redis"]["image"] == "redis:7.2"  # pinned as the official Airflow compose file
    for args in ([], ["--profile", "sandbox"]):
        out = compose(*args, "config", "-q", env_file=dotenv[1])
        assert out.returncode == 0, (args, out.stderr)
    # a deployment's own connections and config come from .env: no edit of the compose file
    values, path = dotenv
    own = tmp_path / ".env"
    lines = [
        line
        for line in path.read_text().splitlines()
        if not line.startswith(("AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT=", "BILLING_READINESS_CONFIG="))
    ]
    conn = {
        "conn_type": "clickhouse_native",
        "host": "ch.prod.internal",
        "port": 9440,
        "login": "readiness",
        "password": "pw",
        "schema": "metering",
        "extra": {"secure": True},
    }
    config = {"usage_events": {"table": "metering.events"}, "report": {"dir": "s3://reports/readiness"}}
    lines += [
        f"AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT={json.dumps(conn)}",
        f"BILLING_READINESS_CONFIG={json.dumps(config)}",
    ]
    own.write_text("\n".join(lines) + "\n")
    out = compose("config", env_file=own)
    assert out.returncode == 0, out.stderr
    e = env(yaml.safe_load(out.stdout)["services"], "airflow-scheduler")
    assert json.loads(e["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"]) == conn
    assert load_config(e["AIRFLOW_VAR_BILLING_READINESS_CONFIG"])["usage_events"]["table"] == "metering.events"
