#!/usr/bin/env bash
# TCP links between real kizunad processes on 127.0.0.1: A founds a mesh
# and listens on a free port (read from its log and its status); B joins
# with A's invite, dials A as its static peer, and A admits it; posts on
# either appear on the other (live push) and both workspaces have one
# digest; a node C of another mesh (a wrong network key) dialling A gets
# nothing and A's log names the refused link; B killed with -9 and
# restarted catches up on the posts made meanwhile; A stopped and started
# again is redialled by B (backoff) and catches up; with [net] profile =
# slow on B alone the link is uncompressed, on both it chooses the
# dictionary and live posts still cross; a revoked B is cut off
# with the reason; SIGTERM stops every daemon cleanly (exit 0: every handle
# closed).  Every daemon started here is killed by its pid on exit.
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzsync-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

# conf HOME LISTEN PEERS: the [net] settings (no discovery), debug logs.
conf() {
	sed -i "s/^listen = .*/listen = $2/; s/^peers = .*/peers = $3/;
	    s/^discovery = .*/discovery = false/; s/^level = .*/level = debug/;
	    s/^reconnect_max_s = .*/reconnect_max_s = 2/;
	    s/^keepalive_s = .*/keepalive_s = 1/" "$1/kizuna.conf"
}

A="$T/a"; B="$T/b"; X="$T/c"
for h in "$A" "$B" "$X"; do
	expect 0 "init ${h##*/}" -- "$K" --home "$h" --json init
done
"$K" --home "$A" --json status >"$T/out"; AK=$(field node_key)
"$K" --home "$B" --json status >"$T/out"; BK=$(field node_key)
# shows HOME CHANNEL TEXT: the channel's tail on HOME holds TEXT.
shows() { "$K" --home "$1" tail -n 50 "$2" 2>/dev/null | grep -qF -- "$3"; }
same_digest() { [ "$(digest "$A")" = "$(digest "$B")" ]; }

# ---------------------------------------------------------------- A and B
expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
expect 0 "a: user alice" -- "$K" --home "$A" user add --name Alice alice
expect 0 "a: channel" -- "$K" --home "$A" channel create ops
conf "$A" 127.0.0.1:0 ""
start a "$A"
DA=$DPID
until_ok "a listens" -- grep -q "listening on 127.0.0.1:" "$T/a.err"
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/a.err" | head -1)
[ -n "$PORT" ] && [ "$PORT" -gt 0 ] && ok || bad "no port in a's log"
until_ok "a answers" -- "$C" --home "$A" '{"cmd":"ping"}'
expect 0 "a: status" -- "$C" --home "$A" '{"cmd":"status"}'
has out "\"listen_port\":$PORT,"
has out '"peers":[]'
has out '"rejected":{}'

expect 0 "a: invite" -- "$K" --home "$A" mesh invite --address "127.0.0.1:$PORT"
TOK=$(cat "$T/out")
expect 0 "b: join" -- "$K" --home "$B" mesh join "$TOK"
expect 0 "a admits b (through a's kizunad)" -- "$K" --home "$A" mesh admit "$BK" --name b
expect 0 "a: post before b links" -- "$K" --home "$A" --as alice post ops "避難所の給水 1"

conf "$B" 127.0.0.1:0 "127.0.0.1:$PORT"
start b "$B"
DB=$DPID
until_ok "b has a's post" -- shows "$B" ops "避難所の給水 1"
until_ok "a logs the link" -- grep -q "linked with node ${BK:0:16} (b)" "$T/a.err"
expect 0 "b: status" -- "$C" --home "$B" '{"cmd":"status"}'
has out "\"address\":\"127.0.0.1:$PORT\",\"direction\":\"out\",\"state\":\"open\",\"node_key\":\"$AK\""
has out '"last_error":null'
has out '"last_error":null,"pending_bytes_in":0,"pending_bytes_out":0,"last_contact":'
has out '"lag_s":0,"profile":"lan","compress":"none"}'
expect 0 "a: status" -- "$C" --home "$A" '{"cmd":"status"}'
has out "\"direction\":\"in\",\"state\":\"open\",\"node_key\":\"$BK\""

# Live: a post on either side appears on the other.
expect 0 "a: live post" -- "$K" --home "$A" --as alice post ops "live from a"
until_ok "b shows a's live post" -- shows "$B" ops "live from a"
expect 0 "b: post" -- "$K" --home "$B" --as alice post ops "停電 from b"
until_ok "a shows b's post" -- shows "$A" ops "停電 from b"
until_ok "one digest" -- same_digest
DIG=$(digest "$A")

# The links as an operator sees them.
expect 0 "peers on a" -- "$K" --home "$A" peers
has out "in  tcp 127.0.0.1:"
has out "open       ${BK:0:16} (b)  since 20"
has out "entries, 0 pending;  out "
has out "      lag 0 s; pending in 0 B (estimated), out 0 B; last heard 20"
expect 0 "peers json on b" -- "$K" --home "$B" --json peers
has out '"direction":"out"'
has out '"state":"open"'
expect 0 "status shows kizunad" -- "$K" --home "$A" status
has out "kizunad:        running (pid "
has out ", 1 links"
expect 0 "status json shows kizunad" -- "$K" --home "$A" status --json
has out '"daemon":{"pid":'

