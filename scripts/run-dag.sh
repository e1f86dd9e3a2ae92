#!/usr/bin/env bash
# One command: install what is missing, start the sandbox services, seed the
# sandbox, run the readiness DAG end to end with `airflow dags test`, print the report.
#   scripts/run-dag.sh [--cluster] [--fault NAME] [--ui]   (--help lists the faults; --ui: the Airflow UI instead)
# Exit 0: every check passed and the gate promoted M12.1 to M12.2.
set -euo pipefail
source "$(dirname "$0")/env.sh"
more_help() {  # the faults and flags, from the demo's own argparse (stdlib only: no .venv needed)
  echo; (cd "$ROOT" && python3 -m m12_1_sandbox.demo --help 2>/dev/null | sed -n '/^options:/,$p') || true
}
help_if_asked "$@"
WITH_TEST_DEPS="${WITH_TEST_DEPS:-0}" bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/services.sh" start >/dev/null
mkdir -p "$AIRFLOW_HOME" "$LOCAL_DIR/log"
"$VENV/bin/airflow" db migrate >"$LOCAL_DIR/log/airflow-db-migrate.log" 2>&1
cd "$ROOT"
exec "$VENV/bin/python" -m m12_1_sandbox.demo "$@"
