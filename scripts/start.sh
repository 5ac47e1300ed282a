#!/usr/bin/env bash
# `npm start`: Slipway's main job on the local stack, as a newcomer's first run: installs dependencies,
# bundles, then (scripts/demo.ts) brings up a Docker engine, a registry, the Kubernetes test cluster and
# the GitHub API test server, plays a pull request's preview with the bundled Action (opened, pushed,
# closed), calls its URLs, and tears everything down.
# As root on a fresh machine the first run installs Debian packages and builds base images (minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run -s bundle
exec node --import tsx scripts/demo.ts "$@"
