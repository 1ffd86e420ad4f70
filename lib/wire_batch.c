// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * PAGES and DISK batches: entry table plus one (optionally compressed)
 * payload. The sender sizes a batch so its uncompressed body fits the
 * peer's max_body; the receiver can then decompress into a buffer of its
 * own max_body and never needs more.
 */
#include <errno.h>
#include <stdlib.h>

#include "wire_priv.h"

int remus_batch_init(struct remus_batch *b, const struct remus_wire *w,
		     uint8_t type, struct remus_page_cache *cache,
		     struct remus_compressor *cz)
{
	memset(b, 0, sizeof(*b));
	if (type != REMUS_REC_PAGES && type != REMUS_REC_DISK)
		return -EINVAL;
	if (w->phase != REMUS_WIRE_DATA)
		return -EPROTO;
	if (cache && cache->page_size != w->hello.page_size)
		return -EINVAL;
	b->type = type;
	b->page_size = w->hello.page_size;
	b->limit = w->peer_max_body;
	/* Without the negotiated feature every page goes raw or zero. */
	b->cache = w->ack.features & REMUS_FEAT_DELTA ? cache : NULL;
	b->cz = cz && w->ack.codecs & REMUS_CODEC_BIT(cz->codec) ? cz : NULL;
	b->ent_cap = b->limit;
	b->raw_cap = b->limit;
	b->ent = malloc(b->ent_cap);
	b->raw = malloc(b->raw_cap);
	if (!b->ent || !b->raw) {
		remus_batch_fini(b);
		return -ENOMEM;
	}
	return 0;
}

void remus_batch_fini(struct remus_batch *b)
{
	free(b->ent);
	free(b->raw);
	b->ent = b->raw = NULL;
	b->count = 0;
	b->raw_len = 0;
}

/* Room for one more entry of up to @len payload bytes? */
static int room_for(const struct remus_batch *b, size_t len)
{
	size_t table = REMUS_BATCH_HDR_LEN +
		       ((size_t)b->count + 1) * REMUS_BATCH_ENT_LEN;

	if (REMUS_BATCH_HDR_LEN + REMUS_BATCH_ENT_LEN + len > b->limit)
		return -EMSGSIZE;	/* would not fit even alone */
	if (table + b->raw_len + len > b->limit || b->count == UINT32_MAX)
		return -ENOSPC;
	return 0;
}

static void put_entry(struct remus_batch *b, uint64_t where, uint32_t len,
		      uint8_t kind)
{
	uint8_t *e = b->ent + (size_t)b->count * REMUS_BATCH_ENT_LEN;

	put64(e, where);
	put32(e + 8, len);
	e[12] = kind;
	e[13] = 0;
	put16(e + 14, 0);
	b->count++;
	b->raw_len += len;
}

int remus_batch_add_page(struct remus_batch *b, const struct remus_wire *w,
			 uint64_t pfn, const void *page)
{
	uint8_t *out = b->raw + b->raw_len;
	size_t len;
	int kind, err;

	if (b->type != REMUS_REC_PAGES)
		return -EINVAL;
	if (!remus_wire_pfn_valid(&w->hello, pfn))
		return -EINVAL;
	err = room_for(b, b->page_size);
	if (err)
		return err;
	if (b->cache) {
		kind = remus_delta_encode(b->cache, pfn, page, out, &len);
		if (kind < 0)
			return kind;
	} else {
		struct remus_page_cache none = { .page_size = b->page_size };

		kind = remus_delta_encode(&none, pfn, page, out, &len);
		if (kind < 0)
			return kind;
	}
	put_entry(b, pfn, (uint32_t)len, (uint8_t)kind);
	return 0;
}

int remus_batch_add_disk(struct remus_batch *b, uint64_t sector,
			 const void *data, uint32_t len)
{
	int err;

	if (b->type != REMUS_REC_DISK)
		return -EINVAL;
	if (!len || len % REMUS_SECTOR_SIZE ||
	    sector > UINT64_MAX - len / REMUS_SECTOR_SIZE)
		return -EINVAL;
	err = room_for(b, len);
	if (err)
		return err;
	memcpy(b->raw + b->raw_len, data, len);
	put_entry(b, sector, len, 0);
	return 0;
}

