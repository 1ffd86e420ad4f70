/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Synthetic Xen Remus streams for the unit tests (xen/stream.h has the
 * layout): byte buffers, records, and the headers a first checkpoint
 * starts with.
 */
#ifndef TEST_XEN_STREAM_H
#define TEST_XEN_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xen/stream.h"

struct buf {
	uint8_t *p;
	size_t len;
};

static inline void put(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->len + n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void put32le(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static inline void put64le(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static inline void put32be(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

/* One record at either layer: header, body, zero padding to 8. */
static inline void rec(struct buf *b, uint32_t type, const void *body,
		       uint32_t len)
{
	static const uint8_t pad[8];

	put32le(b, type);
	put32le(b, len);
	if (len)
		put(b, body, len);
	if (len % 8)
		put(b, pad, 8 - len % 8);
}

/*
 * What a stream starts with: xl's header and the configuration, the libxl
 * header, LIBXC_CONTEXT, libxc's image and domain headers (x86 HVM, 4 KiB
 * pages).
 */
static inline void stream_headers(struct buf *b)
{
	const char json[] = "{\"c_info\":{\"name\":\"guest\"}}";
	uint8_t hdr[XL_HDR_LEN] = { 0 };
	uint32_t v;

	memcpy(hdr, XL_MAGIC, XL_MAGIC_LEN);
	v = XL_BYTEORDER;
	memcpy(hdr + 32, &v, 4);
	v = XL_MANDATORY_JSON | XL_MANDATORY_STREAMV2;
	memcpy(hdr + 36, &v, 4);
	v = 4 + sizeof(json);
	memcpy(hdr + 44, &v, 4);
	put(b, hdr, sizeof(hdr));
	put32le(b, sizeof(json));
	put(b, json, sizeof(json));
	put32be(b, 0x4c696278);		/* "LibxlFmt" */
	put32be(b, 0x6c466d74);
	put32be(b, LIBXL_STREAM_VERSION);
	put32be(b, 0);
	rec(b, LIBXL_REC_LIBXC_CONTEXT, NULL, 0);
	put32be(b, 0xffffffff);		/* libxc image header */
	put32be(b, 0xffffffff);
	put32be(b, LIBXC_ID);
	put32be(b, LIBXC_VERSION);
	put32be(b, 0);
	put32be(b, 0);
	put32le(b, 2);			/* domain header: x86 HVM */
	put32le(b, 12);
	put32le(b, 4);
	put32le(b, 17);
}

#endif /* TEST_XEN_STREAM_H */
