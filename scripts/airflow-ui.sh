#!/usr/bin/env bash
# One command for the local UI: install what is missing, start and seed the
# sandbox, then run `airflow standalone` on it (UI http://127.0.0.1:18080,
# user admin, password printed at start-up). Set AIRFLOW_UI_PORT to move it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
WITH_TEST_DEPS="${WITH_TEST_DEPS:-0}" bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/services.sh" start >/dev/null
mkdir -p "$AIRFLOW_HOME" "$LOCAL_DIR/log"
"$VENV/bin/airflow" db migrate >"$LOCAL_DIR/log/airflow-db-migrate.log" 2>&1
cd "$ROOT"
exec "$VENV/bin/python" -m m12_1_sandbox.demo --ui
