/*
 * Operation codec.  The same validation (check_op) runs before we sign an
 * operation and after we receive one, so a node never writes what it would
 * refuse to read.  Decoding checks the size bound before unpacking and
 * accepts only canonical bytes (re-packing must give the input back), which
 * also rejects strings with embedded NUL bytes that a C string would
 * silently cut short.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/util.h"

/* ------------------------------------------------------------ validation */

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

bool
kz_user_id_valid(const char *id)
{
	size_t i, len;

	if (id == NULL)
		return false;
	len = strlen(id);
	if (len == 0 || len > KZ_USER_ID_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
		    c == '-'))
			return false;
	}
	return true;
}

static int
check_user(const char *id, bool optional)
{
	if ((id == NULL || *id == '\0') && optional)
		return 0;
	return kz_user_id_valid(id) ? 0 : KZ_ERR_INVAL;
}

#define CHECK(expr)                                                           \
	do {                                                                  \
		int rc_ = (expr);                                             \
		if (rc_ < 0)                                                  \
			return rc_;                                           \
	} while (0)

#define NEED_ID(p) CHECK((p) != NULL ? 0 : KZ_ERR_INVAL)

static int
check_imported_post(const struct kz_imported_post *im)
{
	size_t i, j;

	NEED_ID(im->id);
	CHECK(check_text(im->source, 1, KZ_IMPORT_SOURCE_MAX));
	if (im->time_us > KZ_IMPORT_TIME_US_MAX)
		return KZ_ERR_INVAL;
	CHECK(check_user(im->author, true));
	CHECK(check_text(im->author_name, 0, KZ_NAME_MAX));
	CHECK(check_text(im->subtype, 0, KZ_IMPORT_SUBTYPE_MAX));
	CHECK(check_text(im->source_text, 0, KZ_TEXT_MAX));
	CHECK(check_text(im->raw, 0, KZ_IMPORT_RAW_MAX));
	CHECK(check_text(im->thread_ts, 0, KZ_IMPORT_SUBTYPE_MAX));
	CHECK(check_text(im->attachments, 0, KZ_TEXT_MAX));
	if (im->n_reactions > KZ_IMPORT_REACTIONS_MAX ||
	    im->n_files > KZ_IMPORT_FILES_MAX)
		return KZ_ERR_TOO_BIG;
	for (i = 0; i < im->n_reactions; i++) {
		const struct kz_imported_reaction *r = &im->reactions[i];

		CHECK(check_text(r->emoji, 1, KZ_EMOJI_MAX));
		if (r->n_users > KZ_IMPORT_USERS_MAX)
			return KZ_ERR_TOO_BIG;
		for (j = 0; j < r->n_users; j++)
			CHECK(check_user(r->users[j], false));
	}
	for (i = 0; i < im->n_files; i++) {
		const struct kz_imported_file *f = &im->files[i];

		CHECK(check_text(f->id, 0, KZ_IMPORT_FILE_NAME_MAX));
		CHECK(check_text(f->name, 0, KZ_IMPORT_FILE_NAME_MAX));
		CHECK(check_text(f->title, 0, KZ_IMPORT_FILE_NAME_MAX));
		CHECK(check_text(f->mimetype, 0, KZ_IMPORT_FILE_NAME_MAX));
		CHECK(check_text(f->url, 0, KZ_IMPORT_URL_MAX));
	}
	return 0;
}

static int
check_imported_channel(const struct kz_imported_channel *im)
{
	NEED_ID(im->id);
	CHECK(check_text(im->source, 1, KZ_IMPORT_SOURCE_MAX));
	if (im->time_us > KZ_IMPORT_TIME_US_MAX)
		return KZ_ERR_INVAL;
	return check_text(im->purpose, 0, KZ_TOPIC_MAX);
}

bool
kz_transport_valid(const char *t)
{
	static const char *const words[] = { "tcp", "radio", "stdio", "bundle" };
	size_t i;

	if (t == NULL)
		return false;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(t, words[i]) == 0)
			return true;
	return false;
}

/*
 * Wall-clock seconds in a link report: below 2^40 (the year 36812), so a
 * broken clock cannot write values a reader must guard against overflow.
 */
#define LINK_TIME_MAX ((UINT64_C(1) << 40) - 1)

static int
check_link_report(const struct kz_op *op)
{
	const struct kz_link_report *r = &op->u.link_report;
	size_t i, j;

	/* The node reports its own links: no user acts here. */
	if (op->actor != NULL && *op->actor != '\0')
		return KZ_ERR_INVAL;
	if (r->n_links > KZ_LINKS_MAX)
		return KZ_ERR_TOO_BIG;
	if (r->n_links > 0 && r->links == NULL)
		return KZ_ERR_INVAL;
	for (i = 0; i < r->n_links; i++) {
		const struct kz_report_link *l = &r->links[i];

		NEED_ID(l->peer);
		if (!kz_transport_valid(l->transport) ||
		    l->since_s > LINK_TIME_MAX || l->lag_s > LINK_TIME_MAX)
			return KZ_ERR_INVAL;
		/* One row per (peer, transport): a reader never has to choose. */
		for (j = 0; j < i; j++)
			if (memcmp(r->links[j].peer, l->peer, KZ_ID_BYTES) == 0 &&
			    strcmp(r->links[j].transport, l->transport) == 0)
				return KZ_ERR_INVAL;
	}
	return 0;
}

