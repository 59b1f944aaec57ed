#!/usr/bin/env bash
# Installs the real peers the tests talk to. Idempotent: work already done is skipped.
#
#  1. Debian (bookworm) packages, installed system-wide with --no-install-recommends:
#       containerd runc busybox-static docker.io podman conmon catatonit (podman's pods build
#       their pause image from catatonit), and gcc libc6-dev (npm ci builds the events addon,
#       native/cgroup-events.c; usually there already), and the official CRI and containerd
#       .proto files that test/discovery/protos.test.ts checks proto/ against
#       (golang-github-kubernetes-cri-api-dev golang-github-containerd-containerd-dev), and
#       fuse3 libfuse3-dev pkg-config (test/helpers/slowfs.c: a FUSE file system whose reads
#       hang, built and mounted by the hung-read tests)
#     Their services are NOT started (a policy-rc.d that says "no" is put in place for the
#     install if none exists); the tests start their own daemons on private sockets.
#  2. From Debian trixie, downloaded and unpacked (NOT installed) under .peers/:
#       prometheus, promtool, victoria-metrics (with vmagent, vmctl, ...), opentelemetry-proto
#     A trixie apt source is added at pin priority 100, so apt never upgrades or installs
#     anything from trixie on its own; bookworm (500) stays the source of everything else.
#  3. Node.js 24 from the npm registry (the `node-linux-<arch>` package, whose tarball holds the
#     official binary; `npm pack` checks its integrity), unpacked (NOT installed) under .peers/:
#     the second run of scripts/test-all.sh (compat/otel3/test.sh: Node 24 with OpenTelemetry
#     JS 3.x) runs on it. Nothing on PATH changes.
#
# Result (stable paths the tests use, see test/helpers/peers.ts):
#   .peers/bin/prometheus .peers/bin/promtool .peers/bin/victoria-metrics .peers/bin/vmagent
#   .peers/proto/opentelemetry/proto/...            (the canonical OTLP .proto files)
#   .peers/bin/node24 -> .peers/pkg/node24/bin/node (Node.js 24; .peers/pkg/node24/bin for PATH)
#   .peers/pkg/<package>/                           (the unpacked .deb trees; .version inside)
#   .peers/versions.txt                             (package versions, one "name=version" a line)
#
# Environment: PEERS_DIR (default <repo>/.peers), INSTALL_PEERS_TRIES (default 3),
#              NODE24_SPEC (default node-linux-<x64|arm64>@24: the newest 24.x),
#              INSTALL_PEERS_SKIP_SYSTEM=1 (only the .peers/ part; no apt-get install).
# Needs root (or password-less sudo) for apt; Debian 12 bookworm (trixie also works).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/.peers}"
TRIES="${INSTALL_PEERS_TRIES:-3}"
SKIP_SYSTEM="${INSTALL_PEERS_SKIP_SYSTEM:-0}"

SYSTEM_PKGS=(containerd runc busybox-static docker.io podman conmon catatonit gcc libc6-dev
  golang-github-kubernetes-cri-api-dev golang-github-containerd-containerd-dev fuse3 libfuse3-dev pkg-config)
# name in trixie -> files that must exist in the unpacked tree
UNPACK_PKGS=(prometheus promtool victoria-metrics opentelemetry-proto)
declare -A UNPACK_CHECK=(
  [prometheus]=usr/bin/prometheus
  [promtool]=usr/bin/promtool
  [victoria-metrics]=usr/bin/victoria-metrics
  [opentelemetry-proto]=usr/include/opentelemetry/proto/metrics/v1/metrics.proto
)
TRIXIE_SOURCE=/etc/apt/sources.list.d/trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/trixie
APT_OPTS=(-q -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf '[install-peers] %s\n' "$*"; }
warn() { printf '[install-peers] WARNING: %s\n' "$*" >&2; }
die() { printf '[install-peers] ERROR: %s\n' "$*" >&2; exit 1; }

START_S=$SECONDS
elapsed() { printf '%ss' "$((SECONDS - START_S))"; }

