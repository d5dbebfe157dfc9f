#!/usr/bin/env bash
# The web API on a large store (issue 7's figures: a page of 50 messages in
# under 10 ms median on 1,000,000 messages; 200 event streams on one node
# each receive every new post).
#
#   tools/bench/http_page.sh [--messages N] [--streams S] [--bin DIR]
#                            [--dir DIR] [--keep]
#
# Writes N posts (default 1,000,000) into one channel of a new node with
# kz-fill (100 per transaction, ~200 bytes of Japanese each), starts kizunad
# serving HTTP on 127.0.0.1, signs in, and times over one keep-alive
# connection 200 requests of the newest page and 200 of pages that start at
# random depths of the history (cursors of random messages, read from the
# store), 50 messages each, and 20 of the channel list.  The time is the
# whole request as a browser sees it on loopback.  Then it opens S event
# streams (default 200, GET /api/events) and posts 20 messages through the
# API, 0.5 s apart: for each, the time from the post's answer until every
# stream has received its change event.  Prints one JSON line.  --bin: the
# build's bin folder (default build/bin; kz-fill is in its ../tests).
set -eu
N=1000000
S=200
BIN="$(cd "$(dirname "$0")/../.." && pwd)/build/bin"
DIR=${TMPDIR:-/tmp}
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--messages) N=$2; shift 2 ;;
	--streams) S=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--dir) DIR=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: $0 [--messages N] [--streams S] [--bin DIR] [--dir DIR] [--keep]" >&2; exit 2 ;;
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
python3 - "$PORT" "$CH" "$T/cursors" "$N" "$FILL_S" "$STORE_BYTES" "$S" <<'EOF'
import http.client, json, selectors, socket, statistics, sys, time
port, ch, cursors, n, fill_s, store_bytes, nstreams = sys.argv[1:8]
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
def timed(method, path, body=None, headers={}):
    t = time.perf_counter()
    c.request(method, path, body, dict(headers, Cookie=cookie))
    r = c.getresponse(); data = r.read()
    assert r.status in (200, 201), data
    return (time.perf_counter() - t) * 1000, data
newest = [page(None) for _ in range(200)]
deep = [page(cur.strip()) for cur in open(cursors) if cur.strip()]
channels = [timed("GET", "/api/channels")[0] for _ in range(20)]
csrf = json.loads(timed("GET", "/api/me")[1])["csrf"]

# S event streams, each its own connection, read without blocking.
sel = selectors.DefaultSelector()
streams = []
for i in range(int(nstreams)):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(("GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n" % cookie).encode())
    s.setblocking(False)
    st = {"sock": s, "buf": b"", "events": 0}
    streams.append(st)
    sel.register(s, selectors.EVENT_READ, st)
def pump(until):
    while time.perf_counter() < until:
        for key, _ in sel.select(timeout=max(0, until - time.perf_counter())):
            st = key.data
            d = st["sock"].recv(65536)
            assert d, "a stream ended"
            st["buf"] += d
            st["events"] = st["buf"].count(b"event: change")
        yield
def wait_all(k, limit_s):
    end = time.perf_counter() + limit_s
    for _ in pump(end):
        if all(st["events"] >= k for st in streams):
            return time.perf_counter()
    return None
for _ in pump(time.perf_counter() + 1.0):
    pass
for st in streams:
    st["buf"] = b""; st["events"] = 0
fanout = []; missed = 0
for i in range(20):
    _, _ = timed("POST", "/api/channels/%s/messages" % ch,
                 json.dumps({"text": "ベンチ %d" % i}),
                 {"Content-Type": "application/json", "X-CSRF-Token": csrf})
    t = time.perf_counter()
    done = wait_all(i + 1, 5.0)
    if done is None:
        missed += 1
    else:
        fanout.append((done - t) * 1000)
    for _ in pump(time.perf_counter() + 0.5):
        pass
print(json.dumps({"benchmark": "http_page", "messages": int(n), "fill_s": int(fill_s),
                  "store_bytes": int(store_bytes), "page": 50,
                  "newest_page_ms": stats(newest), "deep_page_ms": stats(deep),
                  "deep_pages": len(deep), "channels_ms": stats(channels),
                  "streams": len(streams), "posts": 20, "posts_missed": missed,
                  "all_streams_have_event_ms": stats(fanout) if fanout else None}))
EOF
