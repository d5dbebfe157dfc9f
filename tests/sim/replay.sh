#!/bin/bash
# sim.replay: a seed replays exactly.  Each seed runs twice with --trace (the
# second time in another temporary folder) and the two traces must be
# identical, byte for byte.  The seeds cover every topology, raw LAN links,
# crashes in a group, a restore from a backup (21 star), radio links on the
# real stack, and radio sessions whose ARQ went down and that came back
# (2 star, 3 ring, 9 islands, 30 ring).
set -eu
sim="${KZ_BIN:?}/kizuna-sim"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/a" "$tmp/b"

for spec in "1 chain" "2 star" "3 ring" "4 islands" "5 random" "9 islands" \
    "17 chain" "21 star" "30 ring"; do
	set -- $spec
	TMPDIR="$tmp/a" "$sim" --seed "$1" --topology "$2" --trace >"$tmp/1" || {
		echo "seed $1 $2 failed:"; tail -5 "$tmp/1"; exit 1; }
	TMPDIR="$tmp/b" "$sim" --seed "$1" --topology "$2" --trace >"$tmp/2" || {
		echo "seed $1 $2 failed on replay"; exit 1; }
	# The last line is the wall-clock summary; everything else must match.
	head -n -1 "$tmp/1" >"$tmp/1t"
	head -n -1 "$tmp/2" >"$tmp/2t"
	if ! cmp -s "$tmp/1t" "$tmp/2t"; then
		echo "seed $1 $2: the replay differs:"
		diff "$tmp/1t" "$tmp/2t" | head -20
		exit 1
	fi
	echo "seed $1 $2: $(wc -l <"$tmp/1t") trace lines, replayed identically"
done
