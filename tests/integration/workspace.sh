#!/usr/bin/env bash
# The workspace as operators drive it from the kizuna CLI, on two nodes:
# A founds the mesh (its root, an admin node), B joins and is admitted, and
# run files carry each feed to the other.  Users, channels, posts, threads,
# edits, deletes, purges, reactions, acknowledgements and the roll call, with
# exact outputs; who may do what (an edit by another user, a purge from a
# non-admin node, a revoked node, a deactivated user); the digest equal on
# both nodes once they hold the same entries; and a purged text gone from
# the store file.
set -u
K="$KZ_BIN/kizuna"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzws-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# same FILE <<EOF: FILE is exactly the text given, with times written TIME.
same() {
	sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/TIME/g' \
	    "$T/$1" >"$T/got"
	if diff -u - "$T/got" >"$T/diff"; then ok; else
		bad "$1 is not as expected"; sed 's/^/  | /' "$T/diff" >&2; fi
}
# The message id a post or reply printed, and a JSON field of out.
msgid() { sed -n 's/^message id: //p' "$T/out"; }
seq_of() { sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/out" | head -1; }

A="$T/a"; B="$T/b"
ka() { "$K" --home "$A" "$@"; }
kb() { "$K" --home "$B" "$@"; }
# Carries every feed the sender holds to the receiver, one run file per feed.
carry() {
	local from=$1 to=$2 f n=0
	for f in $("$K" --home "$from" --json log |
	    sed 's/^{"author":"\([0-9a-f]*\)".*/\1/' | sort -u); do
		n=$((n + 1))
		"$K" --home "$from" export-run --feed "$f" "$T/carry$n.kzr" >/dev/null &&
		"$K" --home "$to" import-run "$T/carry$n.kzr" >/dev/null ||
		bad "carrying feed $f from $from to $to"
	done
}
# The id of a channel by name, from 'channel list --json'.
chan_id() { ka --json channel list | sed -n "s/^{\"id\":\"\([0-9a-f]*\)\",\"name\":\"$1\".*/\1/p"; }

expect 0 "init a" -- ka --json init
AK=$(field node_key)
expect 0 "init b" -- kb --json init
BK=$(field node_key)

# ------------------------------------------------------------ mesh
expect 1 "show before any mesh" -- ka mesh show
has err "this node has not joined a mesh"
expect 1 "post before any mesh" -- ka post general x
has err "no channel 'general'"
expect 0 "mesh create" -- ka mesh create --name 川沿い市
has out "created mesh 川沿い市 (id "
has out "root node: $AK (this node)"
expect 1 "mesh create twice" -- ka mesh create
has err "this node already belongs to the mesh whose root is $AK"
expect 0 "mesh show json" -- ka mesh show --json
has out "\"root\":\"$AK\""
has out '"name":"川沿い市"'
has out '"standing":"admin"'
MESH=$(field mesh_id)
NETFP=$(field network_key_fingerprint)
expect 0 "mesh show" -- ka mesh show
same out <<EOF
mesh:      川沿い市
mesh id:   $MESH
root node: $AK
this node: $AK (admin)
net key:   present (fingerprint $NETFP)
EOF

expect 2 "join bad key" -- kb mesh join 1234
has err "invalid node key '1234'"
expect 0 "b joins" -- kb mesh join "$AK"
has out "joined the mesh whose root node is $AK"
has out "kizuna mesh admit $BK --name NAME"
expect 0 "b mesh show" -- kb mesh show
has out "mesh:      (not known yet"
has out "this node: $BK (not admitted)"

expect 2 "admit without --name" -- ka mesh admit "$BK"
has err "mesh admit needs --name NAME"
expect 2 "admit bad key" -- ka mesh admit --name x "${BK:0:63}"
expect 1 "admit empty name" -- ka mesh admit --name "" "$BK"
has err "mesh admit refused: the node name is empty"
expect 0 "admit b" -- ka mesh admit --name 駅前 "$BK"
same out <<EOF
admitted node ${BK:0:16} as 駅前 (seq 2)
EOF
empty err
expect 0 "mesh nodes" -- ka mesh nodes
same out <<EOF
$AK  (no name), root, admin (this node)
$BK  駅前
EOF
expect 0 "mesh nodes json" -- ka --json mesh nodes
lines out 2
has out "{\"key\":\"$BK\",\"name\":\"駅前\",\"admin\":false,\"root\":false,\"self\":false,\"revoked\":false,\"last_seq\":null}"
expect 1 "revoke the root" -- ka mesh revoke "$AK"
has err "is the mesh's root and cannot be revoked"
expect 1 "revoke a stranger" -- ka mesh revoke "$(printf 'ab%.0s' {1..32})"
has err "node abababababababab is not admitted to this mesh"

# ------------------------------------------------------------ users
printf 'correct horse battery\n' >"$T/pw"
expect 0 "user add alice" -- ka user add alice --name "Alice Sato" --department 防災課 \
    --role admin --password-stdin <"$T/pw"
same out <<EOF
added user alice (admin) (seq 3)
EOF
expect 0 "user add bob" -- ka user add bob --name "Bob Ito"
expect 0 "user add carol" -- ka user add carol --name "Carol Abe" --department 福祉課
expect 0 "user add dave" -- ka --json user add dave --name "Dave Mori"
has out '"user":"dave","seq":6,'
has out '"counted":true'
expect 1 "user add twice" -- ka user add alice --name X
has err "user 'alice' already exists"
expect 2 "user add bad id" -- ka user add "al ice" --name X
has err "invalid user id 'al ice'"
expect 2 "user add without --name" -- ka user add erin
has err "user add needs --name DISPLAY"
expect 2 "user add bad role" -- ka user add erin --name E --role boss
has err "unknown role 'boss'"
expect 1 "user add long name" -- ka user add erin --name "$(head -c 81 /dev/zero | tr '\0' n)"
has err "user add refused: a display name or department may be at most 80 bytes"
expect 1 "user add bad utf-8" -- ka user add erin --name $'\xc3\x28'
has err "user add refused: names and text must be valid UTF-8"
expect 1 "user add no password" -- ka user add erin --name E --password-stdin </dev/null
has err "no password on standard input"
expect 0 "user list" -- ka user list
same out <<EOF
alice: Alice Sato, 防災課, admin
bob: Bob Ito, member, no password
carol: Carol Abe, 福祉課, member, no password
dave: Dave Mori, member, no password
EOF
expect 0 "user list json" -- ka user list --json
lines out 4
has out '{"id":"alice","display_name":"Alice Sato","department":"防災課","role":"admin","active":true,"has_password":true}'
hasnt out 'argon2'
# The password is stored as an Argon2id hash only.
[ "$(sqlite3 "$A/store.db" "SELECT substr(password_hash, 1, 31) FROM ws_users WHERE id = 'alice'")" = '$argon2id$v=19$m=65536,t=2,p=1$' ] &&
    ok || bad "alice's password hash is not Argon2id (interactive limits)"
sqlite3 "$A/store.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
[ "$(grep -ac 'correct horse' "$A/store.db")" -eq 0 ] && ok || bad "the password is in the store file"

expect 0 "user passwd" -- ka user passwd bob <<<"s3cret-bob"
same out <<EOF
changed the password of bob (seq 7)
EOF
expect 1 "user passwd unknown" -- ka user passwd nobody <"$T/pw"
has err "no user 'nobody' in this workspace"
expect 1 "user passwd empty" -- ka user passwd bob <<<""
has err "empty password refused"
expect 0 "user role" -- ka user role dave admin
same out <<EOF
dave is now an admin (seq 8)
EOF
expect 2 "user role bad" -- ka user role dave king
has err "unknown role 'king'"
expect 0 "user role back" -- ka user role dave member
has out "dave is now a member"
expect 0 "user deactivate" -- ka user deactivate dave
has out "deactivated dave (seq 10)"
expect 0 "list shows deactivated" -- ka user list
has out "dave: Dave Mori, member, deactivated, no password"
expect 0 "user activate" -- ka user activate dave
has out "activated dave (seq 11)"
# A member may change their own password (their role: see the end).
expect 0 "self passwd" -- ka --as carol user passwd carol <<<"carol-pw"
empty err
expect 0 "member changes another's password" -- ka --as carol user passwd bob <<<"x"
has err "warning: stored as seq 13, but it does not count in the workspace: user 'carol' is not an admin"
expect 0 "an admin user may" -- ka --as alice user role bob member
empty err
expect 0 "user list after" -- ka user list
same out <<EOF
alice: Alice Sato, 防災課, admin
bob: Bob Ito, member
carol: Carol Abe, 福祉課, member
dave: Dave Mori, member, no password
EOF
expect 1 "unknown acting user" -- ka --as nobody channel create zz
has err "channel create refused: no user 'nobody' in this workspace"
expect 2 "bad acting user" -- ka --as "no body" user list
has err "invalid user id 'no body' for --as"

# ------------------------------------------------------------ channels
expect 0 "channel create" -- ka --json channel create general --topic 全職員
GEN=$(field id)
has out '"name":"general"'
expect 0 "channel create 2" -- ka channel create 給水
has out "created #給水 as seq 16 (id "
expect 0 "channel create 3" -- ka --as bob channel create 旧連絡
expect 1 "channel create twice" -- ka channel create general
has err "a channel named 'general' already exists"
expect 1 "channel long name" -- ka channel create "$(head -c 81 /dev/zero | tr '\0' c)"
has err "channel create refused: a channel name may be at most 80 bytes and a topic at most 250 bytes"
expect 1 "channel bad utf-8" -- ka channel create $'\xff'
has err "must be valid UTF-8"
expect 1 "channel empty name" -- ka channel create ""
has err "channel create refused: the channel name is empty"
expect 2 "channel create no name" -- ka channel create
expect 0 "channel rename" -- ka channel rename 給水 給水車
same out <<EOF
renamed #給水 to #給水車 (seq 18)
EOF
expect 1 "rename onto a taken name" -- ka channel rename 給水車 general
has err "a channel named 'general' already exists"
expect 0 "channel topic by id" -- ka channel topic "${GEN:0:8}" "全職員への連絡"
same out <<EOF
set the topic of #general (seq 19)
EOF
expect 0 "channel archive" -- ka channel archive "#旧連絡"
same out <<EOF
archived #旧連絡 (seq 20)
EOF
expect 1 "rename unknown" -- ka channel rename nope x
has err "no channel 'nope'"
expect 2 "bad channel subcommand" -- ka channel frob
has err "unknown channel command 'frob'"
expect 0 "channel list" -- ka channel list
same out <<EOF
#general (${GEN:0:8}): 0 messages - 全職員への連絡
#旧連絡 ($(chan_id 旧連絡 | cut -c1-8)): 0 messages, archived
#給水車 ($(chan_id 給水車 | cut -c1-8)): 0 messages
EOF
expect 0 "channel list json" -- ka channel list --json
has out "{\"id\":\"$GEN\",\"name\":\"general\",\"topic\":\"全職員への連絡\",\"archived\":false,\"messages\":0}"
has out '"name":"旧連絡","topic":"","archived":true,'
expect 1 "post to archived" -- ka post 旧連絡 x
has err "#旧連絡 is archived"
expect 0 "channel unarchive" -- ka channel unarchive 旧連絡
has out "unarchived #旧連絡 (seq 21)"
expect 0 "channel archive again" -- ka channel archive 旧連絡

# ------------------------------------------------------------ posts
expect 0 "post as bob" -- ka --as bob post general "避難所を開設しました"
has out "posted to #general as seq 23 ("
M1=$(msgid)
[ "${#M1}" -eq 64 ] && ok || bad "no message id printed"
expect 0 "post urgent" -- ka --as alice post --priority urgent general "給水車 14時 到着"
U1=$(msgid)
expect 0 "post emergency, by the admin node" -- ka --json post --priority emergency \
    --mention bob --mention carol general "堤防決壊の恐れ"
E1=$(field id)
has out "\"channel\":\"$GEN\",\"channel_name\":\"general\",\"thread_root\":null,\"seq\":25,"
has out '"counted":true'
KIZUNA_USER=carol expect 0 "post with KIZUNA_USER" -- ka post 給水車 "水を 20L 下さい"
W1=$(msgid)
expect 2 "post bad priority" -- ka post --priority high general x
has err "unknown priority 'high'"
expect 2 "post bad mention" -- ka post --mention "a b" general x
has err "invalid user id 'a b' for --mention"
expect 1 "post unknown mention" -- ka post --mention nobody general x
has err "no user 'nobody' in this workspace"
expect 1 "post unknown channel" -- ka post nowhere x
has err "no channel 'nowhere'"
expect 1 "post invalid utf-8" -- ka post general $'\xff\xfe'
has err "post refused: names and text must be valid UTF-8"
expect 1 "post too long" -- ka post general "$(head -c 16385 /dev/zero | tr '\0' x)"
has err "post refused: the text may be at most 16384 bytes"
expect 2 "post missing text" -- ka post general

# Replies: --thread, reply, and a reply to a reply joins the root's thread.
expect 0 "post --thread" -- ka --as carol post --thread "${M1:0:8}" general "了解"
same out <<EOF
replied to ${M1:0:8} in #general as seq 27 ($(msgid | cut -c1-16))
message id: $(msgid)
EOF
R1=$(msgid)
expect 0 "reply" -- ka --as dave reply "${M1:0:10}" "向かいます"
has out "replied to ${M1:0:8} in #general as seq 28"
R2=$(msgid)
expect 0 "reply to a reply" -- ka --as alice reply "$R1" "毛布 50 枚 あります"
has out "replied to ${M1:0:8} in #general"
R3=$(msgid)
expect 1 "thread in another channel" -- ka post --thread "$M1" 給水車 x
has err "message $M1 is in #general, not #給水車"
expect 1 "reply to unknown" -- ka reply 00000000 x
has err "no message '00000000'"
expect 2 "reply to a bad id" -- ka reply zzzzzzzz x
has err "invalid message id 'zzzzzzzz'"
expect 2 "reply to a short id" -- ka reply "${M1:0:7}" x

# Edits: another member's has no effect; the author's and an admin's do.
expect 0 "edit by another member" -- ka --as carol edit "$M1" "書き換え"
has out "edited ${M1:0:8} (seq 30)"
has err "warning: stored as seq 30, but it does not count in the workspace: only its author (bob) or an admin user may edit it"
expect 0 "edit by the author" -- ka --as bob edit "$M1" "避難所を開設しました（体育館）"
empty err
expect 0 "edit json" -- ka --as bob --json edit "$U1" "nope"
has out '"counted":false'
has out '"warning":"only its author (alice) or an admin user may edit it"'
expect 0 "edit by an admin user" -- ka --as alice edit "$U1" "給水車 15時 到着"
empty err
expect 1 "edit invalid utf-8" -- ka --as bob edit "$M1" $'\xc0\xaf'
has err "edit refused: names and text must be valid UTF-8"

# Reactions and acknowledgements need a user.
expect 0 "react" -- ka --as carol react "$M1" 👍
same out <<EOF
reacted 👍 to ${M1:0:8} (seq 34)
EOF
expect 0 "react 2" -- ka --as dave react "$M1" 👍
expect 0 "react off" -- ka --as dave react --off "$M1" 👍
has out "took back 👍 from ${M1:0:8}"
expect 2 "react without a user" -- ka react "$M1" 👍
has err "react needs a user: give --as USER or set KIZUNA_USER"
expect 1 "react long emoji" -- ka --as carol react "$M1" "$(head -c 65 /dev/zero | tr '\0' e)"
has err "react refused: an emoji may be at most 64 bytes"
expect 0 "ack" -- ka --as carol ack "$U1"
same out <<EOF
acknowledged ${U1:0:8} (seq 37)
EOF
empty err
expect 0 "ack 2" -- ka --as dave ack "$U1"
expect 0 "ack a normal message" -- ka --as dave ack "$M1"
has err "only urgent and emergency messages collect acknowledgements"
expect 2 "ack without a user" -- ka ack "$U1"

# Deletes: only the author or an admin.
expect 0 "delete by another member" -- ka --as carol delete "$R2"
has err "only its author (dave) or an admin user may delete it"
expect 0 "delete by the author" -- ka --as dave delete "$R2"
same out <<EOF
deleted ${R2:0:8} (seq 41)
EOF
empty err

expect 0 "tail" -- ka tail general
same out <<EOF
TIME ${M1:0:8} bob: 避難所を開設しました（体育館） (edited) (2 replies) (1 reaction)
TIME ${U1:0:8} alice: [urgent] 給水車 15時 到着 (edited) (2 acks)
TIME ${E1:0:8} node ${AK:0:16}: [emergency] 堤防決壊の恐れ (0 acks)
EOF
expect 0 "tail -n 1" -- ka tail -n 1 general
lines out 1
has out "${E1:0:8}"
expect 2 "tail -n 0" -- ka tail -n 0 general
expect 1 "tail unknown" -- ka tail nowhere
has err "no channel 'nowhere'"
expect 0 "tail by id" -- ka tail "${GEN:0:12}"
lines out 3
expect 0 "tail json" -- ka --json tail general
lines out 3
has out "{\"id\":\"$M1\",\"channel\":\"$GEN\",\"channel_name\":\"general\",\"time\":"
has out '"user":"bob","priority":"normal","text":"避難所を開設しました（体育館）","thread_root":null,"edited":true,"deleted":false,"replies":2,"acks":0,"reactions":1,"system":false,"subtype":"","pinned":false,"files":[]}'
expect 0 "thread" -- ka thread "$R3"
same out <<EOF
TIME ${M1:0:8} bob: 避難所を開設しました（体育館） (edited) (2 replies) (1 reaction)
  TIME ${R1:0:8} carol: 了解
  TIME ${R2:0:8} dave: (deleted)
  TIME ${R3:0:8} alice: 毛布 50 枚 あります
EOF
expect 0 "thread of an urgent message" -- ka thread "${U1:0:8}"
same out <<EOF
TIME ${U1:0:8} alice: [urgent] 給水車 15時 到着 (edited) (2 acks)
  acknowledged by: carol, dave
EOF
expect 0 "thread json" -- ka --json thread "$U1"
has out '"acked_by":["carol","dave"]'
expect 0 "other channel" -- ka tail 給水車
same out <<EOF
TIME ${W1:0:8} carol: 水を 20L 下さい
EOF

# ------------------------------------------------------------ roll call
expect 0 "status set" -- ka --as bob status set safe --place 市役所
same out <<EOF
reported bob as safe (seq 42)
EOF
expect 0 "status set for another" -- ka --as alice status set injured --user carol \
    --place 東小学校 --note "足を負傷"
has out "reported carol as injured"
expect 0 "status set needs-help" -- ka --as dave status set needs-help
expect 2 "status set without a user" -- ka status set safe
has err "status set needs a user"
expect 2 "status set bad" -- ka --as bob status set fine
has err "unknown status 'fine'"
expect 1 "status set unknown user" -- ka --as bob status set safe --user nobody
has err "no user 'nobody'"
expect 1 "status set long note" -- ka --as bob status set safe --note "$(head -c 1001 /dev/zero | tr '\0' n)"
has err "a note at most 1000 bytes"
expect 0 "rollcall" -- ka rollcall
same out <<EOF
alice (Alice Sato): unknown
bob (Bob Ito): safe, at 市役所 (TIME)
carol (Carol Abe): injured, at 東小学校 - 足を負傷 (reported by alice, TIME)
dave (Dave Mori): needs-help (TIME)
EOF
expect 0 "status list" -- ka status list
cp "$T/out" "$T/list"
cmp -s "$T/list" <(ka rollcall) && ok || bad "status list differs from rollcall"
expect 0 "status list json" -- ka --json status list
lines out 4
has out '{"user":"carol","display_name":"Carol Abe","status":"injured","place":"東小学校","note":"足を負傷","reporter":"alice","time":"'
has out '{"user":"alice","display_name":"Alice Sato","status":"unknown","place":"","note":"","reporter":"","time":null}'
expect 0 "node status still works" -- ka status
has out "node key:       $AK"
has out "feed length:    44"

# ------------------------------------------------------------ two nodes
expect 0 "digest a" -- ka digest
DA=$(cat "$T/out")
[ "${#DA}" -eq 64 ] && ok || bad "digest is not 64 hex digits: $DA"
expect 0 "digest json" -- ka --json digest
same out <<EOF
{"digest":"$DA"}
EOF
expect 0 "digest b" -- kb digest
[ "$(cat "$T/out")" != "$DA" ] && ok || bad "digest equal before b holds a's entries"
carry "$A" "$B"
expect 0 "digest b after carrying a's feed" -- kb digest
has out "$DA"
expect 0 "b is now a member" -- kb mesh show
has out "this node: $BK (member)"
expect 0 "tail on b" -- kb tail general
cmp -s "$T/out" <(ka tail general) && ok || bad "tail differs on a and b"

# B's own entries: a node-only post does not count on a member node.
expect 0 "b posts as the node" -- kb post general "駅前から"
has err "warning: stored as seq 1, but it does not count in the workspace: this node is not an admin node, so it cannot act without a user: act as one with --as USER"
expect 0 "b posts as bob" -- kb --as bob post --priority urgent general "駅前 浸水 30cm"
B1=$(msgid)
empty err
expect 0 "b: carol edits bob's post" -- kb --as carol edit "$B1" "乗っ取り"
has err "only its author (bob) or an admin user may edit it"
expect 0 "b: ack" -- kb --as carol ack "$B1"
expect 0 "b: purge from a non-admin node" -- kb purge "$U1"
has out "purge of ${U1:0:8} written (seq 5)"
has err "warning: stored as seq 5, but it does not count in the workspace: only an admin node may do this, and this node is not one"
expect 0 "b: channel create" -- kb --as bob channel create 臨時
expect 0 "a: a channel of the same name" -- ka channel create 臨時
expect 0 "b: status" -- kb --as bob status set needs-help --place 駅前
DB=$(kb digest)
[ "$DB" != "$(ka digest)" ] && ok || bad "digests equal before exchanging b's feed"
carry "$B" "$A"
carry "$A" "$B"
expect 0 "digest a after exchange" -- ka digest
DA=$(cat "$T/out")
expect 0 "digest b after exchange" -- kb digest
has out "$DA"
expect 0 "a sees b's post, not the node-only one" -- ka tail general
has out "${B1:0:8} bob: [urgent] 駅前 浸水 30cm (1 ack)"
hasnt out "駅前から"
has out "${U1:0:8} alice: [urgent] 給水車 15時 到着 (edited) (2 acks)"
expect 0 "a: roll call has b's report" -- ka rollcall
has out "bob (Bob Ito): needs-help, at 駅前 ("
expect 1 "two channels of one name" -- ka tail 臨時
has err "'臨時' names more than one channel"
expect 0 "log on a lists b's entries" -- ka log
has out "bob post #general [urgent]: 駅前 浸水 30cm"
has out "(node) purge ${U1:0:8}"
has out "(node) node_admit ${BK:0:16} as 駅前"
has out "alice user_set bob: role=member"
has out "(node) user_set bob: password=set"
has out "carol user_set carol: password=set"
has out "carol user_set bob: password=set"
has out "(node) user_set dave: active=no"
has out "(node) channel_set #general: topic=\"全職員への連絡\""
has out "(node) channel_set #旧連絡: archived=yes"
has out "carol react ${M1:0:8} 👍 on"
has out "dave react ${M1:0:8} 👍 off"
has out "carol ack ${U1:0:8}"
has out "dave delete ${R2:0:8}"
has out "carol edit ${M1:0:8}: 書き換え"
has out "alice safety carol: injured, at 東小学校 - 足を負傷"
has out "(node) post #general [emergency]: 堤防決壊の恐れ (mentions @bob @carol)"
has out "carol post #general (reply to ${M1:0:8}): 了解"
hasnt out "s3cret"
expect 0 "log json" -- ka --json log
for t in mesh_create node_admit user_set channel_create channel_set post edit \
    delete purge react ack safety; do
	has out "\"type\":\"$t\""
done
has out '"op":{"type":"user_set","actor":"","user":"alice","display_name":"Alice Sato","department":"防災課","role":"admin","password":"set","active":true}'
hasnt out 'argon2'

# ------------------------------------------------------------ search
expect 0 "search before purge" -- ka search 避難所
has out "[避難所]を開設しました"
expect 0 "search json" -- ka --json search --limit 5 避難
has out "\"id\":\"$M1\""
has out '"snippet":"['
expect 0 "search filtered by a channel with no match" -- ka search --channel general --author nobody 避難
lines out 0
expect 2 "search bad date" -- ka search --since yesterday 避難
has err "dates are YYYY-MM-DD"
expect 1 "search nothing searchable" -- ka search "、。"
has err "nothing to search for"

# ------------------------------------------------------------ purge
sqlite3 "$A/store.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
[ "$(grep -ac '避難所を開設しました' "$A/store.db")" -gt 0 ] && ok || bad "the text is not in a's store before the purge"
expect 0 "purge" -- ka purge "${M1:0:8}"
same out <<EOF
purged ${M1:0:8}: its text is dropped here and on every node the purge reaches (seq $(ka status --json | sed 's/.*"feed_length":\([0-9]*\).*/\1/'))
EOF
empty err
expect 0 "purged message is not found by search" -- ka search 避難所を開設
lines out 0
expect 1 "purged message is gone" -- ka thread "$M1"
has err "no message '$M1'"
expect 0 "log json after purge" -- ka --json log
has out "\"hash\":\"$M1\",\"op_len\":"
grep -F "\"hash\":\"$M1\"" "$T/out" >"$T/purged"
has purged '"op":{"type":"purged"}'
hasnt out '避難所を開設しました'
hasnt out '書き換え'
expect 0 "log after purge" -- ka log
hasnt out '避難所を開設しました'
sqlite3 "$A/store.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
[ "$(grep -ac '避難所を開設しました' "$A/store.db")" -eq 0 ] && ok || bad "the purged text is still in a's store file"
[ "$(grep -ac '書き換え' "$A/store.db")" -eq 0 ] && ok || bad "a purged edit's text is still in a's store file"
carry "$A" "$B"
sqlite3 "$B/store.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
[ "$(grep -ac '避難所を開設しました' "$B/store.db")" -eq 0 ] && ok || bad "the purged text is still in b's store file"
expect 0 "b verifies after the purge" -- kb verify
expect 0 "a verifies after the purge" -- ka verify
expect 0 "tail after purge" -- kb tail general
hasnt out "${M1:0:8}"
[ "$(ka digest)" = "$(kb digest)" ] && ok || bad "digests differ after the purge"

# ------------------------------------------------------------ deactivation
expect 0 "deactivate dave" -- ka --as alice user deactivate dave
empty err
expect 0 "a: dave posts after deactivation" -- ka --as dave post general "dave on a"
has err "warning: stored as seq"
has err "user 'dave' is deactivated"
# B has not heard yet, so there the post counts until the deactivation arrives.
expect 0 "b: dave posts" -- kb --as dave post general "dave on b"
empty err
expect 0 "b shows it for now" -- kb tail general
has out "dave: dave on b"
carry "$A" "$B"
carry "$B" "$A"
for n in a b; do
	expect 0 "$n: dave's later posts are not shown" -- k$n tail general
	hasnt out "dave on"
done
[ "$(ka digest)" = "$(kb digest)" ] && ok || bad "digests differ after the deactivation"

# ------------------------------------------------------------ revocation
TIPB=$(kb status --json | sed 's/.*"feed_length":\([0-9]*\).*/\1/')
expect 0 "revoke b" -- ka mesh revoke "$BK" --reason 盗難
has out "revoked node ${BK:0:16}: its entries after seq $TIPB do not count (seq "
expect 0 "b posts after its revocation" -- kb --as bob post general "after revocation"
empty err
carry "$A" "$B"
carry "$B" "$A"
for n in a b; do
	expect 0 "$n: the revoked node's later post is not shown" -- k$n tail general
	hasnt out "after revocation"
	has out "駅前 浸水 30cm"
done
expect 0 "nodes after revocation" -- ka mesh nodes
has out "$BK  駅前, revoked after seq $TIPB"
expect 0 "b knows it is revoked" -- kb mesh show
has out "this node: $BK (revoked)"
expect 0 "b's later entries do not count" -- kb --as bob post general "again"
has err "this node was revoked: its entries after seq $TIPB do not count"
expect 0 "log shows the revocation" -- ka log
has out "(node) node_revoke ${BK:0:16} after seq $TIPB: 盗難"
[ "$(ka digest)" = "$(kb digest)" ] && ok || bad "digests differ after the revocation"

# ------------------------------------------------------------ a member's own role
# A member may change their own display name, department and password, not
# their role: carol, acting on the admin node, tries to make herself admin.
expect 0 "member makes self admin" -- ka --as carol user role carol admin
has err "does not count in the workspace: user 'carol' is not an admin"
expect 0 "user list after self-promotion" -- ka user list
has out "carol: Carol Abe, 福祉課, member"

# ------------------------------------------------------------ usage
expect 2 "mesh without a command" -- ka mesh
has err "usage: kizuna [--home DIR] mesh COMMAND"
expect 0 "mesh --help" -- ka mesh --help
has out "mesh admit --name NAME [--admin] NODEKEY"
expect 2 "unknown mesh command" -- ka mesh frob
has err "unknown mesh command 'frob'"
for c in "mesh create" "mesh join" "mesh admit" "mesh revoke" "mesh nodes" \
    "mesh show" "user add" "user list" "user passwd" "user deactivate" \
    "user activate" "user role" "channel create" "channel list" \
    "channel rename" "channel topic" "channel archive" "channel unarchive" \
    post reply edit delete purge react ack tail thread "status set" \
    "status list" rollcall digest log search; do
	# shellcheck disable=SC2086
	expect 0 "$c --help" -- ka $c --help
	has out "usage: kizuna [--home DIR] $c [--json]"
done
expect 2 "edit missing text" -- ka edit "$E1"
has err "usage: kizuna [--home DIR] edit [--json] ID TEXT"

finish workspace