ssize_t remus_batch_seal(struct remus_wire *w, struct remus_batch *b,
			 uint64_t epoch, void *frame, size_t cap)
{
	uint8_t *body = (uint8_t *)frame + REMUS_WIRE_HDR_LEN;
	size_t table = REMUS_BATCH_HDR_LEN +
		       (size_t)b->count * REMUS_BATCH_ENT_LEN;
	size_t plen;
	int codec = REMUS_CODEC_NONE;
	ssize_t n;

	if (!b->count)
		return -ENODATA;
	if (cap < REMUS_WIRE_OVERHEAD + table + b->raw_len)
		return -ENOSPC;
	if (b->cz) {
		codec = remus_compress(b->cz, b->raw, b->raw_len, body + table,
				       cap - REMUS_WIRE_OVERHEAD - table, &plen);
		if (codec < 0)
			return codec;
	} else {
		memcpy(body + table, b->raw, b->raw_len);
		plen = b->raw_len;
	}
	put32(body, b->count);
	body[4] = (uint8_t)codec;
	body[5] = 0;
	put16(body + 6, 0);
	put32(body + 8, (uint32_t)b->raw_len);
	put32(body + 12, 0);
	memcpy(body + REMUS_BATCH_HDR_LEN, b->ent,
	       (size_t)b->count * REMUS_BATCH_ENT_LEN);
	n = remus_wire_seal(w, b->type, epoch, frame, table + plen, cap);
	if (n >= 0) {
		b->count = 0;
		b->raw_len = 0;
	}
	return n;
}

int remus_batch_reader_init(struct remus_batch_reader *r,
			    const struct remus_wire *w,
			    struct remus_compressor *cz)
{
	memset(r, 0, sizeof(*r));
	r->cz = cz;
	r->scratch_cap = w->max_body;
	r->scratch = malloc(r->scratch_cap);
	return r->scratch ? 0 : -ENOMEM;
}

void remus_batch_reader_fini(struct remus_batch_reader *r)
{
	free(r->scratch);
	memset(r, 0, sizeof(*r));
}

int remus_batch_open(struct remus_batch_reader *r, const struct remus_wire *w,
		     const struct remus_frame *f)
{
	const uint8_t *body = f->body;
	size_t table;
	uint32_t raw_len;
	uint8_t codec;
	int err;

	r->count = r->next = 0;
	if (f->type != REMUS_REC_PAGES && f->type != REMUS_REC_DISK)
		return -EINVAL;
	/* Cheap next to the decompression, and makes this safe on frames
	 * that did not come through remus_wire_rx_*(). */
	err = remus_wire_body_check(w, f->type, body, f->len);
	if (err)
		return err;
	codec = body[4];
	raw_len = get32(body + 8);
	table = REMUS_BATCH_HDR_LEN +
		(size_t)get32(body) * REMUS_BATCH_ENT_LEN;
	if (codec == REMUS_CODEC_NONE) {
		r->data = body + table;
	} else {
		if (!r->cz)
			return -EPROTO;
		if (raw_len > r->scratch_cap)
			return -EBADMSG;
		err = remus_decompress(r->cz, codec, body + table,
				       f->len - table, r->scratch, raw_len);
		if (err)
			return err;
		r->data = r->scratch;
	}
	r->type = f->type;
	r->ent = body + REMUS_BATCH_HDR_LEN;
	r->count = get32(body);
	r->off = 0;
	return 0;
}

int remus_batch_next(struct remus_batch_reader *r, struct remus_batch_item *it)
{
	const uint8_t *e;

	if (r->next >= r->count)
		return 0;
	e = r->ent + (size_t)r->next * REMUS_BATCH_ENT_LEN;
	it->where = get64(e);
	it->len = get32(e + 8);
	it->kind = e[12];
	/* The body check proved the lengths add up to the payload. */
	it->data = r->data + r->off;
	r->off += it->len;
	r->next++;
	return 1;
}
