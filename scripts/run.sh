#!/usr/bin/env bash
# run.sh - `make run`: a local PostgreSQL under run/, development TLS certificates, and pgseal in front of it.
#
# Idempotent: the second run reuses the cluster, certificates, passwords and token, and
# restarts pgseal. Stop everything with `make stop` (scripts/stop.sh).
# Keys: build/pgseal-dstack-sim stands in for the TEE (PGSEAL_RUN_KEYS=none: no keys, no encryption),
# and the demo tables app.customers and app.people have encrypted columns (run/encryptor_config.yaml,
# written only where it does not exist: a user's edits are kept; `make reload` applies them to the
# running pgseal). run/pgseal.yaml too is kept once the user edited it. With the simulator, the demo page
# pgseal-demo (docs/demo.md) runs in front of app.people. With the simulator pgseal serves an RA-TLS
# certificate whose quote's event log carries the compose hash of deploy/dstack/app-compose.json,
# and the message ends with the `pgseal attest verify --connect ... --policy ...` command that checks it.
# Ports (override with env): PGSEAL_RUN_PGPORT (55432), PGSEAL_RUN_PORT (6432), PGSEAL_RUN_ADMIN_PORT (9191),
# PGSEAL_RUN_DEMO_PORT (8480).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RUN="$root/run"
PG_BIN=/usr/lib/postgresql/15/bin
BIN=${PGSEAL_BIN:-$root/build/pgseal}

say() { printf 'run: %s\n' "$*"; }
die() { printf 'run: error: %s\n' "$*" >&2; exit 1; }

[[ -x $BIN ]] || die "$BIN missing: run 'make' first (make run does it)"
mkdir -p "$RUN" "$RUN/certs"
chmod 755 "$RUN"

# --- ports: the defaults, or a free one if taken by something else; remembered in run/ports ----
if [[ -f $RUN/pgseal.pid ]] && grep -q pgseal "/proc/$(cat "$RUN/pgseal.pid")/cmdline" 2>/dev/null; then
  kill -TERM "$(cat "$RUN/pgseal.pid")" && sleep 1   # frees our own ports before checking them
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pick() { # name default -> port
  local saved
  saved=$(sed -n "s/^$1=//p" "$RUN/ports" 2>/dev/null)
  if [[ -n $saved ]]; then echo "$saved"; return; fi
  if port_busy "$2"; then free_port; else echo "$2"; fi
}
PGPORT=${PGSEAL_RUN_PGPORT:-$(pick pg 55432)}
PORT=${PGSEAL_RUN_PORT:-$(pick pgseal 6432)}
APORT=${PGSEAL_RUN_ADMIN_PORT:-$(pick admin 9191)}
if [[ -f $RUN/pgseal-demo.pid ]] && grep -q pgseal-demo "/proc/$(cat "$RUN/pgseal-demo.pid")/cmdline" 2>/dev/null; then
  kill -TERM "$(cat "$RUN/pgseal-demo.pid")" && sleep 0.5   # frees its port too
fi
DPORT=${PGSEAL_RUN_DEMO_PORT:-$(pick demo 8480)}
printf 'pg=%s\npgseal=%s\nadmin=%s\ndemo=%s\n' "$PGPORT" "$PORT" "$APORT" "$DPORT" >"$RUN/ports"

# --- who runs PostgreSQL: postgres refuses root, so as root we use the 'postgres' user ----------
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "user 'postgres' missing (apt-get install postgresql-15)"
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

# The cluster lives in run/pg, unless the postgres user cannot reach the repository (e.g. it
# sits under /root): then in /var/tmp/pgseal-run-<uid>-<hash>, with run/pg a symlink to it.
PGDIR="$RUN/pg"
if [[ ! -e $PGDIR ]]; then
  mkdir -p "$PGDIR"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$PGDIR"
  if ! "${AS_PG[@]}" test -w "$PGDIR" 2>/dev/null; then
    rmdir "$PGDIR"
    alt="/var/tmp/pgseal-run-$(id -u)-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
    mkdir -p "$alt"; [[ $(id -u) -eq 0 ]] && chown postgres: "$alt"; chmod 700 "$alt"
    ln -s "$alt" "$PGDIR"
    say "the postgres user cannot reach $RUN: cluster in $alt (run/pg links to it)"
  fi
