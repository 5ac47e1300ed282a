#!/usr/bin/env bash
# The project's whole check, as `npm test` and CI run it: install dependencies when the lockfile changed,
# bring up the test stack (Docker engine, registry, base images; see test/support/stack.ts), then lint,
# typecheck, rebuild dist/ and require it to match what is committed, and run every vitest project.
# The stack is stopped on exit unless SLIPWAY_KEEP_STACK=1 (keeping it makes the next run start in a blink).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "dependencies"
bash scripts/install-deps.sh

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
npx biome check --error-on-warnings .

step "typecheck (tsc)"
npx tsc --noEmit -p tsconfig.json

step "build, and check dist/ is committed as built"
npm run bundle
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if ! git diff --exit-code --stat -- dist; then
    echo "dist/ differs from the committed bundle: run 'npm run bundle' and commit dist/" >&2
    exit 1
  fi
  untracked=$(git ls-files --others --exclude-standard -- dist)
  if [[ -n $untracked ]]; then
    printf 'dist/ has files the build made that are not committed:\n%s\n' "$untracked" >&2
    exit 1
  fi
fi

step "vitest"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# One plain closing line with the counts, readable by any CI log parser.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
