#!/usr/bin/env bash
# Installs what Arclight needs from Debian 12 packages (and Node.js if it is missing).
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   plus what the test suite needs (PostgreSQL 15, Chromium, doctest, curl)
# Packages already installed are not fetched again, so a second run needs no network.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config
  libboost1.81-all-dev libboost-json1.81-dev libsoci-dev libsqlite3-dev libpq-dev
  libfmt-dev libtomlplusplus-dev libcli11-dev libsodium-dev libssl-dev liblua5.4-dev libjemalloc-dev)
if [ "${1:-}" = "--test" ]; then
  packages+=(doctest-dev postgresql-15 chromium curl wrk procps)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "warning: Node.js $(node --version) is older than 20; the web UI build (Vite 7) needs Node.js 20.19 or newer" >&2
fi