static int
check_op(const struct kz_op *op)
{
	size_t i;

	CHECK(check_user(op->actor, true));
	switch (op->type) {
	case KZ_OP_POST: {
		const struct kz_post *p = &op->u.post;

		NEED_ID(p->channel);
		CHECK(check_text(p->text, 0, KZ_TEXT_MAX));
		if ((unsigned)p->priority > KZ_PRIO_EMERGENCY)
			return KZ_ERR_INVAL;
		if (p->n_mentions > KZ_MENTIONS_MAX)
			return KZ_ERR_TOO_BIG;
		for (i = 0; i < p->n_mentions; i++)
			CHECK(check_user(p->mentions[i], false));
		if (p->imported != NULL)
			CHECK(check_imported_post(p->imported));
		return 0;
	}
	case KZ_OP_MESH_CREATE:
		NEED_ID(op->u.mesh_create.mesh_id);
		return check_text(op->u.mesh_create.name, 1, KZ_NAME_MAX);
	case KZ_OP_NODE_ADMIT:
		NEED_ID(op->u.node_admit.node);
		return check_text(op->u.node_admit.name, 1, KZ_NAME_MAX);
	case KZ_OP_NODE_REVOKE:
		NEED_ID(op->u.node_revoke.node);
		if (op->u.node_revoke.last_seq > KZ_SEQ_MAX)
			return KZ_ERR_INVAL;
		return check_text(op->u.node_revoke.reason, 0, KZ_REASON_MAX);
	case KZ_OP_USER_SET: {
		const struct kz_user_set *u = &op->u.user_set;

		CHECK(check_user(u->user, false));
		if (u->set == 0 || (u->set & ~KZ_USER_SET_ALL) != 0)
			return KZ_ERR_INVAL;
		CHECK(check_text(u->display_name,
		    (u->set & KZ_USER_SET_DISPLAY_NAME) ? 1 : 0, KZ_NAME_MAX));
		CHECK(check_text(u->department, 0, KZ_NAME_MAX));
		if ((unsigned)u->role > KZ_ROLE_ADMIN)
			return KZ_ERR_INVAL;
		CHECK(check_text(u->password_hash, 0, KZ_PWHASH_MAX));
		if (u->password_hash != NULL && *u->password_hash != '\0' &&
		    strncmp(u->password_hash, "$argon2id$", 10) != 0)
			return KZ_ERR_INVAL;
		return 0;
	}
	case KZ_OP_CHANNEL_CREATE:
		CHECK(check_text(op->u.channel_create.name, 1, KZ_NAME_MAX));
		if (op->u.channel_create.imported != NULL)
			CHECK(check_imported_channel(op->u.channel_create.imported));
		return check_text(op->u.channel_create.topic, 0, KZ_TOPIC_MAX);
	case KZ_OP_CHANNEL_SET: {
		const struct kz_channel_set *c = &op->u.channel_set;

		NEED_ID(c->channel);
		if (c->set == 0 || (c->set & ~KZ_CHANNEL_SET_ALL) != 0)
			return KZ_ERR_INVAL;
		CHECK(check_text(c->name, (c->set & KZ_CHANNEL_SET_NAME) ? 1 : 0,
		    KZ_NAME_MAX));
		return check_text(c->topic, 0, KZ_TOPIC_MAX);
	}
	case KZ_OP_EDIT:
		NEED_ID(op->u.edit.target);
		return check_text(op->u.edit.text, 0, KZ_TEXT_MAX);
	case KZ_OP_DELETE:
	case KZ_OP_PURGE:
	case KZ_OP_ACK:
		NEED_ID(op->u.del.target);
		return 0;
	case KZ_OP_REACT:
		NEED_ID(op->u.react.target);
		return check_text(op->u.react.emoji, 1, KZ_EMOJI_MAX);
	case KZ_OP_SAFETY: {
		const struct kz_safety_status *s = &op->u.safety;

		CHECK(check_user(s->user, true));
		if ((unsigned)s->status > KZ_SAFETY_INJURED)
			return KZ_ERR_INVAL;
		CHECK(check_text(s->place, 0, KZ_PLACE_MAX));
		return check_text(s->note, 0, KZ_NOTE_MAX);
	}
	case KZ_OP_LINK_REPORT:
		return check_link_report(op);
	default:
		return KZ_ERR_INVAL;
	}
}

/* ------------------------------------------------------------ encoding */

