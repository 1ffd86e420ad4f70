// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * XOR + run-length page deltas against a direct-mapped cache of the pages
 * last sent. See delta.h for the format and the rules that keep sender and
 * receiver in step.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"

#define EMPTY_SLOT	UINT64_MAX
#define VARINT_MAX	5

/* memcpy keeps the loads legal at any alignment and compiles to one mov. */
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static bool page_size_ok(size_t ps)
{
	return ps >= REMUS_PAGE_SIZE_MIN && ps <= REMUS_PAGE_SIZE_MAX &&
	       (ps & (ps - 1)) == 0;
}

int remus_page_cache_init(struct remus_page_cache *c, size_t page_size,
			  size_t capacity)
{
	memset(c, 0, sizeof(*c));
	if (!page_size_ok(page_size))
		return -EINVAL;
	c->page_size = page_size;
	if (!capacity)
		return 0;
	if (capacity > SIZE_MAX / page_size)
		return -ENOMEM;
	c->tags = malloc(capacity * sizeof(*c->tags));
	/* Page-aligned slots keep the word loop on whole cache lines. */
	c->data = aligned_alloc(64, capacity * page_size);
	if (!c->tags || !c->data) {
		free(c->tags);
		free(c->data);
		c->tags = NULL;
		c->data = NULL;
		return -ENOMEM;
	}
	c->nslots = capacity;
	remus_page_cache_reset(c);
	return 0;
}

void remus_page_cache_fini(struct remus_page_cache *c)
{
	free(c->tags);
	free(c->data);
	c->tags = NULL;
	c->data = NULL;
	c->nslots = 0;
}

void remus_page_cache_reset(struct remus_page_cache *c)
{
	for (size_t i = 0; i < c->nslots; i++)
		c->tags[i] = EMPTY_SLOT;
}

static size_t varint_put(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t varint_len(uint32_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Returns bytes used, 0 on a truncated or overlong varint. */
static size_t varint_get(const uint8_t *p, size_t avail, uint32_t *v)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < VARINT_MAX && i < avail; i++) {
		acc |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (acc > UINT32_MAX)
				return 0;
			*v = (uint32_t)acc;
			return i + 1;
		}
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 32) {
		if (ld64(p + i) | ld64(p + i + 8) | ld64(p + i + 16) |
		    ld64(p + i + 24))
			return false;
	}
	return true;
}

/*
 * XOR-RLE @new against @old into @out, writing the changed words into @old
 * as it goes so the cache ends up holding @new without a second pass.
 * Returns the length, or -1 when the encoding would exceed @limit; then
 * @old is partly updated and the caller must copy the whole page.
 */
static long xor_encode(uint8_t *old, const uint8_t *new, size_t words,
		       uint8_t *out, size_t limit)
{
	size_t i = 0, o = 0;

	while (i < words) {
		size_t z = i, e;

		/*
		 * Sparse updates spend nearly all their time here: test four
		 * words per branch.
		 */
		while (z + 4 <= words &&
		       !((ld64(old + 8 * z) ^ ld64(new + 8 * z)) |
			 (ld64(old + 8 * z + 8) ^ ld64(new + 8 * z + 8)) |
			 (ld64(old + 8 * z + 16) ^ ld64(new + 8 * z + 16)) |
			 (ld64(old + 8 * z + 24) ^ ld64(new + 8 * z + 24))))
			z += 4;
		while (z < words && ld64(old + 8 * z) == ld64(new + 8 * z))
			z++;
		if (z == words)
			break;
		e = z + 1;
		while (e < words && ld64(old + 8 * e) != ld64(new + 8 * e))
			e++;

		size_t skip = z - i, count = e - z;
		size_t need = varint_len((uint32_t)skip) +
			      varint_len((uint32_t)count) + 8 * count;

		if (o + need > limit)
			return -1;
		o += varint_put(out + o, (uint32_t)skip);
		o += varint_put(out + o, (uint32_t)count);
		for (size_t k = z; k < e; k++) {
			uint64_t n = ld64(new + 8 * k);

			st64(out + o, ld64(old + 8 * k) ^ n);
			st64(old + 8 * k, n);
			o += 8;
		}
		i = e;
	}
	return (long)o;
}

int remus_delta_encode(struct remus_page_cache *c, uint64_t pfn,
		       const void *page, void *out, size_t *len)
{
	size_t ps = c->page_size;
	int kind;

	if (pfn == EMPTY_SLOT)
		return -EINVAL;
	c->stats.pages++;
	c->stats.in_bytes += ps;

	if (c->nslots) {
		size_t slot = pfn % c->nslots;
		uint8_t *cached = c->data + slot * ps;

		if (c->tags[slot] == pfn) {
			long n;

			c->stats.hits++;
			/* A delta must beat raw to be worth the receiver's work. */
			n = xor_encode(cached, page, ps / 8, out, ps - 1);
			if (n >= 0) {
				*len = (size_t)n;
				kind = REMUS_PAGE_XOR;
				c->stats.xor++;
				goto out;
			}
		} else {
			if (c->tags[slot] != EMPTY_SLOT)
				c->stats.evictions++;
			c->tags[slot] = pfn;
		}
		memcpy(cached, page, ps);
	}

	if (all_zero(page, ps)) {
		*len = 0;
		kind = REMUS_PAGE_ZERO;
		c->stats.zero++;
	} else {
		memcpy(out, page, ps);
		*len = ps;
		kind = REMUS_PAGE_RAW;
		c->stats.raw++;
	}
out:
	c->stats.out_bytes += *len;
	return kind;
}

/* Walk an XOR-RLE encoding; patch @page only when @apply is set. */
static int xor_walk(uint8_t *page, size_t words, const uint8_t *enc,
		    size_t len, bool apply)
{
	size_t i = 0, o = 0;

	while (o < len) {
		uint32_t skip, count;
		size_t n;

		n = varint_get(enc + o, len - o, &skip);
		if (!n)
			return -EBADMSG;
		o += n;
		n = varint_get(enc + o, len - o, &count);
		if (!n)
			return -EBADMSG;
		o += n;
		/* words <= 2^18, so these sums cannot wrap. */
		if (!count || skip > words - i || count > words - i - skip)
			return -EBADMSG;
		if (count > (len - o) / 8)
			return -EBADMSG;
		i += skip;
		if (apply) {
			for (uint32_t k = 0; k < count; k++)
				st64(page + 8 * (i + k),
				     ld64(page + 8 * (i + k)) ^
				     ld64(enc + o + 8 * k));
		}
		i += count;
		o += 8 * (size_t)count;
	}
	return 0;
}

int remus_delta_apply(void *page, size_t page_size, unsigned int kind,
		      const void *enc, size_t len)
{
	int err;

	if (!page_size_ok(page_size))
		return -EINVAL;
	switch (kind) {
	case REMUS_PAGE_RAW:
		if (len != page_size)
			return -EBADMSG;
		memcpy(page, enc, page_size);
		return 0;
	case REMUS_PAGE_ZERO:
		if (len)
			return -EBADMSG;
		memset(page, 0, page_size);
		return 0;
	case REMUS_PAGE_XOR:
		if (len >= page_size)
			return -EBADMSG;
		err = xor_walk(page, page_size / 8, enc, len, false);
		if (err)
			return err;
		return xor_walk(page, page_size / 8, enc, len, true);
	default:
		return -EINVAL;
	}
}
