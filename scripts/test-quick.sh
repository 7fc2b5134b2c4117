#!/usr/bin/env bash
# `npm run test:quick`: the edit–test loop. The unit tests and the end-to-end suites that run the
# example host inside the test process (test/helpers/in-process.ts): no keychain, Chromium or
# Glewlwyd, and almost no process started per command. `npm test` runs everything, and is what counts.
# Builds first only when a source is newer than the last build (the in-process runs use dist/, as
# the spawned ones do). Extra arguments go to mocha (e.g. `npm run test:quick -- --grep logout`).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK_SUITES=(test/unit/*.test.ts test/e2e/commands.test.ts test/e2e/login.test.ts test/e2e/machines.test.ts test/e2e/failures.test.ts test/e2e/hostile-issuer.test.ts)

# oclif.manifest.json is the build's last step.
if [ ! -f oclif.manifest.json ] || [ -n "$(find src examples/acme/package.json examples/acme/src -newer oclif.manifest.json -print -quit)" ]; then
  npm run build --silent
fi
exec npx mocha --no-config --node-option import=tsx --timeout 180000 --parallel --jobs "${TOKENWISE_TEST_JOBS:-3}" "${QUICK_SUITES[@]}" "$@"
