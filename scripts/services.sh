#!/usr/bin/env bash
# Starts, stops or reports the sandbox stand-in for M12.1: ClickHouse (Debian's
# clickhouse-server), Redis, the quota-enforced API and a Grafana API stand-in. Loopback only, data under
# .local/, idempotent: `start` leaves running services alone.
#   scripts/services.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/env.sh"
help_if_asked "$@"
source "$(dirname "$0")/clickhouse-lib.sh"
CH_DIR="$LOCAL_DIR/clickhouse"

# The native protocol over TLS too (tcp_port_secure), with a certificate signed by a sandbox CA made on the
# first start: the tests connect with the CA (verify) and without it (refused), as a deployment's TLS would.
tls_certificates() {
  local dir="$LOCAL_DIR/tls"
  [ -f "$dir/server.pem" ] && return
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/CN=billing-readiness sandbox CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/san.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/server.pem" -days 3650 -extfile "$dir/san.cnf" 2>/dev/null
}

start_clickhouse() {
  tls_certificates
  local tls="<tcp_port_secure>$SANDBOX_CH_TLS_PORT</tcp_port_secure>
  <openSSL><server><certificateFile>$LOCAL_DIR/tls/server.pem</certificateFile>
    <privateKeyFile>$LOCAL_DIR/tls/server.key</privateKeyFile><verificationMode>none</verificationMode>
    <loadDefaultCAFile>false</loadDefaultCAFile><cacheSessions>true</cacheSessions>
    <disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>"
  if ! alive clickhouse; then port_free clickhouse "$SANDBOX_CH_TLS_PORT" SANDBOX_CH_TLS_PORT; fi
  start_clickhouse_server clickhouse "$CH_DIR" "$SANDBOX_CH_TCP_PORT" "$SANDBOX_CH_HTTP_PORT" SANDBOX_CH_TCP_PORT "$tls"
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

status() {
  local rc=0
  for s in clickhouse redis quota_api grafana; do
    if alive "$s"; then echo "  $s: running (pid $(cat "$RUN/$s.pid"))"; else echo "  $s: stopped"; rc=1; fi
  done
  echo "  ClickHouse native 127.0.0.1:$SANDBOX_CH_TCP_PORT (TLS :$SANDBOX_CH_TLS_PORT, CA $LOCAL_DIR/tls/ca.pem), http 127.0.0.1:$SANDBOX_CH_HTTP_PORT, database $SANDBOX_DATABASE"
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
