#!/usr/bin/env bash
# Bundles carried by hand between nodes with no network: export on A,
# import on B gives the same digest; importing twice adds nothing; a vector
# file makes the next bundle hold only what the other node lacks; a bundle
# with one byte flipped in the middle imports the records before and after
# it and names the damaged run by feed and seq; a truncated bundle imports
# what arrived and lists what is missing; a bundle written by a node that is
# not a member is refused whole; each refusal leaves the store unchanged.
set -u
K="$KZ_BIN/kizuna"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzbundle-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

A="$T/a"; B="$T/b"; C="$T/c"; X="$T/x"; F="$T/f"
k() { local h=$1; shift; "$K" --home "$h" "$@"; }
# num KEY: the integer "KEY":N in $T/out.
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$T/out" | head -1; }
# u32 FILE OFFSET: the big-endian u32 at OFFSET.
u32() { od -An -tu1 -j "$2" -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }'; }
# flip FILE OFFSET: inverts the byte at OFFSET.
flip() {
	local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 255)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# content DIR: a digest of every stored entry (kizuna verify --json).
content() { k "$1" --json verify | sed -n 's/.*"content_digest":"\([0-9a-f]*\)".*/\1/p'; }

for n in "$A" "$B" "$C" "$X" "$F"; do expect 0 "init" -- k "$n" init; done
AK=$(key "$A"); BK=$(key "$B"); CK=$(key "$C")
expect 0 "mesh create" -- k "$A" mesh create --name 川沿い市
for n in "$B" "$C" "$X" "$F"; do expect 0 "join" -- k "$n" mesh join "$AK"; done
expect 0 "admit b" -- k "$A" mesh admit --name 駅前 "$BK"
expect 0 "admit c" -- k "$A" mesh admit --name 支所 "$CK"
expect 0 "user" -- k "$A" user add alice --name "Alice Sato"
expect 0 "channel" -- k "$A" channel create general
for i in $(seq 1 20); do
	k "$A" --as alice post general "避難所 $i: 給水は 14 時から、毛布が不足しています" >/dev/null ||
	    bad "post $i"
done
expect 0 "urgent" -- k "$A" --as alice post --priority urgent general "土砂崩れ: 県道 12 号 通行止め"

# ------------------------------------------------------------ export, inspect
expect 0 "export all" -- k "$A" --json bundle export "$T/all.kzb"
has out '"feeds":1'
has out '"alone":4'	# the mesh, two admissions, the urgent post
eq "$(num entries)" 26 "entries exported (root feed: mesh, 2 admits, user, channel, 21 posts)"
expect 0 "inspect" -- k "$A" bundle inspect "$T/all.kzb"
has out "header sealed and verified"
has out "feed ${AK:0:16}: seq 1..26, 26 entries in 1 runs, 4 urgent alone"
has out "5 records read intact, 0 damaged or missing"
expect 1 "inspect a run file" -- k "$A" bundle inspect /dev/null
has err "is not a kizuna bundle"

# ------------------------------------------------------------ import, twice
expect 0 "b imports" -- k "$B" --json bundle import "$T/all.kzb"
has out '"added":26'
has out '"damaged":0'
eq "$(digest "$B")" "$(digest "$A")" "digest after import"
expect 0 "b imports again" -- k "$B" bundle import "$T/all.kzb"
has out "imported 0 new entries (30 already held) from 5 records; 0 damaged, 0 rejected, 0 missing"

# ------------------------------------------------------------ only what A lacks
expect 0 "b posts" -- k "$B" --as alice post general "駅前: 停電 復旧見込み 18:00"
expect 0 "b posts 2" -- k "$B" --as alice post general "駅前: 給水車 到着"
expect 0 "a's vector" -- k "$A" bundle vector "$T/a.kzv"
has out "wrote $T/a.kzv: what this node holds of 1 feeds"
expect 0 "b exports what a lacks" -- k "$B" --json bundle export --since "$T/a.kzv" "$T/b.kzb"
eq "$(num entries)" 2 "entries a lacks"
has out '"feeds":1'
expect 0 "inspect b's" -- k "$A" --json bundle inspect "$T/b.kzb"
has out "\"source\":\"$BK\""
has out "\"target\":\"$AK\""
expect 0 "a imports" -- k "$A" bundle import "$T/b.kzb"
has out "imported 2 new entries (0 already held) from 1 records"
eq "$(digest "$A")" "$(digest "$B")" "digest after the return trip"
expect 0 "nothing left" -- k "$A" bundle vector "$T/a2.kzv"
expect 0 "b exports again" -- k "$B" bundle export --since "$T/a2.kzv" "$T/none.kzb"
has out "nothing to export"
[ -e "$T/none.kzb" ] && bad "a bundle was written with nothing in it" || ok
expect 2 "--for that is not the vector's" -- k "$B" bundle export --since "$T/a2.kzv" --for "$CK" "$T/n.kzb"
expect 1 "bad vector file" -- k "$B" bundle export --since "$T/all.kzb" "$T/n.kzb"
has err "is not a kizuna vector file"

