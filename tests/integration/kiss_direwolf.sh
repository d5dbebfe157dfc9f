#!/usr/bin/env bash
# Two kz_radio TCP ports through the shared Direwolf rig (../shared/radio):
# two real Direwolf 1.6 stations at 9600 baud on a software channel; 20
# frames A->B, then 20 B->A, every payload checked byte for byte
# (kz-kiss-xfer).  Exits 77 (skipped) when direwolf or the rig is missing.
#
# The rig gets its own folder and ports (RIG_KISS_BASE, RIG_AGW_BASE,
# RIG_CTL_PORT, default 9501, 9601, 9700: other rigs may be running) and is
# always taken down on exit.
set -u

src=${KZ_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KZ_TESTBIN:?KZ_TESTBIN: the folder holding kz-kiss-xfer}
rig=$src/../shared/radio/rig.sh

if ! command -v direwolf >/dev/null 2>&1; then
	echo "direwolf is not installed (tools/setup.sh installs it): skipped"
	exit 77
fi
if [ ! -f "$rig" ]; then
	echo "no radio rig at $rig: skipped"
	exit 77
fi

export RIG_DIR
RIG_DIR=$(mktemp -d)
export RIG_KISS_BASE=${RIG_KISS_BASE:-9501}
export RIG_AGW_BASE=${RIG_AGW_BASE:-9601}
export RIG_CTL_PORT=${RIG_CTL_PORT:-9700}
trap 'bash "$rig" down >/dev/null 2>&1 || true; rm -rf "$RIG_DIR"' EXIT

if ! bash "$rig" up --baud 9600; then
	echo "FAIL: the rig did not come up"
	exit 1
fi
"$bin/kz-kiss-xfer" "tcp:127.0.0.1:$RIG_KISS_BASE" \
    "tcp:127.0.0.1:$((RIG_KISS_BASE + 1))" 20
rc=$?
bash "$rig" status >/dev/null 2>&1 || { echo "FAIL: a rig process died"; rc=1; }
exit $rc
