#!/usr/bin/env bash
# The project's whole check, as `npm test` and CI run it: install dependencies when the lockfile changed,
# bring up the test stack (Docker engine, registry, base images; see test/support/stack.ts), then lint,
# typecheck, rebuild dist/ and require it to match what is committed, and run every vitest project.
# The stack is stopped on exit unless SLIPWAY_KEEP_STACK=1 (keeping it makes the next run start in a blink).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# Dependencies: installed only when node_modules was not installed from this exact lockfile and Node version.
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

stop_stack() {
  if [[ ${SLIPWAY_KEEP_STACK:-0} != 1 ]]; then
    step "stopping the test stack"
    node --import tsx test/support/stack-cli.ts down || true
  fi
}
# Set before `up`, so that a stack that came up halfway is stopped too.
trap stop_stack EXIT

step "test stack up"
node --import tsx test/support/stack-cli.ts up

step "lint (biome)"
npx biome check .

step "typecheck (tsc)"
npx tsc --noEmit -p tsconfig.json

step "build, and check dist/ is committed as built"
npm run build
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if ! git diff --exit-code --stat -- dist; then
    echo "dist/ differs from the committed bundle: run 'npm run build' and commit dist/" >&2
    exit 1
  fi
  untracked=$(git ls-files --others --exclude-standard -- dist)
  if [[ -n $untracked ]]; then
    printf 'dist/ has files the build made that are not committed:\n%s\n' "$untracked" >&2
    exit 1
  fi
fi

step "vitest"
npx vitest run
