// kizuna's web workspace: sign in, channels with unread counts, a channel's
// history (newest at the bottom, older pages loaded as one scrolls up),
// posting with a priority, threads, acknowledgements and reactions, the
// mesh's links with their figures, and for admins the users and nodes
// pages.  Every text from the API goes in as textContent, never as HTML.
// The API's event stream (GET /api/events) says when anything was stored;
// the page then fetches what it shows.  It also asks every POLL_MS (a
// stream cut by a proxy goes unnoticed otherwise); when kizunad is away
// (restarting) it says so, and the stream and the asking find it again.
import { api, setCsrf, ApiError, serverNow } from "./api.js";
import { t, setLang, getLang, initLang, translate } from "./i18n.js";
import { meshGraph, linkCut } from "./meshgraph.js";

const POLL_MS = 10000;
const RETRY_MS = 2000;
const PAGE = 50;
// A figure the API does not give (yet), or gives as null.
const NONE = "—";

const $ = (id) => document.getElementById(id);

const state = {
	me: null,
	channels: [],
	channel: null,		// the channel shown (an object of state.channels)
	msgs: new Map(),	// id -> message of the channel shown
	users: new Map(),	// user id -> display name
	asked: new Set(),	// user ids not in users that the page asked for
	next: null,		// cursor of the older page, null at the start
	loadingOlder: false,
	thread: null,		// root id of the thread shown
	view: "channels",	// or mesh, search, rollcall, users, nodes
	timer: null,
	ticks: 0,
	events: null,		// the EventSource
	refreshing: false,	// a refresh runs; again: one more after it
	again: false,
};

// ------------------------------------------------------------ helpers

function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
}

