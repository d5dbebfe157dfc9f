#!/usr/bin/env bash
# kizuna import slack while kizunad runs on the node: kizunad imports
# (import_slack, import_status on the control socket).  A founds a mesh
# and admits B; R is A's twin (a copy of its home: the same keys and mesh)
# that imports the same exports directly, its kizunad stopped.  Through
# A's kizunad: a path that does not exist and a folder that is not an
# export are refused with the reader's words and change nothing, and so
# is any import on B, no admin node (not_admin_node); a small
# export gives the exact summary and reports of a direct import, the
# digest of R's direct import, and reaches B over their link; importing it
# again adds nothing (--json); a second import while one runs is refused
# (import_running); SIGTERM mid-import (20,000 messages) ends it at a
# batch boundary (the CLI following it says "partly imported", exit 1),
# and importing again after a restart ends with R's digest, on B too.
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
BENCH="$KZ_BIN/kizuna-bench"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzslackd-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

# conf HOME PEERS: loopback on a free port, no discovery, no web server.
conf() {
	sed -i "s/^listen = 0.0.0.0:7420/listen = 127.0.0.1:0/;
	    s/^listen = 0.0.0.0:8080/listen = /; s/^peers = .*/peers = $2/;
	    s/^discovery = .*/discovery = false/;
	    s/^reconnect_max_s = .*/reconnect_max_s = 1/;
	    s/^keepalive_s = .*/keepalive_s = 1/" "$1/kizuna.conf"
}

E="$T/export"
mkdir -p "$E/general"
cat >"$E/users.json" <<'EOF'
[
    {"id": "U01", "name": "tanaka", "profile": {"display_name": "田中"}},
    {"id": "U02", "name": "sato", "deleted": true, "profile": {"real_name": "佐藤"}}
]
EOF
cat >"$E/channels.json" <<'EOF'
[{"id": "C01", "name": "general", "created": 1433558319,
  "topic": {"value": "避難 &amp; 給水"}}]
EOF
{
	printf '[\n'
	printf '    {"type": "message", "user": "U01", "text": "避難所を開設しました <@U02>", "ts": "1589871634.304500"},\n'
	printf '    {"type": "message", "subtype": "channel_join", "user": "U02", "text": "<@U02> has joined the channel", "ts": "1589871600.000100"},\n'
	printf '    {"type": "message", "user": "U02", "text": "給水は14時から", "ts": "1589871700.000000", "thread_ts": "1589871634.304500"},\n'
	printf '    {"type": "message", "user": "U01", "text": "no ts"},\n'
	printf '    {"type": "message", "user": "U01", "text": "bad \xff", "ts": "1589871800.000000"}\n'
	printf ']\n'
} >"$E/general/2020-05-19.json"
expect 0 "bench export" -- "$BENCH" slack --messages 20000 --dir "$T" --keep
BIG=$(ls -d "$T"/kz-bench-slack-*)/export

A="$T/a"; B="$T/b"; R="$T/r"
expect 0 "init a" -- "$K" --home "$A" init
expect 0 "init b" -- "$K" --home "$B" init
expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 川沿い市
BK=$(key "$B")
expect 0 "a: invite" -- "$K" --home "$A" mesh invite --address 127.0.0.1:1
expect 0 "b: join" -- "$K" --home "$B" mesh join "$(cat "$T/out")"
expect 0 "a admits b" -- "$K" --home "$A" mesh admit "$BK" --name b
cp -a "$A" "$R"
conf "$A" ""
start a "$A"
DA=$DPID
until_ok "a listens" -- grep -q "listening on 127.0.0.1:" "$T/a.err"
PORT=$(port a)
until_ok "a answers" -- "$C" --home "$A" '{"cmd":"ping"}'
conf "$B" "127.0.0.1:$PORT"
start b "$B"
DB=$DPID
until_ok "a and b linked" -- grep -q "linked with node ${BK:0:16} (b)" "$T/a.err"
same_ab() { [ "$(digest "$A")" = "$(digest "$B")" ]; }
until_ok "b has a's entries" -- same_ab

