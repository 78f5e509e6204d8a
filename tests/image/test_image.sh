#!/usr/bin/env bash
# test_image.sh - `make image` end to end: builds the OCI image (scripts/image.sh), checks its layout and digest, unpacks it with umoci and runs its pgseal under chroot/unshare as the image's user: --version, schema, keys status against the simulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d /tmp/pgseal-image-test.XXXXXX)
sim_pid=
cleanup() { [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

# --- build ----------------------------------------------------------------------------------
out=$(PGSEAL_IMAGE_OUT="$t/out" bash "$root/scripts/image.sh" 2>"$t/build.err") || { cat "$t/build.err"; exit 1; }
last=$(tail -1 <<<"$out")
check "last line is sha256:<64 hex>" grep -qxE 'sha256:[0-9a-f]{64}' <<<"$last"
check "digest file = last line" test "$(cat "$t/out/digest")" = "$last"
idx_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$t/out/oci/index.json")
check "index.json names the manifest" test "$idx_digest" = "$last"
check "the manifest blob hashes to its digest" test "sha256:$(sha256sum <"$t/out/oci/blobs/sha256/${last#sha256:}" | cut -c1-64)" = "$last"
check "OCI archive" test -s "$t/out/pgseal-image.oci.tar"
check "package list" grep -q '^libpq5 ' "$t/out/packages.txt"

# --- unpack with an independent tool (umoci) -------------------------------------------------
umoci unpack --image "$t/out/oci:latest" "$t/bundle" >/dev/null 2>"$t/umoci.err" || { cat "$t/umoci.err"; exit 1; }
R="$t/bundle/rootfs"
user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["process"]["user"]["uid"])' "$t/bundle/config.json")
check "runs as a non-root user" test "$user" = 10001
for f in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/gcc usr/bin/cc usr/bin/apt usr/bin/dpkg; do
  check "no $f in the image" test ! -e "$R/$f"
done
check "pgseal" test -x "$R/usr/local/bin/pgseal"
check "pgseal-demo" test -x "$R/usr/local/bin/pgseal-demo"
check "the data directory belongs to the user" test "$(stat -c %u "$R/data/pgseal")" = 10001
check "no build path in the binaries" bash -c "! grep -qa -e '/tmp/pgseal-image' -e '$root' '$R/usr/local/bin/pgseal' '$R/usr/local/bin/pgseal-demo'"

# --- run it: chroot as the image's user, in new network/mount/pid namespaces ------------------
run() { unshare --net --mount --pid --fork chroot --userspec=10001:10001 "$R" "$@"; }
v=$(run /usr/local/bin/pgseal --version) || true
check "pgseal --version ($v)" grep -qE '^pgseal [0-9]+\.[0-9]+' <<<"$v"
check "pgseal-demo --help" bash -c "unshare --net --mount --pid --fork chroot --userspec=10001:10001 '$R' /usr/local/bin/pgseal-demo --help >/dev/null 2>&1"
mkdir -p "$R/tmp/t"
cat >"$R/tmp/t/enc.yaml" <<'YAML'
schemas:
  - table: people
    columns: [id, email, ssn]
    encrypted:
      - {column: email, searchable: true, data_type: str}
      - {column: ssn, data_type: str}
YAML
# the simulator runs outside; its socket is reached through the chroot's file system
"$root/build/pgseal-dstack-sim" --socket "$R/tmp/t/dstack.sock" >"$t/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [[ -S $R/tmp/t/dstack.sock ]] && break; sleep 0.1; done
chmod 755 "$R/tmp/t"; chmod 666 "$R/tmp/t/dstack.sock" 2>/dev/null || true
cat >"$R/tmp/t/pgseal.yaml" <<'YAML'
listen: "127.0.0.1:6432"
upstream: {host: 127.0.0.1, port: 5432, tls: disable}
keys:
  provider: dstack
  dstack_endpoint: /tmp/t/dstack.sock
  sealed_master_key: /data/pgseal/master.sealed
  keystore: /data/pgseal/keystore
encryptor_config_file: enc.yaml
YAML
s=$(run /usr/local/bin/pgseal schema --config /tmp/t/pgseal.yaml 2>&1) || true
check "pgseal schema in the image" grep -q 'CREATE INDEX IF NOT EXISTS people_email_pgseal_bidx' <<<"$s"
k=$(run /usr/local/bin/pgseal keys init --config /tmp/t/pgseal.yaml 2>&1) || true
ks=$(run /usr/local/bin/pgseal keys status --config /tmp/t/pgseal.yaml 2>&1) || true
check "pgseal keys init/status against the simulator ($k / $ks)" test -s "$R/data/pgseal/master.sealed"
check "keys status answers" test -n "$ks"

echo "image: digest $last"
echo "image: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
