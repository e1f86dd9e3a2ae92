#!/usr/bin/env bash
# The Airflow UI on the sandbox (airflow standalone with the sandbox's connections): run-dag.sh --ui.
#   scripts/airflow-ui.sh   (AIRFLOW_UI_PORT moves it; log in as admin with the password it prints)
exec bash "$(dirname "$0")/run-dag.sh" --ui "$@"
