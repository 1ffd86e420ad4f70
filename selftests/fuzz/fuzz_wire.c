// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the replication link's stream decoder.
 *
 * The first byte picks a mode and a feeding chunk size:
 *   raw, no key     the rest goes to a backup's decoder as it is
 *   raw, keyed      the same against a keyed backup (reaches the MAC)
 *   retag, backup   the rest is read as frames (one control byte, a
 *   retag, primary  48-byte header, a body) that the harness completes
 *                   the way a peer without the key would in the no-key
 *                   mode: the tag is recomputed from the spec (unkeyed
 *                   BLAKE2b-128), and on request the session id, length
 *                   and sequence number are set to what the receiver
 *                   expects. That gets arbitrary bodies past the tag, to
 *                   the body checks, END accounting, batch decompression
 *                   and page delta application.
 * The harness plays the engine: it accepts a HELLO, opens every PAGES or
 * DISK batch and applies its pages to a scratch guest, parses the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire.h"

#define CTL_FIX_LEN	0x01
#define CTL_FIX_SEQ	0x02
#define CTL_FIX_SID	0x04
#define MAX_BODY	REMUS_WIRE_BODY_MIN
#define GUEST_PAGES	64
/* Pages up to this size are applied to the scratch guest; HELLO may ask
 * for 2 MiB pages, which would make every input allocate 128 MiB. */
#define GUEST_PS_MAX	(16u << 10)

static const uint8_t fuzz_key[REMUS_WIRE_KEY_LEN] = { 'f', 'u', 'z', 'z' };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t frame[REMUS_WIRE_OVERHEAD + MAX_BODY];
static uint8_t stream[1 << 17];
static uint8_t scratch_guest[GUEST_PAGES * GUEST_PS_MAX];

static uint8_t *page_of(uint8_t *guest, uint32_t page_size, uint64_t pfn)
{
	/* Geometry pages 0..31 and 1000..1031; page size up to 2 MiB is
	 * allowed by HELLO, so fold into the scratch guest's size. */
	uint64_t i = pfn < 1000 ? pfn : pfn - 1000 + GUEST_PAGES / 2;

	return guest + (i % GUEST_PAGES) * page_size;
}

static void engine(struct remus_wire *w, const struct remus_frame *f,
		   struct remus_batch_reader *rd, bool *rd_ready,
		   struct remus_compressor *cz, bool *apply)
{
	struct remus_batch_item it;
	union {
		struct remus_state st;
		struct remus_end end;
		struct remus_heartbeat hb;
		struct remus_reject rj;
		struct remus_hello_ack ack;
		uint32_t reason;
	} u;

	switch (f->type) {
	case REMUS_REC_HELLO:
		if (w->role == REMUS_WIRE_BACKUP &&
		    remus_wire_accept(w, 0, frame, sizeof(frame)) > 0 &&
		    !*rd_ready && !remus_batch_reader_init(rd, w, cz)) {
			*rd_ready = true;
			*apply = w->hello.page_size <= GUEST_PS_MAX;
		}
		break;
	case REMUS_REC_HELLO_ACK:
		remus_hello_ack_parse(f, &u.ack);
		break;
	case REMUS_REC_PAGES:
	case REMUS_REC_DISK:
		if (!*rd_ready || remus_batch_open(rd, w, f))
			break;
		while (remus_batch_next(rd, &it) == 1) {
			if (f->type == REMUS_REC_PAGES && *apply)
				remus_delta_apply(page_of(scratch_guest,
							  w->hello.page_size,
							  it.where),
						  w->hello.page_size, it.kind,
						  it.data, it.len);
		}
		break;
	case REMUS_REC_STATE:
		remus_state_parse(f, &u.st);
		break;
	case REMUS_REC_END:
		remus_end_parse(f, &u.end);
		break;
	case REMUS_REC_HEARTBEAT:
		remus_heartbeat_parse(f, &u.hb);
		break;
	case REMUS_REC_REJECT:
		remus_reject_parse(f, &u.rj);
		break;
	case REMUS_REC_BYE:
		remus_bye_parse(f, &u.reason);
		break;
	}
}

