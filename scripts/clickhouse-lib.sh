# ClickHouse server processes for the sandbox (Debian's clickhouse-server): config, start, stop. Sourced
# by services.sh (the single server) and cluster.sh (two shards), after env.sh; never run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

clickhouse_config() {  # name, data dir, tcp port, http port, extra XML (e.g. remote_servers); CH_TIMEZONE: the zone
  local name=$1 dir=$2 tcp=$3 http=$4 extra=${5:-}
  mkdir -p "$dir"/{data,tmp,user_files,format_schemas} "$LOCAL_DIR/log"
  # query_log: the benchmark reads rows, bytes and peak memory per query from it (log_queries=1 per query).
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level>
    <log>$LOCAL_DIR/log/$name.log</log><errorlog>$LOCAL_DIR/log/$name.err.log</errorlog>
    <size>50M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$tcp</tcp_port>
  <http_port>$http</http_port>
  <timezone>${CH_TIMEZONE:-UTC}</timezone>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  <query_log><database>system</database><table>query_log</table>
    <flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
  $extra
</yandex>
XML
  cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default>
    <readiness><readonly>2</readonly><max_memory_usage>4000000000</max_memory_usage></readiness>
    <strict_readonly><readonly>1</readonly><max_memory_usage>4000000000</max_memory_usage>
      <max_execution_time>300</max_execution_time></strict_readonly></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default>
    <readiness><password>$SANDBOX_CH_READONLY_PASSWORD</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>readiness</profile><quota>default</quota></readiness>
    <readiness_ro1><password>$SANDBOX_CH_READONLY_PASSWORD</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>strict_readonly</profile><quota>default</quota></readiness_ro1>
    <walled><password>$SANDBOX_CH_READONLY_PASSWORD</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>readiness</profile><quota>default</quota>
    <allow_databases><database>system</database></allow_databases></walled></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start_clickhouse_server() {  # name, data dir, tcp port, http port, env var for the port, extra XML
  local name=$1 dir=$2 tcp=$3 http=$4 var=$5 extra=${6:-}
  if alive "$name"; then return; fi
  clickhouse_config "$name" "$dir" "$tcp" "$http" "$extra"
  port_free "$name" "$tcp" "$var"
  pushd "$dir" >/dev/null  # the server itself in the background, so its pid is the one we record
  nohup clickhouse-server --config-file="$dir/config.xml" >"$LOCAL_DIR/log/$name.stdout" 2>&1 &
  echo $! >"$RUN/$name.pid"
  popd >/dev/null
  wait_for "$name" clickhouse-client --port "$tcp" --host 127.0.0.1 -q "SELECT 1"
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
