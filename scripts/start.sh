#!/usr/bin/env bash
# `npm start`: Slipway's main job on the local stack, as a newcomer's first run: installs dependencies,
# bundles, then (scripts/demo.ts) brings up a Docker engine, a registry and the Kubernetes test cluster,
# deploys fixtures/sample-repo with the CLI, calls its URLs and an alias, and tears everything down.
# As root on a fresh machine the first run installs Debian packages and builds base images (minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run -s bundle
exec node --import tsx scripts/demo.ts "$@"
