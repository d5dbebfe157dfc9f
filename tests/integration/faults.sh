#!/usr/bin/env bash
# Real kizunad processes under faults.  `faults.sh kill9`, `faults.sh
# diskfull`, or both (no argument).
#
#   kill9     three nodes in a chain A-B-C on 127.0.0.1 (B dials A, C dials
#             B).  Two writers post steadily through the CLI, one on A and
#             one on B ("load a N", "load b N"; each post whose command
#             exited 0 is acknowledged: through the node's kizunad, or
#             straight into its store while none runs), while sync runs.
#             20 times a seeded choice of A or B is killed with -9 at a
#             seeded random moment; right after each kill (before the
#             restart) `kizuna verify` exits 0 on all three nodes; the node
#             is restarted on its port.  Afterwards every acknowledged post
#             is on every node (exact sets: acknowledged <= held, held <=
#             attempted, one set on all three), one digest, no feed forked
#             ("forks":0), every store verifies.  The seed is printed;
#             KZ_SEED=N replays the choices and the moments (not the
#             scheduler).
#   diskfull  B's home is on a small tmpfs (a mount namespace of the test's
#             own: the script re-executes itself under `unshare -m` as root
#             or `unshare -rm`; as root where neither works, a chroot, the
#             tmpfs is mounted on the test's folder and unmounted on exit;
#             otherwise the test FAILS, it is never skipped).
#             A 7 MiB filler file takes most of its 8 MiB first.  B catches
#             up a 3,000-post backlog from A until SQLite reports the disk
#             full: B's kizunad stays up and closes that link (the run it
#             could not store is not acknowledged; the next session resumes),
#             and once the disk is topped off (a second filler) a post on B
#             exits 1 saying the disk is full (the posts acknowledged before
#             must survive).  B killed with -9 on the full disk verifies,
#             restarts, still runs and still refuses posts.  The fillers
#             deleted and the tmpfs grown to 24 MiB (room for the caught-up
#             store and its WAL), posting on B works again and sync resumes
#             (no restart) to one digest with A; both stop cleanly and verify.
#
# Every daemon started here is killed by its pid on exit.  KZ_FAULTS_KEEP=1
# keeps the folder.
set -u
WHAT=${1:-all}
case $WHAT in kill9|diskfull|all) ;; *) echo "usage: faults.sh [kill9|diskfull]" >&2; exit 2 ;; esac

# The disk-full part needs a tmpfs of its own: a mount namespace.
if [ "$WHAT" != kill9 ] && [ -z "${KZ_FAULTS_NS:-}" ]; then
	export KZ_FAULTS_NS=1
	# As root, a mount namespace alone (a chroot forbids user namespaces);
	# otherwise one inside a user namespace of the test's own.
	if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
		exec unshare -m bash "$0" "$@"
	fi
	if unshare -rm true 2>/dev/null; then
		exec unshare -rm bash "$0" "$@"
	fi
	# Root where no namespace can be made (a chroot whose / is not a
	# mount point): the tmpfs goes on the test's own folder, and the
	# exit trap unmounts it.
	if [ "$(id -u)" != 0 ]; then
		echo "FAIL: faults: cannot create a mount namespace (unshare -m: $(unshare -m true 2>&1);" \
		    "unshare -rm: $(unshare -rm true 2>&1)); the disk-full test needs one for its own tmpfs" \
		    "(root, or unprivileged user namespaces)" >&2
		KZ_FAULTS_NS=none
	fi
fi

K="$KZ_BIN/kizuna"
D="$KZ_BIN/kizunad"
C="$KZ_BIN/kizuna-ctl"
FILL="$KZ_TESTBIN/kz-fill"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzfaults-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -e "$T/stop" ] || touch "$T/stop" 2>/dev/null
	for p in "${wpids[@]}"; do wait "$p" 2>/dev/null; done
	mountpoint -q "$T/fs" 2>/dev/null && umount "$T/fs"
	[ -n "${KZ_FAULTS_KEEP:-}" ] && echo "faults: kept $T" || rm -rf "$T"
}
wpids=()
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
step() { echo "faults: $* ($((SECONDS - T0)) s)"; }

