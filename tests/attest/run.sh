#!/usr/bin/env bash
# run.sh - end-to-end tests of `pgseal attest verify`: vectors, windows, bad inputs, event log,
# policy, test-CA quotes (--root-ca), --connect against a TLS stand-in, Proof of Cloud tokens
# (poc.sh), and agreement with the independent verifier @phala/dcap-qvl. Ends with
# "attest: N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PG=${PGSEAL:-$ROOT/build/pgseal}
PY=/usr/bin/python3
T=${PGSEAL_TESTDATA:-}
for c in "$T" "$ROOT/../shared/testdata/tdx" /work/shared/testdata/tdx; do
  [[ -n "$c" && -f "$c/tdx_quote.bin" ]] && { T=$c; break; }
done
[[ -f "$T/tdx_quote.bin" ]] || { echo "attest: test data not found"; echo "attest: 0 passed, 1 failed"; exit 1; }
[[ -x "$PG" ]] || { echo "attest: $PG not built"; echo "attest: 0 passed, 1 failed"; exit 1; }

W=$(mktemp -d /tmp/pgseal-attest-XXXXXX)
SERVERS=()
cleanup() {
  for p in "${SERVERS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# jf FILE KEY -> the JSON value of a top-level (or a.b nested) key, "null" if absent
jf() { "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d=d.get(k) if isinstance(d,dict) else None
print("null" if d is None else (json.dumps(d) if not isinstance(d,str) else d))' "$1" "$2" 2>/dev/null || echo "<no json>"; }

# run NAME WANT_EXIT ARGS... ; leaves the JSON in $W/out.json
run() {
  local name=$1 want=$2; shift 2
  "$PG" attest verify "$@" >"$W/out.json" 2>"$W/err.txt"; local rc=$?
  if [[ $rc -ne $want ]]; then bad "$name: exit $rc, want $want ($(jf "$W/out.json" reason)$(jf "$W/out.json" error))"; return 1; fi
  if ! "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/out.json" 2>/dev/null; then
    bad "$name: stdout is not one JSON object"; return 1; fi
  ok; return 0
}
# is NAME KEY VALUE: checks a field of the last output
is() { local v; v=$(jf "$W/out.json" "$2"); if [[ "$v" == "$3" ]]; then ok; else bad "$1: $2 = '$v', want '$3'"; fi; }

Q=$T/tdx_quote.bin; C=$T/tdx_quote_collateral.json
Q2=$T/tdx_quote_outdated.bin; C2=$T/tdx_quote_outdated_collateral.json

# --- the public vectors at their documented times, and around their windows -------------
run "vector trusted" 0 --quote "$Q" --collateral "$C" --at 1751000000 && {
  is "vector trusted" verdict trusted; is "vector trusted" tcb_status UpToDate
  for k in mrtd rtmr0 rtmr1 rtmr2 rtmr3 report_data; do
    v=$(jf "$W/out.json" $k); [[ "$v" =~ ^[0-9a-f]+$ ]] && ok || bad "vector trusted: $k missing"; done; }
run "outdated vector" 1 --quote "$Q2" --collateral "$C2" --at 1772000000 && {
  is "outdated vector" verdict untrusted; is "outdated vector" failed_check tcb_level; is "outdated vector" quote_version 5; }
for t in 1700000000 1750300000 1760000000 1900000000; do
  run "window $t" 1 --quote "$Q" --collateral "$C" --at $t && is "window $t" failed_check tcb_info_window; done
for t in 1771000000 1775000000; do
  run "outdated window $t" 1 --quote "$Q2" --collateral "$C2" --at $t && is "outdated window $t" failed_check tcb_info_window; done
run "cross collateral" 1 --quote "$Q2" --collateral "$C" --at 1751000000
run "no collateral" 1 --quote "$Q" --at 1751000000 && is "no collateral" failed_check collateral
run "root override DER" 0 --quote "$Q" --collateral "$C" --at 1751000000 --root-ca "$T/intel_sgx_root_ca.der"
openssl x509 -inform der -in "$T/intel_sgx_root_ca.der" -out "$W/intel_root.pem" 2>/dev/null
run "root override PEM" 0 --quote "$Q" --collateral "$C" --at 1751000000 --root-ca "$W/intel_root.pem"

# the PCK CRL expires (1752919235) shortly before the TCB Info (1752920163): like Intel QVL
# (STATUS_SGX_CRL_EXPIRED) and unlike dcap-qvl, an expired CRL is refused
run "expired PCK CRL" 1 --quote "$Q" --collateral "$C" --at 1752920000 && is "expired PCK CRL" failed_check pck_chain

# --- quote encodings and malformed quotes -------------------------------------------------
xxd -p "$Q" >"$W/q.hex"
run "hex quote" 0 --quote "$W/q.hex" --collateral "$C" --at 1751000000
printf '0x%s' "$(tr -d '\n' <"$W/q.hex")" >"$W/q0x.hex"
run "0x hex quote" 0 --quote "$W/q0x.hex" --collateral "$C" --at 1751000000
printf 'zz%s' "$(tr -d '\n' <"$W/q.hex")" >"$W/bad.hex"
run "bad hex" 1 --quote "$W/bad.hex" --collateral "$C" --at 1751000000 && is "bad hex" failed_check quote_format
printf 'abc' >"$W/odd.hex"
run "odd hex" 1 --quote "$W/odd.hex" --collateral "$C" --at 1751000000
head -c 1000 "$Q" >"$W/trunc.bin"
run "truncated" 1 --quote "$W/trunc.bin" --collateral "$C" --at 1751000000 && is "truncated" failed_check quote_format
head -c 4000 "$Q" >"$W/trunc2.bin"
run "truncated in chain" 1 --quote "$W/trunc2.bin" --collateral "$C" --at 1751000000
: >"$W/empty.bin"
run "empty quote" 1 --quote "$W/empty.bin" --collateral "$C" --at 1751000000
{ cat "$Q"; head -c 1100000 /dev/zero; } >"$W/big.bin"
run "oversized quote" 1 --quote "$W/big.bin" --collateral "$C" --at 1751000000
head -c 17000000 /dev/zero >"$W/huge.bin"
run "huge file" 2 --quote "$W/huge.bin" --collateral "$C" --at 1751000000
cp "$Q" "$W/len.bin"; printf '\xff\xff\xff\x7f' | dd of="$W/len.bin" bs=1 seek=632 conv=notrunc 2>/dev/null
run "length past end" 1 --quote "$W/len.bin" --collateral "$C" --at 1751000000 && is "length past end" failed_check quote_format
cp "$Q" "$W/flip.bin"; printf '\x01' | dd of="$W/flip.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
run "flipped body" 1 --quote "$W/flip.bin" --collateral "$C" --at 1751000000 && is "flipped body" failed_check quote_signature
run "dstack json quote" 1 --quote "$T/dstack_quote_report.json" --at 1751000000 && is "dstack json quote" failed_check pck_chain
# dstack's real quote: its PCK certificate dates from 2025-09-16; later every signature holds
run "dstack quote signatures" 1 --quote "$T/dstack_quote_report.json" --at 1760000000 && is "dstack quote signatures" failed_check collateral

# --- usage and I/O errors: exit 2 ---------------------------------------------------------
run "no args" 2
run "missing quote file" 2 --quote "$W/nope.bin"
run "both sources" 2 --quote "$Q" --connect 127.0.0.1:1
run "bad --at" 2 --quote "$Q" --at yesterday
run "bad --timeout" 2 --quote "$Q" --timeout 5x
run "unknown option" 2 --quote "$Q" --frobnicate
printf -- '-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n' >"$W/badroot.pem"
run "malformed PEM root" 2 --quote "$Q" --collateral "$C" --root-ca "$W/badroot.pem"
echo '{"tcb_info": 1}' >"$W/badcoll.json"
run "malformed collateral" 2 --quote "$Q" --collateral "$W/badcoll.json"
echo 'mrtd: [12' >"$W/badpolicy.yaml"
run "malformed policy" 2 --quote "$Q" --collateral "$C" --policy "$W/badpolicy.yaml"
echo '[{"imr": 9}]' >"$W/badlog.json"
run "malformed event log" 2 --quote "$Q" --event-log "$W/badlog.json"
"$PG" attest verify --help >/dev/null && ok || bad "--help"

# --- event log replay (dstack's real quote and log) ---------------------------------------
run "dstack replay" 1 --quote "$T/dstack_quote_report.json" --event-log "$T/dstack_quote_report.json" && {
  is "dstack replay" rtmr3_replayed_ok true
  is "dstack replay" compose_hash 3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7
  is "dstack replay" app_id 3763bc34552cf3a27ff71ad5f7a90471562a1a2d
  is "dstack replay" instance_id c3714eb66990eace777b4e664c16e09375dec4c9
  is "dstack replay" rtmr3 0f787c3877f3e95095d5a4d13dd0fe0233803b30120d8469866719dc28f519ce021fe1e53459121e7a5a4443147185a8; }

# --- test-CA quotes: what the simulator produces ------------------------------------------
RT3=0f787c3877f3e95095d5a4d13dd0fe0233803b30120d8469866719dc28f519ce021fe1e53459121e7a5a4443147185a8
if "$PY" "$HERE/gen_test_quote.py" "$W/g" --rtmr3 $RT3 && "$PY" "$HERE/gen_test_quote.py" "$W/dbg" --debug; then
  G=$W/g
  run "test CA trusted" 0 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem"
  run "test CA DER root" 0 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.der"
  run "test CA without its root" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json"
  run "test CA without collateral" 1 --quote "$G/quote.bin" --root-ca "$G/root.pem" && is "test CA without collateral" failed_check collateral
  for rv in pck:pck_chain pckca:pck_crl_chain; do   # a revoked PCK CA already fails the CRL's own chain
    want=${rv#*:}; rv=${rv%%:*}
    if "$PY" "$HERE/gen_test_quote.py" "$W/rv_$rv" --revoke $rv; then
      run "revoked $rv" 1 --quote "$W/rv_$rv/quote.bin" --collateral "$W/rv_$rv/collateral.json" --root-ca "$W/rv_$rv/root.pem" && is "revoked $rv" failed_check $want
      [[ $(jf "$W/out.json" reason) == *revoked* ]] && ok || bad "revoked $rv: reason does not say revoked"
    else bad "gen_test_quote.py --revoke $rv failed"; fi
  done
  run "debug TD" 1 --quote "$W/dbg/quote.bin" --collateral "$W/dbg/collateral.json" --root-ca "$W/dbg/root.pem" && is "debug TD" failed_check td_attributes
  run "test CA + event log" 0 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --event-log "$T/dstack_quote_report.json" && {
    is "test CA + event log" rtmr3_replayed_ok true; is "test CA + event log" compose_hash 3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7; }
  "$PY" - "$T/dstack_quote_report.json" "$W/tampered.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); log = json.loads(d["event_log"])
for e in log:
    if e["event"] == "compose-hash":
        e["event_payload"] = "00" * 32
json.dump(log, open(sys.argv[2], "w"))
EOF
  run "tampered event log" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --event-log "$W/tampered.json" && {
    is "tampered event log" failed_check event_log; is "tampered event log" rtmr3_replayed_ok false; }
  # --- policy ---
  mrtd=$(jf "$W/out.json" mrtd)
  printf 'min_tcb_status: UpToDate\nmrtd: ["%s"]\ncompose_hashes:\n  - 3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7\nallowed_ppids: [00112233445566778899aabbccddeeff]\n' "$mrtd" >"$W/p_ok.yaml"
  run "policy pass" 0 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --event-log "$T/dstack_quote_report.json" --policy "$W/p_ok.yaml" && is "policy pass" policy.result pass
  printf 'compose_hashes: [%s]\n' "$(printf '11%.0s' {1..32})" >"$W/p_ch.yaml"
  run "policy compose hash" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --event-log "$T/dstack_quote_report.json" --policy "$W/p_ch.yaml" && {
    is "policy compose hash" failed_policy_rule compose_hashes; is "policy compose hash" failed_check policy; }
  printf 'rtmr1: ["%s"]\n' "$(printf '00%.0s' {1..48})" >"$W/p_rt.yaml"
  run "policy rtmr1" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --policy "$W/p_rt.yaml" && is "policy rtmr1" failed_policy_rule rtmr1
  printf '# registry\nffeeddccbbaa99887766554433221100\n' >"$W/ppids.txt"
  printf 'ppid_allowlist_file: ppids.txt\n' >"$W/p_pp.yaml"
  run "policy ppid" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --policy "$W/p_pp.yaml" && is "policy ppid" failed_policy_rule allowed_ppids
  printf 'compose_hashes: [3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7]\n' >"$W/p_nolog.yaml"
  run "policy needs log" 1 --quote "$G/quote.bin" --collateral "$G/collateral.json" --root-ca "$G/root.pem" --policy "$W/p_nolog.yaml" && is "policy needs log" failed_policy_rule compose_hashes
  printf 'min_tcb_status: OutOfDate\n' >"$W/p_min.yaml"
  run "policy relaxed tcb" 0 --quote "$Q" --collateral "$C" --at 1751000000 --policy "$W/p_min.yaml"
else
  bad "gen_test_quote.py failed"
fi

# --- --connect: SSLRequest + TLS, quote from the certificate, bound to its key ------------
start_server() { # CERT KEY [--refuse] -> sets PORT
  "$PY" "$HERE/ratls_server.py" "$@" --lifetime 60 >"$W/port.txt" 2>"$W/server.err" &
  SERVERS+=($!)
  for _ in $(seq 50); do [[ -s "$W/port.txt" ]] && break; sleep 0.1; done
  PORT=$(head -1 "$W/port.txt")
}
if "$PY" "$HERE/gen_test_quote.py" "$W/r" --ratls; then
  R=$W/r
  start_server "$R/ratls.pem" "$R/ratls.key"
  run "connect bound" 0 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json" --root-ca "$R/root.pem" && {
    is "connect bound" ra_tls.bound true; is "connect bound" rtmr3_replayed_ok true; }
  run "connect no root" 1 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json"
  start_server "$R/other.pem" "$R/other.key"
  run "connect other key" 1 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json" --root-ca "$R/root.pem" && {
    is "connect other key" failed_check ra_tls_binding; is "connect other key" ra_tls.bound false; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=plain -days 1 \
    -keyout "$W/plain.key" -out "$W/plain.pem" 2>/dev/null
  start_server "$W/plain.pem" "$W/plain.key"
  run "connect plain cert" 1 --connect 127.0.0.1:$PORT && is "connect plain cert" failed_check ra_tls
  start_server "$R/ratls.pem" "$R/ratls.key" --refuse
  run "connect refused TLS" 2 --connect 127.0.0.1:$PORT
  run "connect closed port" 2 --connect 127.0.0.1:1 --timeout 2000
  run "connect bad address" 2 --connect nonsense
else
  bad "gen_test_quote.py --ratls failed"
fi

# --- Proof of Cloud tokens (--poc-token) ----------------------------------------------------
source "$HERE/poc.sh"

# --- agreement with @phala/dcap-qvl --------------------------------------------------------
if [[ ! -d "$HERE/node/node_modules/@phala/dcap-qvl" ]] && command -v npm >/dev/null; then
  (cd "$HERE/node" && npm install --no-audit --no-fund --silent >/dev/null 2>&1)
fi
if [[ -d "$HERE/node/node_modules/@phala/dcap-qvl" ]] && command -v node >/dev/null; then
  agree() { # NAME QUOTE COLL AT [ROOT_DER]
    local name=$1 q=$2 c=$3 at=$4 root=${5:-}
    local ours theirs
    "$PG" attest verify --quote "$q" --collateral "$c" --at "$at" ${root:+--root-ca "$root"} >"$W/ours.json" 2>/dev/null
    ours=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); ok=d["failed_check"] in (None,"tcb_status"); print("ok", d["tcb_status"]) if ok else print("fail")' "$W/ours.json")
    theirs=$(node "$HERE/dcap_qvl_check.js" "$q" "$c" "$at" $root | "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print("ok", d["status"]) if d["ok"] else print("fail")')
    if [[ "$ours" == "$theirs" ]]; then ok; else bad "dcap-qvl disagrees on $name: pgseal '$ours', dcap-qvl '$theirs'"; fi
  }
  for t in 1750000000 1750400000 1751000000 1752000000 1752919000 1753000000 1760000000; do
    agree "tdx_quote@$t" "$Q" "$C" $t; done
  for t in 1771400000 1772000000 1773000000 1780000000; do
    agree "outdated@$t" "$Q2" "$C2" $t; done
  agree "cross" "$Q2" "$C" 1751000000
  agree "cross2" "$Q" "$C2" 1772000000
  for off in 0 2 8 30 60 200 520 700 1000 1400 1500 2000; do
    cp "$Q" "$W/m.bin"; printf '\x5a' | dd of="$W/m.bin" bs=1 seek=$off conv=notrunc 2>/dev/null
    agree "tdx_quote flipped at $off" "$W/m.bin" "$C" 1751000000; done
  now=$(date +%s)
  for d in g dbg rv_pck rv_pckca; do
    [[ -d "$W/$d" ]] && agree "test CA quote ($d)" "$W/$d/quote.bin" "$W/$d/collateral.json" $now "$W/$d/root.der"; done
else
  bad "@phala/dcap-qvl not installed (cd tests/attest/node && npm install)"
fi

echo "attest: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
