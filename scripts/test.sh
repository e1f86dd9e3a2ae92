#!/usr/bin/env bash
# One command for the tests: install what is missing (apt + .venv), check the code (scripts/lint.sh: ruff and
# mypy), start the sandbox services (real ClickHouse, Redis, quota API), run pytest.
#   scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
# chromium renders the HTML report and drives the UI in tests; PostgreSQL backs the production-shape test;
# docker-compose validates docker-compose.yaml
# What is not running now and the tests start (the sandbox here, the two shards and PostgreSQL in their
# fixtures) is stopped again when the tests end, whatever happened; KEEP_SERVICES=1 leaves it all running.
started=()
for s in services cluster zoned-clickhouse postgres; do
  bash "$ROOT/scripts/$s.sh" status >/dev/null 2>&1 || started+=("$s")
done
stop_started() {
  [ "${KEEP_SERVICES:-0}" = 1 ] && return
  for s in "${started[@]}"; do bash "$ROOT/scripts/$s.sh" stop >/dev/null 2>&1 || true; done
}
trap stop_started EXIT
WITH_TEST_DEPS=1 WITH_CHROMIUM=1 WITH_POSTGRES=1 WITH_COMPOSE=1 bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/lint.sh"  # ruff (lint + format) and mypy, as pyproject.toml configures them
bash "$ROOT/scripts/services.sh" start
cd "$ROOT"
# pytest exits 5 when it collects no test: that fails here too (set -e).
"$VENV/bin/python" -m pytest tests "$@"