fi
PGDIR=$(readlink -f "$PGDIR")
DATA="$PGDIR/data"

# --- development PKI: a CA, PostgreSQL's server cert, pgseal's client-facing cert --------------
C="$RUN/certs"
mkcert_ca() {
  [[ -f $C/ca.pem ]] && return
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$C/ca.key" \
    -out "$C/ca.pem" -days 825 -subj "/CN=pgseal development CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  chmod 600 "$C/ca.key"
}
mkcert_leaf() { # name cn
  local n=$1 cn=$2
  [[ -f $C/$n.pem ]] && return
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$C/$n.key" \
    -out "$C/$n.csr" -subj "/CN=$cn" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$C/$n.ext"
  openssl x509 -req -in "$C/$n.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -out "$C/$n.pem" -days 825 -extfile "$C/$n.ext" 2>/dev/null
  chmod 600 "$C/$n.key"; rm -f "$C/$n.csr" "$C/$n.ext"
}
mkcert_ca
mkcert_leaf postgres localhost
mkcert_leaf pgseal localhost

secret() { # file: a random secret kept across runs
  [[ -s $1 ]] || { umask 077; openssl rand -hex 24 >"$1"; }
}
secret "$RUN/app.password"
secret "$RUN/auth.pass"
secret "$RUN/admin.token"
chmod 600 "$RUN/app.password" "$RUN/auth.pass" "$RUN/admin.token"

# --- PostgreSQL ------------------------------------------------------------------------------
pg_ctl() { "${AS_PG[@]}" "$PG_BIN/pg_ctl" "$@"; }
if [[ ! -f $DATA/PG_VERSION ]]; then
  say "creating a PostgreSQL 15 cluster in $DATA (port $PGPORT)"
  for f in postgres.pem postgres.key ca.pem; do
    install -m 600 "$C/$f" "$PGDIR/$f"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$PGDIR/$f"
  done
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C >"$PGDIR/initdb.log" 2>&1 \
    || { cat "$PGDIR/initdb.log"; die "initdb failed"; }
  cat >>"$DATA/postgresql.conf" <<CONF
# --- pgseal make run ---
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
ssl = on
ssl_cert_file = '$PGDIR/postgres.pem'
ssl_key_file = '$PGDIR/postgres.key'
password_encryption = 'scram-sha-256'
CONF
  cat >"$DATA/pg_hba.conf" <<HBA
local all postgres trust
hostssl all all 127.0.0.1/32 scram-sha-256
HBA
fi
if ! pg_ctl -D "$DATA" status >/dev/null 2>&1; then
  say "starting PostgreSQL on 127.0.0.1:$PGPORT"
  pg_ctl -D "$DATA" -l "$PGDIR/postgres.log" -w -t 60 start >/dev/null || { tail -20 "$PGDIR/postgres.log"; die "PostgreSQL did not start"; }
fi
psql_su() { "${AS_PG[@]}" "$PG_BIN/psql" -X -q -At -h "$PGDIR" -p "$PGPORT" -U postgres "$@"; }
# roles: 'app' (the application, SCRAM) and 'pgseal_auth' (reads SCRAM verifiers for pgseal's auth_query)
psql_su -d postgres -v pw="$(cat "$RUN/app.password")" -v apw="$(cat "$RUN/auth.pass")" <<'SQL'
SELECT format('CREATE ROLE app LOGIN PASSWORD %L', :'pw') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') \gexec
SELECT format('ALTER ROLE app PASSWORD %L', :'pw') \gexec
SELECT format('CREATE ROLE pgseal_auth LOGIN SUPERUSER PASSWORD %L', :'apw') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgseal_auth') \gexec
SELECT format('ALTER ROLE pgseal_auth PASSWORD %L', :'apw') \gexec
SELECT 'CREATE DATABASE app OWNER app' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'app') \gexec
SQL

