// Three nodes, each with its own browser: A (city hall, which founds the
// mesh), B (a branch office, which joins with A's invite and dials A over
// TCP on 127.0.0.1) and C (a fire station, which reaches the mesh only by
// dialling B).  Pages follow each other live through the API's event
// stream:
//
//   an urgent post written on A's page shows on B's page within 2 s (the
//   time is printed); B's urgent banner shows it within 2 s (not on A, the
//   poster's) and stays on other pages until B acknowledges it there; A's
//   page then shows "確認済み 1" within 2 s and, asked, who (鈴木 健); a post made with the CLI on B shows on A's page within 2 s;
//   search on C finds A's post by the two-character word 堤防, highlighted;
//   a roll call report on B's page shows on A's board within 2 s;
//   one in another channel shows as unread on A's channel list within 2 s,
//   and opening that channel shows it and clears the count; sato (an admin)
//   adds erin on A's users page, erin signs in on B once her entry is
//   there and sees the channels; sato deactivates her (two clicks) and
//   erin's pages on A and B go back to sign-in, where she is refused;
//   A's mesh page shows the link to B open, in its table and on its map
//   (green, labelled with B's name), in sync with nothing pending and
//   last heard seconds ago, and the legend; A's map draws the B-C link
//   from B's and C's link reports (thin, green, with the report's age); A
//   stopped, B's map shows the link down and, once C reported its own link
//   to A down, A cut off (marked 途絶), and after three posts on B its
//   row for A shows 3 entries pending out with the bytes B's status counts,
//   on the map too, and the same in English.  Screenshots of both pages go to KZ_OUT/screenshots
//   (mesh-a-*.png, mesh-b-*.png).
import { join } from "node:path";
import { shots, ok, bad, eq, waitFor, node, launch, newPage, clean, signIn,
    run } from "./lib.mjs";

const a = node("a"), b = node("b"), c = node("c");
const LIVE_MS = 2000;

// The ms until fn() answers true (checked every 50 ms), or a failure.
async function within(what, ms, fn) {
	const t0 = Date.now();
	try {
		await waitFor(what, fn, ms);
	} catch (e) {
		bad(what + ": not within " + ms + " ms");
		return -1;
	}
	const dt = Date.now() - t0;
	ok(what + " (" + dt + " ms)");
	return dt;
}