/* Complete each (control, header, body) triple into a no-key frame. */
static size_t retag(struct remus_wire *w, const uint8_t *in, size_t len,
		    uint8_t *out, size_t cap)
{
	size_t o = 0;
	uint64_t seq = w->rx.seq;
	uint8_t sid[REMUS_WIRE_SID_LEN];
	bool have_sid = w->have_sid;

	/* a backup learns the session from the first frame, the HELLO */
	if (have_sid)
		memcpy(sid, w->sid, sizeof(sid));

	while (len > 1 + REMUS_WIRE_HDR_LEN) {
		uint8_t ctl = in[0];
		const uint8_t *hdr = in + 1;
		uint32_t blen = (uint32_t)hdr[8] | (uint32_t)hdr[9] << 8 |
				(uint32_t)hdr[10] << 16 |
				(uint32_t)hdr[11] << 24;
		size_t avail = len - 1 - REMUS_WIRE_HDR_LEN;
		size_t take = blen < avail ? blen : avail;
		uint8_t *f = out + o;

		if (o + REMUS_WIRE_OVERHEAD + take > cap)
			break;
		memcpy(f, hdr, REMUS_WIRE_HDR_LEN);
		memcpy(f + REMUS_WIRE_HDR_LEN, hdr + REMUS_WIRE_HDR_LEN, take);
		if (ctl & CTL_FIX_LEN) {
			f[8] = (uint8_t)take;
			f[9] = (uint8_t)(take >> 8);
			f[10] = (uint8_t)(take >> 16);
			f[11] = (uint8_t)(take >> 24);
		}
		if (!have_sid) {
			memcpy(sid, f + 16, sizeof(sid));
			have_sid = true;
		} else if (ctl & CTL_FIX_SID) {
			memcpy(f + 16, sid, sizeof(sid));
		}
		if (ctl & CTL_FIX_SEQ) {
			for (int i = 0; i < 8; i++)
				f[32 + i] = (uint8_t)(seq >> (8 * i));
		}
		seq++;
		crypto_generichash(f + REMUS_WIRE_HDR_LEN + take,
				   REMUS_WIRE_TAG_LEN, f,
				   REMUS_WIRE_HDR_LEN + take, NULL, 0);
		o += REMUS_WIRE_OVERHEAD + take;
		in += 1 + REMUS_WIRE_HDR_LEN + take;
		len -= 1 + REMUS_WIRE_HDR_LEN + take;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct remus_wire_cfg cfg = { .max_body = MAX_BODY,
				      .features = REMUS_FEAT_DELTA };
	struct remus_compressor cz;
	struct remus_batch_reader rd;
	struct remus_frame f;
	struct remus_wire w;
	bool rd_ready = false, apply = false;
	const uint8_t *in;
	size_t len, chunk, off = 0;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	chunk = 1 + (data[0] >> 2) * 64;	/* 1 .. 4033 bytes per feed */
	data++;
	size--;

	cfg.role = mode == 3 ? REMUS_WIRE_PRIMARY : REMUS_WIRE_BACKUP;
	cfg.auth = mode == 1 ? REMUS_WIRE_AUTH_MAC : REMUS_WIRE_AUTH_NONE;
	cfg.key = mode == 1 ? fuzz_key : NULL;
	if (remus_wire_init(&w, &cfg))
		abort();
	remus_compressor_init(&cz, REMUS_CODEC_NONE, 0);

	if (mode == 3) {
		/* the primary has sent its HELLO and waits for HELLO_ACK */
		struct remus_hello h = {
			.page_size = 4096, .nr_regions = 2,
			.nr_pages = GUEST_PAGES, .start_epoch = 1,
			.regions = { { 0, GUEST_PAGES / 2 },
				     { 1000, GUEST_PAGES / 2 } },
		};

		if (remus_wire_hello(&w, &h, frame, sizeof(frame)) < 0)
			abort();
	}

	if (mode >= 2) {
		in = stream;
		len = retag(&w, data, size, stream, sizeof(stream));
	} else {
		in = data;
		len = size;
	}

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		int r;

		r = remus_wire_rx_feed(&w, in + off, n, &used, &f);
		if (r < 0)
			break;
		off += used;
		if (r == 1)
			engine(&w, &f, &rd, &rd_ready, &cz, &apply);
	}
	/* an error is sticky: the next call must say the same */
	if (w.err) {
		static const uint8_t one;
		size_t used;

		if (remus_wire_rx_feed(&w, &one, 1, &used, &f) != w.err)
			abort();
	}

	if (rd_ready)
		remus_batch_reader_fini(&rd);
	remus_compressor_fini(&cz);
	remus_wire_fini(&w);
	return 0;
}
