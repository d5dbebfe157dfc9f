/*
 * Synthetic disaster-coordination chat (see chatgen.h).
 *
 * A message is an optional tag, then sentences drawn from templates whose
 * slots take a place, a facility, a road, a surname, an item, a time or a
 * number, until it is long enough; a message that overshoots is drawn
 * again.  Proper nouns alternate between the variants (even index: TRAIN,
 * odd: HELDOUT); templates whose index is 3 mod 4 are HELDOUT's alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatgen.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const places[] = {
	"上町", "下町", "本町", "栄町", "旭町", "川原町", "宮下", "新田",
	"東沢", "西沢", "杉平", "桜台", "緑ヶ丘", "大橋", "滝沢", "北原",
	"南原", "中島", "柳原", "寺前", "石神", "森下", "高畑", "水口",
	"上野原", "松ヶ枝", "若宮", "日向", "小谷", "岩井戸", "駅前", "峠口",
};

static const char *const facilities[] = {
	"第一小学校体育館", "中央公民館", "北中学校", "市民会館",
	"総合体育館", "南小学校", "福祉センター", "旧保育園",
	"上町集会所", "地区コミュニティセンター", "本庁舎", "東沢支所",
	"西小学校", "農村環境改善センター", "文化ホール", "高校の武道場",
	"老人福祉館", "駅前交流センター", "青少年会館", "消防団詰所",
};

static const char *const roads[] = {
	"国道152号", "県道23号", "市道大橋線", "旧道", "林道杉平線",
	"川沿いの市道", "駅前通り", "県道松川線", "農道", "バイパス",
	"国道256号", "市道宮下線",
};

static const char *const surnames[] = {
	"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村",
	"小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上",
	"木村", "林", "斎藤", "清水", "山崎", "森", "池田", "橋本",
	"阿部", "石川", "小川", "中島", "前田", "藤田", "後藤", "岡田",
};

static const char *const items[] = {
	"飲料水", "毛布", "非常食", "おにぎり", "紙おむつ", "簡易トイレ",
	"発電機", "灯油", "懐中電灯", "乾電池", "粉ミルク", "マスク",
	"消毒液", "ブルーシート", "土のう", "段ボールベッド", "常備薬",
	"生理用品", "タオル", "カセットボンベ",
};

static const char *const units[] = { "箱", "個", "枚", "本", "セット", "袋" };

static const char *const tags[] = {
	"【至急】", "【報告】", "【連絡】", "【共有】", "【依頼】", "【訂正】",
};

static const char *const closings[] = {
	"よろしくお願いします。", "以上です。", "確認をお願いします。",
	"ご協力お願いします。", "引き続き注意してください。",
};

static const char *const replies[] = {
	"了解しました。", "ありがとうございます。確認します。", "承知しました。",
	"対応します。", "こちらでも確認しました。", "了解、向かいます。",
	"お疲れさまです。", "引き継ぎました。",
};

static const char *const emojis[] = {
	"👍", "🙏", "✅", "👀", "🆗", "⚠️",
};

static const char *const notes[] = {
	"家族と一緒です", "足を少し怪我しました", "持病の薬が残りわずか",
	"自宅は無事です", "車で移動中", "子ども二人と避難しています",
	"高齢の母が一緒です", "連絡は夜になります",
};

/*
 * Slots: {P} place, {F} facility, {R} road, {S} surname, {I} item, {U} a
 * count of an item with its unit, {T} a time, {N} a count 2..60, {M} a
 * count 10..500, {D} a duration, {X} a noun and {A} an act noun of the
 * word list.
 */
