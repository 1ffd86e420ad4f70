// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Page deltas inside the Xen checkpoint stream: see pagedelta.h for the
 * container and the rules that keep encoder and decoder in step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xen/pagedelta.h"

#define PD_HDR_LEN	8	/* PAGE_DATA body: u32 count, u32 reserved */
#define SEG_HDR_LEN	5	/* u8 tag or kind, u32 length */

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)remus_xs_le32(p + 4) << 32 | remus_xs_le32(p);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static bool entry_has_data(uint64_t entry)
{
	unsigned int type = (unsigned int)(entry >> REMUS_XD_TYPE_SHIFT);

	return type != REMUS_XD_TYPE_XTAB && type != REMUS_XD_TYPE_XALLOC &&
	       type != REMUS_XD_TYPE_BROKEN;
}

/*
 * The pages a PAGE_DATA body of @len bytes carries, from its entries;
 * -1 unless the body is exactly header, entries and those pages.
 */
static long page_data_pages(const uint8_t *body, uint64_t len)
{
	uint32_t count, i;
	uint64_t pages = 0;

	if (len < PD_HDR_LEN)
		return -1;
	count = remus_xs_le32(body);
	if (!count || count > (len - PD_HDR_LEN) / 8)
		return -1;
	for (i = 0; i < count; i++)
		pages += entry_has_data(le64(body + PD_HDR_LEN + 8 * (size_t)i));
	if (len != PD_HDR_LEN + 8 * (uint64_t)count + REMUS_XD_PAGE_SIZE * pages)
		return -1;
	return (long)pages;
}

/* ---- encoder ---- */

static void on_record(struct remus_xs_walk *w, enum remus_xs_layer layer,
		      uint32_t type, uint32_t len, uint64_t offset, void *data)
{
	struct remus_xd_enc *e = data;

	/* offset < base: a record begun before this input (not one whole
	 * checkpoint); it stays bytes. */
	if (layer != REMUS_XS_LAYER_LIBXC || type != LIBXC_REC_PAGE_DATA ||
	    offset < e->base || e->err)
		return;
	if (e->nr_recs == e->cap_recs) {
		size_t cap = e->cap_recs ? 2 * e->cap_recs : 64;
		struct remus_xd_rec *r = realloc(e->recs, cap * sizeof(*r));

		if (!r) {
			e->err = -ENOMEM;
			return;
		}
		e->recs = r;
		e->cap_recs = cap;
	}
	e->recs[e->nr_recs].off = (size_t)(offset - e->base);
	e->recs[e->nr_recs].len = len;
	e->nr_recs++;
}

int remus_xd_enc_init(struct remus_xd_enc *e, size_t slots)
{
	int err;

	memset(e, 0, sizeof(*e));
	if (slots > REMUS_XD_SLOTS_MAX)
		return -EINVAL;
	err = remus_page_cache_init(&e->cache, REMUS_XD_PAGE_SIZE, slots);
	if (err)
		return err;
	remus_xd_enc_reset(e);
	return 0;
}

void remus_xd_enc_fini(struct remus_xd_enc *e)
{
	remus_page_cache_fini(&e->cache);
	free(e->recs);
	e->recs = NULL;
	e->cap_recs = e->nr_recs = 0;
}

void remus_xd_enc_reset(struct remus_xd_enc *e)
{
	remus_page_cache_reset(&e->cache);
	remus_xs_walk_init(&e->walk, 1);
	e->walk.on_record = on_record;
	e->walk.data = e;
	e->seq = 0;
	e->err = 0;
}

struct obuf {
	uint8_t **p;
	size_t *cap;
	size_t len;
};

static int ob_room(struct obuf *o, size_t n)
{
	size_t cap = *o->cap ? *o->cap : 65536;
	uint8_t *p;

	if (n > SIZE_MAX / 2 - o->len)
		return -ENOMEM;
	if (o->len + n <= *o->cap)
		return 0;
	while (cap < o->len + n)
		cap *= 2;
	p = realloc(*o->p, cap);
	if (!p)
		return -ENOMEM;
	*o->p = p;
	*o->cap = cap;
	return 0;
}

