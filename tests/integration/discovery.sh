#!/usr/bin/env bash
# LAN discovery between real kizunad processes on one host: A founds a
# mesh, B joins it (its token's bootstrap address removed, so neither node
# has a peer to dial) and both listen on 127.0.0.1:0 with beacons to the
# multicast group 239.192.74.20 by the loopback interface, on a random UDP
# port.  They find each other by beacons ("discovered node ... at
# 127.0.0.1:PORT"), make one link (the lower key dials; the link is marked
# "discovered" in the dialler's status, and the other end has no second
# one), A admits B, posts flow both ways within 10 s and the digests match.
# A node C of another mesh on the same group and port is ignored (logged
# once per node at debug level) and links to nobody; junk on the port is
# counted and logged, nothing else changes.  The node that did not dial,
# stopped, is forgotten by the other after three intervals unheard, and
# restarted on a new port is found again and catches up.  A node without
# mesh.key, and one with discovery = false, hear and send nothing.
# SIGTERM stops every daemon cleanly.
#
# Network rule: nothing here leaves loopback.  When the system allows it
# (unshare -rn, and ip), the script runs in a network namespace of its own
# that has no interface but lo; otherwise on the host's lo, with every
# beacon sent by 127.0.0.1 (IP_MULTICAST_IF) and TTL 1.  Every daemon
# started here is killed by its pid on exit.
set -u
if [ -z "${KZ_DISC_NETNS:-}" ] && command -v unshare >/dev/null &&
    command -v ip >/dev/null && unshare -rn true 2>/dev/null; then
	export KZ_DISC_NETNS=1
	exec unshare -rn bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
[ "${KZ_DISC_NETNS:-}" = 1 ] && echo "discovery: in a network namespace of its own" ||
    echo "discovery: on the host's loopback (no network namespace)"

K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzdisc-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

GROUP=239.192.74.20
PD=$((20000 + RANDOM % 40000))	# this run's discovery port

