#!/usr/bin/env bash
# Two more sandbox ClickHouse servers whose server timezone is not UTC, for the tests that prove the gate is
# right wherever the operator's ClickHouse runs: one in a zone with daylight saving time (Europe/Berlin) and
# one with a half-hour offset (Asia/Kolkata). The rollups' day and hour then are those zones' (toDate() and
# toStartOfHour() in the materialized views use the server's zone). Data under .local/zoned/. Idempotent.
#   scripts/zoned-clickhouse.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
source "$(dirname "$0")/clickhouse-lib.sh"
export SANDBOX_CH_DST_PORT="${SANDBOX_CH_DST_PORT:-19121}"
export SANDBOX_CH_HALF_HOUR_PORT="${SANDBOX_CH_HALF_HOUR_PORT:-19122}"

status() {
  local rc=0
  for s in zoned_dst zoned_half_hour; do
    if alive "$s"; then echo "  $s: running (pid $(cat "$RUN/$s.pid"))"; else echo "  $s: stopped"; rc=1; fi
  done
  echo "  Europe/Berlin 127.0.0.1:$SANDBOX_CH_DST_PORT, Asia/Kolkata 127.0.0.1:$SANDBOX_CH_HALF_HOUR_PORT"
  return $rc
}

case "${1:-}" in
  start)
    CH_TIMEZONE=Europe/Berlin start_clickhouse_server zoned_dst "$LOCAL_DIR/zoned/dst" "$SANDBOX_CH_DST_PORT" 18221 \
      SANDBOX_CH_DST_PORT
    CH_TIMEZONE=Asia/Kolkata start_clickhouse_server zoned_half_hour "$LOCAL_DIR/zoned/half_hour" \
      "$SANDBOX_CH_HALF_HOUR_PORT" 18222 SANDBOX_CH_HALF_HOUR_PORT
    echo "zoned-clickhouse: started"; status ;;
  stop) stop_one zoned_dst; stop_one zoned_half_hour; echo "zoned-clickhouse: stopped" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
