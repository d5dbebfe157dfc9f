#!/usr/bin/env bash
# The web workspace's HTTP server and JSON API (docs/api.md), driven with
# curl against a real kizunad on 127.0.0.1 (a free port, read from its log):
# the static UI and its security headers; every endpoint without a session
# (401); login with the users' Argon2id hashes, the cookie's exact
# attributes, the CSRF token on every change (403 without it, and nothing
# stored); each endpoint's success and bad input (malformed JSON, missing
# fields, oversize bodies, invalid UTF-8, unknown ids) with the documented
# code and status; paging by cursor; a post through the API in `kizuna
# tail` and a CLI post through the API; the 6th failed login in a minute
# refused unchecked (429) per user and per address; node revocation and join
# tokens (exact answers, refusals that store nothing); sessions ended by
# logout, deactivation and idleness; a port already taken; a clean stop
# with connections open; imported Slack messages with their file reference,
# pin and a join as a system event.
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzhttp-XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

A="$T/a"
ka() { "$K" --home "$A" "$@"; }
# conf HOME SECTION KEY VALUE: sets one key of one section.
conf() { sed -i "/^\[$2\]/,/^\[/ s|^$3 = .*|$3 = $4|" "$1/kizuna.conf"; }
# hport NAME: the HTTP port NAME's log says it serves on.
hport() { sed -n 's|.*serving the web workspace at http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/$1.err" | tail -1; }

# req METHOD PATH [CURL ARGS...]: body in $T/out, headers in $T/hdr,
# status in $T/code.
req() {
	local m=$1 p=$2; shift 2
	curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$U$p" \
	    >"$T/code" 2>"$T/cerr" || echo "curl failed: $(cat "$T/cerr")" >"$T/code"
}
# as USER METHOD PATH [ARGS...]: req with USER's cookie jar (and CSRF token
# when the jar has one).
as() {
	local u=$1; shift
	local m=$1 p=$2; shift 2
	req "$m" "$p" -b "$T/$u.jar" -c "$T/$u.jar" -H "X-CSRF-Token: $(cat "$T/$u.csrf" 2>/dev/null)" "$@"
}
JSON=(-H 'Content-Type: application/json')
# want STATUS [CODE] WHAT: the last answer had STATUS (and error CODE).
want() {
	local st=$1 code=""
	[ $# -gt 2 ] && { code=$2; shift; }
	local what=$2 got
	got=$(cat "$T/code")
	if [ "$got" != "$st" ]; then
		bad "$what: status $got, wanted $st"; sed 's/^/  | /' "$T/out" >&2; return
	fi
	ok
	if [ -n "$code" ]; then
		got=$(jq -r '.error.code // "none"' "$T/out" 2>/dev/null)
		eq "$got" "$code" "$what: error code"
		# Every error names a message for people too.
		[ -n "$(jq -r '.error.message // empty' "$T/out")" ] && ok ||
		    bad "$what: no error message"
	fi
}
# j FILTER: jq -r FILTER of the last answer.
j() { jq -r "$1" "$T/out"; }
# hdr NAME: the last answer's header NAME (its value, CR stripped).
hdr() { sed -n "s/^$1: //Ip" "$T/hdr" | tr -d '\r' | head -1; }
# login USER PASSWORD: signs USER in; the jar and the CSRF token kept.
login() {
	rm -f "$T/$1.jar" "$T/$1.csrf"
	req POST /api/login -c "$T/$1.jar" "${JSON[@]}" \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}"
	[ "$(cat "$T/code")" = 200 ] && j .csrf >"$T/$1.csrf"
}
feedlen() { ka --json status | jq -r .feed_length; }

# ------------------------------------------------------------ the node
expect 0 "init" -- ka init
expect 0 "mesh create" -- ka mesh create --name 川沿い市
echo "alice-pw" >"$T/pw"
expect 0 "user alice" -- ka user add alice --name "佐藤 花子" --department 防災課 \
    --role admin --password-stdin <"$T/pw"
echo "bob-pw" >"$T/pw"
expect 0 "user bob" -- ka user add bob --name "Bob Ito" --password-stdin <"$T/pw"
echo "carol-pw" >"$T/pw"
expect 0 "user carol" -- ka user add carol --name "Carol" --password-stdin <"$T/pw"
expect 0 "user dave (no password)" -- ka user add dave --name "Dave"
expect 0 "channel general" -- ka channel create general --topic 全体連絡
expect 0 "channel other" -- ka channel create other
GEN=$(ka --json channel list | jq -r 'select(.name == "general") | .id')
OTHER=$(ka --json channel list | jq -r 'select(.name == "other") | .id')
[ ${#GEN} -eq 64 ] && ok || bad "no general channel id: $GEN"
F00=$(feedlen)
conf "$A" net listen ""
conf "$A" net discovery false
# A static peer nobody answers at: a link row for /metrics.
conf "$A" net peers 127.0.0.1:1
conf "$A" http listen 127.0.0.1:0

start a "$A"
until_ok "a serves http" -- grep -q "serving the web workspace at http://127.0.0.1:" "$T/a.err"
P=$(hport a)
U="http://127.0.0.1:$P"
has a.err "(files from $KZ_SRC/src/web/)"

# ------------------------------------------------------------ static files
CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
req GET /
want 200 "GET /"
cmp -s "$T/out" "$KZ_SRC/src/web/index.html" && ok || bad "GET / is not index.html"
eq "$(hdr content-type)" "text/html" "index content type"
eq "$(hdr content-security-policy)" "$CSP" "CSP on a file"
eq "$(hdr x-content-type-options)" "nosniff" "nosniff on a file"
eq "$(hdr x-frame-options)" "DENY" "no framing"
req GET /app.js
want 200 "GET /app.js"
cmp -s "$T/out" "$KZ_SRC/src/web/app.js" && ok || bad "app.js differs"
req GET /nothing-here.html
want 404 "a missing file"
req GET /../../etc/passwd --path-as-is
[ "$(cat "$T/code")" != 200 ] && ok || bad "a path outside the web root was served"
grep -q "root:" "$T/out" && bad "/etc/passwd served" || ok

# ------------------------------------------------------------ no session: 401
M0=0000000000000000000000000000000000000000000000000000000000000000
for e in "GET /api/me" "POST /api/logout" "GET /api/channels" \
    "GET /api/channels/$GEN/messages" "POST /api/channels/$GEN/messages" \
    "GET /api/messages/$M0/thread" "POST /api/messages/$M0/ack" \
    "POST /api/messages/$M0/react" "GET /api/status" "GET /api/nothing" \
    "GET /api/search?q=x" "GET /api/rollcall" "POST /api/rollcall" \
    "GET /api/events" "GET /api/users" "POST /api/users" \
    "POST /api/users/bob/deactivate" "POST /api/users/bob/password" \
    "POST /api/nodes" "POST /api/nodes/invite" "POST /api/nodes/$M0/revoke"; do
	req ${e% *} "${e#* }" "${JSON[@]}" -d '{"text":"x"}'
	want 401 unauthenticated "$e without a session"
	eq "$(hdr content-type)" "application/json; charset=utf-8" "$e: JSON"
	eq "$(hdr content-security-policy)" "$CSP" "$e: CSP"
	eq "$(hdr x-content-type-options)" "nosniff" "$e: nosniff"
	eq "$(hdr cache-control)" "no-store" "$e: not cached"
done
# A forged cookie is no session either.
req GET /api/me -H "Cookie: kz_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
want 401 unauthenticated "a forged session id"
eq "$(feedlen)" "$F00" "nothing was stored without a session"

# ------------------------------------------------------------ login: bad input
req GET /api/login
want 405 method_not_allowed "GET /api/login"
eq "$(hdr allow)" "POST" "login's Allow"
req POST /api/login "${JSON[@]}" -d '{"user":"alice",'
want 400 bad_json "login: malformed JSON"
req POST /api/login "${JSON[@]}" -d '["alice","alice-pw"]'
want 400 bad_json "login: not an object"
req POST /api/login "${JSON[@]}" -d '{"user":"alice","user":"bob","password":"x"}'
want 400 bad_json "login: a duplicate key"
req POST /api/login "${JSON[@]}" -d '{"user":"alice"}'
want 400 missing_field "login: no password"
req POST /api/login "${JSON[@]}" -d '{"user":"alice","password":7}'
want 400 missing_field "login: a password that is no string"
printf '{"user":"alice","password":"\xff\xfe"}' >"$T/badutf8"
req POST /api/login "${JSON[@]}" --data-binary @"$T/badutf8"
want 400 bad_utf8 "login: invalid UTF-8"
req POST /api/login "${JSON[@]}" -d '{"user":"alice","password":"a\u0000b"}'
want 400 bad_json "login: a NUL in the password"
req POST /api/login "${JSON[@]}" -d "{\"user\":\"$(head -c 65 /dev/zero | tr '\0' u)\",\"password\":\"x\"}"
want 400 invalid_field "login: a user id over 64 bytes"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST /api/login "${JSON[@]}" --data-binary @"$T/big"
want 413 body_too_large "login: a 70 KB body"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/huge"
req POST /api/login "${JSON[@]}" --data-binary @"$T/huge"
want 413 "login: a 1.1 MB body (h2o's own limit)"
req POST /api/login -H 'Content-Type: text/plain' -d '{"user":"alice","password":"alice-pw"}'
want 415 unsupported_media_type "login: not JSON"
req POST /api/login -d 'user=alice&password=alice-pw'
want 415 unsupported_media_type "login: a form post"
# (From addresses of their own: failures count per address too.)
req POST /api/login --interface 127.0.0.5 "${JSON[@]}" -d '{"user":"dave","password":""}'
want 401 bad_credentials "login: a user without a password"
req POST /api/login --interface 127.0.0.5 "${JSON[@]}" -d '{"user":"nobody","password":"x"}'
want 401 bad_credentials "login: an unknown user"
has a.err "warning: http: login failed for user nobody from 127.0.0.5"

# ------------------------------------------------------------ login
login alice alice-pw
want 200 "alice logs in"
eq "$(j .user.id)/$(j .user.display_name)/$(j .user.department)/$(j .user.role)" \
    "alice/佐藤 花子/防災課/admin" "login answer's user"
CSRF=$(cat "$T/alice.csrf")
[[ "$CSRF" =~ ^[A-Za-z0-9_-]{43}$ ]] && ok || bad "CSRF token '$CSRF' is not 256 bits in base64url"
COOKIE=$(hdr set-cookie)
[[ "$COOKIE" =~ ^kz_session=[A-Za-z0-9_-]{43}\;\ Path=/\;\ HttpOnly\;\ SameSite=Strict$ ]] &&
    ok || bad "session cookie is '$COOKIE'"
SID=$(echo "$COOKIE" | sed 's/^kz_session=\([^;]*\);.*/\1/')
[ "$SID" != "$CSRF" ] && ok || bad "the CSRF token is the session id"
has a.err "info: http: alice signed in from 127.0.0.1"
# The session id is not in the log.
grep -qF "$SID" "$T/a.err" && bad "the session id was logged" || ok
login alice alice-pw
SID2=$(hdr set-cookie | sed 's/^kz_session=\([^;]*\);.*/\1/')
[ "$SID2" != "$SID" ] && ok || bad "a second login got the same session id"
CSRF=$(cat "$T/alice.csrf")

as alice GET /api/me
want 200 "GET /api/me"
eq "$(j .user.id) $(j .csrf)" "alice $CSRF" "me: user and CSRF token"
as alice POST /api/me
want 405 method_not_allowed "POST /api/me"

# ------------------------------------------------------------ channels
as alice GET /api/channels
want 200 "GET /api/channels"
eq "$(j '.channels | map(.name) | join(",")')" "general,other" "channel names"
eq "$(j ".channels[0] | [.id, .topic, .archived, .messages] | join(\",\")")" \
    "$GEN,全体連絡,false,0" "general's fields"

# ------------------------------------------------------------ CSRF
F0=$(feedlen)
req POST "/api/channels/$GEN/messages" -b "$T/alice.jar" "${JSON[@]}" -d '{"text":"no token"}'
want 403 csrf "a post without the CSRF token"
req POST "/api/channels/$GEN/messages" -b "$T/alice.jar" -H "X-CSRF-Token: ${CSRF%?}x" \
    "${JSON[@]}" -d '{"text":"wrong token"}'
want 403 csrf "a post with a wrong CSRF token"
req POST "/api/channels/$GEN/messages" -b "$T/alice.jar" -H "X-CSRF-Token: $(cat "$T/alice.csrf")x" \
    "${JSON[@]}" -d '{"text":"a longer token"}'
want 403 csrf "a post with a token and more"
req POST /api/logout -b "$T/alice.jar"
want 403 csrf "logout without the CSRF token"
eq "$(feedlen)" "$F0" "nothing stored without the CSRF token"

# ------------------------------------------------------------ post
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" \
    -d '{"text":"避難所の給水を開始 <img src=x onerror=alert(1)>","priority":"urgent"}'
want 201 "an urgent post"
M1=$(j .message.id)
eq "$(j '.message | [.channel, .user, .priority, .text, .thread_root, .reply_count, .acks] | map(tostring) | join("|")')" \
    "$GEN|alice|urgent|避難所の給水を開始 <img src=x onerror=alert(1)>|null|0|0" "the post's fields"
eq "$(feedlen)" $((F0 + 1)) "one entry appended"
expect 0 "kizuna tail shows the API's post" -- ka tail -n 5 general
has out "避難所の給水を開始 <img src=x onerror=alert(1)>"
# The markup arrives as a JSON string, never as HTML.
eq "$(hdr content-type)" "application/json; charset=utf-8" "post answer is JSON"

expect 0 "a CLI post" -- ka --as bob post general "CLI から: 停電は復旧"
as alice GET "/api/channels/$GEN/messages"
want 200 "GET messages"
eq "$(j '.messages | map(.text) | join("|")')" \
    "CLI から: 停電は復旧|避難所の給水を開始 <img src=x onerror=alert(1)>" "newest first, the CLI's post too"
eq "$(j '.messages[0].user') $(j .next)" "bob null" "CLI post's user; no older page"

# Post with defaults, and bad input.
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"通常連絡"}'
want 201 "a post without a priority"
eq "$(j .message.priority)" normal "priority defaults to normal"
F1=$(feedlen)
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":'
want 400 bad_json "post: malformed JSON"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"priority":"urgent"}'
want 400 missing_field "post: no text"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":""}'
want 400 missing_field "post: empty text"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":5}'
want 400 invalid_field "post: text that is no string"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"x","priority":"panic"}'
want 400 invalid_field "post: an unknown priority"
printf '{"text":"\xc3\x28"}' >"$T/badutf8"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" --data-binary @"$T/badutf8"
want 400 bad_utf8 "post: invalid UTF-8"
printf '{"text":"%s"}' "$(head -c 16385 /dev/zero | tr '\0' x)" >"$T/long"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" --data-binary @"$T/long"
want 400 invalid_field "post: text over 16 KiB"
printf '{"text":"%s"}' "$(head -c 70000 /dev/zero | tr '\0' x)" >"$T/big"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" --data-binary @"$T/big"
want 413 body_too_large "post: a 70 KB body"
as alice POST "/api/channels/$GEN/messages" -H 'Content-Type: text/plain' -d '{"text":"x"}'
want 415 unsupported_media_type "post: not JSON"
as alice POST "/api/channels/$M0/messages" "${JSON[@]}" -d '{"text":"x"}'
want 404 unknown_channel "post: an unknown channel"
as alice POST "/api/channels/general/messages" "${JSON[@]}" -d '{"text":"x"}'
want 400 bad_id "post: a channel by name"
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d "{\"text\":\"x\",\"thread_root\":\"$M0\"}"
want 404 unknown_message "post: an unknown thread root"
as alice POST "/api/channels/$OTHER/messages" "${JSON[@]}" -d "{\"text\":\"x\",\"thread_root\":\"$M1\"}"
want 400 invalid_field "post: a thread root of another channel"
as alice DELETE "/api/channels/$GEN/messages"
want 405 method_not_allowed "DELETE messages"
eq "$(hdr allow)" "GET, POST" "messages' Allow"
eq "$(feedlen)" "$F1" "no bad post stored anything"

