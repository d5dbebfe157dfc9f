/*
 * Synthetic chat of a municipality's disaster coordination, in Japanese:
 * shelters, water, power cuts, cut roads, landslides, roll calls, supplies,
 * with times, place names and numbers.  Deterministic: the same seed and
 * variant give the same messages on every machine.
 *
 * Two variants keep a trained dictionary's measurement honest.  TRAIN (the
 * dictionary's corpus, tools/dict/train.c) uses three quarters of the
 * sentence templates and half of the proper nouns (places, facilities,
 * roads, surnames); HELDOUT (the tests' and benchmarks' messages) uses every
 * template and the other half of the proper nouns, with another seed.  So a
 * held-out message is never a training sentence: a quarter of its sentence
 * shapes and all of its names and word-list nouns were never seen by the
 * trainer; only the domain's common words are shared, as they are between
 * any two weeks of one city hall's chat.
 */
#ifndef KIZUNA_TOOLS_CHATGEN_H
#define KIZUNA_TOOLS_CHATGEN_H

#include <stddef.h>
#include <stdint.h>

enum kz_chatgen_variant {
	KZ_CHATGEN_TRAIN,
	KZ_CHATGEN_HELDOUT
};

/* The seed tools/dict/train.c trains the shipped dictionary with. */
#define KZ_CHATGEN_TRAIN_SEED 0x4b5a0001u

/* The word list's classes (tools/bench/words-ja.txt, from IPAdic). */
enum { KZ_CHATGEN_THING, KZ_CHATGEN_ACT, KZ_CHATGEN_PLACE, KZ_CHATGEN_SURNAME,
    KZ_CHATGEN_CLASSES };

struct kz_chatgen {
	uint64_t rng;
	enum kz_chatgen_variant variant;
	/* The word list: its text and, per class, its words by weight. */
	char *text;
	const char **words[KZ_CHATGEN_CLASSES];
	size_t n_words[KZ_CHATGEN_CLASSES];
};

/*
 * Seeds g and loads the word list KZ_CHATGEN_WORDS (the path built in:
 * tools/bench/words-ja.txt), whose nouns fill most slots so that messages
 * are as varied as real chat: a few thousand nouns, the frequent ones
 * more often.  Returns 0, or -1 when the list cannot be read.
 */
int kz_chatgen_init(struct kz_chatgen *g, uint64_t seed,
    enum kz_chatgen_variant v);

void kz_chatgen_free(struct kz_chatgen *g);

/* A uniform number in [0, n). */
uint32_t kz_chatgen_rand(struct kz_chatgen *g, uint32_t n);

/*
 * Writes one chat message of min_chars..max_chars characters (code points)
 * into buf (cap bytes, NUL-terminated; cap >= 4 * max_chars + 1).  Returns
 * its length in bytes.
 */
size_t kz_chatgen_message(struct kz_chatgen *g, char *buf, size_t cap,
    size_t min_chars, size_t max_chars);

/* A short reply ("了解しました。" ...), a reaction emoji, a safety place and
 * note, and a user id, for the other operations of a realistic stream. */
const char *kz_chatgen_reply(struct kz_chatgen *g);
const char *kz_chatgen_emoji(struct kz_chatgen *g);
const char *kz_chatgen_place(struct kz_chatgen *g);
size_t kz_chatgen_note(struct kz_chatgen *g, char *buf, size_t cap);
void kz_chatgen_user(struct kz_chatgen *g, char *buf, size_t cap);

/* Code points in a UTF-8 string. */
size_t kz_chatgen_chars(const char *s);

#endif