# --- the encryption config: defaults only where there is no file (a user's edits are kept) -----
PEOPLE_SCHEMA='  - table: people                # the demo page (pgseal-demo, docs/demo.md)
    columns: [id, name, email, ssn, note]
    encrypted:
      - column: name
        data_type: str
      - column: email
        searchable: true
        data_type: str
      - column: ssn
        data_type: str
      - column: note
        data_type: str'
# run.sh's previous default (customers only): replaced by the current default, as it was never edited
OLD_DEFAULT_SHA=4dadde7a28779dc1bf87e31e1d7f35a2ea433b01cdaf1b60103f6b29d05d287d
write_encryptor_config() {
  local f="$RUN/encryptor_config.yaml"
  if [[ -f $f && $(sha256sum <"$f" | cut -c1-64) != "$OLD_DEFAULT_SHA" ]]; then
    grep -qE '^[[:space:]]*-[[:space:]]*table:[[:space:]]*"?people"?[[:space:]]*(#.*)?$' "$f" && return 0
    # a user's file without the demo table: appended when 'schemas:' is its last top-level key
    if [[ $(grep -E '^[A-Za-z_]+:' "$f" | tail -1) == schemas:* ]]; then
      printf '\n%s\n' "$PEOPLE_SCHEMA" >>"$f"
      say "added the demo table 'people' to run/encryptor_config.yaml (your other entries are kept)"
    else
      say "run/encryptor_config.yaml has no 'people' table and cannot be appended to: add it (docs/demo.md)"
    fi
    return 0
  fi
  cat >"$f" <<ENC
# run/encryptor_config.yaml - Acra's encryptor_config format (see docs/schema.md).
# Written by scripts/run.sh only when missing: your edits are kept across 'make run'.
schemas:
  - table: customers
    columns: [id, name, email, ssn]
    encrypted:
      - column: email
        searchable: true
        data_type: str
      - column: ssn
        data_type: str
$PEOPLE_SCHEMA
ENC
}

# --- keys: the dstack simulator, and the encrypted demo tables -------------------------------
KEYS_YAML=""
if [[ ${PGSEAL_RUN_KEYS:-dstack} == dstack ]]; then
  SIM="$root/build/pgseal-dstack-sim"
  [[ -x $SIM ]] || die "$SIM missing"
  mkdir -p "$RUN/keys"; chmod 700 "$RUN/keys"
  # The simulator measures the compose hash of the project's own deploy/dstack/app-compose.json
  # (docs/deploy.md). Its keys depend on that hash, so the hash the sealed master key was made
  # under is kept in run/keys/compose-hash: after an edit of app-compose.json the simulator keeps
  # the old one (the data stays readable) and the verification below fails on compose_hashes.
  COMPOSE_FILE="$root/deploy/dstack/app-compose.json"
  COMPOSE_HASH=$("$BIN" deploy compose-hash "$COMPOSE_FILE" 2>/dev/null) || die "pgseal deploy compose-hash $COMPOSE_FILE failed"
  if [[ -s $RUN/keys/compose-hash ]]; then SIM_HASH=$(cat "$RUN/keys/compose-hash")
  elif [[ -e $RUN/keys/master.sealed ]]; then SIM_HASH=default   # made before make run pinned the hash
  else SIM_HASH=$COMPOSE_HASH; echo "$SIM_HASH" >"$RUN/keys/compose-hash"; fi
  SIM_ARGS=(--socket "$RUN/dstack.sock")
  [[ $SIM_HASH == default ]] || SIM_ARGS+=(--compose-hash "$SIM_HASH")
  if [[ -f $RUN/dstack-sim.pid ]] && kill -0 "$(cat "$RUN/dstack-sim.pid")" 2>/dev/null \
     && [[ $(cat "$RUN/dstack-sim.hash" 2>/dev/null) != "$SIM_HASH" ]]; then
    kill -TERM "$(cat "$RUN/dstack-sim.pid")"; sleep 0.5; rm -f "$RUN/dstack-sim.pid"   # started with another hash
  fi
  if [[ -f $RUN/dstack-sim.pid ]] && kill -0 "$(cat "$RUN/dstack-sim.pid")" 2>/dev/null; then :; else
    rm -f "$RUN/dstack.sock"
    nohup "$SIM" "${SIM_ARGS[@]}" >>"$RUN/dstack-sim.log" 2>&1 &
    echo "$SIM_HASH" >"$RUN/dstack-sim.hash"
    echo $! >"$RUN/dstack-sim.pid"
    for _ in $(seq 50); do [[ -S $RUN/dstack.sock ]] && break; sleep 0.1; done
    [[ -S $RUN/dstack.sock ]] || die "pgseal-dstack-sim did not create $RUN/dstack.sock (see run/dstack-sim.log)"
  fi
  KEYS_YAML="keys:
  provider: dstack              # development: build/pgseal-dstack-sim stands in for the TEE
  dstack_endpoint: $RUN/dstack.sock
  sealed_master_key: $RUN/keys/master.sealed
  keystore: $RUN/keys/keystore
