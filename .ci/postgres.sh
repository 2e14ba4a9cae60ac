#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian package) on loopback for the tests; print its URL.
# Usage: export HOURGLASS_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
port=${HOURGLASS_TEST_POSTGRES_PORT:-55432}
data=$(mktemp -d /tmp/hourglass-pg.XXXXXX)
chown postgres "$data"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_postgres "$bin/initdb" -D "$data/db" -A trust -U postgres >/dev/null
as_postgres "$bin/pg_ctl" -D "$data/db" -l "$data/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" start >/dev/null
as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres hourglass_test
echo "postgresql://postgres@127.0.0.1:$port/hourglass_test"
