#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (the PostgreSQL record
# store, constra serve on PostgreSQL).
#
#   scripts/pg_cluster.sh start DIR   initdb into DIR/data (unless there),
#                                     start it listening only on a unix
#                                     socket in DIR/sock (no TCP port, so
#                                     clusters of parallel runs never clash)
#                                     and print, for eval:
#                                       export CONSTRA_TEST_PG='host=DIR/sock ...'
#                                       export CONSTRA_TEST_PGCTL_DATA=DIR/data
#                                       export CONSTRA_TEST_PGCTL='... pgctl DIR'
#                                     (keep DIR short: a socket path has at
#                                     most 107 bytes; /tmp/constra-pg is fine)
#   scripts/pg_cluster.sh stop DIR    stop it (fast) and delete DIR
#   scripts/pg_cluster.sh pgctl DIR ARGS...  pg_ctl on it (the tests stop and
#                                     start the server with this)
#
# As root the cluster runs as the unprivileged `postgres` user (initdb
# and postgres refuse root): DIR is chowned to it. Authentication is
# `trust`, which is why there is no TCP listener: only local processes
# that can reach the socket directory connect, as the `postgres` role.
# Messages go to stderr; stdout is only the export lines.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|pgctl DIR [pg_ctl args...]" >&2
  exit 2
fi
shift 2

# Debian installs each major version under /usr/lib/postgresql/N/bin;
# the newest one wins. Elsewhere, initdb on the PATH.
bindir=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do bindir=$d; done
if [ -z "$bindir" ]; then
  initdb=$(command -v initdb || true)
  [ -n "$initdb" ] || { echo "pg_cluster: no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }
  bindir=$(dirname "$initdb")
fi

as_owner() { # runs a command as the cluster's owner
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case $cmd in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  data=$dir/data sock=$dir/sock
  mkdir -p "$sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir" "$sock"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # In the configuration file, so that a plain `pg_ctl start` after a
    # stop (the tests' server-away case) starts the same server: no TCP
    # listener, the private socket, little memory, fsync off (a test
    # cluster, thrown away; -m immediate is survived while the machine
    # runs).
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$sock'
fsync = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 200
EOF
  fi
  if ! as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >&2 \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  fi
  echo "export CONSTRA_TEST_PG='host=$sock dbname=postgres user=postgres'"
  echo "export CONSTRA_TEST_PGCTL_DATA='$data'"
  echo "export CONSTRA_TEST_PGCTL='$(cd "$(dirname "$0")" && pwd)/pg_cluster.sh pgctl $dir'"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
pgctl)
  dir=$(cd "$dir" && pwd)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
  ;;
*)
  echo "usage: $0 start|stop|pgctl DIR [pg_ctl args...]" >&2
  exit 2
  ;;
esac