# ------------------------------------------------------------ damage
# C writes too, so that a bundle from A holds three runs: A's, B's, C's.
k "$C" bundle import "$T/all.kzb" >/dev/null
for i in 1 2 3; do k "$C" --as alice post general "支所 $i: 異常なし" >/dev/null; done
k "$C" bundle export "$T/c.kzb" >/dev/null && k "$A" bundle import "$T/c.kzb" >/dev/null ||
    bad "carrying c to a"
expect 0 "three feeds" -- k "$A" --json bundle export "$T/three.kzb"
has out '"feeds":3'
eq "$(num runs)" 3 "runs"
alone=$(num alone)
# Records follow magic, header and seal: find the second run's record.
off=$((4 + 4 + $(u32 "$T/three.kzb" 4)))
off=$((off + 4 + $(u32 "$T/three.kzb" "$off")))
# The urgent entries alone lead, then the first run.
for i in $(seq $((alone + 1))); do off=$((off + 4 + $(u32 "$T/three.kzb" "$off"))); done
len=$(u32 "$T/three.kzb" "$off")
cp "$T/three.kzb" "$T/flipped.kzb"
flip "$T/flipped.kzb" $((off + 4 + len / 2))
expect 0 "fresh node takes a's mesh entries" -- k "$F" bundle import "$T/all.kzb"
before=$(content "$F")
expect 1 "import flipped" -- k "$F" --json bundle import "$T/flipped.kzb"
has out '"damaged":1'
has out '"reason":"corrupt"'
# Runs follow in feed key order: the damaged one is the middle key's.
mid=$(printf '%s\n' "$AK" "$BK" "$CK" | sort | sed -n 2p)
last=$(printf '%s\n' "$AK" "$BK" "$CK" | sort | sed -n 3p)
has out "\"feed\":\"$mid\",\"first_seq\":1,"
has err "run of feed ${mid:0:16} seq 1.."
has err "seq 1.."
has err "damaged: stored data is corrupt"
# The runs before and after it are in; the damaged one is not.
[ "$(content "$F")" != "$before" ] && ok || bad "nothing imported around the damage"
expect 0 "the intact bundle completes it" -- k "$F" bundle import "$T/three.kzb"
eq "$(digest "$F")" "$(digest "$A")" "digest after the intact copy"

# ------------------------------------------------------------ truncated
rm -rf "$F"; expect 0 "init f" -- k "$F" init; k "$F" mesh join "$AK" >/dev/null
k "$F" bundle import "$T/all.kzb" >/dev/null || bad "f takes a's mesh entries again"
size=$(stat -c %s "$T/three.kzb")
head -c $((off + 4 + len / 2)) "$T/three.kzb" >"$T/short.kzb"
expect 1 "import truncated" -- k "$F" --json bundle import "$T/short.kzb"
has out '"missing":1'
has out '"damaged":1'
has out '"reason":"truncated"'
has out "\"feed\":\"$mid\",\"first_seq\":1,"
has out "\"feed\":\"$last\",\"first_seq\":1,"
has err "run of feed ${last:0:16} seq 1.."
has err "missing (the file ends before it)"
expect 0 "the whole bundle completes it" -- k "$F" bundle import "$T/three.kzb"
eq "$(digest "$F")" "$(digest "$A")" "digest after the truncated and the whole bundle"
[ "$size" -gt "$(stat -c %s "$T/short.kzb")" ] && ok || bad "not truncated"

# ------------------------------------------------------------ not a member
k "$X" bundle import "$T/all.kzb" >/dev/null
expect 0 "x posts" -- k "$X" --as alice post general "偽の通知: 避難所は閉鎖"
expect 0 "x exports" -- k "$X" bundle export "$T/x.kzb"
before=$(content "$B")
expect 1 "b refuses x's bundle" -- k "$B" bundle import "$T/x.kzb"
has err "refused: it was written by a node that is not a member of this mesh; nothing imported"
eq "$(content "$B")" "$before" "store after the refused bundle"

# A bundle with a damaged header: its records still stand on their own
# signatures, and x's run is refused as not admitted.
cp "$T/x.kzb" "$T/xh.kzb"
flip "$T/xh.kzb" 12
expect 1 "damaged header" -- k "$B" --json bundle import "$T/xh.kzb"
has out '"sealed":false'
has out '"reason":"not_found"'
eq "$(content "$B")" "$before" "store after the unsealed bundle"
expect 1 "inspect damaged header" -- k "$B" bundle inspect "$T/xh.kzb"
has out "HEADER DAMAGED (not trusted)"

finish bundle
