// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the decoders that take untrusted payloads.
 *
 * The first byte picks one:
 *   0  remus_decompress(): codec from byte 1, announced length from
 *      bytes 2..4 (up to 1 MiB), payload the rest; output must be
 *      exactly that long or an error
 *   1  remus_delta_apply(): kind from byte 1, page size from byte 2
 *      (512 B .. 64 KiB), encoding the rest, on a page whose contents
 *      must be untouched when it is refused
 *   2  remus_batch_open()/next() on the rest as a PAGES body of a no-key
 *      session that negotiated every codec and deltas, each page applied
 *      to a scratch guest
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define GUEST_PAGES	64
#define PS		4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct remus_compressor cz;
static struct remus_wire session;
static struct remus_batch_reader reader;
static uint8_t guest[GUEST_PAGES][PS];
static uint8_t *out;
static size_t out_cap;

/* A backup after the handshake; fuzzing state, built once. */
static void setup(void)
{
	static uint8_t frame[REMUS_WIRE_OVERHEAD + 4096];
	struct remus_wire_cfg pc = { .role = REMUS_WIRE_PRIMARY,
				     .auth = REMUS_WIRE_AUTH_NONE,
				     .features = REMUS_FEAT_DELTA };
	struct remus_wire_cfg bc = pc;
	struct remus_hello h = {
		.page_size = PS, .nr_regions = 1, .nr_pages = GUEST_PAGES,
		.start_epoch = 1, .regions = { { 0, GUEST_PAGES } },
	};
	struct remus_wire p;
	struct remus_frame f;
	size_t used;
	ssize_t n;

	bc.role = REMUS_WIRE_BACKUP;
	if (remus_wire_init(&p, &pc) || remus_wire_init(&session, &bc))
		abort();
	n = remus_wire_hello(&p, &h, frame, sizeof(frame));
	if (n < 0 || remus_wire_rx_feed(&session, frame, (size_t)n, &used,
					&f) != 1)
		abort();
	if (remus_wire_accept(&session, 0, frame, sizeof(frame)) < 0)
		abort();
	remus_wire_fini(&p);
	remus_compressor_init(&cz, REMUS_CODEC_NONE, 0);
	if (remus_batch_reader_init(&reader, &session, &cz))
		abort();
}

static void fuzz_codec(const uint8_t *d, size_t n)
{
	size_t raw_len;

	if (n < 4)
		return;
	raw_len = (size_t)d[1] | (size_t)d[2] << 8 | (size_t)(d[3] & 0x0f) << 16;
	if (raw_len > out_cap) {
		free(out);
		out = malloc(raw_len);
		out_cap = out ? raw_len : 0;
		if (!out)
			return;
	}
	remus_decompress(&cz, d[0] % (REMUS_CODEC_MAX + 2), d + 4, n - 4, out,
			 raw_len);
}

static void fuzz_delta(const uint8_t *d, size_t n)
{
	static uint8_t page[64 << 10], copy[64 << 10];
	size_t ps;

	if (n < 2)
		return;
	ps = (size_t)512 << (d[1] % 8);
	memset(page, 0x5a, ps);
	memcpy(copy, page, ps);
	if (remus_delta_apply(page, ps, d[0] % 4, d + 2, n - 2) < 0 &&
	    memcmp(page, copy, ps))
		abort();	/* refused encodings must leave the page alone */
}

static void fuzz_batch(const uint8_t *d, size_t n)
{
	struct remus_frame f = { .type = REMUS_REC_PAGES, .body = d,
				 .len = (uint32_t)n };
	struct remus_batch_item it;

	if (n > session.max_body || remus_batch_open(&reader, &session, &f))
		return;
	while (remus_batch_next(&reader, &it) == 1) {
		if (it.where >= GUEST_PAGES)
			abort();	/* the body check let a bad pfn by */
		remus_delta_apply(guest[it.where], PS, it.kind, it.data,
				  it.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!session.buf)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_codec(data + 1, size - 1);
		break;
	case 1:
		fuzz_delta(data + 1, size - 1);
		break;
	default:
		fuzz_batch(data + 1, size - 1);
		break;
	}
	return 0;
}
