#!/usr/bin/env bash
# kizunad over radio: two kizunad, A (JA1AAA-1, which starts each session's
# handshake) and B (JA1BBB-1), in one mesh (B joined and admitted before
# either daemon starts), whose ONLY link is their [radio] KISS port: [net]
# listen is empty and discovery off (B's join token names 127.0.0.1:1,
# where nothing listens).
#
#   radio.sh relay      through kz-kiss-relay: two TNCs and the air in one
#                       process, 10 % of frames dropped (seeded), paced to
#                       2,400 bytes/s on one shared channel (19200 baud).
#                       Bad [radio] settings refused by kizunad -n with
#                       FILE:LINE; a catch-up of 100 posts A->B converges
#                       (one digest), then 3 live posts B->A, frames were
#                       dropped and sent again; an emergency post written
#                       right after 50 normal ones, while the channel is
#                       held (the relay paused, as by a long transmission
#                       or a fade), shows on B before the last of them once
#                       it is free; the idle link keeps alive; the relay
#                       dies: both links close with the reason, a post made
#                       meanwhile crosses once it is back; SIGTERM stops
#                       both cleanly.  A third node X linked to B by TCP
#                       only: A's posts reach X and X's reach A (radio and
#                       TCP in one path), one digest on all three.
#   radio.sh direwolf   through the shared Direwolf rig (../shared/radio,
#                       two real Direwolf 1.6 stations) at 1200 baud: 50
#                       posts A->B (one digest), then an emergency post
#                       written on A right after 50 more normal ones shows
#                       on B before the last of them.  Exit 77 (skipped)
#                       when direwolf or the rig is missing.
#
# Both print their measured figures (time to converge, bytes on air per
# post from the KISS ports' counters, the emergency's latency).  KZ_KEEP=1
# keeps the temporary folder (logs, stores) for a look after a failure.
set -u
mode=${1:-relay}
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
TB=${KZ_TESTBIN:?KZ_TESTBIN: the folder holding kz-kiss-relay}
src=${KZ_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
rig=$src/../shared/radio/rig.sh

case $mode in
relay) ;;
direwolf)
	if ! command -v direwolf >/dev/null 2>&1; then
		echo "direwolf is not installed (tools/setup.sh installs it): skipped"
		exit 77
	fi
	if [ ! -f "$rig" ]; then
		echo "no radio rig at $rig: skipped"
		exit 77
	fi ;;
*) echo "usage: radio.sh relay|direwolf" >&2; exit 2 ;;
esac

