/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Framing of the stream xl remus / libxl / libxc write for a Remus
 * checkpointed migration (Xen 4.17), and an incremental walker over it.
 *
 * Constants come from the public stream specifications
 * (docs/specs/libxl-migration-stream.pandoc, libxc-migration-stream.pandoc)
 * and xl's save-file header; the C headers that carry them are internal to
 * Xen's tools, so they are spelled out here.
 *
 *   [xl header: magic[32] byteorder flags optflags optlen | optdata]   (optional)
 *   libxl header (16 bytes, big-endian)
 *   libxl records  ... LIBXC_CONTEXT
 *     libxc image header (24, BE) + domain header (16)
 *     libxc records ... CHECKPOINT          -> back to libxl records
 *   libxl records  ... CHECKPOINT_END       -> back to libxc records
 *     libxc records ... CHECKPOINT
 *   libxl records  ... CHECKPOINT_END       ...
 *
 * Every record, at both layers: u32 type, u32 body length (stream byte
 * order, little-endian on x86), body, zero padding to 8 bytes. A Remus
 * stream carries no END: it ends at EOF, which the backup takes as
 * failover to the last *complete* checkpoint, so whoever feeds libxl must
 * cut the stream at a CHECKPOINT_END. That offset is what this walker finds.
 */
#ifndef REMUS_XEN_STREAM_H
#define REMUS_XEN_STREAM_H

#include <stdint.h>
#include <string.h>

#define XL_MAGIC "Xen saved domain, xl format\n \0 \r"
#define XL_MAGIC_LEN 32
#define XL_BYTEORDER 0x01020304u
#define XL_MANDATORY_JSON (1u << 0)
#define XL_MANDATORY_STREAMV2 (1u << 1)
#define XL_HDR_LEN 48

#define LIBXL_IDENT 0x4c6962786c466d74ull	/* "LibxlFmt" */
#define LIBXL_STREAM_VERSION 2
#define LIBXL_HDR_LEN 16
#define LIBXL_REC_END 0
#define LIBXL_REC_LIBXC_CONTEXT 1
#define LIBXL_REC_EMULATOR_XENSTORE_DATA 2
#define LIBXL_REC_EMULATOR_CONTEXT 3
#define LIBXL_REC_CHECKPOINT_END 4
#define LIBXL_REC_CHECKPOINT_STATE 5

#define LIBXC_MARKER 0xffffffffffffffffull
#define LIBXC_ID 0x58454e46u			/* "XENF" */
#define LIBXC_VERSION 3
#define LIBXC_IHDR_LEN 24
#define LIBXC_DHDR_LEN 16
#define LIBXC_REC_END 0x00
#define LIBXC_REC_PAGE_DATA 0x01
#define LIBXC_REC_CHECKPOINT 0x0e
#define LIBXC_REC_STATIC_DATA_END 0x10
#define LIBXC_REC_OPTIONAL (1u << 31)
#define LIBXC_REC_MAX_KNOWN 0x12

#define REMUS_XS_REC_HDR_LEN 8
/* Larger than any record libxc or libxl writes (PAGE_DATA: 1024 pages). */
#define REMUS_XS_REC_MAX (64u << 20)

enum remus_xs_layer { REMUS_XS_LAYER_XL, REMUS_XS_LAYER_LIBXL, REMUS_XS_LAYER_LIBXC };

enum remus_xs_state {
	REMUS_XS_S_XL_HDR,		/* the 48-byte xl header */
	REMUS_XS_S_XL_OPT,		/* its optional data (config) */
	REMUS_XS_S_LIBXL_HDR,
	REMUS_XS_S_LIBXC_IHDR,
	REMUS_XS_S_LIBXC_DHDR,
	REMUS_XS_S_REC_HDR,		/* 8 bytes of type + length, at remus_xs_walk.layer */
	REMUS_XS_S_REC_BODY,		/* body + padding */
	REMUS_XS_S_END,		/* libxl END seen: nothing may follow */
	REMUS_XS_S_ERROR,
};

