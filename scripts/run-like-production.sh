#!/usr/bin/env bash
# One command for the production shape: install what is missing (PostgreSQL too), start the sandbox and a
# private PostgreSQL, then run the readiness DAG on Airflow with PostgreSQL as its metadata database and
# the scheduler, DAG processor, API server and triggerer as separate processes (LocalExecutor, parallelism 4).
#   scripts/run-like-production.sh [--fault NAME] [--keep]
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
WITH_TEST_DEPS="${WITH_TEST_DEPS:-0}" WITH_POSTGRES=1 bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/services.sh" start >/dev/null
bash "$ROOT/scripts/postgres.sh" start airflow >/dev/null
export AIRFLOW_PROD_SQL_ALCHEMY_CONN="${AIRFLOW_PROD_SQL_ALCHEMY_CONN:-$(bash "$ROOT/scripts/postgres.sh" url airflow)}"
cd "$ROOT"
exec "$VENV/bin/python" -m m12_1_sandbox.production "$@"
