#!/usr/bin/env bash
# kizunad as an operator and systemd see it: `-n` on the shipped and site
# configs and on bad ones (FILE:LINE), the refusals at start (not a node, a
# readable key, a socket path too long, a file in the socket's place, a
# second daemon on one home or on one socket), the control socket (mode
# 0600; ping, status, append; malformed, invalid and oversize requests
# answered and the connection going on or closed), the systemd
# notifications (READY, STATUS, WATCHDOG, STOPPING), SIGHUP ignored, SIGTERM
# and SIGINT stopping cleanly with the socket removed, even mid-stream, and
# a stale socket from a killed daemon replaced.  Every daemon started here
# is killed by its pid on exit.
set -u
K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
SINK="$KZ_TESTBIN/kz-notify-sink"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzd-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

# until DESCRIPTION -- COMMAND...: polls every 0.1 s for up to 10 s.
# Whether process $1 has exited (a zombie until waited for).
# stopped PID NAME: waits up to 5 s for the daemon to exit, then wants 0.
# start NAME ARGS...: kizunad in the background, stderr to $T/NAME.err; pid in $DPID.
start() {
	local name=$1; shift
	"$D" "$@" 2>"$T/$name.err" &
	DPID=$!
	pids+=("$DPID")
}
ctl() { "$C" --home "$A" "$@"; }
ping() { "$C" --home "$A" '{"cmd":"ping"}'; }

A="$T/a"
expect 0 "init" -- "$K" --home "$A" init

# ---------------------------------------------------------------- -n
expect 0 "-n on init's config" -- "$D" -n --home "$A"
has out "$A/kizuna.conf: configuration OK"
expect 0 "-n without a config file" -- "$D" -n --home "$T/empty"
has out "no such file; every setting at its default"
expect 0 "-n on the shipped default" -- "$D" -n -c "$KZ_SRC/firmware-config/kizuna.conf"
for f in "$KZ_SRC"/firmware-config/sites/*.conf; do
	expect 0 "-n on ${f##*/}" -- "$D" -n -c "$f"
	has out "${f##*/}: configuration OK"
done
expect 1 "-n on a missing -c file" -- "$D" -n -c "$T/missing.conf"
has err "$T/missing.conf: no such file"

printf '[node]\nname = x\ncolour = blue\n[log]\nlevel = debug\n' >"$T/bad.conf"
expect 1 "-n: unknown key on line 3" -- "$D" -n -c "$T/bad.conf"
has err "$T/bad.conf:3:"
has err "colour"
expect 1 "start with that config" -- "$D" --home "$A" -c "$T/bad.conf"
has err "$T/bad.conf:3:"

# badval DESCRIPTION SETTING-LINE REASON: a bad [net] value on line 2.
badval() {
	printf '[net]\n%s\n' "$2" >"$T/v.conf"
	expect 1 "-n: $1" -- "$D" -n -c "$T/v.conf"
	has err "$T/v.conf:2: [net]"
	has err "$3"
}
badval "listen without a port" "listen = 0.0.0.0" "is not ADDRESS:PORT"
badval "listen on a name" "listen = localhost:7420" "is not ADDRESS:PORT"
badval "IPv6 without brackets" "listen = ::1:7420" "is not ADDRESS:PORT"
badval "port over 65535" "peers = 192.0.2.1:70000" "is not HOST:PORT"
badval "peer port 0" "peers = 192.0.2.1:0" "is not HOST:PORT"
badval "not an address" "peers = 192.0.2.300:7420" "is not HOST:PORT"
badval "not an address either" "peers = 192.0.2.300.:7420" "is not HOST:PORT"
badval "a peer twice" "peers = 192.0.2.1:7420, 192.0.2.1:7420" "listed twice"
badval "an empty peer" "peers = 192.0.2.1:7420,,192.0.2.2:7420" "an empty entry"
badval "a non-boolean" "discovery = maybe" "'maybe' is not true or false"
badval "keepalive 0" "keepalive_s = 0" "from 1 to 300"
printf '[net]\nlisten = [::1]:0\npeers = branch-1.example.org:7420 , [2001:db8::1]:7420\ndiscovery = off\n[http]\nlisten =\n' >"$T/good.conf"
expect 0 "-n: names, IPv6, port 0, empty http" -- "$D" -n -c "$T/good.conf"

# The systemd unit passes systemd's own check (with this build's binary).
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s|^ExecStart=/usr/bin/kizunad|ExecStart=$D|" \
	    "$KZ_SRC/firmware-config/kizunad.service" >"$T/kizunad.service"
	expect 0 "systemd-analyze verify kizunad.service" -- \
	    systemd-analyze verify "$T/kizunad.service"
fi

