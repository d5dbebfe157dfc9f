#!/usr/bin/env bash
# The courier folder: two kizunad with no network between them share only a
# folder (a USB stick's mount point).  Each leaves its vector there and
# writes what the other lacks; each imports what the other wrote.  Posts
# cross both ways with no command typed, and the digests end equal; a
# damaged bundle put there is reported (log, status) and changes nothing;
# the stick's removal is seen.
set -u
K="$KZ_BIN/kizuna"; D="$KZ_BIN/kizunad"; C="$KZ_BIN/kizuna-ctl"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzcourier-XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

A="$T/a"; B="$T/b"; X="$T/x"; S="$T/stick"
k() { local h=$1; shift; "$K" --home "$h" "$@"; }
conf() {
	sed -i "s/^listen = .*/listen = /; s/^discovery = .*/discovery = false/;
	    s/^level = .*/level = debug/; s|^folder = .*|folder = $S|;
	    s/^interval_s = 5$/interval_s = 1/" "$1/kizuna.conf"
}
shows() { k "$1" tail -n 50 general 2>/dev/null | grep -qF -- "$2"; }
same_digest() { [ "$(digest "$A")" = "$(digest "$B")" ]; }
cdigest() { "$C" --home "$1" '{"cmd":"content_digest"}' | sed -n 's/.*"content_digest":"\([0-9a-f]*\)".*/\1/p'; }
status_has() { "$C" --home "$1" '{"cmd":"status"}' | grep -qF -- "$2"; }

for h in "$A" "$B" "$X"; do expect 0 "init" -- k "$h" init; done
BK=$(key "$B"); XK=$(key "$X")
expect 0 "mesh" -- k "$A" mesh create --name 谷川市
expect 0 "invite" -- k "$A" mesh invite --address 127.0.0.1:7420
tok=$(cat "$T/out")
expect 0 "b joins" -- k "$B" mesh join "$tok"
expect 0 "x joins" -- k "$X" mesh join "$tok"
expect 0 "admit b" -- k "$A" mesh admit --name 駅前 "$BK"
expect 0 "admit x" -- k "$A" mesh admit --name 分室 "$XK"
expect 0 "user" -- k "$A" user add --name Alice alice
expect 0 "channel" -- k "$A" channel create general
# X takes the workspace by hand and writes two posts, for the damaged
# bundle below.
expect 0 "a exports for x" -- k "$A" bundle export "$T/a.kzb"
expect 0 "x imports" -- k "$X" bundle import "$T/a.kzb"
for i in 1 2; do k "$X" --as alice post general "分室 $i" >/dev/null || bad "x post"; done
expect 0 "a's vector" -- k "$A" bundle vector "$T/a.kzv"
expect 0 "x exports its own posts only" -- k "$X" bundle export --since "$T/a.kzv" "$T/x.kzb"
conf "$A"; conf "$B"
mkdir "$S"

start a "$A"; DA=$DPID
start b "$B"; DB=$DPID
until_ok "a watches the stick" -- grep -q "courier: watching $S every 1 s" "$T/a.err"
for i in 1 2 3 4 5; do
	expect 0 "a posts $i" -- k "$A" --as alice post general "避難所 $i: 毛布が不足"
done
until_ok "b has a's posts" -- shows "$B" "避難所 5: 毛布が不足"
until_ok "b's log says it imported" -- grep -q "courier: imported for-$BK-from-" "$T/b.err"
expect 0 "b posts" -- k "$B" --as alice post general "駅前: 給水車 到着"
until_ok "a has b's post" -- shows "$A" "駅前: 給水車 到着"
until_ok "one digest" -- same_digest
until_ok "b's status counts what it imported" -- status_has "$B" '"present":true,"imported_files":'
[ -f "$S/$(key "$A").kzv" ] && ok || bad "a left no vector on the stick"
[ -f "$A/vectors/$BK.kzv" ] && ok || bad "a kept no copy of b's vector"
# --for: what B lacked when A last heard of it (nothing, or the newest).
expect 0 "a: export --for b" -- k "$A" --json bundle export --for "$BK" "$T/forb.kzb"
hasnt err "no vector of node"
expect 0 "a: export --for x (never heard of)" -- k "$A" --json bundle export --for "$XK" "$T/forx.kzb"
has err "no vector of node ${XK:0:16} is known here: writing everything"

# A damaged bundle: x's posts with one byte of their run flipped.
size=$(stat -c %s "$T/x.kzb")
cp "$T/x.kzb" "$T/xd.kzb"
b=$(od -An -tu1 -j $((size - 20)) -N1 "$T/xd.kzb" | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$T/xd.kzb" bs=1 seek=$((size - 20)) conv=notrunc status=none
before=$(cdigest "$B")
cp "$T/xd.kzb" "$S/damaged.kzb"
until_ok "b reports the damaged bundle" -- grep -q "courier: damaged.kzb: some records damaged, refused or missing" "$T/b.err"
until_ok "b's status too" -- status_has "$B" '"failed_files":1,'
eq "$(cdigest "$B")" "$before" "b's store after the damaged bundle"
shows "$B" "分室 2" && bad "a damaged run was shown" || ok

rm -rf "$S"
until_ok "b sees the stick go" -- grep -q "courier: $S is gone" "$T/b.err"
until_ok "status: not present" -- status_has "$B" '"present":false'

kill -TERM "$DA" "$DB"
stopped "$DA" a; forget "$DA"
stopped "$DB" b; forget "$DB"
finish courier