encryptor_config_file: encryptor_config.yaml"
  write_encryptor_config
  # the demo tables, owned by app; `pgseal schema` turns their encrypted columns into bytea
  psql_su -d app -c "CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text, email text, ssn text)" \
    -c "ALTER TABLE customers OWNER TO app" \
    -c "CREATE TABLE IF NOT EXISTS people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, email text, ssn text, note text)" \
    -c "ALTER TABLE people OWNER TO app"
  printf 'listen: "127.0.0.1:1"\nupstream: {host: localhost}\nencryptor_config_file: %s\n' "$RUN/encryptor_config.yaml" >"$RUN/schema-only.yaml"
  # the demo tables only: a table of the user's that does not exist yet must not stop make run
  "$BIN" schema --config "$RUN/schema-only.yaml" --table customers --table people 2>/dev/null \
    | psql_su -d app -v ON_ERROR_STOP=1 >/dev/null 2>"$RUN/schema.log" \
    || { cat "$RUN/schema.log" >&2; die "could not apply the encrypted-column DDL to app.customers and app.people"; }
fi

# --- pgseal config ---------------------------------------------------------------------------
# with the simulator: no cert_file, so pgseal makes its RA-TLS certificate (the quote inside)
if [[ -n $KEYS_YAML ]]; then
  CLIENT_TLS_YAML="client_tls:
  require: true             # RA-TLS: certificate made at start, its quote binds its key"
else
  CLIENT_TLS_YAML="client_tls:
  cert_file: certs/pgseal.pem
  key_file: certs/pgseal.key
  require: true"
fi
# Written where missing or as run.sh last wrote it; a file the user edited is kept (its
# SHA-256 as written is in run/pgseal.yaml.sha256).
write_default() { # file (content on stdin)
  local f=$1 new
  new=$(cat)
  # (a file from before run.sh kept hashes starts with its old header line: ours)
  if [[ -f $f ]] && [[ $(sha256sum <"$f" | cut -c1-64) != $(cat "$f.sha256" 2>/dev/null) ]] \
     && ! { [[ ! -f $f.sha256 ]] && head -1 "$f" | grep -q '^# run/pgseal.yaml - written by scripts/run.sh (make run); relative'; }; then
    if [[ $(printf '%s\n' "$new" | sha256sum | cut -c1-64) != $(sha256sum <"$f" | cut -c1-64) ]]; then
      say "${f#"$root"/} has your edits: kept (delete it to get make run's default again)"
    fi
    return 0
  fi
  printf '%s\n' "$new" >"$f"
  sha256sum <"$f" | cut -c1-64 >"$f.sha256"
}
write_default "$RUN/pgseal.yaml" <<YAML
# run/pgseal.yaml - written by scripts/run.sh (make run) where missing; your edits are kept
# (delete the file to get the default again). Relative paths are relative to this file.
listen: "127.0.0.1:$PORT"
workers: 0
upstream:
  host: localhost
  port: $PGPORT
  tls: verify-full
  ca_file: certs/ca.pem
