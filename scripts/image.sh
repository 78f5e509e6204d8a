#!/usr/bin/env bash
# image.sh - `make image`: a reproducible OCI image of pgseal from Debian packages (mmdebstrap), pgseal and pgseal-demo from a clean build of the commit; the last line printed is sha256:<manifest digest>.
#
# Inputs, all fixed by the commit: the sources (git archive HEAD: uncommitted changes are
# NOT in the image), SOURCE_DATE_EPOCH (the commit's time, unless set), the Debian packages
# (the mirror's current bookworm versions: PGSEAL_IMAGE_MIRROR=http://snapshot.debian.org/
# archive/debian/<time> pins them; the versions used are listed in packages.txt) and the
# build tool chain (build-env.txt). Outputs under build/image/ (PGSEAL_IMAGE_OUT): oci/ (an
# OCI image layout), pgseal-image.oci.tar (the same as one archive), rootfs.tar (the layer,
# uncompressed), packages.txt, build-env.txt, digest. PGSEAL_IMAGE_REF=REGISTRY/pgseal also writes
# REF@sha256:<digest> into deploy/dstack (app-compose.py). See docs/deploy.md, "The image".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${PGSEAL_IMAGE_OUT:-$root/build/image}
MIRROR=${PGSEAL_IMAGE_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# run-time libraries of pgseal and pgseal-demo (ldd), from Debian; nothing else: no shell
PKGS=libc6,libssl3,libyaml-0-2,libjansson4,libcurl4,libmicrohttpd12,libpq5,liburing2,libpg-query1504.0
APP_UID=10001

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }
for t in mmdebstrap git tar gzip python3 strip; do
  command -v "$t" >/dev/null || die "$t missing (apt-get install mmdebstrap umoci; make deps)"
done
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap creates device nodes and owners)"

COMMIT=$(git -C "$root" rev-parse HEAD)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct HEAD)}
[[ -z $(git -C "$root" status --porcelain --untracked-files=no) ]] \
  || say "note: the work tree has uncommitted changes; the image is built from commit ${COMMIT:0:12} only"

work=$(mktemp -d /tmp/pgseal-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$OUT"

# --- 1. a clean build of the commit; no build path in the binaries ---------------------------
say "building pgseal ${COMMIT:0:12} from a clean tree"
git -C "$root" archive --format=tar "$COMMIT" | tar -x -C "$work/src"
make -C "$work/src" -j2 B=build OPT=-O2 CFLAGS="-ffile-prefix-map=$work/src=/usr/src/pgseal" \
  build/pgseal build/pgseal-demo >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; die "build failed"; }
for b in pgseal pgseal-demo; do
  strip --strip-all -o "$work/$b" "$work/src/build/$b"
  ! grep -q -a -F "$work" "$work/$b" || die "$b contains its build path"
done
{ echo "commit $COMMIT"; echo "SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH"
  dpkg-query -W -f='${Package} ${Version}\n' gcc-12 binutils libc6-dev libssl-dev libyaml-dev libjansson-dev \
    libcurl4-openssl-dev libmicrohttpd-dev libpq-dev liburing-dev libpg-query-dev 2>/dev/null; } >"$OUT/build-env.txt"

