#!/usr/bin/env bash
# The whole-mesh map (issue 7): three real kizunad processes in a chain
# A-B-C over TCP on 127.0.0.1 (B dials A, C dials B; A and C never link).
#
#   reports   A's GET /api/status "mesh_links" holds B's link report with
#             an up tcp link to C, and C's with one to B, within 30 s; the
#             map A's page draws (src/web/meshgraph.js, run by node on that
#             very answer) has A-B up (A's own link), B-C up, none cut off.
#   cut off   C stops.  B's next report (after [net] link_report_min_s,
#             2 s here) says C is down; on A's map: A-B up, B-C down, and C
#             cut off, within 30 s.
#   restart   B restarts (a copy of its home kept); it reports again, C up.
#   log       `kizuna log` on A shows B's last report, naming C (駅) down.
#   restored  B restored from that copy (its store lacks its later reports,
#             which A holds): its next report comes at the seq after A's
#             copy of its feed (no fork on A or B; both stores verify), and
#             lists C down, as its last report before the restore said.
#   rate      B wrote few reports (one when its links settled, one per
#             change), each under 200 bytes: the log is not filled.
#
# Every daemon started here is stopped by its pid (SIGTERM, then -9 on
# exit).  KZ_MAP_KEEP=1 keeps the folder.
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzmap-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${KZ_MAP_KEEP:-}" ] && echo "meshmap: kept $T" || rm -rf "$T"
}
trap cleanup EXIT
LINK_REPORTS=1	# this test is about them (lib.sh start() turns them off)
. "$(dirname "$0")/lib.sh"