T=$(mktemp -d "${TMPDIR:-/tmp}/kzradio-XXXXXX")
pids=()
relay_pid=
rig_up=
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$relay_pid" ] && kill -9 "$relay_pid" 2>/dev/null
	[ -n "$rig_up" ] && bash "$rig" down >/dev/null 2>&1
	[ -n "${KZ_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

# now: seconds since the epoch, to the millisecond.
now() { date +%s.%N | cut -c1-14; }
# secs T0 T1: T1 - T0 with one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS DESCRIPTION -- COMMAND...: polls every 0.2 s.
wait_for() {
	local limit=$1 what=$2 end; shift 3
	end=$(( $(date +%s) + limit ))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && { ok; return 0; }
		sleep 0.2
	done
	bad "$what: not within $limit s"; return 1
}
# rstat HOME PATH...: fields of HOME's radio link (its row of `kizuna
# --json peers`), dotted paths (radio.arq.retransmits), one line each
# ("null" when absent).  Plain bash: the row's own fields come before its
# "radio" object, and each object's before the objects it holds.
rstat() {
	local row v p key re='^"([^"]*)"|^([^,}]*)'
	row=$("$K" --home "$1" --json peers 2>/dev/null |
	    grep -F '"transport":"radio"')
	shift
	for p; do
		v=$row
		while [[ $p == *.* ]]; do
			key=${p%%.*}; p=${p#*.}
			[[ $v == *"\"$key\":{"* ]] && v=${v#*\"$key\":\{} || v=
		done
		if [[ $v == *"\"$p\":"* ]] && v=${v#*\"$p\":} && [[ $v =~ $re ]]; then
			echo "${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
		else
			echo null
		fi
	done
}
# is HOME PATH VALUE: HOME's radio link's PATH is VALUE (now).
is() { [ "$(rstat "$1" "$2")" = "$3" ]; }
state_is() { is "$1" state "$2"; }
# over HOME PATH N: HOME's radio link's PATH is over N (now).
over() { local v; v=$(rstat "$1" "$2"); [ "$v" != null ] && [ "$v" -gt "$3" ]; }
# logged NAME PATTERN: $T/NAME.err has a line matching the extended regex.
logged() {
	grep -qE -- "$2" "$T/$1.err" && ok ||
	    { bad "$1.err has no line matching '$2'"; tail -n 20 "$T/$1.err" |
	    sed 's/^/  | /' >&2; }
}
shows() { "$K" --home "$1" tail -n 400 "$2" 2>/dev/null | grep -qF -- "$3"; }
same_digest() { [ "$(digest "$A")" = "$(digest "$B")" ]; }
# air HOME: bytes HOME's KISS port wrote to the TNC so far.
air() { rstat "$1" radio.kiss.bytes_out; }

# msg TAG: M is a staff message as they come in a flood (the place, what is
# short or arrived, how many, when), varied as real ones are, so that the
# link's compression is not flattered; TAG makes it unique.  Seeded.
RANDOM=4242
places=(上山公民館 南小学校体育館 中川駅 上山支所 市役所本庁舎 第二中学校
    福祉センター 消防団第3分団 下田集会所 川北保育園)
items=(飲料水 毛布 紙おむつ 簡易トイレ 発電機の燃料 粉ミルク 常備薬
    マスク 懐中電灯 乾電池 ブルーシート 土のう袋)
says=(届きました 不足しています 追加をお願いします 配布を始めました
    在庫を確認中です 明朝まで持ちます 道路冠水で届きません)
msg() {
	printf -v M '%s: %s %d個 %s（避難者%d名、%02d:%02d時点、担当%03d）%s' \
	    "${places[RANDOM % ${#places[@]}]}" "${items[RANDOM % ${#items[@]}]}" \
	    $((RANDOM % 400 + 1)) "${says[RANDOM % ${#says[@]}]}" \
	    $((RANDOM % 300)) $((RANDOM % 24)) $((RANDOM % 60)) \
	    $((RANDOM % 1000)) "$1"
}

# conf HOME DEVICE BIT_RATE MYCALL PEERCALL: a config with only the radio.
conf() {
	cat >"$1/kizuna.conf" <<-EOF
	[log]
	level = debug
	[net]
	listen =
	discovery = false
	[radio]
	device = $2
	bit_rate = $3
	mycall = $4
	peercall = $5
	$CHANNEL
	EOF
}

A="$T/a"; B="$T/b"
for h in "$A" "$B"; do
	expect 0 "init ${h##*/}" -- "$K" --home "$h" --json init
done
"$K" --home "$A" --json status >"$T/out"; AK=$(field node_key)
"$K" --home "$B" --json status >"$T/out"; BK=$(field node_key)
expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
expect 0 "a: user alice" -- "$K" --home "$A" user add --name Alice alice
expect 0 "a: channel" -- "$K" --home "$A" channel create ops
expect 0 "a: invite" -- "$K" --home "$A" mesh invite --address 127.0.0.1:1
TOK=$(cat "$T/out")
expect 0 "b: join" -- "$K" --home "$B" mesh join "$TOK"
expect 0 "a admits b" -- "$K" --home "$A" mesh admit "$BK" --name b
# X (relay mode): a third node whose only link is TCP to B, so entries
# cross TCP and radio in one path, X - B - A.
X="$T/x"
if [ "$mode" = relay ]; then
	expect 0 "init x" -- "$K" --home "$X" --json init
	"$K" --home "$X" --json status >"$T/out"; XK=$(field node_key)
	expect 0 "x: join" -- "$K" --home "$X" mesh join "$TOK"
	expect 0 "a admits x" -- "$K" --home "$A" mesh admit "$XK" --name x
fi
# In relay mode A holds a backlog that B lacks: 100 posts of ~230 bytes
# (kz-fill), a catch-up of many frames through the lossy channel.
NFILL=0
if [ "$mode" = relay ]; then
	NFILL=100
	expect 0 "a: a backlog of $NFILL posts" -- \
	    "$TB/kz-fill" "$A" ops alice "$NFILL"
fi

# ---------------------------------------------------------------- configs
if [ "$mode" = relay ]; then
	# bad LINE WHAT TEXT: kizunad -n names bad.conf:LINE and says TEXT.
	badconf() {
		printf "$3" >"$T/bad.conf"
		expect 1 "-n refuses $2" -- "$D" -n -c "$T/bad.conf"
		has err "$T/bad.conf:$1: [radio] $4"
	}
	R='[radio]\ndevice = tcp:127.0.0.1:9\n'
	badconf 3 "a bad callsign" "${R}mycall = JA1ABC-16\npeercall = JA1XYZ\n" \
	    "mycall: 'JA1ABC-16': the SSID is over 15"
	badconf 4 "a bad callsign" "${R}mycall = JA1ABC\npeercall = JA1XYZ/3\n" \
	    "peercall: 'JA1XYZ/3': "
	badconf 2 "a missing callsign" "${R}peercall = JA1XYZ\n" \
	    "mycall '': "
	badconf 4 "a reserved destination" \
	    "${R}mycall = JA1ABC\npeercall = SPEECH\n" \
	    "peercall 'SPEECH': Direwolf does not transmit frames to SPEECH"
	badconf 4 "one callsign twice" "${R}mycall = ja1abc-0\npeercall = JA1ABC\n" \
	    "peercall: the same as mycall"
	badconf 5 "a speed" \
	    "[radio]\ndevice = /dev/ttyS0\nmycall = JA1ABC\npeercall = JA1XYZ\nspeed = 12345\n" \
	    "speed 12345: not one of 300, 600, 1200"
	badconf 2 "a device" "[radio]\ndevice = tcp:tnc.example:8001\nmycall = JA1ABC\npeercall = JA1XYZ\n" \
	    "device 'tcp:tnc.example:8001': not tcp:HOST:PORT"
	badconf 6 "a frame size" "${R}mycall = JA1ABC\npeercall = JA1XYZ\n\nframe_max = 63\n" \
	    "frame_max 63: leaves 47 bytes for the link's frames"
	badconf 5 "pid 0xff" "${R}mycall = JA1ABC\npeercall = JA1XYZ\npid = 0xff\n" \
	    "pid must be from 0x00 to 0xfe"
	badconf 5 "a compression" "${R}mycall = JA1ABC\npeercall = JA1XYZ\ncompress = lz4\n" \
	    "compress: 'lz4' is not one of the allowed values"
	printf "${R}mycall = JA1ABC\npeercall = JA1XYZ\npid = 0xcf\nframe_max = 64\nbit_rate = 300\n" >"$T/good.conf"
	expect 0 "-n takes a good radio config" -- "$D" -n -c "$T/good.conf"
	has out "configuration OK"
	expect 0 "-n on the shipped station example" -- \
	    "$D" -n -c "$src/firmware-config/sites/station.conf"
fi

# ---------------------------------------------------------------- channel
if [ "$mode" = relay ]; then
	# Fast timing: the relay has no preamble and no carrier sense.
	CHANNEL=$'txdelay_ms = 10\ntxtail_ms = 10\nslottime_ms = 10\npersist = 255\nkeepalive_s = 2'
	BITRATE=19200
	"$TB/kz-kiss-relay" --loss 0.1 --seed 7 --rate 2400 --shared \
	    >"$T/relay.out" 2>"$T/relay.err" &
	relay_pid=$!
	wait_for 10 "the relay listens" -- test -s "$T/relay.out"
	read -r PA PB <"$T/relay.out"
	OPEN_S=60; N1=0; N2=50; CONVERGE_S=120
else
	# A tuned TNC (docs/radio.md): short preamble, short slots.
	CHANNEL=$'txdelay_ms = 100\ntxtail_ms = 20\nslottime_ms = 10\npersist = 127'
	BITRATE=1200
	# Ports of its own (other tests run rigs on 8101, 9501 ...): the first
	# base whose ports are free.
	export RIG_DIR="$T/rig" RIG_KISS_BASE RIG_AGW_BASE RIG_CTL_PORT
	mkdir -p "$RIG_DIR"
	rig_up=1
	for base in 9931 9831 9631 9431 9331; do
		RIG_KISS_BASE=$base RIG_AGW_BASE=$((base + 20)) RIG_CTL_PORT=$((base + 40))
		bash "$rig" up --baud 1200 >"$T/rig.out" 2>&1 && break
		grep -q "in use" "$T/rig.out" || break
		RIG_KISS_BASE=
	done
	if [ -z "$RIG_KISS_BASE" ] || ! bash "$rig" status >/dev/null 2>&1; then
		bad "the rig did not come up"; sed 's/^/  | /' "$T/rig.out" >&2
		finish radio.direwolf; exit 1
	fi
	PA=$RIG_KISS_BASE; PB=$((RIG_KISS_BASE + 1))
	OPEN_S=120; N1=50; N2=50; CONVERGE_S=180
fi
conf "$A" "tcp:127.0.0.1:$PA" "$BITRATE" JA1AAA-1 JA1BBB-1
conf "$B" "tcp:127.0.0.1:$PB" "$BITRATE" JA1BBB-1 JA1AAA-1
# In relay mode B also listens on TCP, for X.
[ "$mode" = relay ] && sed -i 's/^listen =$/listen = 127.0.0.1:0/' "$B/kizuna.conf"
expect 0 "a: -n" -- "$D" -n --home "$A"
expect 0 "b: -n" -- "$D" -n --home "$B"

# B first (it answers), so A's first handshake message finds it on air.
start b "$B"; DB=$DPID
wait_for 20 "b's port is up" -- is "$B" radio.port up
start a "$A"; DA=$DPID
t0=$(now)
wait_for "$OPEN_S" "a's radio link opens" -- state_is "$A" open
wait_for 30 "b's radio link opens" -- state_is "$B" open
wait_for 30 "a knows b's node key" -- is "$A" node_key "$BK"
wait_for 30 "b knows a's node key" -- is "$B" node_key "$AK"
t_open=$(secs "$t0" "$(now)")
expect 0 "a: status" -- "$C" --home "$A" '{"cmd":"status"}'
has out '"listen_port":null'
has out "\"address\":\"tcp:127.0.0.1:$PA\",\"direction\":\"out\",\"state\":\"open\",\"node_key\":\"$BK\",\"discovered\":false,\"transport\":\"radio\",\"name\":\"b\""
has out '"mycall":"JA1AAA-1","peercall":"JA1BBB-1","initiator":true'
has out "\"bit_rate\":$BITRATE,\"mtu\":200,"
has out '"compress":"dict","compress_max":"dict"'
has out '"radio":{"device":"tcp:127.0.0.1:'
expect 0 "b: status" -- "$C" --home "$B" '{"cmd":"status"}'
has out "\"direction\":\"in\",\"state\":\"open\",\"node_key\":\"$AK\",\"discovered\":false,\"transport\":\"radio\""
expect 0 "a: peers" -- "$K" --home "$A" peers
has out "out radio tcp:127.0.0.1:$PA"
has out "open       ${BK:0:16} (b)"
grep -q "radio JA1AAA-1>JA1BBB-1: linked with node ${BK:0:16} (b)" "$T/a.err" &&
    ok || bad "a's log does not name the linked node"
grep -q "this station starts each session's handshake" "$T/a.err" && ok ||
    bad "a's log does not say it starts the handshake"
grep -q "this station answers each session's handshake" "$T/b.err" && ok ||
    bad "b's log does not say it answers the handshake"

if [ "$NFILL" -gt 0 ]; then
	# ---------------------------------------------------------- catch-up
	# Then 3 posts through B's daemon go the other way.
	wait_for "$CONVERGE_S" "b catches up on a's backlog (one digest)" -- \
	    same_digest
	t_conv=$(secs "$t0" "$(now)")
	n=$(rstat "$B" entries_in)
	[ "$n" -ge "$NFILL" ] && ok || bad "b counts $n entries in, wanted >= $NFILL"
	per_post=$(( ($(air "$A") + $(air "$B")) / NFILL ))
	for i in 1 2 3; do
		msg " 停電 from b $i"
		"$K" --home "$B" --as alice post ops "$M" >/dev/null ||
		    bad "b: post $i"
	done
	wait_for "$CONVERGE_S" "a shows b's posts" -- shows "$A" ops "停電 from b 3"
	n=$(rstat "$A" entries_in)
	[ "$n" -ge 3 ] && ok || bad "a counts $n entries in, wanted >= 3"
	echo "catch-up: $NFILL posts A->B in ${t_conv} s after a started," \
	    "$per_post bytes on air per post; then 3 posts B->A"
	n=$(rstat "$A" radio.arq.retransmits radio.arq.timeouts \
	    radio.arq.bad_crc | paste -sd' ')
	read -r re to crc <<<"$n"
	[ $((re + to)) -gt 0 ] && ok || bad "no frame was sent again at 10 % loss"
	eq "$crc" 0 "a: frames with a bad CRC"
else
	# ---------------------------------------------------------- part 1
	airA0=$(air "$A"); airB0=$(air "$B")
	t1=$(now)
	for i in $(seq -w 1 "$N1"); do
		msg " 第1報 $i"
		"$K" --home "$A" --as alice post ops "$M" >/dev/null ||
		    bad "a: post $i"
	done
	wait_for "$CONVERGE_S" "b shows a's $N1 posts" -- shows "$B" ops " 第1報 $N1"
	wait_for "$CONVERGE_S" "one digest" -- same_digest
	t_conv=$(secs "$t1" "$(now)")
	airA1=$(air "$A"); airB1=$(air "$B")
	per_post=$(( (airA1 - airA0 + airB1 - airB0) / 10#$N1 ))
	echo "part 1: $N1 posts A->B converged in ${t_conv} s;" \
	    "$((airA1 - airA0)) + $((airB1 - airB0)) bytes on air, $per_post per post"
	n=$(rstat "$B" entries_in)
	[ "$n" -ge "$N1" ] && ok || bad "b counts $n entries in, wanted >= $N1"
	# The rows' sync figures (docs/api.md, GET /api/status): caught up,
	# nothing pending either way, the peer heard within seconds.
	in_sync() { is "$A" lag_s 0 && is "$A" pending_out 0 &&
	    is "$A" pending_bytes_out 0 && is "$A" pending_bytes_in 0 &&
	    is "$B" lag_s 0 && is "$B" pending_in 0; }
	wait_for 30 "a's and b's radio rows in sync" -- in_sync
	lc=$(rstat "$A" last_contact)
	[ "$lc" != null ] && [ "$lc" -ge $(( $(date +%s) - 15 )) ] && ok ||
	    bad "a last heard b at '$lc', now $(date +%s)"
fi

# ---------------------------------------------------------------- part 2
# 50 normal posts, then at once an emergency: B must show the emergency
# before the last of the 50 (it travels alone, ahead of the backlog).  At
# 1200 baud the posts outrun the link, so a backlog forms; the relay is
# faster than the CLI writes (and much faster than an ASan build's), so
# there the channel is held while they are written, and a backlog forms
# the same way.
[ "$mode" = relay ] && kill -STOP "$relay_pid"
for i in $(seq -w 1 "$N2"); do
	msg " 第2報 通常 $i/$N2"
	"$K" --home "$A" --as alice post ops "$M" >/dev/null ||
	    bad "a: normal post $i"
done
"$K" --home "$A" --as alice post --priority emergency ops \
    "緊急: 堤防決壊 すぐ避難" >/dev/null || bad "a: emergency post"
te=$(now)
[ "$mode" = relay ] && kill -CONT "$relay_pid"
seen=
end=$(( $(date +%s) + CONVERGE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
	"$K" --home "$B" tail -n 400 ops >"$T/tail" 2>/dev/null
	if grep -qF "緊急: 堤防決壊" "$T/tail"; then
		seen=$(now)
		break
	fi
	sleep 0.1
done
if [ -z "$seen" ]; then
	bad "b never showed the emergency post"
else
	ok
	lat=$(secs "$te" "$seen")
	before=$(grep -c "第2報 通常" "$T/tail")
	grep -qF "第2報 通常 $N2/$N2" "$T/tail" &&
	    bad "b showed the last normal post before the emergency" || ok
	grep -q "\[emergency\]" "$T/tail" && ok ||
	    bad "b does not mark the post as an emergency"
	echo "part 2: the emergency showed on b ${lat} s after it was written," \
	    "with $before of the $N2 normal posts before it"
fi
wait_for "$CONVERGE_S" "b shows all $N2 normal posts" -- \
    shows "$B" ops "第2報 通常 $N2/$N2"
wait_for "$CONVERGE_S" "one digest after part 2" -- same_digest
t_all=$(secs "$te" "$(now)")
echo "part 2: all $N2 normal posts on b ${t_all} s after the emergency was written"
n=$(rstat "$B" urgent_in)
[ "$n" -ge 1 ] && ok || bad "b counts $n urgent entries in"

# ---------------------------------------------------------------- relay only
if [ "$mode" = relay ]; then
	# Forwarding between transports: X links to B over TCP only; what A
	# wrote reaches X (radio, then TCP) and what X writes reaches A (TCP,
	# then radio), each hop forwarding what it stored.
	wait_for 10 "b listens on tcp" -- grep -q "listening on 127.0.0.1:" "$T/b.err"
	PBT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/b.err" | tail -1)
	cat >"$X/kizuna.conf" <<-EOF
	[log]
	level = debug
	[net]
	listen =
	peers = 127.0.0.1:$PBT
	discovery = false
	EOF
	start x "$X"; DX=$DPID
	same3() { [ "$(digest "$X")" = "$(digest "$A")" ] && same_digest; }
	wait_for 30 "x catches up from b (a's posts, over radio then tcp)" -- same3
	expect 0 "x: post" -- "$K" --home "$X" --as alice post ops "from x: tcp, then radio"
	wait_for "$CONVERGE_S" "a shows x's post" -- shows "$A" ops "from x: tcp, then radio"
	expect 0 "a: urgent post" -- "$K" --home "$A" --as alice post --priority urgent ops "from a: radio, then tcp"
	wait_for "$CONVERGE_S" "x shows a's post" -- shows "$X" ops "from a: radio, then tcp"
	wait_for 30 "one digest on a, b and x" -- same3
	expect 0 "b: status" -- "$C" --home "$B" '{"cmd":"status"}'
	has out '"transport":"tcp"'
	has out '"transport":"radio"'
	expect 0 "x: status" -- "$C" --home "$X" '{"cmd":"status"}'
	has out "\"address\":\"127.0.0.1:$PBT\",\"direction\":\"out\",\"state\":\"open\",\"node_key\":\"$BK\""
	kill -TERM "$DX"
	stopped "$DX" x
	forget "$DX"

	# Idle: keepalives every 5 s (a Ping and its answer), nothing else.
	f0=$(rstat "$A" radio.arq.frames_out)
	wait_for 30 "a keeps the idle link alive" -- \
	    over "$A" radio.arq.frames_out "$f0"
	eq "$(rstat "$A" state)" open "a's link after idling"

	# The relay (both TNCs) goes away: each link closes with the reason.
	kill -TERM "$relay_pid"
	wait "$relay_pid" && ok || bad "the relay exited $?"
	relay_pid=
	sed 's/^/  relay: /' "$T/relay.err"
	d=$(awk '{ s += $6 } END { print s }' FS='[ ,]+' "$T/relay.err")
	[ "${d:-0}" -gt 0 ] && ok || bad "the relay dropped no frame"
	wait_for 20 "a's link closes" -- state_is "$A" connecting
	wait_for 20 "b's link closes" -- state_is "$B" connecting
	logged a "session [0-9a-f]{8} ended: the radio port went down: the TNC closed the connection"
	rstat "$A" last_error >"$T/out"
	has out "the radio port went down"
	eq "$(rstat "$A" radio.port)" down "a's port"
	eq "$(rstat "$A" radio.kiss.downs)" 1 "a's port downs"
	expect 0 "b: post while the radio is down" -- \
	    "$K" --home "$B" --as alice post ops "while the TNC was away"
	"$TB/kz-kiss-relay" --loss 0.1 --seed 8 --rate 2400 --shared \
	    --ports "$PA" "$PB" >"$T/relay.out" 2>"$T/relay.err" &
	relay_pid=$!
	wait_for 60 "a's link opens again" -- state_is "$A" open
	wait_for 60 "a shows the post made meanwhile" -- \
	    shows "$A" ops "while the TNC was away"
	wait_for 30 "one digest after the relay came back" -- same_digest
	eq "$(rstat "$A" radio.sessions)" 2 "a's sessions"
	eq "$(rstat "$A" radio.kiss.ups)" 2 "a's port ups"
fi

# ---------------------------------------------------------------- stop
kill -TERM "$DA" "$DB"
stopped "$DA" a
forget "$DA"
stopped "$DB" b
forget "$DB"
logged a "session [0-9a-f]{8} ended: the node is shutting down"
if [ "$mode" = relay ]; then
	kill -TERM "$relay_pid"
	wait "$relay_pid" && ok || bad "the relay exited $?"
	relay_pid=
else
	bash "$rig" status >/dev/null 2>&1 && ok || bad "a rig process died"
	bash "$rig" down >/dev/null 2>&1; rig_up=
fi
echo "figures: link open ${t_open} s after a started; converged ${t_conv} s;" \
    "${per_post} bytes on air per post; emergency ${lat:-?} s;" \
    "all of part 2 ${t_all} s"
finish "radio.$mode"
