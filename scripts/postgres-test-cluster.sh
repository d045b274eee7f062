#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (scripts/test.sh starts one; developers may too).
#
#   scripts/postgres-test-cluster.sh start DIR   # initdb in DIR, start on a free loopback port,
#                                                # print the connection URI (no database in it)
#   scripts/postgres-test-cluster.sh restart DIR # stop it (fast: connections are cut) and start
#                                                # it again, on the same port
#   scripts/postgres-test-cluster.sh stop DIR    # stop it and remove DIR
#
# Then: CAIRN_TEST_POSTGRES=<the URI> ctest --test-dir build/release
#
# It needs Debian's postgresql package (scripts/install-deps.sh installs it). PostgreSQL refuses
# to run as root, so as root (CI) the cluster runs as the unprivileged system user cairn-pg,
# created on first use. The cluster trusts local connections: it is for tests only.
set -euo pipefail

usage() {
  echo "usage: $0 start|restart|stop DIR" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
command=$1
dir=$2

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/pg_ctl" ]] || {
  echo "postgres-test-cluster: PostgreSQL's server is not installed (apt-get install postgresql)" >&2
  exit 1
}

as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  id -u cairn-pg >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cairn-pg
  as_owner=(runuser -u cairn-pg --)
fi

case "$command" in
  start)
    mkdir -p "$dir"
    [[ ${#as_owner[@]} -eq 0 ]] || chown cairn-pg "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U cairn -A trust -E UTF8 --no-locale \
      --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    # A free port: one that nothing answers on (tried a few times, should another process take
    # it between the check and the start).
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
      if "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400" \
        start >/dev/null; then
        echo "postgresql://cairn@127.0.0.1:$port"
        exit 0
      fi
    done
    cat "$dir/postgres.log" >&2
    echo "postgres-test-cluster: could not start PostgreSQL" >&2
    exit 1
    ;;
  restart)
    # pg_ctl restart starts it with the options it was started with (postmaster.opts).
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 60 \
      restart >/dev/null
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