async function main() {
	a.k("init");
	b.k("init");
	c.k("init");
	a.k("mesh", "create", "--name", "谷川市");
	a.kin("hanako-pw\n", "user", "add", "--name", "佐藤 花子", "--role", "admin",
	    "--password-stdin", "sato");
	a.kin("ken-pw\n", "user", "add", "--name", "鈴木 健", "--department",
	    "上流支所", "--password-stdin", "suzuki");
	a.k("channel", "create", "災害対策本部");
	a.k("channel", "create", "総務");
	for (const n of [a, b, c]) {
		n.conf("net", "discovery", "false");
		n.conf("net", "reconnect_max_s", "2");
		// Link reports (the whole-mesh map) within seconds, not a minute.
		n.conf("net", "link_report_min_s", "2");
		n.conf("net", "link_report_settle_s", "1");
		n.conf("http", "listen", "127.0.0.1:0");
	}
	a.conf("net", "listen", "127.0.0.1:0");
	b.conf("net", "listen", "127.0.0.1:0");
	c.conf("net", "listen", "");
	await a.start();
	const port = await a.netPort();
	const token = a.k("mesh", "invite", "--address", "127.0.0.1:" + port).trim();
	b.k("mesh", "join", token);
	a.k("mesh", "admit", "--name", "上流支所", b.key());
	b.conf("net", "peers", "127.0.0.1:" + port);
	await b.start();
	await waitFor("b holds a's workspace", () => a.k("digest") === b.k("digest"));
	ok("b joined and caught up");
	// C, a fire station, reaches the mesh only through B.
	c.k("mesh", "join", token);
	a.k("mesh", "admit", "--name", "消防署", c.key());
	c.conf("net", "peers", "127.0.0.1:" + await b.netPort());
	await c.start();
	await waitFor("c holds a's workspace", () => a.k("digest") === c.k("digest"));
	ok("c joined through b and caught up");

	await launch();
	const pa = await newPage(), pb = await newPage();
	await pa.goto(a.url());
	await pb.goto(b.url());
	await signIn(pa, "sato", "hanako-pw");
	await signIn(pb, "suzuki", "ken-pw");
	ok("sato signed in on a, suzuki on b (a user of the mesh, on any node)");

	// An urgent post on A, live on B.
	const text = "堤防決壊の恐れ。川沿いの地区に避難指示。";
	const onB = "#message-list li.prio-urgent";
	await pa.fill("#composer textarea", text);
	await pa.selectOption("#composer select", "urgent");
	const tPost = Date.now();
	await pa.click("#composer button[type=submit]");
	await pa.waitForSelector(onB);
	const t = await within("the urgent post shows on b's page", LIVE_MS, async () =>
	    (await pb.$$eval(onB + " .text", (es) => es.map((e) => e.textContent)))
	        .includes(text));
	if (t >= 0)
		console.log("e2e mesh: the urgent post written on a showed on b's page " +
		    t + " ms later");
	eq(await pb.textContent(onB + " .badge"), "至急", "with its badge on b");
	eq((await pb.$$(onB + " button.edit")).length, 0,
	    "suzuki (a member) gets no edit button on sato's post");
	eq((await pa.$$(onB + " button.edit")).length, 1, "sato, its author, does");
	await pb.screenshot({ path: join(shots, "mesh-b-urgent.png") });

	// B's urgent banner, until B acknowledges; A sees who did.
	const tb = await within("the urgent banner shows on b's page", LIVE_MS,
	    async () => (await pb.$$eval("#banner:not([hidden]) li .text",
	        (es) => es.map((e) => e.textContent))).includes(text));
	if (tb >= 0)
		console.log("e2e mesh: the banner showed on b's page " +
		    (Date.now() - tPost) + " ms after sato pressed send on a");
	eq(await pb.textContent("#banner li .user"), "佐藤 花子", "the banner names the poster");
	eq(await pb.textContent("#banner li .badge"), "至急", "and the priority");
	eq((await pa.$$("#banner:not([hidden]) li")).length, 0, "no banner on a (a's own post)");
	await pb.click("#nav-mesh");
	await pb.waitForSelector("#mesh-view:not([hidden])");
	eq(await pb.isVisible("#banner li"), true, "the banner stays on another page");
	await pb.screenshot({ path: join(shots, "mesh-b-banner.png") });
	await pb.click("#banner li button.ack");
	await pb.waitForSelector("#banner", { state: "hidden" });
	ok("acknowledging takes the banner away");
	await pb.click("#nav-channels");
	await pb.waitForSelector("#workspace:not([hidden])");
	await within("b's acknowledgement shows on a's page", LIVE_MS, async () =>
	    (await pa.textContent(onB + " .acks")) === "確認済み 1");
	await pa.click(onB + " button.acks");
	await waitFor("who acknowledged", async () =>
	    (await pa.textContent(onB + " .ackers")) === "確認した人: 鈴木 健");
	ok("a sees who acknowledged: 鈴木 健");
	await pa.screenshot({ path: join(shots, "mesh-a-acked.png") });

	// The CLI on B, live on A.
	b.k("--as", "suzuki", "post", "災害対策本部", "上流支所、受け入れ準備完了。");
	await within("a post made with the CLI on b shows on a's page", LIVE_MS,
	    async () => (await pa.$$eval("#message-list li .text",
	        (es) => es.map((e) => e.textContent))).includes("上流支所、受け入れ準備完了。"));

	// Search on C (two hops from A) by a two-character word.
	const pc = await newPage();
	await pc.goto(c.url());
	await signIn(pc, "suzuki", "ken-pw");
	await within("suzuki's acknowledgement reached c", 5000, () =>
	    c.ctl({ cmd: "status" }).entries === b.ctl({ cmd: "status" }).entries);
	await pc.waitForTimeout(300);
	eq(await pc.isVisible("#banner li"), false,
	    "no banner for suzuki on c: acknowledged on b");
	await pc.click("#nav-search");
	await pc.waitForSelector("#search-view:not([hidden])");
	await within("c has a's urgent post", 5000, () => c.k("tail", "-n", "5",
	    "災害対策本部").includes(text));
	await pc.fill("#search input[name=q]", "堤防");
	await pc.click("#search button[type=submit]");
	await waitFor("hits on c", async () => (await pc.$$("#hits li")).length > 0);
	eq(await pc.textContent("#hits li .text"), text, "search on c finds a's post by 堤防");
	eq(JSON.stringify(await pc.$$eval("#hits li mark", (ms) => ms.map((m) => m.textContent))),
	    JSON.stringify(["堤防"]), "with the word highlighted");
	eq(await pc.textContent("#search-count"), "1 件", "one hit");
	await pc.screenshot({ path: join(shots, "mesh-c-search.png") });

	// Roll call: A's board open, a report on B shows there.
	await pa.click("#nav-rollcall");
	await pa.waitForSelector('#board tr[data-user="suzuki"]');
	await pb.click("#nav-rollcall");
	await pb.waitForSelector("#rollcall-view:not([hidden])");
	await pb.selectOption("#report select[name=status]", "needs-help");
	await pb.fill("#report input[name=place]", "上流支所");
	await pb.fill("#report input[name=note]", "発電機の燃料不足");
	eq((await pa.$$eval('#board tr[data-user="suzuki"] td', (tds) =>
	    tds.map((td) => td.textContent)))[1], "不明", "a's board: suzuki unknown at first");
	await pb.click("#report button[type=submit]");
	const row = async () => await pa.$$eval('#board tr[data-user="suzuki"] td',
	    (tds) => tds.map((td) => td.textContent));
	await within("b's report shows on a's roll call", LIVE_MS, async () =>
	    (await row())[1] === "要支援");
	eq(JSON.stringify((await row()).slice(0, 4)), JSON.stringify(["鈴木 健 (suzuki)",
	    "要支援", "上流支所", "発電機の燃料不足"]), "with place and note");
	eq((await row())[5], "suzuki", "reported by suzuki");
	await pa.screenshot({ path: join(shots, "mesh-a-rollcall.png") });
	await pa.click("#nav-channels");
	await pa.waitForSelector("#workspace:not([hidden])");
	await pb.click("#nav-channels");
	await pb.waitForSelector("#workspace:not([hidden])");

	// Unread: a post in another channel counts on A's channel list until
	// A opens that channel.
	b.k("--as", "suzuki", "post", "総務", "上流支所の衛星電話、通話テスト済みです。");
	const unread = async () => await pa.$$eval("#channels li", (lis) =>
	    lis.map((li) => li.textContent));
	await within("a's channel list counts it unread", LIVE_MS, async () =>
	    (await unread()).includes("# 総務1"));
	await pa.click("#channels a:text('# 総務')");
	await waitFor("総務 opens", async () => (await pa.textContent("#channel-title")) === "# 総務");
	await waitFor("and is read", async () => (await unread()).includes("# 総務"));
	eq(JSON.stringify(await unread()), JSON.stringify(["# 災害対策本部", "# 総務"]),
	    "opening it clears the count");
	eq(await pa.textContent("#message-list li:last-child .text"),
	    "上流支所の衛星電話、通話テスト済みです。", "and shows the post");

	// Admin: sato adds a user on A's users page; the user's entry travels
	// to B, where she signs in and sees the channels; sato deactivates her
	// on A and her sessions end: on A at her page's next request, on B
	// once the entry has arrived.
	eq((await pb.$$("#nav-users, #nav-nodes, #users-view, #nodes-view")).length, 0,
	    "suzuki (a member) has no admin page on b");
	await pa.click("#nav-users");
	await pa.waitForSelector("#users-view:not([hidden])");
	await pa.fill("#user-add input[name=id]", "erin");
	await pa.fill("#user-add input[name=display_name]", "遠藤 えりん");
	await pa.fill("#user-add input[name=password]", "erin-pw");
	await pa.click("#user-add button[type=submit]");
	await pa.waitForSelector('#users tr[data-user="erin"]');
	eq(await pa.textContent("#user-add-note"), "erin を追加しました", "sato adds erin on a");
	await within("erin's entry reaches b", 5000, () =>
	    /^erin\b/m.test(b.k("user", "list")));
	const pe = await newPage();
	await pe.goto(b.url());
	await signIn(pe, "erin", "erin-pw");
	eq(await pe.textContent("#who"), "遠藤 えりん (erin)", "erin signs in on b");
	eq(JSON.stringify(await pe.$$eval("#channels a", (as) => as.map((a) => a.textContent))),
	    JSON.stringify(["# 災害対策本部", "# 総務"]), "and sees the channel list");
	const pea = await newPage();
	await pea.goto(a.url());
	await signIn(pea, "erin", "erin-pw");
	ok("erin signs in on a too");
	const erin = '#users tr[data-user="erin"]';
	await pa.click(erin + " button.deactivate");
	eq(await pa.textContent(erin + " button.deactivate"), "本当に無効化",
	    "deactivating asks again");
	await pa.click(erin + " button.deactivate");
	await waitFor("erin shown inactive", async () =>
	    (await pa.textContent(erin + " td.active")) === "無効");
	ok("the second click deactivates erin");
	await within("erin's page on a goes back to sign-in", 3000, async () =>
	    await pea.isVisible("#login:not([hidden])"));
	eq(await pea.textContent("#who"), "", "and no longer names her");
	await within("erin's page on b goes back to sign-in", 5000, async () =>
	    await pe.isVisible("#login:not([hidden])"));
	await pea.fill("input[name=user]", "erin");
	await pea.fill("input[name=password]", "erin-pw");
	await pea.click("#login button[type=submit]");
	await waitFor("the refusal", async () => (await pea.textContent("#login-error")) !== "");
	eq(await pea.isVisible("#workspace"), false, "erin cannot sign in again: " +
	    await pea.textContent("#login-error"));
	await pea.screenshot({ path: join(shots, "mesh-a-deactivated.png") });
	clean(pe, "erin's page on b");
	clean(pea, "erin's page on a");
	await pa.click("#nav-channels");
	await pa.waitForSelector("#workspace:not([hidden])");

	// A's mesh page: the link to B.
	await pa.click("#nav-mesh");
	await pa.waitForSelector("#mesh-view:not([hidden])");
	const link = await waitFor("b's row", async () => {
		const rows = await pa.$$eval("#links tbody tr", (trs) =>
		    trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
		return rows.find((r) => r[0].startsWith("上流支所 " + b.key().slice(0, 16)));
	});
	eq(link[1], "tcp", "a's mesh page: the link to b is tcp");
	eq(link[2], "接続中", "and open");
	const peer = 'svg#mesh-map g.peer[data-node="' + b.key() + '"]';
	eq(await pa.getAttribute(peer, "class"), "peer state-open",
	    "a's mesh map: b's line is open (green)");
	eq(await pa.textContent(peer + " text.label"), "上流支所", "labelled with b's name");
	// Its figures: in sync, nothing pending either way, heard just now.
	const fig = async (p, key) => await p.$$eval('#links tr[data-node="' + key +
	    '"] td', (tds) => Object.fromEntries(tds.map((td) => [td.className,
	    td.textContent])));
	await within("a's table: the link to b in sync", 3000, async () =>
	    (await fig(pa, b.key())).lag === "同期済み");
	const fb = await fig(pa, b.key());
	eq(fb["pending-out"] + " | " + fb["pending-in"], "0 件 / 0 B | 0 件 / 0 B",
	    "nothing pending either way, in entries and bytes");
	if (/^\d+秒前$/.test(fb["last-contact"]))
		ok("last contact seconds ago: " + fb["last-contact"]);
	else
		bad("a's last contact with b: '" + fb["last-contact"] + "'");
	eq(await pa.textContent(peer + " text.pending"), "未送信 0 件 / 0 B · 未受信 0 件 / 0 B",
	    "the map says what is pending each way");
	if (/^\d+秒前 · 遅れ 同期済み$/.test(await pa.textContent(peer + " text.figures")))
		ok("and, by b's name, the last contact and lag: " +
		    await pa.textContent(peer + " text.figures"));
	else
		bad("a's map figures for b: '" + await pa.textContent(peer + " text.figures") + "'");
	eq((await pa.$$(peer + " text.mark")).length, 0, "b is not marked cut off");
	// The whole mesh: the link between B and C, which A has no part in,
	// drawn thin and green from their reports, labelled with its age.
	const bc = 'svg#mesh-map g.reported[data-from="' + b.key() + '"][data-to="' +
	    c.key() + '"], svg#mesh-map g.reported[data-from="' + c.key() +
	    '"][data-to="' + b.key() + '"]';
	await within("a's map draws the b-c link from their reports", 10000,
	    async () => (await pa.$$(bc)).length === 1);
	eq(await pa.getAttribute(bc, "class"), "reported state-open",
	    "the b-c link is up (thin, green), not stale");
	if (/^tcp · 接続中 · \d+秒前$/.test(await pa.textContent(bc + " text.edge")))
		ok("labelled with its transport and the report's age: " +
		    await pa.textContent(bc + " text.edge"));
	else
		bad("a's map label of b-c: '" + await pa.textContent(bc + " text.edge") + "'");
	eq(JSON.stringify(await pa.$$eval("#mesh-legend li", (lis) => lis.map((li) =>
	    li.textContent))), JSON.stringify(["接続中", "認証中", "切断・接続待ち",
	    "途絶: リンクが切れているか、5 分を超えて同期が遅れている",
	    "細線: 他のノードが報告したリンク（報告からの経過時間つき）",
	    "点線で薄い: 15 分を超えて新しい報告が届いていない（古い情報）"]),
	    "the legend explains the colours and the cut-off look");
	await pa.screenshot({ path: join(shots, "mesh-a-links.png") });

	// A goes away: B's map shows its link to A down.
	await pb.click("#nav-mesh");
	const toA = 'svg#mesh-map g.peer[data-node="' + a.key() + '"]';
	await pb.waitForSelector(toA + ".state-open");
	clean(pa, "a's page");
	await a.stop();
	await within("b's mesh map shows the link to a down", 8000, async () =>
	    /state-(connecting|closed)/.test(await pb.getAttribute(toA, "class")));
	if (/^peer state-(connecting|closed) cutoff$/.test(await pb.getAttribute(toA, "class")))
		ok("and a cut off (dashed)");
	else
		bad("b's map class for a: " + await pb.getAttribute(toA, "class"));
	// C linked to A too: until C's next report (2 s here) says that link
	// went down as well, A is reachable through C on B's map.
	await within("a is marked 途絶 on b's map once c reported its link down",
	    10000, async () => (await pb.$$(toA + " text.mark")).length === 1);
	eq(await pb.textContent(toA + " text.mark"), "途絶", "a is marked 途絶 on b's map");
	// Three posts on B while A is away: B's row for A shows them pending
	// out, with the bytes kizunad counts for them.  B's and C's link
	// reports that A went away are pending too: the posts count on top of
	// what is pending once those are written (no report is due for
	// link_report_min_s after the last; no link changes meanwhile).
	const rowA = () => b.ctl({ cmd: "status" }).peers.find((r) => r.node_key === a.key());
	let base = -1;
	await waitFor("b's pending out to a settles", async () => {
		const n = rowA().pending_out;
		await new Promise((r) => setTimeout(r, 2500));
		if (rowA().pending_out !== n)
			return false;
		base = n;
		return true;
	}, 15000);
	ok("before the posts, " + base + " link reports pending out to a");
	const want = base + 3;
	for (let i = 1; i <= 3; i++)
		b.k("--as", "suzuki", "post", "災害対策本部", "本庁と不通 " + i);
	const size = (n) => n < 1024 ? n + " B" : (n / 1024).toFixed(1) + " KB";
	await within("b's table: 3 more entries pending out to a", 5000, async () =>
	    (await fig(pb, a.key()))["pending-out"].startsWith(want + " 件 / "));
	const st = rowA();
	eq(st.pending_out, want, "b's status: 3 more entries pending out to a");
	const fa = await fig(pb, a.key());
	eq(fa["pending-out"], want + " 件 / " + size(st.pending_bytes_out),
	    "b's table: the entries and their bytes pending out to a (" +
	    st.pending_bytes_out + " bytes)");
	eq(fa["pending-in"], "0 件 / 0 B", "nothing pending in");
	eq(await pb.textContent(toA + " text.pending"), "未送信 " + want + " 件 / " +
	    size(st.pending_bytes_out) + " · 未受信 0 件 / 0 B", "and on the map");
	if (/^\d+秒前$/.test(fa["last-contact"]) && /^\d+秒$/.test(fa.lag))
		ok("a last heard " + fa["last-contact"] + ", lag " + fa.lag);
	else
		bad("b's row for a: last contact '" + fa["last-contact"] + "', lag '" +
		    fa.lag + "'");
	eq(await pb.getAttribute('#links tr[data-node="' + a.key() + '"]', "class"),
	    "state-" + st.state + " cutoff", "the table's row is cut off too");
	await pb.screenshot({ path: join(shots, "mesh-b-cut-off.png") });
	await pb.click("#lang");
	await waitFor("english figures", async () =>
	    (await fig(pb, a.key()))["pending-out"].startsWith(want + " entries / "));
	if (/^\d+ s ago$/.test((await fig(pb, a.key()))["last-contact"]) &&
	    await pb.textContent(toA + " text.mark") === "cut off")
		ok("in English: " + (await fig(pb, a.key()))["last-contact"] + ", cut off");
	else
		bad("b's figures in English: " + JSON.stringify(await fig(pb, a.key())));
	await pb.screenshot({ path: join(shots, "mesh-b-cut-off-en.png") });
	clean(pb, "b's page");
	clean(pc, "c's page");
	await c.stop();
	await b.stop();
}

await run("e2e mesh", main);
