#!/usr/bin/env bash
# Installs the npm dependencies with `npm ci`, only when node_modules was not installed from this exact
# lockfile and Node version. Shared by `npm start` and `npm test`, so both work on a fresh clone.
# The lockfile is complete (every optional platform package the registry serves); a lockfile out of step
# with package.json is a contributor's mistake, and `npm ci` says so.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.slipway-install-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
if [[ ! -d node_modules || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  printf '\n==> npm ci\n' >&2
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" >"$stamp"
fi