cdig() { "$C" --home "$A" '{"cmd":"content_digest"}'; }
c0=$(cdig)
# Refused with the reader's words; nothing changes.
expect 1 "import of nothing" -- "$K" --home "$A" import slack "$T/missing"
has err "cannot import: $T/missing: No such file or directory"
mkdir "$T/empty"
expect 1 "import of a folder that is not an export" -- "$K" --home "$A" import slack "$T/empty"
has out "partly imported $T/empty: 0 channels, 0 users, 0 messages"
has err "is not a Slack export (no readable channels.json); nothing imported"
eq "$(cdig)" "$c0" "content digest after the refusals"
expect 0 "status after the refusals" -- "$C" --home "$A" '{"cmd":"import_status"}'
has out '"import":1,"state":"failed"'
has out '"error":{"code":"MALFORMED","message":"malformed data"}'
expect 0 "a relative path" -- "$C" --home "$A" '{"cmd":"import_slack","path":"export"}'
has out '"code":"bad_request"'
expect 0 "import_status bad problems_from" -- "$C" --home "$A" '{"cmd":"import_status","problems_from":-1}'
has out '"code":"bad_request"'
# B is no admin node: its kizunad refuses (the CLI refuses before asking).
b0=$("$C" --home "$B" '{"cmd":"content_digest"}')
expect 0 "import on b" -- "$C" --home "$B" "{\"cmd\":\"import_slack\",\"path\":\"$E\"}"
has out '"code":"not_admin_node","message":"cannot import: only an admin node may do this, and this node is not one"'
expect 1 "import on b (cli)" -- "$K" --home "$B" import slack "$E"
has err "cannot import: only an admin node may do this, and this node is not one"
eq "$("$C" --home "$B" '{"cmd":"content_digest"}')" "$b0" "b's content digest after the refusals"
expect 0 "import_status on b" -- "$C" --home "$B" '{"cmd":"import_status"}'
has out '"import":0,"state":"none",'
hasnt out '"path"'
expect 2 "import as a user" -- "$K" --home "$A" --as tanaka import slack "$E"
has err "drop --as"

# The small export through kizunad: the summary and reports of a direct
# import, the digest of the twin's direct import, and B gets it all.
expect 0 "import through kizunad" -- "$K" --home "$A" import slack "$E"
has out "imported $E: 1 channels, 2 users, 3 messages (1 thread replies, 1 system events), 0 reactions, 0 files referenced; 0 already imported, 2 skipped; 6 entries"
has err "kizuna: general/2020-05-19.json:5: message 3: no ts; skipped"
has err "kizuna: general/2020-05-19.json:6: element 4: invalid UTF-8; skipped"
lines err 2
grep -q $'\r' "$T/err" && bad "progress drawn on a pipe" || ok
until_ok "a logs the import" -- grep -q "import 2 complete: 1 channels, 2 users, 3 messages, 0 already imported, 2 skipped; 6 entries" "$T/a.err"
expect 0 "twin: direct import" -- "$K" --home "$R" import slack "$E"
has out "imported $E: 1 channels, 2 users, 3 messages"
eq "$(digest "$A")" "$(digest "$R")" "digest of a's import through kizunad and r's direct one"
until_ok "b has a's import" -- same_ab
expect 0 "b: tail" -- "$K" --home "$B" tail general
has out "slack.U01: 避難所を開設しました @佐藤 (1 reply)"
expect 0 "a: users" -- "$K" --home "$A" user list
has out "slack.U02: 佐藤, member, deactivated, no password"
expect 0 "import_status" -- "$C" --home "$A" '{"cmd":"import_status"}'
has out '"import":2,"state":"complete","channels":1,"users":2,"messages":3,"system":1,"threads":1,"reactions":0,"files":0,"present":0,"skipped":2,"entries":6,"day_files":1,"day_files_done":1,'
has out '"problems_total":2,"problems_kept":2,'
has out '"problems":[{"file":"general/2020-05-19.json","line":5,"what":"message 3: no ts; skipped"},'
expect 0 "import_status from 1" -- "$C" --home "$A" '{"cmd":"import_status","problems_from":1}'
has out '"problems":[{"file":"general/2020-05-19.json","line":6,"what":"element 4: invalid UTF-8; skipped"}]'

# Again, --json: nothing added.
expect 0 "import again (json)" -- "$K" --home "$A" --json import slack "$E"
has out "\"export\":\"$E\",\"complete\":true"
has out '"entries":0'
has out '"present":6'
has out '"skipped":2'
has out '"line":5,"what":"message 3: no ts; skipped"'
eq "$(digest "$A")" "$(digest "$R")" "digest after importing again"

