#!/usr/bin/env bash
# The Airflow UI on the sandbox (airflow standalone with the sandbox's connections): run-dag.sh --ui.
#   scripts/airflow-ui.sh   (AIRFLOW_UI_PORT moves it; log in as admin with the password it prints)
source "$(dirname "$0")/env.sh"
more_help() {  # the faults and flags, from the demo's own argparse (stdlib only: no .venv needed)
  echo; (cd "$ROOT" && python3 -m m12_1_sandbox.demo --help 2>/dev/null | sed -n '/^options:/,$p') || true
}
help_if_asked "$@"
exec bash "$(dirname "$0")/run-dag.sh" --ui "$@"
