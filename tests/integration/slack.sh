#!/usr/bin/env bash
# kizuna import slack as an admin uses it: a small export written here (a
# folder), its summary and reports with FILE:LINE, the workspace it makes
# (tail with a join as a system line, a file reference and a pin; thread,
# search; the views blanked as before schema 9 and digest --rebuild), importing again, the refusals (no mesh, --as, not
# an export, a corrupt ZIP) with their exit codes, export slack and an
# import of what it wrote on another node, no progress drawn when
# stderr is not a terminal, and an import killed with kill -9 after its
# first committed batch that, run again, ends with the digest of an
# uninterrupted import (an export of 30,000 messages from kizuna-bench).
set -u
K="$KZ_BIN/kizuna"
BENCH="$KZ_BIN/kizuna-bench"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzslack-XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

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
  "topic": {"value": "避難 &amp; 給水"}, "pins": [{"id": "1589871634.304500", "type": "C"}]}]
EOF
{
	printf '[\n'
	printf '    {"type": "message", "user": "U01", "text": "避難所を開設しました <@U02>", "ts": "1589871634.304500", "files": [{"id": "F1", "name": "地図.pdf", "mimetype": "application/pdf", "size": 2048, "url_private": "https://files.slack.com/files-pri/T1-F1/x.pdf?t=xoxe-1"}]},\n'
	printf '    {"type": "message", "subtype": "channel_join", "user": "U02", "text": "<@U02> has joined the channel", "ts": "1589871600.000100"},\n'
	printf '    {"type": "message", "user": "U02", "text": "給水は14時から", "ts": "1589871700.000000", "thread_ts": "1589871634.304500"},\n'
	printf '    {"type": "message", "user": "U01", "text": "no ts"},\n'
	printf '    {"type": "message", "user": "U01", "text": "bad \xff", "ts": "1589871800.000000"}\n'
	printf ']\n'
} >"$E/general/2020-05-19.json"

# Refusals before anything is read.
N="$T/nomesh"
expect 0 "init nomesh" -- "$K" --home "$N" init
expect 1 "import without a mesh" -- "$K" --home "$N" import slack "$E"
has err "cannot import:"
A="$T/a"
expect 0 "init a" -- "$K" --home "$A" init
expect 0 "mesh create" -- "$K" --home "$A" mesh create --name 川沿い市
expect 2 "import as a user" -- "$K" --home "$A" --as tanaka import slack "$E"
has err "drop --as"
expect 2 "import without an export" -- "$K" --home "$A" import slack
expect 1 "import of nothing" -- "$K" --home "$A" import slack "$T/missing"
has err "cannot import: $T/missing:"
mkdir "$T/empty"
expect 1 "import of a folder that is not an export" -- "$K" --home "$A" import slack "$T/empty"
has err "is not a Slack export (no readable channels.json); nothing imported"
head -c 4096 /dev/urandom >"$T/bad.zip"
expect 1 "import of a corrupt ZIP" -- "$K" --home "$A" import slack "$T/bad.zip"
has err "not a readable ZIP file"
expect 0 "nothing was written" -- "$K" --home "$A" status --json
has out '"feed_length":1'

# The import: the summary on stdout, each skipped item on stderr.
expect 0 "import" -- "$K" --home "$A" import slack "$E"
has out "imported $E: 1 channels, 2 users, 3 messages (1 thread replies, 1 system events), 0 reactions, 1 files referenced; 0 already imported, 2 skipped; 6 entries"
has err "kizuna: general/2020-05-19.json:5: message 3: no ts; skipped"
has err "kizuna: general/2020-05-19.json:6: element 4: invalid UTF-8; skipped"
lines err 2
# Not a terminal: no progress bar.
grep -q $'\r' "$T/err" && bad "progress drawn on a pipe" || ok

expect 0 "tail" -- "$K" --home "$A" tail general
lines out 2
has out "2020-05-19T07:00:00.000Z"
# The join is a system event, not chat: no author before it.
has out " * @佐藤 has joined the channel"
hasnt out "slack.U02: @佐藤 has joined"
has out "slack.U01: 避難所を開設しました @佐藤 [file 地図.pdf, application/pdf, 2048 bytes] (pinned) (1 reply)"
expect 0 "tail --json" -- "$K" --home "$A" --json tail general
has out '"system":true,"subtype":"channel_join","pinned":false,"files":[]}'
has out '"system":false,"subtype":"","pinned":true,"files":[{"name":"地図.pdf","title":"","type":"application/pdf","size":2048,"url":"https://files.slack.com/files-pri/T1-F1/x.pdf"}]}'
hasnt out "xoxe"
expect 0 "channels" -- "$K" --home "$A" channel list
has out "#general"
has out "避難 & 給水"
expect 0 "users" -- "$K" --home "$A" user list
has out "slack.U01: 田中, member, no password"
has out "slack.U02: 佐藤, member, deactivated, no password"
expect 0 "search a two-character word" -- "$K" --home "$A" search 給水
has out "[給水]は14時から"
expect 0 "search system events" -- "$K" --home "$A" search joined
empty out
id=$("$K" --home "$A" --json tail general | sed -n 's/.*"id":"\([0-9a-f]\{12\}\)[0-9a-f]*".*"text":"避難所.*/\1/p')
expect 0 "thread" -- "$K" --home "$A" thread "$id"
has out "給水は14時から"

