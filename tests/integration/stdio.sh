#!/usr/bin/env bash
# kizuna sync over a pipe: --via COMMAND on one node runs `kizuna sync
# --stdio` on the other through sh -c; both end when each holds what the
# other held.  Posts cross both ways with equal digests after; a second
# session moves nothing; a node of another mesh fails the handshake and
# nothing changes; a command that exits at once, a node outside any mesh
# and bad usage each fail with a clear message.
set -u
K="$KZ_BIN/kizuna"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzstdio-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

A="$T/a"; B="$T/b"; C="$T/c"; N="$T/n"
k() { local h=$1; shift; "$K" --home "$h" "$@"; }
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$T/err" | head -1; }

for n in "$A" "$B" "$C" "$N"; do expect 0 "init" -- k "$n" init; done
BK=$(key "$B")
expect 0 "mesh" -- k "$A" mesh create --name 川沿い市
expect 0 "invite" -- k "$A" mesh invite --address 127.0.0.1:7420
tok=$(cat "$T/out")
expect 0 "b joins" -- k "$B" mesh join "$tok"
expect 0 "admit b" -- k "$A" mesh admit --name 駅前 "$BK"
expect 0 "other mesh" -- k "$C" mesh create --name 別の町
expect 0 "user" -- k "$A" user add alice --name "Alice Sato"
expect 0 "channel" -- k "$A" channel create general
for i in $(seq 1 50); do
	k "$A" --as alice post general "避難所 $i: 給水は 14 時から" >/dev/null || bad "post $i"
done

expect 0 "a syncs with b through a pipe" -- k "$A" --json sync --via "$K --home $B sync --stdio"
has err '"complete":true'
eq "$(num entries_out)" 54 "entries a sent (mesh, admission, user, channel, 50 posts)"
eq "$(num entries_in)" 0 "entries a received"
eq "$(digest "$B")" "$(digest "$A")" "digest after the first session"
expect 0 "again: nothing to move" -- k "$A" --json sync --via "$K --home $B sync --stdio"
eq "$(num entries_out)" 0 "entries sent the second time"
eq "$(num entries_in)" 0 "entries received the second time"

for i in 1 2 3; do k "$B" --as alice post general "駅前 $i: 停電" >/dev/null || bad "b post $i"; done
expect 0 "b's posts come back" -- k "$A" sync --via "$K --home $B sync --stdio"
has err "complete: 3 entries received, 0 sent"
eq "$(digest "$A")" "$(digest "$B")" "digest after b's posts"

# --slow on both ends (docs/sync.md, "Link profiles"): the dictionary is
# chosen and the same 54 entries take fewer bytes than on the LAN profile.
S="$T/s"; L="$T/l"
for n in "$S" "$L"; do
	expect 0 "init" -- k "$n" init
	expect 0 "joins" -- k "$n" mesh join "$tok"
	expect 0 "admit" -- k "$A" mesh admit --name "${n##*/}" "$(key "$n")"
done
byt() { sed -n 's/.*"bytes_out":\([0-9]*\).*/\1/p' "$T/err" | head -1; }
expect 0 "lan profile to l" -- k "$A" --json sync --via "$K --home $L sync --stdio"
has err '"complete":true'
has err '"compress":"none"'
lan=$(byt)
# a holds 59 entries; the two admissions (membership) also go ahead alone.
eq "$(num entries_out)" 61 "entries a sent on the lan profile"
expect 0 "slow profile to s" -- k "$A" --json sync --slow --via "$K --home $S sync --slow --stdio"
has err '"complete":true'
has err '"compress":"dict"'
slow=$(byt)
eq "$(num entries_out)" 61 "entries a sent on the slow profile"
[ "$slow" -lt $((lan * 6 / 10)) ] && ok ||
    bad "slow profile sent $slow bytes, lan $lan: wanted under 0.6 x"
echo "stdio: the same 61 entries: $lan bytes out on the lan profile, $slow on the slow one"
eq "$(digest "$S")" "$(digest "$A")" "digest after the slow session"
eq "$(digest "$L")" "$(digest "$A")" "digest after the lan session"
expect 0 "slow one end only: no compression, still complete" -- \
    k "$A" --json sync --slow --via "$K --home $B sync --stdio"
has err '"compress":"none"'
has err '"complete":true'

before=$(digest "$A")
expect 1 "another mesh's node" -- k "$A" sync --via "$K --home $C sync --stdio"
has err "sync did not complete"
eq "$(digest "$A")" "$before" "digest after the refused handshake"
expect 1 "a command that exits at once" -- k "$A" sync --via true
has err "sync did not complete: the peer closed the connection"
expect 1 "outside any mesh" -- k "$N" sync --stdio
has err "this node has not joined a mesh"
expect 2 "neither" -- k "$A" sync
has err "sync needs exactly one of --stdio and --via COMMAND"
expect 2 "both" -- k "$A" sync --stdio --via true
finish stdio
