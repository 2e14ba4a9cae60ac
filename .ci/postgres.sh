#!/usr/bin/env bash
# A throwaway PostgreSQL server (Debian package) on loopback, for the tests.
#   bash .ci/postgres.sh start DIR   # prints the server's URL
#   bash .ci/postgres.sh stop DIR
set -euo pipefail
action=$1
data=$2
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$action" = stop ]; then
    as_postgres "$bin/pg_ctl" -D "$data/db" -m fast stop >/dev/null
    exit 0
fi
# A port nobody listens on: the OS picks one, the server takes it a moment later.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$data"
[ "$(id -u)" = 0 ] && chown postgres "$data"
as_postgres "$bin/initdb" -D "$data/db" -A trust -U postgres >/dev/null
as_postgres "$bin/pg_ctl" -D "$data/db" -l "$data/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" start >/dev/null
as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres hourglass_test
echo "postgresql://postgres@127.0.0.1:$port/hourglass_test"
