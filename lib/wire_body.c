// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Record bodies: layouts, and the checks the receive path runs on every
 * body before a frame is delivered (the send path runs the same ones, so
 * an engine bug shows up at its source rather than as a dead session).
 */
#include <errno.h>

#include "wire_priv.h"

static bool pow2_page(uint32_t ps)
{
	return ps >= REMUS_PAGE_SIZE_MIN && ps <= REMUS_PAGE_SIZE_MAX &&
	       !(ps & (ps - 1));
}

static int hello_decode(const uint8_t *b, size_t len, struct remus_hello *h)
{
	uint64_t next = 0, sum = 0;

	if (len < HELLO_FIXED_LEN)
		return -EBADMSG;
	if (b[0] != REMUS_WIRE_PRIMARY || b[1] || get16(b + 2) ||
	    get32(b + 44))
		return -EBADMSG;
	memset(h, 0, sizeof(*h));
	h->page_size = get32(b + 4);
	h->nr_pages = get64(b + 8);
	h->start_epoch = get64(b + 16);
	h->codecs = get32(b + 24);
	h->features = get32(b + 28);
	h->max_body = get32(b + 32);
	h->cache_pages = get32(b + 36);
	h->nr_regions = get32(b + 40);

	if (!pow2_page(h->page_size) || !h->start_epoch ||
	    h->codecs & ~REMUS_CODECS_ALL ||
	    !(h->codecs & REMUS_CODEC_BIT(REMUS_CODEC_NONE)) ||
	    h->features & ~REMUS_FEAT_MASK ||
	    h->max_body < REMUS_WIRE_BODY_MIN ||
	    h->max_body > REMUS_WIRE_BODY_LIMIT ||
	    !h->nr_regions || h->nr_regions > REMUS_HELLO_MAX_REGIONS)
		return -EBADMSG;
	if (len != HELLO_FIXED_LEN + 16 * (size_t)h->nr_regions)
		return -EBADMSG;
	for (uint32_t i = 0; i < h->nr_regions; i++) {
		struct remus_region *r = &h->regions[i];

		r->first_pfn = get64(b + 48 + 16 * i);
		r->nr_pages = get64(b + 56 + 16 * i);
		if (!r->nr_pages || r->first_pfn < next ||
		    r->nr_pages > UINT64_MAX - r->first_pfn ||
		    r->nr_pages > UINT64_MAX - sum)
			return -EBADMSG;
		next = r->first_pfn + r->nr_pages;
		sum += r->nr_pages;
	}
	/* UINT64_MAX is the page cache's empty-slot marker. */
	if (sum != h->nr_pages || next == UINT64_MAX)
		return -EBADMSG;
	return 0;
}

int remus_hello_parse(const struct remus_frame *f, struct remus_hello *h)
{
	if (f->type != REMUS_REC_HELLO)
		return -EINVAL;
	return hello_decode(f->body, f->len, h);
}

static int hello_ack_decode(const uint8_t *b, size_t len,
			    struct remus_hello_ack *a)
{
	if (len != HELLO_ACK_LEN || get32(b + 28) || get64(b + 40))
		return -EBADMSG;
	memcpy(a->nonce, b, sizeof(a->nonce));
	a->codecs = get32(b + 16);
	a->features = get32(b + 20);
	a->max_body = get32(b + 24);
	a->committed_epoch = get64(b + 32);
	if (a->codecs & ~REMUS_CODECS_ALL ||
	    !(a->codecs & REMUS_CODEC_BIT(REMUS_CODEC_NONE)) ||
	    a->features & ~REMUS_FEAT_MASK ||
	    a->max_body < REMUS_WIRE_BODY_MIN ||
	    a->max_body > REMUS_WIRE_BODY_LIMIT)
		return -EBADMSG;
	return 0;
}

int remus_hello_ack_parse(const struct remus_frame *f,
			  struct remus_hello_ack *a)
{
	if (f->type != REMUS_REC_HELLO_ACK)
		return -EINVAL;
	return hello_ack_decode(f->body, f->len, a);
}