# ------------------------------------------------------------ threads
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d "{\"text\":\"給水車は 10 時着\",\"thread_root\":\"$M1\"}"
want 201 "a reply"
R1=$(j .message.id)
eq "$(j .message.thread_root)" "$M1" "the reply's root"
as alice GET "/api/messages/$M1/thread"
want 200 "GET thread"
eq "$(j '.root.id') $(j '.root.reply_count') $(j '.replies | map(.id) | join(",")')" \
    "$M1 1 $R1" "thread: root and its reply"
as alice GET "/api/messages/$R1/thread"
want 200 "a reply's own thread"
eq "$(j '.replies | length')" 0 "a reply has no replies"
as alice GET "/api/messages/$M0/thread"
want 404 unknown_message "thread: an unknown message"
as alice GET "/api/messages/xyz/thread"
want 400 bad_id "thread: a bad id"
as alice GET "/api/channels/$GEN/messages"
eq "$(j '.messages | map(.id) | index("'"$R1"'")')" null "replies are not in the channel's pages"

# ------------------------------------------------------------ paging
for i in 1 2 3 4 5 6 7; do ka --as carol post general "ページ $i" >/dev/null || bad "CLI post $i"; done
as alice GET "/api/channels/$GEN/messages?limit=1000"
want 400 bad_limit "limit over 200"
as alice GET "/api/channels/$GEN/messages?limit=0"
want 400 bad_limit "limit 0"
as alice GET "/api/channels/$GEN/messages?limit=x"
want 400 bad_limit "limit not a number"
as alice GET "/api/channels/$GEN/messages?before=zz"
want 400 bad_cursor "a short cursor"
as alice GET "/api/channels/$GEN/messages?before=$(printf 'g%.0s' $(seq 96))"
want 400 bad_cursor "a cursor that is no hex"
as alice GET "/api/channels/$M0/messages"
want 404 unknown_channel "messages of an unknown channel"
as alice GET "/api/channels/${GEN:0:20}/messages"
want 400 bad_id "a channel id prefix"
as alice GET "/api/channels/$GEN/messages?limit=200"
j '.messages | map(.id) | .[]' >"$T/all"
lines all 10
CUR=""; : >"$T/paged"; n=0
while :; do
	as alice GET "/api/channels/$GEN/messages?limit=3${CUR:+&before=$CUR}"
	want 200 "page $n"
	j '.messages | map(.id) | .[]' >>"$T/paged"
	CUR=$(j .next)
	n=$((n + 1))
	[ "$CUR" = null ] || [ $n -gt 10 ] && break
