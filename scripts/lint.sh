#!/usr/bin/env bash
# The habits, as pyproject.toml configures them: ruff's lint and format check over the repository, mypy over
# the package (plugins/billing_readiness). scripts/test.sh runs it first, so CI does.
#   scripts/lint.sh            check; exits non-zero naming what to fix
#   scripts/lint.sh --fix      apply ruff's fixes and formatting, then check
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
cd "$ROOT"
if [ "${1:-}" = "--fix" ]; then
  "$VENV/bin/ruff" check --fix . || true
  "$VENV/bin/ruff" format .
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
echo "lint: ruff and mypy clean"
