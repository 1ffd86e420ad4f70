// SPDX-License-Identifier: GPL-2.0
/*
 * gen_corpus DIR: write seed inputs for the fuzz targets, made with the
 * library itself so they start the fuzzers on valid sessions, batches and
 * payloads: DIR/wire/ for fuzz_wire, DIR/decompress/ for fuzz_decompress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wire.h"

#define PS		4096
#define GUEST_PAGES	64

static const uint8_t fuzz_key[REMUS_WIRE_KEY_LEN] = { 'f', 'u', 'z', 'z' };
static uint8_t frame[REMUS_WIRE_OVERHEAD + REMUS_WIRE_BODY_MIN];
static uint8_t out[1 << 20];
static size_t out_len;
static const char *dir;

static void die(const char *what, int err)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void put(const void *p, size_t n)
{
	if (out_len + n > sizeof(out))
		die("seed too large", -ENOSPC);
	memcpy(out + out_len, p, n);
	out_len += n;
}

static void save(const char *sub, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f))
		die(path, -errno);
	out_len = 0;
}

/* Append a frame: whole for raw seeds, as control + untagged frame for
 * retag seeds. */
static void emit(ssize_t n, bool retag)
{
	static const uint8_t ctl = 0x07;

	if (n < 0)
		die("frame", (int)n);
	if (retag) {
		put(&ctl, 1);
		put(frame, (size_t)n - REMUS_WIRE_TAG_LEN);
	} else {
		put(frame, (size_t)n);
	}
}

