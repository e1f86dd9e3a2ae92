# Generic helpers for the sandbox's service scripts (pid files, waiting for a service, a free port).
# Sourced after env.sh by clickhouse-lib.sh, services.sh and postgres.sh; never run.
RUN="$LOCAL_DIR/run"
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
    echo "$1: port $2 is already in use by another process, so $1 cannot start there;" \
         "stop that process or choose another port with $3=..." >&2
    exit 1
  fi
}
