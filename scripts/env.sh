# Shared settings for the project's scripts: sourced, never run.
# Ports avoid the usual defaults (9000, 8123, 6379, 8080) so a real stack can run beside the sandbox.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export LOCAL_DIR="${LOCAL_DIR:-$ROOT/.local}"
export VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"  # airflow standalone starts its components as `airflow ...`
export SANDBOX_CH_TCP_PORT="${SANDBOX_CH_TCP_PORT:-19000}"
export SANDBOX_CH_HTTP_PORT="${SANDBOX_CH_HTTP_PORT:-18123}"
export SANDBOX_CH_TLS_PORT="${SANDBOX_CH_TLS_PORT:-19440}"  # the native protocol over TLS
export SANDBOX_REDIS_PORT="${SANDBOX_REDIS_PORT:-16379}"
export SANDBOX_API_PORT="${SANDBOX_API_PORT:-18700}"
export SANDBOX_GRAFANA_PORT="${SANDBOX_GRAFANA_PORT:-18730}"
export SANDBOX_DATABASE="${SANDBOX_DATABASE:-m12_sandbox}"
export SANDBOX_PG_PORT="${SANDBOX_PG_PORT:-15432}"  # Airflow's metadata database in the production shape
# The checks' read-only ClickHouse user (profile readonly=2); the default user seeds the sandbox. Loopback only.
export SANDBOX_CH_READONLY_PASSWORD="${SANDBOX_CH_READONLY_PASSWORD:-sandbox-readonly-7Qx2}"

# Airflow: its own home under .local, this project's dags and plugins, no examples.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$LOCAL_DIR/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export PYTHONPATH="$ROOT:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"

# The sandbox's connections, the way a deployment would define them (AIRFLOW_CONN_<ID>), set only where the
# user has not exported their own (docs/operations.md: "Pointing it at a real system"). No ${VAR:-default} here: a JSON
# default holds '}', which would end the expansion early and corrupt an exported value.
default_conn() {  # name, JSON
  if [ -z "${!1:-}" ]; then export "$1=$2"; fi
}
default_conn AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT "{\"conn_type\": \"clickhouse_native\", \"host\": \"127.0.0.1\", \"port\": $SANDBOX_CH_TCP_PORT, \"login\": \"readiness\", \"password\": \"$SANDBOX_CH_READONLY_PASSWORD\", \"schema\": \"$SANDBOX_DATABASE\"}"
default_conn AIRFLOW_CONN_REDIS_DEFAULT "{\"conn_type\": \"redis\", \"host\": \"127.0.0.1\", \"port\": $SANDBOX_REDIS_PORT, \"extra\": {\"db\": 0}}"
default_conn AIRFLOW_CONN_GRAFANA_DEFAULT "{\"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $SANDBOX_GRAFANA_PORT, \"schema\": \"http\"}"
default_conn AIRFLOW_CONN_QUOTA_API_DEFAULT "{\"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $SANDBOX_API_PORT, \"schema\": \"http\"}"

# -h/--help anywhere in a script's arguments: print the script's header comment and exit, before anything is
# installed or started (every script calls this right after sourcing env.sh). A script that defines
# more_help() has it called after the header.
help_if_asked() {
  local a
  for a in "$@"; do
    case "$a" in
      -h|--help)
        sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//p}' "$0"
        if declare -F more_help >/dev/null; then more_help; fi
        exit 0 ;;
    esac
  done
}