# On a terminal (script(1) gives it one): a bar with the counts, cleared
# before the summary.
if command -v script >/dev/null; then
	P="$T/pty"
	expect 0 "init pty" -- "$K" --home "$P" init
	expect 0 "mesh pty" -- "$K" --home "$P" mesh create --name p
	script -qec "'$K' --home '$P' import slack '$E'" /dev/null >"$T/pty.out" 2>&1
	has pty.out "[##############################] 1/1 days  3 messages  2 users  1 channels"
	has pty.out $'\r\033[K'
	has pty.out "imported $E: 1 channels"
fi

# Again: nothing added, the same workspace.
d1=$(digest "$A")
expect 0 "import again" -- "$K" --home "$A" --json import slack "$E"
has out '"complete":true'
has out '"entries":0'
has out '"present":6'
has out '"skipped":2'
has out '"line":5,"what":"message 3: no ts; skipped"'
eq "$(digest "$A")" "$d1" "digest after importing again"

# An imported user logs in once an admin gives them a password; importing
# again keeps it.
printf 'a long password 1\n' >"$T/pw"
expect 0 "passwd of an imported user" -- "$K" --home "$A" user passwd slack.U01 <"$T/pw"
expect 0 "import after passwd" -- "$K" --home "$A" --json import slack "$E"
has out '"entries":0'
expect 0 "users after passwd" -- "$K" --home "$A" user list
has out "slack.U01: 田中, member"
hasnt out "slack.U01: 田中, member, no password"

# Views stored before schema 9 lack what an imported message was (a
# migration leaves the new columns blank); digest --rebuild fills them.
d2=$(digest "$A")
sqlite3 "$A/store.db" "UPDATE ws_messages SET subtype = '', system = 0, pinned = 0, files = 0; DELETE FROM ws_files"
[ "$(digest "$A")" != "$d2" ] && ok || bad "the blanked views have the same digest"
expect 0 "tail before the rebuild" -- "$K" --home "$A" tail general
hasnt out "(pinned)"
expect 0 "digest --rebuild" -- "$K" --home "$A" digest --rebuild
eq "$(cat "$T/out")" "$d2" "digest --rebuild: the digest of the import"
expect 0 "tail after the rebuild" -- "$K" --home "$A" tail general
has out " * @佐藤 has joined the channel"
has out "避難所を開設しました @佐藤 [file 地図.pdf, application/pdf, 2048 bytes] (pinned) (1 reply)"

# Export: the channel back as a Slack export, imported on another node.
expect 2 "export without a channel" -- "$K" --home "$A" export slack "$T/out.zip"
has err "name the channels to export with --channel"
expect 2 "export with a bad date" -- "$K" --home "$A" export slack --channel general --since 2020-13-45 "$T/out.zip"
has err "--since wants a date as YYYY-MM-DD"
expect 1 "export of an unknown channel" -- "$K" --home "$A" export slack --channel nowhere "$T/out.zip"
has err "no channel 'nowhere'"
expect 0 "export" -- "$K" --home "$A" export slack --channel general "$T/out.zip"
has out "exported 1 channels, 3 messages in 1 day files and 2 users to $T/out.zip"
expect 0 "export json" -- "$K" --home "$A" --json export slack --channel general --since 2020-05-20 "$T/late.zip"
has out '"messages":0'
C="$T/c"
expect 0 "init c" -- "$K" --home "$C" init
expect 0 "mesh c" -- "$K" --home "$C" mesh create --name c
expect 0 "import the export" -- "$K" --home "$C" import slack "$T/out.zip"
has out ": 1 channels, 2 users, 3 messages (1 thread replies, 1 system events)"
"$K" --home "$A" tail general >"$T/tail.a"
"$K" --home "$C" tail general >"$T/tail.c"
cmp -s "$T/tail.a" "$T/tail.c" && ok || bad "tail differs after export and import: $(diff "$T/tail.a" "$T/tail.c")"
da=$("$K" --home "$A" digest --channel general)
eq "$("$K" --home "$C" digest --channel general)" "$da" "channel digest after export and import"
[ "$(digest "$C")" != "$(digest "$A")" ] && ok || bad "whole digests equal across nodes"
expect 1 "digest of an unknown channel" -- "$K" --home "$A" digest --channel nowhere
has err "no channel 'nowhere'"

# kill -9 after the first committed batch, then again: the digest of an
# uninterrupted import.  Both homes have the same node key and mesh.
expect 0 "bench export" -- "$BENCH" slack --messages 30000 --dir "$T" --keep
BIG=$(ls -d "$T"/kz-bench-slack-*)/export
R="$T/ref"; V="$T/victim"
expect 0 "init ref" -- "$K" --home "$R" init
expect 0 "mesh ref" -- "$K" --home "$R" mesh create --name big
cp -a "$R" "$V"
expect 0 "import ref" -- "$K" --home "$R" import slack "$BIG"
has out ": 10 channels, 40 users, 30000 messages"
"$K" --home "$V" import slack "$BIG" >"$T/victim.out" 2>"$T/victim.err" &
vp=$!
pids+=("$vp")
past_first_batch() {
	local n
	n=$("$K" --home "$V" status --json 2>/dev/null |
	    sed -n 's/.*"feed_length":\([0-9]*\).*/\1/p')
	[ "${n:-0}" -gt 2001 ]
}
until_ok "first batch committed" -- past_first_batch
kill -9 "$vp"
wait "$vp" 2>/dev/null
grep -q "imported" "$T/victim.out" && bad "the import ended before kill -9" || ok
[ "$(digest "$V")" != "$(digest "$R")" ] && ok || bad "killed import already complete"
expect 0 "import again after kill -9" -- "$K" --home "$V" import slack "$BIG"
has out "already imported"
eq "$(digest "$V")" "$(digest "$R")" "digest after resuming"
expect 0 "verify" -- "$K" --home "$V" verify

finish integration.slack