# --- 2. the root file system: only the libraries, extracted from Debian's packages ----------
say "root file system from $MIRROR $SUITE (mmdebstrap)"
R="$work/rootfs"
mmdebstrap --variant=extract --include="$PKGS" \
  --extract-hook="cd \"\$1/var/cache/apt/archives\" && for d in *.deb; do dpkg-deb -W --showformat='\${Package} \${Version}\n' \"\$d\"; done | sort >$work/packages.txt" \
  "$SUITE" "$R" "$MIRROR" >"$work/mmdebstrap.log" 2>&1 || { tail -20 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
cp "$work/packages.txt" "$OUT/packages.txt"
# what a container needs none of: package metadata, docs, device nodes (the runtime makes /dev)
rm -rf "$R"/etc/apt "$R"/etc/dpkg "$R"/var/lib/dpkg "$R"/var/lib/apt "$R"/var/cache "$R"/var/log \
  "$R"/usr/share/doc "$R"/usr/share/man "$R"/usr/share/info "$R"/usr/share/lintian "$R"/usr/share/locale \
  "$R"/dev/* "$R"/etc/hostname "$R"/etc/resolv.conf "$R"/etc/fstab
install -d -m 755 "$R/usr/local/bin" "$R/etc/pgseal" "$R/usr/share/pgseal" "$R/data"
install -d -m 1777 "$R/tmp"
install -d -m 700 -o "$APP_UID" -g "$APP_UID" "$R/data/pgseal"
install -m 755 "$work/pgseal" "$work/pgseal-demo" "$R/usr/local/bin/"
cp "$OUT/packages.txt" "$R/usr/share/pgseal/packages.txt"
printf 'pgseal %s\n' "$COMMIT" >"$R/usr/share/pgseal/commit"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\npgseal:x:%d:%d:pgseal:/data/pgseal:/usr/sbin/nologin\n' \
  "$APP_UID" "$APP_UID" >"$R/etc/passwd"
printf 'root:x:0:\npgseal:x:%d:\n' "$APP_UID" >"$R/etc/group"
chmod 644 "$R/etc/passwd" "$R/etc/group"
# fixed times; owners are root except the data directory
find "$R" -xdev -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# --- 3. the layer and the OCI image (fixed order, times, owners; gzip without a name/time) ---
tar --sort=name --format=posix --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$R" -cf "$OUT/rootfs.tar" .
rm -rf "$OUT/oci"
python3 - "$OUT" "$SOURCE_DATE_EPOCH" "$COMMIT" "$APP_UID" <<'PY'
import datetime, gzip, hashlib, io, json, os, sys
out, epoch, commit, uid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
lay = os.path.join(out, "oci")
os.makedirs(os.path.join(lay, "blobs", "sha256"))
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(lay, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def js(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()
raw = open(os.path.join(out, "rootfs.tar"), "rb").read()
buf = io.BytesIO()
with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
    g.write(raw)
layer = blob(buf.getvalue())
created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
labels = {"org.opencontainers.image.revision": commit, "org.opencontainers.image.title": "pgseal",
          "org.opencontainers.image.created": created}
config = blob(js({
    "architecture": "amd64", "os": "linux", "created": created,
    "config": {"User": "%d:%d" % (uid, uid), "Entrypoint": ["/usr/local/bin/pgseal"],
               "Cmd": ["serve", "--config", "/etc/pgseal/pgseal.yaml"], "WorkingDir": "/data/pgseal",
               "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Volumes": {"/data/pgseal": {}},
               "Labels": labels},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    "history": [{"created": created, "created_by": "scripts/image.sh (mmdebstrap, clean build of %s)" % commit}],
}))
manifest = js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
               "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")],
               "annotations": labels})
m = blob(manifest)
with open(os.path.join(lay, "index.json"), "wb") as f:
    f.write(js({"schemaVersion": 2, "manifests": [dict(m, mediaType="application/vnd.oci.image.manifest.v1+json",
                annotations={"org.opencontainers.image.ref.name": "latest"})]}))
with open(os.path.join(lay, "oci-layout"), "wb") as f:
    f.write(js({"imageLayoutVersion": "1.0.0"}))
with open(os.path.join(out, "digest"), "w") as f:
    f.write(m["digest"] + "\n")
PY
find "$OUT/oci" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --format=posix --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$OUT/oci" -cf "$OUT/pgseal-image.oci.tar" .
say "OCI layout $OUT/oci, archive $OUT/pgseal-image.oci.tar ($(du -h "$OUT/pgseal-image.oci.tar" | cut -f1)), layer $(du -h "$OUT/rootfs.tar" | cut -f1) unpacked"
if [[ -n ${PGSEAL_IMAGE_REF:-} ]]; then
  # fill the digest into deploy/dstack (docker-compose.yml and app-compose.json) for REF
  python3 "$root/deploy/dstack/app-compose.py" --image "$PGSEAL_IMAGE_REF@$(cat "$OUT/digest")" >&2
  say "pinned $PGSEAL_IMAGE_REF@$(cat "$OUT/digest") in deploy/dstack (compose hash: $("$root/build/pgseal" deploy compose-hash "$root/deploy/dstack/app-compose.json" 2>/dev/null || echo '?'))"
else
  say "pin it: PGSEAL_IMAGE_REF=REGISTRY/pgseal make image, or python3 deploy/dstack/app-compose.py --image REGISTRY/pgseal@$(cat "$OUT/digest")"
fi
cat "$OUT/digest"