struct remus_xs_walk;
/* Called once per record when its header is complete (body not read yet). */
typedef void (*remus_xs_record_fn)(struct remus_xs_walk *w, enum remus_xs_layer layer, uint32_t type,
			     uint32_t len, uint64_t offset, void *data);

struct remus_xs_walk {
	enum remus_xs_state state;
	enum remus_xs_layer layer;
	uint8_t hdr[XL_HDR_LEN];
	uint32_t have, need;		/* header bytes buffered / wanted */
	uint64_t body_left;
	uint32_t rec_type, rec_len;
	uint64_t offset;		/* bytes consumed */
	uint64_t rec_offset;		/* offset of the current record */

	uint32_t domain_type;		/* libxc domain header: 1 PV, 2 HVM (PVH too) */
	uint32_t xl_config_len;
	uint64_t checkpoints;		/* CHECKPOINT_END records */
	uint64_t boundary;		/* offset just past the last CHECKPOINT_END */
	uint64_t libxc_checkpoints;	/* libxc CHECKPOINT records */
	uint64_t records[2];		/* per layer */
	uint64_t page_records, page_bytes;
	/* Counters as they stood at the last boundary (a read that spans a
	 * boundary must not move the next checkpoint's records into it). */
	uint64_t boundary_page_bytes, boundary_records;
	const char *error;		/* why REMUS_XS_S_ERROR */
	uint64_t error_offset;

	remus_xs_record_fn on_record;
	void *data;
};

static inline uint32_t remus_xs_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t remus_xs_be64(const uint8_t *p)
{
	return (uint64_t)remus_xs_be32(p) << 32 | remus_xs_be32(p + 4);
}

static inline uint32_t remus_xs_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* with_xl: the stream begins with xl's header (what `xl migrate-receive`
 * reads); without, it begins with the libxl header (what libxl reads). */
static inline void remus_xs_walk_init(struct remus_xs_walk *w, int with_xl)
{
	memset(w, 0, sizeof(*w));
	w->state = with_xl ? REMUS_XS_S_XL_HDR : REMUS_XS_S_LIBXL_HDR;
	w->layer = with_xl ? REMUS_XS_LAYER_XL : REMUS_XS_LAYER_LIBXL;
	w->need = with_xl ? XL_HDR_LEN : LIBXL_HDR_LEN;
}

static inline int remus_xs_walk_fail(struct remus_xs_walk *w, const char *why)
{
	w->state = REMUS_XS_S_ERROR;
	w->error = why;
	w->error_offset = w->offset;
	return -1;
}

static inline void remus_xs_walk_expect(struct remus_xs_walk *w, enum remus_xs_state s, uint32_t need)
{
	w->state = s;
	w->have = 0;
	w->need = need;
}

