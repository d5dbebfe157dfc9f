#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of tests/fuzz/ (one per decoder).
#
#   tools/fuzz.sh [SECONDS] [ACTION] [TARGET...]
#
#   SECONDS   time per target (default 30: what CI runs)
#   ACTION    run       build, then fuzz each target for SECONDS, one at a
#                       time (default); `tools/fuzz.sh 3600 run` for a long run
#             build     configure and build only
#             check     run each target once over its seeds and its files in
#                       tests/fuzz/crashes/ (a regression check, seconds)
#             gen       regenerate the seed corpus tests/fuzz/corpus/ with
#                       kz-fuzz-gen (after a format change)
#             minimize  merge what the runs found (build-fuzz/corpus/<t>) into
#                       tests/fuzz/corpus/<t>, keeping only inputs that add
#                       coverage (libFuzzer -merge=1)
#   TARGET    header run op runfile bundle ingest sync noise link config search
#             mesh_token kiss arq http slack (default: all)
#
# The build folder (KZ_FUZZ_BUILD, default build-fuzz) is configured with
# CC=clang, -DKZ_FUZZ=ON and the library instrumented by
# -fsanitize=fuzzer-no-link,address,undefined.  Each run works on a copy of
# the seeds in build-fuzz/corpus/<target>, so the repository's corpus only
# changes through `minimize` or `gen`.  Crash, leak and timeout inputs go to
# build-fuzz/artifacts/<target>/; the full log to build-fuzz/logs/<target>.log.
# Exits non-zero if any target found a crash.
#
# Environment: KZ_FUZZ_BUILD, KZ_FUZZ_JOBS (make -j, default 2),
# KZ_FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=2 -workers=2"),
# KZF_SKIP_KNOWN=1 (targets step around the open bugs listed in
# tests/fuzz/fuzz_util.h, whose reproducers are tests/fuzz/crashes/*, so that
# a long run looks for new ones), KZF_DEBUG=1 (targets say how far an input
# got: run one by hand, e.g. build-fuzz/fuzz/fuzz_sync FILE).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${KZ_FUZZ_BUILD:-$root/build-fuzz}
jobs=${KZ_FUZZ_JOBS:-2}
src=$root/tests/fuzz
all_targets="header run op runfile bundle ingest sync noise link config search mesh_token kiss arq http slack"

secs=30
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
	secs=$1
	shift
fi
action=run
case ${1:-} in
run|build|check|gen|minimize) action=$1; shift ;;
esac
targets=${*:-$all_targets}
for t in $targets; do
	case " $all_targets " in
	*" $t "*) ;;
	*) echo "fuzz.sh: unknown target '$t' (one of: $all_targets)" >&2; exit 2 ;;
	esac
done

build_all() {
	if [ ! -f "$build/CMakeCache.txt" ]; then
		CC=clang cmake -S "$root" -B "$build" -DKZ_FUZZ=ON -DKZ_TESTS=OFF \
		    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		    "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		    >"$build.configure.log" 2>&1 || {
			cat "$build.configure.log" >&2
			echo "fuzz.sh: configure failed" >&2
			exit 2
		}
	fi
	cmake --build "$build" --target fuzz -j "$jobs" >"$build/build.log" 2>&1 || {
		grep -E "error|warning" -A3 "$build/build.log" | head -60 >&2
		echo "fuzz.sh: build failed (log: $build/build.log)" >&2
		exit 2
	}
}

# ASan/UBSan settings for every run: abort on the first report so that
# libFuzzer keeps the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

dict_of() {
	if [ -f "$src/$1.dict" ]; then
		echo "-dict=$src/$1.dict"
	fi
}

build_all
mkdir -p "$build/logs"
[ "$action" = build ] && exit 0

if [ "$action" = gen ]; then
	rm -rf "$build/gen-corpus"
	"$build/fuzz/kz-fuzz-gen" "$build/gen-corpus" || exit 1
	for t in $targets; do
		mkdir -p "$src/corpus/$t"
		cp "$build/gen-corpus/$t"/* "$src/corpus/$t/"
	done
	du -sh "$src/corpus"
	exit 0
fi

failed=0
if [ "$action" = check ]; then
	for t in $targets; do
		crashes=$(ls "$src/crashes/$t"-* 2>/dev/null || true)
		mkdir -p "$build/artifacts/check"
		if "$build/fuzz/fuzz_$t" -runs=0 -artifact_prefix="$build/artifacts/check/" \
		    "$src/corpus/$t" >"$build/logs/check-$t.log" 2>&1 &&
		    { [ -z "$crashes" ] || "$build/fuzz/fuzz_$t" \
		    -artifact_prefix="$build/artifacts/check/" $crashes \
		    >>"$build/logs/check-$t.log" 2>&1; }; then
			printf '%-12s ok\n' "$t"
		else
			printf '%-12s FAILED (log: %s)\n' "$t" "$build/logs/check-$t.log"
			failed=1
		fi
	done
	exit $failed
fi

if [ "$action" = minimize ]; then
	for t in $targets; do
		[ -d "$build/corpus/$t" ] || continue
		before=$(ls "$src/corpus/$t" | wc -l)
		"$build/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 \
		    "$src/corpus/$t" "$build/corpus/$t" >"$build/logs/$t.merge.log" 2>&1 ||
		    { echo "$t: merge failed (log: $build/logs/$t.merge.log)"; failed=1; }
		printf '%-12s %5d -> %5d seeds\n' "$t" "$before" "$(ls "$src/corpus/$t" | wc -l)"
	done
	du -sh "$src/corpus"
	exit $failed
fi

printf '%-12s %12s %9s %7s %7s %7s  %s\n' target executions exec/s cov ft corpus result
for t in $targets; do
	work=$build/corpus/$t
	art=$build/artifacts/$t
	log=$build/logs/$t.log
	mkdir -p "$work" "$art"
	cp -n "$src/corpus/$t"/* "$work/" 2>/dev/null
	# shellcheck disable=SC2046,SC2086
	"$build/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 \
	    -timeout=10 -print_final_stats=1 -artifact_prefix="$art/" \
	    $(dict_of "$t") ${KZ_FUZZ_ARGS:-} "$work" >"$log" 2>&1
	rc=$?
	execs=$(awk '/stat::number_of_executed_units/ {v = $2} END {print v + 0}' "$log")
	rate=$(awk '/stat::average_exec_per_sec/ {v = $2} END {print v + 0}' "$log")
	cov=$(grep -Eo '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
	ft=$(grep -Eo '^#[0-9]+.* ft: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
	ncorp=$(ls "$work" | wc -l)
	found=$(grep -Eo 'Test unit written to [^ ]+' "$log" | sed 's/Test unit written to //' | sort -u | tr '\n' ' ')
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		result="CRASH ${found:-(exit $rc, see $log)}"
		failed=1
	else
		result=ok
	fi
	printf '%-12s %12s %9s %7s %7s %7s  %s\n' "$t" "$execs" "$rate" "${cov:-?}" \
	    "${ft:-?}" "$ncorp" "$result"
done
exit $failed
