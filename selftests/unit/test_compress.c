// SPDX-License-Identifier: GPL-2.0
/*
 * Page deltas (XOR-RLE against the sender's cache) and batch codecs:
 * round trips, the cache rules sender and receiver rely on, and every
 * decoder rejection.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "compress.h"
#include "delta.h"
#include "test_wire_tap.h"

#define PS 4096

static uint8_t page_a[PS], page_b[PS], enc[PS], image[PS];

static int delta_first_copy_is_raw_then_xor(void)
{
	struct remus_page_cache c;
	unsigned long long s = 1;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 16));
	rnd_fill(&s, page_a, PS);
	ASSERT_EQ(REMUS_PAGE_RAW, remus_delta_encode(&c, 7, page_a, enc, &len));
	ASSERT_EQ(PS, len);
	ASSERT_EQ(0, remus_delta_apply(image, PS, REMUS_PAGE_RAW, enc, len));
	ASSERT_MEM(page_a, image, PS);

	page_a[8] ^= 0x5a;
	page_a[4000] ^= 0x01;
	ASSERT_EQ(REMUS_PAGE_XOR, remus_delta_encode(&c, 7, page_a, enc, &len));
	ASSERT_TRUE(len < 40);
	ASSERT_EQ(0, remus_delta_apply(image, PS, REMUS_PAGE_XOR, enc, len));
	ASSERT_MEM(page_a, image, PS);
	ASSERT_EQ(1, c.stats.hits);
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_unchanged_page_is_empty_xor(void)
{
	struct remus_page_cache c;
	unsigned long long s = 2;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 4));
	rnd_fill(&s, page_a, PS);
	remus_delta_encode(&c, 1, page_a, enc, &len);
	ASSERT_EQ(REMUS_PAGE_XOR, remus_delta_encode(&c, 1, page_a, enc, &len));
	ASSERT_EQ(0, len);
	memcpy(image, page_a, PS);
	ASSERT_EQ(0, remus_delta_apply(image, PS, REMUS_PAGE_XOR, enc, 0));
	ASSERT_MEM(page_a, image, PS);
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_zero_page_is_zero_kind(void)
{
	struct remus_page_cache c;
	size_t len = 99;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 0));
	memset(page_a, 0, PS);
	ASSERT_EQ(REMUS_PAGE_ZERO, remus_delta_encode(&c, 3, page_a, enc, &len));
	ASSERT_EQ(0, len);
	memset(image, 0xff, PS);
	ASSERT_EQ(0, remus_delta_apply(image, PS, REMUS_PAGE_ZERO, enc, 0));
	ASSERT_MEM(page_a, image, PS);
	remus_page_cache_fini(&c);
	return 0;
}

/* Sparse updates are the case the scheme exists for: >= 10:1. */
static int delta_sparse_update_ratio_at_least_10(void)
{
	struct remus_page_cache c;
	unsigned long long s = 3;
	size_t len, in = 0, out = 0;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 64));
	for (int pfn = 0; pfn < 64; pfn++) {
		rnd_fill(&s, page_a, PS);
		remus_delta_encode(&c, pfn, page_a, enc, &len);
	}
	for (int round = 0; round < 4; round++) {
		for (int pfn = 0; pfn < 64; pfn++) {
			uint8_t *slot = c.data + (size_t)pfn * PS;

			memcpy(page_a, slot, PS);
			for (int k = 0; k < 4; k++) {
				uint64_t v = rnd_next(&s);

				memcpy(page_a + (rnd_next(&s) % (PS / 8)) * 8,
				       &v, 8);
			}
			ASSERT_EQ(REMUS_PAGE_XOR,
				  remus_delta_encode(&c, pfn, page_a, enc,
						     &len));
			in += PS;
			out += len;
		}
	}
	printf("# sparse ratio %.1f:1\n", (double)in / (double)out);
	ASSERT_TRUE(in >= 10 * out);
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_dense_change_falls_back_to_raw(void)
{
	struct remus_page_cache c;
	unsigned long long s = 4;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 4));
	rnd_fill(&s, page_a, PS);
	remus_delta_encode(&c, 2, page_a, enc, &len);
	rnd_fill(&s, page_b, PS);
	ASSERT_EQ(REMUS_PAGE_RAW, remus_delta_encode(&c, 2, page_b, enc, &len));
	ASSERT_EQ(PS, len);
	/* The cache must now hold page_b, or the next delta is wrong. */
	page_b[100] ^= 1;
	ASSERT_EQ(REMUS_PAGE_XOR, remus_delta_encode(&c, 2, page_b, enc, &len));
	memcpy(image, page_b, PS);
	image[100] ^= 1;
	ASSERT_EQ(0, remus_delta_apply(image, PS, REMUS_PAGE_XOR, enc, len));
	ASSERT_MEM(page_b, image, PS);
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_conflicting_slot_evicts_to_raw(void)
{
	struct remus_page_cache c;
	unsigned long long s = 5;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 8));
	rnd_fill(&s, page_a, PS);
	remus_delta_encode(&c, 1, page_a, enc, &len);
	/* pfn 9 maps to the same slot as pfn 1 with 8 slots. */
	remus_delta_encode(&c, 9, page_a, enc, &len);
	ASSERT_EQ(1, c.stats.evictions);
	ASSERT_EQ(REMUS_PAGE_RAW, remus_delta_encode(&c, 1, page_a, enc, &len));
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_reset_forgets_every_page(void)
{
	struct remus_page_cache c;
	unsigned long long s = 6;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 8));
	rnd_fill(&s, page_a, PS);
	remus_delta_encode(&c, 1, page_a, enc, &len);
	remus_page_cache_reset(&c);
	ASSERT_EQ(REMUS_PAGE_RAW, remus_delta_encode(&c, 1, page_a, enc, &len));
	remus_page_cache_fini(&c);
	return 0;
}

