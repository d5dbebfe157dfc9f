# The integration tests' harness, sourced by each script after it made its
# temporary folder $T.  Every check counts as passed or failed; a script
# ends with `finish NAME`, which prints "NAME: P passed, F failed" and exits
# non-zero if anything failed.
fails=0; passes=0

ok()   { passes=$((passes + 1)); }
bad()  { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect CODE DESCRIPTION -- COMMAND...: runs it, checks the exit code.
expect() {
	local code=$1 what=$2; shift 3
	"$@" >"$T/out" 2>"$T/err"; local rc=$?
	if [ "$rc" -ne "$code" ]; then
		bad "$what: exit $rc, wanted $code"; sed 's/^/  | /' "$T/out" "$T/err" >&2
	else ok; fi
}
has()  { grep -qF -- "$2" "$T/$1" && ok || { bad "$1 lacks '$2'"; sed 's/^/  | /' "$T/$1" >&2; }; }
hasnt() { grep -qF -- "$2" "$T/$1" && { bad "$1 has '$2'"; sed 's/^/  | /' "$T/$1" >&2; } || ok; }
lacks() { hasnt "$@"; }
lines() { local n; n=$(wc -l <"$T/$1"); [ "$n" -eq "$2" ] && ok || bad "$1 has $n lines, wanted $2"; }
empty() { [ -s "$T/$1" ] && { bad "$1 is not empty"; sed 's/^/  | /' "$T/$1" >&2; } || ok; }
eq()   { [ "$1" = "$2" ] && ok || bad "$3: '$1' != '$2'"; }
# field KEY: the first "KEY":"value" in $T/out.
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$T/out" | head -1; }
# until_ok DESCRIPTION -- COMMAND...: polls every 0.1 s for up to 10 s.
until_ok() {
	local what=$1 i; shift 2
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && { ok; return 0; }
		sleep 0.1
	done
	bad "$what: not within 10 s"; return 1
}
exited() { local s; s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
# stopped PID NAME: waits up to 10 s for the daemon to exit, then wants 0.
stopped() {
	local rc
	until_ok "$2 exits" -- exited "$1"
	exited "$1" || kill -9 "$1"
	wait "$1"; rc=$?
	[ "$rc" -eq 0 ] && ok || { bad "$2 exited $rc"; sed 's/^/  | /' "$T/$2.err" >&2; }
}
finish() {
	echo "$1: $passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}

# Real daemons.  The scripts set K (kizuna), D (kizunad) and the array pids
# (killed with -9 by their exit trap).
# no_link_reports HOME: [net] link_reports = false in HOME's config.  A node
# writes a link report (an entry of its feed) 10 s after it starts and when
# its links change; tests that count entries exactly would count those too,
# so start() turns them off unless the script sets LINK_REPORTS=1.
no_link_reports() {
	local c="$1/kizuna.conf"
	if grep -q '^link_reports = ' "$c"; then
		sed -i 's/^link_reports = .*/link_reports = false/' "$c"
	elif grep -q '^\[net\]$' "$c"; then
		sed -i '/^\[net\]$/a link_reports = false' "$c"
	else
		printf '[net]\nlink_reports = false\n' >>"$c"
	fi
}
# start NAME HOME: kizunad in the background, stderr appended to $T/NAME.err;
# its pid in DPID.
start() {
	[ -n "${LINK_REPORTS:-}" ] || [ ! -f "$2/kizuna.conf" ] ||
	    no_link_reports "$2"
	"$D" --home "$2" 2>>"$T/$1.err" &
	DPID=$!
	pids+=("$DPID")
}
# forget PID: a daemon that is gone (and reaped) is not killed on exit.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
# port NAME: the TCP port NAME's log says it listens on (the last one).
port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$1.err" | tail -1; }
# key HOME: the node key of HOME.
key() { "$K" --home "$1" --json status | sed -n 's/.*"node_key":"\([0-9a-f]*\)".*/\1/p'; }
# digest HOME: HOME's workspace digest.
digest() { "$K" --home "$1" digest; }
