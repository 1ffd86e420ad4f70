/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Page deltas inside the Xen checkpoint stream (the classic Remus delta).
 *
 * The primary's checkpoint is libxc/libxl stream bytes (xen/stream.h), most
 * of them the 4 KiB pages of libxc PAGE_DATA records. The encoder replaces
 * each page with its encoding against the copy of that page last sent
 * (delta.h: raw, zero, or XOR-RLE against a direct-mapped cache) and
 * leaves every other byte as it is. The backup keeps a MIRROR cache of the
 * same slot count and mapping, holding the content of each page last
 * decoded in that slot, and rebuilds the original bytes exactly before the
 * walker or libxl see them.
 *
 * Container (all integers little-endian):
 *
 *   header (REMUS_XD_HDR_LEN bytes)
 *     0  magic[8]   REMUS_XD_MAGIC
 *     8  u32        version (REMUS_XD_VERSION)
 *    12  u32        page size (4096: libxc's page_shift is checked as 12)
 *    16  u64        cache slots (0..REMUS_XD_SLOTS_MAX)
 *    24  u64        sequence: checkpoints encoded since the cache's reset
 *    32  u64        length of the original bytes
 *   segments, until the container ends:
 *     u8 REMUS_XD_SEG_BYTES, u32 len, len bytes       copied verbatim
 *     u8 REMUS_XD_SEG_PAGES, one PAGE_DATA record:
 *        u32 type, u32 length, u32 count, u32 reserved, count * u64 entry
 *                                                     (copied verbatim)
 *        then per entry whose type carries data, in order:
 *        u8 kind, u32 len, len bytes                  (enum remus_page_kind)
 *
 * A PAGES segment rebuilds a whole record: header, entries, then the pages
 * (its length is 8 + 8 * count + 4096 * data pages, a multiple of 8, so no
 * padding). The pfns come from the entries libxl will read, never from a
 * copy of their own, so a page cannot be filed under another pfn than the
 * one the stream gives it. Records that are not exactly that shape travel
 * as BYTES.
 *
 * The magic's first four bytes, read as a libxc record type, are an
 * unknown mandatory type (the walker refuses those), and are not xl's
 * banner: no raw checkpoint starts with it, so a buffer without it passes
 * through unchanged (a primary that does not encode still works).
 *
 * In step: the encoder resets at every new stream (sequence 0, cache
 * empty) and the decoder at every new session; the decoder takes
 * containers only in sequence, so a missed, repeated or reordered
 * checkpoint is refused (-EBADMSG) rather than applied to the wrong
 * copies. What it cannot see: a mirror whose memory was corrupted behind
 * its back, or an encoder that went out of step without moving the
 * sequence (a checkpoint encoded and then not sent: the engine ends the
 * session then, and so a new stream).
 */
#ifndef REMUS_XEN_PAGEDELTA_H
#define REMUS_XEN_PAGEDELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delta.h"
#include "xen/stream.h"

#define REMUS_XD_MAGIC		"RemusXD\n"
#define REMUS_XD_MAGIC_LEN	8
#define REMUS_XD_VERSION	1
#define REMUS_XD_HDR_LEN	40
#define REMUS_XD_PAGE_SIZE	4096u
#define REMUS_XD_SEG_BYTES	1
#define REMUS_XD_SEG_PAGES	2
/* 1 GiB of cache on either side, at most. */
#define REMUS_XD_SLOTS_MAX	((1u << 30) / REMUS_XD_PAGE_SIZE)

/* libxc PAGE_DATA entries: pfn in the low bits, page type in the top 4. */
#define REMUS_XD_PFN_MASK	0x000fffffffffffffull
#define REMUS_XD_TYPE_SHIFT	60
/* Types without page data in the stream (XEN_DOMCTL_PFINFO_* >> 28). */
#define REMUS_XD_TYPE_BROKEN	0xdu
#define REMUS_XD_TYPE_XALLOC	0xeu
#define REMUS_XD_TYPE_XTAB	0xfu

struct remus_xd_rec {
	size_t off;		/* of the record header in the checkpoint */
	uint32_t len;		/* body length */
};

struct remus_xd_enc {
	struct remus_page_cache cache;
	struct remus_xs_walk walk;	/* the stream so far */
	uint64_t seq;			/* checkpoints encoded since reset */
	uint64_t base;			/* stream offset of this checkpoint */
	struct remus_xd_rec *recs;	/* its PAGE_DATA records */
	size_t nr_recs, cap_recs;
	int err;
	struct remus_delta_stats last;	/* of the last checkpoint */
};

/* @slots 0..REMUS_XD_SLOTS_MAX (0: pages go raw or zero). -EINVAL, -ENOMEM. */
int remus_xd_enc_init(struct remus_xd_enc *e, size_t slots);
void remus_xd_enc_fini(struct remus_xd_enc *e);
/* A new stream, from its xl header on: empty cache, sequence 0. */
void remus_xd_enc_reset(struct remus_xd_enc *e);

/*
 * Encode one checkpoint's stream bytes (@in, @len; every checkpoint of the
 * stream, in order) into *@out (capacity *@cap, grown with realloc as
 * needed; the caller frees it). -EBADMSG when the bytes are not a stream
 * the walker accepts; -ENOMEM. Either leaves the encoder out of step: reset
 * it (a new stream) before encoding again.
 */
int remus_xd_encode(struct remus_xd_enc *e, const uint8_t *in, size_t len,
		    uint8_t **out, size_t *cap, size_t *out_len);
/*
 * Let one checkpoint go as it is, no container (the decoder takes it as it
 * is): walked, so the encoder stays in step with the stream, but the cache
 * and the sequence stay as they were, on both sides. For a checkpoint the
 * cache could not hold anyway (the first, a whole copy of the guest),
 * whose container would double the primary's memory for nothing.
 */
int remus_xd_pass(struct remus_xd_enc *e, const uint8_t *in, size_t len);

struct remus_xd_dec {
	struct remus_page_cache mirror;
	bool ready;		/* mirror set up from a container's header */
	bool broken;		/* a decode failed: refuse until reset */
	uint64_t seq;		/* the sequence the next container must have */
};

void remus_xd_dec_init(struct remus_xd_dec *d);
void remus_xd_dec_fini(struct remus_xd_dec *d);
/* A new session: the mirror goes, the next container must be sequence 0. */
void remus_xd_dec_reset(struct remus_xd_dec *d);

static inline bool remus_xd_is_container(const uint8_t *p, size_t len)
{
	return len >= REMUS_XD_MAGIC_LEN &&
	       !memcmp(p, REMUS_XD_MAGIC, REMUS_XD_MAGIC_LEN);
}

/*
 * Rebuild the original bytes of one container into a new buffer *@out
 * (malloc'd, *@out_len bytes, at most @max). Returns 1 when decoded, 0
 * when @in is not a container (nothing done: use @in as it is), or
 * -EBADMSG for anything inconsistent (out of sequence, a length past its
 * end, an XOR page whose mirror slot holds another pfn, ...),
 * -EPROTONOSUPPORT for another version, -EMSGSIZE for more slots than
 * REMUS_XD_SLOTS_MAX or an output longer than @max, -ENOMEM. After an
 * error the decoder refuses everything until reset.
 */
int remus_xd_decode(struct remus_xd_dec *d, const uint8_t *in, size_t len,
		    size_t max, uint8_t **out, size_t *out_len);

#endif /* REMUS_XEN_PAGEDELTA_H */
