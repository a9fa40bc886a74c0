# shellcheck shell=bash
# Sourced by .ci/run: makes sure PostgreSQL and Redis answer on 127.0.0.1
# (installing them from Debian's packages and starting them when needed),
# then exports the DSNs the backend tests read:
#   COMMUCAT_TEST_PG_DSN     postgres://<role>@127.0.0.1:5432/test (a role with trust auth)
#   COMMUCAT_TEST_REDIS_URL  redis://127.0.0.1:6379
# Never aborts the caller: whatever fails is logged, its variable is left
# unset, and those tests report themselves as skipped. Idempotent and quiet.

_commucat_services() {
  local say=log
  declare -F log >/dev/null || say=_commucat_say
  local updated=${apt_updated:-}
  _commucat_install() {
    if declare -F apt_install >/dev/null; then
      apt_install "$@"
      return
    fi
    [ -n "$updated" ] || { apt-get update -qq >/dev/null 2>&1; updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
      $say "apt-get install $* failed"
  }
  # Runs "$@" up to $1 times, a second apart, until it succeeds.
  _commucat_wait() {
    local tries=$1 i
    shift
    for ((i = 0; i < tries; i++)); do
      "$@" >/dev/null 2>&1 && return 0
      sleep 1
    done
    return 1
  }

  # PostgreSQL
  local pg_installed="" pg_wait=30 redis_wait=30
  if ! command -v pg_isready >/dev/null || ! pg_isready -q -h 127.0.0.1 -p 5432 -t 3; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      $say "services: installing postgresql"
      _commucat_install postgresql
      pg_installed=1
    fi
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$version" ] && ! pg_isready -q -h 127.0.0.1 -p 5432 -t 1 2>/dev/null; then
      $say "services: starting postgresql $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 ||
        { $say "services: pg_ctlcluster start failed"; pg_wait=2; }
    fi
  fi
  if command -v pg_isready >/dev/null && _commucat_wait "$pg_wait" pg_isready -q -h 127.0.0.1 -p 5432 -t 1; then
    local role="" candidate
    _commucat_pg_role() {
      for candidate in postgres root; do
        if PGCONNECT_TIMEOUT=3 psql -w -h 127.0.0.1 -p 5432 -U "$candidate" -d test \
          -tAc 'SELECT 1' >/dev/null 2>&1; then
          role=$candidate
          return 0
        fi
      done
      return 1
    }
    if ! _commucat_pg_role && [ -n "$pg_installed" ]; then
      # A fresh Debian install: no database "test", password auth on TCP.
      # Only on a server this script installed: let loopback in with trust.
      runuser -u postgres -- createdb test >/dev/null 2>&1
      local hba
      for hba in /etc/postgresql/*/main/pg_hba.conf; do
        [ -f "$hba" ] || continue
        grep -q '^host all all 127.0.0.1/32 trust' "$hba" ||
          sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      done
      runuser -u postgres -- psql -qAtc 'SELECT pg_reload_conf()' >/dev/null 2>&1
      sleep 1
      _commucat_pg_role
    fi
    if [ -n "$role" ]; then
      export COMMUCAT_TEST_PG_DSN="postgres://$role@127.0.0.1:5432/test"
    else
      $say "services: no role gets into database test on 127.0.0.1 with trust auth; postgres tests will skip"
    fi
    unset -f _commucat_pg_role
  else
    $say "services: postgresql is not answering on 127.0.0.1:5432; postgres tests will skip"
  fi

  # Redis
  if ! command -v redis-cli >/dev/null || [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" != "PONG" ]; then
    if ! command -v redis-server >/dev/null; then
      $say "services: installing redis-server"
      _commucat_install redis-server
    fi
    if command -v redis-server >/dev/null; then
      local dir=/var/lib/redis
      [ -d "$dir" ] && [ -w "$dir" ] || dir="${TMPDIR:-/tmp}"
      $say "services: starting redis"
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir "$dir" >/dev/null 2>&1 || { $say "services: redis-server failed to start"; redis_wait=2; }
    fi
  fi
  _commucat_redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
  if command -v redis-cli >/dev/null && _commucat_wait "$redis_wait" _commucat_redis_up; then
    export COMMUCAT_TEST_REDIS_URL="redis://127.0.0.1:6379"
  else
    $say "services: redis is not answering on 127.0.0.1:6379; redis tests will skip"
  fi

  [ -z "$updated" ] || apt_updated=$updated
  unset -f _commucat_install _commucat_wait _commucat_redis_up
}
_commucat_say() { echo "ci: $*" >&2; }
_commucat_services || true
unset -f _commucat_services _commucat_say