static int emit_bytes(struct obuf *o, const uint8_t *p, size_t len)
{
	int err;

	while (len) {
		uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

		err = ob_room(o, SEG_HDR_LEN + n);
		if (err)
			return err;
		(*o->p)[o->len] = REMUS_XD_SEG_BYTES;
		put_le32(*o->p + o->len + 1, n);
		memcpy(*o->p + o->len + SEG_HDR_LEN, p, n);
		o->len += SEG_HDR_LEN + n;
		p += n;
		len -= n;
	}
	return 0;
}

/* One PAGE_DATA record (at @rec: header, then @npages pages) as PAGES. */
static int emit_pages(struct remus_xd_enc *e, struct obuf *o,
		      const uint8_t *rec, size_t npages)
{
	const uint8_t *body = rec + REMUS_XS_REC_HDR_LEN;
	uint32_t count = remus_xs_le32(body);
	size_t head = REMUS_XS_REC_HDR_LEN + PD_HDR_LEN + 8 * (size_t)count;
	const uint8_t *page = rec + head;
	int err;

	err = ob_room(o, 1 + head + npages * (SEG_HDR_LEN + REMUS_XD_PAGE_SIZE));
	if (err)
		return err;
	(*o->p)[o->len++] = REMUS_XD_SEG_PAGES;
	memcpy(*o->p + o->len, rec, head);
	o->len += head;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t entry = le64(body + PD_HDR_LEN + 8 * (size_t)i);
		uint8_t *seg = *o->p + o->len;
		size_t elen;
		int kind;

		if (!entry_has_data(entry))
			continue;
		kind = remus_delta_encode(&e->cache, entry & REMUS_XD_PFN_MASK,
					  page, seg + SEG_HDR_LEN, &elen);
		if (kind < 0)
			return kind;
		seg[0] = (uint8_t)kind;
		put_le32(seg + 1, (uint32_t)elen);
		o->len += SEG_HDR_LEN + elen;
		page += REMUS_XD_PAGE_SIZE;
	}
	return 0;
}

static void put_header(struct remus_xd_enc *e, uint8_t *h, size_t raw_len)
{
	memcpy(h, REMUS_XD_MAGIC, REMUS_XD_MAGIC_LEN);
	put_le32(h + 8, REMUS_XD_VERSION);
	put_le32(h + 12, REMUS_XD_PAGE_SIZE);
	put_le64(h + 16, e->cache.nslots);
	put_le64(h + 24, e->seq);
	put_le64(h + 32, raw_len);
}

static struct remus_delta_stats stats_since(const struct remus_delta_stats *a,
					    const struct remus_delta_stats *b)
{
	return (struct remus_delta_stats){
		.pages = a->pages - b->pages,
		.hits = a->hits - b->hits,
		.evictions = a->evictions - b->evictions,
		.raw = a->raw - b->raw,
		.zero = a->zero - b->zero,
		.xor = a->xor - b->xor,
		.in_bytes = a->in_bytes - b->in_bytes,
		.out_bytes = a->out_bytes - b->out_bytes,
	};
}

/* The checkpoint's bytes through the walker: its PAGE_DATA records in
 * e->recs, and the stream's state one checkpoint on. */
static int walk_ckpt(struct remus_xd_enc *e, const uint8_t *in, size_t len)
{
	if (e->err)
		return e->err;
	e->base = e->walk.offset;
	e->nr_recs = 0;
	if (remus_xs_walk_feed(&e->walk, in, len))
		return e->err = -EBADMSG;
	return e->err;
}

