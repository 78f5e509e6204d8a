#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages (and test npm modules) pgseal needs, only those missing (chromium: the demo page's browser test; ssss: the escrow tests recombine shares with it).
set -euo pipefail
cd "$(dirname "$0")/.."

# `install-deps.sh conformance`: only what `make conformance` needs beyond the tests
# (the drivers' own suites: async tests, per-test timeouts, psycopg's DNS tests)
if [[ ${1:-} == conformance ]]; then
  PKGS=(python3-pytest python3-psycopg python3-psycopg2 python3-pytest-asyncio python3-pytest-timeout
        python3-dnspython postgresql-15 postgresql-client-15 openssl util-linux)
else
PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
  libssl-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libpq-dev libpg-query-dev liburing-dev
  postgresql-15 postgresql-client-15 pgbouncer openssl
  ssss
  python3 python3-pytest python3-psycopg python3-psycopg2 python3-sqlalchemy
  util-linux procps
  mmdebstrap umoci
  chromium
)
fi
# node and npm may come from elsewhere (NodeSource ships npm inside nodejs): only ask
# Debian for them when the commands are missing
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node test dependencies, from the npm registry: tests/node (node-postgres, dstack SDK,
# dcap-qvl) and tests/demo (puppeteer-core, driving Debian's chromium above: never a
# browser of its own, hence PUPPETEER_SKIP_DOWNLOAD)
for d in tests/node tests/demo; do
  if [[ -f $d/package.json && ! -d $d/node_modules ]]; then
    echo "install-deps: npm install in $d"
    (cd "$d" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
