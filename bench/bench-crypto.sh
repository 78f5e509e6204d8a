#!/usr/bin/env bash
# bench-crypto.sh - builds bench/bench_crypto.c against build/libpgseal.a and prints records/s vs raw EVP.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[[ -f build/libpgseal.a ]] || make --no-print-directory build/libpgseal.a
mkdir -p build/bench
cc -std=c17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc $(pkg-config --cflags openssl) \
  -o build/bench/bench_crypto bench/bench_crypto.c build/libpgseal.a \
  $(pkg-config --libs openssl jansson libcurl yaml-0.1) -pthread -lm
echo "command: build/bench/bench_crypto   (host: $(nproc) CPUs, $(openssl version | cut -d' ' -f1-2))"
build/bench/bench_crypto
