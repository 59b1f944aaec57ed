#!/usr/bin/env bash
# The test command's second run (scripts/test-all.sh): Node.js 24 with OpenTelemetry JS 3.x.
#  - Node.js 24: .peers/pkg/node24 (scripts/install-peers.sh unpacks it from the npm registry);
#  - OpenTelemetry JS 3.x: compat/otel3/package.json and its lockfile, installed here with
#    `npm ci` into compat/otel3/node_modules (one copy of each package: see its overrides);
#    the events addon (native/build, Node-API) is the same build on both lines;
#  - the repository's own code resolves every @opentelemetry/* import from there through
#    compat/otel3/resolve.mjs, passed in NODE_OPTIONS so that the agents and other Node.js
#    processes the tests start get it too; everything else resolves as usual.
# Then: the type check against the 3.x declarations, and the library, export, agent, CLI,
# example and package tests (OTEL_JS_LINE=3: test/compat.test.ts fails unless 3.x is what
# resolves). Needs `npm ci` and `npm run build` done in the repository (test-all.sh does both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
NODE24_BIN="${PEERS_DIR:-$ROOT/.peers}/pkg/node24/bin"
die() { printf 'compat/otel3/test.sh: %s\n' "$*" >&2; exit 1; }
[[ -x "$NODE24_BIN/node" ]] || die "Node.js 24 is missing ($NODE24_BIN/node): run scripts/install-peers.sh"
[[ -f dist/index.js ]] || die "dist/ is missing: run npm run build first"
export PATH="$NODE24_BIN:$PATH"
[[ "$(node -p 'process.versions.node')" == 24.* ]] || die "node on PATH is $(node --version), not 24"

echo "compat/otel3: node $(node --version); npm ci"
(cd compat/otel3 && { npm ci --no-audit --no-fund || { sleep 10; npm ci --no-audit --no-fund; }; })
node -e "if (typeof require('./native/build/cgroup-events.node').open !== 'function') process.exit(1)" || die "the events addon (native/build/cgroup-events.node, Node-API) does not load on Node 24"
(cd compat/otel3 && npm ls --all >/dev/null) || die "compat/otel3: npm ls reports missing or invalid packages"

echo "compat/otel3: type check against the 3.x declarations"
npx --no-install tsc -p compat/otel3/tsconfig.json

FILES=(test/compat.test.ts test/package.test.ts test/examples.test.ts test/metrics/*.test.ts test/export/*.test.ts test/cli/*.test.ts)
echo "compat/otel3: ${#FILES[@]} test files on Node.js $(node -p 'process.versions.node') with OpenTelemetry JS 3.x"
export OTEL_JS_LINE=3
export NODE_OPTIONS="--import=$ROOT/compat/otel3/resolve.mjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec node --expose-gc --import tsx --test --test-concurrency=1 --test-reporter=spec "${FILES[@]}"