done
eq "$n" 4 "10 messages in pages of 3"
cmp -s "$T/all" "$T/paged" && ok || bad "the pages do not add up to the whole channel"
as alice GET "/api/channels/$GEN/messages?limit=3"
eq "$(j '.messages | map(.text) | join("|")')" "ページ 7|ページ 6|ページ 5" "the newest page"
eq "$(j .next)" "$(j '.messages[2].cursor')" "next is the last message's cursor"

# The channel list (kept between changes) counts what was written since.
as alice GET /api/channels
eq "$(j '.channels[0].messages')" 11 "general's count: 10 posts and a reply"
expect 0 "one more CLI post" -- ka --as carol post general "ページ 8"
as alice GET /api/channels
eq "$(j '.channels[0].messages')" 12 "the count follows a CLI post"

# ------------------------------------------------------------ ack, react
F2=$(feedlen)
req POST "/api/messages/$M1/ack" -b "$T/alice.jar"
want 403 csrf "ack without the CSRF token"
as alice POST "/api/messages/$M1/ack"
want 200 "ack"
eq "$(j '.acks | join(",")') $(j .message.acks)" "alice 1" "acknowledged by alice"
as alice POST "/api/messages/$M1/ack" "${JSON[@]}" -d '{}'
want 200 "ack again"
eq "$(j '.acks | join(",")')" "alice" "still one acknowledgement"
eq "$(feedlen)" $((F2 + 1)) "a second ack stores nothing"
as alice POST "/api/messages/$M1/ack" "${JSON[@]}" -d '{"x":'
want 400 bad_json "ack: malformed JSON"
as alice POST "/api/messages/$M0/ack"
want 404 unknown_message "ack: an unknown message"
F2=$(feedlen)
as alice GET "/api/messages/$M1/ack"
want 200 "GET ack: who has acknowledged"
eq "$(j '.acks | join(",")') $(j .message.id)" "alice $M1" "GET ack: alice, the message"
eq "$(feedlen)" "$F2" "GET ack stores nothing"
as alice PUT "/api/messages/$M1/ack"
want 405 method_not_allowed "PUT ack"
eq "$(hdr allow)" "GET, POST" "PUT ack: Allow"
as alice POST "/api/messages/$M1/react" "${JSON[@]}" -d '{"emoji":"👍"}'
want 200 "react"
eq "$(j .message.reactions)" 1 "one reaction"
as alice POST "/api/messages/$M1/react" "${JSON[@]}" -d '{"emoji":"👍","on":false}'
want 200 "react off"
eq "$(j .message.reactions)" 0 "reaction taken back"
as alice POST "/api/messages/$M1/react" "${JSON[@]}" -d '{}'
want 400 missing_field "react: no emoji"
as alice POST "/api/messages/$M1/react" "${JSON[@]}" -d '{"emoji":"👍","on":"yes"}'
want 400 invalid_field "react: on is no boolean"
as alice POST "/api/messages/$M1/react" "${JSON[@]}" -d "{\"emoji\":\"$(head -c 65 /dev/zero | tr '\0' x)\"}"
want 400 invalid_field "react: an emoji over 64 bytes"
as alice POST "/api/messages/$M0/react" "${JSON[@]}" -d '{"emoji":"👍"}'
want 404 unknown_message "react: an unknown message"
expect 0 "the CLI sees the ack" -- ka thread "${M1:0:16}"
has out "acknowledged by: alice"

# ------------------------------------------------------------ status
as alice GET /api/status
want 200 "GET status"
eq "$(j .node_key)" "$(ka --json status | jq -r .node_key)" "status: the node key"
eq "$(j .http.port) $(j 'has("home")') $(j 'has("ok")')" "$P false false" "status: http, no home"
eq "$(j .feed_length)" "$(feedlen)" "status: feed length"
eq "$(j '.nodes | map([.key, .admin, .revoked] | map(tostring) | join(":")) | join(",")')" \
    "$(ka --json status | jq -r .node_key):true:false" "status: the mesh's one node, its admin"

