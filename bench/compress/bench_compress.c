// SPDX-License-Identifier: GPL-2.0
/*
 * bench_compress [-p PAGES] [-w WORDS] [-t SECONDS] [-b BATCH]:
 * throughput and ratio of each checkpoint compression scheme on one core,
 * on sparse updates (WORDS random 8-byte words rewritten per page since
 * the last checkpoint) and on random pages (every byte rewritten).
 * Prints a markdown table.
 *
 * MB/s is guest memory (page bytes) per second of CPU time through the sender's
 * encode (delta + codec) or the receiver's decode (decompress + apply);
 * ratio is page bytes over encoded bytes. Frame overhead (entries,
 * headers, tags) is measured separately, with the framing table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

#define PS 4096

static size_t npages = 16384;	/* 64 MiB working set */
static int words = 4;
static double min_secs = 1.0;
static size_t batch_pages = 256;	/* 1 MiB of guest memory per batch */

static uint8_t *mem;		/* the guest */
static uint8_t *img;		/* the backup's copy */
static uint8_t *enc;		/* one batch's page encodings */
static uint8_t *zbuf;		/* one batch compressed */
static uint32_t *lens;
static uint8_t *kinds;
static unsigned long long seed = 0x9e3779b97f4a7c15ull;

static unsigned long long rnd(void)
{
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return seed * 2685821657736338717ull;
}

/* CPU time of this thread: the figures are per core even on a machine
 * that other work shares. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void dirty(bool random_pages)
{
	for (size_t i = 0; i < npages; i++) {
		uint8_t *p = mem + i * PS;

		if (random_pages) {
			for (size_t k = 0; k < PS; k += 8) {
				unsigned long long v = rnd();

				memcpy(p + k, &v, 8);
			}
			continue;
		}
		for (int k = 0; k < words; k++) {
			unsigned long long v = rnd();

			memcpy(p + (rnd() % (PS / 8)) * 8, &v, 8);
		}
	}
}

struct result {
	double enc_mbs, dec_mbs, ratio;
};

/*
 * One checkpoint of every page, in batches: delta-encode (or copy) each
 * page, compress the batch; then the receiver's side. Returns the bytes
 * put on the wire (payload only) and adds the times.
 */
static size_t checkpoint(struct remus_page_cache *cache,
			 struct remus_compressor *cz, double *t_enc,
			 double *t_dec, bool verify)
{
	size_t wire = 0;

	for (size_t b0 = 0; b0 < npages; b0 += batch_pages) {
		size_t nb = npages - b0 < batch_pages ? npages - b0 : batch_pages;
		size_t raw = 0, zlen = 0;
		int codec = REMUS_CODEC_NONE;
		double t0 = now(), t1, t2;

		for (size_t i = 0; i < nb; i++) {
			size_t len;
			int kind = remus_delta_encode(cache, b0 + i,
						      mem + (b0 + i) * PS,
						      enc + raw, &len);

			kinds[i] = (uint8_t)kind;
			lens[i] = (uint32_t)len;
			raw += len;
		}
		if (cz) {
			codec = remus_compress(cz, enc, raw, zbuf, raw, &zlen);
			if (codec < 0) {
				fprintf(stderr, "compress: %s\n", strerror(-codec));
				exit(1);
			}
		} else {
			zlen = raw;
		}
		t1 = now();
		/* receiver */
		{
			const uint8_t *src = enc;
			size_t off = 0;

			if (codec != REMUS_CODEC_NONE) {
				if (remus_decompress(cz, codec, zbuf, zlen, enc,
						     raw)) {
					fprintf(stderr, "decompress failed\n");
					exit(1);
				}
			}
			for (size_t i = 0; i < nb; i++) {
				if (remus_delta_apply(img + (b0 + i) * PS, PS,
						      kinds[i], src + off,
						      lens[i])) {
					fprintf(stderr, "apply failed\n");
					exit(1);
				}
				off += lens[i];
			}
		}
		t2 = now();
		*t_enc += t1 - t0;
		*t_dec += t2 - t1;
		wire += zlen;
	}
	if (verify && memcmp(mem, img, npages * PS)) {
		fprintf(stderr, "backup image differs from the guest\n");
		exit(1);
	}
	return wire;
}

static struct result run(bool delta, int codec, bool random_pages)
{
	struct remus_page_cache cache;
	struct remus_compressor cz;
	double t_enc = 0, t_dec = 0;
	size_t wire = 0, in = 0;
	int rounds = 0;
	struct result r;

	if (remus_page_cache_init(&cache, PS, delta ? npages : 0) ||
	    remus_compressor_init(&cz, codec, 0)) {
		fprintf(stderr, "bench_compress: out of memory\n");
		exit(1);
	}
	/* first checkpoint: everything raw, fills the cache; not timed */
	memset(img, 0, npages * PS);
	{
		double a = 0, b = 0;

		checkpoint(&cache, codec ? &cz : NULL, &a, &b, true);
	}
	do {
		dirty(random_pages);
		wire += checkpoint(&cache, codec ? &cz : NULL, &t_enc, &t_dec,
				   rounds == 0);
		in += npages * PS;
		rounds++;
	} while (t_enc + t_dec < 2 * min_secs || rounds < 3);

	r.enc_mbs = (double)in / t_enc / 1e6;
	r.dec_mbs = (double)in / t_dec / 1e6;
	r.ratio = (double)in / (double)(wire ? wire : 1);
	remus_compressor_fini(&cz);
	remus_page_cache_fini(&cache);
	return r;
}

