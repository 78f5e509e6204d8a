# poc.sh - sourced by run.sh: `pgseal attest verify --poc-token` with Proof of Cloud tokens that
# poc_sign.py (PyJWT) signs, on the public vector and on an RA-TLS quote from --connect.
# Uses run.sh's run/is/jf/ok/bad, $W, $Q, $C, $Q2, $PY, $HERE (and $R, start_server).

# pj KEY.PATH -> a value of the last output, list indices allowed (poc.tokens.0.result)
pj() { "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d=(d[int(k)] if k.isdigit() and isinstance(d,list) and int(k)<len(d) else None) if isinstance(d,list) else (d.get(k) if isinstance(d,dict) else None)
print("null" if d is None else (json.dumps(d) if not isinstance(d,str) else d))' "$W/out.json" "$1" 2>/dev/null || echo "<no json>"; }
pis() { local v; v=$(pj "$2"); if [[ "$v" == "$3" ]]; then ok; else bad "$1: $2 = '$v', want '$3'"; fi; }

P=$W/poc; mkdir -p "$P"
SIGN="$PY $HERE/poc_sign.py"
TPPID=811dca2a26b952e85bb6448b097ba4fd           # tdx_quote.bin's PCK certificate
AT=1751000000
if $SIGN keygen "$P/keys"; then
  K=$P/keys
  cp "$K/ed.pem" "$K/ec.pem" "$K/rsa.pem" "$P/"
  printf 'poc_trust_servers:\n  - id: ts-ed\n    public_key_file: ed.pem\n  - id: ts-ec\n    public_key_file: ec.pem\n  - id: ts-rsa\n    public_key_file: rsa.pem\n' >"$P/policy.yaml"
  V=(--quote "$Q" --collateral "$C" --at $AT --policy "$P/policy.yaml")

  # one token per algorithm passes; the rule and the token are reported
  for kv in ed:ts-ed ec:ts-ec rsa:ts-rsa; do
    k=${kv%%:*}; kid=${kv#*:}
    $SIGN sign "$K/$k.key" $kid "$Q" $TPPID >"$P/$k.jwt"
    run "poc $k token" 0 "${V[@]}" --poc-token "$P/$k.jwt" && {
      pis "poc $k token" policy.rules.1.rule poc_trust_servers; pis "poc $k token" policy.rules.1.result pass
      pis "poc $k token" poc.tokens.0.result pass; pis "poc $k token" poc.tokens.0.kid $kid
      pis "poc $k token" poc.vouching 1; pis "poc $k token" poc.tokens.0.label "test machine"; }
  done
  pis "poc rsa token" poc.tokens.0.alg RS256
  # the trust server's /get_jwt answer as the file, and several tokens in one file
  $SIGN sign "$K/ed.key" ts-ed "$Q" $TPPID --json >"$P/get_jwt.json"
  run "poc get_jwt answer" 0 "${V[@]}" --poc-token "$P/get_jwt.json"
  { echo "# two trust servers"; cat "$P/ed.jwt" "$P/ec.jwt"; } >"$P/two.txt"
  run "poc two tokens" 0 "${V[@]}" --poc-token "$P/two.txt" && pis "poc two tokens" poc.vouching 2

  # a negative case per check: the rule fails, the token says why
  neg() { # NAME CHECK TOKENFILE [extra args]
    local name=$1 check=$2 f=$3; shift 3
    run "poc $name" 1 "${V[@]}" --poc-token "$f" "$@" && {
      is "poc $name" failed_check policy; is "poc $name" failed_policy_rule poc_trust_servers
      pis "poc $name" policy.result fail; pis "poc $name" poc.tokens.0.failed_check $check
      pis "poc $name" verdict untrusted; }
  }
  $SIGN sign "$K/ed.key" ts-ed "$Q2" $TPPID >"$P/other_quote.jwt"
  neg "wrong quote hash" quote_hash "$P/other_quote.jwt"
  $SIGN sign "$K/ed.key" ts-ed "$Q" ffeeddccbbaa99887766554433221100 >"$P/other_ppid.jwt"
  neg "wrong machine id" machine_id "$P/other_ppid.jwt"
  $SIGN sign "$K/ed2.key" ts-ed "$Q" $TPPID >"$P/other_key.jwt"
  neg "bad signature" signature "$P/other_key.jwt"
  $SIGN sign "$K/ed.key" ts-nobody "$Q" $TPPID >"$P/unknown_kid.jwt"
  neg "unknown kid" kid "$P/unknown_kid.jwt"
  $SIGN sign "$K/ec.key" ts-rsa "$Q" $TPPID >"$P/alg_mismatch.jwt"
  neg "alg does not fit the key" alg "$P/alg_mismatch.jwt"
  $SIGN sign "$K/ed.key" ts-ed "$Q" $TPPID --iat $((AT - 3600)) --exp $((AT - 1000)) >"$P/expired.jwt"
  neg "expired" exp "$P/expired.jwt"
  $SIGN sign "$K/ed.key" ts-ed "$Q" $TPPID --iat $((AT - 90000)) >"$P/old.jwt"
  neg "too old" max_age "$P/old.jwt"
  $SIGN sign "$K/ed.key" ts-ed "$Q" $TPPID --iat $((AT + 3600)) >"$P/future.jwt"
  neg "from the future" iat "$P/future.jwt"
  $SIGN none ts-ed "$Q" $TPPID >"$P/none.jwt"
  neg "alg none" jws_format "$P/none.jwt"
  $SIGN hs256 "$P/rsa.pem" ts-rsa "$Q" $TPPID >"$P/hs256.jwt"
  neg "HS256 with the public key" jws_format "$P/hs256.jwt"
  sed 's/\./../' "$P/ed.jwt" >"$P/dots.jwt"
  neg "extra dot" jws_format "$P/dots.jwt"
  # one bad token among good ones fails the rule
  cat "$P/ed.jwt" "$P/expired.jwt" >"$P/mixed.txt"
  run "poc one bad of two" 1 "${V[@]}" --poc-token "$P/mixed.txt" && {
    is "poc one bad of two" failed_policy_rule poc_trust_servers; pis "poc one bad of two" poc.tokens.0.result pass
    pis "poc one bad of two" poc.tokens.1.failed_check exp; }
  # a token for a quote that does not verify: the verdict stays untrusted
  run "poc untrusted quote" 1 --quote "$Q" --at $AT --policy "$P/policy.yaml" --poc-token "$P/ed.jwt" && is "poc untrusted quote" failed_check collateral

  # threshold: two distinct keys wanted
  { cat "$P/policy.yaml"; echo "poc_threshold: 2"; } >"$P/policy2.yaml"
  run "poc threshold 2 of 1" 1 --quote "$Q" --collateral "$C" --at $AT --policy "$P/policy2.yaml" --poc-token "$P/ed.jwt" --poc-token "$P/ed.jwt" && {
    is "poc threshold 2 of 1" failed_policy_rule poc_trust_servers; pis "poc threshold 2 of 1" poc.vouching 1; }
  run "poc threshold 2 of 2" 0 --quote "$Q" --collateral "$C" --at $AT --policy "$P/policy2.yaml" --poc-token "$P/ed.jwt" --poc-token "$P/rsa.jwt"
  # a raw Ed25519 key (the alliance's shared multisig key): its kid is its hex
  printf 'poc_trust_servers:\n  - public_key: %s\n' "$(cat "$K/ed.hex")" >"$P/policy_hex.yaml"
  $SIGN sign "$K/ed.key" "$(cat "$K/ed.hex")" "$Q" $TPPID >"$P/hexkid.jwt"
  run "poc raw Ed25519 key" 0 --quote "$Q" --collateral "$C" --at $AT --policy "$P/policy_hex.yaml" --poc-token "$P/hexkid.jwt"

  # no token, or tokens without trust servers, or unreadable files
  run "poc policy without token" 1 "${V[@]}" && {
    is "poc policy without token" failed_policy_rule poc_trust_servers
    [[ $(pj policy.reason) == *--poc-token* ]] && ok || bad "poc policy without token: reason"; }
  run "poc token without policy" 2 --quote "$Q" --collateral "$C" --at $AT --poc-token "$P/ed.jwt"
  printf 'min_tcb_status: UpToDate\n' >"$P/plain.yaml"
  run "poc token without trust servers" 2 --quote "$Q" --collateral "$C" --at $AT --policy "$P/plain.yaml" --poc-token "$P/ed.jwt"
  run "poc missing token file" 2 "${V[@]}" --poc-token "$P/nonexistent.jwt"
  : >"$P/empty.jwt"
  run "poc empty token file" 2 "${V[@]}" --poc-token "$P/empty.jwt"
  printf 'poc_trust_servers:\n  - id: x\n    public_key_file: nonexistent.pem\n' >"$P/badkey.yaml"
  run "poc policy with a missing key" 2 --quote "$Q" --collateral "$C" --at $AT --policy "$P/badkey.yaml"

  # --connect: the token names the quote of the RA-TLS certificate
  if [[ -n "${R:-}" && -f "$R/quote.bin" ]]; then
    start_server "$R/ratls.pem" "$R/ratls.key"
    run "poc connect probe" 0 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json" --root-ca "$R/root.pem"
    rppid=$(jf "$W/out.json" platform.ppid)
    $SIGN sign "$K/ed.key" ts-ed "$R/quote.bin" "$rppid" --iat $(($(date +%s) - 10)) >"$P/connect.jwt"
    run "poc connect" 0 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json" --root-ca "$R/root.pem" --policy "$P/policy.yaml" --poc-token "$P/connect.jwt" && pis "poc connect" poc.tokens.0.result pass
    run "poc connect, token of another quote" 1 --connect 127.0.0.1:$PORT --collateral "$R/collateral.json" --root-ca "$R/root.pem" --policy "$P/policy.yaml" --poc-token "$P/ed.jwt" && pis "poc connect, token of another quote" poc.tokens.0.failed_check quote_hash
  else
    bad "poc connect: no RA-TLS test quote"
  fi
else
  bad "poc_sign.py keygen failed"
fi