# ------------------------------------------------------------ search
# 給水 (water supply), percent-encoded: a two-character Japanese word.
Q=%E7%B5%A6%E6%B0%B4
as alice GET "/api/search?q=$Q"
want 200 "search 給水"
eq "$(j '.hits | map(.id) | join(",")')" "$R1,$M1" "search finds the reply and the post, newest first"
eq "$(j '.hits[1].snippet | map((if .hit then "[" else "" end) + .text + (if .hit then "]" else "" end)) | join("")')" \
    "避難所の[給水]を開始 <img src=x onerror=alert(1)>" "the snippet's segments, the hit marked"
as alice GET "/api/search?q=$Q&priority=urgent"
eq "$(j '.hits | map(.id) | join(",")')" "$M1" "search: urgent and above"
as alice GET "/api/search?q=$Q&author=bob"
eq "$(j '.hits | length')" 0 "search: by an author who did not write it"
as alice GET "/api/search?q=%E5%81%9C%E9%9B%BB&author=bob"
eq "$(j '.hits[0].text')" "CLI から: 停電は復旧" "search 停電 by bob"
as alice GET "/api/search?q=$Q&channel=$OTHER"
eq "$(j '.hits | length')" 0 "search: in another channel"
as alice GET "/api/search?q=$Q&limit=1&offset=1"
eq "$(j '.hits | map(.id) | join(",")')" "$M1" "search: the second hit"
as alice GET "/api/search"
want 400 missing_field "search without q"
as alice GET "/api/search?q=%ZZ"
want 400 invalid_field "search: a bad escape"
as alice GET "/api/search?q=%FF%FE"
want 400 invalid_field "search: invalid UTF-8"
as alice GET "/api/search?q=%2B%2B"
want 400 invalid_field "search: nothing searchable"
as alice GET "/api/search?q=$Q&priority=panic"
want 400 invalid_field "search: a bad priority"
as alice GET "/api/search?q=$Q&author=a%20b"
want 400 invalid_field "search: a bad author"
as alice GET "/api/search?q=$Q&limit=500"
want 400 invalid_field "search: limit over 100"
as alice GET "/api/search?q=$Q&channel=$M0"
want 404 unknown_channel "search: an unknown channel"
as alice POST "/api/search?q=$Q"
want 405 method_not_allowed "POST /api/search"

# ------------------------------------------------------------ roll call
login bob bob-pw
want 200 "bob logs in"
as bob GET /api/rollcall
want 200 "GET rollcall"
eq "$(j '.rollcall | map(.user + ":" + .status) | join(",")')" \
    "alice:unknown,bob:unknown,carol:unknown,dave:unknown" "everyone unknown at first"
F3=$(feedlen)
req POST /api/rollcall -b "$T/bob.jar" "${JSON[@]}" -d '{"status":"safe"}'
want 403 csrf "a report without the CSRF token"
as bob POST /api/rollcall "${JSON[@]}" -d '{"status":"needs-help","place":"南小学校","note":"足を負傷"}'
want 200 "bob reports"
eq "$(j '.rollcall[] | select(.user == "bob") | [.status, .place, .note, .reporter] | join("|")')" \
    "needs-help|南小学校|足を負傷|bob" "bob's row"
[ "$(j '.rollcall[] | select(.user == "bob") | .time_ms')" -gt 0 ] && ok || bad "bob's report has no time"
as bob POST /api/rollcall "${JSON[@]}" -d '{"user":"carol","status":"safe"}'
want 403 forbidden "a member reports for someone else"
as alice POST /api/rollcall "${JSON[@]}" -d '{"user":"carol","status":"injured","place":"本庁舎"}'
want 200 "an admin reports for carol"
eq "$(j '.rollcall[] | select(.user == "carol") | [.status, .reporter] | join("|")')" \
    "injured|alice" "carol's row, reported by alice"
as bob POST /api/rollcall "${JSON[@]}" -d '{"status":"fine"}'
want 400 invalid_field "an unknown status"
as bob POST /api/rollcall "${JSON[@]}" -d '{"place":"x"}'
want 400 missing_field "a report without a status"
as bob POST /api/rollcall "${JSON[@]}" -d '{"status":"safe","note":7}'
want 400 invalid_field "a note that is no string"
as bob POST /api/rollcall "${JSON[@]}" -d '{"status":'
want 400 bad_json "rollcall: malformed JSON"
printf '{"status":"safe","place":"\xe3\x81"}' >"$T/badutf8"
as bob POST /api/rollcall "${JSON[@]}" --data-binary @"$T/badutf8"
want 400 bad_utf8 "rollcall: invalid UTF-8"
as bob POST /api/rollcall "${JSON[@]}" -d "{\"status\":\"safe\",\"note\":\"$(head -c 1001 /dev/zero | tr '\0' n)\"}"
want 400 invalid_field "rollcall: a note over 1,000 bytes"
as bob POST /api/rollcall "${JSON[@]}" --data-binary @"$T/big"
want 413 body_too_large "rollcall: a 70 KB body"
eq "$(feedlen)" $((F3 + 2)) "two reports stored, no refused one"
expect 0 "the CLI's roll call" -- ka rollcall
has out "南小学校"

# ------------------------------------------------------------ urgent banner
# GET /api/urgent: what a user has not acknowledged, newest first; never
# their own posts; an ack takes it off.
as bob GET /api/urgent
want 200 "bob's unacknowledged"
NU=$(j '.messages | length')
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"堤防決壊の恐れ","priority":"emergency"}'
want 201 "alice posts an emergency"
U1=$(j .message.id)
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"ふつうの連絡"}'
want 201 "and a normal post"
as bob GET /api/urgent
want 200 "bob's list"
eq "$(j '.messages | length') $(j '.messages[0].id') $(j '.messages[0].priority')" \
    "$((NU + 1)) $U1 emergency" "bob's list: the emergency first, one more"