# conf HOME: no static peers, a free TCP port on 127.0.0.1, beacons every
# second to the group by the loopback interface, debug logs.
conf() {
	sed -i "s/^listen = .*/listen = 127.0.0.1:0/; s/^peers = .*/peers = /;
	    s/^discovery = .*/discovery = true/;
	    s/^discovery_address = .*/discovery_address = $GROUP/;
	    s/^discovery_interface = .*/discovery_interface = 127.0.0.1/;
	    s/^discovery_port = .*/discovery_port = $PD/;
	    s/^discovery_interval_s = .*/discovery_interval_s = 1/;
	    s/^level = .*/level = debug/; s/^reconnect_max_s = .*/reconnect_max_s = 2/" \
	    "$1/kizuna.conf"
}
# counter HOME NAME: a number from the "discovery" object of the status.
counter() {
	"$C" --home "$1" '{"cmd":"status"}' 2>/dev/null |
	    sed -n "s/.*\"discovery\":{[^}]*\"$2\":\([0-9]*\).*/\1/p"
}
at_least() { local v; v=$(counter "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
shows() { "$K" --home "$1" tail -n 50 "$2" 2>/dev/null | grep -qF -- "$3"; }
same_digest() { [ "$(digest "$A")" = "$(digest "$B")" ]; }
status_has() { "$C" --home "$1" '{"cmd":"status"}' 2>/dev/null | grep -qF -- "$2"; }
status_lacks() { ! status_has "$@"; }

A="$T/a"; B="$T/b"; X="$T/c"; N="$T/n"
for h in "$A" "$B" "$X" "$N"; do
	expect 0 "init ${h##*/}" -- "$K" --home "$h" --json init
	conf "$h"
done
"$K" --home "$A" --json status >"$T/out"; AK=$(field node_key)
"$K" --home "$B" --json status >"$T/out"; BK=$(field node_key)
"$K" --home "$X" --json status >"$T/out"; CK=$(field node_key)
expect 0 "-n on the discovery config" -- "$D" -n --home "$A"
# Of a pair that hear each other, the node with the lower key dials at
# once; the other waits an interval and finds the link made.
LOW=$(printf '%s\n%s\n' "$AK" "$BK" | LC_ALL=C sort | head -1)
if [ "$LOW" = "$AK" ]; then L="$A" LN=a LK=$AK H="$B" HN=b HK=$BK
else L="$B" LN=b LK=$BK H="$A" HN=a HK=$AK; fi

# ---------------------------------------------------------------- the mesh
expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
expect 0 "a: user alice" -- "$K" --home "$A" user add --name Alice alice
expect 0 "a: channel" -- "$K" --home "$A" channel create ops
expect 0 "a: post before any link" -- "$K" --home "$A" --as alice post ops "避難所の給水 1"
# The token needs an address; B forgets it, so nothing but a beacon can
# tell B where A is.
expect 0 "a: invite" -- "$K" --home "$A" mesh invite --address 127.0.0.1:9
TOK=$(cat "$T/out")
expect 0 "b: join" -- "$K" --home "$B" mesh join "$TOK"
sed -i '/^bootstrap:/d' "$B/mesh.key"
grep -q bootstrap "$B/mesh.key" && bad "b's mesh.key keeps a bootstrap address" || ok
[ "$(stat -c %a "$B/mesh.key")" = 600 ] && ok || bad "b's mesh.key mode changed"

# ---------------------------------------------------------------- B alone
start b "$B"
DB=$DPID
until_ok "b answers" -- "$C" --home "$B" '{"cmd":"ping"}'
until_ok "b announces" -- grep -q "discovery: beacons to $GROUP:$PD by 127.0.0.1 every 1 s" "$T/b.err"
expect 0 "b: status alone" -- "$C" --home "$B" '{"cmd":"status"}'
has out '"peers":[]'
has out "\"discovery\":{\"address\":\"$GROUP\",\"port\":$PD,\"interface\":\"127.0.0.1\",\"interval_s\":1,\"announcing\":true,"
until_ok "b hears its own beacons (multicast loop)" -- at_least "$B" own 1
expect 0 "b: status alone" -- "$C" --home "$B" '{"cmd":"status"}'
has out '"peers":[]'
has out '"beacons_heard":0,'

# ---------------------------------------------------------------- A finds B
start a "$A"
DA=$DPID
until_ok "a listens" -- grep -q "listening on 127.0.0.1:" "$T/a.err"
PA=$(port a); PB=$(port b)
[ -n "$PA" ] && [ -n "$PB" ] && ok || bad "no ports in the logs ('$PA', '$PB')"
[ "$H" = "$A" ] && { PH=$PA; DH=$DA; DL=$DB; } || { PH=$PB; DH=$DB; DL=$DA; }
until_ok "$LN discovers $HN" -- grep -q "discovered node ${HK:0:16} at 127.0.0.1:$PH$" "$T/$LN.err"
until_ok "b has a's post" -- shows "$B" ops "避難所の給水 1"
until_ok "a logs the link" -- grep -q "linked with node ${BK:0:16}" "$T/a.err"
expect 0 "a admits b (through a's kizunad)" -- "$K" --home "$A" mesh admit "$BK" --name b
expect 0 "b: post" -- "$K" --home "$B" --as alice post ops "停電 from b"
until_ok "a shows b's post" -- shows "$A" ops "停電 from b"
expect 0 "a: live post" -- "$K" --home "$A" --as alice post --priority urgent ops "live from a"
until_ok "b shows a's live post" -- shows "$B" ops "live from a"
until_ok "one digest" -- same_digest

# The node with the lower key dialled, and its link is the discovered one;
# the other end holds that link only.
expect 0 "$LN: status" -- "$C" --home "$L" '{"cmd":"status"}'
has out "{\"address\":\"127.0.0.1:$PH\",\"direction\":\"out\",\"state\":\"open\",\"node_key\":\"$HK\",\"discovered\":true,"
[ "$(grep -o '"node_key":"'"$HK"'"' "$T/out" | wc -l)" -eq 1 ] && ok || bad "$LN has more than one row for $HN: $(cat "$T/out")"
expect 0 "$HN: status" -- "$C" --home "$H" '{"cmd":"status"}'
has out "\"direction\":\"in\",\"state\":\"open\",\"node_key\":\"$LK\",\"discovered\":false,"
[ "$(grep -o '"node_key":"'"$LK"'"' "$T/out" | wc -l)" -eq 1 ] && ok || bad "$HN has more than one row for $LN: $(cat "$T/out")"
lacks out '"state":"connecting"'
lacks "$HN.err" "a second link to node"
lacks "$LN.err" "a second link to node"
expect 0 "peers json on $LN" -- "$K" --home "$L" --json peers
has out '"discovered":true'

# ---------------------------------------------------------------- another mesh
expect 0 "c: its own mesh" -- "$K" --home "$X" mesh create --name other
start c "$X"
DC=$DPID
until_ok "c answers" -- "$C" --home "$X" '{"cmd":"ping"}'
until_ok "a hears c's beacons (3)" -- at_least "$A" other_mesh 3
until_ok "c hears a's and b's (6)" -- at_least "$X" other_mesh 6
n=$(grep -c "discovery: ignoring beacons of another mesh from 127.0.0.1 (node ${CK:0:16})" "$T/a.err")
eq "$n" 1 "a's log lines about c"
n=$(grep -c "discovery: ignoring beacons of another mesh from 127.0.0.1 (node ${AK:0:16})" "$T/c.err")
eq "$n" 1 "c's log lines about a"
expect 0 "a: status with c about" -- "$C" --home "$A" '{"cmd":"status"}'
lacks out "$CK"
expect 0 "c: status" -- "$C" --home "$X" '{"cmd":"status"}'
has out '"peers":[]'
has out '"nodes":0,'
lacks c.err "discovered node"
lacks a.err "discovered node ${CK:0:16}"
lacks b.err "discovered node ${CK:0:16}"

# Junk on the port (to whichever daemon the kernel hands it): counted,
# logged once with its sender, nothing else changes.
junk() { printf 'not a beacon' >"/dev/udp/127.0.0.1/$PD"; }
junk_seen() {
	local s=0 h v
	for h in "$A" "$B" "$X"; do v=$(counter "$h" malformed); s=$((s + ${v:-0})); done
	[ "$s" -ge 2 ]
}
junk; junk
until_ok "junk counted" -- junk_seen
cat "$T/a.err" "$T/b.err" "$T/c.err" >"$T/all.err"
n=$(grep -c "discovery: ignoring datagrams from 127.0.0.1:[0-9]*: 12 bytes, shorter than a beacon" "$T/all.err")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] && ok || bad "junk logged $n times"
expect 0 "a: post after the junk" -- "$K" --home "$A" --as alice post ops "after the junk"
until_ok "b shows it" -- shows "$B" ops "after the junk"

# Discovery off: C hears and sends nothing, and says so.
kill -TERM "$DC"
stopped "$DC" c
sed -i 's/^discovery = .*/discovery = false/' "$X/kizuna.conf"
start c2 "$X"
DC=$DPID
until_ok "c answers with discovery off" -- "$C" --home "$X" '{"cmd":"ping"}'
has c2.err "[net] discovery is off"
expect 0 "c: status, discovery off" -- "$C" --home "$X" '{"cmd":"status"}'
has out '"discovery":null'
lacks c2.err "discovery: beacons to"
kill -TERM "$DC"
stopped "$DC" c2

# No mesh.key: no links, no discovery.
start n "$N"
DN=$DPID
until_ok "n answers" -- "$C" --home "$N" '{"cmd":"ping"}'
expect 0 "n: status" -- "$C" --home "$N" '{"cmd":"status"}'
has out '"discovery":null'
has n.err "no network key"
lacks n.err "discovery"
kill -TERM "$DN"
stopped "$DN" n

# ---------------------------------------------------------------- H away
# The node that dialled forgets the other once unheard for 3 intervals,
# and finds it again at its new port.
kill -TERM "$DH"
stopped "$DH" "$HN"
until_ok "$LN forgets $HN, unheard" -- grep -q "discovery: forgetting node ${HK:0:16} at 127.0.0.1:$PH: no beacon for [3-9] s" "$T/$LN.err"
until_ok "$LN's status drops $HN" -- status_lacks "$L" "$HK"
expect 0 "$LN: post while $HN is away" -- "$K" --home "$L" --as alice post ops "while $HN was away"
start "${HN}2" "$H"
DH=$DPID
until_ok "$HN listens again" -- grep -q "listening on 127.0.0.1:" "$T/${HN}2.err"
PH2=$(port "${HN}2")
[ "$PH2" != "$PH" ] && ok || bad "$HN listens on its old port $PH again"
until_ok "$LN finds $HN at its new port" -- grep -q "discovered node ${HK:0:16} at 127.0.0.1:$PH2$" "$T/$LN.err"
until_ok "$HN catches up" -- shows "$H" ops "while $HN was away"
until_ok "one digest again" -- same_digest

# ---------------------------------------------------------------- stop
kill -TERM "$DH"
stopped "$DH" "${HN}2"
kill -TERM "$DL"
stopped "$DL" "$LN"
for n in a b "${HN}2" c c2 n; do
	has "$n.err" "info: stopped"
	lacks "$n.err" "handle left open"
done

finish discovery