function fmtTime(ms) {
	return new Date(ms).toLocaleString(getLang() === "ja" ? "ja-JP" : "en-GB",
	    { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// A user's display name (the id until the list has it).
function who(id) {
	return state.users.get(id) || id;
}

async function refreshUsers() {
	const r = await call("GET", "/api/users");
	if (r !== null)
		state.users = new Map(r.users.map((u) => [u.id, u.display_name]));
}

function seenKey(chId) {
	return "kizuna.seen." + state.me.user.id + "." + chId;
}

function seenCount(chId) {
	try {
		return Number(localStorage.getItem(seenKey(chId)) || 0);
	} catch (e) {
		return 0;
	}
}

function markSeen(ch) {
	try {
		localStorage.setItem(seenKey(ch.id), String(ch.messages));
	} catch (e) {
		// Private mode: unread counts last this page only.
	}
}

function offline(on) {
	$("offline").hidden = !on;
}

// Runs an API call; answers null after showing why it failed.  A lost
// session goes back to the sign-in form.
async function call(method, path, body, errorEl) {
	try {
		const r = await api(method, path, body);
		offline(false);
		if (errorEl)
			errorEl.textContent = "";
		return r;
	} catch (e) {
		// Any answer means kizunad is there again.
		offline(e instanceof ApiError && e.status === 0);
		if (e instanceof ApiError && e.status === 0)
			return null;
		if (e instanceof ApiError && e.status === 401 &&
		    path !== "/api/login")
			signedOut();
		else if (errorEl)
			errorEl.textContent = e.message;
		return null;
	}
}

// ------------------------------------------------------------ sign in

function signedOut() {
	state.me = null;
	clearInterval(state.timer);
	state.timer = null;
	if (state.events !== null) {
		state.events.close();
		state.events = null;
	}
	showView(null);
	unmountAdmin();
	$("banner").hidden = true;
	$("nav").hidden = true;
	$("logout").hidden = true;
	$("who").textContent = "";
	$("login").hidden = false;
}

async function enter(me) {
	state.me = me;
	setCsrf(me.csrf);
	$("who").textContent = me.user.display_name + " (" + me.user.id + ")";
	$("login").hidden = true;
	$("nav").hidden = false;
	$("logout").hidden = false;
	if (me.user.role === "admin")
		mountAdmin();
	else
		unmountAdmin();
	await refreshUsers();
	await refreshChannels();
	route();
	if (state.timer === null)
		state.timer = setInterval(() => {
			// Links change without anything stored (no event):
			// the mesh page asks every RETRY_MS.
			if (state.view === "mesh" || ++state.ticks % (POLL_MS / RETRY_MS) === 0)
				refresh();
		}, RETRY_MS);
	listen();
}

// The event stream: every "change" refreshes what is shown.  EventSource
// reconnects by itself (the server says retry: 2000).
function listen() {
	if (state.events !== null)
		return;
	const es = new EventSource("/api/events");
	state.events = es;
	es.addEventListener("change", () => {
		offline(false);
		refresh();
	});
	es.addEventListener("open", () => {
		offline(false);
		refresh();
	});
	es.addEventListener("error", () => {
		if (es.readyState === EventSource.CLOSED) {
			// Refused (a 401 after a restart ends the session): ask
			// the API, which says whether to sign in again.
			state.events = null;
			refresh();
			if (state.me !== null)
				setTimeout(listen, RETRY_MS);
		} else {
			offline(true);
		}
	});
}

$("login").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	const me = await call("POST", "/api/login",
	    { user: f.user.value, password: f.password.value }, $("login-error"));
	if (me !== null) {
		f.password.value = "";
		await enter(me);
	}
});

$("logout").addEventListener("click", async () => {
	await call("POST", "/api/logout");
	signedOut();
});

// ------------------------------------------------------------ channels

async function refreshChannels() {
	const r = await call("GET", "/api/channels");
	if (r === null)
		return;
	state.channels = r.channels;
	fillSearchChannels();
	const list = $("channels");
	list.replaceChildren();
	for (const ch of r.channels) {
		const li = el("li");
		const a = el("a", ch.archived ? "archived" : "", "# " + ch.name);
		a.href = "#/c/" + ch.id;
		if (state.channel && ch.id === state.channel.id) {
			a.className += " current";
			a.setAttribute("aria-current", "page");
			state.channel = ch;
			markSeen(ch);
		}
		li.append(a);
		const unread = ch.messages - seenCount(ch.id);
		if (unread > 0 && !(state.channel && ch.id === state.channel.id))
			li.append(el("span", "unread", String(unread)));
		list.append(li);
	}
}

function route() {
	const h = location.hash;
	if (h === "#/mesh") {
		showMesh();
		return;
	}
	if (h === "#/search") {
		showView("search");
		return;
	}
	if (h === "#/rollcall") {
		showView("rollcall");
		refreshRollcall();
		return;
	}
	// Only an admin's page has these (a member's goes to the channels).
	if (h === "#/admin/users" && $("users-view") !== null) {
		showView("users");
		refreshAdminUsers();
		return;
	}
	if (h === "#/admin/nodes" && $("nodes-view") !== null) {
		showView("nodes");
		refreshNodes();
		return;
	}
	let ch = null;
	const m = /^#\/c\/([0-9a-f]{64})$/.exec(h);
	if (m)
		ch = state.channels.find((c) => c.id === m[1]) || null;
	if (ch === null && state.channels.length > 0)
		ch = state.channels[0];
	showChannels();
	if (ch !== null && (state.channel === null || state.channel.id !== ch.id))
		openChannel(ch);
}

window.addEventListener("hashchange", () => {
	if (state.me !== null)
		route();
});

$("nav-channels").addEventListener("click", () => {
	location.hash = state.channel ? "#/c/" + state.channel.id : "";
	route();
});
$("nav-mesh").addEventListener("click", () => {
	location.hash = "#/mesh";
});
$("nav-search").addEventListener("click", () => {
	location.hash = "#/search";
});
$("nav-rollcall").addEventListener("click", () => {
	location.hash = "#/rollcall";
});

// Shows one page (channels, mesh, search, rollcall, users, nodes; null:
// none).  The admin pages are there only for an admin.
function showView(v) {
	state.view = v;
	$("workspace").hidden = v !== "channels";
	for (const p of ["mesh", "search", "rollcall", "users", "nodes"])
		if ($(p + "-view") !== null)
			$(p + "-view").hidden = v !== p;
}

function showChannels() {
	showView("channels");
}

// ------------------------------------------------------------ messages

function messageItem(m) {
	const li = el("li", "msg prio-" + m.priority);
	li.dataset.id = m.id;
	fillMessage(li, m, false);
	return li;
}

// An imported system event (a join, a topic change): one quiet line, not
// a message to answer (no reactions, no thread, no editing).
function fillSystem(li, m) {
	li.className = "msg system";
	li.replaceChildren();
	li.append(el("span", "text", m.deleted ? t("deleted") : m.text));
	const time = el("time", "", fmtTime(m.time_ms));
	time.dateTime = new Date(m.time_ms).toISOString();
	li.append(time);
}

// An imported message's file references: name, type and size, and the
// URL it had in Slack as plain text (the files themselves were not
// imported, and the URL was stored without its access token).
function fileList(files) {
	const ul = el("ul", "files");
	ul.setAttribute("aria-label", t("files"));
	for (const f of files) {
		const li = el("li", "file");
		li.title = t("file.note");
		li.append(el("span", "name", f.name || f.title || "-"));
		if (f.title && f.title !== f.name)
			li.append(el("span", "title", f.title));
		li.append(el("span", "type muted", f.type || t("file.noType")),
		    el("span", "size muted", bytes(f.size)));
		if (f.url)
			li.append(el("span", "url", f.url));
		ul.append(li);
	}
	return ul;
}

function fillMessage(li, m, inThread) {
	if (m.system) {
		fillSystem(li, m);
		return;
	}
	li.className = "msg prio-" + m.priority;
	li.replaceChildren();
	const meta = el("div", "meta");
	meta.append(el("span", "user", m.user ? who(m.user) : m.node.slice(0, 8)));
	const time = el("time", "", fmtTime(m.time_ms));
	time.dateTime = new Date(m.time_ms).toISOString();
	meta.append(time);
	if (m.priority !== "normal")
		meta.append(el("span", "badge", t("priority." + m.priority)));
	if (m.pinned) {
		const pin = el("span", "pin", "📌 " + t("pinned"));
		pin.title = t("pinned.note");
		meta.append(pin);
	}
	li.append(meta);
	li.append(el("div", "text", m.deleted ? t("deleted") : m.text));
	if (m.files && m.files.length > 0 && !m.deleted)
		li.append(fileList(m.files));
	if (m.edited && !m.deleted)
		li.append(el("span", "muted", t("edited")));
	const actions = el("div", "actions");
	const react = el("button", "plain react",
	    t("react") + (m.reactions > 0 ? " " + m.reactions : ""));
	react.type = "button";
	react.addEventListener("click", () => doReact(m));
	actions.append(react);
	if (m.priority !== "normal") {
		const ack = el("button", "ack", t("ack"));
		ack.type = "button";
		ack.addEventListener("click", () => doAck(m));
		actions.append(ack);
		// Who acknowledged: asked for when wanted (the poster's check).
		const acks = el("button", "plain acks", t("acked", { n: m.acks }));
		acks.type = "button";
		acks.addEventListener("click", () => showAckers(li, m));
		actions.append(acks);
	}
	// Its author and admins may edit and delete (the API checks again).
	if (!m.deleted && state.me !== null && (m.user === state.me.user.id ||
	    state.me.user.role === "admin")) {
		const ed = el("button", "plain edit", t("edit"));
		ed.type = "button";
		ed.addEventListener("click", () => startEdit(li, m, inThread));
		const del = el("button", "plain delete", t("delete"));
		del.type = "button";
		// A second click deletes (no dialog box: one click never does).
		del.addEventListener("click", async () => {
			if (!del.classList.contains("armed")) {
				del.classList.add("armed");
				del.textContent = t("delete.confirm");
				return;
			}
			const r = await call("POST", "/api/messages/" + m.id + "/delete",
			    {});
			if (r !== null)
				updated(r.message);
		});
		actions.append(ed, del);
	}
	if (!inThread && m.thread_root === null) {
		const th = el("button", "plain replies", t("thread.replies",
		    { n: m.reply_count }));
		th.type = "button";
		th.addEventListener("click", () => openThread(m.id));
		actions.append(th);
	}
	// A thread reply also sent to the channel: shown in its flow, and a
	// way to the thread it answers.
	if (!inThread && m.thread_root !== null && m.broadcast) {
		const th = el("button", "plain in-thread", t("thread.broadcast"));
		th.type = "button";
		th.addEventListener("click", () => openThread(m.thread_root));
		actions.append(th);
	}
	li.append(actions);
}

function nearBottom(box) {
	return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

// Puts messages (any order) into the list, in the channel's order, and
// updates those already there.
function merge(list) {
	const box = $("messages");
	const stick = nearBottom(box);
	const ol = $("message-list");
	for (const m of list) {
		const had = state.msgs.get(m.id);
		// Unchanged: left as it is (a button half-way through its two
		// clicks stays so).
		if (had && JSON.stringify(had) === JSON.stringify(m))
			continue;
		state.msgs.set(m.id, m);
		if (had) {
			const li = ol.querySelector('li[data-id="' + m.id + '"]');
			// Not under the hands of someone editing it.
			if (li && li.querySelector("form.editor") === null)
				fillMessage(li, m, false);
			continue;
		}
		const li = messageItem(m);
		// The channel's order is the cursor's: (hlc, author, seq).
		let before = null;
		for (const o of ol.children) {
			const om = state.msgs.get(o.dataset.id);
			if (om && om.cursor > m.cursor) {
				before = o;
				break;
			}
		}
		ol.insertBefore(li, before);
	}
	if (stick)
		box.scrollTop = box.scrollHeight;
	learnUsers(list);
}

// Authors the page has no name for (users written since it loaded them:
// an import, a user added elsewhere): the list is asked for once, and the
// channel's messages drawn again with their names.
async function learnUsers(list) {
	const unknown = list.filter((m) => m.user && !state.users.has(m.user) &&
	    !state.asked.has(m.user));
	if (unknown.length === 0)
		return;
	for (const m of unknown)
		state.asked.add(m.user);
	await refreshUsers();
	for (const li of $("message-list").children) {
		const m = state.msgs.get(li.dataset.id);
		if (m && m.user && state.users.has(m.user) &&
		    li.querySelector("form.editor") === null)
			fillMessage(li, m, false);
	}
}

async function openChannel(ch) {
	state.channel = ch;
	state.msgs.clear();
	state.next = null;
	$("message-list").replaceChildren();
	$("channel-title").textContent = "# " + ch.name;
	$("channel-topic").textContent = ch.topic || "";
	$("history-end").hidden = true;
	$("older").hidden = false;
	closeThread();
	const r = await call("GET", "/api/channels/" + ch.id + "/messages?limit=" +
	    PAGE);
	if (r === null || state.channel !== ch)
		return;
	merge(r.messages);
	state.next = r.next;
	atStart();
	$("messages").scrollTop = $("messages").scrollHeight;
	await refreshChannels();
}

function atStart() {
	const start = state.next === null;
	$("history-end").hidden = !start;
	$("older").hidden = start;
}

async function loadOlder() {
	if (state.loadingOlder || state.next === null || state.channel === null)
		return;
	state.loadingOlder = true;
	const ch = state.channel;
	const box = $("messages");
	const h0 = box.scrollHeight;
	const r = await call("GET", "/api/channels/" + ch.id + "/messages?limit=" +
	    PAGE + "&before=" + state.next);
	if (r !== null && state.channel === ch) {
		merge(r.messages);
		state.next = r.next;
		// Keep what the reader looks at where it was.
		box.scrollTop += box.scrollHeight - h0;
		atStart();
	}
	state.loadingOlder = false;
	// Still at the top (a tall screen): the next page at once.
	if (state.next !== null && box.scrollTop < 40)
		setTimeout(loadOlder, 0);
}

new IntersectionObserver((entries) => {
	if (entries.some((e) => e.isIntersecting))
		loadOlder();
}, { root: $("messages") }).observe($("older"));

$("composer").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	if (state.channel === null || f.text.value.trim() === "")
		return;
	const r = await call("POST", "/api/channels/" + state.channel.id +
	    "/messages", { text: f.text.value, priority: f.priority.value },
	    $("composer-error"));
	if (r !== null) {
		f.text.value = "";
		f.priority.value = "normal";
		const box = $("messages");
		box.scrollTop = box.scrollHeight;
		merge([r.message]);
		box.scrollTop = box.scrollHeight;
	}
});