as alice GET /api/urgent
eq "$(j "[.messages[] | select(.id == \"$U1\")] | length")" 0 "alice's list lacks her own post"
as bob GET "/api/urgent?limit=1"
eq "$(j '.messages | length')" 1 "limit=1: one"
as bob GET "/api/urgent?limit=0"
want 400 bad_limit "limit=0"
as bob GET "/api/urgent?limit=101"
want 400 bad_limit "limit=101"
as bob POST /api/urgent
want 405 method_not_allowed "POST urgent"
req GET /api/urgent
want 401 unauthenticated "urgent without a session"
as bob POST "/api/messages/$U1/ack"
want 200 "bob acknowledges"
as bob GET /api/urgent
eq "$(j '.messages | length') $(j "[.messages[] | select(.id == \"$U1\")] | length")" \
    "$NU 0" "bob's list without it"
as alice GET "/api/messages/$U1/ack"
eq "$(j '.acks | join(",")')" "bob" "alice sees bob acknowledged"

# ------------------------------------------------------------ edit, delete
as alice POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"給水は 14 時"}'
want 201 "alice posts"
M2=$(j .message.id)
as bob POST "/api/messages/$M2/edit" "${JSON[@]}" -d '{"text":"bob was here"}'
want 403 forbidden "bob edits alice's post"
as bob POST "/api/messages/$M2/delete"
want 403 forbidden "bob deletes alice's post"
req POST "/api/messages/$M2/edit" -b "$T/alice.jar" "${JSON[@]}" -d '{"text":"x"}'
want 403 csrf "an edit without the CSRF token"
as alice POST "/api/messages/$M2/edit" "${JSON[@]}" -d '{"text":"訂正: 給水は 15 時"}'
want 200 "alice edits"
eq "$(j '.message | [.text, .edited, .deleted] | map(tostring) | join("|")')" \
    "訂正: 給水は 15 時|true|false" "the edited message"
expect 0 "the CLI sees the edit" -- ka tail -n 3 general
has out "訂正: 給水は 15 時"
as alice POST "/api/messages/$M2/edit" "${JSON[@]}" -d '{}'
want 400 missing_field "an edit without text"
as alice POST "/api/messages/$M2/edit" "${JSON[@]}" -d '{"text":5}'
want 400 invalid_field "an edit whose text is no string"
as alice POST "/api/messages/$M2/edit" "${JSON[@]}" -d '{"text":'
want 400 bad_json "edit: malformed JSON"
as alice POST "/api/messages/$M0/edit" "${JSON[@]}" -d '{"text":"x"}'
want 404 unknown_message "edit: an unknown message"
as alice POST "/api/messages/zz/delete"
want 400 bad_id "delete: a bad id"
as alice GET "/api/messages/$M2/edit"
want 405 method_not_allowed "GET edit"
as bob POST "/api/channels/$GEN/messages" "${JSON[@]}" -d '{"text":"誤投稿"}'
want 201 "bob posts"
M3=$(j .message.id)
as alice POST "/api/messages/$M3/delete"
want 200 "an admin deletes bob's post"
eq "$(j '.message | [.text, .deleted] | map(tostring) | join("|")')" "|true" "the tombstone"
as bob POST "/api/messages/$M3/edit" "${JSON[@]}" -d '{"text":"復活"}'
want 409 deleted "an edit of a deleted message"
as alice POST "/api/messages/$M3/delete"
want 409 deleted "a second delete"

# ------------------------------------------------------------ users
as bob GET /api/users
want 200 "GET users"
eq "$(j '.users | map(.id + ":" + (.has_password | tostring)) | join(",")')" \
    "alice:true,bob:true,carol:true,dave:false" "users and who has a password"
hasnt out "argon2"
as bob POST /api/users "${JSON[@]}" -d '{"id":"erin","display_name":"Erin"}'
want 403 forbidden "a member adds a user"
req POST /api/users -b "$T/alice.jar" "${JSON[@]}" -d '{"id":"erin","display_name":"Erin"}'
want 403 csrf "add a user without the CSRF token"
as alice POST /api/users "${JSON[@]}" \
    -d '{"id":"erin","display_name":"遠藤 えりん","department":"消防署","role":"member","password":"erin-pw"}'
want 201 "an admin adds erin with a password"
eq "$(j '.user | [.id, .display_name, .department, .role, .active, .has_password] | map(tostring) | join("|")')" \
    "erin|遠藤 えりん|消防署|member|true|true" "erin's fields"
login erin erin-pw
want 200 "erin logs in with the password hashed by kizunad"
as alice POST /api/users "${JSON[@]}" -d '{"id":"fumi","display_name":"Fumi"}'
want 201 "a user without a password"
eq "$(j .user.has_password)" false "fumi has no password"
as alice POST /api/users "${JSON[@]}" -d '{"id":"erin","display_name":"X"}'
want 409 exists "a user added twice"
as alice POST /api/users "${JSON[@]}" -d '{"id":"a b","display_name":"X"}'
want 400 invalid_field "a bad user id"
as alice POST /api/users "${JSON[@]}" -d '{"id":"gin"}'
want 400 missing_field "a user without a display name"
as alice POST /api/users "${JSON[@]}" -d '{"id":"gin","display_name":"G","role":"boss"}'
want 400 invalid_field "a bad role"
as alice POST /api/users "${JSON[@]}" -d '{"id":"gin","display_name":"G","password":7}'
want 400 missing_field "a password that is no string"
as alice POST /api/users "${JSON[@]}" -d "{\"id\":\"gin\",\"display_name\":\"G\",\"password\":\"$(head -c 1025 /dev/zero | tr '\0' p)\"}"
want 400 invalid_field "a password over 1,024 bytes"
as alice POST /api/users "${JSON[@]}" -d '{"id":'
want 400 bad_json "add a user: malformed JSON"
# A password: one's own, or (admins) anyone's.
as erin POST /api/users/erin/password "${JSON[@]}" -d '{"password":"erin-new"}'
want 200 "erin changes her password"
as bob POST /api/users/erin/password "${JSON[@]}" -d '{"password":"bob-knows"}'
want 403 forbidden "a member sets another's password"
as alice POST /api/users/erin/password "${JSON[@]}" -d '{}'
want 400 missing_field "a password change without one"
as alice POST /api/users/nobody/password "${JSON[@]}" -d '{"password":"x"}'
want 404 unknown_user "the password of an unknown user"
as alice POST "/api/users/a%20b/password" "${JSON[@]}" -d '{"password":"x"}'
want 400 bad_id "a bad user id in the path"
req POST /api/login "${JSON[@]}" -d '{"user":"erin","password":"erin-pw"}'
want 401 bad_credentials "erin's old password"
login erin erin-new
want 200 "erin's new password"
# Deactivation ends her sessions and her logins.
as bob POST /api/users/erin/deactivate
want 403 forbidden "a member deactivates a user"
as alice POST /api/users/erin/deactivate
want 200 "an admin deactivates erin"
eq "$(j .user.active)" false "erin is inactive"
as erin GET /api/me
want 401 unauthenticated "a deactivated user's session"
req POST /api/login "${JSON[@]}" -d '{"user":"erin","password":"erin-new"}'
want 401 bad_credentials "a deactivated user's login"
as alice POST /api/users/erin/activate
want 200 "an admin activates erin"
eq "$(j .user.active)" true "erin is active again"
as alice GET /api/users/erin/activate
want 405 method_not_allowed "GET activate"
expect 0 "the CLI's user list" -- ka --json user list
has out '"id":"erin","display_name":"遠藤 えりん","department":"消防署","role":"member","active":true,"has_password":true'

# ------------------------------------------------------------ nodes
expect 0 "init a node to admit" -- "$K" --home "$T/n2" init
NK=$(cat "$T/n2/node.pub")
as bob POST /api/nodes "${JSON[@]}" -d "{\"key\":\"$NK\",\"name\":\"branch\"}"
want 403 forbidden "a member admits a node"
req POST /api/nodes -b "$T/alice.jar" "${JSON[@]}" -d "{\"key\":\"$NK\",\"name\":\"branch\"}"
want 403 csrf "an admission without the CSRF token"
as alice POST /api/nodes "${JSON[@]}" -d "{\"key\":\"$NK\",\"name\":\"上流支所\"}"
want 201 "an admin admits a node"
eq "$(j '.node | [.key, .name, .admin, .revoked] | map(tostring) | join("|")')" \
    "$NK|上流支所|false|false" "the admitted node"
as alice GET /api/status
eq "$(j '.nodes | map(.name) | sort | join(",")')" ",上流支所" "status lists it"
expect 0 "the CLI's node list" -- ka mesh nodes
has out "上流支所"
as alice POST /api/nodes "${JSON[@]}" -d "{\"key\":\"$NK\",\"name\":\"again\"}"
want 409 exists "a node admitted twice"
as alice POST /api/nodes "${JSON[@]}" -d '{"key":"abcd","name":"x"}'
want 400 invalid_field "a short node key"
as alice POST /api/nodes "${JSON[@]}" -d "{\"key\":\"$NK\"}"
want 400 missing_field "an admission without a name"
as alice POST /api/nodes "${JSON[@]}" -d "{\"key\":\"$NK\",\"name\":\"x\",\"admin\":\"yes\"}"
want 400 invalid_field "admin that is no boolean"
as alice GET /api/nodes
want 405 method_not_allowed "GET /api/nodes"

# Revocation: the refusals change nothing; then the node, exactly.
F5=$(feedlen)
as bob POST "/api/nodes/$NK/revoke"
want 403 forbidden "a member revokes a node"
req POST "/api/nodes/$NK/revoke" -b "$T/alice.jar"
want 403 csrf "a revocation without the CSRF token"
as alice POST /api/nodes/abcd/revoke
want 400 bad_id "revoke: a short key"
expect 0 "init a node never admitted" -- "$K" --home "$T/n3" init
as alice POST "/api/nodes/$(cat "$T/n3/node.pub")/revoke"
want 404 unknown_node "revoke: a node not admitted"
as alice POST "/api/nodes/$(ka --json status | jq -r .node_key)/revoke"
want 409 self "revoke: this node itself"
as alice POST "/api/nodes/$NK/revoke" "${JSON[@]}" -d '{"reason":5}'
want 400 invalid_field "revoke: a reason that is no string"
as alice POST "/api/nodes/$NK/revoke" "${JSON[@]}" -d '{"last_seq":-1}'
want 400 invalid_field "revoke: a negative last_seq"
as alice POST "/api/nodes/$NK/revoke" "${JSON[@]}" -d '{"last_seq":"7"}'
want 400 invalid_field "revoke: a last_seq that is no number"
as alice POST "/api/nodes/$NK/revoke" "${JSON[@]}" -d "{\"reason\":\"$(head -c 201 /dev/zero | tr '\0' x)\"}"
want 400 invalid_field "revoke: a reason over 200 bytes"
as alice GET "/api/nodes/$NK/revoke"
want 405 method_not_allowed "GET revoke"
eq "$(feedlen)" "$F5" "no refused revocation stored anything"
as alice POST "/api/nodes/$NK/revoke" "${JSON[@]}" -d '{"reason":"端末の盗難"}'
want 200 "an admin revokes a node"
eq "$(jq -c . "$T/out")" "{\"node\":{\"key\":\"$NK\",\"name\":\"上流支所\",\"admin\":false,\"revoked\":true,\"last_seq\":0}}" \
    "the revoked node, exactly"
eq "$(feedlen)" "$((F5 + 1))" "one entry for the revocation"
ka --json log | tail -1 >"$T/out"
eq "$(j '.op | [.type, .node, .last_seq, .reason, .actor] | map(tostring) | join("|")')" \
    "node_revoke|$NK|0|端末の盗難|alice" "the revocation entry"
has a.err "info: http: alice revoked node ${NK:0:16} after seq 0"
as alice POST "/api/nodes/$NK/revoke"
want 409 revoked "a node revoked twice"
eq "$(feedlen)" "$((F5 + 1))" "nothing more stored"

# Join tokens: as `kizuna mesh invite` makes them, never logged.
as bob POST /api/nodes/invite
want 403 forbidden "a member makes a join token"
req POST /api/nodes/invite -b "$T/alice.jar"
want 403 csrf "a join token without the CSRF token"
as alice POST /api/nodes/invite
want 400 missing_field "a join token without an address ([net] listen is not set)"
as alice POST /api/nodes/invite "${JSON[@]}" -d '{"address":"nowhere"}'
want 400 invalid_field "a join token for an address without a port"
as alice POST /api/nodes/invite "${JSON[@]}" -d '{"address":"10.0.0.1:0"}'
want 400 invalid_field "a join token for port 0"
as alice POST /api/nodes/invite "${JSON[@]}" -d '{"address":7420}'
want 400 invalid_field "an address that is no string"
as alice GET /api/nodes/invite
want 405 method_not_allowed "GET invite"
as alice POST /api/nodes/invite "${JSON[@]}" -d '{"address":"192.168.10.5:7420"}'
want 200 "an admin makes a join token"
eq "$(hdr cache-control)" "no-store" "a join token is not cached"
TOKEN=$(j .token)
cp "$T/out" "$T/invite.json"
expect 0 "the CLI's token" -- ka --json mesh invite --address 192.168.10.5:7420
eq "$(jq -c . "$T/invite.json")" "$(jq -c . "$T/out")" "the API's answer is the CLI's"
eq "$(jq -r 'keys | join(",")' "$T/invite.json")" "address,mesh_id,root,token" "the invite's fields"
case "$TOKEN" in kizuna1:*) ok ;; *) bad "no token: '$TOKEN'" ;; esac
expect 0 "a new node joins with the API's token" -- "$K" --home "$T/n3" --json mesh join "$TOKEN"
eq "$("$K" --home "$T/n3" --json mesh show | jq -c '[.mesh_id, .network_key_fingerprint, .bootstrap]')" \
    "$(ka --json mesh show | jq -c '[.mesh_id, .network_key_fingerprint]' | sed 's/]$/,"192.168.10.5:7420"]/')" \
    "n3 holds a's mesh id and network key, and the token's address"