$CLIENT_TLS_YAML
auth:                     # pgseal runs SCRAM with clients (TLS on both hops)
  user: pgseal_auth
  password_file: auth.pass
admin:
  listen: "127.0.0.1:$APORT"
  token_file: admin.token
log:
  level: info
  format: text
$KEYS_YAML
YAML

# --- (re)start pgseal ------------------------------------------------------------------------
if [[ -f $RUN/pgseal.pid ]]; then
  old=$(cat "$RUN/pgseal.pid")
  if kill -0 "$old" 2>/dev/null && grep -q pgseal "/proc/$old/cmdline" 2>/dev/null; then
    say "stopping the running pgseal (pid $old)"
    kill -TERM "$old"
    for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$old" 2>/dev/null && kill -KILL "$old"
  fi
  rm -f "$RUN/pgseal.pid"
fi
say "starting pgseal on 127.0.0.1:$PORT (log: run/pgseal.log)"
nohup "$BIN" serve --config "$RUN/pgseal.yaml" >>"$RUN/pgseal.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$RUN/pgseal.pid"
up=0
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || break
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
if [[ $up -ne 1 ]]; then
  tail -20 "$RUN/pgseal.log" >&2
  rm -f "$RUN/pgseal.pid"
  die "pgseal did not start (see run/pgseal.log)"
fi

# --- RA-TLS: pin the certificate pgseal serves (from its public /attestation), write the policy ---
ROOTCERT="$C/ca.pem"
ROOTCERT_DESC="the development CA"
ATTEST_MSG=""
if [[ -n $KEYS_YAML ]]; then
  ROOTCERT="$C/pgseal-ratls.pem"
  ROOTCERT_DESC="pgseal's RA-TLS certificate, pinned from its /attestation: a new one at each start"
  /usr/bin/python3 - "$APORT" "$ROOTCERT" <<'PY' || die "could not read pgseal's certificate from /attestation"
import json, sys, time, urllib.request
for _ in range(50):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/attestation" % sys.argv[1], timeout=5) as r:
            open(sys.argv[2], "w").write(json.load(r)["certificate"]); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(1)
PY
  "$BIN" deploy policy "$COMPOSE_FILE" --out "$RUN/deploy-policy.yaml" 2>/dev/null \
    || die "pgseal deploy policy $COMPOSE_FILE failed"
  ATTEST_MSG="Attestation (*** SIMULATED ***: pgseal-dstack-sim's test CA, not Intel TDX hardware).
pgseal's client certificate carries a quote whose event log measures the compose hash of
deploy/dstack/app-compose.json ($COMPOSE_HASH); verify it against run/deploy-policy.yaml:
  $BIN attest verify --connect 127.0.0.1:$PORT --root-ca $RUN/sim-root.pem --collateral $RUN/sim-collateral.json --policy $RUN/deploy-policy.yaml