/* Receiver's image follows the sender through many rounds of random
 * and structured changes, with evictions. */
static int delta_receiver_tracks_sender(void)
{
	enum { NP = 32 };
	static uint8_t mem[NP][PS], img[NP][PS];
	struct remus_page_cache c;
	unsigned long long s = 7;
	size_t len;

	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 13));
	rnd_fill(&s, mem, sizeof(mem));
	memset(img, 0, sizeof(img));
	for (int i = 0; i < NP; i++) {
		int kind = remus_delta_encode(&c, i, mem[i], enc, &len);

		ASSERT_TRUE(kind >= 0);
		ASSERT_EQ(0, remus_delta_apply(img[i], PS, kind, enc, len));
	}
	for (int round = 0; round < 200; round++) {
		/* a random subset per round, so the 13 direct-mapped slots
		 * see both hits and conflicts */
		for (int j = 0; j < NP / 2; j++) {
			int i = (int)(rnd_next(&s) % NP), kind;

			switch (rnd_next(&s) % 4) {
			case 0:	/* a few words */
				for (int k = 0; k < 3; k++)
					mem[i][rnd_next(&s) % PS] ^= 0xff;
				break;
			case 1:	/* a run */
				memset(mem[i] + rnd_next(&s) % (PS - 200),
				       (int)rnd_next(&s), 200);
				break;
			case 2:	/* cleared */
				if (rnd_next(&s) % 4 == 0)
					memset(mem[i], 0, PS);
				break;
			default:
				rnd_fill(&s, mem[i], PS);
			}
			kind = remus_delta_encode(&c, i, mem[i], enc, &len);
			ASSERT_TRUE(kind >= 0);
			ASSERT_EQ(0, remus_delta_apply(img[i], PS, kind, enc,
						       len));
		}
		ASSERT_MEM(mem, img, sizeof(mem));
	}
	ASSERT_TRUE(c.stats.xor > 0 && c.stats.raw > 0 && c.stats.zero > 0);
	remus_page_cache_fini(&c);
	return 0;
}