hasnt a.err "$TOKEN"
has a.err "info: http: alice made a join token for 192.168.10.5:7420"
eq "$(feedlen)" "$((F5 + 1))" "a join token stores nothing"

# ------------------------------------------------------------ live events
req GET /api/events
want 401 unauthenticated "events without a session"
as alice POST /api/events
want 405 method_not_allowed "POST /api/events"
curl -sN -b "$T/alice.jar" -D "$T/ev.hdr" "$U/api/events" >"$T/ev.out" 2>/dev/null &
EVPID=$!
pids+=("$EVPID")
until_ok "the event stream opens" -- grep -q "^: kizuna events" "$T/ev.out"
eq "$(sed -n 's/^content-type: //Ip' "$T/ev.hdr" | tr -d '\r')" \
    "text/event-stream; charset=utf-8" "events' content type"
grep -qi "^x-content-type-options: nosniff" "$T/ev.hdr" && ok || bad "events without nosniff"
has ev.out "retry: 2000"
hasnt ev.out "event: change"
# A post by the CLI (through the control socket) is streamed as a change.
T0=$(date +%s%N)
expect 0 "a CLI post while streaming" -- ka --as bob post general "ライブ: 給水所を追加"
until_ok "a change event" -- grep -q '^data: {"n":1}$' "$T/ev.out"
EV_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
echo "change event $EV_MS ms after the CLI post returned"
[ "$EV_MS" -lt 1000 ] && ok || bad "the change event took $EV_MS ms"
has ev.out "event: change"
# So is an acknowledgement through the API.
as alice POST "/api/messages/$R1/ack"
want 200 "an ack while streaming"
until_ok "a second change event" -- grep -q '^data: {"n":2}$' "$T/ev.out"
as alice GET /api/status
eq "$(j .http.event_streams)" 1 "one event stream"

# ------------------------------------------------------------ logins limited
# Per user: five wrong passwords for bob, each checked, each from another
# address; the sixth attempt, with the right password and from an address
# without failures, is refused unchecked (the failures counted stay five).
as alice GET /api/status
LF0=$(j .http.login_failures)
for i in 1 2 3 4 5; do
	req POST /api/login --interface 127.0.0.1$i "${JSON[@]}" -d '{"user":"bob","password":"guess'$i'"}'
	want 401 bad_credentials "bob's wrong password $i"
done
req POST /api/login "${JSON[@]}" -d '{"user":"bob","password":"bob-pw"}'
want 429 rate_limited "bob's 6th login in a minute"
RA=$(hdr retry-after)
[ "$RA" -ge 1 ] && [ "$RA" -le 60 ] && ok || bad "Retry-After '$RA'"
has a.err "warning: http: login of bob from 127.0.0.1 refused unchecked: 5 failures within 60 s"
as alice GET /api/status
eq "$(j .http.login_failures) $(j .http.logins_limited)" "$((LF0 + 5)) 1" "the 6th was not checked"
# Per address: five failures from 127.0.0.2, each for another user; then
# carol's right password from there is refused, and from 127.0.0.1 is not.
for i in 1 2 3 4 5; do
	req POST /api/login --interface 127.0.0.2 "${JSON[@]}" -d '{"user":"x'$i'","password":"p"}'
	want 401 bad_credentials "127.0.0.2's failure $i"