// Enter sends, Shift+Enter is a new line (as in the chat tools staff know).
for (const id of ["composer", "reply"]) {
	$(id).text.addEventListener("keydown", (ev) => {
		if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
			ev.preventDefault();
			$(id).requestSubmit();
		}
	});
}

// The message's text becomes an editor until saved or cancelled.
function startEdit(li, m, inThread) {
	const text = li.querySelector(".text");
	const f = el("form", "editor");
	const ta = el("textarea");
	ta.name = "text";
	ta.rows = 2;
	ta.value = m.text;
	const save = el("button", "", t("edit.save"));
	save.type = "submit";
	const cancel = el("button", "plain", t("edit.cancel"));
	cancel.type = "button";
	const err = el("span", "error");
	f.append(ta, save, cancel, err);
	text.replaceWith(f);
	ta.focus();
	cancel.addEventListener("click", () => fillMessage(li, m, inThread));
	f.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const r = await call("POST", "/api/messages/" + m.id + "/edit",
		    { text: ta.value }, err);
		if (r !== null) {
			fillMessage(li, r.message, inThread);
			updated(r.message);
		}
	});
}

async function showAckers(li, m) {
	const r = await call("GET", "/api/messages/" + m.id + "/ack");
	if (r === null)
		return;
	let line = li.querySelector(".ackers");
	if (line === null) {
		line = el("div", "ackers muted");
		li.append(line);
	}
	line.textContent = r.acks.length > 0 ?
	    t("ackers", { names: r.acks.map(who).join("、") }) : t("ackers.none");
}

