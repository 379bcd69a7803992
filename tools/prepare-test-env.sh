#!/usr/bin/env bash
# Installs what the integration and browser tests need beyond the Python venv:
#  - the Hardhat JSON-RPC node and Node 22 from npm (package.json / package-lock.json), for chain tests;
#  - Debian's chromium, for the console tests, and wrk, the load generator of bench/api.py (only when running as
#    root, e.g. on CI; each installed when it is missing).
# Missing pieces make those tests skip with a reason on a developer machine, and fail under CI=true.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -f package.json ]; then
  if [ ! -f node_modules/.install-stamp ] || [ package.json -nt node_modules/.install-stamp ] \
     || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.install-stamp ]; }; then
    if command -v npm >/dev/null 2>&1; then
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi \
        && touch node_modules/.install-stamp || echo "prepare-test-env: npm install failed" >&2
    else
      echo "prepare-test-env: npm not found; Hardhat node tests will skip (fail under CI)" >&2
    fi
  fi
fi
if [ -n "${BAUHINIA_NEEDS_CHROMIUM:-}" ] || [ -n "${CI:-}" ]; then
  missing=""
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      if apt-get update -qq; then
        for pkg in $missing; do
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
            || echo "prepare-test-env: could not install $pkg" >&2
        done
      else
        echo "prepare-test-env: apt-get update failed; could not install$missing" >&2
      fi
    else
      case "$missing" in *chromium*)
        echo "prepare-test-env: chromium missing and not root; browser tests will skip (fail under CI)" >&2 ;;
      esac
      case "$missing" in *wrk*)
        echo "prepare-test-env: wrk missing and not root; bench/api.py falls back to aiohttp" >&2 ;;
      esac
    fi
  fi
fi
exit 0
