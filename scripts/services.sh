#!/usr/bin/env bash
# Starts, stops or reports the sandbox stand-in for M12.1: ClickHouse (Debian's
# clickhouse-server), Redis, the quota-enforced API and a Grafana API stand-in. Loopback only, data under
# .local/, idempotent: `start` leaves running services alone.
#   scripts/services.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/env.sh"
RUN="$LOCAL_DIR/run"
CH_DIR="$LOCAL_DIR/clickhouse"
mkdir -p "$RUN"

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_for() {  # name, command that succeeds once the service answers
  local name=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "services: $name did not answer within 30 s; see $LOCAL_DIR/log/$name.log" >&2
  return 1
}

port_free() {  # name, port, env var that moves it
  if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
    echo "services: port $2 is already in use by another process, so $1 cannot start there;" \
         "stop that process or choose another port with $3=..." >&2
    exit 1
  fi
}

clickhouse_config() {
  mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas} "$LOCAL_DIR/log"
  cat > "$CH_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level>
    <log>$LOCAL_DIR/log/clickhouse.log</log><errorlog>$LOCAL_DIR/log/clickhouse.err.log</errorlog>
    <size>50M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$SANDBOX_CH_TCP_PORT</tcp_port>
  <http_port>$SANDBOX_CH_HTTP_PORT</http_port>
  <timezone>UTC</timezone>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat > "$CH_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default>
    <readiness><readonly>2</readonly><max_memory_usage>4000000000</max_memory_usage></readiness></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default>
    <readiness><password>$SANDBOX_CH_READONLY_PASSWORD</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>readiness</profile><quota>default</quota></readiness></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start_clickhouse() {
  if alive clickhouse; then return; fi
  clickhouse_config
  port_free clickhouse "$SANDBOX_CH_TCP_PORT" SANDBOX_CH_TCP_PORT
  pushd "$CH_DIR" >/dev/null  # the server itself in the background, so its pid is the one we record
  nohup clickhouse-server --config-file="$CH_DIR/config.xml" >"$LOCAL_DIR/log/clickhouse.stdout" 2>&1 &
  echo $! >"$RUN/clickhouse.pid"
  popd >/dev/null
  wait_for clickhouse clickhouse-client --port "$SANDBOX_CH_TCP_PORT" --host 127.0.0.1 -q "SELECT 1"
}

start_redis() {
  if alive redis; then return; fi
  port_free redis "$SANDBOX_REDIS_PORT" SANDBOX_REDIS_PORT
  mkdir -p "$LOCAL_DIR/redis" "$LOCAL_DIR/log"
  redis-server --port "$SANDBOX_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$LOCAL_DIR/redis" --daemonize yes --pidfile "$RUN/redis.pid" \
    --logfile "$LOCAL_DIR/log/redis.log" >/dev/null
  wait_for redis redis-cli -p "$SANDBOX_REDIS_PORT" ping
}

start_api() {
  if alive quota_api; then return; fi
  port_free quota_api "$SANDBOX_API_PORT" SANDBOX_API_PORT
  nohup "$VENV/bin/python" -m m12_1_sandbox.quota_api --host 127.0.0.1 --port "$SANDBOX_API_PORT" \
    --redis-url "redis://127.0.0.1:$SANDBOX_REDIS_PORT/0" >"$LOCAL_DIR/log/quota_api.log" 2>&1 &
  echo $! >"$RUN/quota_api.pid"
  wait_for quota_api "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$SANDBOX_API_PORT/health', timeout=1)"
}

start_grafana() {
  if alive grafana; then return; fi
  port_free grafana "$SANDBOX_GRAFANA_PORT" SANDBOX_GRAFANA_PORT
  nohup "$VENV/bin/python" -m m12_1_sandbox.grafana_api --host 127.0.0.1 --port "$SANDBOX_GRAFANA_PORT" \
    >"$LOCAL_DIR/log/grafana_api.log" 2>&1 &
  echo $! >"$RUN/grafana.pid"
  wait_for grafana "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$SANDBOX_GRAFANA_PORT/api/health', timeout=1)"
}

stop_one() {
  local name=$1
  if alive "$name"; then
    local pid; pid=$(cat "$RUN/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$RUN/$name.pid"
}

status() {
  local rc=0
  for s in clickhouse redis quota_api grafana; do
    if alive "$s"; then echo "  $s: running (pid $(cat "$RUN/$s.pid"))"; else echo "  $s: stopped"; rc=1; fi
  done
  echo "  ClickHouse native 127.0.0.1:$SANDBOX_CH_TCP_PORT, http 127.0.0.1:$SANDBOX_CH_HTTP_PORT, database $SANDBOX_DATABASE"
  echo "  Redis          127.0.0.1:$SANDBOX_REDIS_PORT"
  echo "  Quota API      http://127.0.0.1:$SANDBOX_API_PORT (POST /query, header X-Tenant-ID)"
  echo "  Grafana API    http://127.0.0.1:$SANDBOX_GRAFANA_PORT (stand-in: /api/dashboards/uid/m12-tenant-usage)"
  echo "  data and logs  $LOCAL_DIR"
  return $rc
}

case "${1:-}" in
  start)
    start_clickhouse; start_redis; start_api; start_grafana
    echo "services: started"; status ;;
  stop)
    stop_one grafana; stop_one quota_api; stop_one redis; stop_one clickhouse; echo "services: stopped" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
