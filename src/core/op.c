/*
 * Operation codec.  The same validation runs before we sign an operation and
 * after we receive one, so a node never writes what it would refuse to read.
 * Decoding checks the size bound before unpacking and accepts only canonical
 * bytes (re-packing must give the input back), which also rejects strings
 * with embedded NUL bytes that a C string would silently cut short.
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/util.h"

static int
check_text(const char *s, size_t min, size_t max)
{
	size_t len;

	if (s == NULL)
		return min == 0 ? 0 : KZ_ERR_INVAL;
	len = strlen(s);
	if (len < min)
		return KZ_ERR_INVAL;
	if (len > max)
		return KZ_ERR_TOO_BIG;
	if (!kz_utf8_valid((const uint8_t *)s, len))
		return KZ_ERR_BAD_UTF8;
	return 0;
}

static int
check_post(const struct kz_post *p, size_t thread_root_len)
{
	int rc;
	size_t i;

	if ((rc = check_text(p->channel, 1, KZ_NAME_MAX)) < 0)
		return rc;
	if ((rc = check_text(p->text, 0, KZ_TEXT_MAX)) < 0)
		return rc;
	if (thread_root_len != 0 && thread_root_len != KZ_HASH_BYTES)
		return KZ_ERR_INVAL;
	if ((unsigned)p->priority > KZ_PRIO_EMERGENCY)
		return KZ_ERR_INVAL;
	if (p->n_mentions > KZ_MENTIONS_MAX)
		return KZ_ERR_TOO_BIG;
	for (i = 0; i < p->n_mentions; i++)
		if ((rc = check_text(p->mentions[i], 1, KZ_NAME_MAX)) < 0)
			return rc;
	return 0;
}

static int
pack_op(uint8_t **out, size_t *out_len, const Kizuna__Op *op)
{
	size_t len = kizuna__op__get_packed_size(op);
	uint8_t *buf;

	if (len > KZ_OP_MAX)
		return KZ_ERR_TOO_BIG;
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return KZ_ERR_NOMEM;
	kizuna__op__pack(op, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

int
kz_op_encode_post(uint8_t **out, size_t *out_len, const struct kz_post *post)
{
	Kizuna__Op op = KIZUNA__OP__INIT;
	Kizuna__Post pb = KIZUNA__POST__INIT;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = check_post(post, post->thread_root ? KZ_HASH_BYTES : 0);
	if (rc < 0)
		return rc;
	pb.channel = (char *)post->channel;
	pb.text = (char *)(post->text ? post->text : "");
	if (post->thread_root != NULL) {
		pb.thread_root.data = (uint8_t *)post->thread_root;
		pb.thread_root.len = KZ_HASH_BYTES;
	}
	pb.priority = (Kizuna__Priority)post->priority;
	pb.n_mentions = post->n_mentions;
	pb.mentions = (char **)post->mentions;
	op.body_case = KIZUNA__OP__BODY_POST;
	op.post = &pb;
	return pack_op(out, out_len, &op);
}

int
kz_op_decode(struct kz_op **out, const uint8_t *buf, size_t len)
{
	Kizuna__Op *pb;
	struct kz_op *op = NULL;
	uint8_t *tmp = NULL;
	int rc = KZ_ERR_MALFORMED;

	*out = NULL;
	if (len > KZ_OP_MAX)
		return KZ_ERR_TOO_BIG;
	pb = kizuna__op__unpack(NULL, len, buf);
	if (pb == NULL)
		return KZ_ERR_MALFORMED;
	if (kizuna__op__get_packed_size(pb) != len)
		goto fail;
	tmp = malloc(len ? len : 1);
	if (tmp == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	kizuna__op__pack(pb, tmp);
	if (memcmp(tmp, buf, len) != 0 || pb->base.n_unknown_fields != 0)
		goto fail;
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	switch (pb->body_case) {
	case KIZUNA__OP__BODY_POST: {
		Kizuna__Post *p = pb->post;
		struct kz_post *kp = &op->u.post;

		if (p->base.n_unknown_fields != 0)
			goto fail;
		op->type = KZ_OP_POST;
		kp->channel = p->channel;
		kp->text = p->text;
		kp->thread_root = p->thread_root.len ? p->thread_root.data : NULL;
		kp->priority = (enum kz_priority)p->priority;
		kp->n_mentions = p->n_mentions;
		kp->mentions = (const char *const *)p->mentions;
		rc = check_post(kp, p->thread_root.len);
		if (rc < 0)
			goto fail;
		break;
	}
	default:
		goto fail;
	}
	free(tmp);
	op->pb = pb;
	*out = op;
	return 0;
fail:
	free(tmp);
	free(op);
	kizuna__op__free_unpacked(pb, NULL);
	return rc;
}

void
kz_op_free(struct kz_op *op)
{
	if (op == NULL)
		return;
	if (op->pb != NULL)
		kizuna__op__free_unpacked(op->pb, NULL);
	free(op);
}

const char *
kz_priority_name(enum kz_priority p)
{
	switch (p) {
	case KZ_PRIO_NORMAL:
		return "normal";
	case KZ_PRIO_URGENT:
		return "urgent";
	case KZ_PRIO_EMERGENCY:
		return "emergency";
	}
	return "?";
}

int
kz_priority_parse(enum kz_priority *out, const char *s)
{
	if (strcmp(s, "normal") == 0)
		*out = KZ_PRIO_NORMAL;
	else if (strcmp(s, "urgent") == 0)
		*out = KZ_PRIO_URGENT;
	else if (strcmp(s, "emergency") == 0)
		*out = KZ_PRIO_EMERGENCY;
	else
		return KZ_ERR_INVAL;
	return 0;
}
