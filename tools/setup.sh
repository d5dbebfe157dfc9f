#!/bin/sh
# Installs every Debian 12 package that kizuna's build, tests and benchmarks
# need.  Idempotent: when everything is present it asks apt nothing and
# returns at once.  Run as root (or with sudo available).
set -eu

PKGS="
build-essential
cmake
pkg-config
git
ca-certificates
clang
libclang-rt-14-dev
libuv1-dev
libsqlite3-dev
sqlite3
libsodium-dev
libprotobuf-c-dev
protobuf-c-compiler
libinih-dev
libjansson-dev
libcmocka-dev
libzstd-dev
libsystemd-dev
libqrencode-dev
libh2o-dev
libzip-dev
direwolf
python3
curl
jq
"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "setup: need root to install:$missing" >&2
		exit 1
	fi
fi

echo "setup: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
