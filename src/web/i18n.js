// The UI's words in Japanese (the default) and English.  Elements carry
// data-i18n="key" (their text) or data-i18n-placeholder="key"; code asks
// t("key", {name: value}) for text with {name} filled in.

const words = {
	ja: {
		"nav.channels": "チャンネル",
		"nav.mesh": "メッシュ",
		"nav.search": "検索",
		"nav.rollcall": "安否確認",
		"search.title": "検索",
		"search.placeholder": "言葉で探す（例: 給水）",
		"search.allChannels": "すべてのチャンネル",
		"search.anyPriority": "すべての重要度",
		"search.urgentUp": "至急以上",
		"search.submit": "検索",
		"search.count": "{n} 件",
		"search.none": "見つかりませんでした",
		"rollcall.title": "安否確認",
		"rollcall.report": "報告",
		"rollcall.who": "氏名",
		"rollcall.status": "状況",
		"rollcall.place": "場所",
		"rollcall.note": "メモ",
		"rollcall.when": "報告時刻",
		"rollcall.reporter": "報告者",
		"status.safe": "無事",
		"status.needs-help": "要支援",
		"status.injured": "負傷",
		"status.unknown": "不明",
		"offline": "接続が切れました。再接続しています…",
		"logout": "ログアウト",
		"login.title": "ログイン",
		"login.user": "ユーザー ID",
		"login.password": "パスワード",
		"login.submit": "ログイン",
		"channels": "チャンネル",
		"history.start": "これより前のメッセージはありません",
		"history.loading": "読み込み中…",
		"composer.placeholder": "メッセージを入力",
		"composer.send": "送信",
		"priority.normal": "通常",
		"priority.urgent": "至急",
		"priority.emergency": "緊急",
		"thread.title": "スレッド",
		"thread.placeholder": "返信を入力",
		"thread.reply": "返信",
		"thread.replies": "返信 {n} 件",
		"close": "閉じる",
		"ack": "確認しました",
		"acked": "確認済み {n}",
		"ackers": "確認した人: {names}",
		"ackers.none": "まだ誰も確認していません",
		"edit": "編集",
		"edit.save": "保存",
		"edit.cancel": "取り消し",
		"delete": "削除",
		"delete.confirm": "本当に削除",
		"react": "👍",
		"edited": "(編集済み)",
		"deleted": "(削除されました)",
		"mesh.title": "メッシュの状態",
		"mesh.node": "このノード: {name} ({key})、エントリー {entries} 件",
		"mesh.peer": "相手",
		"mesh.transport": "経路",
		"mesh.state": "状態",
		"mesh.since": "接続時刻",
		"mesh.in": "受信",
		"mesh.out": "送信",
		"mesh.pending": "未送受信",
		"mesh.error": "最後のエラー",
		"mesh.none": "リンクはありません",
		"mesh.map": "このノードと直接のリンク（緑: 接続中、黄: 認証中、赤: 切断）",
		"mesh.pendingShort": "未 {n}",
		"state.open": "接続中",
		"state.connecting": "接続待ち",
		"state.handshake": "認証中",
		"state.closed": "切断",
		"lang.other": "English",
	},
	en: {
		"nav.channels": "Channels",
		"nav.mesh": "Mesh",
		"nav.search": "Search",
		"nav.rollcall": "Roll call",
		"search.title": "Search",
		"search.placeholder": "Find words (e.g. 給水)",
		"search.allChannels": "All channels",
		"search.anyPriority": "Any priority",
		"search.urgentUp": "Urgent and up",
		"search.submit": "Search",
		"search.count": "{n} found",
		"search.none": "Nothing found",
		"rollcall.title": "Roll call",
		"rollcall.report": "Report",
		"rollcall.who": "Name",
		"rollcall.status": "Status",
		"rollcall.place": "Place",
		"rollcall.note": "Note",
		"rollcall.when": "Reported",
		"rollcall.reporter": "By",
		"status.safe": "safe",
		"status.needs-help": "needs help",
		"status.injured": "injured",
		"status.unknown": "unknown",
		"offline": "Connection lost. Reconnecting…",
		"logout": "Sign out",
		"login.title": "Sign in",
		"login.user": "User ID",
		"login.password": "Password",
		"login.submit": "Sign in",
		"channels": "Channels",
		"history.start": "This is the start of the channel",
		"history.loading": "Loading…",
		"composer.placeholder": "Write a message",
		"composer.send": "Send",
		"priority.normal": "Normal",
		"priority.urgent": "Urgent",
		"priority.emergency": "Emergency",
		"thread.title": "Thread",
		"thread.placeholder": "Write a reply",
		"thread.reply": "Reply",
		"thread.replies": "{n} replies",
		"close": "Close",
		"ack": "Acknowledge",
		"acked": "Acknowledged by {n}",
		"ackers": "Acknowledged by: {names}",
		"ackers.none": "Nobody has acknowledged it yet",
		"edit": "Edit",
		"edit.save": "Save",
		"edit.cancel": "Cancel",
		"delete": "Delete",
		"delete.confirm": "Really delete",
		"react": "👍",
		"edited": "(edited)",
		"deleted": "(deleted)",
		"mesh.title": "Mesh status",
		"mesh.node": "This node: {name} ({key}), {entries} entries",
		"mesh.peer": "Peer",
		"mesh.transport": "Transport",
		"mesh.state": "State",
		"mesh.since": "Since",
		"mesh.in": "In",
		"mesh.out": "Out",
		"mesh.pending": "Pending",
		"mesh.error": "Last error",
		"mesh.none": "No links",
		"mesh.map": "This node and its direct links (green: open, amber: handshake, red: down)",
		"mesh.pendingShort": "{n} pending",
		"state.open": "open",
		"state.connecting": "connecting",
		"state.handshake": "handshake",
		"state.closed": "closed",
		"lang.other": "日本語",
	},
};

let lang = "ja";

export function setLang(l) {
	lang = words[l] ? l : "ja";
	try {
		localStorage.setItem("kizuna.lang", lang);
	} catch (e) {
		// Private mode: the choice lasts this page only.
	}
	document.documentElement.lang = lang;
	for (const el of document.querySelectorAll("[data-i18n]"))
		el.textContent = t(el.dataset.i18n);
	for (const el of document.querySelectorAll("[data-i18n-placeholder]"))
		el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function getLang() {
	return lang;
}

export function initLang() {
	let l = null;
	try {
		l = localStorage.getItem("kizuna.lang");
	} catch (e) {
		l = null;
	}
	setLang(l || "ja");
}

export function t(key, vars) {
	let s = (words[lang] && words[lang][key]) || words.ja[key] || key;
	if (vars)
		for (const [k, v] of Object.entries(vars))
			s = s.replaceAll("{" + k + "}", String(v));
	return s;
}