# retry "<what>" cmd args...: up to $TRIES tries, 5 s, 10 s, ... apart
retry() {
  local what="$1" n=1
  shift
  until "$@"; do
    if ((n >= TRIES)); then
      printf '[install-peers] ERROR: %s failed %d times: %s\n' "$what" "$n" "$*" >&2
      return 1
    fi
    warn "$what failed (try $n of $TRIES); retrying in $((n * 5)) s"
    sleep $((n * 5))
    n=$((n + 1))
  done
}

SUDO=()
need_root() {
  if ((EUID == 0)); then return 0; fi
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
    return 0
  fi
  die "this step needs root (apt-get): run as root or with password-less sudo"
}

# Whenever our trixie source exists, (re)assert its pin: nothing may be upgraded from trixie.
WANT_PIN="$(printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n')"
assert_pin() {
  if [[ ! -e "$TRIXIE_PIN" ]] || [[ "$(cat "$TRIXIE_PIN")" != "$WANT_PIN" ]]; then
    printf '%s\n' "$WANT_PIN" | "${SUDO[@]}" tee "$TRIXIE_PIN" >/dev/null
    log "pinned trixie at priority 100 ($TRIXIE_PIN)"
  fi
}
if [[ -e "$TRIXIE_SOURCE" ]] && ! { [[ -e "$TRIXIE_PIN" ]] && [[ "$(cat "$TRIXIE_PIN")" == "$WANT_PIN" ]]; }; then
  need_root
  assert_pin
fi

# ---------------------------------------------------------------- what is missing
missing_system=()
if [[ "$SKIP_SYSTEM" != 1 ]]; then
  for p in "${SYSTEM_PKGS[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
      missing_system+=("$p")
    fi
  done
fi

unpacked_ok() { # name
  local d="$PEERS_DIR/pkg/$1"
  [[ -s "$d/.version" && -e "$d/${UNPACK_CHECK[$1]}" ]]
}
missing_unpack=()
for p in "${UNPACK_PKGS[@]}"; do
  unpacked_ok "$p" || missing_unpack+=("$p")
done

