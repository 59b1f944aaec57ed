#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs the real peers the tests talk to
# (Debian packages and the unpacked Prometheus/promtool/VictoriaMetrics under .peers/),
# the npm packages, then builds and runs every test. Needs root (real cgroups, apt).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
npm ci
npm test
