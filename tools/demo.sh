#!/bin/sh
# Brings kizuna up on built-in defaults: builds it and runs a small mesh of
# three kizunad daemons on this machine (127.0.0.1 only): city hall founds
# the mesh and invites a branch office and a fire station with join tokens;
# the nodes link over TCP (the Noise handshake, the sync protocol, live
# push), staff post, an emergency order overtakes the chat, is acknowledged
# at a branch, the roll call fills in, search works in Japanese, and every
# node ends with the same workspace digest.  Then the station is cut off,
# both sides keep working, and the link returns: everything converges.
#
# Each node serves the web workspace on a port of its own on 127.0.0.1;
# the URLs and the demo logins are printed at the end.
#
# On a terminal the mesh keeps running until Ctrl-C; otherwise (or with
# KZ_DEMO_EXIT=1) the daemons are stopped at the end.  Nodes are kept in a
# temporary folder whose path is printed.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target kizuna kizunad -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
K="$PWD/build/bin/kizuna"
KD="$PWD/build/bin/kizunad"
D=$(mktemp -d "${TMPDIR:-/tmp}/kizuna-demo-XXXXXX")
PIDS=""

stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=""
}
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

node() { n=$1; shift; "$K" --home "$D/$n" "$@"; }
key() { cat "$D/$1/node.pub"; }
# conf NODE PEERS: listen (links and the web workspace) on free ports of
# 127.0.0.1, dial PEERS.
conf() {
	sed -i "s/^listen = .*/listen = 127.0.0.1:0/; s/^peers = .*/peers = $2/;
	    s/^discovery = .*/discovery = false/; s/^reconnect_max_s = .*/reconnect_max_s = 2/" \
	    "$D/$1/kizuna.conf"
}
# start NODE: its daemon in the background, its log in $D/NODE.log.
start() {
	"$KD" --home "$D/$1" 2>>"$D/$1.log" &
	PIDS="$PIDS $!"
	eval "PID_$(echo "$1" | tr - _)=$!"
	i=0
	until grep -q "listening on 127.0.0.1:" "$D/$1.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: $1 did not start" >&2; exit 1; }
		sleep 0.1
	done
}
port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$D/$1.log" | tail -1; }
url() { sed -n 's/.*serving the web workspace at \(http:[^ ]*\).*/\1/p' "$D/$1.log" | tail -1; }
# user ID NAME DEPARTMENT [--role admin]: a user whose password is demo-ID.
user() {
	id=$1 name=$2 dept=$3; shift 3
	echo "demo-$id" | node city-hall user add --name "$name" --department "$dept" \
	    --password-stdin "$@" "$id" >/dev/null
}
# wait_for NODE TEXT: until NODE's channel shows TEXT (10 s at most).
wait_for() {
	i=0
	until node "$1" tail -n 50 災害対策本部 2>/dev/null | grep -qF -- "$2"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: '$2' never reached $1" >&2; exit 1; }
		sleep 0.1
	done
}
same() { [ "$(node city-hall digest)" = "$(node "$1" digest)" ]; }
wait_same() {
	i=0
	until same branch && same station; do
		i=$((i + 1)); [ $i -lt 150 ] || { echo "demo: no convergence" >&2; exit 1; }
		sleep 0.1
	done
}

echo "== city hall founds the mesh and starts its daemon"
node city-hall init >/dev/null
node city-hall mesh create --name 谷川市 >/dev/null
user tanaka "田中 一郎" 防災課 --role admin
user sato "佐藤 花子" 上流支所
user suzuki "鈴木 健" 消防署
node city-hall channel create 災害対策本部 --topic "台風14号 対応" >/dev/null
node city-hall channel create 総務 --topic "庁舎・職員の連絡" >/dev/null
node city-hall channel create 上流支所 --topic "上流地区の状況" >/dev/null
# Some history, as the days before the storm left it.
while IFS='|' read -r who ch text; do
	node city-hall --as "$who" post "$ch" "$text" </dev/null >/dev/null
