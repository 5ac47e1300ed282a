#!/usr/bin/env bash
# `npm start`: Slipway's main job on the sample repository in fixtures/sample-repo, as a newcomer's
# first run: installs dependencies, bundles, and plans pull request #42 of the sample's deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run -s bundle
node bin/slipway.js plan \
  --config fixtures/sample-repo/valohai.yaml \
  --repo acme/mnist \
  --commit 3f2a9c1d0b7e55aa12ff00112233445566778899 \
  --pr 42 \
  "$@"