conf() {
	sed -i "s/^listen = .*/listen = $2/; s/^peers = .*/peers = $3/;
	    s/^discovery = .*/discovery = false/; s/^level = .*/level = debug/;
	    s/^reconnect_max_s = .*/reconnect_max_s = 1/;
	    s/^keepalive_s = .*/keepalive_s = 1/" "$1/kizuna.conf"
}
status() { "$C" --home "$1" '{"cmd":"status"}' >"$T/st" 2>/dev/null; }
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$T/st" | head -1; }
holds() { status "$1" && [ "$(num entries)" -ge "$2" ] 2>/dev/null; }
answers() { "$C" --home "$1" '{"cmd":"ping"}'; }
until_s() {
	local n=$1 what=$2 end=$((SECONDS + $1)); shift 3
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && { ok; return 0; }
		sleep 0.1
	done
	bad "$what: not within $n s"; return 1
}
# loads HOME: the "load ..." texts of HOME's #ops, sorted, in $T/held.HOME.
loads() {
	"$K" --home "$1" --json tail -n 100000 ops |
	    sed -n 's/.*"text":"\(load [ab] [0-9]*\)".*/\1/p' | sort -u
}

# ---------------------------------------------------------------- kill -9
kill9() {
	local SEED=${KZ_SEED:-$(( $(date +%s%N) % 1000000 ))}
	local ROUNDS=${KZ_FAULTS_ROUNDS:-20}
	echo "faults: kill9 seed $SEED (KZ_SEED=$SEED replays it), $ROUNDS kills"
	RANDOM=$SEED
	local A="$T/a" B="$T/b" Cc="$T/c" h i victim vpid wait_ms PA PB
	local DA DB DC
	for h in a b c; do
		expect 0 "init $h" -- "$K" --home "$T/$h" --json init
		conf "$T/$h" "" ""
	done
	expect 0 "a: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
	expect 0 "a: user alice" -- "$K" --home "$A" user add --name Alice alice
	expect 0 "a: channel" -- "$K" --home "$A" channel create ops
	for h in b c; do
		expect 0 "a admits $h" -- "$K" --home "$A" mesh admit --name "$h" "$(key "$T/$h")"
	done
	conf "$A" 127.0.0.1:0 ""
	start a "$A"; DA=$DPID
	until_s 10 "a listens" -- grep -q "listening on 127.0.0.1:" "$T/a.err"
	PA=$(port a)
	conf "$A" "127.0.0.1:$PA" ""
	expect 0 "a: invite" -- "$K" --home "$A" mesh invite --address "127.0.0.1:$PA"
	expect 0 "b: join" -- "$K" --home "$B" mesh join "$(cat "$T/out")"
	conf "$B" 127.0.0.1:0 "127.0.0.1:$PA"
	start b "$B"; DB=$DPID
	until_s 10 "b listens" -- grep -q "listening on 127.0.0.1:" "$T/b.err"
	PB=$(port b)
	conf "$B" "127.0.0.1:$PB" "127.0.0.1:$PA"
	expect 0 "a: invite for c" -- "$K" --home "$A" mesh invite --address "127.0.0.1:$PB"
	expect 0 "c: join" -- "$K" --home "$Cc" mesh join "$(cat "$T/out")"
	start c "$Cc"; DC=$DPID
	until_s 20 "c gets the channel through b" -- \
	    "$K" --home "$Cc" tail -n 1 ops
	step "kill9: a, b, c linked"

	# The writers: one post at a time, each N recorded as acknowledged
	# (exit 0) or not.
	writer() {
		local home=$1 tag=$2 n=0
		while [ ! -e "$T/stop" ]; do
			n=$((n + 1))
			echo "$n" >>"$T/tried.$tag"
			if "$K" --home "$home" --as alice post ops "load $tag $n" \
			    >/dev/null 2>>"$T/writer.$tag.err"; then
				echo "$n" >>"$T/acked.$tag"
			fi
		done
	}
	: >"$T/acked.a"; : >"$T/acked.b"
	writer "$A" a & wpids+=($!)
	writer "$B" b & wpids+=($!)

	for i in $(seq "$ROUNDS"); do
		wait_ms=$((200 + RANDOM % 1000))
		if [ $((RANDOM % 2)) -eq 0 ]; then victim=a; vpid=$DA; else victim=b; vpid=$DB; fi
		sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
		disown "$vpid"	# no "Killed" line from bash
		kill -9 "$vpid"
		until_s 10 "kill9 $i: $victim is gone" -- exited "$vpid"
		forget "$vpid"
		for h in a b c; do
			if ! "$K" --home "$T/$h" verify >"$T/v.out" 2>&1; then
				bad "kill9 $i (seed $SEED): $h does not verify after $victim was killed"
				sed 's/^/  | /' "$T/v.out" >&2
			else ok; fi
		done
		start "$victim" "$T/$victim"
		case $victim in a) DA=$DPID ;; b) DB=$DPID ;; esac
		until_s 10 "kill9 $i: $victim answers after its restart" -- answers "$T/$victim"
		echo "faults: kill $i: $victim after ${wait_ms} ms; acknowledged a $(wc -l <"$T/acked.a"), b $(wc -l <"$T/acked.b")"
	done
	touch "$T/stop"
	for i in "${wpids[@]}"; do wait "$i"; done
	wpids=()
	step "kill9: $ROUNDS kills done"

	local NA NB
	NA=$(wc -l <"$T/acked.a"); NB=$(wc -l <"$T/acked.b")
	[ "$NA" -ge 20 ] && [ "$NB" -ge 20 ] && ok ||
	    bad "kill9: too few posts acknowledged to mean anything (a $NA, b $NB)"
	same3() { local d; d=$(digest "$A"); [ "$(digest "$B")" = "$d" ] && [ "$(digest "$Cc")" = "$d" ]; }
	until_s 30 "kill9 (seed $SEED): one digest on a, b and c" -- same3
	{ sed 's/^/load a /' "$T/acked.a"; sed 's/^/load b /' "$T/acked.b"; } | sort -u >"$T/acked"
	{ sed 's/^/load a /' "$T/tried.a"; sed 's/^/load b /' "$T/tried.b"; } | sort -u >"$T/tried"
	for h in a b c; do
		loads "$T/$h" >"$T/held.$h"
		comm -23 "$T/acked" "$T/held.$h" >"$T/lost.$h"
		[ -s "$T/lost.$h" ] && {
			bad "kill9 (seed $SEED): $h lacks $(wc -l <"$T/lost.$h") acknowledged posts"
			head -5 "$T/lost.$h" | sed 's/^/  | /' >&2
		} || ok
		comm -13 "$T/tried" "$T/held.$h" >"$T/extra.$h"
		empty "extra.$h"
		cmp -s "$T/held.a" "$T/held.$h" && ok || bad "kill9 (seed $SEED): a and $h hold different posts"
		"$K" --home "$T/$h" --json status >"$T/out"
		has out '"forks":0,'
	done
	echo "faults: kill9: $NA + $NB acknowledged, $(wc -l <"$T/held.a") held, $(wc -l <"$T/tried") tried"
	for h in a b c; do
		case $h in a) i=$DA ;; b) i=$DB ;; c) i=$DC ;; esac
		kill -TERM "$i"
		stopped "$i" "$h"
		forget "$i"
		expect 0 "kill9: $h verifies at the end" -- "$K" --home "$T/$h" verify
	done
	for h in a b c; do
		lacks "$h.err" "handle left open"
		lacks "$h.err" "Sanitizer"
		lacks "$h.err" "runtime error"
	done
	step "kill9: done"
}