# ---------------------------------------------------------------- refusals
expect 1 "not a node" -- "$D" --home "$T/none"
has err "is not a kizuna node"
chmod 644 "$A/node.key"
expect 1 "key readable by others" -- "$D" --home "$A"
has err "readable by group or others; refusing"
chmod 600 "$A/node.key"
L="$T/$(printf 'l%.0s' $(seq 100))"
expect 0 "init in a long path" -- "$K" --home "$L" init
expect 1 "-n: socket path too long" -- "$D" -n --home "$L"
has err "[control] socket: $L/control.sock is over the 107 bytes"
: >"$A/control.sock"
expect 1 "a file where the socket goes" -- "$D" --home "$A"
has err "$A/control.sock exists and is not a socket; refusing"
rm -f "$A/control.sock"

# ---------------------------------------------------------------- running
"$SINK" "$T/notify.sock" 60000 >"$T/notify.out" 2>"$T/notify.err" &
SINKPID=$!
pids+=("$SINKPID")
until_ok "notify socket" -- test -S "$T/notify.sock"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=200000 start d1 --home "$A"
D1=$DPID
until_ok "kizunad answers" -- ping
[ "$(stat -c %a "$A/control.sock")" = 600 ] && ok || bad "control.sock mode $(stat -c %a "$A/control.sock")"
[ "$(cat "$A/kizunad.lock")" = "$D1" ] && ok || bad "kizunad.lock holds '$(cat "$A/kizunad.lock")', not $D1"
until_ok "watchdog pings (every 100 ms)" -- grep -q WATCHDOG=1 "$T/notify.out"
has notify.out "READY=1"
has notify.out "STATUS=running: feed length 0"
has d1.err "info: ready"

expect 0 "ping" -- ctl '{"cmd":"ping"}'
has out '{"ok":true}'
expect 0 "status" -- ctl '{"cmd":"status"}'
has out "\"node_key\":\"$(cat "$A/node.pub")\""
has out '"feed_length":0'
has out "\"pid\":$D1"
has out '"schema_version":9'
has out '"uptime_s":'
has out '"store_bytes":'

# A channel_create op ("ops-1"), protobuf by hand: Op.channel_create = 21.
OP=$(printf '\252\001\007\012\005ops-1' | base64)
expect 0 "append" -- ctl "{\"cmd\":\"append\",\"op\":\"$OP\",\"id\":\"a1\"}"
has out '{"ok":true,"seq":1,"hash":"'
has out '"hlc":'
has out '"id":"a1"'
expect 0 "the CLI reads it while kizunad runs" -- "$K" --home "$A" log
has out "channel_create #ops-1"
expect 0 "status after append" -- ctl '{"cmd":"status"}'
has out '"feed_length":1'
has out '"entries":1'
until_ok "STATUS follows the append" -- grep -q "STATUS=running: feed length 1" "$T/notify.out"

# The CLI's writes go through the running daemon (it will push them to its
# peers): the daemon counts the request, and the entry is in the feed.
expect 0 "status before a CLI write" -- ctl '{"cmd":"status"}'
REQ=$(sed 's/.*"requests":\([0-9]*\).*/\1/' "$T/out")
expect 0 "CLI channel create through the daemon" -- "$K" --home "$A" channel create 本部
expect 0 "status after the CLI write" -- ctl '{"cmd":"status"}'
has out '"feed_length":2'
[ "$(sed 's/.*"requests":\([0-9]*\).*/\1/' "$T/out")" -eq $((REQ + 2)) ] && ok || bad "the CLI's append did not reach the daemon"

expect 0 "append: not an op" -- ctl "{\"cmd\":\"append\",\"op\":\"$(printf 'not an op' | base64)\"}"
has out '"code":"invalid_op","message":"the op is not a valid operation: malformed data"'
expect 0 "append: not base64" -- ctl '{"cmd":"append","op":"@@@@"}'
has out '"code":"bad_request","message":"\"op\" is not base64'
expect 0 "append: no op" -- ctl '{"cmd":"append","op":5}'
has out '"code":"bad_request","message":"append needs \"op\"'
expect 0 "append: op over 64 KiB" -- ctl "{\"cmd\":\"append\",\"op\":\"$(head -c 70000 /dev/zero | base64 -w0)\"}"
has out '"code":"too_big"'
expect 0 "no cmd" -- ctl '{"id":1}'
has out '"code":"bad_request","message":"the request has no \"cmd\" string"},"id":1}'
expect 0 "unknown command" -- ctl '{"cmd":"reboot"}'
has out '"code":"unknown_command","message":"unknown command '"'reboot'"