# ---------------------------------------------------------------- C: wrong key
expect 0 "c: its own mesh" -- "$K" --home "$X" mesh create --name other
conf "$X" "" "127.0.0.1:$PORT"
start c "$X"
DC=$DPID
until_ok "a names the refused link" -- grep -q "link from 127.0.0.1:[0-9]*: link closed: handshake refused (wrong network key" "$T/a.err"
until_ok "c retries with backoff" -- grep -q "\[net\] peers: 127.0.0.1:$PORT: next attempt in" "$T/c.err"
expect 0 "c: status" -- "$C" --home "$X" '{"cmd":"status"}'
lacks out "$AK"
has out '"listen_port":null'
expect 0 "c: log" -- "$K" --home "$X" log
lacks out "${AK:0:16}"
lacks out "避難所"
eq "$(digest "$A")" "$DIG" "a's digest after c"
# Counted by reason on a (one per attempt; c retries).
expect 0 "a: status after c" -- "$C" --home "$A" '{"cmd":"status"}'
n=$(sed -n 's/.*"rejected":{"handshake":\([0-9]*\)}.*/\1/p' "$T/out")
[ -n "$n" ] && [ "$n" -ge 1 ] && ok || bad "a counts no refused handshake: $(grep -o '"rejected":{[^}]*}' "$T/out")"
kill -TERM "$DC"
stopped "$DC" c

# ---------------------------------------------------------------- kill -9 B
# B comes back with [net] profile = slow (docs/sync.md, "Link profiles");
# A stays lan, so nothing is compressed until A is slow too (below).
{ kill -9 "$DB"; wait "$DB"; } 2>/dev/null
sed -i 's/^profile = .*/profile = slow/' "$B/kizuna.conf"
expect 0 "a: post while b is down" -- "$K" --home "$A" --as alice post ops "while b was down 1"
expect 0 "a: post while b is down" -- "$K" --home "$A" --as alice post --priority urgent ops "while b was down 2"
start b "$B"
DB=$DPID
until_ok "b catches up after kill -9" -- shows "$B" ops "while b was down 2"
until_ok "b catches up (1)" -- shows "$B" ops "while b was down 1"
until_ok "one digest after the restart" -- same_digest
expect 0 "b: status, slow profile" -- "$C" --home "$B" '{"cmd":"status"}'
has out '"state":"open",'
has out '"profile":"slow","compress":"none"}'

# ---------------------------------------------------------------- A away
# B's row for A, its static peer (docs/api.md, GET /api/status), counts
# what A lacks against the tips A held when it went: B's three posts, their
# stored size (a 120-byte header and the op, each: from `kizuna log`), a
# lag that grows, and the contact before A stopped; /metrics says the same.
arow() { "$C" --home "$B" '{"cmd":"status"}' | jq -c ".peers[] | select(.address == \"127.0.0.1:$PORT\")"; }
S0=$("$K" --home "$B" --json status | jq -r .feed_length)
kill -TERM "$DA"
stopped "$DA" a
TSTOP=$(date +%s)
has a.err "link from 127.0.0.1:"
expect 0 "b: post while a is down" -- "$K" --home "$B" --as alice post ops "while a was down"
expect 0 "b: post while a is down 2" -- "$K" --home "$B" --as alice post ops "while a was down 2"
expect 0 "b: post while a is down 3" -- "$K" --home "$B" --as alice post --priority urgent ops "while a was down 3"
until_ok "b tries again with backoff" -- grep -q "\[net\] peers: 127.0.0.1:$PORT: next attempt in .* after: connection refused" "$T/b.err"
eq "$(( $("$K" --home "$B" --json status | jq -r .feed_length) - S0 ))" 3 "b's feed grew by its 3 posts"
SIZE=$("$K" --home "$B" --json log | jq -s --arg k "$BK" --argjson s "$S0" \
    '[.[] | select(.author == $k and .seq > $s) | 120 + .op_len] | add')
[ "$SIZE" -gt 360 ] && ok || bad "the 3 posts' stored size: '$SIZE'"
arow >"$T/row"
eq "$(jq -r '[.state, .pending_out, .pending_bytes_out, .pending_in, .pending_bytes_in] | map(tostring) | join(" ")' "$T/row")" \
    "closed 3 $SIZE 0 0" "b's row for a away: 3 entries and $SIZE bytes pending out"
LC=$(jq -r .last_contact "$T/row")
[ "$LC" -le "$TSTOP" ] && [ "$LC" -ge $((TSTOP - 5)) ] && ok ||
    bad "a's last contact $LC, stopped at $TSTOP"
