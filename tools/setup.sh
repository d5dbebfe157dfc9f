#!/bin/sh
# Installs every Debian 12 package that kizuna's build, tests and benchmarks
# need.  Idempotent: when everything is present it asks apt nothing and
# returns at once; then playwright-core from the npm registry for the
# browser tests (tests/e2e).  Run as root (or with sudo available).
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
chromium
nodejs
fonts-ipafont-gothic
"

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

# apt_install PKG...: installs what is not installed yet (nothing asked of
# apt when everything is there).
apt_install() {
	missing=""
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in
		*"install ok installed"*) ;;
		*) missing="$missing $p" ;;
		esac
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
		echo "setup: need root to install:$missing" >&2
		exit 1
	fi
	echo "setup: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# shellcheck disable=SC2086
apt_install $PKGS
# npm is its own package beside Debian's nodejs (NodeSource's bundles it).
command -v npm >/dev/null 2>&1 || apt_install npm

# playwright-core for the browser tests (tests/e2e), at the version
# tests/e2e/package.json pins, from the npm registry; once.
e2e=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
want=$(node -p "require('$e2e/package.json').dependencies['playwright-core']")
have=$(node -p "try { require('$e2e/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$want" != "$have" ]; then
	echo "setup: npm ci in tests/e2e (playwright-core $want)" >&2
	(cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
