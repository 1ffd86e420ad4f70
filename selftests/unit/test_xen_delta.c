// SPDX-License-Identifier: GPL-2.0
/*
 * The Xen stream's page delta (lib/xen/pagedelta.h) on synthetic streams:
 * the decoder rebuilds the encoder's input byte for byte over a session,
 * also when pfns outnumber cache slots, and refuses every container it
 * cannot rebuild exactly (truncated, another version, lengths past their
 * ends, an XOR page against another pfn's copy, a missed checkpoint)
 * instead of producing other bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "remus.h"
#include "test_wire_tap.h"
#include "test_xen_stream.h"
#include "xen/pagedelta.h"
#include "xen/stream.h"

#define PS		REMUS_XD_PAGE_SIZE
#define NPFN		48
#define PER_REC		8		/* data pages per PAGE_DATA record */
#define TYPE(t)		((uint64_t)(t) << REMUS_XD_TYPE_SHIFT)

/* A guest's memory: pfn i at mem[i]; every 7th page stays zero. */
struct guest {
	uint8_t mem[NPFN][PS];
	unsigned long long seed;
};

static struct guest G;

static void guest_init(struct guest *g, unsigned long long seed)
{
	g->seed = seed;
	for (unsigned int i = 0; i < NPFN; i++) {
		memset(g->mem[i], 0, PS);
		if (i % 7 == 3)
			continue;
		/* Half random, half a pattern: some work for the codec. */
		rnd_fill(&g->seed, g->mem[i], PS / 2);
		for (unsigned int k = PS / 2; k < PS; k++)
			g->mem[i][k] = (uint8_t)(k / 16 + i);
	}
}

/* A few words change in every third page (the dirty ones), from @first. */
static void guest_touch(struct guest *g, unsigned int first, bool *dirty)
{
	for (unsigned int i = 0; i < NPFN; i++) {
		dirty[i] = (i + first) % 3 == 0;
		if (!dirty[i])
			continue;
		for (unsigned int k = 0; k < 3; k++) {
			uint64_t v = rnd_next(&g->seed);
			size_t w = (size_t)(rnd_next(&g->seed) % (PS / 8));

			memcpy(g->mem[i] + 8 * w, &v, 8);
		}
	}
}

/* One PAGE_DATA record: @n entries, then the pages of those with data. */
static void page_rec(struct buf *b, const struct guest *g,
		     const uint64_t *ents, unsigned int n)
{
	struct buf body = { 0 };

	put32le(&body, n);
	put32le(&body, 0);
	for (unsigned int i = 0; i < n; i++)
		put64le(&body, ents[i]);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int t = (unsigned int)(ents[i] >> REMUS_XD_TYPE_SHIFT);

		if (t != REMUS_XD_TYPE_XTAB && t != REMUS_XD_TYPE_XALLOC &&
		    t != REMUS_XD_TYPE_BROKEN)
			put(&body, g->mem[ents[i] & REMUS_XD_PFN_MASK], PS);
	}
	rec(b, LIBXC_REC_PAGE_DATA, body.p, (uint32_t)body.len);
	buf_free(&body);
}

/*
 * One checkpoint: the headers first (with @first), other records around
 * the pages (bodies of odd lengths: padding), the pages of @dirty (all
 * with NULL) in records of PER_REC, an XTAB pair in the first, XALLOC
 * and BROKEN entries in the second, a record of XTABs only, then
 * CHECKPOINT, a libxl record and CHECKPOINT_END.
 */
