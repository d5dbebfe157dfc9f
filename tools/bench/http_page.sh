#!/usr/bin/env bash
# The web API's page latency on a large store (issue 7's figure: a page of
# 50 messages in under 10 ms median on 1,000,000 messages).
#
#   tools/bench/http_page.sh [--messages N] [--bin DIR] [--dir DIR] [--keep]
#
# Writes N posts (default 1,000,000) into one channel of a new node with
# kz-fill (100 per transaction, ~200 bytes of Japanese each), starts kizunad
# serving HTTP on 127.0.0.1, signs in, and times over one keep-alive
# connection 200 requests of the newest page and 200 of pages that start at
# random depths of the history (cursors of random messages, read from the
# store), 50 messages each.  The time is the whole request as a browser sees
# it on loopback.  Prints one JSON line.  --bin: the build's bin folder
# (default build/bin; kz-fill is in its ../tests).
set -eu
N=1000000
BIN="$(cd "$(dirname "$0")/../.." && pwd)/build/bin"
DIR=${TMPDIR:-/tmp}
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--messages) N=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--dir) DIR=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: $0 [--messages N] [--bin DIR] [--dir DIR] [--keep]" >&2; exit 2 ;;
	esac
done
T=$(mktemp -d "$DIR/kzbench-http-XXXXXX")
DPID=""
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ "$KEEP" = 1 ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
K="$BIN/kizuna"
H="$T/node"
"$K" --home "$H" init >/dev/null
"$K" --home "$H" mesh create --name bench >/dev/null
echo bench-pw | "$K" --home "$H" user add alice --name Alice --password-stdin >/dev/null
"$K" --home "$H" channel create general >/dev/null
T0=$(date +%s)
"$BIN/../tests/kz-fill" "$H" general alice "$N" >/dev/null
FILL_S=$(( $(date +%s) - T0 ))
sed -i '/^\[http\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:0/;
    /^\[net\]/,/^\[/ s/^listen = .*/listen = /; s/^discovery = .*/discovery = false/' \
    "$H/kizuna.conf"
CH=$("$K" --home "$H" --json channel list | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
# Cursors of 200 random top-level messages (a cursor is hlc, author, seq in hex).
sqlite3 "$H/store.db" "SELECT printf('%016x', hlc) || lower(hex(author)) ||
    printf('%016x', seq) FROM ws_messages WHERE thread_root IS NULL
    ORDER BY random() LIMIT 200" >"$T/cursors"
: >"$T/kizunad.err"
"$BIN/kizunad" --home "$H" 2>"$T/kizunad.err" &
DPID=$!
for _ in $(seq 300); do
	grep -q "serving the web workspace" "$T/kizunad.err" && break
	sleep 0.1
done
PORT=$(sed -n 's|.*serving the web workspace at http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/kizunad.err")
[ -n "$PORT" ] || { cat "$T/kizunad.err" >&2; exit 1; }
STORE_BYTES=$(stat -c %s "$H/store.db")
python3 - "$PORT" "$CH" "$T/cursors" "$N" "$FILL_S" "$STORE_BYTES" <<'EOF'
import http.client, json, statistics, sys, time
port, ch, cursors, n, fill_s, store_bytes = sys.argv[1:7]
c = http.client.HTTPConnection("127.0.0.1", int(port))
c.request("POST", "/api/login", json.dumps({"user": "alice", "password": "bench-pw"}),
          {"Content-Type": "application/json"})
r = c.getresponse(); body = r.read()
assert r.status == 200, body
cookie = r.getheader("Set-Cookie").split(";")[0]
def page(before):
    path = "/api/channels/%s/messages?limit=50" % ch
    if before:
        path += "&before=" + before
    t = time.perf_counter()
    c.request("GET", path, headers={"Cookie": cookie})
    r = c.getresponse(); data = r.read()
    dt = (time.perf_counter() - t) * 1000
    assert r.status == 200, data
    got = json.loads(data)["messages"]
    assert len(got) == 50 or before, len(got)
    return dt
def stats(xs):
    xs = sorted(xs)
    return {"median": round(statistics.median(xs), 3),
            "p95": round(xs[int(len(xs) * 0.95) - 1], 3), "max": round(xs[-1], 3)}
newest = [page(None) for _ in range(200)]
deep = [page(cur.strip()) for cur in open(cursors) if cur.strip()]
print(json.dumps({"benchmark": "http_page", "messages": int(n), "fill_s": int(fill_s),
                  "store_bytes": int(store_bytes), "page": 50,
                  "newest_page_ms": stats(newest), "deep_page_ms": stats(deep),
                  "deep_pages": len(deep)}))
EOF