int remus_xd_encode(struct remus_xd_enc *e, const uint8_t *in, size_t len,
		    uint8_t **out, size_t *cap, size_t *out_len)
{
	struct remus_delta_stats before = e->cache.stats;
	struct obuf o = { .p = out, .cap = cap };
	size_t done = 0;
	int err;

	err = walk_ckpt(e, in, len);
	if (err)
		return err;
	err = ob_room(&o, REMUS_XD_HDR_LEN);
	if (err)
		return e->err = err;
	put_header(e, *out, len);
	o.len = REMUS_XD_HDR_LEN;
	for (size_t i = 0; i < e->nr_recs && !err; i++) {
		const struct remus_xd_rec *r = &e->recs[i];
		const uint8_t *rec = in + r->off;
		long npages;

		/* A record cut off by the end of the input stays bytes. */
		if (r->off > len - REMUS_XS_REC_HDR_LEN ||
		    r->len > len - r->off - REMUS_XS_REC_HDR_LEN)
			continue;
		npages = page_data_pages(rec + REMUS_XS_REC_HDR_LEN, r->len);
		if (npages < 0)
			continue;
		err = emit_bytes(&o, in + done, r->off - done);
		if (!err)
			err = emit_pages(e, &o, rec, (size_t)npages);
		done = r->off + REMUS_XS_REC_HDR_LEN + r->len;
	}
	if (!err)
		err = emit_bytes(&o, in + done, len - done);
	if (err)
		return e->err = err;
	e->seq++;
	e->last = stats_since(&e->cache.stats, &before);
	*out_len = o.len;
	return 0;
}

int remus_xd_pass(struct remus_xd_enc *e, const uint8_t *in, size_t len)
{
	int err = walk_ckpt(e, in, len);

	if (!err)
		memset(&e->last, 0, sizeof(e->last));
	return err;
}

/* ---- decoder ---- */

void remus_xd_dec_init(struct remus_xd_dec *d)
{
	memset(d, 0, sizeof(*d));
}

void remus_xd_dec_fini(struct remus_xd_dec *d)
{
	remus_page_cache_fini(&d->mirror);
	d->ready = false;
}

void remus_xd_dec_reset(struct remus_xd_dec *d)
{
	remus_xd_dec_fini(d);
	d->broken = false;
	d->seq = 0;
}

struct ibuf {
	const uint8_t *p;
	size_t len, off;
};

/* The next @n bytes of the container, or NULL past its end. */
static const uint8_t *take(struct ibuf *in, size_t n)
{
	const uint8_t *p = in->p + in->off;

	if (n > in->len - in->off)
		return NULL;
	in->off += n;
	return p;
}

/*
 * One page into @dst: raw and zero pages take the mirror slot, an XOR page
 * must find its own pfn there. Either way the slot then holds the page.
 */
static int put_page(struct remus_page_cache *m, uint64_t pfn,
		    unsigned int kind, const uint8_t *enc, size_t len,
		    uint8_t *dst)
{
	size_t slot = m->nslots ? pfn % m->nslots : 0;
	uint8_t *cached = m->nslots ? m->data + slot * m->page_size : NULL;
	int err;

	if (kind == REMUS_PAGE_XOR) {
		if (!cached || m->tags[slot] != pfn)
			return -EBADMSG;
		err = remus_delta_apply(cached, m->page_size, kind, enc, len);
		if (err)
			return -EBADMSG;
		memcpy(dst, cached, m->page_size);
		return 0;
	}
	if (remus_delta_apply(dst, m->page_size, kind, enc, len))
		return -EBADMSG;
	if (cached) {
		m->tags[slot] = pfn;
		memcpy(cached, dst, m->page_size);
	}
	return 0;
}

