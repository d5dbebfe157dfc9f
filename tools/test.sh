#!/bin/sh
# Runs the whole test suite: installs what it needs (tools/setup.sh), builds
# with warnings as errors, runs every test through ctest, then builds and
# runs the suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_WERROR=ON -DKZ_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKZ_SANITIZE=ON \
    -DKZ_WERROR=ON -DKZ_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
(cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$jobs")

echo "== fuzz targets (clang libFuzzer): the regression inputs, then 30 s each"
bash tools/fuzz.sh check
bash tools/fuzz.sh 30 run
