"""One-shot job of docker-compose.yaml: a Grafana service account for check 3 (role Viewer: it only reads
dashboards and runs their queries) and a token, stored as the Airflow connection grafana_default (encrypted
with the shared Fernet key), so no Airflow container holds Grafana's admin password. Idempotent: the
account is reused, a new token replaces the connection."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

GRAFANA = os.environ.get("GRAFANA_URL", "http://grafana:3000")
ACCOUNT = "billing-readiness"
CONN_ID = os.environ.get("GRAFANA_CONN_ID", "grafana_default")


def call(method: str, path: str, body: dict | None = None) -> dict | list:
    auth = base64.b64encode(f"admin:{os.environ['GRAFANA_ADMIN_PASSWORD']}".encode()).decode()
    request = urllib.request.Request(
        GRAFANA + path,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


def account_id() -> int:
    found = call("GET", f"/api/serviceaccounts/search?query={ACCOUNT}")["serviceAccounts"]
    mine = [a for a in found if a["name"] == ACCOUNT]
    if mine:
        return mine[0]["id"]
    return call("POST", "/api/serviceaccounts", {"name": ACCOUNT, "role": "Viewer", "isDisabled": False})["id"]


def main() -> None:
    for _attempt in range(30):  # Grafana answers /api/health before its API accepts logins
        try:
            sa = account_id()
            break
        except (urllib.error.URLError, OSError):
            time.sleep(2)
    else:
        raise SystemExit(f"grafana-token: {GRAFANA} did not answer")
    token = call("POST", f"/api/serviceaccounts/{sa}/tokens", {"name": f"airflow-{int(time.time())}"})["key"]
    conn = {"conn_type": "http", "host": "grafana", "port": 3000, "schema": "http", "password": token}
    subprocess.run(["airflow", "connections", "delete", CONN_ID], capture_output=True)
    subprocess.run(
        ["airflow", "connections", "add", CONN_ID, "--conn-json", json.dumps(conn)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"grafana-token: service account {ACCOUNT} (Viewer), token stored as Airflow connection {CONN_ID}")


if __name__ == "__main__":
    main()
