#!/usr/bin/env bash
# Writes .env for docker-compose.yaml with fresh local secrets: the Fernet key every Airflow container
# shares (Variables and Connections are encrypted with it: a lost key makes them unreadable, the invoice
# baseline included), the JWT secret, and the service passwords. Refuses to overwrite an existing .env.
#   scripts/compose-env.sh [FILE]   (default: .env beside docker-compose.yaml)
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
out="${1:-$ROOT/.env}"
[ -e "$out" ] && { echo "compose-env: $out exists; keep it (its Fernet key decrypts the stored Variables)" >&2; exit 1; }
secret() { openssl rand -hex 16; }
fernet_key() { openssl rand 32 | base64 | tr '+/' '-_'; }  # what cryptography's Fernet.generate_key() returns
umask 077
cat >"$out" <<ENV
# Local secrets for docker-compose.yaml, written by scripts/compose-env.sh. Keep AIRFLOW_FERNET_KEY as long
# as the airflow database lives: every Airflow container decrypts Variables and Connections with it.
AIRFLOW_UID=50000
AIRFLOW_FERNET_KEY=$(fernet_key)
AIRFLOW_JWT_SECRET=$(secret)
POSTGRES_PASSWORD=$(secret)
AIRFLOW_ADMIN_PASSWORD=$(secret)
CLICKHOUSE_READINESS_PASSWORD=$(secret)
GRAFANA_ADMIN_PASSWORD=$(secret)
ENV
echo "compose-env: wrote $out"
