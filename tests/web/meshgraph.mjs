// The mesh map's graph (src/web/meshgraph.js) on hand-made status answers:
// the newer of two reports of one link wins; a report older than 15
// minutes is stale; links touching this node come from its own rows only;
// revoked and unknown nodes are not drawn; "cut off" is "not reachable
// from this node over links that are up", through any number of hops.
// Run by ctest (web.meshgraph) with node; exits 1 on the first failure.
import { meshGraph, STALE_S, CUT_OFF_S } from "../../src/web/meshgraph.js";

let passed = 0;
function eq(got, want, what) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	if (g !== w) {
		console.error("FAIL: " + what + ":\n  got  " + g + "\n  want " + w);
		process.exit(1);
	}
	passed++;
}

const NOW = 1800000000;
const node = (key, name, revoked = false) => ({ key, name, admin: false,
    revoked, last_seq: 0 });
const row = (key, state, extra = {}) => ({ node_key: key, state,
    transport: "tcp", address: "127.0.0.1:1", ...extra });
const rep = (key, age, links) => ({ node: key, reported_at: NOW - age,
    links: links.map(([peer, up, transport = "tcp"]) => ({ peer, transport,
    up, since: NOW - 1000 })) });
// Edges and nodes as sorted lines, keys as their names.
function lines(s) {
	const g = meshGraph(s, NOW);
	const out = g.edges.map((e) => "edge " + [e.from, e.to].sort().join("-") +
	    " " + e.transport + " " + (e.up ? "up" : "down") + (e.own ? " own" : "") +
	    (e.stale ? " stale" : ""));
	for (const n of g.nodes)
		out.push("node " + n.key + (n.self ? " self" : "") + (n.cut ? " cut" : ""));
	return out.sort();
}
const base = (peers, reports, extra = []) => ({ node_key: "A", node_name: "a",
    nodes: [node("A", "a"), node("B", "b"), node("C", "c"), node("D", "d"),
    ...extra], peers, mesh_links: reports });

// A chain A-B-C-D: A reaches D through B and C.
eq(lines(base([row("B", "open")], [rep("B", 10, [["A", true], ["C", true]]),
    rep("C", 10, [["B", true], ["D", true]]), rep("D", 10, [["C", true]])])),
    ["edge A-B tcp up own", "edge B-C tcp up", "edge C-D tcp up", "node A self",
    "node B", "node C", "node D"], "a chain: every node reachable");

// B says its link to C went down after C said it was up: the newer wins,
// and C and D (behind C) are cut off from A although C-D is up.
eq(lines(base([row("B", "open")], [rep("B", 5, [["A", true], ["C", false]]),
    rep("C", 60, [["B", true], ["D", true]]), rep("D", 10, [["C", true]])])),
    ["edge A-B tcp up own", "edge B-C tcp down", "edge C-D tcp up",
    "node A self", "node B", "node C cut", "node D cut"],
    "the newer report of b-c (down) wins over c's older one (up)");
// ... and the other way round: C's newer report says up.
eq(lines(base([row("B", "open")], [rep("B", 60, [["A", true], ["C", false]]),
    rep("C", 5, [["B", true]])])),
    ["edge A-B tcp up own", "edge B-C tcp up", "node A self", "node B",
    "node C", "node D cut"], "c's newer report (up) wins; d, unreported, cut off");

// Stale: a report older than STALE_S.
eq(lines(base([row("B", "open")], [rep("B", STALE_S + 1, [["C", true]]),
    rep("C", STALE_S, [["D", true]])])),
    ["edge A-B tcp up own", "edge B-C tcp up stale", "edge C-D tcp up",
    "node A self", "node B", "node C", "node D"],
    "stale after 15 minutes (the links still count for reachability)");
{
	const g = meshGraph(base([], [rep("B", STALE_S + 1, [["C", true]])]), NOW);
	eq([g.nodes.find((n) => n.key === "B").stale,
	    g.nodes.find((n) => n.key === "B").reportedAt], [true, NOW - STALE_S - 1],
	    "a node's own report age and staleness");
}

// Links touching this node: its own rows decide, not others' reports.
eq(lines(base([row("B", "closed")], [rep("B", 5, [["A", true], ["C", true]])])),
    ["edge A-B tcp down own", "edge B-C tcp up", "node A self", "node B cut",
    "node C cut", "node D cut"], "b's report that its link to a is up does not "
    + "override a's own closed row");
// ... but a node a has no row for may report a link to a.
eq(lines(base([], [rep("C", 5, [["A", true]])])),
    ["edge A-C tcp up", "node A self", "node B cut", "node C", "node D cut"],
    "c's report of a link to a, which a has no row for");
// A row far behind counts as cut off; handshake as down.
eq(lines(base([row("B", "open", { lag_s: CUT_OFF_S + 1 }), row("C", "handshake")],
    [])), ["edge A-B tcp down own", "edge A-C tcp down own", "node A self",
    "node B cut", "node C cut", "node D cut"], "lagging and handshaking own links");

// Revoked and unknown nodes are not drawn, nor links to them; a row for
// an unknown address is.
eq(lines(base([row(null, "connecting", { address: "10.0.0.9:7420" })],
    [rep("E", 5, [["A", true]]), rep("B", 5, [["E", true], ["X", true]])],
    [node("E", "e", true)])),
    ["edge A-addr:10.0.0.9:7420 tcp down own", "node A self", "node B cut",
    "node C cut", "node D cut", "node addr:10.0.0.9:7420 cut"],
    "a revoked node (e) and an unknown key (x) are left out");

// Two transports between the same nodes are two links.
eq(lines(base([row("B", "open")], [rep("B", 5, [["C", false, "tcp"],
    ["C", true, "radio"]])])),
    ["edge A-B tcp up own", "edge B-C radio up", "edge B-C tcp down",
    "node A self", "node B", "node C", "node D cut"],
    "tcp down and radio up between b and c: c reachable over radio");

// No mesh_links at all (an older kizunad): this node's own links only.
eq(lines({ node_key: "A", node_name: "a", nodes: [node("A", "a"), node("B", "b")],
    peers: [row("B", "open")] }), ["edge A-B tcp up own", "node A self", "node B"],
    "an answer without mesh_links");

console.log("web.meshgraph: " + passed + " passed, 0 failed");