static char *
str(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

static ProtobufCBinaryData
id(const uint8_t *p)
{
	ProtobufCBinaryData b = { p != NULL ? KZ_ID_BYTES : 0, (uint8_t *)p };

	return b;
}

/*
 * The protobuf form of an imported post, built in arena (freed by the
 * caller with free()) so that encoding stays one allocation for the bytes.
 */
static void *
pb_imported_post(const struct kz_imported_post *im, Kizuna__ImportedPost *pb)
{
	Kizuna__ImportedReaction *rs, **rp;
	Kizuna__ImportedFile *fs, **fp;
	size_t i, sz;
	uint8_t *arena;

	sz = im->n_reactions * (sizeof(*rs) + sizeof(*rp)) +
	    im->n_files * (sizeof(*fs) + sizeof(*fp));
	if ((arena = malloc(sz ? sz : 1)) == NULL)
		return NULL;
	rs = (Kizuna__ImportedReaction *)arena;
	fs = (Kizuna__ImportedFile *)(rs + im->n_reactions);
	rp = (Kizuna__ImportedReaction **)(fs + im->n_files);
	fp = (Kizuna__ImportedFile **)(rp + im->n_reactions);
	kizuna__imported_post__init(pb);
	pb->id = id(im->id);
	pb->source = str(im->source);
	pb->time_us = im->time_us;
	pb->author = str(im->author);
	pb->author_name = str(im->author_name);
	pb->subtype = str(im->subtype);
	pb->system = im->system;
	pb->edited = im->edited;
	pb->source_text = str(im->source_text);
	pb->pinned = im->pinned;
	pb->broadcast = im->broadcast;
	pb->raw = str(im->raw);
	pb->thread_ts = str(im->thread_ts);
	pb->attachments = str(im->attachments);
	for (i = 0; i < im->n_reactions; i++) {
		kizuna__imported_reaction__init(&rs[i]);
		rs[i].emoji = str(im->reactions[i].emoji);
		rs[i].n_users = im->reactions[i].n_users;
		rs[i].users = (char **)im->reactions[i].users;
		rp[i] = &rs[i];
	}
	for (i = 0; i < im->n_files; i++) {
		const struct kz_imported_file *f = &im->files[i];

		kizuna__imported_file__init(&fs[i]);
		fs[i].id = str(f->id);
		fs[i].name = str(f->name);
		fs[i].title = str(f->title);
		fs[i].mimetype = str(f->mimetype);
		fs[i].size = f->size;
		fs[i].url = str(f->url);
		fp[i] = &fs[i];
	}
	pb->n_reactions = im->n_reactions;
	pb->reactions = rp;
	pb->n_files = im->n_files;
	pb->files = fp;
	return arena;
}

int
kz_op_encode(uint8_t **out, size_t *out_len, const struct kz_op *op)
{
	Kizuna__Op pb = KIZUNA__OP__INIT;
	union {
		Kizuna__Post post;
		Kizuna__MeshCreate mesh_create;
		Kizuna__NodeAdmit node_admit;
		Kizuna__NodeRevoke node_revoke;
		Kizuna__UserSet user_set;
		Kizuna__ChannelCreate channel_create;
		Kizuna__ChannelSet channel_set;
		Kizuna__Edit edit;
		Kizuna__Delete del;
		Kizuna__Purge purge;
		Kizuna__React react;
		Kizuna__Ack ack;
		Kizuna__SafetyStatus safety;
		Kizuna__LinkReport link_report;
	} b;
	Kizuna__ImportedPost ipost;
	Kizuna__ImportedChannel ichan;
	void *arena = NULL;
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((rc = check_op(op)) < 0)
		return rc;
	pb.actor = str(op->actor);
	switch (op->type) {
	case KZ_OP_POST: {
		const struct kz_post *p = &op->u.post;

		kizuna__post__init(&b.post);
		b.post.channel = id(p->channel);
		b.post.text = str(p->text);
		b.post.thread_root = id(p->thread_root);
		b.post.priority = (Kizuna__Priority)p->priority;
		b.post.n_mentions = p->n_mentions;
		b.post.mentions = (char **)p->mentions;
		if (p->imported != NULL) {
			if ((arena = pb_imported_post(p->imported, &ipost)) == NULL)
				return KZ_ERR_NOMEM;
			b.post.imported = &ipost;
		}
		pb.body_case = KIZUNA__OP__BODY_POST;
		pb.post = &b.post;
		break;
	}
	case KZ_OP_MESH_CREATE:
		kizuna__mesh_create__init(&b.mesh_create);
		b.mesh_create.mesh_id = id(op->u.mesh_create.mesh_id);
		b.mesh_create.name = str(op->u.mesh_create.name);
		pb.body_case = KIZUNA__OP__BODY_MESH_CREATE;
		pb.mesh_create = &b.mesh_create;
		break;
	case KZ_OP_NODE_ADMIT:
		kizuna__node_admit__init(&b.node_admit);
		b.node_admit.node = id(op->u.node_admit.node);
		b.node_admit.name = str(op->u.node_admit.name);
		b.node_admit.admin = op->u.node_admit.admin;
		pb.body_case = KIZUNA__OP__BODY_NODE_ADMIT;
		pb.node_admit = &b.node_admit;
		break;
	case KZ_OP_NODE_REVOKE:
		kizuna__node_revoke__init(&b.node_revoke);
		b.node_revoke.node = id(op->u.node_revoke.node);
		b.node_revoke.last_seq = op->u.node_revoke.last_seq;
		b.node_revoke.reason = str(op->u.node_revoke.reason);
		pb.body_case = KIZUNA__OP__BODY_NODE_REVOKE;
		pb.node_revoke = &b.node_revoke;
		break;
	case KZ_OP_USER_SET: {
		const struct kz_user_set *u = &op->u.user_set;

		kizuna__user_set__init(&b.user_set);
		b.user_set.user = str(u->user);
		b.user_set.set = u->set;
		b.user_set.display_name = str(u->display_name);
		b.user_set.department = str(u->department);
		b.user_set.role = (Kizuna__Role)u->role;
		b.user_set.password_hash = str(u->password_hash);
		b.user_set.active = u->active;
		pb.body_case = KIZUNA__OP__BODY_USER_SET;
		pb.user_set = &b.user_set;
		break;
	}
	case KZ_OP_CHANNEL_CREATE:
		kizuna__channel_create__init(&b.channel_create);
		b.channel_create.name = str(op->u.channel_create.name);
		b.channel_create.topic = str(op->u.channel_create.topic);
		if (op->u.channel_create.imported != NULL) {
			const struct kz_imported_channel *ic =
			    op->u.channel_create.imported;

			kizuna__imported_channel__init(&ichan);
			ichan.id = id(ic->id);
			ichan.source = str(ic->source);
			ichan.time_us = ic->time_us;
			ichan.archived = ic->archived;
			ichan.is_private = ic->is_private;
			ichan.purpose = str(ic->purpose);
			b.channel_create.imported = &ichan;
		}
		pb.body_case = KIZUNA__OP__BODY_CHANNEL_CREATE;
		pb.channel_create = &b.channel_create;
		break;
	case KZ_OP_CHANNEL_SET: {
		const struct kz_channel_set *c = &op->u.channel_set;

		kizuna__channel_set__init(&b.channel_set);
		b.channel_set.channel = id(c->channel);
		b.channel_set.set = c->set;
		b.channel_set.name = str(c->name);
		b.channel_set.topic = str(c->topic);
		b.channel_set.archived = c->archived;
		pb.body_case = KIZUNA__OP__BODY_CHANNEL_SET;
		pb.channel_set = &b.channel_set;
		break;
	}
	case KZ_OP_EDIT:
		kizuna__edit__init(&b.edit);
		b.edit.target = id(op->u.edit.target);
		b.edit.text = str(op->u.edit.text);
		pb.body_case = KIZUNA__OP__BODY_EDIT;
		pb.edit = &b.edit;
		break;
	case KZ_OP_DELETE:
		kizuna__delete__init(&b.del);
		b.del.target = id(op->u.del.target);
		pb.body_case = KIZUNA__OP__BODY_DELETE;
		pb.delete_ = &b.del;
		break;
	case KZ_OP_PURGE:
		kizuna__purge__init(&b.purge);
		b.purge.target = id(op->u.purge.target);
		pb.body_case = KIZUNA__OP__BODY_PURGE;
		pb.purge = &b.purge;
		break;
	case KZ_OP_REACT:
		kizuna__react__init(&b.react);
		b.react.target = id(op->u.react.target);
		b.react.emoji = str(op->u.react.emoji);
		b.react.on = op->u.react.on;
		pb.body_case = KIZUNA__OP__BODY_REACT;
		pb.react = &b.react;
		break;
	case KZ_OP_ACK:
		kizuna__ack__init(&b.ack);
		b.ack.target = id(op->u.ack.target);
		pb.body_case = KIZUNA__OP__BODY_ACK;
		pb.ack = &b.ack;
		break;
	case KZ_OP_SAFETY: {
		const struct kz_safety_status *s = &op->u.safety;

		kizuna__safety_status__init(&b.safety);
		b.safety.user = str(s->user);
		b.safety.status = (Kizuna__Safety)s->status;
		b.safety.place = str(s->place);
		b.safety.note = str(s->note);
		pb.body_case = KIZUNA__OP__BODY_SAFETY;
		pb.safety = &b.safety;
		break;
	}
	case KZ_OP_LINK_REPORT: {
		const struct kz_link_report *r = &op->u.link_report;
		Kizuna__LinkState *ls, **lp;
		size_t i;

		/* One allocation for the links and their pointers (freed below). */
		arena = malloc(r->n_links * (sizeof(*ls) + sizeof(*lp)) + 1);
		if (arena == NULL)
			return KZ_ERR_NOMEM;
		ls = arena;
		lp = (Kizuna__LinkState **)(ls + r->n_links);
		for (i = 0; i < r->n_links; i++) {
			kizuna__link_state__init(&ls[i]);
			ls[i].peer = id(r->links[i].peer);
			ls[i].transport = str(r->links[i].transport);
			ls[i].up = r->links[i].up;
			ls[i].since_s = r->links[i].since_s;
			ls[i].lag_s = r->links[i].lag_s;
			lp[i] = &ls[i];
		}
		kizuna__link_report__init(&b.link_report);
		b.link_report.n_links = r->n_links;
		b.link_report.links = lp;
		pb.body_case = KIZUNA__OP__BODY_LINK_REPORT;
		pb.link_report = &b.link_report;
		break;
	}
	default:
		return KZ_ERR_INVAL;
	}
	len = kizuna__op__get_packed_size(&pb);
	if (len > KZ_OP_MAX) {
		free(arena);
		return KZ_ERR_TOO_BIG;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL) {
		free(arena);
		return KZ_ERR_NOMEM;
	}
	kizuna__op__pack(&pb, buf);
	free(arena);
	*out = buf;
	*out_len = len;
	return 0;
}

int
kz_op_encode_post(uint8_t **out, size_t *out_len, const struct kz_post *post)
{
	struct kz_op op = { .type = KZ_OP_POST, .u.post = *post };

	return kz_op_encode(out, out_len, &op);
}

/* ------------------------------------------------------------ decoding */

/* An id field: NULL when absent, KZ_ERR_INVAL unless exactly 32 bytes. */
static int
get_id(const uint8_t **out, const ProtobufCBinaryData *b, bool optional)
{
	if (b->len == 0 && optional) {
		*out = NULL;
		return 0;
	}
	if (b->len != KZ_ID_BYTES)
		return KZ_ERR_INVAL;
	*out = b->data;
	return 0;
}

static bool
has_unknown(const ProtobufCMessage *m)
{
	return m != NULL && m->n_unknown_fields != 0;
}

/*
 * The C form of a decoded imported post, in one allocation (op->ext) that
 * holds the struct and its arrays; strings stay in the protobuf message.
 */
static int
get_imported_post(struct kz_op *op, const Kizuna__ImportedPost *pb)
{
	struct kz_imported_post *im;
	struct kz_imported_reaction *rs;
	struct kz_imported_file *fs;
	size_t i;
	int rc;

	if (has_unknown(&pb->base))
		return KZ_ERR_MALFORMED;
	for (i = 0; i < pb->n_reactions; i++)
		if (has_unknown(&pb->reactions[i]->base))
			return KZ_ERR_MALFORMED;
	for (i = 0; i < pb->n_files; i++)
		if (has_unknown(&pb->files[i]->base))
			return KZ_ERR_MALFORMED;
	im = calloc(1, sizeof(*im) + pb->n_reactions * sizeof(*rs) +
	    pb->n_files * sizeof(*fs));
	if (im == NULL)
		return KZ_ERR_NOMEM;
	op->ext = im;
	rs = (struct kz_imported_reaction *)(im + 1);
	fs = (struct kz_imported_file *)(rs + pb->n_reactions);
	if ((rc = get_id(&im->id, &pb->id, false)) < 0)
		return rc;
	im->source = pb->source;
	im->time_us = pb->time_us;
	im->author = pb->author;
	im->author_name = pb->author_name;
	im->subtype = pb->subtype;
	im->system = pb->system;
	im->edited = pb->edited;
	im->source_text = pb->source_text;
	im->pinned = pb->pinned;
	im->broadcast = pb->broadcast;
	im->raw = pb->raw;
	im->thread_ts = pb->thread_ts;
	im->attachments = pb->attachments;
	for (i = 0; i < pb->n_reactions; i++) {
		rs[i].emoji = pb->reactions[i]->emoji;
		rs[i].n_users = pb->reactions[i]->n_users;
		rs[i].users = (const char *const *)pb->reactions[i]->users;
	}
	for (i = 0; i < pb->n_files; i++) {
		const Kizuna__ImportedFile *f = pb->files[i];

		fs[i] = (struct kz_imported_file){ f->id, f->name, f->title,
		    f->mimetype, f->size, f->url };
	}
	im->n_reactions = pb->n_reactions;
	im->reactions = rs;
	im->n_files = pb->n_files;
	im->files = fs;
	op->u.post.imported = im;
	return 0;
}

static int
get_imported_channel(struct kz_op *op, const Kizuna__ImportedChannel *pb)
{
	struct kz_imported_channel *im;
	int rc;

	if (has_unknown(&pb->base))
		return KZ_ERR_MALFORMED;
	if ((im = calloc(1, sizeof(*im))) == NULL)
		return KZ_ERR_NOMEM;
	op->ext = im;
	if ((rc = get_id(&im->id, &pb->id, false)) < 0)
		return rc;
	im->source = pb->source;
	im->time_us = pb->time_us;
	im->archived = pb->archived;
	im->is_private = pb->is_private;
	im->purpose = pb->purpose;
	op->u.channel_create.imported = im;
	return 0;
}

/* The C form of a decoded link report: its links in op->ext. */
static int
get_link_report(struct kz_op *op, const Kizuna__LinkReport *pb)
{
	struct kz_report_link *ls;
	size_t i;
	int rc;

	if (has_unknown(&pb->base))
		return KZ_ERR_MALFORMED;
	/* Bounded before allocating: a peer's count is not trusted. */
	if (pb->n_links > KZ_LINKS_MAX)
		return KZ_ERR_TOO_BIG;
	for (i = 0; i < pb->n_links; i++)
		if (has_unknown(&pb->links[i]->base))
			return KZ_ERR_MALFORMED;
	if ((ls = calloc(pb->n_links + 1, sizeof(*ls))) == NULL)
		return KZ_ERR_NOMEM;
	op->ext = ls;
	for (i = 0; i < pb->n_links; i++) {
		const Kizuna__LinkState *l = pb->links[i];

		if ((rc = get_id(&ls[i].peer, &l->peer, false)) < 0)
			return rc;
		ls[i].transport = l->transport;
		ls[i].up = l->up;
		ls[i].since_s = l->since_s;
		ls[i].lag_s = l->lag_s;
	}
	op->u.link_report.n_links = pb->n_links;
	op->u.link_report.links = ls;
	return 0;
}

/*
 * Where a decoded op's message lives.  protobuf-c's unpack allocates each
 * string, submessage and array of it apart; here they follow one another
 * in a few chunks, and kz_op_free frees the chunks instead of walking the
 * message field by field (which took 5% of an import's store thread, as
 * free_unpacked, in perf record).
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;	/* the chunk allocations come from */
	size_t chunk;	/* bytes of a new chunk (a bigger allocation: its own) */
};

