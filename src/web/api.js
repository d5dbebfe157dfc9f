// The JSON API (docs/api.md): the session cookie travels by itself; every
// request but a GET carries the session's CSRF token.

let csrf = "";

// How far kizunad's clock is ahead of this browser's, in ms, from the Date
// header of its last answer (half a second added: the header drops the
// fraction).  Times the API gives in its own clock, such as a link's last
// contact, are shown relative to its now: an appliance may have no working
// clock, or the laptop a wrong one.
let skew = 0;

export function serverNow() {
	return Date.now() + skew;
}

export function setCsrf(token) {
	csrf = token || "";
}

// An error the API answered: .status (HTTP) and .code (stable, docs/api.md).
export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

export async function api(method, path, body) {
	const opts = { method, headers: {}, credentials: "same-origin" };
	if (method !== "GET")
		opts.headers["X-CSRF-Token"] = csrf;
	if (body !== undefined) {
		opts.headers["Content-Type"] = "application/json";
		opts.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, opts);
	} catch (e) {
		// kizunad is down or restarting: the caller retries.
		throw new ApiError(0, "offline", e.message);
	}
	const date = Date.parse(res.headers.get("Date") || "");
	if (!Number.isNaN(date))
		skew = date + 500 - Date.now();
	let data = null;
	try {
		data = await res.json();
	} catch (e) {
		data = null;
	}
	if (!res.ok) {
		const err = data && data.error ? data.error : {};
		throw new ApiError(res.status, err.code || "http_" + res.status,
		    err.message || res.statusText);
	}
	return data;
}
