#!/usr/bin/env bash
# A private PostgreSQL for Airflow's metadata database, the way production runs Airflow: Debian's
# postgresql, on loopback, data under .local/postgres (never the system cluster). Idempotent.
#   scripts/postgres.sh start|stop|status|url [database] | reset DATABASE
# PostgreSQL refuses to run as root: the server runs as the `postgres` system user.
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
source "$(dirname "$0")/lib.sh"
PG_DIR="$LOCAL_DIR/postgres"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
as_pg() { runuser -u postgres -- "$@"; }

running() { [ -n "$PG_BIN" ] && [ -f "$PG_DIR/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

start() {
  if running; then return; fi
  [ -n "$PG_BIN" ] || { echo "postgres: Debian's postgresql is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
  port_free postgres "$SANDBOX_PG_PORT" SANDBOX_PG_PORT
  mkdir -p "$PG_DIR/run" "$LOCAL_DIR/log"
  chown postgres "$PG_DIR" "$PG_DIR/run"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" --auth=trust --username=postgres --encoding=UTF8 >/dev/null
  fi
  touch "$LOCAL_DIR/log/postgres.log" && chown postgres "$LOCAL_DIR/log/postgres.log"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$LOCAL_DIR/log/postgres.log" -w -t 60 \
    -o "-p $SANDBOX_PG_PORT -k $PG_DIR/run -c listen_addresses=127.0.0.1" start >/dev/null
}

create_db() {  # database: created if missing
  local db=$1
  if ! as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$SANDBOX_PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$SANDBOX_PG_PORT" -U postgres "$db"
  fi
}

case "${1:-}" in
  start) start; create_db "${2:-airflow}"; echo "postgres: running on 127.0.0.1:$SANDBOX_PG_PORT, data $PG_DIR/data" ;;
  stop) if running; then as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null; fi; echo "postgres: stopped" ;;
  status) if running; then echo "postgres: running on 127.0.0.1:$SANDBOX_PG_PORT"; else echo "postgres: stopped"; exit 1; fi ;;
  reset) start; as_pg "$PG_BIN/dropdb" -h 127.0.0.1 -p "$SANDBOX_PG_PORT" -U postgres --if-exists "${2:?database}"
         create_db "$2"; echo "postgres: database $2 is new" ;;
  url) echo "postgresql+psycopg2://postgres@127.0.0.1:$SANDBOX_PG_PORT/${2:-airflow}" ;;
  *) echo "usage: $0 start|stop|status|url [database] | reset DATABASE" >&2; exit 2 ;;
esac