static void *
arena_alloc(void *ctx, size_t size)
{
	struct arena *a = ctx;
	struct arena_chunk *c = a->head;
	size_t align = sizeof(max_align_t);
	size_t need = (size + align - 1) / align * align;
	void *p;

	if (need < size)
		return NULL;
	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > a->chunk ? need : a->chunk;

		if (cap > SIZE_MAX - sizeof(*c) ||
		    (c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		/* The chunk with room stays in front. */
		if (a->head != NULL && need > a->chunk) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += need;
	return p;
}

static void
arena_free_none(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

/* Frees a and every chunk of it. */
static void
arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

int
kz_op_decode(struct kz_op **out, const uint8_t *buf, size_t len)
{
	Kizuna__Op *pb;
	struct kz_op *op = NULL;
	uint8_t *tmp = NULL;
	struct arena *arena;
	ProtobufCAllocator alloc = { arena_alloc, arena_free_none, NULL };
	int rc = KZ_ERR_MALFORMED;

	*out = NULL;
	if (len > KZ_OP_MAX)
		return KZ_ERR_TOO_BIG;
	if ((arena = calloc(1, sizeof(*arena))) == NULL)
		return KZ_ERR_NOMEM;
	/* The message takes its strings (at most len bytes) and its structs.
	 * Chunks sized by the op, not a fixed 4 KiB: an import holds 16,384
	 * decoded ops queued, and kizuna-bench slack's peak RSS fell from
	 * 213 MiB to 153 MiB. */
	arena->chunk = 2 * len + 512;
	alloc.allocator_data = arena;
	pb = kizuna__op__unpack(&alloc, len, buf);
	if (pb == NULL) {
		arena_free(arena);
		return KZ_ERR_MALFORMED;
	}
	if (kizuna__op__get_packed_size(pb) != len)
		goto fail;
	tmp = malloc(len ? len : 1);
	if (tmp == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	kizuna__op__pack(pb, tmp);
	if (memcmp(tmp, buf, len) != 0 || has_unknown(&pb->base))
		goto fail;
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	op->actor = pb->actor;
	switch (pb->body_case) {
	case KIZUNA__OP__BODY_POST: {
		Kizuna__Post *p = pb->post;

		if (has_unknown(&p->base))
			goto fail;
		op->type = KZ_OP_POST;
		if ((rc = get_id(&op->u.post.channel, &p->channel, false)) < 0 ||
		    (rc = get_id(&op->u.post.thread_root, &p->thread_root, true)) < 0)
			goto fail;
		op->u.post.text = p->text;
		op->u.post.priority = (enum kz_priority)p->priority;
		op->u.post.n_mentions = p->n_mentions;
		op->u.post.mentions = (const char *const *)p->mentions;
		if (p->imported != NULL &&
		    (rc = get_imported_post(op, p->imported)) < 0)
			goto fail;
		break;
	}
	case KIZUNA__OP__BODY_MESH_CREATE:
		if (has_unknown(&pb->mesh_create->base))
			goto fail;
		op->type = KZ_OP_MESH_CREATE;
		if ((rc = get_id(&op->u.mesh_create.mesh_id,
		    &pb->mesh_create->mesh_id, false)) < 0)
			goto fail;
		op->u.mesh_create.name = pb->mesh_create->name;
		break;
	case KIZUNA__OP__BODY_NODE_ADMIT:
		if (has_unknown(&pb->node_admit->base))
			goto fail;
		op->type = KZ_OP_NODE_ADMIT;
		if ((rc = get_id(&op->u.node_admit.node, &pb->node_admit->node,
		    false)) < 0)
			goto fail;
		op->u.node_admit.name = pb->node_admit->name;
		op->u.node_admit.admin = pb->node_admit->admin;
		break;
	case KIZUNA__OP__BODY_NODE_REVOKE:
		if (has_unknown(&pb->node_revoke->base))
			goto fail;
		op->type = KZ_OP_NODE_REVOKE;
		if ((rc = get_id(&op->u.node_revoke.node, &pb->node_revoke->node,
		    false)) < 0)
			goto fail;
		op->u.node_revoke.last_seq = pb->node_revoke->last_seq;
		op->u.node_revoke.reason = pb->node_revoke->reason;
		break;
	case KIZUNA__OP__BODY_USER_SET: {
		Kizuna__UserSet *u = pb->user_set;

		if (has_unknown(&u->base))
			goto fail;
		op->type = KZ_OP_USER_SET;
		op->u.user_set = (struct kz_user_set){ u->user, u->set,
		    u->display_name, u->department, (enum kz_role)u->role,
		    u->password_hash, u->active };
		break;
	}
	case KIZUNA__OP__BODY_CHANNEL_CREATE:
		if (has_unknown(&pb->channel_create->base))
			goto fail;
		op->type = KZ_OP_CHANNEL_CREATE;
		op->u.channel_create.name = pb->channel_create->name;
		op->u.channel_create.topic = pb->channel_create->topic;
		if (pb->channel_create->imported != NULL &&
		    (rc = get_imported_channel(op,
		    pb->channel_create->imported)) < 0)
			goto fail;
		break;
	case KIZUNA__OP__BODY_CHANNEL_SET: {
		Kizuna__ChannelSet *c = pb->channel_set;

		if (has_unknown(&c->base))
			goto fail;
		op->type = KZ_OP_CHANNEL_SET;
		if ((rc = get_id(&op->u.channel_set.channel, &c->channel, false)) < 0)
			goto fail;
		op->u.channel_set.set = c->set;
		op->u.channel_set.name = c->name;
		op->u.channel_set.topic = c->topic;
		op->u.channel_set.archived = c->archived;
		break;
	}
	case KIZUNA__OP__BODY_EDIT:
		if (has_unknown(&pb->edit->base))
			goto fail;
		op->type = KZ_OP_EDIT;
		if ((rc = get_id(&op->u.edit.target, &pb->edit->target, false)) < 0)
			goto fail;
		op->u.edit.text = pb->edit->text;
		break;
	case KIZUNA__OP__BODY_DELETE:
		if (has_unknown(&pb->delete_->base))
			goto fail;
		op->type = KZ_OP_DELETE;
		if ((rc = get_id(&op->u.del.target, &pb->delete_->target, false)) < 0)
			goto fail;
		break;
	case KIZUNA__OP__BODY_PURGE:
		if (has_unknown(&pb->purge->base))
			goto fail;
		op->type = KZ_OP_PURGE;
		if ((rc = get_id(&op->u.purge.target, &pb->purge->target, false)) < 0)
			goto fail;
		break;
	case KIZUNA__OP__BODY_REACT:
		if (has_unknown(&pb->react->base))
			goto fail;
		op->type = KZ_OP_REACT;
		if ((rc = get_id(&op->u.react.target, &pb->react->target, false)) < 0)
			goto fail;
		op->u.react.emoji = pb->react->emoji;
		op->u.react.on = pb->react->on;
		break;
	case KIZUNA__OP__BODY_ACK:
		if (has_unknown(&pb->ack->base))
			goto fail;
		op->type = KZ_OP_ACK;
		if ((rc = get_id(&op->u.ack.target, &pb->ack->target, false)) < 0)
			goto fail;
		break;
	case KIZUNA__OP__BODY_SAFETY:
		if (has_unknown(&pb->safety->base))
			goto fail;
		op->type = KZ_OP_SAFETY;
		op->u.safety.user = pb->safety->user;
		op->u.safety.status = (enum kz_safety)pb->safety->status;
		op->u.safety.place = pb->safety->place;
		op->u.safety.note = pb->safety->note;
		break;
	case KIZUNA__OP__BODY_LINK_REPORT:
		op->type = KZ_OP_LINK_REPORT;
		if ((rc = get_link_report(op, pb->link_report)) < 0)
			goto fail;
		break;
	default:
		rc = KZ_ERR_MALFORMED;
		goto fail;
	}
	if ((rc = check_op(op)) < 0)
		goto fail;
	free(tmp);
	op->pb = pb;
	op->arena = arena;
	*out = op;
	return 0;
fail:
	free(tmp);
	if (op != NULL)
		free(op->ext);
	free(op);
	arena_free(arena);
	return rc;
}

int
kz_op_decode_hashed(struct kz_op **out, const uint8_t *buf, size_t len)
{
	int rc = kz_op_decode(out, buf, len);

	if (rc == 0) {
		kz_hash((*out)->src_hash, buf, len);
		(*out)->hashed = true;
	}
	return rc;
}

void
kz_op_free(struct kz_op *op)
{
	if (op == NULL)
		return;
	if (op->release != NULL) {
		op->release(op->release_ctx, op);
		return;
	}
	arena_free(op->arena);
	free(op->ext);
	free(op);
}

const uint8_t *
kz_op_created_id(const struct kz_op *op, const uint8_t hash[KZ_ID_BYTES])
{
	if (op->type == KZ_OP_POST && op->u.post.imported != NULL)
		return op->u.post.imported->id;
	if (op->type == KZ_OP_CHANNEL_CREATE && op->u.channel_create.imported != NULL)
		return op->u.channel_create.imported->id;
	return hash;
}

const uint8_t *
kz_op_target(const struct kz_op *op)
{
	switch (op->type) {
	case KZ_OP_POST:
		return op->u.post.channel;
	case KZ_OP_CHANNEL_SET:
		return op->u.channel_set.channel;
	case KZ_OP_EDIT:
		return op->u.edit.target;
	case KZ_OP_DELETE:
		return op->u.del.target;
	case KZ_OP_PURGE:
		return op->u.purge.target;
	case KZ_OP_REACT:
		return op->u.react.target;
	case KZ_OP_ACK:
		return op->u.ack.target;
	default:
		return NULL;
	}
}

bool
kz_op_is_urgent(const struct kz_op *op)
{
	switch (op->type) {
	case KZ_OP_POST:
		return op->u.post.priority >= KZ_PRIO_URGENT;
	case KZ_OP_ACK:
	case KZ_OP_SAFETY:
	case KZ_OP_MESH_CREATE:
	case KZ_OP_NODE_ADMIT:
	case KZ_OP_NODE_REVOKE:
		return true;
	default:
		return false;
	}
}

/* A protobuf varint at *p (below end), moving past it; false if bad. */
static bool
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return true;
	}
	return false;
}

/*
 * Walks the fields of one message at wire level: *body is set to the
 * length-delimited field `want` (when it occurs exactly once), *priority
 * to the last varint of field `prio` (0 when absent); *oneofs counts the
 * length-delimited fields numbered 16 and up (an Op's bodies) and *which
 * is the last of them.  False on anything but plain wire format.
 */
static bool
wire_scan(const uint8_t *p, const uint8_t *end, uint32_t want,
    const uint8_t **body, size_t *body_len, uint32_t *which, unsigned *oneofs,
    uint32_t prio, uint64_t *priority)
{
	unsigned seen = 0;

	*oneofs = 0;
	*priority = 0;
	while (p < end) {
		uint64_t key, v;
		uint32_t field;

		if (!wire_varint(&p, end, &key) || key >> 3 > UINT32_MAX ||
		    key >> 3 == 0)
			return false;
		field = (uint32_t)(key >> 3);
		switch (key & 7) {
		case 0:
			if (!wire_varint(&p, end, &v))
				return false;
			if (field == prio)
				*priority = v;
			break;
		case 1:
			if ((size_t)(end - p) < 8)
				return false;
			p += 8;
			break;
		case 2:
			if (!wire_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			if (field >= 16) {
				(*oneofs)++;
				*which = field;
			}
			if (want != 0 && field == want) {
				seen++;
				*body = p;
				*body_len = (size_t)v;
			}
			p += v;
			break;
		case 5:
			if ((size_t)(end - p) < 4)
				return false;
			p += 4;
			break;
		default:
			return false;
		}
	}
	return want == 0 || seen <= 1;
}

/*
 * Whether an op is urgent, as kz_op_is_urgent of its decoding (false if it
 * does not decode).  Every append asks, so the common answer, "not urgent",
 * comes from a look at the wire format: an op with one body that is none
 * of the urgent kinds, or a post whose priority is absent or normal, is
 * not urgent whether or not it decodes.  Anything else is decoded.
 */
bool
kz_op_bytes_urgent(const uint8_t *op, size_t len)
{
	const uint8_t *body = NULL;
	size_t body_len = 0;
	uint32_t which = 0, inner_which;
	unsigned oneofs, inner_oneofs;
	uint64_t prio, unused;
	struct kz_op *o;
	bool urgent;

	if (op == NULL)
		return false;
	if (wire_scan(op, op + len, KIZUNA__OP__BODY_POST, &body, &body_len,
	    &which, &oneofs, 0, &unused) && oneofs == 1) {
		switch (which) {
		case KIZUNA__OP__BODY_MESH_CREATE:
		case KIZUNA__OP__BODY_NODE_ADMIT:
		case KIZUNA__OP__BODY_NODE_REVOKE:
		case KIZUNA__OP__BODY_ACK:
		case KIZUNA__OP__BODY_SAFETY:	/* the urgent kinds */
			break;
		case KIZUNA__OP__BODY_POST:	/* its priority is field 4 */
			if (wire_scan(body, body + body_len, 0, NULL, NULL,
			    &inner_which, &inner_oneofs, 4, &prio) && prio == 0)
				return false;
			break;
		default:
			return false;
		}
	}
	if (kz_op_decode(&o, op, len) < 0)
		return false;
	urgent = kz_op_is_urgent(o);
	kz_op_free(o);
	return urgent;
}

/* ------------------------------------------------------------ names */

static const char *const op_names[KZ__OP_LAST] = {
	[KZ_OP_POST] = "post",
	[KZ_OP_MESH_CREATE] = "mesh_create",
	[KZ_OP_NODE_ADMIT] = "node_admit",
	[KZ_OP_NODE_REVOKE] = "node_revoke",
	[KZ_OP_USER_SET] = "user_set",
	[KZ_OP_CHANNEL_CREATE] = "channel_create",
	[KZ_OP_CHANNEL_SET] = "channel_set",
	[KZ_OP_EDIT] = "edit",
	[KZ_OP_DELETE] = "delete",
	[KZ_OP_PURGE] = "purge",
	[KZ_OP_REACT] = "react",
	[KZ_OP_ACK] = "ack",
	[KZ_OP_SAFETY] = "safety",
	[KZ_OP_LINK_REPORT] = "link_report",
};

static const char *const prio_names[] = { "normal", "urgent", "emergency", NULL };
static const char *const safety_names[] = { "unknown", "safe", "needs-help",
	"injured", NULL };
static const char *const role_names[] = { "member", "admin", NULL };

const char *
kz_op_type_name(enum kz_op_type t)
{
	return (unsigned)t < KZ__OP_LAST && op_names[t] ? op_names[t] : "?";
}

static const char *
name_of(const char *const *names, unsigned n, unsigned v)
{
	return v < n ? names[v] : "?";
}

static int
parse_name(const char *const *names, const char *s, int *out)
{
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	}
	return KZ_ERR_INVAL;
}

const char *
kz_priority_name(enum kz_priority p)
{
	return name_of(prio_names, 3, (unsigned)p);
}

const char *
kz_safety_name(enum kz_safety s)
{
	return name_of(safety_names, 4, (unsigned)s);
}

const char *
kz_role_name(enum kz_role r)
{
	return name_of(role_names, 2, (unsigned)r);
}

int
kz_priority_parse(enum kz_priority *out, const char *s)
{
	int v, rc = parse_name(prio_names, s, &v);

	if (rc == 0)
		*out = (enum kz_priority)v;
	return rc;
}

int
kz_safety_parse(enum kz_safety *out, const char *s)
{
	int v, rc = parse_name(safety_names, s, &v);

	if (rc == 0)
		*out = (enum kz_safety)v;
	return rc;
}

int
kz_role_parse(enum kz_role *out, const char *s)
{
	int v, rc = parse_name(role_names, s, &v);

	if (rc == 0)
		*out = (enum kz_role)v;
	return rc;
}
