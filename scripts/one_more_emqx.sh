#!/usr/bin/env bash
# Make a second node beside this release folder, for a pseudo-distributed
# cluster on one host:  ./scripts/one_more_emqx.sh emqx2
# The new folder ../NEW_NAME gets bin/, etc/ and scripts/ from this release,
# node.name = NEW_NAME@127.0.0.1, and its MQTT listener, HTTP API and
# dashboard ports shifted by OFFSET = 1000 * N, where N is the trailing
# number of NEW_NAME (override with the OFFSET environment variable). The
# cluster ports follow from the name (gossip 4370+N, RPC 5370+N), so N must
# be a number no other local node uses.
set -euo pipefail

die() { echo "one_more_emqx.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 NEW_NAME   (e.g. $0 emqx2)"
name=$1
[[ $name =~ ^[0-9A-Za-z_-]+$ ]] || die "bad name '$name': use letters, digits, '_' or '-' (the part before @ of a node name)"
[[ $name =~ ([0-9]+)$ ]] || die "name '$name' must end in a number (e.g. emqx2): the number N sets its cluster ports 4370+N and 5370+N"
n=$((10#${BASH_REMATCH[1]} % 60000))
[ "$n" -gt 0 ] || die "name '$name' ends in 0: N=0 is the default node's ports; pick another number"

rel=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$rel/bin/emqx" ] && [ -f "$rel/etc/emqx.conf" ] || die "$rel is not a release folder (needs bin/emqx and etc/emqx.conf; run 'make release')"
dest=$(dirname "$rel")/$name
[ ! -e "$dest" ] || die "$dest already exists; remove it or pick another name"

offset=${OFFSET:-$((1000 * n))}
[[ $offset =~ ^[0-9]+$ ]] || die "OFFSET must be a number, got '$offset'"

mkdir -p "$dest"
cp -R "$rel/bin" "$rel/etc" "$dest/"
[ -d "$rel/scripts" ] && cp -R "$rel/scripts" "$dest/"

conf=$dest/etc/emqx.conf
awk -v off="$offset" -v node="$name@127.0.0.1" '
  /^[[:space:]]*node\.name[[:space:]]*=/ { print "node.name = " node; next }
  /^[#[:space:]]*listener\.(tcp|ssl|ws|wss)\.external[[:space:]]*=/ {
    if (match($0, /[0-9]+"?[[:space:]]*$/)) {
      tail = substr($0, RSTART); port = tail; gsub(/[^0-9]/, "", port)
      np = port + off
      if (np > 65535) { print "port " port " + " off " > 65535" > "/dev/stderr"; exit 2 }
      q = (tail ~ /"/) ? "\"" : ""
      print substr($0, 1, RSTART - 1) np q; next
    }
  }
  { print }
' "$conf" > "$conf.tmp" || { rm -rf "$dest"; die "ports shifted by $offset do not fit; set a smaller OFFSET"; }
mv "$conf.tmp" "$conf"

# The HTTP API's and the dashboard's ports move by the same offset.
shift_http() { # FILE KEY_PREFIX
  local f=$1 key=$2
  [ -f "$f" ] || return 0
  awk -v off="$offset" -v key="$key" '
    $0 ~ "^[[:space:]]*" key "\\.listener\\.https?[[:space:]]*=[[:space:]]*[0-9]+[[:space:]]*$" {
      split($0, kv, "="); port = kv[2]; gsub(/[^0-9]/, "", port)
      np = port + off
      if (np > 65535) { print "port " port " + " off " > 65535" > "/dev/stderr"; exit 2 }
      print kv[1] "= " np; next
    }
    { print }
  ' "$f" > "$f.tmp" || { rm -rf "$dest"; die "ports shifted by $offset do not fit; set a smaller OFFSET"; }
  mv "$f.tmp" "$f"
}
mconf=$dest/etc/plugins/emqx_management.conf
dconf=$dest/etc/plugins/emqx_dashboard.conf
shift_http "$mconf" management
shift_http "$dconf" dashboard

echo "Created $dest"
echo "  node.name = $name@127.0.0.1"
echo "  MQTT listener ports shifted by $offset (offset)"
grep -E '^[[:space:]]*listener\.(tcp|ssl|ws|wss)\.external[[:space:]]*=' "$conf" | sed 's/^/  /'
if [ -f "$mconf" ]; then grep -E '^[[:space:]]*management\.listener\.https?[[:space:]]*=' "$mconf" | sed 's/^/  /' || true; fi
if [ -f "$dconf" ]; then grep -E '^[[:space:]]*dashboard\.listener\.https?[[:space:]]*=' "$dconf" | sed 's/^/  /' || true; fi
echo "Start it with: $dest/bin/emqx start"