static void ckpt(struct buf *b, const struct guest *g, bool first,
		 const bool *dirty)
{
	static const uint8_t junk[40] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	uint64_t ents[PER_REC + 2], xtabs[2];
	unsigned int n = 0, nrec = 0;

	if (first) {
		stream_headers(b);
		rec(b, LIBXC_REC_STATIC_DATA_END, NULL, 0);
		rec(b, 0x11, junk, 13);			/* CPUID policy */
	}
	rec(b, 0x09, junk, 37);				/* HVM context */
	for (unsigned int i = 0; i < NPFN; i++) {
		if (dirty && !dirty[i])
			continue;
		/* pfn 5 carries a page-table type: data all the same. */
		ents[n++] = i | (i == 5 ? TYPE(1) : 0);
		if (n == 2 && nrec == 0) {
			ents[n++] = 0x1000 | TYPE(REMUS_XD_TYPE_XTAB);
			ents[n++] = 0x1001 | TYPE(REMUS_XD_TYPE_XTAB);
		}
		if (n == 1 && nrec == 1) {
			ents[n++] = 0x2000 | TYPE(REMUS_XD_TYPE_XALLOC);
			ents[n++] = 0x2001 | TYPE(REMUS_XD_TYPE_BROKEN);
		}
		if (n >= PER_REC) {
			page_rec(b, g, ents, n);
			nrec++;
			n = 0;
		}
	}
	if (n)
		page_rec(b, g, ents, n);
	xtabs[0] = 0x3000 | TYPE(REMUS_XD_TYPE_XTAB);
	xtabs[1] = 0x3001 | TYPE(REMUS_XD_TYPE_XTAB);
	page_rec(b, g, xtabs, 2);
	rec(b, 0x08, junk, 24);				/* TSC info */
	rec(b, LIBXC_REC_CHECKPOINT, NULL, 0);
	rec(b, LIBXL_REC_EMULATOR_XENSTORE_DATA, junk, 11);
	rec(b, LIBXL_REC_CHECKPOINT_END, NULL, 0);
}

/* Encode @raw, decode it: the same bytes come back. *@c: the container. */
static int roundtrip(struct remus_xd_enc *e, struct remus_xd_dec *d,
		     const struct buf *raw, struct buf *c)
{
	uint8_t *out = NULL;
	size_t cap = 0, olen = 0;

	c->p = NULL;
	ASSERT_EQ(0, remus_xd_encode(e, raw->p, raw->len, &c->p, &cap, &c->len));
	ASSERT_TRUE(remus_xd_is_container(c->p, c->len));
	ASSERT_EQ(1, remus_xd_decode(d, c->p, c->len, REMUS_BLOB_MAX, &out,
				     &olen));
	ASSERT_EQ(raw->len, olen);
	ASSERT_MEM(raw->p, out, olen);
	free(out);
	return 0;
}

/* The encoding of one checkpoint of the session @e is in. */
static void encode(struct remus_xd_enc *e, const struct buf *raw,
		   struct buf *c)
{
	size_t cap = 0;

	c->p = NULL;
	if (remus_xd_encode(e, raw->p, raw->len, &c->p, &cap, &c->len))
		c->len = 0;
}

static size_t lz4_size(const struct buf *b)
{
	struct remus_compressor cz;
	uint8_t *dst = malloc(b->len);
	size_t out = b->len;

	remus_compressor_init(&cz, REMUS_CODEC_LZ4, 0);
	remus_compress(&cz, b->p, b->len, dst, b->len, &out);
	remus_compressor_fini(&cz);
	free(dst);
	return out;
}

static int delta_round_trips_a_session_byte_for_byte(void)
{
	struct remus_xd_enc e;
	struct remus_xd_dec d;
	bool dirty[NPFN];

	guest_init(&G, 1);
	ASSERT_EQ(0, remus_xd_enc_init(&e, 1024));
	remus_xd_dec_init(&d);
	for (unsigned int n = 1; n <= 6; n++) {
		struct buf raw = { 0 }, c;
		size_t lz_raw, lz_c;

		if (n > 1)
			guest_touch(&G, n, dirty);
		ckpt(&raw, &G, n == 1, n == 1 ? NULL : dirty);
		ASSERT_EQ(0, roundtrip(&e, &d, &raw, &c));
		lz_raw = lz4_size(&raw);
		lz_c = lz4_size(&c);
		printf("# checkpoint %u: raw %zu, container %zu (%.1f:1); lz4 alone %zu (%.1f:1), delta + lz4 %zu (%.1f:1)\n",
		       n, raw.len, c.len, (double)raw.len / (double)c.len,
		       lz_raw, (double)raw.len / (double)lz_raw, lz_c,
		       (double)raw.len / (double)lz_c);
		if (n == 1) {
			/* Zero pages cost their segment header only. */
			ASSERT_TRUE(c.len < raw.len);
		} else {
			/* A few words per page: deltas of tens of bytes. */
			ASSERT_TRUE(c.len * 20 < raw.len);
			ASSERT_EQ(e.last.pages, e.last.xor);
		}
		buf_free(&raw);
		buf_free(&c);
	}
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);
	return 0;
}

