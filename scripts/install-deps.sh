#!/usr/bin/env bash
# Installs the npm dependencies, only when node_modules was not installed from this exact lockfile and
# Node version. Shared by `npm start` and `npm test`, so both work on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# `npm ci` refuses a lockfile that lacks entries for optional platform binaries the registry does not carry
# (some of Biome's); `npm install` then installs the same tree, and must leave the lockfile as it was.
stamp=node_modules/.slipway-install-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
want="$lock_hash node $(node --version)"
if [[ ! -d node_modules || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  step "npm ci"
  ci_log=$(mktemp)
  if npm ci --no-audit --no-fund >"$ci_log" 2>&1; then
    cat "$ci_log"
  else
    grep -m1 -F '`npm ci` can only' "$ci_log" >&2 || tail -n 20 "$ci_log" >&2
    step "npm ci refused the lockfile; npm install from the same lockfile"
    lock_backup=$(mktemp)
    cp package-lock.json "$lock_backup"
    npm install --no-audit --no-fund
    if [[ "$(sha256sum package-lock.json | cut -d' ' -f1)" != "$lock_hash" ]]; then
      cp "$lock_backup" package-lock.json
      echo "package-lock.json is out of date with package.json: run 'npm install' and commit it" >&2
      exit 1
    fi
    rm -f "$lock_backup"
  fi
  rm -f "$ci_log"
  printf '%s\n' "$want" >"$stamp"
fi