done
req POST /api/login --interface 127.0.0.2 "${JSON[@]}" -d '{"user":"carol","password":"carol-pw"}'
want 429 rate_limited "the 6th login from 127.0.0.2"
login carol carol-pw
want 200 "carol from 127.0.0.1"

# ------------------------------------------------------------ metrics
# Prometheus text, without a session (a scraper cannot log in).
req GET /metrics
want 200 "GET /metrics"
eq "$(hdr content-type)" "text/plain; version=0.0.4; charset=utf-8" "metrics' content type"
eq "$(hdr x-content-type-options)" "nosniff" "metrics: nosniff"
has out "kizuna_entries $(feedlen)"
has out 'kizuna_http_logins_total{outcome="limited"} 2'
has out 'kizuna_links{state="open"} 0'
grep -qE '^kizuna_links\{state="(connecting|closed)"\} 1$' "$T/out" && ok ||
    bad "no link row for the unanswered peer"
grep -qE '^kizuna_link_bytes_total\{transport="tcp",address="127\.0\.0\.1:1",node="",direction="in"\} 0$' \
    "$T/out" && ok || bad "no byte counter for the unanswered peer"
# Figures it cannot know (never heard, never in sync) have no sample.
for m in lag_seconds last_contact_seconds pending_bytes; do
	has out "# TYPE kizuna_link_$m gauge"
	grep -q "^kizuna_link_$m{transport=\"tcp\",address=\"127.0.0.1:1\"" "$T/out" &&
	    bad "a $m sample for the unanswered peer" || ok
done
has out 'kizuna_link_pending_entries{transport="tcp",address="127.0.0.1:1",node="",direction="out"} 0'
RQ=$(sed -n 's/^kizuna_http_requests_total //p' "$T/out")
eq "$(sed -n 's/^kizuna_http_request_duration_seconds_count //p' "$T/out")" "$RQ" \
    "every API request is in the latency histogram"
[ "$RQ" -gt 100 ] && ok || bad "only $RQ API requests counted"
grep -q "^kizuna_store_bytes [1-9]" "$T/out" && ok || bad "no store size"
req POST /metrics
want 405 method_not_allowed "POST /metrics"

# ------------------------------------------------------------ hostile bytes
# Garbage, a huge header, a chunked body over h2o's bound and 100 idle
# connections: each is refused or closed by h2o, and the node serves on.
python3 - "$P" >"$T/hostile" 2>&1 <<'PY'
import socket, sys
port = int(sys.argv[1])
def send(data, read=True):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    try:
        s.sendall(data)
        out = b""
        while read:
            d = s.recv(65536)
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out and not out.startswith(b"HTTP/1.1 1"):
                break
        return out.split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as e:
        return "closed (%s)" % type(e).__name__
    finally:
        s.close()