/*
 * A checkpoint let go as it is (the first, too big for the cache): no
 * container, the decoder takes it as it is, and the next ones still
 * encode in step (sequence 0) and decode byte for byte, the pages the pass
 * carried now raw in their first container.
 */
static int delta_pass_keeps_the_encoder_in_step(void)
{
	struct remus_xd_enc e;
	struct remus_xd_dec d;
	bool dirty[NPFN];
	struct buf raw = { 0 }, c;
	uint8_t *out = NULL;
	size_t olen = 0;

	guest_init(&G, 3);
	ASSERT_EQ(0, remus_xd_enc_init(&e, 1024));
	remus_xd_dec_init(&d);
	ckpt(&raw, &G, true, NULL);
	ASSERT_EQ(0, remus_xd_pass(&e, raw.p, raw.len));
	ASSERT_EQ(0, e.seq);
	ASSERT_EQ(0, remus_xd_decode(&d, raw.p, raw.len, REMUS_BLOB_MAX, &out,
				     &olen));
	buf_free(&raw);
	for (unsigned int n = 2; n <= 4; n++) {
		guest_touch(&G, 0, dirty);	/* the same pages each time */
		ckpt(&raw, &G, false, dirty);
		ASSERT_EQ(0, roundtrip(&e, &d, &raw, &c));
		if (n == 2)	/* nothing cached: no XOR yet */
			ASSERT_EQ(0, e.last.xor);
		else
			ASSERT_EQ(e.last.pages, e.last.xor);
		buf_free(&raw);
		buf_free(&c);
	}
	ASSERT_EQ(3, e.seq);
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);
	return 0;
}

static int delta_evicts_when_pfns_outnumber_slots(void)
{
	struct remus_xd_enc e;
	struct remus_xd_dec d;
	bool dirty[NPFN];
	uint64_t evictions = 0;

	guest_init(&G, 2);
	ASSERT_EQ(0, remus_xd_enc_init(&e, 5));
	remus_xd_dec_init(&d);
	for (unsigned int n = 1; n <= 4; n++) {
		struct buf raw = { 0 }, c;

		if (n > 1)
			guest_touch(&G, n, dirty);
		ckpt(&raw, &G, n == 1, n == 1 ? NULL : dirty);
		ASSERT_EQ(0, roundtrip(&e, &d, &raw, &c));
		evictions += e.last.evictions;
		buf_free(&raw);
		buf_free(&c);
	}
	ASSERT_TRUE(evictions > 0);
	ASSERT_EQ(5, d.mirror.nslots);
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);

	/* No slots at all: raw and zero pages only, still exact. */
	guest_init(&G, 2);
	ASSERT_EQ(0, remus_xd_enc_init(&e, 0));
	remus_xd_dec_init(&d);
	for (unsigned int n = 1; n <= 2; n++) {
		struct buf raw = { 0 }, c;

		if (n > 1)
			guest_touch(&G, n, dirty);
		ckpt(&raw, &G, n == 1, n == 1 ? NULL : dirty);
		ASSERT_EQ(0, roundtrip(&e, &d, &raw, &c));
		ASSERT_EQ(0, e.last.xor);
		buf_free(&raw);
		buf_free(&c);
	}
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);
	return 0;
}

static int delta_passes_through_a_buffer_without_its_magic(void)
{
	struct remus_xd_enc e;
	struct remus_xd_dec d;
	struct buf raw = { 0 }, c;
	uint8_t *out = (uint8_t *)&d;
	size_t olen = 7;

	guest_init(&G, 3);
	ckpt(&raw, &G, true, NULL);
	remus_xd_dec_init(&d);
	ASSERT_EQ(0, remus_xd_decode(&d, raw.p, raw.len, REMUS_BLOB_MAX, &out,
				     &olen));
	ASSERT_TRUE(out == (uint8_t *)&d && olen == 7);	/* untouched */
	ASSERT_EQ(0, remus_xd_decode(&d, raw.p, 3, REMUS_BLOB_MAX, &out, &olen));
	/* And the decoder is still at the start of a session. */
	ASSERT_EQ(0, remus_xd_enc_init(&e, 64));
	ASSERT_EQ(0, roundtrip(&e, &d, &raw, &c));
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);
	buf_free(&raw);
	buf_free(&c);
	return 0;
}