// ------------------------------------------------------------ urgent banner

// The urgent and emergency messages this user has not acknowledged: they
// stay at the top of every page until acknowledged.
async function refreshBanner() {
	const r = await call("GET", "/api/urgent?limit=5");
	if (r === null)
		return;
	const ol = $("banner-list");
	ol.replaceChildren();
	for (const m of r.messages) {
		const li = el("li", "prio-" + m.priority);
		li.dataset.id = m.id;
		const ch = state.channels.find((c) => c.id === m.channel);
		li.append(el("span", "badge", t("priority." + m.priority)));
		const a = el("a", "", "# " + (ch ? ch.name : m.channel.slice(0, 8)));
		a.href = "#/c/" + m.channel;
		li.append(a, el("span", "user", who(m.user)),
		    el("time", "", fmtTime(m.time_ms)), el("span", "text", m.text));
		const ack = el("button", "ack", t("ack"));
		ack.type = "button";
		ack.addEventListener("click", async () => {
			await doAck(m);
			await refreshBanner();
		});
		li.append(ack);
		ol.append(li);
	}
	$("banner").hidden = r.messages.length === 0;
}

async function doAck(m) {
	const r = await call("POST", "/api/messages/" + m.id + "/ack", {});
	if (r !== null)
		updated(r.message);
}

async function doReact(m) {
	const r = await call("POST", "/api/messages/" + m.id + "/react",
	    { emoji: "👍" });
	if (r !== null)
		updated(r.message);
}

// A message the API answered with: wherever it is shown.
function updated(m) {
	if (state.msgs.has(m.id))
		merge([m]);
	if (state.thread !== null)
		refreshThread();
}

// ------------------------------------------------------------ threads

async function openThread(id) {
	state.thread = id;
	$("thread").hidden = false;
	$("thread-list").replaceChildren();
	await refreshThread();
}

function closeThread() {
	state.thread = null;
	$("thread").hidden = true;
}

$("thread-close").addEventListener("click", closeThread);

async function refreshThread() {
	const id = state.thread;
	// Not while a message of it is being edited.
	if ($("thread-list").querySelector("form.editor") !== null)
		return;
	const r = await call("GET", "/api/messages/" + id + "/thread");
	if (r === null || state.thread !== id)
		return;
	const ol = $("thread-list");
	ol.replaceChildren();
	for (const m of [r.root, ...r.replies]) {
		const li = el("li", "msg");
		li.dataset.id = m.id;
		fillMessage(li, m, true);
		ol.append(li);
	}
}

$("reply").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	const root = state.msgs.get(state.thread);
	if (state.thread === null || f.text.value.trim() === "")
		return;
	const ch = root ? root.channel : state.channel.id;
	const r = await call("POST", "/api/channels/" + ch + "/messages",
	    { text: f.text.value, thread_root: state.thread }, $("reply-error"));
	if (r !== null) {
		f.text.value = "";
		await refreshThread();
	}
});

// ------------------------------------------------------------ mesh

function showMesh() {
	showView("mesh");
	refreshMesh();
}

async function refreshMesh() {
	const s = await call("GET", "/api/status");
	if (s === null)
		return;
	$("mesh-node").textContent = t("mesh.node", { name: s.node_name || "-",
	    key: s.node_key.slice(0, 16), entries: s.entries });
	const tb = $("links").tBodies[0];
	tb.replaceChildren();
	for (const p of s.peers) {
		const tr = el("tr", "state-" + p.state + (linkCut(p) ? " cutoff" : ""));
		tr.dataset.node = p.node_key || "";
		const peer = (p.name ? p.name + " " : "") + (p.node_key ?
		    p.node_key.slice(0, 16) : "") + " " + p.address;
		const cells = [["peer", peer], ["transport", p.transport || "tcp"],
		    ["state", t("state." + p.state)],
		    ["since", p.since ? fmtTime(p.since * 1000) : ""],
		    ["last-contact", ago(p.last_contact)], ["lag", lag(p)],
		    ["in", String(p.entries_in)], ["out", String(p.entries_out)],
		    ["pending-in", pending(p.pending_in, p.pending_bytes_in)],
		    ["pending-out", pending(p.pending_out, p.pending_bytes_out)],
		    ["error", p.last_error || ""]];
		for (const [cls, c] of cells)
			tr.append(el("td", cls, c));
		tb.append(tr);
	}
	drawMap(s);
	if (s.peers.length === 0) {
		const tr = el("tr");
		const td = el("td", "muted", t("mesh.none"));
		td.colSpan = 11;
		tr.append(td);
		tb.append(tr);
	}
}