static const char *const templates[] = {
	"{F}の避難者は現在{N}名です。",
	"{I}が不足しています。",
	"{P}地区で停電が続いています。復旧見込みは{T}頃です。",
	"{R}が{P}付近で土砂崩れのため通行止めです。",
	"給水車が{T}に{F}に到着予定です。",
	"{S}さんの安否確認できました。{F}に避難しています。",
	"{P}の{N}世帯と連絡が取れていません。",
	"{F}に{I}が{U}届きました。",
	"道路寸断により{P}が孤立しています。",
	"{T}現在、{P}の川の水位が上昇しています。",
	"{S}です。{F}の受付を{T}から交代します。",
	"{F}に{I}を{U}手配します。",
	"{P}で断水のため、{F}に臨時給水所を開設しました。",
	"{F}の携帯充電に行列ができています。",
	"{P}の{R}沿いで倒木があります。重機の手配をお願いします。",
	"{T}から災害対策本部会議を{F}で行います。",
	"{F}の要配慮者は{N}名、うち{N}名は医療的ケアが必要です。",
	"{P}の停電は{T}に復旧しました。",
	"{R}は{T}に片側通行で再開しました。",
	"安否確認：{P}は{M}名中{M}名の確認が済みました。",
	"{S}さんから{P}で土砂崩れの恐れがあると通報がありました。",
	"{F}の飲料水は残り{D}分ほどです。",
	"{P}の避難所を{T}で閉鎖し、{F}に統合します。",
	"{S}さんのご家族が{F}で待っています。",
	"{F}へ向かう{R}は冠水していて通れません。",
	"{I}と{I}を{F}に届けてください。",
	"{P}の仮設トイレが{N}基設置されました。",
	"消防団が{P}の見回りを{T}に始めます。",
	"{F}で発熱者が{N}名出ています。保健師の派遣をお願いします。",
	"{P}の給水は{T}から{T}までです。",
	"{R}の{P}側で路肩が崩れています。",
	"{S}です。{P}に着きました。被害状況を確認します。",
	"{F}の避難者名簿を更新しました。",
	"{P}で電柱が倒れています。電力会社に連絡済みです。",
	"{T}の時点で{F}の空きは約{N}名分です。",
	"{P}の{N}世帯に避難指示が出ました。",
	"{S}さん、{F}の{I}の在庫を教えてください。",
	"明日{T}に{F}で炊き出しを行います。",
	"{P}地区の安否不明者は残り{N}名です。",
	"ヘリが{T}に{F}のグラウンドに着陸予定です。",
	"{R}の通行止めは{D}ほど続く見込みです。",
	"{P}で土砂が住宅に流れ込みました。けが人はいません。",
	"{F}の暖房用に{I}を{U}お願いします。",
	"{S}さんは{P}の自宅に残っています。",
	"{F}の電話が不通です。連絡はこのチャンネルでお願いします。",
	"{P}の橋に亀裂があります。通行を止めました。",
	"{T}に{P}から{F}へのバスを出します。",
	"{F}で受け入れた避難者は延べ{M}名です。",
	"{P}の{X}について{A}が必要です。",
	"{X}の{A}は{T}までに終わらせてください。",
	"{S}さんが{X}の{A}を担当します。",
	"{F}で{X}の{A}を行っています。",
	"{A}の件、{P}の{X}に確認しました。",
	"{X}と{X}の{A}をお願いします。",
	"{P}から{X}の{A}について問い合わせがありました。",
	"{X}が{P}で見つかりました。{A}中です。",
	"{S}さん、{X}の{A}はどうなっていますか。",
	"{P}の{X}が使えません。{A}の見込みは立っていません。",
	"{A}と{A}のため{X}を{U}持っていきます。",
	"{X}の{A}について{S}さんに連絡しました。",
};

/* Without a word list: a few of each. */
static const char *const acts[] = {
	"確認", "連絡", "調整", "手配", "搬送", "点検", "復旧", "報告",
};

static const char *const durations[] = {
	"30分", "1時間", "2時間", "半日", "3時間", "1日",
};

