#!/usr/bin/env bash
# The whole test command: system packages, build (which type-checks), lint, every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup-system.sh
npm run --silent build
npx biome check --diagnostic-level=error .
node --test --test-concurrency=1 dist/test/