# On a terminal: the bar, as a direct import draws it.
if command -v script >/dev/null; then
	script -qec "'$K' --home '$A' import slack '$E'" /dev/null >"$T/pty.out" 2>&1
	has pty.out "[##############################] 1/1 days  0 messages  0 users  0 channels"
	has pty.out "imported $E: 0 channels"
fi

# 20,000 messages: a second import while it runs is refused; SIGTERM
# ends it at a batch boundary and the CLI following it says so.
"$K" --home "$A" import slack "$BIG" >"$T/big.out" 2>"$T/big.err" &
CLI=$!
pids+=("$CLI")
running() { "$C" --home "$A" '{"cmd":"import_status"}' | grep -q '"state":"running"'; }
until_ok "the big import runs" -- running
expect 0 "a second import" -- "$C" --home "$A" "{\"cmd\":\"import_slack\",\"path\":\"$E\"}"
has out '"code":"import_running"'
expect 1 "a second import (cli)" -- "$K" --home "$A" import slack "$E"
has err "kizunad: an import is running (import "
has err "); one at a time: ask import_status"
past_batches() {
	local n
	n=$("$C" --home "$A" '{"cmd":"import_status"}' |
	    sed -n 's/.*"entries":\([0-9]*\).*/\1/p')
	[ "${n:-0}" -ge 1000 ]
}
until_ok "batches committed" -- past_batches
kill -TERM "$DA"
stopped "$DA" a
forget "$DA"
wait "$CLI"; rc=$?
forget "$CLI"
eq "$rc" 1 "exit status of the CLI whose kizunad stopped"
grep -q "partly imported $BIG: " "$T/big.out" && ok || bad "no partial summary: $(cat "$T/big.out" "$T/big.err")"
grep -q "import stopped: kizunad stopped before the end; what was committed stays, and importing again resumes" "$T/big.err" && ok || bad "no stop message: $(cat "$T/big.err")"
grep -q "import [0-9]* stopped at a batch boundary (importing again resumes)" "$T/a.err" && ok || bad "a's log lacks the stop"
n=$(sed -n 's/.*partly imported [^:]*: .* \([0-9]*\) entries in .*/\1/p' "$T/big.out")
[ "${n:-0}" -ge 1000 ] && [ "$((n % 500))" -eq 0 ] && ok || bad "entries at the stop: '$n', not whole batches of 500"
expect 0 "twin: direct big import" -- "$K" --home "$R" import slack "$BIG"
has out ": 10 channels, 40 users, 20000 messages"
[ "$(digest "$A")" != "$(digest "$R")" ] && ok || bad "stopped import already complete"

# Back on its port, which B dials.
sed -i "s/^listen = 127.0.0.1:0/listen = 127.0.0.1:$PORT/" "$A/kizuna.conf"
start a "$A"
DA=$DPID
until_ok "a answers again" -- "$C" --home "$A" '{"cmd":"ping"}'
expect 0 "import again after the stop" -- "$K" --home "$A" import slack "$BIG"
has out "already imported"
has out "imported $BIG: "
eq "$(digest "$A")" "$(digest "$R")" "digest after resuming through kizunad"
# 20,000 entries to sync and apply: up to 60 s under the sanitizers.
for i in $(seq 600); do same_ab && break; sleep 0.1; done
same_ab && ok || { bad "b lacks the whole import after 60 s";
    "$C" --home "$A" '{"cmd":"status"}' >&2; "$C" --home "$B" '{"cmd":"status"}' >&2; tail -30 "$T/b.err" >&2; tail -30 "$T/a.err" >&2; }
expect 0 "a: verify" -- "$K" --home "$A" verify

# kizunad's views know the imported users (their control state followed
# the import's commits): a post as one, appended by kizunad, counts, on B
# too.
expect 0 "a: post as an imported user" -- "$K" --home "$A" --as slack.U01 post general "取水再開"
expect 0 "a: tail after the post" -- "$K" --home "$A" tail -n 3 general
has out "slack.U01: 取水再開"
until_ok "b has the post" -- same_ab
expect 0 "b: tail after the post" -- "$K" --home "$B" tail -n 3 general
has out "slack.U01: 取水再開"

for p in "$DA" "$DB"; do kill -TERM "$p"; done
stopped "$DA" a
stopped "$DB" b
forget "$DA"; forget "$DB"
finish integration.slack_daemon
