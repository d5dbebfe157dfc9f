#!/bin/bash
# sim.planted_bug: the simulator's checker catches a broken merge rule.
# With --flip-rule the library picks a message's current edit by arrival
# order instead of (hlc, author, seq) (kz__test_flip_rule in
# src/core/workspace.c).  The simulator must report a divergence with a
# seed, that seed must replay the same failure, and the same seeds must pass
# with the rule intact.
set -eu
sim="${KZ_BIN:?}/kizuna-sim"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if "$sim" --seeds 30 --flip-rule >"$tmp/flip"; then
	echo "FAIL: 30 seeds with the edit rule flipped all passed"
	cat "$tmp/flip"
	exit 1
fi
line=$(grep -m1 '^FAIL seed=' "$tmp/flip") || {
	echo "FAIL: no failing seed printed"; cat "$tmp/flip"; exit 1; }
echo "flipped: $line"
case "$line" in
*"invariant convergence"*) ;;
*) echo "FAIL: expected a convergence failure"; exit 1 ;;
esac
seed=$(printf '%s\n' "$line" | sed 's/^FAIL seed=\([0-9]*\) .*/\1/')
topo=$(printf '%s\n' "$line" | sed 's/.* topology=\([a-z]*\) .*/\1/')

# The printed seed replays the failure, exactly.
if "$sim" --seed "$seed" --topology "$topo" --flip-rule >"$tmp/replay"; then
	echo "FAIL: seed $seed ($topo) passed on replay"
	exit 1
fi
again=$(grep -m1 '^FAIL seed=' "$tmp/replay")
[ "$again" = "$line" ] || {
	echo "FAIL: replay reported something else: $again"; exit 1; }
echo "replayed: $again"

# The rule intact: the same seeds pass.
"$sim" --seeds 30 >"$tmp/ok" || {
	echo "FAIL: seeds fail without the flip"; cat "$tmp/ok"; exit 1; }
"$sim" --seed "$seed" --topology "$topo" >"$tmp/ok1" || {
	echo "FAIL: seed $seed fails without the flip"; cat "$tmp/ok1"; exit 1; }
echo "intact: $(tail -1 "$tmp/ok")"