static void session_seed(const char *name, uint8_t mode, bool backup_side,
			 int codec)
{
	struct remus_wire_cfg pc = { .role = REMUS_WIRE_PRIMARY,
				     .max_body = REMUS_WIRE_BODY_MIN,
				     .features = REMUS_FEAT_DELTA };
	struct remus_hello h = {
		.page_size = PS, .nr_regions = 2, .nr_pages = GUEST_PAGES,
		.start_epoch = 1,
		.regions = { { 0, GUEST_PAGES / 2 }, { 1000, GUEST_PAGES / 2 } },
	};
	static uint8_t pages[8][PS];
	struct remus_page_cache cache;
	struct remus_compressor cz;
	struct remus_wire p, b;
	struct remus_batch batch;
	struct remus_frame f;
	struct remus_heartbeat hb = { 1000, 0 };
	bool keyed = (mode & 3) == 1, retag = (mode & 3) >= 2;
	size_t used;
	ssize_t n;
	int err;

	pc.auth = keyed ? REMUS_WIRE_AUTH_MAC : REMUS_WIRE_AUTH_NONE;
	pc.key = keyed ? fuzz_key : NULL;
	struct remus_wire_cfg bc = pc;

	bc.role = REMUS_WIRE_BACKUP;
	if ((err = remus_wire_init(&p, &pc)) || (err = remus_wire_init(&b, &bc)))
		die("init", err);
	remus_page_cache_init(&cache, PS, 16);
	remus_compressor_init(&cz, codec, 0);

	put(&mode, 1);
	n = remus_wire_hello(&p, &h, frame, sizeof(frame));
	if (!backup_side)
		emit(n, retag);
	remus_wire_rx_feed(&b, frame, (size_t)n, &used, &f);
	n = remus_wire_accept(&b, 0, frame, sizeof(frame));
	if (backup_side)
		emit(n, retag);
	remus_wire_rx_feed(&p, frame, (size_t)n, &used, &f);

	if (!backup_side) {
		for (uint64_t e = 1; e <= 2; e++) {
			if ((err = remus_batch_init(&batch, &p, REMUS_REC_PAGES,
						    &cache, &cz)))
				die("batch", err);
			for (int i = 0; i < 8; i++) {
				memset(pages[i], i == 3 ? 0 : 'a' + i, PS);
				pages[i][e * 8] ^= 1;
				remus_batch_add_page(&batch, &p, i < 4 ? i : 1000 + i,
						     pages[i]);
			}
			emit(remus_batch_seal(&p, &batch, e, frame, sizeof(frame)),
			     retag);
			remus_batch_fini(&batch);

			remus_batch_init(&batch, &p, REMUS_REC_DISK, NULL, &cz);
			remus_batch_add_disk(&batch, 8 * e, pages[0], 1024);
			emit(remus_batch_seal(&p, &batch, e, frame, sizeof(frame)),
			     retag);
			remus_batch_fini(&batch);

			remus_state_hdr(frame + REMUS_WIRE_HDR_LEN, 1, 0, 16);
			memset(frame + REMUS_WIRE_HDR_LEN + REMUS_STATE_HDR_LEN,
			       'r', 16);
			emit(remus_wire_seal(&p, REMUS_REC_STATE, e, frame,
					     REMUS_STATE_HDR_LEN + 16,
					     sizeof(frame)), retag);
			emit(remus_wire_end(&p, e, frame, sizeof(frame)), retag);
		}
		remus_heartbeat_put(frame + REMUS_WIRE_HDR_LEN, &hb);
		emit(remus_wire_seal(&p, REMUS_REC_HEARTBEAT, 2, frame,
				     REMUS_HEARTBEAT_LEN, sizeof(frame)), retag);
		remus_bye_put(frame + REMUS_WIRE_HDR_LEN, 0);
		emit(remus_wire_seal(&p, REMUS_REC_BYE, 2, frame,
				     REMUS_BYE_LEN, sizeof(frame)), retag);
	} else {
		emit(remus_wire_seal(&b, REMUS_REC_ACK, 1, frame, 0,
				     sizeof(frame)), retag);
		remus_heartbeat_put(frame + REMUS_WIRE_HDR_LEN, &hb);
		emit(remus_wire_seal(&b, REMUS_REC_HEARTBEAT, 1, frame,
				     REMUS_HEARTBEAT_LEN, sizeof(frame)), retag);
		emit(remus_wire_send_body(&b, 0xc1, 0, "ctl", 3, frame,
					  sizeof(frame)), retag);
		remus_bye_put(frame + REMUS_WIRE_HDR_LEN, 0);
		emit(remus_wire_seal(&b, REMUS_REC_BYE, 1, frame,
				     REMUS_BYE_LEN, sizeof(frame)), retag);
	}
	save("wire", name);
	remus_compressor_fini(&cz);
	remus_page_cache_fini(&cache);
	remus_wire_fini(&p);
	remus_wire_fini(&b);
}

static void decompress_seeds(void)
{
	static uint8_t src[8192], dst[8192], enc[PS];
	struct remus_page_cache c;
	struct remus_compressor cz;
	char name[64];
	size_t n;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)"remus page payload "[i % 19];
	for (int codec = 0; codec <= REMUS_CODEC_MAX; codec++) {
		uint8_t hdr[5] = { 0, (uint8_t)codec, (uint8_t)sizeof(src),
				   (uint8_t)(sizeof(src) >> 8), 0 };

		remus_compressor_init(&cz, codec, 0);
		if (remus_compress(&cz, src, sizeof(src), dst, sizeof(dst),
				   &n) != codec)
			die("compress", -EIO);
		put(hdr, sizeof(hdr));
		put(dst, n);
		snprintf(name, sizeof(name), "codec-%s", remus_codec_name(codec));
		save("decompress", name);
		remus_compressor_fini(&cz);
	}

	remus_page_cache_init(&c, PS, 4);
	remus_delta_encode(&c, 1, src, enc, &n);
	src[100] ^= 0xff;
	src[2000] ^= 0x01;
	{
		int kind = remus_delta_encode(&c, 1, src, enc, &n);
		uint8_t hdr[3] = { 1, (uint8_t)kind, 3 };	/* 512 << 3 */

		put(hdr, sizeof(hdr));
		put(enc, n);
		save("decompress", "delta-xor");
	}
	remus_page_cache_fini(&c);
}