int
kz_chatgen_init(struct kz_chatgen *g, uint64_t seed, enum kz_chatgen_variant v)
{
	static const char *const cls[KZ_CHATGEN_CLASSES] = {
		"thing", "act", "place", "surname",
	};
	FILE *f;
	long size;
	size_t cap[KZ_CHATGEN_CLASSES] = { 0 };

	memset(g, 0, sizeof(*g));
	g->rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	g->variant = v;
	if ((f = fopen(KZ_CHATGEN_WORDS, "rb")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (g->text = malloc((size_t)size + 1)) ==
	    NULL || fread(g->text, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		kz_chatgen_free(g);
		return -1;
	}
	fclose(f);
	g->text[size] = '\0';
	/* Lines: CLASS TAB WEIGHT TAB WORD, most frequent first. */
	for (char *line = g->text, *next; line != NULL; line = next) {
		char *t1, *t2, *nl = strchr(line, '\n');

		next = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		if (*line == '#' || (t1 = strchr(line, '\t')) == NULL ||
		    (t2 = strchr(t1 + 1, '\t')) == NULL)
			continue;
		*t1 = '\0';
		for (int c = 0; c < KZ_CHATGEN_CLASSES; c++) {
			if (strcmp(line, cls[c]) != 0)
				continue;
			if (g->n_words[c] == cap[c]) {
				const char **w;

				cap[c] = cap[c] ? cap[c] * 2 : 256;
				w = realloc(g->words[c], cap[c] * sizeof(*w));
				if (w == NULL) {
					kz_chatgen_free(g);
					return -1;
				}
				g->words[c] = w;
			}
			g->words[c][g->n_words[c]++] = t2 + 1;
		}
	}
	for (int c = 0; c < KZ_CHATGEN_CLASSES; c++)
		if (g->n_words[c] < 16) {
			kz_chatgen_free(g);
			return -1;
		}
	return 0;
}

void
kz_chatgen_free(struct kz_chatgen *g)
{
	for (int c = 0; c < KZ_CHATGEN_CLASSES; c++)
		free(g->words[c]);
	free(g->text);
	memset(g->words, 0, sizeof(g->words));
	memset(g->n_words, 0, sizeof(g->n_words));
	g->text = NULL;
}

uint32_t
kz_chatgen_rand(struct kz_chatgen *g, uint32_t n)
{
	/* xorshift64*: tiny, and the same everywhere. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)(((g->rng * 0x2545f4914f6cdd1dull) >> 32) % n);
}

/* A proper noun of this variant: even indices TRAIN, odd HELDOUT. */
static const char *
noun(struct kz_chatgen *g, const char *const *list, size_t n)
{
	size_t half = n / 2;
	size_t i = kz_chatgen_rand(g, (uint32_t)half) * 2;

	return list[i + (g->variant == KZ_CHATGEN_HELDOUT ? 1 : 0)];
}

/* A word-list noun of this variant, the frequent ones more often (the
 * square of a uniform number leans to the front of the list). */
static const char *
word(struct kz_chatgen *g, int c)
{
	size_t half = g->n_words[c] / 2;
	uint64_t u = kz_chatgen_rand(g, 65536);
	size_t i = (size_t)((u * u * half) >> 32);

	return g->words[c][i * 2 + (g->variant == KZ_CHATGEN_HELDOUT ? 1 : 0)];
}

static const char *
pick(struct kz_chatgen *g, const char *const *list, size_t n)
{
	return list[kz_chatgen_rand(g, (uint32_t)n)];
}

static const char *
template_of(struct kz_chatgen *g)
{
	for (;;) {
		size_t i = kz_chatgen_rand(g, (uint32_t)N(templates));

		if (g->variant == KZ_CHATGEN_HELDOUT || i % 4 != 3)
			return templates[i];
	}
}

/* Appends s to buf (len bytes so far); returns the new length, or cap on
 * overflow. */
static size_t
put(char *buf, size_t len, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (len >= cap || n >= cap - len)
		return cap;
	memcpy(buf + len, s, n + 1);
	return len + n;
}

static size_t
expand(struct kz_chatgen *g, char *buf, size_t len, size_t cap, const char *t)
{
	char tmp[32];

	while (*t != '\0' && len < cap) {
		if (t[0] == '{' && t[1] != '\0' && t[2] == '}') {
			const char *s = tmp;

			switch (t[1]) {
			/* Places and surnames: half from the town's own
			 * list, half from the word list. */
			case 'P':
				s = kz_chatgen_rand(g, 2) ? word(g, KZ_CHATGEN_PLACE) :
				    noun(g, places, N(places));
				break;
			case 'S':
				s = kz_chatgen_rand(g, 2) ? word(g, KZ_CHATGEN_SURNAME) :
				    noun(g, surnames, N(surnames));
				break;
			case 'F': s = noun(g, facilities, N(facilities)); break;
			case 'R': s = noun(g, roads, N(roads)); break;
			case 'I': s = pick(g, items, N(items)); break;
			case 'X': s = word(g, KZ_CHATGEN_THING); break;
			case 'A':
				s = kz_chatgen_rand(g, 3) ? word(g, KZ_CHATGEN_ACT) :
				    pick(g, acts, N(acts));
				break;
			case 'D': s = pick(g, durations, N(durations)); break;
			case 'U':
				snprintf(tmp, sizeof(tmp), "%u%s",
				    1 + kz_chatgen_rand(g, 40), pick(g, units, N(units)));
				break;
			case 'T':
				if (kz_chatgen_rand(g, 3) == 0)
					snprintf(tmp, sizeof(tmp), "%u時",
					    6 + kz_chatgen_rand(g, 16));
				else
					snprintf(tmp, sizeof(tmp), "%u:%02u",
					    6 + kz_chatgen_rand(g, 16),
					    kz_chatgen_rand(g, 12) * 5);
				break;
			case 'N':
				snprintf(tmp, sizeof(tmp), "%u", 2 + kz_chatgen_rand(g, 59));
				break;
			case 'M':
				snprintf(tmp, sizeof(tmp), "%u", 10 + kz_chatgen_rand(g, 491));
				break;
			default:
				tmp[0] = '\0';
				break;
			}
			len = put(buf, len, cap, s);
			t += 3;
		} else {
			size_t n = 1;

			while (t[n] != '\0' && t[n] != '{')
				n++;
			if (len + n >= cap)
				return cap;
			memcpy(buf + len, t, n);
			len += n;
			buf[len] = '\0';
			t += n;
		}
	}
	return len;
}

size_t
kz_chatgen_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
kz_chatgen_message(struct kz_chatgen *g, char *buf, size_t cap,
    size_t min_chars, size_t max_chars)
{
	for (;;) {
		size_t len = 0, chars;

		buf[0] = '\0';
		if (kz_chatgen_rand(g, 4) == 0) {
			if (kz_chatgen_rand(g, 3) == 0) {
				len = put(buf, len, cap, "【");
				len = put(buf, len, cap, noun(g, places, N(places)));
				len = put(buf, len, cap, "支所】");
			} else {
				len = put(buf, len, cap, pick(g, tags, N(tags)));
			}
		}
		while (len < cap && kz_chatgen_chars(buf) < min_chars) {
			if (len > 0 && kz_chatgen_rand(g, 6) == 0)
				len = put(buf, len, cap, pick(g, closings, N(closings)));
			else
				len = expand(g, buf, len, cap, template_of(g));
		}
		if (len >= cap)
			continue;
		chars = kz_chatgen_chars(buf);
		if (chars >= min_chars && chars <= max_chars)
			return len;
	}
}

const char *
kz_chatgen_reply(struct kz_chatgen *g)
{
	return pick(g, replies, N(replies));
}

const char *
kz_chatgen_emoji(struct kz_chatgen *g)
{
	return pick(g, emojis, N(emojis));
}

const char *
kz_chatgen_place(struct kz_chatgen *g)
{
	return kz_chatgen_rand(g, 2) ? noun(g, facilities, N(facilities)) :
	    noun(g, places, N(places));
}

size_t
kz_chatgen_note(struct kz_chatgen *g, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "%s", pick(g, notes, N(notes)));
}

void
kz_chatgen_user(struct kz_chatgen *g, char *buf, size_t cap)
{
	static const char *const latin[] = {
		"sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe",
		"yamamoto", "nakamura", "kobayashi", "kato", "yoshida", "yamada",
	};

	snprintf(buf, cap, "%s.%c", pick(g, latin, N(latin)),
	    'a' + (int)kz_chatgen_rand(g, 26));
}
