#!/usr/bin/env bash
# Proves the layer boundaries hold (run by scripts/test.sh after the build):
#   1. no file under core/ includes a file under modules/;
#   2. no module reaches into another folder with a relative include ("../");
#   3. compiled with a module's own flags, another module's public header (api.hpp) compiles and
#      its private header does not: the build, not discipline, keeps modules apart.
#   scripts/check-boundaries.sh [BUILD_DIR]   (default build; needs compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fail() { echo "check-boundaries: $*" >&2; exit 1; }

if grep -rnE '#\s*include\s*[<"]modules/' core; then fail "core/ includes a module (above)"; fi
if grep -rnE '#\s*include\s*"\.\./' modules; then fail "a module includes through ../ (above)"; fi

[ -f "$build/compile_commands.json" ] || fail "$build/compile_commands.json is missing (configure first)"
# The compile command of the system module's module.cpp, as the build runs it.
cmd=$(python3 - "$build/compile_commands.json" <<'EOF'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("modules/system/module.cpp"):
        args, out, i = shlex.split(e["command"]), [], 0
        while i < len(args):
            a = args[i]
            if a in ("-o", "-c", "-include"):  # output, input, and the precompiled header
                i += 2
                continue
            if a != "-Winvalid-pch":
                out.append(a)
            i += 1
        print(e["directory"])
        print(shlex.join(out))
        break
EOF
)
[ -n "$cmd" ] || fail "no compile command for modules/system/module.cpp"
dir=$(sed -n 1p <<<"$cmd")
flags=$(sed -n 2p <<<"$cmd")
tmp=$(mktemp -d /tmp/arclight-boundary.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo '#include "modules/workflow/api.hpp"' >"$tmp/public.cpp"
echo '#include "modules/workflow/engine.hpp"' >"$tmp/private.cpp"
(cd "$dir" && eval "$flags -fsyntax-only $tmp/public.cpp") ||
  fail "another module's public header (modules/workflow/api.hpp) did not compile from modules/system"
if (cd "$dir" && eval "$flags -fsyntax-only $tmp/private.cpp") 2>"$tmp/err"; then
  fail "modules/system could include modules/workflow/engine.hpp, a private header of another module"
fi
grep -q 'modules/workflow/engine.hpp' "$tmp/err" || { cat "$tmp/err" >&2; fail "the private include failed for another reason"; }
echo "boundaries hold: core includes no module; modules/system reaches modules/workflow/api.hpp but not modules/workflow/engine.hpp"