print("garbage:", send(b"\x00\xff\xfe GARBAGE \r\n\r\n") or "closed")
print("header:", send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n") or "closed")
chunks = b"".join(b"%x\r\n%s\r\n" % (65536, b"{" * 65536) for _ in range(20)) + b"0\r\n\r\n"
print("chunked:", send(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      b"Transfer-Encoding: chunked\r\n\r\n" + chunks) or "closed")
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
print("idle: 100 open")
print("meanwhile:", send(b"GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n"))
for s in idle:
    s.close()
PY
sed 's/^/  hostile: /' "$T/hostile"
has hostile "meanwhile: HTTP/1.1 401 Unauthorized"
grep -q "^chunked: HTTP/1.1 413" "$T/hostile" && ok || bad "a chunked body over 1 MiB was not refused with 413"
hasnt hostile "Traceback"
as alice GET /api/me
want 200 "alice's session after the hostile bytes"
kill -0 "$DPID" && ok || bad "kizunad died"

# ------------------------------------------------------------ every body
# Each endpoint that reads a body refuses the same bad bodies the same way,
# and stores nothing.
printf '{"text":"\xff"}' >"$T/badutf8"
F4=$(feedlen)
for e in "/api/channels/$GEN/messages" "/api/messages/$M1/ack" \
    "/api/messages/$M1/react" "/api/messages/$M1/edit" \
    "/api/messages/$M1/delete" /api/rollcall /api/users \
    /api/users/bob/password /api/users/bob/deactivate /api/users/bob/activate \
    /api/nodes /api/nodes/invite "/api/nodes/$NK/revoke"; do
	as alice POST "$e" "${JSON[@]}" -d '{"text":'
	want 400 bad_json "$e: malformed JSON"
	as alice POST "$e" "${JSON[@]}" -d '[]'
	want 400 bad_json "$e: not an object"
	as alice POST "$e" "${JSON[@]}" --data-binary @"$T/badutf8"
	want 400 bad_utf8 "$e: invalid UTF-8"
	as alice POST "$e" "${JSON[@]}" --data-binary @"$T/big"
	want 413 body_too_large "$e: a 70 KB body"
	as alice POST "$e" -H 'Content-Type: text/plain' -d '{}'
	want 415 unsupported_media_type "$e: not JSON"
done
eq "$(feedlen)" "$F4" "no bad body stored anything"

# ------------------------------------------------------------ sessions end
as carol GET /api/me
want 200 "carol's session"
expect 0 "deactivate carol" -- ka user deactivate carol
as carol GET /api/me
want 401 unauthenticated "a deactivated user's session"
has a.err "info: http: the session of carol ended (the user is unknown or deactivated)"
as alice POST /api/logout
want 200 "logout"
eq "$(hdr set-cookie)" "kz_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" "logout clears the cookie"
# The old cookie, replayed, is no session any more.
req GET /api/me -H "Cookie: kz_session=$SID2"
want 401 unauthenticated "the cookie after logout"

# ------------------------------------------------------------ sessions kept
# Sessions outlive the daemon in HOME/http_sessions (docs/api.md,
# "Sessions"): alice and erin sign in here, erin signs out before the stop.
sid() { awk '$6 == "kz_session" { print $7 }' "$T/$1.jar"; }
login alice alice-pw
want 200 "alice signs in"
SIDB=$(sid alice)
login erin erin-new
want 200 "erin signs in"
SIDE=$(sid erin)
[ ${#SIDB} -eq 43 ] && [ ${#SIDE} -eq 43 ] && ok || bad "cookies '$SIDB' '$SIDE'"
as erin POST /api/logout
want 200 "erin signs out"

# ------------------------------------------------------------ a clean stop
# An idle keep-alive connection, and one with half a request, are closed.
exec 3<>"/dev/tcp/127.0.0.1/$P"
exec 4<>"/dev/tcp/127.0.0.1/$P"
printf 'GET / HTTP/1.1\r\nHo' >&4
kill -TERM "$DPID"
stopped "$DPID" a
forget "$DPID"
timeout 5 cat <&3 >/dev/null && ok || bad "the idle connection did not end"
exec 3<&- 4<&-
# The event stream ended with the daemon, whole (curl exits 0 at its end).
until_ok "the event stream ends" -- exited "$EVPID"
wait "$EVPID" && ok || bad "the event stream did not end cleanly"
forget "$EVPID"
has a.err "info: stopped"
hasnt a.err "handle left open"

# ------------------------------------------------------------ sessions restored
# The file: mode 0600; alice's session as the BLAKE2b-256 of her cookie's
# bytes with her CSRF token; no cookie value; erin's ended session absent.
SF="$A/http_sessions"
eq "$(stat -c %a "$SF")" 600 "the sessions file's mode"
eq "$(head -1 "$SF")" "kizuna-http-sessions 1" "the sessions file's first line"
b2() { printf '%s=' "$1" | basenc --base64url -d | b2sum -l 256 | cut -d' ' -f1; }
grep -qE "^$(b2 "$SIDB") alice $(cat "$T/alice.csrf") [0-9]+$" "$SF" && ok ||
    { bad "no line for alice's session"; sed 's/^/  | /' "$SF" >&2; }
grep -qF "$SIDB" "$SF" && bad "alice's cookie is in the sessions file" || ok
grep -qF "$SIDE" "$SF" && bad "erin's cookie is in the sessions file" || ok
grep -q "^$(b2 "$SIDE") " "$SF" && bad "erin's ended session is in the file" || ok
ls "$A" | grep -q "http_sessions.tmp" && bad "a temporary sessions file is left" || ok
start a1 "$A"
until_ok "a1 serves http" -- grep -q "serving the web workspace" "$T/a1.err"
U="http://127.0.0.1:$(hport a1)"
grep -qE "info: http: [1-9][0-9]* sessions restored from $SF \(0 idle too long\)" "$T/a1.err" &&
    ok || bad "a1 does not say it restored sessions"
as alice GET /api/me
want 200 "alice's cookie after the restart"
eq "$(j .user.id) $(j .csrf)" "alice $(cat "$T/alice.csrf")" "alice's session and CSRF token, restored"
as alice POST /api/rollcall "${JSON[@]}" -d '{"status":"safe","place":"本庁舎"}'
want 200 "alice reports with her CSRF token after the restart"
req GET /api/me -H "Cookie: kz_session=$SIDE"
want 401 unauthenticated "erin's cookie, signed out before the restart"
# A sign-in and a sign-out are written at once: kill -9 keeps both.
login erin erin-new
want 200 "erin signs in on a1"
SIDE=$(sid erin)
as alice POST /api/logout
want 200 "alice signs out on a1"
{ kill -9 "$DPID"; wait "$DPID"; } 2>/dev/null
forget "$DPID"
start a1b "$A"
until_ok "a1b serves http" -- grep -q "serving the web workspace" "$T/a1b.err"
U="http://127.0.0.1:$(hport a1b)"
as erin GET /api/me
want 200 "erin's session after kill -9"
req GET /api/me -H "Cookie: kz_session=$SIDB"
want 401 unauthenticated "alice's cookie, signed out before kill -9"
kill -TERM "$DPID"; stopped "$DPID" a1b; forget "$DPID"

# ------------------------------------------------------------ idle expiry
conf "$A" http session_idle_s 2
# A sessions file others may read is not used, and rewritten 0600.
chmod 640 "$SF"
start a2 "$A"
until_ok "a2 serves http" -- grep -q "serving the web workspace" "$T/a2.err"
U="http://127.0.0.1:$(hport a2)"
has a2.err "warning: http: $SF is not a file that only its owner may read; no session restored"
hasnt a2.err "sessions restored"
login alice alice-pw
want 200 "alice again"
eq "$(stat -c %a "$SF")" 600 "the sessions file rewritten 0600 at the next sign-in"
as alice GET /api/me
want 200 "a fresh session"
T0=$(date +%s%N)
idle_gone() { req GET /api/me -b "$T/alice.jar"; [ "$(cat "$T/code")" = 401 ]; }
# Poll more slowly than the idle time would be reset: one request a 2.5 s.
for i in 1 2 3 4; do sleep 2.5; idle_gone && break; done
want 401 unauthenticated "an idle session"
EL=$(( ($(date +%s%N) - T0) / 1000000 ))
[ "$EL" -ge 2000 ] && ok || bad "the session ended after $EL ms, before 2 s"
has a2.err "info: http: the session of alice ended (idle)"

# ------------------------------------------------------------ a port taken
B="$T/b"
expect 0 "init b" -- "$K" --home "$B" init
conf "$B" net listen ""
conf "$B" net discovery false
conf "$B" http listen "127.0.0.1:$(hport a2)"
start b "$B"
until_ok "b runs without http" -- grep -q "info: ready" "$T/b.err"
has b.err "error: http: cannot listen on 127.0.0.1:$(hport a2) ([http] listen): address already in use; running without the web workspace"
expect 0 "b's status" -- "$K" --home "$B" --json status
eq "$(jq -r .http "$T/out")" null "b's status: no http"
kill -TERM "$DPID"; stopped "$DPID" b; forget "$DPID"
conf "$B" http listen ""
start b2 "$B"
until_ok "b2 ready" -- grep -q "info: ready" "$T/b2.err"
has b2.err "info: http: [http] listen is empty: no web workspace"
kill -TERM "$DPID"; stopped "$DPID" b2; forget "$DPID"

for p in "${pids[@]}"; do kill -TERM "$p"; stopped "$p" a2; done
pids=()

# ------------------------------------------------------------ imported from Slack
# What an imported message was: its file reference (the URL without its
# token), its pin, and a join kept as a system event (not counted as chat).
E="$T/slack"
mkdir -p "$E/避難所"
echo '[{"id": "U01", "name": "tanaka", "profile": {"display_name": "田中"}}]' >"$E/users.json"
cat >"$E/channels.json" <<'EOF2'
[{"id": "C07", "name": "避難所", "created": 1589871000,
  "pins": [{"id": "1589871700.000000", "type": "C", "user": "U01"}]}]
EOF2
cat >"$E/避難所/2020-05-19.json" <<'EOF2'
[{"type": "message", "subtype": "channel_join", "user": "U01", "text": "<@U01> has joined the channel", "ts": "1589871600.000000"},
 {"type": "message", "user": "U01", "text": "地図です", "ts": "1589871650.000000", "upload": true,
  "files": [{"id": "F1", "name": "map.pdf", "title": "地図", "mimetype": "application/pdf", "size": 2048,
             "url_private": "https://files.slack.com/files-pri/T1-F1/map.pdf?t=xoxe-SECRET"}]},
 {"type": "message", "user": "U01", "text": "給水は14時から", "ts": "1589871700.000000"}]
EOF2
jc() { jq -c "$1" "$T/out"; }
expect 0 "import slack" -- ka import slack "$E"
conf "$A" http session_idle_s 28800
start a3 "$A"
until_ok "a3 serves http" -- grep -q "serving the web workspace" "$T/a3.err"
U="http://127.0.0.1:$(hport a3)"
login alice alice-pw
want 200 "alice on a3"
as alice GET /api/channels
IMP=$(j '.channels[] | select(.name == "避難所") | .id')
eq "$(j '.channels[] | select(.name == "避難所") | .messages')" 2 "the join is not counted as chat"
as alice GET "/api/channels/$IMP/messages"
want 200 "the imported channel's messages"
eq "$(j '.messages | length')" 3 "three imported messages (newest first)"
eq "$(jc '.messages[2] | [.text, .system, .subtype, .pinned, .files]')" \
    '["@田中 has joined the channel",true,"channel_join",false,[]]' "the join: a system event"
eq "$(jc '.messages[1] | [.text, .system, .subtype, .pinned, .files]')" \
    '["地図です",false,"",false,[{"name":"map.pdf","title":"地図","type":"application/pdf","size":2048,"url":"https://files.slack.com/files-pri/T1-F1/map.pdf"}]]' \
    "the upload: its file reference without the token"
eq "$(jc '.messages[0] | [.text, .system, .subtype, .pinned, .files]')" \
    '["給水は14時から",false,"",true,[]]' "the pinned message"
hasnt out "xoxe-"
F1ID=$(j '.messages[1].id')
as alice GET "/api/messages/$F1ID/thread"
want 200 "the upload's thread"
eq "$(jc '.root.files | map(.name)')" '["map.pdf"]' "the thread's root has its file"
as alice GET "/api/search?q=$(printf %s 給水 | jq -sRr @uri)"
want 200 "search the imported channel"
eq "$(jc '[.hits[] | select(.channel == "'"$IMP"'") | .pinned]')" '[true]' "a hit says it is pinned"
kill -TERM "$DPID"; stopped "$DPID" a3; forget "$DPID"
finish integration.http
