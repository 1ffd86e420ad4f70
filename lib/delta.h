// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Page deltas: the Remus scheme.
 *
 * The sender keeps, for a bounded set of pages, a copy of the content it
 * last sent for that page (struct remus_page_cache, direct-mapped by page
 * number). A page that hits the cache goes out as the XOR of the new
 * content against that copy, run-length encoded so unchanged words cost
 * nothing; a page that misses goes out raw (or as "zero" when it is all
 * zeroes) and takes the slot. Either way the slot then holds what was sent.
 *
 * The receiver keeps no cache: it applies an XOR delta to its own newest
 * copy of the page, which is exactly the sender's cached copy as long as
 * the receiver applied, in stream order, every page the sender sent in
 * this session. Hence the rules the protocol relies on:
 *
 *   - every page carries its kind (raw / zero / xor), so the receiver
 *     never guesses what the sender's cache held;
 *   - the sender resets its cache at every new session (HELLO), so the
 *     first copy of every page in a session is raw or zero;
 *   - a page enters the cache only when it is put into a batch that will
 *     be sent; a batch that is dropped ends the session.
 *
 * XOR-RLE encoding of one page of W = page_size / 8 little-endian 64-bit
 * words (x[i] = new[i] ^ old[i]): a sequence of runs
 *
 *     varint skip   words left unchanged (x == 0)
 *     varint count  words that changed, count >= 1
 *     count * 8     bytes: the XOR words themselves
 *
 * until the end of the encoding; words after the last run are unchanged,
 * so an empty encoding means "page unchanged". Varints are LEB128, at most
 * 5 bytes. The encoder emits a delta only when it is shorter than the page;
 * otherwise the page goes raw.
 */
#ifndef REMUS_DELTA_H
#define REMUS_DELTA_H

#include <stddef.h>
#include <stdint.h>

/* Kind of one page's encoding, as carried on the wire (PAGES entries). */
enum remus_page_kind {
	REMUS_PAGE_RAW = 0,	/* page_size bytes of content */
	REMUS_PAGE_ZERO = 1,	/* no bytes: the page is all zeroes */
	REMUS_PAGE_XOR = 2,	/* XOR-RLE against the receiver's copy */
	REMUS_PAGE_KIND_MAX = REMUS_PAGE_XOR,
};

/* Page sizes the codec accepts: powers of two in this range. */
#define REMUS_PAGE_SIZE_MIN	512u
#define REMUS_PAGE_SIZE_MAX	(2u << 20)

struct remus_delta_stats {
	uint64_t pages;		/* pages encoded */
	uint64_t hits;		/* found in the cache */
	uint64_t evictions;	/* took a slot that held another page */
	uint64_t raw, zero, xor;	/* kinds emitted */
	uint64_t in_bytes;	/* page_size * pages */
	uint64_t out_bytes;	/* encoded bytes */
};

struct remus_page_cache {
	size_t page_size;
	size_t nslots;		/* 0: no cache, every page goes raw or zero */
	uint64_t *tags;		/* page number held by each slot, or ~0 */
	uint8_t *data;		/* nslots * page_size */
	struct remus_delta_stats stats;
};

/*
 * Set up a cache of @capacity pages of @page_size bytes (capacity 0 is
 * allowed: no deltas). -EINVAL for a bad page size, -ENOMEM.
 */
int remus_page_cache_init(struct remus_page_cache *c, size_t page_size,
			  size_t capacity);
void remus_page_cache_fini(struct remus_page_cache *c);
/* Forget every page: call at every new session. Keeps the stats. */
void remus_page_cache_reset(struct remus_page_cache *c);

/*
 * Encode page @pfn (content @page, page_size bytes) into @out, which has
 * room for page_size bytes. Returns the kind (enum remus_page_kind) and
 * the encoded length in *@len, and updates the cache to @page's content.
 * -EINVAL for pfn ~0 (reserved as "empty slot").
 */
int remus_delta_encode(struct remus_page_cache *c, uint64_t pfn,
		       const void *page, void *out, size_t *len);

/*
 * Apply one encoded page to the receiver's copy @page (page_size bytes):
 * raw copies, zero clears, xor patches in place. The encoding is checked
 * in full before the page is touched; -EBADMSG for any inconsistency
 * (wrong raw/zero length, run past the page end, truncated run, zero-
 * length run, overlong varint), -EINVAL for a bad kind or page size.
 */
int remus_delta_apply(void *page, size_t page_size, unsigned int kind,
		      const void *enc, size_t len);

#endif /* REMUS_DELTA_H */
