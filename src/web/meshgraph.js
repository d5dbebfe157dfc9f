// The mesh map's graph, from one GET /api/status answer (docs/api.md): no
// DOM, so the page draws it (app.js) and a test computes the very same
// picture from a real node's answer (tests/integration/meshmap.sh).
//
//   nodes   every admitted node (status.nodes, revoked ones left out), this
//           node first, then any peer of this node's own links that the
//           list lacks (a link still at its handshake, or to an address);
//   edges   this node's own links (status.peers: live, with their figures)
//           and the links the other nodes reported (status.mesh_links), one
//           edge per pair of nodes and transport: where both ends reported
//           it, the newer report says whether it is up; a pair this node is
//           part of is drawn from its own link rows only;
//   cut     a node this node cannot reach over links that are up, its own
//           or reported: "which office is cut off" from here.  A node that
//           no link reaches at all is always cut off;
//   stale   a reported link whose report is older than STALE_S: the node
//           writes one at least every 10 minutes while its links hold, so
//           an older one means it has not been heard from since.

// A report older than this is stale (the legend says so).
export const STALE_S = 15 * 60;
// An own link this far behind (lag_s) counts as cut off, as a closed one.
export const CUT_OFF_S = 300;

// Whether this node's own link row is down or too far behind.
export function linkCut(p) {
	return p.state === "closed" || p.state === "connecting" ||
	    (typeof p.lag_s === "number" && p.lag_s > CUT_OFF_S);
}

function pairKey(a, b, transport) {
	return (a < b ? a + "|" + b : b + "|" + a) + "|" + transport;
}

// nowS: the server's clock in unix seconds (report ages are counted on it).
export function meshGraph(s, nowS) {
	const self = s.node_key;
	const nodes = new Map();
	const addNode = (key, name) => {
		if (!nodes.has(key))
			nodes.set(key, { key, name: name || "", self: key === self,
			    reportedAt: null, stale: false, cut: key !== self });
		else if (name && !nodes.get(key).name)
			nodes.get(key).name = name;
		return nodes.get(key);
	};
	addNode(self, s.node_name);
	for (const n of s.nodes || [])
		if (!n.revoked)
			addNode(n.key, n.name);

	const edges = [];
	const own = new Set();		// peers this node has a row for
	for (const p of s.peers || []) {
		const peer = p.node_key || "addr:" + p.address;
		addNode(peer, p.name || (p.node_key ? "" : p.address));
		own.add(peer);
		// Up: open (a handshake has not authenticated anyone yet) and
		// not cut off by its lag.
		edges.push({ from: self, to: peer, own: true,
		    up: p.state === "open" && !linkCut(p),
		    state: p.state, transport: p.transport || "tcp", link: p,
		    reportedAt: null, age: null, stale: false });
	}

	const reported = new Map();	// pairKey -> edge
	for (const r of s.mesh_links || []) {
		if (r.node === self || !nodes.has(r.node))
			continue;
		const age = Math.max(0, nowS - r.reported_at);
		const n = nodes.get(r.node);
		n.reportedAt = r.reported_at;
		n.stale = age > STALE_S;
		for (const l of r.links) {
			// Of this node's own links the live rows know best; a
			// node that is not (or no longer) admitted is not drawn.
			if (l.peer === self && own.has(r.node))
				continue;
			if (!nodes.has(l.peer))
				continue;
			const k = pairKey(r.node, l.peer, l.transport);
			const old = reported.get(k);
			if (old !== undefined && old.reportedAt >= r.reported_at)
				continue;
			reported.set(k, { from: r.node, to: l.peer, own: false,
			    up: l.up, state: l.up ? "open" : "closed",
			    transport: l.transport, link: l,
			    reportedAt: r.reported_at, age, stale: age > STALE_S });
		}
	}
	edges.push(...reported.values());

	// Reachable from this node over links that are up.
	const adj = new Map();
	for (const e of edges) {
		if (!e.up)
			continue;
		for (const [a, b] of [[e.from, e.to], [e.to, e.from]]) {
			if (!adj.has(a))
				adj.set(a, []);
			adj.get(a).push(b);
		}
	}
	const seen = new Set([self]);
	const queue = [self];
	while (queue.length > 0)
		for (const b of adj.get(queue.shift()) || [])
			if (!seen.has(b)) {
				seen.add(b);
				queue.push(b);
			}
	for (const n of nodes.values())
		n.cut = !seen.has(n.key);
	return { self, nodes: [...nodes.values()], edges };
}