if ((${#missing_system[@]})); then log "Debian packages to install: ${missing_system[*]}"; fi
if ((${#missing_unpack[@]})); then log "packages to unpack into $PEERS_DIR: ${missing_unpack[*]}"; fi

# ---------------------------------------------------------------- apt work
if ((${#missing_system[@]} + ${#missing_unpack[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script needs Debian 12 (bookworm)"
  need_root
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  if [[ "$codename" != bookworm && "$codename" != trixie ]]; then
    warn "this is '${codename:-unknown}', not Debian bookworm; trying anyway"
  fi

  if ((${#missing_unpack[@]})) && [[ "$codename" != trixie ]]; then
    # A trixie source at low priority, derived from the machine's own Debian source (mirror).
    uri=""
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
      uri="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
      uri="$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
    fi
    if [[ -z "$uri" ]]; then
      uri=http://deb.debian.org/debian
      warn "no Debian source found to derive the mirror from; using $uri"
    fi
    want_source="$(printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri")"
    if [[ ! -e "$TRIXIE_SOURCE" ]] || [[ "$(cat "$TRIXIE_SOURCE")" != "$want_source" ]]; then
      [[ -e "$TRIXIE_SOURCE" ]] && log "rewriting $TRIXIE_SOURCE (it differed)"
      printf '%s\n' "$want_source" | "${SUDO[@]}" tee "$TRIXIE_SOURCE" >/dev/null
      log "added the trixie source $TRIXIE_SOURCE ($uri)"
    fi
    assert_pin
    [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] ||
      die "/usr/share/keyrings/debian-archive-keyring.gpg is missing (package debian-archive-keyring)"
  fi

  log "apt-get update ($(elapsed))"
  # apt-get update exits 100 when ANY source fails (an unreachable third-party repository too):
  # after the retries, go on with the indexes it got; the install/download below then says.
  if ! retry "apt-get update" "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update; then
    warn "apt-get update still reports errors after $TRIES tries (see above); going on with the indexes it got"
  fi

  if ((${#missing_system[@]})); then
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e "$policy" ]]; then
      # Do not let docker.io/containerd/podman start system services during the install.
      printf '#!/bin/sh\n# install-peers.sh: no service starts during the install\nexit 101\n' |
        "${SUDO[@]}" tee "$policy" >/dev/null
      "${SUDO[@]}" chmod 755 "$policy"
      made_policy=1
      trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    log "apt-get install ${missing_system[*]} ($(elapsed))"
    retry "apt-get install" "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing_system[@]}" ||
      die "apt-get install ${missing_system[*]} failed (see the apt errors above; did apt-get update reach Debian's archive?)"
    if ((made_policy)); then
      "${SUDO[@]}" rm -f "$policy"
      trap - EXIT
    fi
  fi

  if ((${#missing_unpack[@]})); then
    mkdir -p "$PEERS_DIR/pkg"
    dl="$(mktemp -d "${TMPDIR:-/tmp}/install-peers.XXXXXX")"
    trap 'rm -rf "$dl"' EXIT
    # apt downloads as the unprivileged _apt user when it can write the directory
    if id _apt >/dev/null 2>&1; then chown _apt "$dl" 2>/dev/null || chmod 777 "$dl"; fi
    specs=()
    for p in "${missing_unpack[@]}"; do
      if [[ "$codename" == trixie ]]; then specs+=("$p"); else specs+=("$p/trixie"); fi
    done
    log "apt-get download ${specs[*]} ($(elapsed))"
    (cd "$dl" && retry "apt-get download" "${SUDO[@]}" apt-get "${APT_OPTS[@]}" download "${specs[@]}") ||
      die "apt-get download ${specs[*]} failed; is the trixie source at $TRIXIE_SOURCE reachable?"
    for p in "${missing_unpack[@]}"; do
      deb="$(find "$dl" -maxdepth 1 -name "${p}_*.deb" | head -n 1)"
      [[ -n "$deb" ]] || die "apt-get download left no ${p}_*.deb in $dl"
      version="$(dpkg-deb -f "$deb" Version)"
      stage="$PEERS_DIR/pkg/.$p.tmp"
      rm -rf "$stage"
      mkdir -p "$stage"
      dpkg-deb -x "$deb" "$stage"
      [[ -e "$stage/${UNPACK_CHECK[$p]}" ]] || die "$p $version has no ${UNPACK_CHECK[$p]}"
      printf '%s\n' "$version" >"$stage/.version"
      rm -rf "${PEERS_DIR:?}/pkg/$p"
      mv "$stage" "$PEERS_DIR/pkg/$p"
      log "unpacked $p $version into $PEERS_DIR/pkg/$p"
    done
    rm -rf "$dl"
    trap - EXIT
  fi
fi

# ---------------------------------------------------------------- Node.js 24 (npm registry)
case "$(uname -m)" in
x86_64) node_arch=x64 ;;
aarch64 | arm64) node_arch=arm64 ;;
*) die "no node-linux-* package for $(uname -m)" ;;
esac
NODE24_SPEC="${NODE24_SPEC:-node-linux-$node_arch@24}"
node24_ok() {
  local d="$PEERS_DIR/pkg/node24"
  [[ -s "$d/.version" && -x "$d/bin/node" ]] &&
    [[ "$("$d/bin/node" -p 'process.versions.node' 2>/dev/null)" == 24.* ]]
}
if ! node24_ok; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $NODE24_SPEC"
  log "npm pack $NODE24_SPEC ($(elapsed))"
  mkdir -p "$PEERS_DIR/pkg"
  dl="$(mktemp -d "${TMPDIR:-/tmp}/install-peers.XXXXXX")"
  trap 'rm -rf "$dl"' EXIT
  (cd "$dl" && retry "npm pack $NODE24_SPEC" npm pack --silent --no-fund --no-audit "$NODE24_SPEC" >/dev/null) ||
    die "npm pack $NODE24_SPEC failed; is the npm registry reachable?"
  tgz="$(find "$dl" -maxdepth 1 -name 'node-linux-*.tgz' | head -n 1)"
  [[ -n "$tgz" ]] || die "npm pack $NODE24_SPEC left no tarball in $dl"
  stage="$PEERS_DIR/pkg/.node24.tmp"
  rm -rf "$stage"
  mkdir -p "$stage"
  tar -xzf "$tgz" -C "$stage" --strip-components=1 --no-same-owner
  version="$("$stage/bin/node" -p 'process.versions.node' 2>&1)" ||
    die "$NODE24_SPEC's bin/node does not run here: $version"
  [[ "$version" == 24.* ]] || die "$NODE24_SPEC gave Node.js $version, not 24.x"
  printf '%s\n' "$version" >"$stage/.version"
  rm -rf "${PEERS_DIR:?}/pkg/node24"
  mv "$stage" "$PEERS_DIR/pkg/node24"
  rm -rf "$dl"
  trap - EXIT
  log "unpacked Node.js $version into $PEERS_DIR/pkg/node24"
fi

# ---------------------------------------------------------------- stable paths
mkdir -p "$PEERS_DIR/bin"
link() { # target(relative to PEERS_DIR) name
  [[ -e "$PEERS_DIR/$1" ]] || return 0
  ln -sfn "../$1" "$PEERS_DIR/bin/$2"
}
link pkg/prometheus/usr/bin/prometheus prometheus
link pkg/promtool/usr/bin/promtool promtool
for f in "$PEERS_DIR"/pkg/victoria-metrics/usr/bin/*; do
  [[ -e "$f" ]] && link "pkg/victoria-metrics/usr/bin/$(basename "$f")" "$(basename "$f")"
done
ln -sfn pkg/opentelemetry-proto/usr/include "$PEERS_DIR/proto"
link pkg/node24/bin/node node24

# ---------------------------------------------------------------- check and report
for b in prometheus promtool victoria-metrics node24; do
  [[ -x "$PEERS_DIR/bin/$b" ]] || die "$PEERS_DIR/bin/$b is missing after the install"
done
[[ -e "$PEERS_DIR/proto/opentelemetry/proto/collector/metrics/v1/metrics_service.proto" ]] ||
  die "$PEERS_DIR/proto/opentelemetry/proto/... is missing after the install"

firstline() { "$@" 2>&1 | head -n 1 || true; }
prom_v="$(firstline "$PEERS_DIR/bin/prometheus" --version)"
[[ "$prom_v" == prometheus* ]] || die "$PEERS_DIR/bin/prometheus does not run here: $prom_v (needs glibc >= 2.34)"
promtool_v="$(firstline "$PEERS_DIR/bin/promtool" --version)"
# Debian's build prints an empty -version: check that it runs, report the package version.
"$PEERS_DIR/bin/victoria-metrics" -version >/dev/null 2>&1 ||
  die "$PEERS_DIR/bin/victoria-metrics does not run here: $(firstline "$PEERS_DIR/bin/victoria-metrics" -version)"
vm_v="victoria-metrics $(cat "$PEERS_DIR/pkg/victoria-metrics/.version") (Debian package; the binary prints no version)"

{
  for p in "${UNPACK_PKGS[@]}"; do printf '%s=%s\n' "$p" "$(cat "$PEERS_DIR/pkg/$p/.version")"; done
  printf 'node24=%s\n' "$(cat "$PEERS_DIR/pkg/node24/.version")"
  if [[ "$SKIP_SYSTEM" != 1 ]]; then
    for p in "${SYSTEM_PKGS[@]}"; do
      printf '%s=%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo missing)"
    done
  fi
} >"$PEERS_DIR/versions.txt"

log "peers ready in $PEERS_DIR ($(elapsed)):"
sed 's/^/[install-peers]   /' "$PEERS_DIR/versions.txt"
log "  $prom_v"
log "  $promtool_v"
log "  $vm_v"
if [[ "$SKIP_SYSTEM" != 1 ]]; then
  for b in containerd runc ctr dockerd docker podman conmon catatonit busybox; do
    command -v "$b" >/dev/null 2>&1 || die "$b is not on PATH after installing ${SYSTEM_PKGS[*]}"
  done
fi