// A link's figures (docs/api.md, GET /api/status), each "—" when the API
// does not give it or gives null.

// How long ago a unix time of kizunad's clock was: "3分前".
function ago(unix) {
	if (typeof unix !== "number")
		return NONE;
	return span("ago.", Math.max(0, Math.floor(serverNow() / 1000 - unix)));
}

// Seconds behind: "同期済み" (0 with nothing pending) or "6分".  (The lag
// counts whole seconds since the link was last in sync, so it is 0 in the
// second it stops being so: "0秒" while entries are pending.)
function lag(p) {
	if (typeof p.lag_s !== "number")
		return NONE;
	return p.lag_s === 0 && !(p.pending_in > 0) && !(p.pending_out > 0) ?
	    t("mesh.inSync") : span("dur.", p.lag_s);
}

function span(prefix, s) {
	if (s < 60)
		return t(prefix + "s", { n: s });
	if (s < 3600)
		return t(prefix + "m", { n: Math.floor(s / 60) });
	if (s < 86400)
		return t(prefix + "h", { n: Math.floor(s / 3600) });
	return t(prefix + "d", { n: Math.floor(s / 86400) });
}

function bytes(n) {
	if (typeof n !== "number")
		return NONE;
	if (n < 1024)
		return n + " B";
	if (n < 1024 * 1024)
		return (n / 1024).toFixed(1) + " KB";
	return (n / (1024 * 1024)).toFixed(1) + " MB";
}

// Entries and bytes waiting one way: "3 件 / 1.2 KB".
function pending(entries, b) {
	return (typeof entries === "number" ? t("mesh.entries", { n: entries }) :
	    NONE) + " / " + bytes(b);
}

// The map (meshgraph.js): this node in the middle, every other node of the
// mesh around it.  This node's own links are thick lines coloured by the
// link's state (dashed when cut off), with their transport and what is
// pending each way, and under the peer's name its last contact and lag.
// The links other nodes reported are thin lines, green up and red down,
// labelled with the report's age; a report older than STALE_S is drawn
// faded and dotted.  A node this node cannot reach over links that are up
// is marked cut off.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
	const e = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs))
		e.setAttribute(k, String(v));
	if (text !== undefined)
		e.textContent = text;
	return e;
}

function drawMap(s) {
	const map = $("mesh-map");
	for (const e of [...map.children])
		if (e.tagName !== "title")
			e.remove();
	const g = meshGraph(s, Math.floor(serverNow() / 1000));
	const byKey = new Map(g.nodes.map((n) => [n.key, n]));
	const cx = 320, cy = 200, rx = 210, ry = 130;
	// Around this node: its own peers first (in the table's order), then
	// the other nodes by name.
	const own = s.peers.map((p) => p.node_key || "addr:" + p.address);
	const others = g.nodes.filter((n) => !n.self && !own.includes(n.key))
	    .sort((a, b) => (a.name || a.key).localeCompare(b.name || b.key))
	    .map((n) => n.key);
	const ring = [...new Set([...own, ...others])];
	const pos = new Map([[g.self, { x: cx, y: cy, a: 0 }]]);
	ring.forEach((k, i) => {
		const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(ring.length, 1);
		pos.set(k, { x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a), a });
	});
	// Name above a node in the upper half, below one in the lower.
	const label = (grp, n, p, figures) => {
		const up = Math.sin(p.a) < 0;
		grp.append(svg("text", { x: p.x, y: p.y + (up ? -48 : 44),
		    class: "label" }, n.name || n.key.replace(/^addr:/, "").slice(0, 8)));
		grp.append(svg("text", { x: p.x, y: p.y + (up ? -34 : 58),
		    class: "figures" }, figures));
		if (n.cut)
			grp.append(svg("text", { x: p.x, y: p.y + 4, class: "mark" },
			    t("mesh.cutoff")));
	};

	// The links other nodes reported, under everything else.
	for (const e of g.edges.filter((e) => !e.own)) {
		const a = pos.get(e.from), b = pos.get(e.to);
		if (a === undefined || b === undefined)
			continue;
		const grp = svg("g", { class: "reported state-" + e.state +
		    (e.stale ? " stale" : "") });
		grp.dataset.from = e.from;
		grp.dataset.to = e.to;
		// Bent away from this node in the middle, so that it crosses
		// neither this node nor its own links (two nodes opposite each
		// other would otherwise be joined straight through it).
		const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
		let dx = mx - cx, dy = my - cy, bend = 0.3 * Math.hypot(b.x - a.x, b.y - a.y);
		if (Math.hypot(dx, dy) < 20) {
			dx = -(b.y - a.y);
			dy = b.x - a.x;
			bend = 180;
		}
		const norm = Math.hypot(dx, dy) || 1;
		const qx = mx + (dx / norm) * bend, qy = my + (dy / norm) * bend;
		grp.append(svg("path", { d: "M" + a.x + "," + a.y + " Q" + qx + "," + qy +
		    " " + b.x + "," + b.y }));
		// At the curve's middle (half way from the chord to the control
		// point), written away from the middle of the map.
		const ux = dx / norm, uy = dy / norm;
		grp.append(svg("text", { x: (mx + qx) / 2 + ux * 6,
		    y: (my + qy) / 2 + uy * 6 + 4, class: "edge" +
		    (ux < -0.3 ? " anchor-end" : ux > 0.3 ? " anchor-start" : "") },
		    t("mesh.reportedEdge", { transport: e.transport,
		    state: t(e.up ? "mesh.up" : "mesh.down"),
		    ago: ago(e.reportedAt) }) + (e.stale ? " · " + t("mesh.stale") : "")));
		map.append(grp);
	}
	// This node's own links and their peers.
	for (const p of s.peers) {
		const key = p.node_key || "addr:" + p.address;
		const { x, y, a } = pos.get(key);
		const n = byKey.get(key);
		const grp = svg("g", { class: "peer state-" + p.state +
		    (linkCut(p) ? " cutoff" : "") });
		grp.dataset.node = p.node_key || "";
		grp.append(svg("line", { x1: cx, y1: cy, x2: x, y2: y }));
		const mx = (cx + x) / 2, my = (cy + y) / 2;
		grp.append(svg("text", { x: mx, y: my - 6, class: "edge" },
		    (p.transport || "tcp") + " · " + t("state." + p.state)));
		grp.append(svg("text", { x: mx, y: my + 10, class: "edge pending" },
		    t("mesh.edgePending", {
		    out: pending(p.pending_out, p.pending_bytes_out),
		    in: pending(p.pending_in, p.pending_bytes_in) })));
		grp.append(svg("circle", { cx: x, cy: y, r: 26 }));
		label(grp, { ...n, name: p.name || n.name ||
		    (p.node_key ? p.node_key.slice(0, 8) : p.address) }, { x, y, a },
		    t("mesh.nodeFigures", { last: ago(p.last_contact), lag: lag(p) }));
		map.append(grp);
	}
	// The nodes this node has no link to.
	for (const k of others) {
		const n = byKey.get(k), p = pos.get(k);
		const grp = svg("g", { class: "node" + (n.cut ? " cutoff" : "") +
		    (n.stale ? " stale" : "") });
		grp.dataset.node = k;
		grp.append(svg("circle", { cx: p.x, cy: p.y, r: 22 }));
		label(grp, n, p, n.reportedAt === null ? t("mesh.noReport") :
		    t("mesh.reportAge", { ago: ago(n.reportedAt) }) +
		    (n.stale ? " · " + t("mesh.stale") : ""));
		map.append(grp);
	}
	const me = svg("g", { class: "self" });
	me.append(svg("circle", { cx, cy, r: 34 }));
	me.append(svg("text", { x: cx, y: cy + 5, class: "label" },
	    s.node_name || s.node_key.slice(0, 8)));
	map.append(me);
}