static int delta_apply_rejects_malformed(void)
{
	static const struct {
		unsigned int kind;
		uint8_t enc[24];
		size_t len;
	} bad[] = {
		{ REMUS_PAGE_XOR, { 0x00, 0x00 }, 2 },		/* count 0 */
		{ REMUS_PAGE_XOR, { 0x00, 0x01, 1, 2, 3 }, 5 },	/* short literal */
		{ REMUS_PAGE_XOR, { 0xff, 0x03, 0x01 }, 3 },	/* skip 511, then 1 word: fits */
		{ REMUS_PAGE_XOR, { 0x80, 0x04, 0x01 }, 11 },	/* skip 512: past end */
		{ REMUS_PAGE_XOR, { 0xff, 0x03, 0x02 }, 19 },	/* 511 + 2 words */
		{ REMUS_PAGE_XOR, { 0x00, 0x80, 0x04 }, 3 + 4096 - 8 },	/* 512 words */
		{ REMUS_PAGE_XOR, { 0x80 }, 1 },		/* truncated varint */
		{ REMUS_PAGE_XOR, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 6 },
		{ REMUS_PAGE_ZERO, { 0 }, 1 },
		{ REMUS_PAGE_RAW, { 0 }, 8 },
	};
	uint8_t *buf = calloc(1, PS + 16);

	ASSERT_TRUE(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int want = -EBADMSG;

		memset(buf, 0, PS + 16);
		memcpy(buf, bad[i].enc, sizeof(bad[i].enc));
		memset(image, 0xa5, PS);
		if (i == 2) {
			/* the valid control: 511 skipped, one literal word */
			memset(buf + 3, 0, 8);
			want = 0;
			ASSERT_EQ(want, remus_delta_apply(image, PS, bad[i].kind,
							  buf, 11));
			continue;
		}
		ASSERT_EQ(want, remus_delta_apply(image, PS, bad[i].kind, buf,
						  bad[i].len));
		/* checked in full before the page is touched */
		for (int k = 0; k < PS; k++)
			ASSERT_EQ(0xa5, image[k]);
	}
	/* an XOR encoding as long as the page is never valid */
	ASSERT_EQ(-EBADMSG, remus_delta_apply(image, PS, REMUS_PAGE_XOR, buf,
					      PS));
	ASSERT_EQ(-EINVAL, remus_delta_apply(image, PS, 9, buf, 0));
	ASSERT_EQ(-EINVAL, remus_delta_apply(image, 3000, REMUS_PAGE_ZERO, buf,
					     0));
	free(buf);
	return 0;
}

static int delta_rejects_bad_geometry(void)
{
	struct remus_page_cache c;
	size_t len;

	ASSERT_EQ(-EINVAL, remus_page_cache_init(&c, 4095, 1));
	ASSERT_EQ(-EINVAL, remus_page_cache_init(&c, 256, 1));
	ASSERT_EQ(-EINVAL, remus_page_cache_init(&c, 4u << 20, 1));
	ASSERT_EQ(0, remus_page_cache_init(&c, PS, 1));
	ASSERT_EQ(-EINVAL, remus_delta_encode(&c, UINT64_MAX, page_a, enc,
					      &len));
	remus_page_cache_fini(&c);
	return 0;
}

/* ---- batch codecs ---- */

static void fill_text(uint8_t *p, size_t len)
{
	static const char words[] = "checkpoint epoch barrier release ack ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)words[i % (sizeof(words) - 1)];
}