/* The magic as the start of a stream, or of a later checkpoint. */
static int delta_magic_never_begins_a_raw_checkpoint(void)
{
	struct remus_xs_walk w;
	struct buf s = { 0 };
	uint8_t hdr[XL_HDR_LEN] = { 0 };

	/* Where xl's header would be (the walker reads all of it first). */
	memcpy(hdr, REMUS_XD_MAGIC, REMUS_XD_MAGIC_LEN);
	remus_xs_walk_init(&w, 1);
	ASSERT_EQ(-1, remus_xs_walk_feed(&w, hdr, sizeof(hdr)));
	/* Where a libxc record header would be. */
	stream_headers(&s);
	rec(&s, LIBXC_REC_CHECKPOINT, NULL, 0);
	rec(&s, LIBXL_REC_CHECKPOINT_END, NULL, 0);
	remus_xs_walk_init(&w, 1);
	ASSERT_EQ(0, remus_xs_walk_feed(&w, s.p, s.len));
	ASSERT_EQ(1, w.checkpoints);
	ASSERT_EQ(-1, remus_xs_walk_feed(&w, (const uint8_t *)REMUS_XD_MAGIC,
					 REMUS_XD_MAGIC_LEN));
	buf_free(&s);
	return 0;
}

/* Checkpoints 1 and 2 of a session, encoded. */
static void two_containers(struct buf *c1, struct buf *c2, struct buf *r2)
{
	struct remus_xd_enc e;
	struct buf r1 = { 0 };
	bool dirty[NPFN];

	guest_init(&G, 4);
	remus_xd_enc_init(&e, 64);
	ckpt(&r1, &G, true, NULL);
	encode(&e, &r1, c1);
	guest_touch(&G, 2, dirty);
	r2->p = NULL;
	r2->len = 0;
	ckpt(r2, &G, false, dirty);
	encode(&e, r2, c2);
	remus_xd_enc_fini(&e);
	buf_free(&r1);
}

static void free_three(struct buf *a, struct buf *b, struct buf *c)
{
	buf_free(a);
	buf_free(b);
	buf_free(c);
}

static int decode_one(struct remus_xd_dec *d, const uint8_t *p, size_t len,
		      size_t max)
{
	uint8_t *out = NULL;
	size_t olen;
	int ret = remus_xd_decode(d, p, len, max, &out, &olen);

	free(out);
	return ret;
}