(exit 0, \"verdict\": \"trusted\", \"simulated\": true; trusted only against the simulator's root)"
  if [[ $SIM_HASH != "$COMPOSE_HASH" ]]; then
    ATTEST_MSG="${ATTEST_MSG%$'\n'*}
NOTE: the simulator measures ${SIM_HASH/default/its default compose hash} (the keys in run/keys were made under it),
not the current app-compose.json: the command above answers untrusted on compose_hashes. To adopt the
new hash (this deletes run/ and its data): bash scripts/stop.sh --clean && make run"
  fi
fi

# --- the demo page (pgseal-demo, docs/demo.md): only with the simulator and the people table ---
DEMO_MSG="Demo page: not started (it needs PGSEAL_RUN_KEYS=dstack and the 'people' table in run/encryptor_config.yaml)"
DEMO_BIN=$(dirname "$BIN")/pgseal-demo
if [[ -n $KEYS_YAML ]] && grep -qE '^[[:space:]]*-[[:space:]]*table:[[:space:]]*"?people"?' "$RUN/encryptor_config.yaml"; then
  [[ -x $DEMO_BIN ]] || die "$DEMO_BIN missing: run 'make' first"
  if [[ -f $RUN/pgseal-demo.pid ]]; then
    old=$(cat "$RUN/pgseal-demo.pid")
    if kill -0 "$old" 2>/dev/null && grep -q pgseal-demo "/proc/$old/cmdline" 2>/dev/null; then
      kill -TERM "$old"
      for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$RUN/pgseal-demo.pid"
  fi
  # the application's password for both hops, in a libpq password file (never on a command line)
  (umask 077; printf 'localhost:%s:app:app:%s\nlocalhost:%s:app:app:%s\n' "$PORT" "$(cat "$RUN/app.password")" \
    "$PGPORT" "$(cat "$RUN/app.password")" >"$RUN/demo.pgpass")
  [[ -f $RUN/demo-policy.yaml ]] || cat >"$RUN/demo-policy.yaml" <<'POL'
# run/demo-policy.yaml - the attestation policy the demo page applies (docs/attestation.md, Policy)
min_tcb_status: UpToDate
require_event_log: true
POL
  tls="sslmode=verify-full passfile=$RUN/demo.pgpass dbname=app user=app host=localhost"
  say "starting pgseal-demo on 127.0.0.1:$DPORT (log: run/pgseal-demo.log)"
  nohup "$DEMO_BIN" --listen "127.0.0.1:$DPORT" --pgseal "$tls sslrootcert=$ROOTCERT port=$PORT" --db "$tls sslrootcert=$C/ca.pem port=$PGPORT" \
    --admin-url "http://127.0.0.1:$APORT" --root-ca "$RUN/sim-root.pem" --collateral "$RUN/sim-collateral.json" \
    --policy "$RUN/demo-policy.yaml" --table people >>"$RUN/pgseal-demo.log" 2>&1 </dev/null &
  echo $! >"$RUN/pgseal-demo.pid"
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
    kill -0 "$(cat "$RUN/pgseal-demo.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if (exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null; then
    DEMO_MSG="Demo page (pgseal-demo, docs/demo.md): http://127.0.0.1:$DPORT/   (log: run/pgseal-demo.log)"
  else
    tail -5 "$RUN/pgseal-demo.log" >&2
    DEMO_MSG="Demo page: pgseal-demo did not start (see run/pgseal-demo.log)"
  fi
fi

if [[ -n $KEYS_YAML ]]; then
  KEYS_MSG="Keys: provider dstack via build/pgseal-dstack-sim (a development stand-in, not a TEE; run/dstack-sim.log)

Your own encrypted table: README.md, section A first encrypted column. After an edit of
run/encryptor_config.yaml: make reload (kill -HUP \$(cat run/pgseal.pid), then waits for pgseal's
answer in run/pgseal.log): new sessions use it; make run keeps your edits.

Try the encrypted table app.customers (email searchable, ssn encrypted), with the psql command above:
  -c \"INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789')\"
  -c \"SELECT * FROM customers WHERE email = 'ada@example.com'\"
What PostgreSQL itself stores:
  runuser -u postgres -- psql -h $PGDIR -p $PGPORT -d app -c 'SELECT * FROM customers'
"
else
  KEYS_MSG="Keys: none (PGSEAL_RUN_KEYS=none)"
fi
cat <<MSG

pgseal is running (pid $pid) in front of PostgreSQL 15 on 127.0.0.1:$PGPORT.

Connect with psql (TLS verified against $ROOTCERT_DESC):
  PGPASSWORD=\$(cat $RUN/app.password) psql "host=localhost port=$PORT dbname=app user=app sslmode=verify-full sslrootcert=$ROOTCERT"

Admin endpoints:
  curl -H "Authorization: Bearer \$(cat $RUN/admin.token)" http://127.0.0.1:$APORT/readyz
  curl -H "Authorization: Bearer \$(cat $RUN/admin.token)" http://127.0.0.1:$APORT/metrics

$KEYS_MSG
$DEMO_MSG

$ATTEST_MSG

Config: run/pgseal.yaml   Log: run/pgseal.log   PostgreSQL log: $PGDIR/postgres.log
Stop everything: make stop   (again: make run; start from scratch: bash scripts/stop.sh --clean)
MSG
