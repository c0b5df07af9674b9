#!/usr/bin/env bash
# The whole test command: system packages, build (which type-checks), lint, every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup-system.sh
npm run --silent build
npx biome check --diagnostic-level=error .
# Only *.test.js files: given a directory, node would also run every helper, recorder and
# benchmark script under test/ as if it were a test file.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency=1 "${files[@]}"
