#!/usr/bin/env bash
# One command for the tests: install what is missing (apt + .venv), start the
# sandbox services (real ClickHouse, Redis, quota API), run pytest.
#   scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "$0")/env.sh"
# chromium renders the HTML report and drives the UI in tests; PostgreSQL backs the production-shape test;
# docker-compose validates docker-compose.yaml
WITH_TEST_DEPS=1 WITH_CHROMIUM=1 WITH_POSTGRES=1 WITH_COMPOSE=1 bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/services.sh" start
cd "$ROOT"
# pytest exits 5 when it collects no test: that fails here too (set -e).
"$VENV/bin/python" -m pytest tests "$@"
