// SPDX-License-Identifier: GPL-2.0
/*
 * Host test of the stream walker (stream.h) on synthetic Remus streams:
 * checkpoint boundaries are found wherever the input is split, and
 * malformed streams are rejected at the right place. TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/stream.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_le32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };

	put(b, x, 4);
}

static void put_be32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

static void rec(struct buf *b, uint32_t type, uint32_t len)
{
	static const uint8_t zero[4096];
	uint32_t padded = (len + 7) & ~7u;

	put_le32(b, type);
	put_le32(b, len);
	while (padded) {
		uint32_t n = padded > sizeof(zero) ? sizeof(zero) : padded;

		put(b, zero, n);
		padded -= n;
	}
}

static void xl_header(struct buf *b, const char *json)
{
	uint32_t n = strlen(json) + 1;

	put(b, XL_MAGIC, XL_MAGIC_LEN);
	put_le32(b, XL_BYTEORDER);
	put_le32(b, XL_MANDATORY_JSON | XL_MANDATORY_STREAMV2);
	put_le32(b, 0);
	put_le32(b, 4 + n);
	put_le32(b, n);
	put(b, json, n);
}

static void libxl_header(struct buf *b)
{
	put_be32(b, LIBXL_IDENT >> 32);
	put_be32(b, (uint32_t)LIBXL_IDENT);
	put_be32(b, LIBXL_STREAM_VERSION);
	put_be32(b, 0);
}

static void libxc_headers(struct buf *b)
{
	uint8_t opts[8] = { 0 };

	put_be32(b, 0xffffffff);
	put_be32(b, 0xffffffff);
	put_be32(b, LIBXC_ID);
	put_be32(b, LIBXC_VERSION);
	put(b, opts, 8);
	put_le32(b, 2);		/* x86 HVM (PVH streams say HVM) */
	put_le32(b, 12);	/* page_shift, reserved */
	put_le32(b, 4);
	put_le32(b, 17);
}

/* A Remus stream of n checkpoints, with the offsets just past each CHECKPOINT_END. */
static void remus_stream(struct buf *b, int with_xl, int n, size_t *ends)
{
	int i;

	if (with_xl)
		xl_header(b, "{\"c_info\": {\"name\": \"guest\"}}");
	libxl_header(b);
	rec(b, LIBXL_REC_LIBXC_CONTEXT, 0);
	libxc_headers(b);
	rec(b, 0x11, 36);			/* X86_CPUID_POLICY */
	rec(b, LIBXC_REC_STATIC_DATA_END, 0);
	for (i = 0; i < n; i++) {
		rec(b, LIBXC_REC_PAGE_DATA, 8 + 8 * 3 + 4096 * 3);
		rec(b, LIBXC_REC_PAGE_DATA, 8 + 8 + 4096);
		rec(b, 0x08, 24);		/* X86_TSC_INFO */
		rec(b, 0x09, 1237);		/* HVM_CONTEXT, unpadded length */
		rec(b, 0x0a, 8 + 16 * 5);	/* HVM_PARAMS */
		rec(b, LIBXC_REC_CHECKPOINT, 0);
		rec(b, LIBXL_REC_CHECKPOINT_END, 0);
		ends[i] = b->len;
	}
}

static int testno, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++testno, what);
	if (!cond)
		failed++;
}

static int walk_in_chunks(const struct buf *b, size_t chunk, int with_xl, struct remus_xs_walk *w,
			  uint64_t *bounds, int max_bounds, int *nb)
{
	size_t off;
	uint64_t seen = 0;

	remus_xs_walk_init(w, with_xl);
	*nb = 0;
	for (off = 0; off < b->len; off += chunk) {
		size_t n = b->len - off < chunk ? b->len - off : chunk;

		if (remus_xs_walk_feed(w, b->p + off, n))
			return -1;
		if (w->checkpoints != seen && *nb < max_bounds)
			bounds[(*nb)++] = w->boundary;
		seen = w->checkpoints;
	}
	return 0;
}