/* A complete header of the current state is in w->hdr. */
static inline int remus_xs_walk_header(struct remus_xs_walk *w)
{
	const uint8_t *h = w->hdr;

	switch (w->state) {
	case REMUS_XS_S_XL_HDR:
		if (memcmp(h, XL_MAGIC, XL_MAGIC_LEN))
			return remus_xs_walk_fail(w, "bad xl magic");
		if (remus_xs_le32(h + 32) != XL_BYTEORDER)
			return remus_xs_walk_fail(w, "xl header not little-endian");
		if (!(remus_xs_le32(h + 36) & XL_MANDATORY_STREAMV2))
			return remus_xs_walk_fail(w, "xl header: not a v2 stream");
		if (remus_xs_le32(h + 36) & ~(XL_MANDATORY_JSON | XL_MANDATORY_STREAMV2))
			return remus_xs_walk_fail(w, "xl header: unknown mandatory flags");
		w->body_left = remus_xs_le32(h + 44);
		if (w->body_left > REMUS_XS_REC_MAX)
			return remus_xs_walk_fail(w, "xl optional data too long");
		w->state = REMUS_XS_S_XL_OPT;
		w->have = 0;
		w->need = 0;
		if (!w->body_left)
			remus_xs_walk_expect(w, REMUS_XS_S_LIBXL_HDR, LIBXL_HDR_LEN);
		return 0;
	case REMUS_XS_S_LIBXL_HDR:
		if (remus_xs_be64(h) != LIBXL_IDENT)
			return remus_xs_walk_fail(w, "bad libxl ident");
		if (remus_xs_be32(h + 8) != LIBXL_STREAM_VERSION)
			return remus_xs_walk_fail(w, "libxl stream version is not 2");
		if (remus_xs_be32(h + 12) & 3)
			return remus_xs_walk_fail(w, "libxl stream big-endian or legacy");
		w->layer = REMUS_XS_LAYER_LIBXL;
		remus_xs_walk_expect(w, REMUS_XS_S_REC_HDR, REMUS_XS_REC_HDR_LEN);
		return 0;
	case REMUS_XS_S_LIBXC_IHDR:
		if (remus_xs_be64(h) != LIBXC_MARKER || remus_xs_be32(h + 8) != LIBXC_ID)
			return remus_xs_walk_fail(w, "bad libxc image header");
		if (remus_xs_be32(h + 12) != LIBXC_VERSION)
			return remus_xs_walk_fail(w, "libxc stream version is not 3");
		if (h[16] & 1)	/* options bit 0: big-endian */
			return remus_xs_walk_fail(w, "libxc stream big-endian");
		remus_xs_walk_expect(w, REMUS_XS_S_LIBXC_DHDR, LIBXC_DHDR_LEN);
		return 0;
	case REMUS_XS_S_LIBXC_DHDR:
		w->domain_type = remus_xs_le32(h);
		if (w->domain_type != 1 && w->domain_type != 2)
			return remus_xs_walk_fail(w, "libxc domain header: unknown type");
		if ((remus_xs_le32(h + 4) & 0xffff) != 12)
			return remus_xs_walk_fail(w, "libxc domain header: page_shift is not 12");
		w->layer = REMUS_XS_LAYER_LIBXC;
		remus_xs_walk_expect(w, REMUS_XS_S_REC_HDR, REMUS_XS_REC_HDR_LEN);
		return 0;
	case REMUS_XS_S_REC_HDR:
		w->rec_type = remus_xs_le32(h);
		w->rec_len = remus_xs_le32(h + 4);
		w->rec_offset = w->offset - REMUS_XS_REC_HDR_LEN;
		if (w->rec_len > REMUS_XS_REC_MAX)
			return remus_xs_walk_fail(w, "record too long");
		if (w->layer == REMUS_XS_LAYER_LIBXL && w->rec_type > LIBXL_REC_CHECKPOINT_STATE)
			return remus_xs_walk_fail(w, "unknown libxl record");
		if (w->layer == REMUS_XS_LAYER_LIBXC &&
		    (w->rec_type & ~LIBXC_REC_OPTIONAL) > LIBXC_REC_MAX_KNOWN &&
		    !(w->rec_type & LIBXC_REC_OPTIONAL))
			return remus_xs_walk_fail(w, "unknown mandatory libxc record");
		if ((w->layer == REMUS_XS_LAYER_LIBXL &&
		     (w->rec_type == LIBXL_REC_LIBXC_CONTEXT ||
		      w->rec_type == LIBXL_REC_CHECKPOINT_END || w->rec_type == LIBXL_REC_END)) ||
		    (w->layer == REMUS_XS_LAYER_LIBXC &&
		     (w->rec_type == LIBXC_REC_CHECKPOINT || w->rec_type == LIBXC_REC_END))) {
			if (w->rec_len)
				return remus_xs_walk_fail(w, "control record with a body");
		}
		w->records[w->layer == REMUS_XS_LAYER_LIBXC]++;
		if (w->on_record)
			w->on_record(w, w->layer, w->rec_type, w->rec_len, w->rec_offset, w->data);
		if (w->layer == REMUS_XS_LAYER_LIBXC && w->rec_type == LIBXC_REC_PAGE_DATA) {
			w->page_records++;
			w->page_bytes += w->rec_len;
		}
		w->body_left = ((uint64_t)w->rec_len + 7) & ~7ull;
		w->state = REMUS_XS_S_REC_BODY;
		return 0;
	default:
		return remus_xs_walk_fail(w, "walker in a bad state");
	}
}