/* A PAGES body as fuzz_decompress's session expects (one region). */
static void batch_seed(void)
{
	struct remus_wire_cfg pc = { .role = REMUS_WIRE_PRIMARY,
				     .auth = REMUS_WIRE_AUTH_NONE,
				     .features = REMUS_FEAT_DELTA };
	struct remus_wire_cfg bc = pc;
	struct remus_hello h = {
		.page_size = PS, .nr_regions = 1, .nr_pages = GUEST_PAGES,
		.start_epoch = 1, .regions = { { 0, GUEST_PAGES } },
	};
	static uint8_t page[PS];
	struct remus_page_cache cache;
	struct remus_compressor cz;
	struct remus_batch batch;
	struct remus_wire p, b;
	struct remus_frame f;
	size_t used;
	ssize_t n;

	bc.role = REMUS_WIRE_BACKUP;
	remus_wire_init(&p, &pc);
	remus_wire_init(&b, &bc);
	n = remus_wire_hello(&p, &h, frame, sizeof(frame));
	remus_wire_rx_feed(&b, frame, (size_t)n, &used, &f);
	n = remus_wire_accept(&b, 0, frame, sizeof(frame));
	remus_wire_rx_feed(&p, frame, (size_t)n, &used, &f);
	remus_page_cache_init(&cache, PS, 8);
	for (int codec = 0; codec <= REMUS_CODEC_MAX; codec++) {
		static const uint8_t sel = 2;
		char name[64];

		remus_compressor_init(&cz, codec, 0);
		remus_batch_init(&batch, &p, REMUS_REC_PAGES, &cache, &cz);
		for (int i = 0; i < 4; i++) {
			memset(page, 'p' + i, PS);
			page[codec * 8] ^= 1;
			remus_batch_add_page(&batch, &p, (uint64_t)i, page);
		}
		n = remus_batch_seal(&p, &batch, (uint64_t)codec + 1, frame,
				     sizeof(frame));
		if (n < 0)
			die("batch seal", (int)n);
		put(&sel, 1);
		put(frame + REMUS_WIRE_HDR_LEN, (size_t)n - REMUS_WIRE_OVERHEAD);
		snprintf(name, sizeof(name), "batch-%s", remus_codec_name(codec));
		save("decompress", name);
		remus_batch_fini(&batch);
		remus_compressor_fini(&cz);
		remus_wire_end(&p, (uint64_t)codec + 1, frame, sizeof(frame));
	}
	remus_page_cache_fini(&cache);
	remus_wire_fini(&p);
	remus_wire_fini(&b);
}

/* Control-socket requests, good and bad. */
static void ctl_seeds(void)
{
	static const char *const seeds[] = {
		"status\n", "status json\n", "stop\n", "ping\n",
		"status json json\n", "stat", "ping extra\n", "\n",
	};
	char path[512], name[16];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/ctl", dir);
	mkdir(path, 0755);
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		put(seeds[i], strlen(seeds[i]));
		snprintf(name, sizeof(name), "req%u", i);
		save("ctl", name);
	}
}

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	dir = argv[1];
	snprintf(path, sizeof(path), "%s/wire", dir);
	mkdir(dir, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/decompress", dir);
	mkdir(path, 0755);

	/* chunk bits (byte 0 >> 2) vary the feeding */
	session_seed("raw-nokey", 0x00, false, REMUS_CODEC_ZLIB);
	session_seed("raw-nokey-bytewise", 0x00, false, REMUS_CODEC_LZ4);
	session_seed("raw-keyed", 0x01 | 0x40, false, REMUS_CODEC_ZSTD);
	session_seed("retag-backup", 0x02 | 0x80, false, REMUS_CODEC_ZLIB);
	session_seed("retag-backup-zstd", 0x02, false, REMUS_CODEC_ZSTD);
	session_seed("retag-primary", 0x03 | 0x10, true, REMUS_CODEC_NONE);
	decompress_seeds();
	batch_seed();
	ctl_seeds();
	return 0;
}
