#!/usr/bin/env bash
# Installs dependencies, builds Arclight and runs it on SQLite with config/arclight.toml.
#   scripts/run.sh            (Ctrl-C stops the server gracefully)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}  # cache hits across clones in different directories
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARCLIGHT_BUILD_TESTS=OFF -DARCLIGHT_BUILD_BENCH=OFF >/dev/null
cmake --build build --target arclight
port=$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' config/arclight.toml | head -n1)
echo "==> Arclight: open http://127.0.0.1:${ARCLIGHT_SERVER_PORT:-${port:-8080}}/  (Ctrl-C to stop)"
exec build/arclight serve --config config/arclight.toml
