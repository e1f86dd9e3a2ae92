#!/usr/bin/env bash
# Writes .env for docker-compose.yaml with fresh local secrets: the Fernet key every Airflow container
# shares (Variables and Connections are encrypted with it: a lost key makes them unreadable, the invoice
# baseline included), the JWT secret, and the service passwords; and the DAG's connections and config,
# pointing at the sandbox (`--profile sandbox`): replace those lines to run against your own M12.1.
# Refuses to overwrite an existing .env.
#   scripts/compose-env.sh [FILE]   (default: .env beside docker-compose.yaml)
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
out="${1:-$ROOT/.env}"
[ -e "$out" ] && { echo "compose-env: $out exists; keep it (its Fernet key decrypts the stored Variables)" >&2; exit 1; }
secret() { openssl rand -hex 16; }
fernet_key() { openssl rand 32 | base64 | tr '+/' '-_'; }  # what cryptography's Fernet.generate_key() returns
ch_password=$(secret)  # hex: safe inside the connection's JSON
umask 077
cat >"$out" <<ENV
# Local secrets for docker-compose.yaml, written by scripts/compose-env.sh. Keep AIRFLOW_FERNET_KEY as long
# as the airflow database lives: every Airflow container decrypts Variables and Connections with it.
AIRFLOW_UID=50000
AIRFLOW_FERNET_KEY=$(fernet_key)
AIRFLOW_JWT_SECRET=$(secret)
POSTGRES_PASSWORD=$(secret)
AIRFLOW_ADMIN_PASSWORD=$(secret)
CLICKHOUSE_READINESS_PASSWORD=$ch_password
GRAFANA_ADMIN_PASSWORD=$(secret)
# The DAG's connections and config (one line each, JSON). These point at the sandbox's services
# (docker compose --profile sandbox up); for your own M12.1, replace them (README: Connections and config).
AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT={"conn_type": "clickhouse_native", "host": "clickhouse", "port": 9000, "login": "readiness", "password": "$ch_password", "schema": "m12_sandbox"}
AIRFLOW_CONN_REDIS_DEFAULT={"conn_type": "redis", "host": "redis", "port": 6379, "extra": {"db": 0}}
AIRFLOW_CONN_QUOTA_API_DEFAULT={"conn_type": "http", "host": "quota-api", "port": 8000, "schema": "http"}
BILLING_READINESS_CONFIG={"connections": {"grafana": "grafana_default"}, "dashboard": {"grafana_uid": "m12-tenant-usage"}, "report": {"dir": "/opt/airflow/reports"}}
ENV
echo "compose-env: wrote $out"