static int reject_decode(const uint8_t *b, size_t len, struct remus_reject *r)
{
	if (len < REJECT_HDR_LEN)
		return -EBADMSG;
	r->reason = get32(b);
	r->text_len = get32(b + 4);
	if (r->text_len > REMUS_REJECT_TEXT_MAX ||
	    len != REJECT_HDR_LEN + (size_t)r->text_len)
		return -EBADMSG;
	r->text = (const char *)b + REJECT_HDR_LEN;
	return 0;
}

int remus_reject_parse(const struct remus_frame *f, struct remus_reject *r)
{
	if (f->type != REMUS_REC_REJECT)
		return -EINVAL;
	return reject_decode(f->body, f->len, r);
}

void remus_state_hdr(void *body, uint32_t kind, uint64_t offset,
		     uint64_t total)
{
	uint8_t *b = body;

	put32(b, kind);
	put32(b + 4, 0);
	put64(b + 8, offset);
	put64(b + 16, total);
}

static int state_decode(const uint8_t *b, size_t len, struct remus_state *s)
{
	if (len < REMUS_STATE_HDR_LEN)
		return -EBADMSG;
	s->kind = get32(b);
	s->offset = get64(b + 8);
	s->total = get64(b + 16);
	s->data = b + REMUS_STATE_HDR_LEN;
	s->len = (uint32_t)(len - REMUS_STATE_HDR_LEN);
	if (!s->kind || get32(b + 4) || s->offset > s->total ||
	    s->len > s->total - s->offset)
		return -EBADMSG;
	return 0;
}

int remus_state_parse(const struct remus_frame *f, struct remus_state *s)
{
	if (f->type != REMUS_REC_STATE)
		return -EINVAL;
	return state_decode(f->body, f->len, s);
}

int remus_end_parse(const struct remus_frame *f, struct remus_end *e)
{
	const uint8_t *b = f->body;

	if (f->type != REMUS_REC_END)
		return -EINVAL;
	if (f->len != END_LEN)
		return -EBADMSG;
	e->records = get64(b);
	e->pages = get64(b + 8);
	e->disk_writes = get64(b + 16);
	e->bytes = get64(b + 24);
	memcpy(e->digest, b + 32, sizeof(e->digest));
	return 0;
}

void remus_heartbeat_put(void *body, const struct remus_heartbeat *hb)
{
	put64(body, hb->sent_ns);
	put64((uint8_t *)body + 8, hb->echo_ns);
}

int remus_heartbeat_parse(const struct remus_frame *f,
			  struct remus_heartbeat *hb)
{
	if (f->type != REMUS_REC_HEARTBEAT)
		return -EINVAL;
	if (f->len != REMUS_HEARTBEAT_LEN)
		return -EBADMSG;
	hb->sent_ns = get64(f->body);
	hb->echo_ns = get64(f->body + 8);
	return 0;
}

void remus_bye_put(void *body, uint32_t reason)
{
	put32(body, reason);
	put32((uint8_t *)body + 4, 0);
}

int remus_bye_parse(const struct remus_frame *f, uint32_t *reason)
{
	if (f->type != REMUS_REC_BYE)
		return -EINVAL;
	if (f->len != REMUS_BYE_LEN || get32(f->body + 4))
		return -EBADMSG;
	*reason = get32(f->body);
	return 0;
}