static int delta_refuses_a_truncated_container(void)
{
	struct buf c1, c2, r2;
	struct remus_xd_dec d;

	two_containers(&c1, &c2, &r2);
	/* Checkpoint 1 is mostly raw pages: every length near its ends and
	 * the segment boundaries, a stride through the pages between. */
	for (size_t n = REMUS_XD_MAGIC_LEN; n < c1.len;
	     n += n < 4096 || n > c1.len - 4096 ? 1 : 61) {
		remus_xd_dec_init(&d);
		ASSERT_EQ(-EBADMSG, decode_one(&d, c1.p, n, REMUS_BLOB_MAX));
		remus_xd_dec_fini(&d);
	}
	for (size_t n = REMUS_XD_MAGIC_LEN; n < c2.len; n++) {
		remus_xd_dec_init(&d);
		ASSERT_EQ(1, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
		ASSERT_EQ(-EBADMSG, decode_one(&d, c2.p, n, REMUS_BLOB_MAX));
		remus_xd_dec_fini(&d);
	}
	free_three(&c1, &c2, &r2);
	return 0;
}

static int delta_refuses_another_version_page_size_or_slot_count(void)
{
	struct buf c1, c2, r2;
	struct remus_xd_dec d;

	two_containers(&c1, &c2, &r2);
	c1.p[8] = REMUS_XD_VERSION + 1;
	remus_xd_dec_init(&d);
	ASSERT_EQ(-EPROTONOSUPPORT, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	remus_xd_dec_reset(&d);
	c1.p[8] = REMUS_XD_VERSION;
	c1.p[13] = 0x20;			/* 8 KiB pages */
	ASSERT_EQ(-EBADMSG, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	remus_xd_dec_reset(&d);
	c1.p[13] = 0x10;
	c1.p[18] = 0x10;			/* 1 Mi slots: 4 GiB */
	ASSERT_EQ(-EMSGSIZE, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	remus_xd_dec_reset(&d);
	c1.p[18] = 0;
	ASSERT_EQ(1, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	/* The slot count is the session's: another is out of step. */
	c2.p[16]++;
	ASSERT_EQ(-EBADMSG, decode_one(&d, c2.p, c2.len, REMUS_BLOB_MAX));
	remus_xd_dec_fini(&d);
	free_three(&c1, &c2, &r2);
	return 0;
}

static int delta_bounds_its_output(void)
{
	struct buf c1, c2, r2;
	struct remus_xd_dec d;

	two_containers(&c1, &c2, &r2);
	remus_xd_dec_init(&d);
	ASSERT_EQ(1, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	ASSERT_EQ(-EMSGSIZE, decode_one(&d, c2.p, c2.len, r2.len - 1));
	remus_xd_dec_reset(&d);
	ASSERT_EQ(1, decode_one(&d, c1.p, c1.len, REMUS_BLOB_MAX));
	ASSERT_EQ(1, decode_one(&d, c2.p, c2.len, r2.len));
	remus_xd_dec_fini(&d);
	free_three(&c1, &c2, &r2);
	return 0;
}

/* ---- hand-made containers ---- */

static void xd_header(struct buf *b, uint64_t slots, uint64_t seq,
		      uint64_t raw_len)
{
	put(b, REMUS_XD_MAGIC, REMUS_XD_MAGIC_LEN);
	put32le(b, REMUS_XD_VERSION);
	put32le(b, PS);
	put64le(b, slots);
	put64le(b, seq);
	put64le(b, raw_len);
}

/* What a one-page record rebuilds to. */
#define ONE_PAGE_RAW	(8 + 16 + PS)

/* A PAGES segment of one page: record length @rlen (right: 16 + PS). */
static void xd_page(struct buf *b, uint64_t pfn, uint8_t kind,
		    const void *enc, uint32_t len, uint32_t rlen)
{
	uint8_t tag = REMUS_XD_SEG_PAGES;

	put(b, &tag, 1);
	put32le(b, LIBXC_REC_PAGE_DATA);
	put32le(b, rlen);
	put32le(b, 1);
	put32le(b, 0);
	put64le(b, pfn);
	put(b, &kind, 1);
	put32le(b, len);
	if (len)
		put(b, enc, len);
}

static void xd_bytes(struct buf *b, const void *p, uint32_t len)
{
	uint8_t tag = REMUS_XD_SEG_BYTES;

	put(b, &tag, 1);
	put32le(b, len);
	put(b, p, len);
}

static int delta_refuses_xor_against_another_pfn(void)
{
	static uint8_t page[PS];
	/* XOR-RLE: skip 0 words, 1 word changed, its XOR. */
	const uint8_t x[10] = { 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 0 };
	struct remus_xd_dec d;
	struct buf a = { 0 }, b = { 0 }, ok = { 0 }, none = { 0 };
	uint8_t *out;
	size_t olen;

	memset(page, 0xaa, PS);
	xd_header(&a, 4, 0, ONE_PAGE_RAW);
	xd_page(&a, 1, REMUS_PAGE_RAW, page, PS, 16 + PS);
	xd_header(&b, 4, 1, ONE_PAGE_RAW);
	xd_page(&b, 5, REMUS_PAGE_XOR, x, sizeof(x), 16 + PS);	/* slot 1 */
	xd_header(&ok, 4, 1, ONE_PAGE_RAW);
	xd_page(&ok, 1, REMUS_PAGE_XOR, x, sizeof(x), 16 + PS);

	remus_xd_dec_init(&d);
	ASSERT_EQ(1, decode_one(&d, a.p, a.len, REMUS_BLOB_MAX));
	ASSERT_EQ(-EBADMSG, decode_one(&d, b.p, b.len, REMUS_BLOB_MAX));
	/* The control: against its own pfn it applies. */
	remus_xd_dec_reset(&d);
	ASSERT_EQ(1, decode_one(&d, a.p, a.len, REMUS_BLOB_MAX));
	ASSERT_EQ(1, remus_xd_decode(&d, ok.p, ok.len, REMUS_BLOB_MAX, &out,
				     &olen));
	ASSERT_EQ(ONE_PAGE_RAW, olen);
	ASSERT_EQ(0xaa ^ 0xff, out[24]);
	ASSERT_EQ(0xaa, out[25]);
	free(out);
	/* An empty slot, and no slots at all. */
	remus_xd_dec_reset(&d);
	b.p[24] = 0;				/* sequence 0 */
	ASSERT_EQ(-EBADMSG, decode_one(&d, b.p, b.len, REMUS_BLOB_MAX));
	xd_header(&none, 0, 0, ONE_PAGE_RAW);
	xd_page(&none, 1, REMUS_PAGE_XOR, x, sizeof(x), 16 + PS);
	remus_xd_dec_reset(&d);
	ASSERT_EQ(-EBADMSG, decode_one(&d, none.p, none.len, REMUS_BLOB_MAX));
	remus_xd_dec_fini(&d);
	buf_free(&a);
	buf_free(&b);
	buf_free(&ok);
	buf_free(&none);
	return 0;
}

/* Each case: a container of one record that lies (mostly about a length). */
static int delta_refuses_length_overruns(void)
{
	static uint8_t page[PS];
	static const uint8_t bad_tag = 3;
	struct remus_xd_dec d;
	struct buf c = { 0 };
	unsigned int i;

	memset(page, 0x55, PS);
	for (i = 0; i < 12; i++) {
		c.len = 0;
		switch (i) {
		case 0:		/* BYTES longer than the container */
			xd_header(&c, 4, 0, 100);
			xd_bytes(&c, page, 100);
			c.len -= 1;
			break;
		case 1:		/* BYTES longer than the output */
			xd_header(&c, 4, 0, 99);
			xd_bytes(&c, page, 100);
			break;
		case 2:		/* output shorter than the header says */
			xd_header(&c, 4, 0, 101);
			xd_bytes(&c, page, 100);
			break;
		case 3:		/* a page's encoding past the end */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS, 16 + PS);
			c.p[c.len - PS - 4] = 0x11;	/* len 0x1011 */
			break;
		case 4:		/* a raw page of the wrong length */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS - 8, 16 + PS);
			break;
		case 5:		/* a zero page with bytes */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_ZERO, page, 8, 16 + PS);
			break;
		case 6:		/* record length without room for its page */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS, 16);
			break;
		case 7:		/* record length past the output */
			xd_header(&c, 4, 0, ONE_PAGE_RAW - 8);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS, 16 + PS);
			break;
		case 8:		/* entries past the container */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS, 16 + PS);
			memcpy(c.p + REMUS_XD_HDR_LEN + 9, "\xff\xff\xff\x0f", 4);
			break;
		case 9:		/* an unknown segment */
			xd_header(&c, 4, 0, 1);
			put(&c, &bad_tag, 1);
			break;
		case 10:	/* an unknown page kind */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, 7, page, PS, 16 + PS);
			break;
		case 11:	/* PAGES around another record type */
			xd_header(&c, 4, 0, ONE_PAGE_RAW);
			xd_page(&c, 1, REMUS_PAGE_RAW, page, PS, 16 + PS);
			c.p[REMUS_XD_HDR_LEN + 1] = 0x09;
			break;
		}
		remus_xd_dec_init(&d);
		if (decode_one(&d, c.p, c.len, REMUS_BLOB_MAX) != -EBADMSG) {
			printf("# case %u: expected -EBADMSG\n", i);
			return 1;
		}
		remus_xd_dec_fini(&d);
	}
	buf_free(&c);
	return 0;
}