/* The current record's body has been consumed: switch layers as needed. */
static inline void remus_xs_walk_record_done(struct remus_xs_walk *w)
{
	enum remus_xs_state next = REMUS_XS_S_REC_HDR;
	uint32_t need = REMUS_XS_REC_HDR_LEN;

	if (w->layer == REMUS_XS_LAYER_LIBXL) {
		switch (w->rec_type) {
		case LIBXL_REC_LIBXC_CONTEXT:
			if (w->domain_type) {	/* only one per stream */
				w->layer = REMUS_XS_LAYER_LIBXC;
			} else {
				next = REMUS_XS_S_LIBXC_IHDR;
				need = LIBXC_IHDR_LEN;
			}
			break;
		case LIBXL_REC_CHECKPOINT_END:
			w->checkpoints++;
			w->boundary = w->offset;
			w->boundary_page_bytes = w->page_bytes;
			w->boundary_records = w->records[0] + w->records[1];
			w->layer = REMUS_XS_LAYER_LIBXC;
			break;
		case LIBXL_REC_END:
			next = REMUS_XS_S_END;
			need = 0;
			break;
		}
	} else {
		switch (w->rec_type) {
		case LIBXC_REC_CHECKPOINT:
			w->libxc_checkpoints++;
			w->layer = REMUS_XS_LAYER_LIBXL;
			break;
		case LIBXC_REC_END:
			w->layer = REMUS_XS_LAYER_LIBXL;
			break;
		}
	}
	remus_xs_walk_expect(w, next, need);
}

/*
 * Consume len bytes. Returns 0, or -1 with w->error set (the stream is not
 * what it should be; nothing after that is trusted).
 */
static inline int remus_xs_walk_feed(struct remus_xs_walk *w, const uint8_t *p, size_t len)
{
	while (len) {
		if (w->state == REMUS_XS_S_ERROR)
			return -1;
		if (w->state == REMUS_XS_S_END)
			return remus_xs_walk_fail(w, "data after the END record");
		if (w->state == REMUS_XS_S_REC_BODY || w->state == REMUS_XS_S_XL_OPT) {
			size_t n = len < w->body_left ? len : (size_t)w->body_left;

			if (w->state == REMUS_XS_S_XL_OPT && w->xl_config_len == 0 && w->have < 4) {
				/* The first u32 of xl's optional data: config length. */
				while (n && w->have < 4) {
					w->hdr[w->have++] = *p++;
					w->offset++;
					w->body_left--;
					len--;
					n--;
				}
				if (w->have == 4)
					w->xl_config_len = remus_xs_le32(w->hdr);
			}
			p += n;
			len -= n;
			w->offset += n;
			w->body_left -= n;
			if (!w->body_left) {
				if (w->state == REMUS_XS_S_XL_OPT)
					remus_xs_walk_expect(w, REMUS_XS_S_LIBXL_HDR, LIBXL_HDR_LEN);
				else
					remus_xs_walk_record_done(w);
			}
			continue;
		}
		while (len && w->have < w->need) {
			w->hdr[w->have++] = *p++;
			w->offset++;
			len--;
		}
		if (w->have == w->need && remus_xs_walk_header(w))
			return -1;
		/* A zero-length body completes at once. */
		if (w->state == REMUS_XS_S_REC_BODY && !w->body_left)
			remus_xs_walk_record_done(w);
	}
	/* A zero-length record at the very end of the input. */
	if (w->state == REMUS_XS_S_REC_BODY && !w->body_left)
		remus_xs_walk_record_done(w);
	return w->state == REMUS_XS_S_ERROR ? -1 : 0;
}

#endif