// ------------------------------------------------------------ search

$("search").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	const p = new URLSearchParams({ q: f.q.value, limit: "50" });
	if (f.channel.value)
		p.set("channel", f.channel.value);
	if (f.priority.value)
		p.set("priority", f.priority.value);
	const r = await call("GET", "/api/search?" + p.toString(), undefined,
	    $("search-error"));
	const ol = $("hits");
	ol.replaceChildren();
	if (r === null) {
		$("search-count").textContent = "";
		return;
	}
	$("search-count").textContent = r.hits.length > 0 ?
	    t("search.count", { n: r.hits.length }) : t("search.none");
	for (const m of r.hits) {
		const li = el("li", "hit prio-" + m.priority);
		const ch = state.channels.find((c) => c.id === m.channel);
		const meta = el("div", "meta");
		const a = el("a", "", "# " + (ch ? ch.name : m.channel.slice(0, 8)));
		a.href = "#/c/" + m.channel;
		meta.append(a, el("span", "user", m.user || ""),
		    el("time", "", fmtTime(m.time_ms)));
		if (m.priority !== "normal")
			meta.append(el("span", "badge", t("priority." + m.priority)));
		li.append(meta);
		// The snippet's segments as text; the matched ones in <mark>.
		const sn = el("div", "text");
		for (const seg of m.snippet || [])
			sn.append(seg.hit ? el("mark", "", seg.text) :
			    document.createTextNode(seg.text));
		li.append(sn);
		ol.append(li);
	}
});

// The channel filter follows the channel list.
function fillSearchChannels() {
	const sel = $("search").channel;
	const keep = sel.value;
	while (sel.options.length > 1)
		sel.remove(1);
	for (const ch of state.channels) {
		const o = el("option", "", "# " + ch.name);
		o.value = ch.id;
		sel.append(o);
	}
	sel.value = keep;
}

// ------------------------------------------------------------ roll call

async function refreshRollcall() {
	const r = await call("GET", "/api/rollcall");
	if (r !== null)
		drawBoard(r.rollcall);
}

function drawBoard(rows) {
	const tb = $("board").tBodies[0];
	tb.replaceChildren();
	for (const u of rows) {
		const tr = el("tr", "status-" + u.status);
		tr.dataset.user = u.user;
		const cells = [u.display_name + " (" + u.user + ")",
		    t("status." + u.status), u.place || "", u.note || "",
		    u.time_ms ? fmtTime(u.time_ms) : "", u.reporter || ""];
		for (const c of cells)
			tr.append(el("td", "", c));
		tb.append(tr);
	}
}

$("report").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	const r = await call("POST", "/api/rollcall", { status: f.status.value,
	    place: f.place.value, note: f.note.value }, $("report-error"));
	if (r !== null)
		drawBoard(r.rollcall);
});