# ---------------------------------------------------------------- disk full
# posts_until_refused NAME HOME TAG: posts "TAG N" on HOME until one is
# refused (at most 50): it must exit 1 saying the disk is full.  The ones
# acknowledged are listed in $T/fullacked.
posts_until_refused() {
	local n rc
	for n in $(seq 50); do
		"$K" --home "$2" --as alice post ops "$3 $n" >"$T/out" 2>"$T/err"; rc=$?
		[ "$rc" -eq 0 ] || break
		echo "$3 $n" >>"$T/fullacked"
	done
	echo "faults: diskfull: $(($n - 1)) posts on $1 acknowledged before the first refusal ($3)"
	[ "$rc" -eq 1 ] && ok || bad "diskfull: a post on $1's full disk exits $rc, wanted 1"
	has err "disk is full"
}

# full_report: what b's disk and kizunad show, when b does not catch up.
full_report() {
	{
		df -k "$FS" | sed 's/^/  | /'
		ls -l "$B" | sed 's/^/  | /'
		grep -v "control client" "$T/fb2.err" | tail -n 25 | cut -c1-200 | sed 's/^/  | fb2: /'
	} >&2
}

diskfull() {
	: >"$T/fullacked"
	local A="$T/fa" FS="$T/fs" B POSTS=${KZ_FAULTS_POSTS:-3000} TOTAL PA DA DB N1 N2 BK
	B="$FS/b"
	if [ "${KZ_FAULTS_NS:-}" != 1 ]; then
		bad "diskfull: no mount namespace (see above): not tested"
		return
	fi
	mkdir -p "$FS"
	if ! mount -t tmpfs -o size=${KZ_FAULTS_TMPFS_K:-8192}k tmpfs "$FS" 2>"$T/mount.err"; then
		bad "diskfull: cannot mount a tmpfs in the test's namespace: $(cat "$T/mount.err")"
		return
	fi
	expect 0 "fa: init" -- "$K" --home "$A" --json init
	expect 0 "b: init on the tmpfs" -- "$K" --home "$B" --json init
	conf "$A" 127.0.0.1:0 ""
	BK=$(key "$B")
	expect 0 "fa: mesh create" -- "$K" --home "$A" mesh create --name 谷川市
	expect 0 "fa: user alice" -- "$K" --home "$A" user add --name Alice alice
	expect 0 "fa: channel" -- "$K" --home "$A" channel create ops
	expect 0 "fa admits b" -- "$K" --home "$A" mesh admit --name b "$BK"
	expect 0 "fa: the backlog ($POSTS posts)" -- "$FILL" "$A" ops alice "$POSTS"
	TOTAL=$(sed -n 's/.*"entries":\([0-9]*\).*/\1/p' "$T/out")
	# The filler: 7 MiB of the 8 that the operator can delete to make room.
	dd if=/dev/zero of="$FS/filler" bs=1024 count=${KZ_FAULTS_FILLER_K:-7168} 2>/dev/null
	expect 0 "filler placed" -- test -s "$FS/filler"
	start fa "$A"; DA=$DPID
	until_s 10 "fa listens" -- grep -q "listening on 127.0.0.1:" "$T/fa.err"
	PA=$(port fa)
	expect 0 "fa: invite" -- "$K" --home "$A" mesh invite --address "127.0.0.1:$PA"
	expect 0 "b: join" -- "$K" --home "$B" mesh join "$(cat "$T/out")"
	conf "$B" "" "127.0.0.1:$PA"
	start fb "$B"; DB=$DPID
	until_s 30 "b's store fills the tmpfs (disk full in its log)" -- grep -q "disk full" "$T/fb.err"
	step "diskfull: b's disk is full ($(df -k "$FS" | awk 'NR == 2 { print $3 "k of " $2 "k" }'))"

	# Full: b stays up and ends the session that could not store (the
	# peer's run is not acknowledged; the next session resumes).
	until_s 10 "diskfull: b closes the link it cannot store from" -- \
	    grep -q "not stored: disk full; closing the link" "$T/fb.err"
	exited "$DB" && bad "diskfull: b's kizunad died on the full disk" || ok
	expect 0 "diskfull: b answers" -- "$C" --home "$B" '{"cmd":"status"}'
	N1=$(sed -n 's/.*"entries":\([0-9]*\).*/\1/p' "$T/out" | head -1)
	[ "${N1:-0}" -gt 0 ] && [ "${N1:-0}" -lt "$TOTAL" ] && ok ||
	    bad "diskfull: b holds '$N1' of $TOTAL entries: the disk did not fill mid-catch-up"
	# Whatever room SQLite still finds (its WAL) may take a few small
	# posts; top the disk off, then posts must be refused, clearly.
	dd if=/dev/zero of="$FS/filler2" bs=4096 2>/dev/null
	posts_until_refused b "$B" full
	expect 0 "diskfull: a posts meanwhile" -- "$K" --home "$A" --as alice post ops "from a while b is full"
	sleep 1
	exited "$DB" && bad "diskfull: b's kizunad died on the full disk" || ok
	step "diskfull: b holds $N1 of $TOTAL entries and refuses posts"

	# kill -9 on the full disk; the store verifies; b restarts on it.
	disown "$DB"
	kill -9 "$DB"
	until_s 10 "diskfull: b is gone" -- exited "$DB"
	forget "$DB"
	expect 0 "diskfull: b verifies after kill -9 on the full disk" -- "$K" --home "$B" verify
	start fb2 "$B"; DB=$DPID
	until_s 10 "diskfull: b restarts on the full disk" -- answers "$B"
	sleep 1
	exited "$DB" && bad "diskfull: b's restarted kizunad died on the full disk" || ok
	posts_until_refused b "$B" full2

	# Room again: posts work and sync resumes to one digest, no restart.
	# The fillers go and the disk grows to 24 MiB: the caught-up store
	# with its WAL needs about 8 MiB at its peak (store.db 3.7 MB and
	# store.db-wal 4.5 MB were seen), which 8 MiB held only just, so
	# whether the catch-up fitted depended on when SQLite checkpointed.
	rm -f "$FS/filler" "$FS/filler2"
	mount -o remount,size=24m "$FS" 2>"$T/mount.err" ||
	    bad "diskfull: cannot grow the tmpfs: $(cat "$T/mount.err")"
	step "diskfull: fillers deleted ($(df -k "$FS" | awk 'NR == 2 { print $3 "k of " $2 "k" }'))"
	expect 0 "diskfull: a post on b works again" -- "$K" --home "$B" --as alice post ops "room again on b"
	until_s 30 "diskfull: b catches up with a after the space is freed" -- holds "$B" "$((TOTAL + 2))" ||
	    full_report
	same2() { [ "$(digest "$A")" = "$(digest "$B")" ]; }
	until_s 30 "diskfull: one digest on a and b" -- same2
	"$K" --home "$A" tail -n 5 ops >"$T/out"
	has out "room again on b"
	"$K" --home "$B" tail -n 5 ops >"$T/out"
	has out "from a while b is full"
	# Every post that was acknowledged on the full disk is held by both.
	for h in "$A" "$B"; do
		"$K" --home "$h" --json tail -n 100000 ops |
		    sed -n 's/.*"text":"\(full[0-9]* [0-9]*\)".*/\1/p' | sort -u >"$T/held"
		sort -u "$T/fullacked" | comm -23 - "$T/held" >"$T/lost"
		empty lost
	done
	exited "$DB" && bad "diskfull: b died" || ok
	kill -TERM "$DB"; stopped "$DB" fb2; forget "$DB"
	kill -TERM "$DA"; stopped "$DA" fa; forget "$DA"
	expect 0 "diskfull: b verifies at the end" -- "$K" --home "$B" verify
	expect 0 "diskfull: a verifies at the end" -- "$K" --home "$A" verify
	for h in fa fb fb2; do
		lacks "$h.err" "handle left open"
		lacks "$h.err" "Sanitizer"
		lacks "$h.err" "runtime error"
	done
	step "diskfull: done"
}

case $WHAT in
kill9) kill9 ;;
diskfull) diskfull ;;
all) kill9; diskfull ;;
esac
finish "faults $WHAT"
