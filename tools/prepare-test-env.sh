#!/usr/bin/env bash
# Installs what the integration and browser tests need beyond the Python venv:
#  - the Hardhat JSON-RPC node and Node 22 from npm (package.json / package-lock.json), for chain tests;
#  - Debian's chromium, for the console tests, and wrk, the load generator of bench/api.py (only when running as
#    root, e.g. on CI; each installed when it is missing).
# The first install that fails (npm, apt-get) stops the script with a non-zero exit. What cannot be installed
# here (not root, no npm on a developer machine) is only warned about: those tests skip with a reason on a
# developer machine and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "prepare-test-env: $*" >&2
  exit 1
}

warn() {
  echo "prepare-test-env: $*" >&2
}

if [ -f package.json ]; then
  if [ ! -f node_modules/.install-stamp ] || [ package.json -nt node_modules/.install-stamp ] \
     || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.install-stamp ]; }; then
    if command -v npm >/dev/null 2>&1; then
      if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
      else
        npm install --no-audit --no-fund --loglevel=error || fail "npm install failed"
      fi
      mkdir -p node_modules && touch node_modules/.install-stamp
    elif [ "${CI:-}" = "true" ]; then
      fail "npm not found; CI=true needs the Hardhat node"
    else
      warn "npm not found; Hardhat node tests will skip (fail under CI)"
    fi
  fi
fi

if [ -n "${BAUHINIA_NEEDS_CHROMIUM:-}" ] || [ -n "${CI:-}" ]; then
  missing=""
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq || fail "apt-get update failed; could not install$missing"
      for pkg in $missing; do
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
          || fail "apt-get install $pkg failed"
      done
    else
      case "$missing" in *chromium*)
        warn "chromium missing and not installable here (not root or no apt-get); browser tests skip (fail under CI)" ;;
      esac
      case "$missing" in *wrk*)
        warn "wrk missing and not installable here; its test skips (fails under CI), bench/api.py uses aiohttp" ;;
      esac
    fi
  fi
fi
exit 0