// ------------------------------------------------------------ admin pages

// The users and nodes pages and their buttons are put into the page only
// for an admin, from the templates in index.html, and taken out at sign
// out: a member's page has no such elements (and the API refuses members
// anyway).
function mountAdmin() {
	if ($("users-view") !== null)
		return;
	const nav = $("admin-nav").content.cloneNode(true);
	const views = $("admin-views").content.cloneNode(true);
	translate(nav);
	translate(views);
	$("nav").append(nav);
	document.querySelector("main").append(views);
	$("nav-users").addEventListener("click", () => {
		location.hash = "#/admin/users";
	});
	$("nav-nodes").addEventListener("click", () => {
		location.hash = "#/admin/nodes";
	});
	$("user-add").addEventListener("submit", addUser);
	$("node-admit").addEventListener("submit", admitNode);
	$("node-invite").addEventListener("submit", invite);
	$("invite-token").addEventListener("focus", (ev) => ev.target.select());
}

function unmountAdmin() {
	for (const id of ["nav-users", "nav-nodes", "users-view", "nodes-view"])
		if ($(id) !== null)
			$(id).remove();
}

// A form's control by name (a form's own .id and .name shadow controls
// named so).
function field(f, name) {
	return f.elements.namedItem(name);
}

// Puts rows (made or updated by fill(tr, item) when the item changed) into
// tbody in the list's order, keyed by key(item) in data-key; rows of items
// gone are removed.  A row with a form open in it is left alone, and the
// words' language counts as a change.
function syncRows(tbody, list, key, fill) {
	const old = new Map([...tbody.rows].map((tr) => [tr.dataset.key, tr]));
	let prev = null;
	for (const item of list) {
		const k = key(item);
		const json = getLang() + JSON.stringify(item);
		let tr = old.get(k);
		old.delete(k);
		if (tr === undefined) {
			tr = el("tr");
			tr.dataset.key = k;
		}
		if (tr.dataset.json !== json && tr.querySelector("form") === null) {
			tr.dataset.json = json;
			fill(tr, item);
		}
		const at = prev !== null ? prev.nextSibling : tbody.firstChild;
		if (at !== tr)
			tbody.insertBefore(tr, at);
		prev = tr;
	}
	for (const tr of old.values())
		tr.remove();
}

// ---- users

async function refreshAdminUsers() {
	const r = await call("GET", "/api/users");
	if (r === null || $("users-view") === null)
		return;
	state.users = new Map(r.users.map((u) => [u.id, u.display_name]));
	syncRows($("users").tBodies[0], r.users, (u) => u.id, fillUser);
}

function fillUser(tr, u) {
	tr.className = u.active ? "active" : "inactive";
	tr.dataset.user = u.id;
	tr.replaceChildren();
	const self = u.id === state.me.user.id;
	tr.append(el("td", "id", u.id + (self ? t("users.you") : "")),
	    el("td", "name", u.display_name), el("td", "department",
	    u.department || ""), el("td", "role", t("role." + u.role)),
	    el("td", "active", t(u.active ? "users.isActive" :
	    "users.isInactive")));
	const td = el("td", "actions");
	// Not oneself: an admin who deactivated themselves would be locked
	// out at once.
	if (!self && u.active) {
		const b = el("button", "plain deactivate", t("users.deactivate"));
		b.type = "button";
		// A second click deactivates (no dialog box: one click never does).
		b.addEventListener("click", () => {
			if (!b.classList.contains("armed")) {
				b.classList.add("armed");
				b.textContent = t("users.deactivate.confirm");
				return;
			}
			setActive(tr, u, false);
		});
		td.append(b);
	} else if (!self) {
		const b = el("button", "plain activate", t("users.activate"));
		b.type = "button";
		b.addEventListener("click", () => setActive(tr, u, true));
		td.append(b);
	}
	const reset = el("button", "plain reset", t("users.reset"));
	reset.type = "button";
	reset.addEventListener("click", () => startReset(tr, u));
	td.append(reset, el("span", "note muted"), el("span", "error"));
	td.lastChild.setAttribute("role", "alert");
	tr.append(td);
}

async function setActive(tr, u, on) {
	const r = await call("POST", "/api/users/" + u.id + (on ? "/activate" :
	    "/deactivate"), {}, tr.querySelector(".error"));
	if (r !== null) {
		tr.dataset.json = getLang() + JSON.stringify(r.user);
		fillUser(tr, r.user);
	}
}

// The row's actions become a password field until saved or cancelled.
function startReset(tr, u) {
	const td = tr.querySelector("td.actions");
	const f = el("form", "reset");
	const pw = el("input");
	pw.type = "password";
	pw.name = "password";
	pw.required = true;
	pw.autocomplete = "new-password";
	pw.placeholder = t("users.newPassword");
	pw.setAttribute("aria-label", t("users.newPassword"));
	const save = el("button", "", t("edit.save"));
	save.type = "submit";
	const cancel = el("button", "plain", t("edit.cancel"));
	cancel.type = "button";
	const err = el("span", "error");
	err.setAttribute("role", "alert");
	f.append(pw, save, cancel, err);
	td.replaceChildren(f);
	pw.focus();
	cancel.addEventListener("click", () => fillUser(tr, u));
	f.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const r = await call("POST", "/api/users/" + u.id + "/password",
		    { password: pw.value }, err);
		if (r !== null) {
			tr.dataset.json = getLang() + JSON.stringify(r.user);
			fillUser(tr, r.user);
			tr.querySelector(".note").textContent = t("users.passwordSet");
		}
	});
}