bool remus_wire_pfn_valid(const struct remus_hello *h, uint64_t pfn)
{
	uint32_t lo = 0, hi = h->nr_regions;

	/* Regions are sorted and disjoint (hello_decode): bisect. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct remus_region *r = &h->regions[mid];

		if (pfn < r->first_pfn)
			hi = mid;
		else if (pfn - r->first_pfn >= r->nr_pages)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint32_t remus_wire_batch_count(const uint8_t *body)
{
	return get32(body);
}

static int batch_check(const struct remus_wire *w, uint8_t type,
		       const uint8_t *b, size_t len, size_t limit)
{
	uint32_t count, raw_len, ps = w->hello.page_size;
	uint8_t codec;
	uint64_t sum = 0;
	size_t table;

	if (len < REMUS_BATCH_HDR_LEN)
		return -EBADMSG;
	count = get32(b);
	codec = b[4];
	raw_len = get32(b + 8);
	if (!count || b[5] || get16(b + 6) || get32(b + 12))
		return -EBADMSG;
	/* count is untrusted: bound it by the body before multiplying. */
	if (count > (len - REMUS_BATCH_HDR_LEN) / REMUS_BATCH_ENT_LEN)
		return -EBADMSG;
	table = REMUS_BATCH_HDR_LEN + (size_t)count * REMUS_BATCH_ENT_LEN;
	/* The uncompressed body must fit the receiver's limit too. */
	if (raw_len > limit - table)
		return -EBADMSG;
	if (codec > REMUS_CODEC_MAX)
		return -EBADMSG;
	if (!(w->ack.codecs & REMUS_CODEC_BIT(codec)))
		return -EPROTO;
	if (codec == REMUS_CODEC_NONE && len - table != raw_len)
		return -EBADMSG;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = b + REMUS_BATCH_HDR_LEN +
				   (size_t)i * REMUS_BATCH_ENT_LEN;
		uint64_t where = get64(e);
		uint32_t n = get32(e + 8);
		uint8_t kind = e[12];

		if (e[13] || get16(e + 14))
			return -EBADMSG;
		if (type == REMUS_REC_DISK) {
			if (kind || !n || n % REMUS_SECTOR_SIZE ||
			    where > UINT64_MAX - n / REMUS_SECTOR_SIZE)
				return -EBADMSG;
		} else {
			if (!remus_wire_pfn_valid(&w->hello, where))
				return -EBADMSG;
			switch (kind) {
			case REMUS_PAGE_RAW:
				if (n != ps)
					return -EBADMSG;
				break;
			case REMUS_PAGE_ZERO:
				if (n)
					return -EBADMSG;
				break;
			case REMUS_PAGE_XOR:
				if (!(w->ack.features & REMUS_FEAT_DELTA))
					return -EPROTO;
				if (n >= ps)
					return -EBADMSG;
				break;
			default:
				return -EBADMSG;
			}
		}
		sum += n;
	}
	return sum == raw_len ? 0 : -EBADMSG;
}

int remus_wire_check_body(const struct remus_wire *w, uint8_t type,
			  const uint8_t *body, size_t len, size_t limit)
{
	struct remus_hello h;
	struct remus_hello_ack a;
	struct remus_reject rj;
	struct remus_state st;
	int err;

	if (len > limit)
		return -EMSGSIZE;
	switch (type) {
	case REMUS_REC_HELLO:
		return hello_decode(body, len, &h);
	case REMUS_REC_HELLO_ACK:
		err = hello_ack_decode(body, len, &a);
		if (err)
			return err;
		/* The backup picks from the offer; it may add AEAD only on a
		 * keyed session, since both ends hold the key then. */
		if (a.codecs & ~w->hello.codecs)
			return -EPROTO;
		if (a.features & REMUS_FEAT_DELTA &&
		    !(w->hello.features & REMUS_FEAT_DELTA))
			return -EPROTO;
		if (a.features & REMUS_FEAT_AEAD &&
		    w->auth == REMUS_WIRE_AUTH_NONE)
			return -EPROTO;
		if (w->hello.features & REMUS_FEAT_AEAD &&
		    !(a.features & REMUS_FEAT_AEAD))
			return -EPROTO;
		return 0;
	case REMUS_REC_REJECT:
		return reject_decode(body, len, &rj);
	case REMUS_REC_PAGES:
	case REMUS_REC_DISK:
		return batch_check(w, type, body, len, limit);
	case REMUS_REC_STATE:
		return state_decode(body, len, &st);
	case REMUS_REC_END:
		return len == END_LEN ? 0 : -EBADMSG;
	case REMUS_REC_ACK:
		return len == ACK_LEN ? 0 : -EBADMSG;
	case REMUS_REC_HEARTBEAT:
		return len == REMUS_HEARTBEAT_LEN ? 0 : -EBADMSG;
	case REMUS_REC_BYE:
		return len == REMUS_BYE_LEN && !get32(body + 4) ? 0 : -EBADMSG;
	default:
		if (type >= REMUS_REC_EXT_CKPT)
			return 0;
		return type ? -EOPNOTSUPP : -EBADMSG;
	}
}

int remus_wire_body_check(const struct remus_wire *w, uint8_t type,
			  const uint8_t *body, size_t len)
{
	return remus_wire_check_body(w, type, body, len, w->max_body);
}
