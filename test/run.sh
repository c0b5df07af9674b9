#!/usr/bin/env bash
# The whole test command: system packages, build (which type-checks), lint, every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup-system.sh
npm run --silent build
npx biome check --diagnostic-level=error .
# Every *.test.js file under dist/test (not the helpers beside them), one node process per file,
# each bounded in time with everything it starts, then a pass/fail/skip summary (test/runner/).
# Bounds in seconds: WGM_TEST_TIMEOUT per test, WGM_TEST_FILE_TIMEOUT per file,
# WGM_TEST_TOTAL_TIMEOUT in all.
exec node dist/test/runner/main.js dist/test