/*
 * A decoder that missed a checkpoint holds copies older than the
 * encoder's: applying XOR deltas to them would give other bytes, and
 * where the slot still holds the same pfn nothing in the page itself
 * tells. The sequence number does: a missed, repeated or reordered
 * checkpoint is refused, and the decoder then refuses everything until a
 * new session. (Not detectable: a mirror corrupted in memory, or an
 * encoder that moved on without a checkpoint being sent and without a
 * reset; the backend resets at every stream.)
 */
static int delta_missed_checkpoint_fails_loudly(void)
{
	struct remus_xd_enc e;
	struct remus_xd_dec d;
	struct buf raw[3] = { 0 }, c[3];
	bool dirty[NPFN];

	guest_init(&G, 5);
	ASSERT_EQ(0, remus_xd_enc_init(&e, 64));
	for (unsigned int n = 0; n < 3; n++) {
		if (n)
			guest_touch(&G, n, dirty);
		ckpt(&raw[n], &G, n == 0, n ? dirty : NULL);
		encode(&e, &raw[n], &c[n]);
		ASSERT_TRUE(c[n].len > 0);
	}
	remus_xd_dec_init(&d);
	ASSERT_EQ(1, decode_one(&d, c[0].p, c[0].len, REMUS_BLOB_MAX));
	ASSERT_EQ(-EBADMSG, decode_one(&d, c[2].p, c[2].len, REMUS_BLOB_MAX));
	/* Broken now: not even the right one. */
	ASSERT_EQ(-EBADMSG, decode_one(&d, c[1].p, c[1].len, REMUS_BLOB_MAX));
	remus_xd_dec_reset(&d);
	ASSERT_EQ(1, decode_one(&d, c[0].p, c[0].len, REMUS_BLOB_MAX));
	ASSERT_EQ(1, decode_one(&d, c[1].p, c[1].len, REMUS_BLOB_MAX));
	ASSERT_EQ(-EBADMSG, decode_one(&d, c[1].p, c[1].len, REMUS_BLOB_MAX));
	/* A new session on both sides starts over. */
	remus_xd_dec_reset(&d);
	remus_xd_enc_reset(&e);
	for (unsigned int n = 0; n < 3; n++) {
		buf_free(&c[n]);
		ASSERT_EQ(0, roundtrip(&e, &d, &raw[n], &c[n]));
		buf_free(&raw[n]);
		buf_free(&c[n]);
	}
	remus_xd_enc_fini(&e);
	remus_xd_dec_fini(&d);
	return 0;
}

