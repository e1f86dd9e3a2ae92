#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (as root): the
# sandbox's servers from Debian and the Python packages into .venv. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"

want=()
command -v clickhouse-server >/dev/null || want+=(clickhouse-server clickhouse-client)
command -v redis-server >/dev/null || want+=(redis-server)
command -v openssl >/dev/null || want+=(openssl)  # the sandbox ClickHouse's TLS certificate
# `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv); a bare Debian 12 may lack python3 too.
command -v python3 >/dev/null || want+=(python3)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then want+=(python3-venv); fi
if [ "${WITH_CHROMIUM:-0}" = 1 ] && ! command -v chromium >/dev/null; then want+=(chromium fonts-liberation); fi
if [ "${WITH_POSTGRES:-0}" = 1 ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then want+=(postgresql); fi
# Debian's docker-compose (1.29) validates docker-compose.yaml offline in the tests (no Docker engine here).
if [ "${WITH_COMPOSE:-0}" = 1 ] && ! command -v docker-compose >/dev/null; then want+=(docker-compose); fi
if [ ${#want[@]} -gt 0 ]; then
  echo "setup: apt-get install ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do  # mirrors hiccup: try again before giving up
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null; then break; fi
    [ "$attempt" = 3 ] && { echo "setup: apt-get install ${want[*]} failed" >&2; exit 1; }
    sleep 10
  done
  # Debian starts the packaged services on their default ports; the sandbox runs its own. Only what was just
  # installed is stopped: the init scripts stop by executable (start-stop-daemon --exec), so stopping an
  # already installed one would also stop a sandbox server running from the same binary.
  for s in clickhouse-server redis-server postgresql; do
    if [[ " ${want[*]} " == *" $s "* ]]; then (service "$s" stop || true) >/dev/null 2>&1; fi
  done
fi

reqs=(-r "$ROOT/requirements.txt")
[ "${WITH_TEST_DEPS:-1}" = 1 ] && reqs=(-r "$ROOT/requirements-test.txt")
stamp="$VENV/.installed-$(cat "$ROOT"/requirements*.txt "$ROOT/pyproject.toml" | sha1sum | cut -c1-12)-${WITH_TEST_DEPS:-1}"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check uv
  echo "setup: installing Python requirements into $VENV"
  "$VENV/bin/python" -m uv pip install -q --python "$VENV/bin/python" "${reqs[@]}"
  # The package itself, editable (the code stays in plugins/), as a deployment installs it: Airflow's providers
  # manager then knows its connection type, so common.sql's operators resolve clickhouse_native connections.
  # Its metadata goes to .package-metadata/ (setup.cfg); an old copy in plugins/ (on every Airflow process's
  # sys.path) would register the plugin twice, and Airflow 3.3 then drops the other entry-point plugins.
  rm -rf "$ROOT"/plugins/*.egg-info
  "$VENV/bin/python" -m uv pip install -q --python "$VENV/bin/python" --no-deps -e "$ROOT"
  touch "$stamp"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import airflow; print("airflow", airflow.__version__)'))"
