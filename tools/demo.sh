#!/bin/sh
# Brings kizuna up on built-in defaults: builds it, creates two nodes (city
# hall and a branch office) in a temporary folder, posts on city hall,
# carries city hall's feed to the branch as a run file (as a USB stick
# would), verifies it there and shows both nodes.  Keeps the folder and
# prints its path so you can go on with `kizuna --home ...`.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target kizuna -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
K="$PWD/build/bin/kizuna"
D=$(mktemp -d "${TMPDIR:-/tmp}/kizuna-demo-XXXXXX")

echo "== city hall: a new node"
"$K" --home "$D/city-hall" init
"$K" --home "$D/city-hall" post 災害対策本部 "避難所（第二小学校体育館）を開設しました。"
"$K" --home "$D/city-hall" post --priority urgent 災害対策本部 "給水車は14時に中央公民館へ到着予定。"
"$K" --home "$D/city-hall" post general "Road 12 closed at km 4 (landslide)."
echo
echo "== branch office: a new node, fed by a run file carried from city hall"
"$K" --home "$D/branch" init
"$K" --home "$D/city-hall" export-run "$D/city-hall.kzr"
"$K" --home "$D/branch" import-run "$D/city-hall.kzr"
"$K" --home "$D/branch" verify
echo
echo "== the branch office's log"
"$K" --home "$D/branch" log
echo
echo "== status of city hall"
"$K" --home "$D/city-hall" status
echo
echo "Nodes are in $D.  Try: $K --home $D/branch log --json"
