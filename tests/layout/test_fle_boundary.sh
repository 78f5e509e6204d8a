#!/usr/bin/env bash
# test_fle_boundary.sh - the encryption layer's boundary: src/fle/ includes nothing of the session
# or the transport (src/conn/, src/net/, <sys/socket.h>, <openssl/ssl.h>), directly or through
# another header, and outside src/fle/ only fle/fle.h is used (fle_internal.h is the layer's own).
# Run by `make test` (scripts/test-all.sh runs tests/*/test_*.sh).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
passed=0 failed=0
forbidden='(conn/|net/|sys/socket\.h|openssl/ssl\.h)'

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# the check finds what it must (positive control)
if printf '#include "conn/conn_internal.h"\n#include <sys/socket.h>\n' |
  grep -qE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$forbidden"; then ok; else bad "the include pattern matches nothing"; fi

# 1. direct includes of src/fle/
hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$forbidden" src/fle/*.c src/fle/*.h)
if [[ -z $hits ]]; then ok; else bad "src/fle/ includes the session or sockets:"; echo "$hits"; fi

# 2. what they include in turn (the compiler's dependency list)
cflags="-std=c17 -D_GNU_SOURCE -Isrc $(pkg-config --cflags openssl yaml-0.1 jansson libcurl libmicrohttpd libpq liburing 2>/dev/null)"
deps=""
for f in src/fle/*.c; do
  d=$(${CC:-cc} $cflags -M "$f" 2>&1) || { bad "cannot list the includes of $f: $d"; continue; }
  deps+=$(tr ' \\' '\n\n' <<<"$d" | grep -E "(src/$forbidden)|/sys/socket\.h|/openssl/ssl\.h" | sed "s|^|$f: |")
done
if [[ -z $deps ]]; then ok; else bad "src/fle/ reaches the session or sockets through a header:"; echo "$deps"; fi

# 3. the layer's private header stays private
hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]fle/fle_internal\.h' src --include='*.[ch]' | grep -v '^src/fle/')
if [[ -z $hits ]]; then ok; else bad "fle_internal.h used outside src/fle/:"; echo "$hits"; fi

echo "fle boundary: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
