#!/bin/sh
# Soak the mesh simulator: tools/soak.sh [SEEDS [FIRST]] runs SEEDS seeds
# (default 100000) from FIRST (default 1) on every named topology in turn,
# plus a quarter as many on random topologies, split over the machine's
# cores, at the lowest priority.  Prints every failing seed with the command
# that replays it, and exits non-zero if any failed.  Builds build/ first.
set -eu
cd "$(dirname "$0")/.."
seeds=${1:-100000}
first=${2:-1}
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
nice -n 19 cmake --build build -j"$jobs" --target kizuna-sim >/dev/null
sim=build/bin/kizuna-sim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

per=$(( (seeds + jobs - 1) / jobs ))
i=0
while [ "$i" -lt "$jobs" ]; do
	s=$(( first + i * per ))
	n=$per
	[ $(( s + n )) -gt $(( first + seeds )) ] && n=$(( first + seeds - s ))
	if [ "$n" -gt 0 ]; then
		( nice -n 19 "$sim" --seeds "$n" --first "$s" --keep-going \
		    >"$out/named.$i" 2>&1 || true
		  nice -n 19 "$sim" --seeds $(( (n + 3) / 4 )) --first "$s" \
		    --topology random --keep-going >"$out/random.$i" 2>&1 || true ) &
	fi
	i=$(( i + 1 ))
done
wait
cat "$out"/* | grep -A1 '^FAIL' || true
cat "$out"/* | grep ' seeds, '
if cat "$out"/* | grep -q '^FAIL'; then
	exit 1
fi
echo "soak: all seeds passed"