static int delta_encoder_refuses_what_is_not_a_stream(void)
{
	struct remus_xd_enc e;
	struct buf s = { 0 }, c = { 0 };
	size_t cap = 0;

	ASSERT_EQ(0, remus_xd_enc_init(&e, 64));
	put(&s, "not a Xen stream, certainly not one with xl's header", 52);
	ASSERT_EQ(-EBADMSG, remus_xd_encode(&e, s.p, s.len, &c.p, &cap,
					    &c.len));
	/* Out of step until reset. */
	ASSERT_EQ(-EBADMSG, remus_xd_encode(&e, s.p, s.len, &c.p, &cap,
					    &c.len));
	remus_xd_enc_fini(&e);
	ASSERT_EQ(-EINVAL, remus_xd_enc_init(&e, REMUS_XD_SLOTS_MAX + 1));
	free(c.p);
	buf_free(&s);
	return 0;
}

static const struct tcase tests[] = {
	TCASE(delta_round_trips_a_session_byte_for_byte),
	TCASE(delta_pass_keeps_the_encoder_in_step),
	TCASE(delta_evicts_when_pfns_outnumber_slots),
	TCASE(delta_passes_through_a_buffer_without_its_magic),
	TCASE(delta_magic_never_begins_a_raw_checkpoint),
	TCASE(delta_refuses_a_truncated_container),
	TCASE(delta_refuses_another_version_page_size_or_slot_count),
	TCASE(delta_bounds_its_output),
	TCASE(delta_refuses_xor_against_another_pfn),
	TCASE(delta_refuses_length_overruns),
	TCASE(delta_missed_checkpoint_fails_loudly),
	TCASE(delta_encoder_refuses_what_is_not_a_stream),
};

int main(void)
{
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