LAG=$(jq -r .lag_s "$T/row")
[ "$LAG" -ge 0 ] && [ "$LAG" -le $(( $(date +%s) - TSTOP + 1 )) ] && ok ||
    bad "lag $LAG s, a stopped $(( $(date +%s) - TSTOP )) s ago"
lag_grew() { [ "$(arow | jq -r .lag_s)" -ge $((LAG + 2)) ]; }
until_ok "the lag grows while a is away" -- lag_grew
BH=$(sed -n 's|.*serving the web workspace at http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/b.err" | tail -1)
curl -s "http://127.0.0.1:$BH/metrics" >"$T/out"
LBL="transport=\"tcp\",address=\"127.0.0.1:$PORT\",node=\"${AK:0:16}\""
has out "kizuna_link_pending_bytes{$LBL,direction=\"out\"} $SIZE"
has out "kizuna_link_pending_bytes{$LBL,direction=\"in\"} 0"
has out "kizuna_link_pending_entries{$LBL,direction=\"out\"} 3"
has out "kizuna_link_last_contact_seconds{$LBL} $LC"
ML=$(sed -n "s/^kizuna_link_lag_seconds{$LBL} //p" "$T/out")
[ -n "$ML" ] && [ "$ML" -ge $((LAG + 2)) ] && ok || bad "metrics: lag '$ML'"
has out "# TYPE kizuna_link_lag_seconds gauge"
eq "$(grep -c '^# TYPE kizuna_link_pending_bytes gauge$' "$T/out")" 1 "one TYPE line a family"
expect 0 "peers on b, a away" -- "$K" --home "$B" peers
has out "pending in 0 B (estimated), out $SIZE B; last heard "
conf "$A" "127.0.0.1:$PORT" ""
sed -i 's/^profile = .*/profile = slow/' "$A/kizuna.conf"
start a "$A"
DA=$DPID
until_ok "a catches up from b" -- shows "$A" ops "while a was down"
until_ok "one digest after a's restart" -- same_digest
# Caught up: nothing pending, lag 0, a contact within the last seconds.
in_sync() { arow | jq -e '.state == "open" and .lag_s == 0 and .pending_out == 0 and .pending_bytes_out == 0 and .pending_in == 0' >/dev/null; }
until_ok "b's row for a: in sync again" -- in_sync
LC=$(arow | jq -r .last_contact)
[ "$LC" -le "$(date +%s)" ] && [ "$LC" -ge $(( $(date +%s) - 3 )) ] && ok ||
    bad "a's last contact $LC after its return, now $(date +%s)"
# Both slow: the link chooses the dictionary; live posts still cross.
expect 0 "a: status, both slow" -- "$C" --home "$A" '{"cmd":"status"}'
has out '"profile":"slow","compress":"dict"}'
expect 0 "b: status, both slow" -- "$C" --home "$B" '{"cmd":"status"}'
has out '"profile":"slow","compress":"dict"}'
expect 0 "a: urgent post on the slow link" -- "$K" --home "$A" --as alice post --priority urgent ops "slow link urgent"
until_ok "b shows it" -- shows "$B" ops "slow link urgent"
expect 0 "a: post on the slow link" -- "$K" --home "$A" --as alice post ops "slow link chat"
until_ok "b shows it" -- shows "$B" ops "slow link chat"
until_ok "one digest on the slow link" -- same_digest

# ---------------------------------------------------------------- B hangs
# A stopped process's kernel still acknowledges TCP: only the protocol's
# pings tell it apart from a quiet live peer.  Idle links ping each other
# every keepalive_s (1 s here); A finds B silent after 3 s and closes the
# link; B, resumed, finds its link gone and dials again.
sleep 2.5
lacks a.err "peer silent"
kill -STOP "$DB"
until_ok "a finds the hung b silent" -- grep -q "peer silent for [3-9] s" "$T/a.err"
kill -CONT "$DB"
expect 0 "a: post after b resumed" -- "$K" --home "$A" --as alice post ops "after the hang"
until_ok "b relinks and catches up" -- shows "$B" ops "after the hang"

# ---------------------------------------------------------------- revoked
expect 0 "a revokes b" -- "$K" --home "$A" mesh revoke "$BK"
until_ok "a cuts b off" -- grep -q "node ${BK:0:16} was revoked by the mesh; closing its link" "$T/a.err"
until_ok "b is told why" -- grep -q "closed by peer: this node was revoked by the mesh" "$T/b.err"
expect 0 "a: post after the revocation" -- "$K" --home "$A" --as alice post ops "not for b"
expect 0 "a: status" -- "$C" --home "$A" '{"cmd":"status"}'
lacks out "\"state\":\"open\",\"node_key\":\"$BK\""
shows "$B" ops "not for b" && bad "b got a post after its revocation" || ok

# ---------------------------------------------------------------- stop
kill -TERM "$DB"
stopped "$DB" b
kill -TERM "$DA"
stopped "$DA" a
has a.err "info: stopped"
has b.err "info: stopped"
lacks a.err "handle left open"
lacks b.err "handle left open"

finish sync