static int codec_round_trip(enum remus_codec codec)
{
	static const size_t sizes[] = { 0, 1, 100, 4096, 65536, 1 << 20 };
	struct remus_compressor c;
	unsigned long long s = 11;
	size_t max = 1 << 20, out;
	uint8_t *src = malloc(max), *dst = malloc(max), *back = malloc(max);

	ASSERT_TRUE(src && dst && back);
	ASSERT_EQ(0, remus_compressor_init(&c, codec, 0));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (int kind = 0; kind < 3; kind++) {
			size_t n = sizes[k];
			int used;

			if (kind == 0)
				memset(src, 0, n);
			else if (kind == 1)
				fill_text(src, n);
			else
				rnd_fill(&s, src, n);
			used = remus_compress(&c, src, n, dst, max, &out);
			ASSERT_TRUE(used == (int)codec ||
				    used == REMUS_CODEC_NONE);
			if (used != REMUS_CODEC_NONE)
				ASSERT_TRUE(out < n);
			/* compressible input must actually shrink */
			if (kind < 2 && n >= 4096)
				ASSERT_EQ(codec, used);
			memset(back, 0xee, n);
			ASSERT_EQ(0, remus_decompress(&c, used, dst, out, back,
						      n));
			ASSERT_MEM(src, back, n);
		}
	}
	ASSERT_TRUE(c.tx.calls == 18 && c.rx.calls == 18);
	remus_compressor_fini(&c);
	free(src);
	free(dst);
	free(back);
	return 0;
}

static int codec_none_round_trip(void) { return codec_round_trip(REMUS_CODEC_NONE); }
static int codec_zlib_round_trip(void) { return codec_round_trip(REMUS_CODEC_ZLIB); }
static int codec_lz4_round_trip(void) { return codec_round_trip(REMUS_CODEC_LZ4); }
static int codec_zstd_round_trip(void) { return codec_round_trip(REMUS_CODEC_ZSTD); }

static int codec_random_input_falls_back_to_none(void)
{
	struct remus_compressor c;
	unsigned long long s = 12;
	size_t out;
	static uint8_t src[8192], dst[8192];

	rnd_fill(&s, src, sizeof(src));
	for (int codec = REMUS_CODEC_ZLIB; codec <= REMUS_CODEC_MAX; codec++) {
		ASSERT_EQ(0, remus_compressor_init(&c, codec, 0));
		ASSERT_EQ(REMUS_CODEC_NONE,
			  remus_compress(&c, src, sizeof(src), dst, sizeof(dst),
					 &out));
		ASSERT_EQ(sizeof(src), out);
		ASSERT_EQ(1, c.tx.fallbacks);
		remus_compressor_fini(&c);
	}
	/* the fallback must always fit */
	ASSERT_EQ(0, remus_compressor_init(&c, REMUS_CODEC_ZLIB, 0));
	ASSERT_EQ(-ENOSPC, remus_compress(&c, src, sizeof(src), dst, 100, &out));
	remus_compressor_fini(&c);
	return 0;
}

/* Truncated, padded, wrong-length and corrupted payloads, per codec. */
static int codec_decoders_reject_malformed(void)
{
	struct remus_compressor c;
	static uint8_t src[65536], dst[65536], back[65536 + 64];
	size_t out;

	fill_text(src, sizeof(src));
	for (int codec = REMUS_CODEC_ZLIB; codec <= REMUS_CODEC_MAX; codec++) {
		ASSERT_EQ(0, remus_compressor_init(&c, codec, 0));
		ASSERT_EQ(codec, remus_compress(&c, src, sizeof(src), dst,
						sizeof(dst), &out));
		printf("# %s: %zu -> %zu\n", remus_codec_name(codec),
		       sizeof(src), out);
		ASSERT_EQ(0, remus_decompress(&c, codec, dst, out, back,
					      sizeof(src)));
		/* truncated input */
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, out - 1,
						     back, sizeof(src)));
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, 0, back,
						     sizeof(src)));
		/* trailing junk */
		dst[out] = 0;
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, out + 1,
						     back, sizeof(src)));
		/* announced length too small, too large */
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, out, back,
						     sizeof(src) - 1));
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, out, back,
						     sizeof(src) + 1));
		/* garbage */
		memset(dst, 0xff, 64);
		ASSERT_EQ(-EBADMSG, remus_decompress(&c, codec, dst, 64, back,
						     sizeof(src)));
		remus_compressor_fini(&c);
	}
	ASSERT_EQ(0, remus_compressor_init(&c, REMUS_CODEC_NONE, 0));
	ASSERT_EQ(-EBADMSG, remus_decompress(&c, REMUS_CODEC_NONE, src, 10,
					     back, 11));
	ASSERT_EQ(-EINVAL, remus_decompress(&c, 7, src, 10, back, 10));
	remus_compressor_fini(&c);
	return 0;
}

