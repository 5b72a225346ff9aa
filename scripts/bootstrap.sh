#!/bin/sh
# Installs what pyengine's demo and tests need on a fresh Debian/Ubuntu machine:
# a few Debian packages (lab tooling) and a virtualenv with pyengine and its test extras.
# Idempotent: a second call only checks.
set -eu
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES="debootstrap debian-archive-keyring util-linux socat git dpkg-dev python3-venv ca-certificates dnf rpm createrepo-c openssh-client chromium iproute2 redis-server postgresql"
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/pip install -q -e '.[test,distributed]' 2>&1 | grep -v '^WARNING: Location' || true
    .venv/bin/python -c 'import pyengine, paramiko, jinja2, yaml, click, rich' 
    touch .venv/.installed
fi
