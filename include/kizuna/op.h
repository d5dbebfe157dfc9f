/*
 * Operations: what an entry does, as protobuf bytes (src/proto/kizuna.proto).
 *
 * Encoders validate before they produce bytes a node will sign; the decoder
 * applies the same checks to bytes from elsewhere and accepts only the
 * canonical encoding.  Only this module and the run codec see protobuf-c.
 */
#ifndef KIZUNA_OP_H
#define KIZUNA_OP_H

#include <stddef.h>
#include <stdint.h>

#define KZ_TEXT_MAX (16 * 1024)	/* largest message text, bytes */
#define KZ_NAME_MAX 80		/* largest channel or user name, bytes */
#define KZ_MENTIONS_MAX 64

enum kz_op_type {
	KZ_OP_POST = 1
};

enum kz_priority {
	KZ_PRIO_NORMAL = 0,
	KZ_PRIO_URGENT = 1,
	KZ_PRIO_EMERGENCY = 2
};

struct kz_post {
	const char *channel;		/* UTF-8, 1..KZ_NAME_MAX bytes */
	const char *text;		/* UTF-8, 0..KZ_TEXT_MAX bytes */
	const uint8_t *thread_root;	/* 32-byte entry hash, or NULL */
	enum kz_priority priority;
	size_t n_mentions;
	const char *const *mentions;	/* each UTF-8, 1..KZ_NAME_MAX bytes */
};

/* A decoded operation.  Its strings are owned by the op (free with kz_op_free). */
struct kz_op {
	enum kz_op_type type;
	union {
		struct kz_post post;
	} u;
	void *pb;			/* owned decoded message */
};

/*
 * Encodes a post into a malloc'd buffer the caller frees.  Returns 0,
 * KZ_ERR_INVAL (empty or missing channel, bad thread root or priority),
 * KZ_ERR_TOO_BIG (a field or the op over its bound) or KZ_ERR_BAD_UTF8.
 */
int kz_op_encode_post(uint8_t **out, size_t *out_len, const struct kz_post *post);

/*
 * Decodes op bytes (at most KZ_OP_MAX; checked before unpacking).  Returns 0,
 * KZ_ERR_TOO_BIG, KZ_ERR_MALFORMED (not a canonical encoding of exactly one
 * known operation), KZ_ERR_BAD_UTF8, KZ_ERR_INVAL or KZ_ERR_NOMEM.  The caller
 * owns *out.
 */
int kz_op_decode(struct kz_op **out, const uint8_t *buf, size_t len);

/* Accepts NULL. */
void kz_op_free(struct kz_op *op);

const char *kz_priority_name(enum kz_priority p);

/* Parses "normal", "urgent" or "emergency".  Returns 0 or KZ_ERR_INVAL. */
int kz_priority_parse(enum kz_priority *out, const char *s);

#endif