static int codec_zlib_detects_flipped_byte(void)
{
	struct remus_compressor c;
	static uint8_t src[16384], dst[16384], back[16384];
	size_t out;

	fill_text(src, sizeof(src));
	src[5000] = 'X';
	ASSERT_EQ(0, remus_compressor_init(&c, REMUS_CODEC_ZLIB, 0));
	ASSERT_EQ(REMUS_CODEC_ZLIB, remus_compress(&c, src, sizeof(src), dst,
						   sizeof(dst), &out));
	dst[out - 2] ^= 0x10;	/* inside the adler32 trailer */
	ASSERT_EQ(-EBADMSG, remus_decompress(&c, REMUS_CODEC_ZLIB, dst, out,
					     back, sizeof(src)));
	remus_compressor_fini(&c);
	return 0;
}

static int codec_names_and_stats(void)
{
	struct remus_compressor c;
	struct remus_codec_stats tx, rx;
	static uint8_t src[4096], dst[4096], back[4096];
	size_t out;

	ASSERT_EQ(REMUS_CODEC_ZSTD, remus_codec_parse("zstd"));
	ASSERT_EQ(-EINVAL, remus_codec_parse("gzip"));
	ASSERT_TRUE(!strcmp("lz4", remus_codec_name(REMUS_CODEC_LZ4)));
	ASSERT_TRUE(remus_codec_name(9) == NULL);
	ASSERT_EQ(-EINVAL, remus_compressor_init(&c, 9, 0));

	ASSERT_EQ(0, remus_compressor_init(&c, REMUS_CODEC_LZ4, 0));
	remus_compress(&c, src, sizeof(src), dst, sizeof(dst), &out);
	remus_decompress(&c, REMUS_CODEC_LZ4, dst, out, back, sizeof(back));
	remus_compress_stats_take(&c, &tx, &rx);
	ASSERT_EQ(1, tx.calls);
	ASSERT_EQ(sizeof(src), tx.in_bytes);
	ASSERT_EQ(out, tx.out_bytes);
	ASSERT_EQ(out, rx.in_bytes);
	ASSERT_EQ(sizeof(back), rx.out_bytes);
	remus_compress_stats_take(&c, &tx, &rx);
	ASSERT_EQ(0, tx.calls + rx.calls + tx.in_bytes + rx.out_bytes);
	remus_compressor_fini(&c);
	return 0;
}

static const struct tcase tests[] = {
	TCASE(delta_first_copy_is_raw_then_xor),
	TCASE(delta_unchanged_page_is_empty_xor),
	TCASE(delta_zero_page_is_zero_kind),
	TCASE(delta_sparse_update_ratio_at_least_10),
	TCASE(delta_dense_change_falls_back_to_raw),
	TCASE(delta_conflicting_slot_evicts_to_raw),
	TCASE(delta_reset_forgets_every_page),
	TCASE(delta_receiver_tracks_sender),
	TCASE(delta_apply_rejects_malformed),
	TCASE(delta_rejects_bad_geometry),
	TCASE(codec_none_round_trip),
	TCASE(codec_zlib_round_trip),
	TCASE(codec_lz4_round_trip),
	TCASE(codec_zstd_round_trip),
	TCASE(codec_random_input_falls_back_to_none),
	TCASE(codec_decoders_reject_malformed),
	TCASE(codec_zlib_detects_flipped_byte),
	TCASE(codec_names_and_stats),
};

int main(void)
{
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
