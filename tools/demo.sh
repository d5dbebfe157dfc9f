#!/bin/sh
# Brings kizuna up on built-in defaults: builds it, founds a mesh at city
# hall, admits a branch office, and lets them coordinate through a run file
# carried between them (as a USB stick would, with no network at all):
# channels, an urgent order and its acknowledgement, the roll call, search
# in Japanese, and both nodes converging on the same workspace digest.
# Keeps the nodes and prints where they are.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target kizuna -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
K="$PWD/build/bin/kizuna"
D=$(mktemp -d "${TMPDIR:-/tmp}/kizuna-demo-XXXXXX")
hall() { "$K" --home "$D/city-hall" "$@"; }
branch() { "$K" --home "$D/branch" "$@"; }
key() { cat "$D/$1/node.pub"; }
carry() {	# carry node $1's own feed to node $2
	"$K" --home "$D/$1" export-run "$D/$1.kzr" >/dev/null
	"$K" --home "$D/$2" import-run "$D/$1.kzr"
}

echo "== city hall founds the mesh"
hall init >/dev/null
hall mesh create --name 谷川市 >/dev/null
hall user add --name 田中 --department 防災課 --role admin tanaka >/dev/null
hall user add --name 佐藤 --department 上流支所 sato >/dev/null
hall channel create 災害対策本部 --topic "台風14号 対応" >/dev/null
hall --as tanaka post 災害対策本部 "第二小学校体育館を避難所として開設しました。" >/dev/null
URGENT=$(hall --as tanaka --json post --priority urgent 災害対策本部 \
    "給水車は14時に中央公民館へ到着予定。上流支所は受け入れ準備を。" |
    sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
hall --as tanaka post 災害対策本部 "Route 12 closed at km 4 (landslide)." >/dev/null

echo "== the branch office joins"
branch init >/dev/null
hall mesh admit --name 上流支所 "$(key branch)" >/dev/null
branch mesh join "$(key city-hall)" >/dev/null
carry city-hall branch

echo
echo "== at the branch office: the urgent order, acknowledged; the roll call"
branch --as sato ack "$URGENT"
branch --as sato status set safe --place 上流支所 --note "職員3名 無事"
branch --as sato post 災害対策本部 "上流支所、給水の受け入れ準備完了。" >/dev/null
carry branch city-hall

echo
echo "== city hall's channel"
hall tail 災害対策本部
echo
echo "== roll call"
hall rollcall
echo
echo "== search: 給水"
hall search 給水
echo
echo "== both nodes hold the same workspace"
echo "city hall: $(hall digest)"
echo "branch:    $(branch digest)"
echo
echo "Nodes are in $D.  Try: $K --home $D/branch tail 災害対策本部"