# After a malformed request the connection goes on.
expect 0 "malformed JSON, then ping" -- ctl '{"cmd":' '[1]' '{"cmd":"ping"}'
lines out 3
sed -n 1p "$T/out" | grep -qF '"code":"bad_request","message":"malformed JSON' && ok || bad "line 1 is not bad_request"
sed -n 2p "$T/out" | grep -qF '"message":"a request is a JSON object"' && ok || bad "line 2 is not 'a JSON object'"
[ "$(sed -n 3p "$T/out")" = '{"ok":true}' ] && ok || bad "line 3 is not the ping's answer"
printf '{"cmd":"\377"}\r\n\n{"cmd":"ping"}' >"$T/in"
expect 0 "invalid UTF-8, CRLF, a blank line, no final newline" -- ctl <"$T/in"
lines out 2
has out '"code":"bad_request"'
has out '{"ok":true}'
for i in $(seq 2000); do echo '{"cmd":"ping"}'; done >"$T/in"
expect 0 "2000 pipelined requests" -- ctl <"$T/in"
lines out 2000

# The line bound: 262144 bytes are a request, one more byte is not.
pad() { printf '{"cmd":"ping","pad":"'; head -c "$1" /dev/zero | tr '\0' x; printf '"}\n'; }
pad $((262144 - 23)) >"$T/in"
expect 0 "a line of 262144 bytes" -- ctl <"$T/in"
has out '{"ok":true}'
pad $((262144 - 22)) >"$T/in"
ctl <"$T/in" >"$T/out" 2>"$T/err"
has out '"code":"bad_request","message":"request line over 262144 bytes; closing the connection"'
lines out 1
expect 0 "ping after an oversize line" -- ping
has d1.err "request line over 262144 bytes; closing the connection"
expect 0 "bad requests counted" -- ctl '{"cmd":"status"}'
has out '"bad_requests":7'

# One kizunad per home, and one per socket.
expect 1 "a second kizunad on the home" -- "$D" --home "$A"
has err "another kizunad is running on $A (pid $D1)"
B="$T/b"
expect 0 "init b" -- "$K" --home "$B" init
printf '[control]\nsocket = %s\n' "$A/control.sock" >"$T/b.conf"
expect 1 "a kizunad on another home, same socket" -- "$D" --home "$B" -c "$T/b.conf"
has err "another kizunad is running: something answers on $A/control.sock"
expect 0 "the first one still answers" -- ping

kill -HUP "$D1"
until_ok "SIGHUP logged" -- grep -q "SIGHUP: reloading the config is not supported yet; ignored" "$T/d1.err"
expect 0 "ping after SIGHUP" -- ping

kill -TERM "$D1"
stopped "$D1" d1
[ ! -e "$A/control.sock" ] && ok || bad "control.sock left after SIGTERM"
has d1.err "SIGTERM: stopping"
has d1.err "info: stopped"
wait "$SINKPID" && ok || bad "kz-notify-sink saw no STOPPING=1"
has notify.out "STOPPING=1"

# SIGTERM while a client streams appends: the append in flight completes,
# every answer sent is whole, and every answered append is stored (and none
# stored unanswered: the feed grows by exactly the answers).
for i in $(seq 20000); do echo "{\"cmd\":\"append\",\"op\":\"$OP\"}"; done >"$T/many"
start d2 --home "$A"
D2=$DPID
until_ok "kizunad answers again" -- ping
ctl --timeout 60000 <"$T/many" >"$T/stream.out" 2>"$T/stream.err" &
CTL=$!
pids+=("$CTL")
until_ok "answers flowing" -- test -s "$T/stream.out"
kill -TERM "$D2"
stopped "$D2" d2
wait "$CTL"
n=$(wc -l <"$T/stream.out")
echo "stop mid-stream: $n of 20000 appends answered"
[ "$n" -ge 1 ] && [ "$n" -le 20000 ] && ok || bad "$n answers"
bad_lines=$(grep -cvE '^\{"ok":true,"seq":[0-9]+,"hash":"[0-9a-f]{64}","hlc":[0-9]+\}$' "$T/stream.out")
[ "$bad_lines" -eq 0 ] && ok || bad "$bad_lines partial or failed answers after SIGTERM"
[ ! -e "$A/control.sock" ] && ok || bad "control.sock left after a stop mid-stream"
expect 0 "status after the stop" -- "$K" --home "$A" status --json
# Two entries came before: the ops-1 append and the CLI's channel create.
has out "\"feed_length\":$((n + 2)),"

# A kizunad killed outright leaves its socket; the next one replaces it.
start d3 --home "$A"
until_ok "kizunad answers (3)" -- ping
{ kill -9 "$DPID"; wait "$DPID"; } 2>/dev/null
[ -S "$A/control.sock" ] && ok || bad "no stale socket after kill -9"
start d4 --home "$A"
D4=$DPID
until_ok "kizunad answers over the stale socket" -- ping
has d4.err "removing the stale control socket $A/control.sock"
kill -INT "$D4"
stopped "$D4" d4
has d4.err "SIGINT: stopping"
[ ! -e "$A/control.sock" ] && ok || bad "control.sock left after SIGINT"

finish daemon