# conf HOME SECTION KEY VALUE: sets one key of one section.
conf() { sed -i "/^\[$2\]/,/^\[/ s|^$3 = .*|$3 = $4|" "$1/kizuna.conf"; }
hport() { sed -n 's|.*serving the web workspace at http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/$1.err" | tail -1; }
JSON=(-H 'Content-Type: application/json')
# st: A's GET /api/status (alice's session) in $T/st; fails unless 200.
st() {
	local code
	code=$(curl -s -o "$T/st" -w '%{http_code}' -b "$T/jar" "$U/api/status")
	[ "$code" = 200 ]
}
# reported NODE PEER UP: A's status holds NODE's report of a tcp link to
# PEER with up = UP (true or false).
reported() {
	st && [ "$(jq -r --arg n "$1" --arg p "$2" '.mesh_links[] |
	    select(.node == $n) | .links[] | select(.peer == $p and
	    .transport == "tcp") | .up' "$T/st")" = "$3" ]
}
# graph: the map A's page draws from $T/st, one sorted line per edge and
# per node ("edge A-B up own", "node C cut"), names for keys.
graph() {
	node --input-type=module -e "
import { meshGraph } from '$KZ_SRC/src/web/meshgraph.js';
import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync('$T/st', 'utf8'));
const name = { '$AK': 'A', '$BK': 'B', '$CK': 'C' };
const g = meshGraph(s, Math.floor(Date.now() / 1000));
const out = [];
for (const e of g.edges) {
	const ends = [name[e.from] || e.from, name[e.to] || e.to].sort().join('-');
	out.push('edge ' + ends + ' ' + e.transport + ' ' + (e.up ? 'up' : 'down') +
	    (e.own ? ' own' : '') + (e.stale ? ' stale' : ''));
}
for (const n of g.nodes)
	out.push('node ' + (name[n.key] || n.key) + (n.cut ? ' cut' : ' reachable'));
console.log(out.sort().join('\n'));
" >"$T/graph"
}

# ---------------------------------------------------------------- setup
for h in a b c; do
	expect 0 "init $h" -- "$K" --home "$T/$h" --json init
	conf "$T/$h" net discovery false
	conf "$T/$h" net listen 127.0.0.1:0
	conf "$T/$h" net reconnect_max_s 1
	conf "$T/$h" net link_report_min_s 2
	conf "$T/$h" net link_report_settle_s 1
	conf "$T/$h" http listen ""
	conf "$T/$h" log level debug
done
A="$T/a"
AK=$(key "$A"); BK=$(key "$T/b"); CK=$(key "$T/c")
expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
echo "alice-pw" >"$T/pw"
expect 0 "a: user alice" -- "$K" --home "$A" user add alice --name Alice \
    --password-stdin <"$T/pw"
expect 0 "a admits b" -- "$K" --home "$A" mesh admit --name 支所 "$BK"
expect 0 "a admits c" -- "$K" --home "$A" mesh admit --name 駅 "$CK"
conf "$A" http listen 127.0.0.1:0

start a "$A"
DA=$DPID
until_ok "a listens" -- grep -q "listening on 127.0.0.1:" "$T/a.err"
until_ok "a serves http" -- grep -q "serving the web workspace at" "$T/a.err"
PA=$(port a)
U="http://127.0.0.1:$(hport a)"
# join NAME PORT: NAME joins with a token whose address is 127.0.0.1:PORT.
join() {
	expect 0 "a: invite for $1" -- "$K" --home "$A" mesh invite --address "127.0.0.1:$2"
	expect 0 "$1: join" -- "$K" --home "$T/$1" mesh join "$(cat "$T/out")"
}
join b "$PA"
start b "$T/b"
DB=$DPID
until_ok "b listens" -- grep -q "listening on 127.0.0.1:" "$T/b.err"
join c "$(port b)"
start c "$T/c"
DC=$DPID

curl -s -o "$T/out" -c "$T/jar" "${JSON[@]}" -d '{"user":"alice","password":"alice-pw"}' \
    "$U/api/login"
[ "$(jq -r .user.id "$T/out")" = alice ] && ok || bad "alice cannot sign in on a: $(cat "$T/out")"

# ---------------------------------------------------------------- reports
until_s() {
	local n=$1 what=$2 end=$((SECONDS + $1)); shift 3
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && { ok; return 0; }
		sleep 0.2
	done
	bad "$what: not within $n s"; return 1
}
until_s 30 "a holds b's report of an up link to c" -- reported "$BK" "$CK" true
until_s 30 "a holds c's report of an up link to b" -- reported "$CK" "$BK" true
st
# Exactly the reports of b and c beside a's own: each a node key, a time
# of the last minute, links with a since.
eq "$(jq -r '[.mesh_links[].node] | sort | join(" ")' "$T/st")" \
    "$(printf '%s\n' "$AK" "$BK" "$CK" | sort | tr '\n' ' ' | sed 's/ $//')" \
    "mesh_links nodes"
NOW=$(date +%s)
AT=$(jq -r --arg n "$BK" '.mesh_links[] | select(.node == $n) | .reported_at' "$T/st")
[ "$AT" -le "$NOW" ] && [ "$AT" -gt $((NOW - 60)) ] && ok || bad "b's reported_at $AT (now $NOW)"
SINCE=$(jq -r --arg n "$BK" --arg p "$CK" '.mesh_links[] | select(.node == $n) |
    .links[] | select(.peer == $p) | .since' "$T/st")
[ "$SINCE" -le "$NOW" ] && [ "$SINCE" -gt $((NOW - 60)) ] && ok || bad "b-c since $SINCE (now $NOW)"
graph
eq "$(cat "$T/graph")" "edge A-B tcp up own
edge B-C tcp up
node A reachable
node B reachable
node C reachable" "a's map with every link up"

# ---------------------------------------------------------------- restart
# b stops and starts again (a copy of its home kept for the restore step
# below); it must report again once linked, c's link up again.
PB=$(port b)
kill -TERM "$DB"
stopped "$DB" b
forget "$DB"
cp -a "$T/b" "$T/b.bak"
mv "$T/b.err" "$T/b1.err"
conf "$T/b" net listen "127.0.0.1:$PB"
# b_last: "SEQ up|down" of the last of b's link reports a holds, and what
# it says of c.
b_last() {
	"$K" --home "$A" --json log >"$T/alog" 2>/dev/null || return 1
	jq -r --arg b "$BK" --arg c "$CK" 'select(.author == $b and
	    .op.type == "link_report") | "\(.seq) " + ([.op.links[] |
	    select(.peer == $c) | if .up then "up" else "down" end] | join(""))' \
	    "$T/alog" | sort -n | tail -1
}
# b_after SEQ STATE: b's last report a holds comes after SEQ and says c
# is STATE; its seq in S.
b_after() {
	local l
	l=$(b_last) && [ "${l%% *}" -gt "$1" ] && [ "${l#* }" = "$2" ] &&
	    S=${l%% *}
}
S0=$(b_last); S0=${S0%% *}
start b "$T/b"
DB=$DPID
until_s 30 "b reports its link to c up again after its restart" -- \
    b_after "$S0" up

# ---------------------------------------------------------------- cut off
kill -TERM "$DC"
stopped "$DC" c
forget "$DC"
S1=$S
until_s 30 "a holds b's report of c down" -- b_after "$S1" down
until_s 30 "a's status has b's report of c down" -- reported "$BK" "$CK" false
graph
eq "$(cat "$T/graph")" "edge A-B tcp up own
edge B-C tcp down
node A reachable
node B reachable
node C cut" "a's map once c stopped"
st
# The down link says when it went down: after c's report, before now.
DOWN=$(jq -r --arg n "$BK" --arg p "$CK" '.mesh_links[] | select(.node == $n) |
    .links[] | select(.peer == $p) | .since' "$T/st")
[ "$DOWN" -ge "$SINCE" ] && [ "$DOWN" -le "$(date +%s)" ] && ok || bad "b-c down since $DOWN"

# ---------------------------------------------------------------- rate
# b: the first report once its links settled (a, perhaps c already), one
# when c came (if it came later), one when c went: 2 or 3, never one a
# second, each a few dozen bytes a link.
# (b's second run: the first one wrote 1 or 2 before it stopped.)
N=$(grep -c "map: link report [0-9]* written" "$T/b.err")
[ "$N" -ge 2 ] && [ "$N" -le 3 ] && ok || bad "b wrote $N link reports"
grep -o "map: link report [0-9]* written ([^)]*)" "$T/b.err" | sed 's/^/  b: /'
MAXB=$(sed -n 's/.*map: link report [0-9]* written (.*, \([0-9]*\) bytes).*/\1/p' "$T/b.err" | sort -n | tail -1)
[ "${MAXB:-999}" -lt 200 ] && ok || bad "b's largest report is $MAXB bytes"


# ---------------------------------------------------------------- restored
# b is restored from the copy made before its second run: its store lacks
# the reports it wrote since, which a holds.  It must not write its next
# report at a seq a holds already (a fork of its own feed): it learns its
# tip from a, catches up, then writes at the next seq.  The report lists
# c, down (seeded from its last report: a restart does not forget a link
# that went down).
expect 0 "a: log (before b's restore)" -- "$K" --home "$A" --json log
BT=$(jq -r --arg b "$BK" 'select(.author == $b) | .seq' "$T/out" | sort -n | tail -1)
expect 0 "b.bak: log" -- "$K" --home "$T/b.bak" --json log
OLD=$(jq -r --arg b "$BK" 'select(.author == $b) | .seq' "$T/out" | sort -n | tail -1)
[ "${OLD:-0}" -lt "${BT:-0}" ] && ok || bad "the copy of b holds b's feed to $OLD, a to $BT"
kill -TERM "$DB"
stopped "$DB" b
forget "$DB"
rm -rf "$T/b"
mv "$T/b.bak" "$T/b"
conf "$T/b" net listen "127.0.0.1:$PB"
start b "$T/b"
DB=$DPID
# a_holds_b SEQ: a's store holds b's entry SEQ.
a_holds_b() {
	"$K" --home "$A" --json log >"$T/alog" 2>/dev/null &&
	    jq -e --arg b "$BK" --argjson s "$1" 'select(.author == $b and .seq == $s)' \
	    "$T/alog" >/dev/null
}
until_s 30 "a holds b's report written after its restore (seq $((BT + 1)))" -- \
    a_holds_b "$((BT + 1))"
jq -r --arg b "$BK" --argjson s "$((BT + 1))" 'select(.author == $b and .seq == $s) |
    .op.type + " " + ([.op.links[] | (if .peer == "'"$CK"'" then "c" else "a" end) +
    " " + (if .up then "up" else "down" end)] | sort | join(","))' "$T/alog" >"$T/out"
eq "$(cat "$T/out")" "link_report a up,c down" "b's report after its restore"
"$KZ_BIN/kizuna-ctl" --home "$A" '{"cmd":"status"}' >"$T/out"
has out '"forks":0,'
"$KZ_BIN/kizuna-ctl" --home "$T/b" '{"cmd":"status"}' >"$T/out"
has out '"forks":0,'

for p in "$DA" "$DB"; do kill -TERM "$p"; done
stopped "$DA" a
stopped "$DB" b
expect 0 "a: verify" -- "$K" --home "$A" verify
expect 0 "b: verify" -- "$K" --home "$T/b" verify
# kizuna log names the nodes of a report: b's last, as a holds it.
expect 0 "a: log" -- "$K" --home "$A" log
has out "(node) link_report: 駅 tcp down, "
finish meshmap
