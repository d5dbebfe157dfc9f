// What the browser tests share: checks that count, kizuna nodes in a
// temporary folder with their kizunad, and Chromium.
//
// Environment: KZ_BIN (kizuna, kizunad, kizuna-ctl), KZ_TESTBIN (kz-fill),
// KZ_OUT (screenshots go to KZ_OUT/screenshots), KZ_CHROMIUM (default
// /usr/bin/chromium), KZ_KEEP=1 keeps the folder.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BIN = process.env.KZ_BIN;
export const TESTBIN = process.env.KZ_TESTBIN;
const OUT = process.env.KZ_OUT || ".";
const CHROMIUM = process.env.KZ_CHROMIUM || "/usr/bin/chromium";
export const shots = join(OUT, "screenshots");
mkdirSync(shots, { recursive: true });
export const T = mkdtempSync(join(tmpdir(), "kze2e-"));

let passed = 0, failed = 0;
export function ok(what) {
	passed++;
	console.log("ok: " + what);
}
export function bad(what) {
	failed++;
	console.error("FAIL: " + what);
}
export function eq(got, want, what) {
	if (got === want)
		ok(what);
	else
		bad(what + ": got " + JSON.stringify(got) + ", wanted " +
		    JSON.stringify(want));
}

// Until fn() answers something true (then that), or throws after ms.
export async function waitFor(what, fn, ms = 10000) {
	const end = Date.now() + ms;
	for (;;) {
		try {
			const v = await fn();
			if (v)
				return v;
		} catch (e) {
			// not yet
		}
		if (Date.now() > end)
			throw new Error(what + ": not within " + ms + " ms");
		await new Promise((r) => setTimeout(r, 50));
	}
}

// A node: its home folder, the CLI on it, and its kizunad.
export class Node {
	constructor(name) {
		this.name = name;
		this.home = join(T, name);
		this.daemon = null;
		this.log = "";
	}

	k(...args) {
		return execFileSync(join(BIN, "kizuna"), ["--home", this.home, ...args],
		    { encoding: "utf8" });
	}

	// kizuna ARGS with INPUT on its standard input.
	kin(input, ...args) {
		return execFileSync(join(BIN, "kizuna"), ["--home", this.home, ...args],
		    { encoding: "utf8", input });
	}

	key() {
		return readFileSync(join(this.home, "node.pub"), "utf8").trim();
	}

	ctl(req) {
		return JSON.parse(execFileSync(join(BIN, "kizuna-ctl"),
		    ["--home", this.home, JSON.stringify(req)], { encoding: "utf8" }));
	}

	// Sets one setting of kizuna.conf.
	conf(section, key, value) {
		const path = join(this.home, "kizuna.conf");
		let sect = "";
		const lines = readFileSync(path, "utf8").split("\n").map((l) => {
			const m = /^\[(.*)\]$/.exec(l);
			if (m)
				sect = m[1];
			if (sect === section && l.startsWith(key + " ="))
				return key + " = " + value;
			return l;
		});
		writeFileSync(path, lines.join("\n"));
	}

	// Starts kizunad; answers the port it serves the web workspace on.
	async start() {
		this.log = "";
		this.daemon = spawn(join(BIN, "kizunad"), ["--home", this.home],
		    { stdio: ["ignore", "ignore", "pipe"] });
		this.daemon.stderr.on("data", (b) => { this.log += b.toString(); });
		this.http = await waitFor(this.name + " serves http", () => {
			const m = /serving the web workspace at http:\/\/127\.0\.0\.1:(\d+)\//.exec(this.log);
			return m ? Number(m[1]) : 0;
		});
		return this.http;
	}

	// The TCP port its links listen on (after start).
	async netPort() {
		return await waitFor(this.name + " listens", () => {
			const m = /listening on 127\.0\.0\.1:(\d+)\n/.exec(this.log);
			return m ? Number(m[1]) : 0;
		});
	}

	url() {
		return "http://127.0.0.1:" + this.http + "/";
	}

	// SIGTERM; a check that it exits 0.
	async stop() {
		const d = this.daemon;
		const exited = new Promise((r) => d.on("exit", (c) => r(c)));
		d.kill("SIGTERM");
		eq(await exited, 0, this.name + "'s kizunad stops cleanly");
		this.daemon = null;
	}
}

let browser = null;
const nodes = [];

export function node(name) {
	const n = new Node(name);
	nodes.push(n);
	return n;
}

export async function launch() {
	browser = await chromium.launch({ executablePath: CHROMIUM,
	    args: ["--no-sandbox"] });
	return browser;
}

// A page of its own (its own cookies) that counts script errors and
// missing files, and dismisses (and counts) dialogs.
export async function newPage(opts = {}) {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 },
	    locale: "ja-JP", ...opts });
	const page = await ctx.newPage();
	page.kz = { dialogs: 0, errors: [], missing: [] };
	page.on("dialog", (d) => { page.kz.dialogs++; d.dismiss(); });
	page.on("pageerror", (e) => page.kz.errors.push(e.message));
	// Answers 401/403/429 are expected; a script error is not.
	page.on("console", (m) => {
		if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
			page.kz.errors.push(m.text());
	});
	page.on("response", (r) => { if (r.status() === 404) page.kz.missing.push(r.url()); });
	return page;
}

// Checks that the page had no script error and no missing file.
export function clean(page, what) {
	eq(page.kz.missing.length, 0, what + ": no file of the page is missing" +
	    (page.kz.missing.length ? ": " + page.kz.missing.join(", ") : ""));
	eq(page.kz.errors.length, 0, what + ": no script error" +
	    (page.kz.errors.length ? ": " + page.kz.errors.join("; ") : ""));
}

export async function signIn(page, user, password) {
	await page.waitForSelector("#login:not([hidden])");
	await page.fill("input[name=user]", user);
	await page.fill("input[name=password]", password);
	await page.click("#login button[type=submit]");
	await page.waitForSelector("#workspace:not([hidden])");
}

// Runs main, cleans up, prints the count and exits 0 only if every check
// passed (and there was one).
export async function run(name, main) {
	try {
		await main();
	} catch (e) {
		bad(e.stack || String(e));
	}
	if (browser !== null)
		await browser.close().catch(() => {});
	for (const n of nodes)
		if (n.daemon !== null && n.daemon.exitCode === null)
			n.daemon.kill("SIGKILL");
	if (!process.env.KZ_KEEP)
		rmSync(T, { recursive: true, force: true });
	else
		console.log("kept " + T);
	console.log(name + ": " + passed + " passed, " + failed + " failed");
	process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
