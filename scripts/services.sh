#!/usr/bin/env bash
# Private PostgreSQL and Redis on loopback for `make run` and `make test`.
#   services.sh start   start both (idempotent), write $CAA_STATE/env
#   services.sh stop    stop both
#   services.sh env     print the env file path
#   services.sh status  exit 0 when both run
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PGDATA="$CAA_STATE/pgdata"
ENV_FILE="$CAA_STATE/env"

pg_running() { [[ -f "$PGDATA/postmaster.pid" ]] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
redis_running() { [[ -f "$CAA_STATE/redis.pid" ]] && kill -0 "$(cat "$CAA_STATE/redis.pid")" 2>/dev/null; }

start_postgres() {
  if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    say "initialising PostgreSQL in $PGDATA"
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 >/dev/null
  fi
  if pg_running; then return 0; fi
  PG_PORT=$(free_port)
  mkdir -p "$CAA_STATE/pgsock" "$CAA_STATE/pglog"
  chown postgres:postgres "$CAA_STATE/pgsock" "$CAA_STATE/pglog"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$CAA_STATE/pglog/postgres.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $CAA_STATE/pgsock -c fsync=on -c synchronous_commit=on -c max_connections=300" \
    start >/dev/null
  echo "$PG_PORT" > "$CAA_STATE/pg.port"
  runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='claude_agent_api'" | grep -q 1 ||
    runuser -u postgres -- createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres claude_agent_api
}

start_redis() {
  if redis_running; then return 0; fi
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$CAA_STATE/redis.pid" --logfile "$CAA_STATE/redis.log" \
    --dir "$CAA_STATE" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  echo "$REDIS_PORT" > "$CAA_STATE/redis.port"
}

write_env() {
  cat > "$ENV_FILE" <<ENV
export DATABASE_URL=postgresql://postgres@127.0.0.1:$(cat "$CAA_STATE/pg.port")/claude_agent_api
export REDIS_URL=redis://127.0.0.1:$(cat "$CAA_STATE/redis.port")/0
export CAA_PG_PORT=$(cat "$CAA_STATE/pg.port")
export CAA_REDIS_PORT=$(cat "$CAA_STATE/redis.port")
export CAA_PG_BIN=$PG_BIN
export CAA_PGDATA=$PGDATA
ENV
}

case "${1:-}" in
  start)
    mkdir -p "$CAA_STATE"
    chmod 755 "$CAA_STATE"
    ln -sfn "$CAA_STATE" "$CAA_RUN"
    start_postgres
    start_redis
    write_env
    say "PostgreSQL on 127.0.0.1:$(cat "$CAA_STATE/pg.port"), Redis on 127.0.0.1:$(cat "$CAA_STATE/redis.port")"
    ;;
  stop)
    if pg_running; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
    fi
    if redis_running; then
      kill "$(cat "$CAA_STATE/redis.pid")" 2>/dev/null || true
    fi
    ;;
  env)
    echo "$ENV_FILE"
    ;;
  status)
    pg_running && redis_running && [[ -f "$ENV_FILE" ]]
    ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
