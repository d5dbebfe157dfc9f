#!/usr/bin/env bash
# A link row's sync figures (docs/api.md, GET /api/status) when the link
# that reached a static peer was the one the peer dialled: two nodes that
# have each other as static peers keep the link the lower key dialled, so
# on the higher node H the static peer L's slot stands by (its row has no
# figures of its own) while L's inbound link carries them.  When L stops,
# H's row for L (its slot) takes that link's figures over: the entries H
# writes meanwhile, exactly, with their stored size, a lag that grows and
# L's last contact; when L is back and caught up, its link is in sync.
# (integration.sync covers a slot whose own link was the one that stayed.)
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzlinkfig-XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# conf HOME LISTEN PEERS: [net] and no web workspace.
conf() {
	sed -i "/^\[net\]/,/^\[/ s|^listen = .*|listen = $2|;
	    /^\[http\]/,/^\[/ s|^listen = .*|listen = |;
	    s|^peers = .*|peers = $3|; s|^discovery = .*|discovery = false|;
	    s|^reconnect_max_s = .*|reconnect_max_s = 2|;
	    s|^keepalive_s = .*|keepalive_s = 1|; s|^level = .*|level = debug|" "$1/kizuna.conf"
}
lport() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$1.err" | tail -1; }

for h in n1 n2; do expect 0 "init $h" -- "$K" --home "$T/$h" init; done
K1=$(key "$T/n1"); K2=$(key "$T/n2")
if [[ "$K1" < "$K2" ]]; then L="$T/n1"; H="$T/n2"; LK=$K1; HK=$K2
else L="$T/n2"; H="$T/n1"; LK=$K2; HK=$K1; fi
[ ${#LK} -eq 64 ] && [ ${#HK} -eq 64 ] && ok || bad "node keys '$LK' '$HK'"
expect 0 "h: mesh create" -- "$K" --home "$H" mesh create --name 谷川市
expect 0 "h: user" -- "$K" --home "$H" user add --name Alice alice
expect 0 "h: channel" -- "$K" --home "$H" channel create ops
expect 0 "h: invite" -- "$K" --home "$H" mesh invite --address 127.0.0.1:9
expect 0 "l: join" -- "$K" --home "$L" mesh join "$(cat "$T/out")"
expect 0 "h admits l" -- "$K" --home "$H" mesh admit "$LK" --name l

# Ports first (each node alone once), then H dials L while L is down;
# right after one of H's attempts fails L starts and dials H, so L's link
# comes first and H's next attempt is the second link, which H drops.
conf "$H" 127.0.0.1:0 ""
start h "$H"; DH=$DPID
until_ok "h listens" -- grep -q "listening on 127.0.0.1:" "$T/h.err"
HP=$(lport h)
conf "$L" 127.0.0.1:0 "127.0.0.1:$HP"
start l "$L"; DL=$DPID
until_ok "l listens" -- grep -q "listening on 127.0.0.1:" "$T/l.err"
LP=$(lport l)
kill -TERM "$DL"; stopped "$DL" l; forget "$DL"
kill -TERM "$DH"; stopped "$DH" h; forget "$DH"
conf "$H" "127.0.0.1:$HP" "127.0.0.1:$LP"
conf "$L" "127.0.0.1:$LP" "127.0.0.1:$HP"
start h2 "$H"; DH=$DPID
until_ok "h's first attempt fails" -- grep -q "peers: 127.0.0.1:$LP: next attempt in" "$T/h2.err"
start l2 "$L"; DL=$DPID
st() { "$C" --home "$H" '{"cmd":"status"}' | jq -c ".peers[] | $1"; }
# The slot's row (a dial without a connection has retry_in_s).
slot() { st "select(.address == \"127.0.0.1:$LP\" and has(\"retry_in_s\"))"; }
inbound() { st "select(.direction == \"in\" and .node_key == \"$LK\")"; }
standing_by() { [ "$(st "select(.node_key == \"$LK\")" | wc -l)" -eq 2 ] &&
    slot | jq -e '.last_error == "another link reaches this node"' >/dev/null &&
    inbound | jq -e '.state == "open" and .lag_s == 0' >/dev/null; }
until_ok "h keeps l's link, its slot stands by" -- standing_by
slot >"$T/row"
eq "$(jq -c '[.pending_bytes_in, .pending_bytes_out, .lag_s]' "$T/row")" "[null,null,null]" \
    "a slot standing by has no figures of its own"
# A post that crosses L's link: the slot's own figures (from H's dropped
# attempt) would now be one entry behind; the link's are not.
expect 0 "h: post while linked" -- "$K" --home "$H" --as alice post ops "linked"
until_ok "l has it" -- sh -c "'$K' --home '$L' tail -n 5 ops | grep -q linked"
until_ok "l's link in sync after it" -- sh -c "'$C' --home '$H' '{\"cmd\":\"status\"}' | jq -e '.peers[] | select(.direction == \"in\" and .node_key == \"$LK\") | .pending_out == 0 and .lag_s == 0' >/dev/null"

# L away: H's slot for L counts what L lacks.
S0=$("$K" --home "$H" --json status | jq -r .feed_length)
kill -TERM "$DL"; stopped "$DL" l2; forget "$DL"
TSTOP=$(date +%s)
expect 0 "h: post 1" -- "$K" --home "$H" --as alice post ops "l away 1"
expect 0 "h: post 2" -- "$K" --home "$H" --as alice post --priority urgent ops "l away 2"
SIZE=$("$K" --home "$H" --json log | jq -s --arg k "$HK" --argjson s "$S0" \
    '[.[] | select(.author == $k and .seq > $s) | 120 + .op_len] | add')
eq "$(( $("$K" --home "$H" --json status | jq -r .feed_length) - S0 ))" 2 "h wrote 2 entries"
counted() { slot | jq -e ".state == \"closed\" and .pending_out == 2 and .pending_bytes_out == $SIZE and .pending_in == 0" >/dev/null; }
until_ok "h's slot for l: 2 entries, $SIZE bytes pending out" -- counted
slot >"$T/row"
LC=$(jq -r .last_contact "$T/row"); LAG=$(jq -r .lag_s "$T/row")
[ "$LC" -le "$TSTOP" ] && [ "$LC" -ge $((TSTOP - 5)) ] && ok || bad "l's last contact $LC, stopped at $TSTOP"
[ "$LAG" -ge 0 ] 2>/dev/null && ok || bad "no lag: '$LAG'"
grew() { [ "$(slot | jq -r .lag_s)" -ge $((LAG + 1)) ]; }
until_ok "the lag grows while l is away" -- grew

# L back: it catches up, and its link is in sync.
start l3 "$L"; DL=$DPID
until_ok "l catches up" -- sh -c "'$K' --home '$L' tail -n 5 ops | grep -q 'l away 2'"
open_row() { st "select(.state == \"open\" and .node_key == \"$LK\")"; }
in_sync() { open_row | jq -e '.state == "open" and .lag_s == 0 and .pending_out == 0 and .pending_bytes_out == 0' >/dev/null; }
until_ok "l's link in sync again" -- in_sync
LC=$(open_row | jq -r .last_contact)
[ "$LC" -ge $(( $(date +%s) - 3 )) ] && ok || bad "l's last contact $LC after its return"

kill -TERM "$DL"; stopped "$DL" l3
kill -TERM "$DH"; stopped "$DH" h2
lacks h2.err "handle left open"
finish integration.linkfig
