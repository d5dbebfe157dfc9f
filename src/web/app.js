// A placeholder for the web UI: signs in through the JSON API (docs/api.md)
// and lists the channels.  Every text goes in as textContent, never as HTML.
let csrf = "";

async function api(method, path, body) {
	const opts = { method, headers: {}, credentials: "same-origin" };
	if (method !== "GET")
		opts.headers["X-CSRF-Token"] = csrf;
	if (body !== undefined) {
		opts.headers["Content-Type"] = "application/json";
		opts.body = JSON.stringify(body);
	}
	const res = await fetch(path, opts);
	const data = await res.json();
	if (!res.ok)
		throw new Error(data.error ? data.error.message : res.statusText);
	return data;
}

function show(id, on) {
	document.getElementById(id).hidden = !on;
}

async function enter(me) {
	csrf = me.csrf;
	document.getElementById("who").textContent =
	    me.user.display_name + " (" + me.user.id + ")";
	const list = document.getElementById("channels");
	list.replaceChildren();
	const { channels } = await api("GET", "/api/channels");
	for (const c of channels) {
		const li = document.createElement("li");
		li.textContent = "#" + c.name + " — " + c.messages;
		list.append(li);
	}
	show("login", false);
	show("workspace", true);
}

document.getElementById("login").addEventListener("submit", async (ev) => {
	ev.preventDefault();
	const f = ev.target;
	try {
		await enter(await api("POST", "/api/login",
		    { user: f.user.value, password: f.password.value }));
	} catch (e) {
		document.getElementById("login-error").textContent = e.message;
	}
});

document.getElementById("logout").addEventListener("click", async () => {
	await api("POST", "/api/logout");
	show("workspace", false);
	show("login", true);
});

api("GET", "/api/me").then(enter, () => show("login", true));