static int seg_pages(struct remus_page_cache *m, struct ibuf *in,
		     uint8_t *out, size_t *olen, size_t max)
{
	const uint8_t *hdr = take(in, REMUS_XS_REC_HDR_LEN + PD_HDR_LEN);
	const uint8_t *entries;
	uint32_t count, rlen;
	size_t head;

	if (!hdr || remus_xs_le32(hdr) != LIBXC_REC_PAGE_DATA)
		return -EBADMSG;
	rlen = remus_xs_le32(hdr + 4);
	count = remus_xs_le32(hdr + REMUS_XS_REC_HDR_LEN);
	entries = take(in, 8 * (size_t)count);
	/* The entries follow hdr: the body's length bounds the pages. */
	if (!entries || page_data_pages(hdr + REMUS_XS_REC_HDR_LEN, rlen) < 0 ||
	    REMUS_XS_REC_HDR_LEN + (size_t)rlen > max - *olen)
		return -EBADMSG;
	head = REMUS_XS_REC_HDR_LEN + PD_HDR_LEN + 8 * (size_t)count;
	memcpy(out + *olen, hdr, head);
	*olen += head;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t entry = le64(entries + 8 * (size_t)i);
		const uint8_t *seg, *enc;
		uint32_t len;
		int err;

		if (!entry_has_data(entry))
			continue;
		seg = take(in, SEG_HDR_LEN);
		if (!seg)
			return -EBADMSG;
		len = remus_xs_le32(seg + 1);
		enc = take(in, len);
		if (!enc)
			return -EBADMSG;
		err = put_page(m, entry & REMUS_XD_PFN_MASK, seg[0], enc, len,
			       out + *olen);
		if (err)
			return err;
		*olen += REMUS_XD_PAGE_SIZE;
	}
	return 0;
}

static int segments(struct remus_page_cache *m, struct ibuf *in,
		    uint8_t *out, size_t raw_len)
{
	size_t olen = 0;
	int err;

	while (in->off < in->len) {
		const uint8_t *tag = take(in, 1), *p, *lp;
		uint32_t len;

		switch (*tag) {
		case REMUS_XD_SEG_BYTES:
			lp = take(in, 4);
			if (!lp)
				return -EBADMSG;
			len = remus_xs_le32(lp);
			p = take(in, len);
			if (!p || len > raw_len - olen)
				return -EBADMSG;
			memcpy(out + olen, p, len);
			olen += len;
			break;
		case REMUS_XD_SEG_PAGES:
			err = seg_pages(m, in, out, &olen, raw_len);
			if (err)
				return err;
			break;
		default:
			return -EBADMSG;
		}
	}
	return olen == raw_len ? 0 : -EBADMSG;
}

/* The header's checks; sets up the mirror on a session's first container. */
static int header(struct remus_xd_dec *d, const uint8_t *h, size_t max,
		  size_t *raw_len)
{
	uint64_t slots = le64(h + 16), raw = le64(h + 32);
	int err;

	if (remus_xs_le32(h + 8) != REMUS_XD_VERSION)
		return -EPROTONOSUPPORT;
	if (remus_xs_le32(h + 12) != REMUS_XD_PAGE_SIZE)
		return -EBADMSG;
	if (slots > REMUS_XD_SLOTS_MAX || raw > max)
		return -EMSGSIZE;
	if (!raw || le64(h + 24) != d->seq)
		return -EBADMSG;
	*raw_len = (size_t)raw;
	if (d->ready)
		return d->mirror.nslots == slots ? 0 : -EBADMSG;
	err = remus_page_cache_init(&d->mirror, REMUS_XD_PAGE_SIZE,
				    (size_t)slots);
	if (err)
		return err;
	d->ready = true;
	return 0;
}

int remus_xd_decode(struct remus_xd_dec *d, const uint8_t *in, size_t len,
		    size_t max, uint8_t **out, size_t *out_len)
{
	struct ibuf ib = { .p = in, .len = len, .off = REMUS_XD_HDR_LEN };
	size_t raw_len = 0;
	uint8_t *buf;
	int err;

	if (!remus_xd_is_container(in, len))
		return 0;
	if (d->broken)
		return -EBADMSG;
	err = len < REMUS_XD_HDR_LEN ? -EBADMSG :
	      header(d, in, max, &raw_len);
	if (err)
		goto err;
	buf = malloc(raw_len);
	if (!buf) {
		err = -ENOMEM;
		goto err;
	}
	err = segments(&d->mirror, &ib, buf, raw_len);
	if (err) {
		free(buf);
		goto err;
	}
	d->seq++;
	*out = buf;
	*out_len = raw_len;
	return 1;
err:
	d->broken = true;
	return err;
}