int main(void)
{
	static const size_t chunks[] = { 1, 3, 7, 8, 4096, 65536, 1 << 24 };
	size_t ends[5];
	struct buf b = { 0 };
	struct remus_xs_walk w;
	uint64_t bounds[16];
	char what[128];
	unsigned int i;
	int nb, rc;

	printf("1..%zu\n", 2 * (sizeof(chunks) / sizeof(chunks[0])) + 10);

	remus_stream(&b, 1, 5, ends);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		int j, same = 1;

		rc = walk_in_chunks(&b, chunks[i], 1, &w, bounds, 16, &nb);
		snprintf(what, sizeof(what), "xl stream in %zu-byte reads: no error", chunks[i]);
		ok(rc == 0, what);
		/* With reads that span boundaries only the last one of a read is seen. */
		for (j = 0; j < 5 && chunks[i] <= 8; j++)
			same &= nb == 5 && bounds[j] == ends[j];
		snprintf(what, sizeof(what), "xl stream in %zu-byte reads: 5 checkpoints, last at %zu",
			 chunks[i], ends[4]);
		ok(same && w.checkpoints == 5 && w.boundary == ends[4] &&
		   w.libxc_checkpoints == 5 && w.domain_type == 2 && w.page_records == 10, what);
	}

	/* Cut in the middle of checkpoint 4: the boundary is the end of 3. */
	remus_xs_walk_init(&w, 1);
	rc = remus_xs_walk_feed(&w, b.p, ends[2] + 100);
	ok(rc == 0 && w.checkpoints == 3 && w.boundary == ends[2] && w.offset == ends[2] + 100,
	   "a stream cut inside checkpoint 4 ends on the boundary of checkpoint 3");
	/* 100 bytes into checkpoint 4 is inside its first PAGE_DATA record,
	 * whose header is counted but must not count towards checkpoint 3. */
	/* Per checkpoint: PAGE_DATA of 8+24+3*4096 and 8+8+4096 bytes; records:
	 * libxl LIBXC_CONTEXT + 3 CHECKPOINT_END, libxc CPUID + STATIC_DATA_END
	 * + 3 x (2 PAGE_DATA, TSC, HVM_CONTEXT, HVM_PARAMS, CHECKPOINT). */
	ok(w.page_records == 7 && w.boundary_page_bytes == 3 * (12320 + 4112) &&
	   w.page_bytes == 3 * (12320 + 4112) + 12320 && w.boundary_records == 4 + 2 + 3 * 6 &&
	   w.records[0] + w.records[1] == 4 + 2 + 3 * 6 + 1,
	   "counters at the boundary exclude records of the next checkpoint");

	free(b.p);
	memset(&b, 0, sizeof(b));
	remus_stream(&b, 0, 2, ends);
	remus_xs_walk_init(&w, 0);
	ok(remus_xs_walk_feed(&w, b.p, b.len) == 0 && w.checkpoints == 2 && w.boundary == ends[1],
	   "a libxl-level stream (no xl header) walks");

	/* Corruptions, each must be refused. */
	{
		struct buf c = { 0 };
		size_t at;

		remus_stream(&c, 1, 2, ends);
		c.p[0] ^= 1;
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) < 0 && w.error_offset == XL_HDR_LEN,
		   "bad xl magic is refused");
		c.p[0] ^= 1;

		/* The libxl header follows the xl header and its optional data. */
		at = XL_HDR_LEN + remus_xs_le32(c.p + 44);
		c.p[at + 11] = 1;	/* libxl version 1 */
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) < 0 && strstr(w.error, "version"),
		   "libxl stream version 1 is refused");
		c.p[at + 11] = LIBXL_STREAM_VERSION;

		/* The LIBXC_CONTEXT record gets a body. */
		at += LIBXL_HDR_LEN;
		c.p[at + 4] = 8;
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) < 0 && strstr(w.error, "control record"),
		   "a control record with a body is refused");
		c.p[at + 4] = 0;

		/* An unknown mandatory libxc record after the headers. */
		at += REMUS_XS_REC_HDR_LEN + LIBXC_IHDR_LEN + LIBXC_DHDR_LEN;
		c.p[at] = 0x7f;
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) < 0 && strstr(w.error, "unknown mandatory"),
		   "an unknown mandatory libxc record is refused");
		c.p[at + 3] = 0x80;	/* now optional: skipped */
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) == 0 && w.checkpoints == 2,
		   "an unknown optional libxc record is skipped");
		c.p[at] = 0x11;
		c.p[at + 3] = 0;

		/* An absurd record length. */
		c.p[at + 7] = 0x40;
		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) < 0 && strstr(w.error, "too long"),
		   "a record longer than any libxc writes is refused");
		c.p[at + 7] = 0;

		remus_xs_walk_init(&w, 1);
		ok(remus_xs_walk_feed(&w, c.p, c.len) == 0 && w.checkpoints == 2,
		   "the repaired stream walks again");
		free(c.p);
	}
	free(b.p);
	printf("%d passed, %d failed\n", testno - failed, failed);
	return failed ? 1 : 0;
}