done <<'EOF'
tanaka|災害対策本部|台風14号の接近に伴い、本日9時に災害警戒本部を設置しました。
tanaka|災害対策本部|各支所は避難所の開設準備状況を12時までに報告してください。
sato|上流支所|上流支所です。公民館の備蓄（毛布80枚、飲料水240本）を確認しました。
sato|災害対策本部|上流支所、避難所の開設準備完了。職員4名で対応します。
suzuki|災害対策本部|消防署です。河川の水位は現在2.1m、氾濫注意水位まで0.4mです。
tanaka|総務|本庁舎の非常用発電機の燃料を満タンにしました。72時間運転できます。
sato|総務|上流支所の衛星電話、通話テスト済みです。
suzuki|上流支所|国道12号の上流側、倒木のため片側通行です。
tanaka|災害対策本部|18時に避難準備・高齢者等避難開始を発令します。
sato|上流支所|高齢者施設「やまびこ」の入所者12名、公民館へ移動を始めました。
EOF
conf city-hall ""
start city-hall
HALL=$(port city-hall)
echo "   listening on 127.0.0.1:$HALL"

echo "== the branch office and the fire station join with tokens"
for n in branch station; do
	node "$n" init >/dev/null
	TOKEN=$(node city-hall mesh invite --address "127.0.0.1:$HALL")
	node "$n" mesh join "$TOKEN" >/dev/null
	node city-hall mesh admit --name "$n" "$(key "$n")" >/dev/null
done
conf branch "127.0.0.1:$HALL"
start branch
conf station "127.0.0.1:$(port branch)"	# the station reaches city hall through the branch
start station
echo "   token: $(echo "$TOKEN" | cut -c1-40)...  (kizuna mesh invite --qr prints a QR code)"

echo
echo "== live: posts travel city hall -> branch -> station"
node city-hall --as tanaka post 災害対策本部 "第二小学校体育館を避難所として開設しました。" >/dev/null
wait_for station "第二小学校体育館"
URGENT=$(node city-hall --as tanaka --json post --priority emergency 災害対策本部 \
    "堤防決壊の恐れ。川沿いの地区に避難指示。上流支所は受け入れ準備を。" |
    sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
wait_for branch "堤防決壊の恐れ"
node branch --as sato ack "$URGENT"
node branch --as sato status set safe --place 上流支所 --note "職員3名 無事"
node station --as suzuki status set needs-help --place 消防署 --note "発電機の燃料不足"
node branch --as sato post 災害対策本部 "上流支所、避難者の受け入れ準備完了。" >/dev/null
wait_for city-hall "受け入れ準備完了"
wait_same
echo
echo "== city hall's channel"
node city-hall tail 災害対策本部
echo
echo "== the emergency order and who acknowledged it"
node city-hall thread "$URGENT"
echo
echo "== roll call"
node city-hall rollcall
echo
echo "== search: 避難"
node station search 避難
echo
echo "== links at the branch office"
node branch peers

echo
echo "== the station is cut off; both sides keep working"
kill -TERM "$PID_station"; wait "$PID_station" 2>/dev/null || true
PIDS=$(echo "$PIDS" | sed "s/ $PID_station//")
node station --as suzuki post 災害対策本部 "消防署: 国道12号 4km地点で土砂崩れ、通行止め。" >/dev/null
node city-hall --as tanaka post 災害対策本部 "給水車は14時に中央公民館へ到着予定。" >/dev/null
echo "   city hall: $(node city-hall digest)"
echo "   station:   $(node station digest)  (differs: cut off)"
echo "== the link returns"
start station
wait_for city-hall "土砂崩れ"
wait_for station "給水車は14時"
wait_same
echo
echo "== every node holds the same workspace"
for n in city-hall branch station; do
	printf '   %-10s %s\n' "$n" "$(node "$n" digest)"
done
echo
echo "== the web workspace (a browser on this machine)"
for n in city-hall branch station; do
	printf '   %-10s %s\n' "$n" "$(url "$n")"
done
echo "   logins: tanaka / demo-tanaka (admin), sato / demo-sato, suzuki / demo-suzuki"
echo
echo "Nodes are in $D (logs: $D/*.log)."
echo "Try: $K --home $D/station tail 災害対策本部"
if [ -t 0 ] && [ "${KZ_DEMO_EXIT:-0}" != 1 ]; then
	echo "The mesh keeps running: post from another terminal, e.g."
	echo "  $K --home $D/branch --as sato post 災害対策本部 \"テスト\""
	echo "Ctrl-C stops the daemons."
	while :; do sleep 3600; done
fi