async function addUser(ev) {
	ev.preventDefault();
	const f = ev.target;
	const body = { id: field(f, "id").value,
	    display_name: field(f, "display_name").value,
	    role: field(f, "role").value };
	if (field(f, "department").value !== "")
		body.department = field(f, "department").value;
	if (field(f, "password").value !== "")
		body.password = field(f, "password").value;
	const note = $("user-add-note");
	note.textContent = "";
	const r = await call("POST", "/api/users", body, $("user-add-error"));
	if (r === null)
		return;
	f.reset();
	note.textContent = t("users.added", { id: r.user.id });
	await refreshAdminUsers();
}

// ---- nodes

async function refreshNodes() {
	const s = await call("GET", "/api/status");
	if (s === null || $("nodes-view") === null)
		return;
	syncRows($("nodes").tBodies[0], s.nodes || [], (nd) => nd.key,
	    (tr, nd) => fillNode(tr, nd, s.node_key));
}

function fillNode(tr, nd, self) {
	tr.className = nd.revoked ? "revoked" : "admitted";
	tr.dataset.node = nd.key;
	tr.replaceChildren();
	// last_seq counts only for a revoked node: its entries after it
	// are ignored.
	tr.append(el("td", "name", nd.name + (nd.key === self ? t("nodes.self") :
	    "")), el("td", "key", nd.key), el("td", "kind",
	    t(nd.admin ? "nodes.adminNode" : "nodes.member")), el("td", "status",
	    nd.revoked ? t("nodes.revokedAfter", { n: nd.last_seq }) :
	    t("nodes.admitted")));
	const td = el("td", "actions");
	// Not this node (the API refuses it; another admin node may).
	if (!nd.revoked && nd.key !== self) {
		const b = el("button", "plain revoke", t("nodes.revoke"));
		b.type = "button";
		// A second click revokes (no dialog box: one click never does).
		b.addEventListener("click", async () => {
			if (!b.classList.contains("armed")) {
				b.classList.add("armed");
				b.textContent = t("nodes.revoke.confirm");
				return;
			}
			const r = await call("POST", "/api/nodes/" + nd.key + "/revoke",
			    {}, td.querySelector(".error"));
			if (r !== null) {
				tr.dataset.json = getLang() + JSON.stringify(r.node);
				fillNode(tr, r.node, self);
			}
		});
		td.append(b);
	}
	const err = el("span", "error");
	err.setAttribute("role", "alert");
	td.append(err);
	tr.append(td);
}

// A join token (it holds the network key): shown in a read-only field,
// selected for copying; it goes with the page at sign out.
async function invite(ev) {
	ev.preventDefault();
	const f = ev.target;
	const addr = field(f, "address").value.trim();
	$("invite-out").hidden = true;
	$("invite-token").value = "";
	const r = await call("POST", "/api/nodes/invite", addr !== "" ?
	    { address: addr } : {}, $("node-invite-error"));
	if (r === null)
		return;
	$("invite-token").value = r.token;
	$("invite-note").textContent = t("nodes.tokenNote", { address: r.address });
	$("invite-out").hidden = false;
	$("invite-token").focus();
}

async function admitNode(ev) {
	ev.preventDefault();
	const f = ev.target;
	const note = $("node-admit-note");
	note.textContent = "";
	const r = await call("POST", "/api/nodes", { key: field(f, "key").value.trim(),
	    name: field(f, "name").value, admin: field(f, "admin").checked },
	    $("node-admit-error"));
	if (r === null)
		return;
	f.reset();
	note.textContent = t("nodes.admittedNote", { name: r.node.name });
	await refreshNodes();
}

// ------------------------------------------------------------ refreshing

// Fetches what is shown; calls that come while one runs make one more.
async function refresh() {
	if (state.refreshing) {
		state.again = true;
		return;
	}
	state.refreshing = true;
	try {
		do {
			state.again = false;
			await refreshShown();
		} while (state.again);
	} finally {
		state.refreshing = false;
	}
}

async function refreshShown() {
	if (state.me === null)
		return;
	await refreshBanner();
	if (state.view === "mesh") {
		await refreshMesh();
		return;
	}
	if (state.view === "rollcall") {
		await refreshRollcall();
		return;
	}
	if (state.view === "users") {
		await refreshAdminUsers();
		return;
	}
	if (state.view === "nodes") {
		await refreshNodes();
		return;
	}
	if (state.view === "search")
		return;
	await refreshChannels();
	const ch = state.channel;
	if (ch === null)
		return;
	const r = await call("GET", "/api/channels/" + ch.id + "/messages?limit=" +
	    PAGE);
	if (r !== null && state.channel === ch)
		merge(r.messages);
	if (state.thread !== null)
		await refreshThread();
}

// ------------------------------------------------------------ start

initLang();
$("lang").textContent = t("lang.other");
$("lang").addEventListener("click", () => {
	setLang(getLang() === "ja" ? "en" : "ja");
	$("lang").textContent = t("lang.other");
	for (const li of $("message-list").children) {
		const m = state.msgs.get(li.dataset.id);
		if (m)
			fillMessage(li, m, false);
	}
	// The mesh and admin pages redraw in the new words.
	if (state.me !== null)
		refresh();
});

// A page opened with a live session goes straight in; kizunad away at
// start: try again until it answers.
async function start() {
	try {
		await enter(await api("GET", "/api/me"));
	} catch (e) {
		if (e instanceof ApiError && e.status === 0) {
			offline(true);
			setTimeout(start, POLL_MS);
			return;
		}
		offline(false);
		signedOut();
	}
}
start();
