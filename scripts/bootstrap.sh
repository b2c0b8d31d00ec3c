#!/usr/bin/env bash
# Idempotent machine setup for ats_pipelines (run as root on a fresh Debian machine, or again at any time):
# system packages, PostgreSQL and Redis running, the databases, the Python virtualenv with the project.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*"; }

# --- system packages --------------------------------------------------------------------------------
need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql postgresql-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# openssl makes the self-signed certificate of the TLS Redis test (Debian's redis-server speaks TLS).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v make >/dev/null 2>&1 || need+=(make)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# Debian's Chromium for the browser test of the Dagster UI (Playwright drives it; no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 required" >&2; exit 1; }

# --- services ---------------------------------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    cluster=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ats.log
    for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# --- database role and databases --------------------------------------------------------------------
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
me=$(id -un)
if ! psql -h 127.0.0.1 -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    log "creating PostgreSQL superuser $me"
    as_postgres psql -q -d postgres -c "CREATE ROLE \"$me\" LOGIN SUPERUSER" || true
fi
for db in ats ats_test ats_dagster; do
    if [ -z "$(psql -h 127.0.0.1 -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        log "creating database $db"
        psql -q -h 127.0.0.1 -d postgres -c "CREATE DATABASE \"$db\""
    fi
done

# --- Python environment -----------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.ats-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "installing the project into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
fi
# --- TimescaleDB test server (PGlite build), exact versions from its lock file --------------------------
lock=tests/timescale_server/package-lock.json
if [ ! -d tests/timescale_server/node_modules ] || [ "$lock" -nt tests/timescale_server/node_modules ]; then
    log "installing the TimescaleDB test server (npm ci)"
    (cd tests/timescale_server && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/timescale_server/node_modules
fi
log "ready"
