#!/usr/bin/env bash
# A two-shard ClickHouse cluster on loopback, for the sharded tests and the README's cluster walk-through:
# two Debian clickhouse-server processes (shard 1 and shard 2), each with `remote_servers` naming both as
# cluster m12_two_shards. Data under .local/cluster/. Idempotent: `start` leaves running shards alone.
#   scripts/cluster.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
source "$(dirname "$0")/clickhouse-lib.sh"
export SANDBOX_CLUSTER="${SANDBOX_CLUSTER:-m12_two_shards}"
export SANDBOX_SHARD1_TCP_PORT="${SANDBOX_SHARD1_TCP_PORT:-19101}"
export SANDBOX_SHARD2_TCP_PORT="${SANDBOX_SHARD2_TCP_PORT:-19102}"

remote_servers() {  # the same cluster definition on both shards (inter-shard queries as the default user)
  cat <<XML
<remote_servers><$SANDBOX_CLUSTER>
    <shard><replica><host>127.0.0.1</host><port>$SANDBOX_SHARD1_TCP_PORT</port></replica></shard>
    <shard><replica><host>127.0.0.1</host><port>$SANDBOX_SHARD2_TCP_PORT</port></replica></shard>
  </$SANDBOX_CLUSTER></remote_servers>
XML
}

status() {
  local rc=0
  for s in shard1 shard2; do
    if alive "$s"; then echo "  $s: running (pid $(cat "$RUN/$s.pid"))"; else echo "  $s: stopped"; rc=1; fi
  done
  echo "  cluster $SANDBOX_CLUSTER: shard 1 127.0.0.1:$SANDBOX_SHARD1_TCP_PORT, shard 2 127.0.0.1:$SANDBOX_SHARD2_TCP_PORT"
  return $rc
}

case "${1:-}" in
  start)
    xml=$(remote_servers)
    start_clickhouse_server shard1 "$LOCAL_DIR/cluster/shard1" "$SANDBOX_SHARD1_TCP_PORT" 18201 SANDBOX_SHARD1_TCP_PORT "$xml"
    start_clickhouse_server shard2 "$LOCAL_DIR/cluster/shard2" "$SANDBOX_SHARD2_TCP_PORT" 18202 SANDBOX_SHARD2_TCP_PORT "$xml"
    echo "cluster: started"; status ;;
  stop) stop_one shard1; stop_one shard2; echo "cluster: stopped" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