/* Framing: seal and verify 1 MiB bodies in each auth mode. */
static void framing(void)
{
	static const struct {
		enum remus_wire_auth auth;
		const char *name;
	} modes[] = {
		{ REMUS_WIRE_AUTH_NONE, "no key (BLAKE2b checksum)" },
		{ REMUS_WIRE_AUTH_MAC, "keyed (Poly1305 MAC)" },
		{ REMUS_WIRE_AUTH_AEAD, "XChaCha20-Poly1305" },
	};
	static const uint8_t key[REMUS_WIRE_KEY_LEN] = { 1 };
	size_t body = 1 << 20;
	uint8_t *frame = malloc(REMUS_WIRE_OVERHEAD + body);

	printf("\n| framing (1 MiB bodies) | seal MB/s | verify MB/s |\n");
	printf("| --- | ---: | ---: |\n");
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct remus_wire_cfg pc = {
			.role = REMUS_WIRE_PRIMARY, .auth = modes[m].auth,
			.key = modes[m].auth == REMUS_WIRE_AUTH_NONE ? NULL : key,
		};
		struct remus_wire_cfg bc = pc;
		struct remus_hello h = {
			.page_size = PS, .nr_regions = 1, .nr_pages = 1,
			.start_epoch = 1, .regions = { { 0, 1 } },
		};
		struct remus_wire p, b;
		struct remus_frame f;
		double ts = 0, tv = 0, t0;
		size_t used, bytes = 0;
		ssize_t n;

		bc.role = REMUS_WIRE_BACKUP;
		if (remus_wire_init(&p, &pc) || remus_wire_init(&b, &bc))
			exit(1);
		n = remus_wire_hello(&p, &h, frame, REMUS_WIRE_OVERHEAD + body);
		remus_wire_rx_feed(&b, frame, (size_t)n, &used, &f);
		n = remus_wire_accept(&b, 0, frame, REMUS_WIRE_OVERHEAD + body);
		remus_wire_rx_feed(&p, frame, (size_t)n, &used, &f);
		memset(frame + REMUS_WIRE_HDR_LEN, 0x3c, body);
		while (ts + tv < 2 * min_secs) {
			t0 = now();
			n = remus_wire_seal(&p, REMUS_REC_EXT_CTRL, 0, frame,
					    body, REMUS_WIRE_OVERHEAD + body);
			ts += now() - t0;
			t0 = now();
			if (n < 0 || remus_wire_rx_feed(&b, frame, (size_t)n,
							&used, &f) != 1) {
				fprintf(stderr, "framing round trip failed\n");
				exit(1);
			}
			tv += now() - t0;
			bytes += body;
		}
		printf("| %s | %.0f | %.0f |\n", modes[m].name,
		       (double)bytes / ts / 1e6, (double)bytes / tv / 1e6);
		remus_wire_fini(&p);
		remus_wire_fini(&b);
	}
	free(frame);
}

int main(int argc, char **argv)
{
	static const struct {
		bool delta;
		int codec;
		const char *name;
	} schemes[] = {
		{ false, REMUS_CODEC_NONE, "none (raw copy)" },
		{ true, REMUS_CODEC_NONE, "xor-rle" },
		{ true, REMUS_CODEC_LZ4, "xor-rle + lz4" },
		{ true, REMUS_CODEC_ZSTD, "xor-rle + zstd" },
		{ true, REMUS_CODEC_ZLIB, "xor-rle + zlib" },
		{ false, REMUS_CODEC_LZ4, "lz4" },
		{ false, REMUS_CODEC_ZSTD, "zstd" },
		{ false, REMUS_CODEC_ZLIB, "zlib" },
	};
	int opt;

	while ((opt = getopt(argc, argv, "p:w:t:b:")) != -1) {
		switch (opt) {
		case 'p':
			npages = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			words = atoi(optarg);
			break;
		case 't':
			min_secs = atof(optarg);
			break;
		case 'b':
			batch_pages = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: bench_compress [-p PAGES] [-w WORDS] [-t SECONDS] [-b BATCH]\n");
			return 2;
		}
	}
	if (!npages || !batch_pages || words < 0) {
		fprintf(stderr, "bench_compress: bad arguments\n");
		return 2;
	}
	mem = aligned_alloc(4096, npages * PS);
	img = aligned_alloc(4096, npages * PS);
	enc = malloc(batch_pages * PS);
	zbuf = malloc(batch_pages * PS);
	lens = malloc(batch_pages * sizeof(*lens));
	kinds = malloc(batch_pages);
	if (!mem || !img || !enc || !zbuf || !lens || !kinds) {
		fprintf(stderr, "bench_compress: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < npages * PS; i += 8) {
		unsigned long long v = rnd();

		memcpy(mem + i, &v, 8);
	}

	printf("%zu pages of %d bytes (%zu MiB), batches of %zu pages, "
	       "sparse = %d words of 8 bytes rewritten per page\n\n",
	       npages, PS, npages * PS >> 20, batch_pages, words);
	printf("| scheme | sparse: encode MB/s | decode MB/s | ratio "
	       "| random: encode MB/s | decode MB/s | ratio |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
		struct result sp = run(schemes[s].delta, schemes[s].codec, false);
		struct result rn = run(schemes[s].delta, schemes[s].codec, true);

		printf("| %s | %.0f | %.0f | %.1f:1 | %.0f | %.0f | %.2f:1 |\n",
		       schemes[s].name, sp.enc_mbs, sp.dec_mbs, sp.ratio,
		       rn.enc_mbs, rn.dec_mbs, rn.ratio);
		fflush(stdout);
	}
	framing();
	return 0;
}
