#!/usr/bin/env bash
# The kizuna CLI as an operator uses it: init, post, log, status, verify,
# export-run and import-run between two nodes, and the refusals (bad key
# mode, tampered store, invalid input, damaged run file) with their exact
# exit codes and messages.  The workspace commands (mesh, users, channels,
# messages, roll call) have their own test: workspace.sh.
set -u
K="$KZ_BIN/kizuna"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzcli-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"


A="$T/a"; B="$T/b"
expect 0 "init a" -- "$K" --home "$A" init
has out "created node in $A"
expect 0 "init b" -- "$K" --home "$B" init --json
has out '"node_key":'
# The config init writes is the documented default shipped for appliances.
cmp -s "$A/kizuna.conf" "$KZ_SRC/firmware-config/kizuna.conf" && ok || bad "kizuna.conf differs from firmware-config/kizuna.conf"
[ "$(stat -c %a "$A/node.key")" = 600 ] && ok || bad "node.key mode $(stat -c %a "$A/node.key")"
expect 1 "init twice" -- "$K" --home "$A" init
has err "already holds a node key"

# Posting needs a mesh (this node its root, hence an admin node) and a channel.
expect 1 "post before any channel" -- "$K" --home "$A" post general x
has err "no channel 'general'"
expect 0 "mesh create" -- "$K" --home "$A" mesh create --name 川沿い市
has out "created mesh 川沿い市"
expect 0 "channel 1" -- "$K" --home "$A" channel create 災害対策本部
has out "created #災害対策本部 as seq 2"
expect 0 "channel 2" -- "$K" --home "$A" channel create general
expect 0 "post" -- "$K" --home "$A" post 災害対策本部 "避難所を開設しました"
has out "posted to #災害対策本部 as seq 4"
has out "message id: "
expect 0 "post urgent" -- "$K" --home "$A" post --priority urgent 災害対策本部 "給水車 14時 到着"
expect 0 "post json" -- "$K" --home "$A" --json post general "停電 復旧見込み 18:00"
has out '"seq":6'
has out '"counted":true'
expect 2 "post bad priority" -- "$K" --home "$A" post --priority high general x
has err "unknown priority 'high'"
expect 1 "post invalid utf-8" -- "$K" --home "$A" post general $'\xff\xfe'
has err "must be valid UTF-8"
expect 1 "post too long" -- "$K" --home "$A" post general "$(head -c 16385 /dev/zero | tr '\0' x)"
has err "at most 16384 bytes"
expect 2 "post missing text" -- "$K" --home "$A" post general

expect 0 "status" -- "$K" --home "$A" status --json
has out '"feed_length":6'
has out '"schema_version":9'
has out '"entries":6'
expect 0 "status without a daemon" -- "$K" --home "$A" status
has out "kizunad:        not running"
expect 0 "status json without a daemon" -- "$K" --home "$A" --json status
has out '"daemon":null'
expect 1 "peers without a daemon" -- "$K" --home "$A" peers
has err "kizunad is not running here"
expect 0 "log" -- "$K" --home "$A" log
lines out 6
has out "(node) mesh_create 川沿い市"
has out "(node) channel_create #general"
has out "#災害対策本部 [urgent]: 給水車 14時 到着"
expect 0 "log json" -- "$K" --home "$A" log --json
lines out 6
has out '"text":"避難所を開設しました"'
has out '"priority":"urgent"'
has out '"type":"channel_create"'

expect 0 "export" -- "$K" --home "$A" export-run "$T/a.kzr"
has out "wrote 6 entries (seq 1..6) in 1 runs"
expect 0 "import" -- "$K" --home "$B" --json import-run "$T/a.kzr"
has out '"added":6'
expect 0 "import again" -- "$K" --home "$B" --json import-run "$T/a.kzr"
has out '"added":0'
has out '"duplicate":6'
expect 0 "log on b" -- "$K" --home "$B" log
lines out 6
expect 0 "verify b" -- "$K" --home "$B" verify
has out "ok: 1 feeds, 6 entries, 1 signatures verified"
expect 0 "export from seq 2" -- "$K" --home "$A" export-run --from 2 "$T/a2.kzr"
has out "wrote 5 entries (seq 2..6)"
expect 1 "export past tip" -- "$K" --home "$A" export-run --from 9 "$T/x.kzr"
has err "nothing to export"

# A run file cut short: the intact runs before the damage still count.
head -c 40 "$T/a.kzr" >"$T/cut.kzr"
expect 1 "import truncated" -- "$K" --home "$B" import-run "$T/cut.kzr"
has err "damaged at byte 4: data truncated"
expect 1 "import non-run file" -- "$K" --home "$B" import-run /etc/hostname
has err "is not a kizuna run file"

# Tampering with the store is named by verify.
sqlite3 "$A/store.db" "UPDATE entries SET op = CAST(replace(CAST(op AS TEXT), '給水車', '消防車') AS BLOB) WHERE seq = 5"
expect 1 "verify tampered" -- "$K" --home "$A" verify
has err "seq 5: op bytes do not match the signed op hash"

# A key file others can read is refused.
chmod 644 "$A/node.key"
expect 1 "key mode 0644" -- "$K" --home "$A" status
has err "readable by group or others; refusing"

expect 1 "not a node" -- "$K" --home "$T/none" status
has err "is not a kizuna node"
expect 2 "unknown command" -- "$K" frobnicate
expect 0 "help" -- "$K" --help
has out "export-run"
for c in init status mesh user channel post reply edit delete purge react ack \
    tail thread rollcall digest log verify export-run import-run; do
	expect 0 "$c --help" -- "$K" "$c" --help
	has out "usage: kizuna"
done
KIZUNA_HOME="$B" expect 0 "KIZUNA_HOME" -- "$K" status --json
has out "\"home\":\"$B\""

finish cli
