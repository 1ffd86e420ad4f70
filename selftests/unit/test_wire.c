// SPDX-License-Identifier: GPL-2.0
/*
 * The replication link's wire layer: handshake in each auth mode, whole
 * checkpoints through every codec, the decoder fed in odd chunks, and
 * every rejection with its own error code. Frames that a correct sender
 * cannot produce are crafted in the no-key mode, whose checksum (unkeyed
 * BLAKE2b-128 over header and body) the test computes itself from the
 * spec, so they get past the tag and reach the check under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "wire.h"
#include "test_wire_tap.h"

#define PS	4096
#define NPAGES	256

static const uint8_t key[REMUS_WIRE_KEY_LEN] = {
	0x52, 0x45, 0x4d, 0x55, 0x53, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
};
static const uint8_t key2[REMUS_WIRE_KEY_LEN] = { 9 };

static uint8_t *fr;		/* one frame */
static size_t frcap;

struct pair {
	struct remus_wire p, b;
};

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static int wire_new(struct remus_wire *w, enum remus_wire_role role,
		    enum remus_wire_auth auth, const uint8_t *k,
		    uint32_t max_body, uint32_t codecs, uint32_t features)
{
	struct remus_wire_cfg cfg = {
		.role = role, .auth = auth,
		.key = auth == REMUS_WIRE_AUTH_NONE ? NULL : k,
		.max_body = max_body, .codecs = codecs, .features = features,
	};

	return remus_wire_init(w, &cfg);
}

static void geometry(struct remus_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->page_size = PS;
	h->nr_pages = NPAGES;
	h->start_epoch = 1;
	h->nr_regions = 2;
	h->regions[0] = (struct remus_region){ 0, NPAGES / 2 };
	h->regions[1] = (struct remus_region){ 1000, NPAGES / 2 };
}

/* pfn of page i of the test guest (two regions). */
static uint64_t pfn_of(int i)
{
	return i < NPAGES / 2 ? (uint64_t)i : 1000 + (uint64_t)(i - NPAGES / 2);
}

/* Feed a whole buffer; 1 only if it was exactly one frame. */
static int deliver(struct remus_wire *w, const void *buf, size_t n,
		   struct remus_frame *f)
{
	size_t used;
	int r = remus_wire_rx_feed(w, buf, n, &used, f);

	if (r == 1 && used != n)
		return -1000;
	return r;
}

static int pair_init(struct pair *x, enum remus_wire_auth pa,
		     enum remus_wire_auth ba, uint32_t max_body,
		     uint32_t codecs_b)
{
	struct remus_hello h;
	struct remus_frame f;
	ssize_t n;
	int r;

	r = wire_new(&x->p, REMUS_WIRE_PRIMARY, pa, key, max_body, 0,
		     REMUS_FEAT_DELTA);
	if (r)
		return r;
	r = wire_new(&x->b, REMUS_WIRE_BACKUP, ba, key, max_body, codecs_b,
		     REMUS_FEAT_DELTA);
	if (r)
		return r;
	geometry(&h);
	n = remus_wire_hello(&x->p, &h, fr, frcap);
	if (n < 0)
		return (int)n;
	r = deliver(&x->b, fr, (size_t)n, &f);
	if (r != 1)
		return r < 0 ? r : -EIO;
	if (f.type != REMUS_REC_HELLO)
		return -EIO;
	n = remus_wire_accept(&x->b, 0, fr, frcap);
	if (n < 0)
		return (int)n;
	r = deliver(&x->p, fr, (size_t)n, &f);
	if (r != 1)
		return r < 0 ? r : -EIO;
	return f.type == REMUS_REC_HELLO_ACK ? 0 : -EIO;
}

static void pair_fini(struct pair *x)
{
	remus_wire_fini(&x->p);
	remus_wire_fini(&x->b);
}

static ssize_t state_frame(struct remus_wire *w, uint64_t epoch,
			   const char *text)
{
	size_t len = strlen(text);

	remus_state_hdr(fr + REMUS_WIRE_HDR_LEN, 1, 0, len);
	memcpy(fr + REMUS_WIRE_HDR_LEN + REMUS_STATE_HDR_LEN, text, len);
	return remus_wire_seal(w, REMUS_REC_STATE, epoch, fr,
			       REMUS_STATE_HDR_LEN + len, frcap);
}

/* A no-key frame with any header and body, tagged as the spec says. */
static size_t craft(uint8_t *out, uint8_t type, uint16_t flags,
		    const uint8_t *sid, uint64_t seq, uint64_t epoch,
		    const void *body, uint32_t len)
{
	wr32(out, REMUS_WIRE_MAGIC);
	out[4] = REMUS_WIRE_VERSION;
	out[5] = type;
	wr16(out + 6, flags | REMUS_WF_NOKEY);
	wr32(out + 8, len);
	wr32(out + 12, 0);
	memcpy(out + 16, sid, REMUS_WIRE_SID_LEN);
	wr64(out + 32, seq);
	wr64(out + 40, epoch);
	if (len)
		memmove(out + REMUS_WIRE_HDR_LEN, body, len);
	crypto_generichash(out + REMUS_WIRE_HDR_LEN + len, REMUS_WIRE_TAG_LEN,
			   out, REMUS_WIRE_HDR_LEN + len, NULL, 0);
	return REMUS_WIRE_OVERHEAD + len;
}

/* Recompute the no-key tag after editing a frame in place. */
static void retag(uint8_t *frame)
{
	uint32_t len = rd32(frame + 8);

	crypto_generichash(frame + REMUS_WIRE_HDR_LEN + len, REMUS_WIRE_TAG_LEN,
			   frame, REMUS_WIRE_HDR_LEN + len, NULL, 0);
}

/* ---- handshake ---- */

static int handshake_mac(void)
{
	struct pair x;
	struct remus_frame f;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	ASSERT_EQ(REMUS_WIRE_DATA, x.p.phase);
	ASSERT_EQ(REMUS_WIRE_DATA, x.b.phase);
	ASSERT_TRUE(remus_wire_authenticated(&x.p) && remus_wire_authenticated(&x.b));
	ASSERT_TRUE(!remus_wire_encrypted(&x.p) && !remus_wire_encrypted(&x.b));
	ASSERT_EQ(REMUS_CODECS_ALL, x.p.ack.codecs);
	ASSERT_EQ(REMUS_FEAT_DELTA, x.p.ack.features);
	ASSERT_EQ(REMUS_WIRE_BODY_DEFAULT, x.p.peer_max_body);
	ASSERT_MEM(x.p.sid, x.b.sid, REMUS_WIRE_SID_LEN);
	ASSERT_EQ(PS, x.b.hello.page_size);
	ASSERT_EQ(2, x.b.hello.nr_regions);

	n = state_frame(&x.p, 1, "cpu state");
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	ASSERT_EQ(REMUS_REC_STATE, f.type);
	ASSERT_EQ(1, f.seq);
	ASSERT_EQ(1, f.epoch);
	n = remus_wire_end(&x.p, 1, fr, frcap);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	ASSERT_EQ(REMUS_REC_END, f.type);
	n = remus_wire_seal(&x.b, REMUS_REC_ACK, 1, fr, 0, frcap);
	ASSERT_EQ(REMUS_WIRE_OVERHEAD, n);
	ASSERT_EQ(1, deliver(&x.p, fr, (size_t)n, &f));
	ASSERT_EQ(REMUS_REC_ACK, f.type);
	ASSERT_EQ(1, f.epoch);
	pair_fini(&x);
	return 0;
}

static int handshake_aead_encrypts_bodies(void)
{
	static const char secret[] = "the guest's registers, in clear";
	struct remus_state st;
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	for (int who = 0; who < 2; who++) {
		/* either side asking is enough */
		ASSERT_EQ(0, pair_init(&x, who ? REMUS_WIRE_AUTH_MAC : REMUS_WIRE_AUTH_AEAD,
				       who ? REMUS_WIRE_AUTH_AEAD : REMUS_WIRE_AUTH_MAC, 0, 0));
		ASSERT_TRUE(remus_wire_encrypted(&x.p) && remus_wire_encrypted(&x.b));
		n = state_frame(&x.p, 1, secret);
		ASSERT_TRUE(n > 0);
		ASSERT_TRUE(rd32(fr + 4) >> 16 & REMUS_WF_SEALED);
		ASSERT_TRUE(!memmem(fr, (size_t)n, "registers", 9));
		ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
		ASSERT_EQ(0, remus_state_parse(&f, &st));
		ASSERT_EQ(strlen(secret), st.len);
		ASSERT_MEM(secret, st.data, st.len);
		pair_fini(&x);
	}
	return 0;
}

static int nokey_mode_is_explicit(void)
{
	struct remus_wire w;
	struct pair x;

	/* a missing key never silently means "no key" */
	ASSERT_EQ(-ENOKEY, wire_new(&w, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, NULL, 0, 0, 0));
	{
		struct remus_wire_cfg cfg = { .role = REMUS_WIRE_PRIMARY,
			.auth = REMUS_WIRE_AUTH_NONE, .key = key };

		ASSERT_EQ(-ENOKEY, remus_wire_init(&w, &cfg));
	}
	ASSERT_EQ(-EINVAL, wire_new(&w, 3, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(-EINVAL, wire_new(&w, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 1000, 0, 0));
	ASSERT_EQ(-EINVAL, wire_new(&w, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, REMUS_FEAT_AEAD));

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	ASSERT_TRUE(!remus_wire_authenticated(&x.p) && !remus_wire_authenticated(&x.b));
	ASSERT_TRUE(!remus_wire_encrypted(&x.p));
	pair_fini(&x);
	return 0;
}

static int reject_closes_session(void)
{
	struct remus_wire p, b;
	struct remus_reject rj;
	struct remus_hello h;
	struct remus_frame f;
	ssize_t n;

	ASSERT_EQ(0, wire_new(&p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(0, wire_new(&b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	geometry(&h);
	n = remus_wire_hello(&p, &h, fr, frcap);
	ASSERT_EQ(1, deliver(&b, fr, (size_t)n, &f));
	n = remus_wire_reject(&b, ENOSPC, "guest too big", fr, frcap);
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(REMUS_WIRE_CLOSED, b.phase);
	ASSERT_EQ(1, deliver(&p, fr, (size_t)n, &f));
	ASSERT_EQ(REMUS_REC_REJECT, f.type);
	ASSERT_EQ(0, remus_reject_parse(&f, &rj));
	ASSERT_EQ(ENOSPC, rj.reason);
	ASSERT_EQ(13, rj.text_len);
	ASSERT_MEM("guest too big", rj.text, 13);
	ASSERT_EQ(REMUS_WIRE_CLOSED, p.phase);
	ASSERT_EQ(-EPROTO, state_frame(&p, 1, "x"));
	ASSERT_EQ(-EPROTO, remus_wire_accept(&b, 0, fr, frcap));
	remus_wire_fini(&p);
	remus_wire_fini(&b);
	return 0;
}

static int hello_geometry_checked(void)
{
	struct remus_wire p;
	struct remus_hello h;

	ASSERT_EQ(0, wire_new(&p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	geometry(&h);
	h.page_size = 3000;
	ASSERT_EQ(-EINVAL, remus_wire_hello(&p, &h, fr, frcap));
	geometry(&h);
	h.regions[1].first_pfn = 10;	/* overlaps region 0 */
	ASSERT_EQ(-EINVAL, remus_wire_hello(&p, &h, fr, frcap));
	geometry(&h);
	h.nr_pages++;			/* regions do not add up */
	ASSERT_EQ(-EINVAL, remus_wire_hello(&p, &h, fr, frcap));
	geometry(&h);
	h.start_epoch = 0;
	ASSERT_EQ(-EINVAL, remus_wire_hello(&p, &h, fr, frcap));
	geometry(&h);
	h.nr_regions = REMUS_HELLO_MAX_REGIONS + 1;
	ASSERT_EQ(-EINVAL, remus_wire_hello(&p, &h, fr, frcap));
	geometry(&h);
	ASSERT_TRUE(remus_wire_hello(&p, &h, fr, frcap) > 0);
	ASSERT_EQ(-EPROTO, remus_wire_hello(&p, &h, fr, frcap));
	remus_wire_fini(&p);
	return 0;
}

/* ---- whole checkpoints ---- */

static uint8_t mem[NPAGES][PS], img[NPAGES][PS];

static void fill_text_page(uint8_t *p)
{
	static const char t[] = "struct page *pfn_to_page(unsigned long); ";

	for (int i = 0; i < PS; i++)
		p[i] = (uint8_t)t[i % (sizeof(t) - 1)];
}

/* The receiver's side: every page of a PAGES frame onto the image. */
static int apply_pages(struct remus_batch_reader *rd, struct remus_wire *b,
		       const struct remus_frame *f)
{
	struct remus_batch_item it;
	int r;

	if (f->type != REMUS_REC_PAGES)
		return -EIO;
	r = remus_batch_open(rd, b, f);
	if (r)
		return r;
	while ((r = remus_batch_next(rd, &it)) == 1) {
		uint64_t i = it.where < 1000 ? it.where
					      : it.where - 1000 + NPAGES / 2;

		r = remus_delta_apply(img[i], PS, it.kind, it.data, it.len);
		if (r)
			return r;
	}
	return r;
}

static int run_checkpoints(enum remus_wire_auth auth, int codec, bool delta)
{
	struct remus_page_cache cache;
	struct remus_compressor ctx, crx;
	struct remus_batch pb, db;
	struct remus_batch_reader rd;
	struct remus_batch_item it;
	struct remus_frame f;
	struct remus_end end;
	struct pair x;
	unsigned long long s = 99;
	static uint8_t disk[8 * 512], disk_img[8 * 512];
	uint64_t pages_sent = 0;
	ssize_t n;
	int r;

	/* 64 KiB bodies: a checkpoint of 256 pages takes several batches */
	ASSERT_EQ(0, pair_init(&x, auth, auth, REMUS_WIRE_BODY_MIN, 0));
	ASSERT_EQ(0, remus_page_cache_init(&cache, PS, delta ? NPAGES / 2 : 0));
	ASSERT_EQ(0, remus_compressor_init(&ctx, codec, 0));
	ASSERT_EQ(0, remus_compressor_init(&crx, REMUS_CODEC_NONE, 0));
	ASSERT_EQ(0, remus_batch_init(&pb, &x.p, REMUS_REC_PAGES, &cache, &ctx));
	ASSERT_EQ(0, remus_batch_init(&db, &x.p, REMUS_REC_DISK, NULL, &ctx));
	ASSERT_EQ(0, remus_batch_reader_init(&rd, &x.b, &crx));
	rnd_fill(&s, mem, sizeof(mem));
	memset(mem[5], 0, PS);
	memset(img, 0, sizeof(img));

	for (uint64_t e = 1; e <= 6; e++) {
		/* epoch 1 sends everything, later ones sparse updates */
		for (int i = 0; i < NPAGES; i++) {
			if (e > 1) {
				if (rnd_next(&s) % 3)
					continue;
				for (int k = 0; k < 3; k++)
					mem[i][rnd_next(&s) % PS] ^= 0x41;
				if (i % 17 == 0)
					fill_text_page(mem[i]);
			}
			r = remus_batch_add_page(&pb, &x.p, pfn_of(i), mem[i]);
			if (r == -ENOSPC) {
				n = remus_batch_seal(&x.p, &pb, e, fr, frcap);
				ASSERT_TRUE(n > 0);
				ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
				ASSERT_EQ(0, apply_pages(&rd, &x.b, &f));
				r = remus_batch_add_page(&pb, &x.p, pfn_of(i), mem[i]);
			}
			ASSERT_EQ(0, r);
			pages_sent++;
		}
		n = remus_batch_seal(&x.p, &pb, e, fr, frcap);
		ASSERT_TRUE(n > 0);
		ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
		ASSERT_EQ(0, apply_pages(&rd, &x.b, &f));

		rnd_fill(&s, disk, sizeof(disk));
		ASSERT_EQ(0, remus_batch_add_disk(&db, 8 * e, disk, sizeof(disk)));
		n = remus_batch_seal(&x.p, &db, e, fr, frcap);
		ASSERT_TRUE(n > 0);
		ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
		ASSERT_EQ(REMUS_REC_DISK, f.type);
		ASSERT_EQ(0, remus_batch_open(&rd, &x.b, &f));
		ASSERT_EQ(1, remus_batch_next(&rd, &it));
		ASSERT_EQ(8 * e, it.where);
		ASSERT_EQ(sizeof(disk), it.len);
		memcpy(disk_img, it.data, it.len);
		ASSERT_EQ(0, remus_batch_next(&rd, &it));
		ASSERT_MEM(disk, disk_img, sizeof(disk));

		n = state_frame(&x.p, e, "vcpu0");
		ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
		n = remus_wire_end(&x.p, e, fr, frcap);
		ASSERT_TRUE(n > 0);
		ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
		ASSERT_EQ(REMUS_REC_END, f.type);
		ASSERT_EQ(0, remus_end_parse(&f, &end));
		ASSERT_EQ(1, end.disk_writes);
		ASSERT_EQ(e, x.b.rx.last_end);
		ASSERT_MEM(mem, img, sizeof(mem));

		n = remus_wire_seal(&x.b, REMUS_REC_ACK, e, fr, 0, frcap);
		ASSERT_EQ(1, deliver(&x.p, fr, (size_t)n, &f));
		ASSERT_EQ(e, f.epoch);
	}
	if (delta)
		ASSERT_TRUE(cache.stats.xor > 0);
	else
		ASSERT_EQ(0, cache.stats.xor);
	ASSERT_TRUE(cache.stats.raw > 0 && cache.stats.zero > 0);
	if (codec != REMUS_CODEC_NONE)
		ASSERT_TRUE(ctx.tx.calls > ctx.tx.fallbacks);
	printf("# %s %s %s: %llu pages, delta %llu, codec %llu -> %llu bytes\n",
	       auth == REMUS_WIRE_AUTH_MAC ? "mac" :
	       auth == REMUS_WIRE_AUTH_AEAD ? "aead" : "nokey",
	       remus_codec_name(codec), delta ? "delta" : "raw",
	       (unsigned long long)pages_sent,
	       (unsigned long long)cache.stats.xor,
	       (unsigned long long)ctx.tx.in_bytes,
	       (unsigned long long)ctx.tx.out_bytes);
	remus_batch_fini(&pb);
	remus_batch_fini(&db);
	remus_batch_reader_fini(&rd);
	remus_compressor_fini(&ctx);
	remus_compressor_fini(&crx);
	remus_page_cache_fini(&cache);
	pair_fini(&x);
	return 0;
}

static int checkpoints_every_codec_and_mode(void)
{
	static const enum remus_wire_auth auths[] = {
		REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_AEAD, REMUS_WIRE_AUTH_NONE,
	};

	for (size_t a = 0; a < 3; a++)
		for (int codec = 0; codec <= REMUS_CODEC_MAX; codec++)
			for (int delta = 0; delta < 2; delta++)
				if (run_checkpoints(auths[a], codec, delta))
					return 1;
	return 0;
}

/* ---- the decoder as a stream ---- */

/* A session's primary-to-backup bytes: HELLO, two checkpoints, BYE. */
static size_t record_stream(struct pair *x, uint8_t *out, size_t cap,
			    uint8_t *types, size_t *ntypes)
{
	struct remus_hello h;
	struct remus_frame f;
	struct remus_heartbeat hb = { 5, 0 };
	size_t len = 0;
	ssize_t n;

	*ntypes = 0;
	wire_new(&x->p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0);
	wire_new(&x->b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0);
	geometry(&h);
	n = remus_wire_hello(&x->p, &h, fr, frcap);
	memcpy(out + len, fr, (size_t)n);
	len += (size_t)n;
	types[(*ntypes)++] = REMUS_REC_HELLO;
	/* the backup under test takes the HELLO here; the tests feed it
	 * the rest of the recording */
	deliver(&x->b, fr, (size_t)n, &f);
	n = remus_wire_accept(&x->b, 0, fr, frcap);
	deliver(&x->p, fr, (size_t)n, &f);
	for (uint64_t e = 1; e <= 2; e++) {
		for (int k = 0; k < 3; k++) {
			n = state_frame(&x->p, e, "0123456789abcdef0123456789");
			memcpy(out + len, fr, (size_t)n);
			len += (size_t)n;
			types[(*ntypes)++] = REMUS_REC_STATE;
		}
		n = remus_wire_end(&x->p, e, fr, frcap);
		memcpy(out + len, fr, (size_t)n);
		len += (size_t)n;
		types[(*ntypes)++] = REMUS_REC_END;
	}
	remus_heartbeat_put(fr + REMUS_WIRE_HDR_LEN, &hb);
	n = remus_wire_seal(&x->p, REMUS_REC_HEARTBEAT, 0, fr, REMUS_HEARTBEAT_LEN, frcap);
	memcpy(out + len, fr, (size_t)n);
	len += (size_t)n;
	types[(*ntypes)++] = REMUS_REC_HEARTBEAT;
	remus_bye_put(fr + REMUS_WIRE_HDR_LEN, 0);
	n = remus_wire_seal(&x->p, REMUS_REC_BYE, 0, fr, REMUS_BYE_LEN, frcap);
	memcpy(out + len, fr, (size_t)n);
	len += (size_t)n;
	types[(*ntypes)++] = REMUS_REC_BYE;
	(void)cap;
	return len;
}

static int stream_in_chunks(size_t chunk_mode)
{
	static uint8_t stream[16384];
	uint8_t types[32], seen[32];
	size_t ntypes, len, off = 0, nseen = 0;
	unsigned long long s = 5;
	struct pair x;
	struct remus_wire b;
	struct remus_frame f;

	len = record_stream(&x, stream, sizeof(stream), types, &ntypes);
	/* x.b already consumed the HELLO and accepted; feed it the rest */
	b = x.b;
	off = REMUS_WIRE_OVERHEAD + rd32(stream + 8);
	seen[nseen++] = REMUS_REC_HELLO;
	while (off < len) {
		size_t want = chunk_mode ? chunk_mode : 1 + rnd_next(&s) % 200;
		size_t used;
		int r;

		if (want > len - off)
			want = len - off;
		do {
			r = remus_wire_rx_feed(&b, stream + off, want, &used, &f);
			ASSERT_TRUE(r >= 0);
			off += used;
			want -= used;
			if (r == 1)
				seen[nseen++] = f.type;
		} while (want && r == 1);
	}
	ASSERT_EQ(0, remus_wire_rx_partial(&b));
	ASSERT_EQ(ntypes, nseen);
	ASSERT_MEM(types, seen, ntypes);
	remus_wire_fini(&b);
	remus_wire_fini(&x.p);
	return 0;
}

static int stream_byte_at_a_time(void) { return stream_in_chunks(1); }
static int stream_random_chunks(void) { return stream_in_chunks(0); }
static int stream_whole(void) { return stream_in_chunks(16384); }

/* rx_space never offers more than the rest of the current frame, so a
 * read() of that size cannot swallow the start of the next one. */
static int zero_copy_reads_stop_at_frame_end(void)
{
	static uint8_t stream[16384];
	uint8_t types[32];
	size_t ntypes, len, off, frame_end;
	struct pair x;
	struct remus_wire b;
	struct remus_frame f;
	int frames = 0;

	len = record_stream(&x, stream, sizeof(stream), types, &ntypes);
	b = x.b;
	off = REMUS_WIRE_OVERHEAD + rd32(stream + 8);
	frame_end = off + REMUS_WIRE_OVERHEAD + rd32(stream + off + 8);
	while (off < len) {
		void *p;
		ssize_t room = remus_wire_rx_space(&b, &p);
		int r;

		ASSERT_TRUE(room > 0);
		ASSERT_TRUE(off + (size_t)room <= frame_end);
		memcpy(p, stream + off, (size_t)room);
		off += (size_t)room;
		r = remus_wire_rx_commit(&b, (size_t)room, &f);
		ASSERT_TRUE(r >= 0);
		if (r == 1) {
			frames++;
			ASSERT_EQ(frame_end, off);
			if (off < len)
				frame_end = off + REMUS_WIRE_OVERHEAD +
					    rd32(stream + off + 8);
		}
	}
	ASSERT_EQ(ntypes - 1, frames);
	remus_wire_fini(&b);
	remus_wire_fini(&x.p);
	return 0;
}

static int truncated_frame_is_held_not_delivered(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "truncated");
	ASSERT_EQ(0, deliver(&x.b, fr, (size_t)n - 1, &f));
	ASSERT_EQ(n - 1, remus_wire_rx_partial(&x.b));
	ASSERT_EQ(1, deliver(&x.b, fr + n - 1, 1, &f));
	ASSERT_EQ(0, remus_wire_rx_partial(&x.b));
	/* a header alone is partial too */
	n = state_frame(&x.p, 1, "again");
	ASSERT_EQ(0, deliver(&x.b, fr, 20, &f));
	ASSERT_EQ(20, remus_wire_rx_partial(&x.b));
	pair_fini(&x);
	return 0;
}

/* ---- rejections ---- */

/* A fresh keyed pair, one STATE frame in fr with one byte XORed. */
static int flip_and_deliver(size_t pos, uint8_t mask, enum remus_wire_auth auth)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;
	int r;

	r = pair_init(&x, auth, auth, 0, 0);
	if (r)
		return -10000 + r;
	n = state_frame(&x.p, 1, "sixteen bytes!!!");
	if (pos >= (size_t)n) {
		pair_fini(&x);
		return 1;
	}
	fr[pos] ^= mask;
	r = deliver(&x.b, fr, (size_t)n, &f);
	if (!r) {
		/* a longer length field makes the decoder wait for more:
		 * give it the bytes, the tag must still fail */
		static uint8_t more[65536];

		for (size_t fed = 0; !r && fed <= REMUS_WIRE_BODY_DEFAULT;
		     fed += sizeof(more))
			r = deliver(&x.b, more, sizeof(more), &f);
	}
	/* a rejected frame poisons the stream for good */
	if (r < 0) {
		int again;

		fr[pos] ^= mask;
		again = deliver(&x.b, fr, (size_t)n, &f);
		if (again != r)
			r = -20000;
	}
	pair_fini(&x);
	return r;
}

static int rejects_bad_magic(void)
{
	ASSERT_EQ(-EBADMSG, flip_and_deliver(0, 0x01, REMUS_WIRE_AUTH_MAC));
	ASSERT_EQ(-EBADMSG, flip_and_deliver(3, 0x80, REMUS_WIRE_AUTH_MAC));
	return 0;
}

static int rejects_bad_version(void)
{
	ASSERT_EQ(-EPROTONOSUPPORT, flip_and_deliver(4, 0x02, REMUS_WIRE_AUTH_MAC));
	return 0;
}

static int rejects_reserved_bits(void)
{
	ASSERT_EQ(-EBADMSG, flip_and_deliver(7, 0x01, REMUS_WIRE_AUTH_MAC));	/* flags */
	ASSERT_EQ(-EBADMSG, flip_and_deliver(12, 0x01, REMUS_WIRE_AUTH_MAC));	/* reserved */
	return 0;
}

static int rejects_unknown_core_type(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "x");
	fr[5] = 0x20;
	ASSERT_EQ(-EOPNOTSUPP, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "x");
	fr[5] = 0;
	ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	return 0;
}

static int rejects_length_over_limit(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "x");
	wr32(fr + 8, REMUS_WIRE_BODY_DEFAULT + 1);
	/* refused from the header alone: nothing waits for 8 MiB */
	ASSERT_EQ(-EMSGSIZE, deliver(&x.b, fr, REMUS_WIRE_HDR_LEN, &f));
	(void)n;
	pair_fini(&x);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	wr32(fr + 8, UINT32_MAX);
	ASSERT_EQ(-EMSGSIZE, deliver(&x.b, fr, REMUS_WIRE_HDR_LEN, &f));
	pair_fini(&x);
	return 0;
}

static int rejects_length_wrong_for_type(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	/* ACK has no body, HEARTBEAT exactly 16 bytes: wrong lengths are
	 * refused before the body is read */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = remus_wire_seal(&x.b, REMUS_REC_ACK, 1, fr, 0, frcap);
	ASSERT_TRUE(n > 0);
	wr32(fr + 8, 8);
	ASSERT_EQ(-EBADMSG, deliver(&x.p, fr, REMUS_WIRE_HDR_LEN, &f));
	pair_fini(&x);

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "x");
	wr32(fr + 8, REMUS_STATE_HDR_LEN - 1);
	ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, REMUS_WIRE_HDR_LEN, &f));
	pair_fini(&x);
	return 0;
}

/* Every single-byte change anywhere in a keyed frame is refused. */
static int rejects_any_flipped_byte_mac(void)
{
	for (size_t pos = 0; pos < REMUS_WIRE_OVERHEAD + REMUS_STATE_HDR_LEN + 16; pos++) {
		int r = flip_and_deliver(pos, 0x04, REMUS_WIRE_AUTH_MAC);

		if (r >= 0 || r <= -10000)
			printf("# byte %zu\n", pos);
		ASSERT_TRUE(r < 0 && r > -10000);
		/* past the header fields checked on their own, it is the MAC */
		if (pos >= 16)
			ASSERT_TRUE(r == -EKEYREJECTED || r == -ESTALE);
	}
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(50, 0xff, REMUS_WIRE_AUTH_MAC));	/* body */
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(41, 0x01, REMUS_WIRE_AUTH_MAC));	/* epoch */
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(33, 0x01, REMUS_WIRE_AUTH_MAC));	/* seq */
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(REMUS_WIRE_HDR_LEN + REMUS_STATE_HDR_LEN + 16 + 3, 0x10,
						  REMUS_WIRE_AUTH_MAC));	/* tag */
	return 0;
}

static int rejects_flipped_byte_aead(void)
{
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(60, 0x01, REMUS_WIRE_AUTH_AEAD));
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(44, 0x01, REMUS_WIRE_AUTH_AEAD));
	ASSERT_EQ(-EKEYREJECTED, flip_and_deliver(REMUS_WIRE_HDR_LEN + 40, 0x01, REMUS_WIRE_AUTH_AEAD));
	return 0;
}

static int rejects_bad_checksum_nokey(void)
{
	ASSERT_EQ(-EBADMSG, flip_and_deliver(60, 0x01, REMUS_WIRE_AUTH_NONE));
	ASSERT_EQ(-EBADMSG, flip_and_deliver(44, 0x01, REMUS_WIRE_AUTH_NONE));
	return 0;
}

static int rejects_replayed_frame(void)
{
	struct remus_frame f;
	struct pair x;
	static uint8_t copy[256];
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "once");
	memcpy(copy, fr, (size_t)n);
	ASSERT_EQ(1, deliver(&x.b, copy, (size_t)n, &f));
	ASSERT_EQ(-EALREADY, deliver(&x.b, copy, (size_t)n, &f));
	pair_fini(&x);
	return 0;
}

static int rejects_skipped_frame(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	state_frame(&x.p, 1, "lost");
	n = state_frame(&x.p, 1, "arrives");
	ASSERT_EQ(-EILSEQ, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	return 0;
}

static int rejects_other_session(void)
{
	struct remus_frame f;
	struct pair x, y;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	ASSERT_EQ(0, pair_init(&y, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&y.p, 1, "elsewhere");
	ASSERT_EQ(-ESTALE, deliver(&x.b, fr, (size_t)n, &f));
	/* and with the session id rewritten, the keys still differ */
	pair_fini(&x);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&y.p, 1, "elsewhere");
	memcpy(fr + 16, x.b.sid, REMUS_WIRE_SID_LEN);
	ASSERT_EQ(-EKEYREJECTED, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	pair_fini(&y);
	return 0;
}

static int rejects_reflected_frame(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "mine");
	ASSERT_EQ(-EXDEV, deliver(&x.p, fr, (size_t)n, &f));
	pair_fini(&x);
	/* with the direction bit flipped, the direction's key does not fit */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	{
		struct remus_heartbeat hb = { 1, 0 };

		remus_heartbeat_put(fr + REMUS_WIRE_HDR_LEN, &hb);
	}
	n = remus_wire_seal(&x.b, REMUS_REC_HEARTBEAT, 0, fr,
			    REMUS_HEARTBEAT_LEN, frcap);
	ASSERT_EQ(-EXDEV, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = remus_wire_seal(&x.b, REMUS_REC_HEARTBEAT, 0, fr,
			    REMUS_HEARTBEAT_LEN, frcap);
	fr[6] &= (uint8_t)~REMUS_WF_BACKUP;
	ASSERT_EQ(-EKEYREJECTED, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	return 0;
}

/* A whole old session replayed at a backup: HELLO passes (it is genuine),
 * but the backup's fresh nonce keys the data phase differently. */
static int rejects_old_session_replayed(void)
{
	static uint8_t hello[2048], data[256];
	struct remus_frame f;
	struct pair x;
	struct remus_wire b2;
	ssize_t nh, nd;

	ASSERT_EQ(0, wire_new(&x.p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(0, wire_new(&x.b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	{
		struct remus_hello h;

		geometry(&h);
		nh = remus_wire_hello(&x.p, &h, hello, sizeof(hello));
	}
	ASSERT_EQ(1, deliver(&x.b, hello, (size_t)nh, &f));
	nd = remus_wire_accept(&x.b, 0, fr, frcap);
	ASSERT_EQ(1, deliver(&x.p, fr, (size_t)nd, &f));
	nd = state_frame(&x.p, 1, "old checkpoint");
	memcpy(data, fr, (size_t)nd);
	ASSERT_EQ(1, deliver(&x.b, data, (size_t)nd, &f));

	ASSERT_EQ(0, wire_new(&b2, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(1, deliver(&b2, hello, (size_t)nh, &f));
	ASSERT_TRUE(remus_wire_accept(&b2, 0, fr, frcap) > 0);
	ASSERT_EQ(-EKEYREJECTED, deliver(&b2, data, (size_t)nd, &f));
	remus_wire_fini(&b2);
	pair_fini(&x);
	return 0;
}

static int rejects_wrong_key(void)
{
	struct remus_wire p, b;
	struct remus_hello h;
	struct remus_frame f;
	ssize_t n;

	ASSERT_EQ(0, wire_new(&p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(0, wire_new(&b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key2, 0, 0, 0));
	geometry(&h);
	n = remus_wire_hello(&p, &h, fr, frcap);
	ASSERT_EQ(-EKEYREJECTED, deliver(&b, fr, (size_t)n, &f));
	remus_wire_fini(&p);
	remus_wire_fini(&b);
	return 0;
}

static int rejects_auth_mode_mismatch(void)
{
	struct remus_wire p, b;
	struct remus_hello h;
	struct remus_frame f;
	ssize_t n;

	/* a keyed backup refuses an unauthenticated primary: no downgrade */
	ASSERT_EQ(0, wire_new(&p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_NONE, NULL, 0, 0, 0));
	ASSERT_EQ(0, wire_new(&b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	geometry(&h);
	n = remus_wire_hello(&p, &h, fr, frcap);
	ASSERT_EQ(-EKEYREJECTED, deliver(&b, fr, (size_t)n, &f));
	remus_wire_fini(&p);
	remus_wire_fini(&b);
	/* a no-key backup cannot check a keyed primary */
	ASSERT_EQ(0, wire_new(&p, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_MAC, key, 0, 0, 0));
	ASSERT_EQ(0, wire_new(&b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_NONE, NULL, 0, 0, 0));
	n = remus_wire_hello(&p, &h, fr, frcap);
	ASSERT_EQ(-ENOKEY, deliver(&b, fr, (size_t)n, &f));
	remus_wire_fini(&p);
	remus_wire_fini(&b);
	return 0;
}

static int rejects_sealed_flag_not_negotiated(void)
{
	struct remus_frame f;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	n = state_frame(&x.p, 1, "clear");
	fr[6] |= REMUS_WF_SEALED;
	ASSERT_EQ(-EKEYREJECTED, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_AEAD, REMUS_WIRE_AUTH_AEAD, 0, 0));
	n = state_frame(&x.p, 1, "sealed");
	fr[6] &= (uint8_t)~REMUS_WF_SEALED;
	ASSERT_EQ(-EKEYREJECTED, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	return 0;
}

static int rejects_epoch_going_backwards(void)
{
	uint8_t body[REMUS_STATE_HDR_LEN + 4];
	struct remus_frame f;
	struct pair x;
	size_t n;

	/* the sender refuses first */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	ASSERT_TRUE(state_frame(&x.p, 5, "e5") > 0);
	ASSERT_EQ(-ERANGE, state_frame(&x.p, 6, "e6 before END 5"));
	ASSERT_EQ(-ERANGE, remus_wire_end(&x.p, 4, fr, frcap));
	ASSERT_TRUE(remus_wire_end(&x.p, 5, fr, frcap) > 0);
	ASSERT_EQ(-ERANGE, state_frame(&x.p, 5, "e5 again"));
	ASSERT_EQ(-ERANGE, state_frame(&x.p, 3, "e3"));
	ASSERT_TRUE(remus_wire_seal(&x.b, REMUS_REC_ACK, 5, fr, 0, frcap) > 0);
	ASSERT_TRUE(remus_wire_seal(&x.b, REMUS_REC_ACK, 5, fr, 0, frcap) > 0);
	ASSERT_EQ(-ERANGE, remus_wire_seal(&x.b, REMUS_REC_ACK, 4, fr, 0, frcap));
	pair_fini(&x);

	/* and the receiver, for frames a sender would not have made */
	remus_state_hdr(body, 1, 0, 4);
	memcpy(body + REMUS_STATE_HDR_LEN, "abcd", 4);
	for (int c = 0; c < 3; c++) {
		uint64_t bad = c == 0 ? 3 : c == 1 ? 0 : 5;

		ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
		n = (size_t)state_frame(&x.p, 5, "e5");
		ASSERT_EQ(1, deliver(&x.b, fr, n, &f));
		n = (size_t)remus_wire_end(&x.p, 5, fr, frcap);
		ASSERT_EQ(1, deliver(&x.b, fr, n, &f));
		n = craft(fr, REMUS_REC_STATE, 0, x.b.sid, x.b.rx.seq, bad,
			  body, sizeof(body));
		ASSERT_EQ(-ERANGE, deliver(&x.b, fr, n, &f));
		pair_fini(&x);
	}
	/* ACK backwards at the primary */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	n = (size_t)remus_wire_seal(&x.b, REMUS_REC_ACK, 7, fr, 0, frcap);
	ASSERT_EQ(1, deliver(&x.p, fr, n, &f));
	n = craft(fr, REMUS_REC_ACK, REMUS_WF_BACKUP, x.p.sid, x.p.rx.seq, 6, NULL, 0);
	ASSERT_EQ(-ERANGE, deliver(&x.p, fr, n, &f));
	pair_fini(&x);
	/* the first checkpoint below HELLO's start_epoch */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	n = craft(fr, REMUS_REC_STATE, 0, x.b.sid, x.b.rx.seq, 0, body, sizeof(body));
	ASSERT_EQ(-ERANGE, deliver(&x.b, fr, n, &f));
	pair_fini(&x);
	return 0;
}

/* A PAGES body the sender made, for editing. */
static size_t pages_body(struct pair *x, uint8_t *body)
{
	struct remus_batch b;
	ssize_t n;

	memset(mem[0], 0x11, PS);
	memset(mem[1], 0, PS);
	remus_batch_init(&b, &x->p, REMUS_REC_PAGES, NULL, NULL);
	remus_batch_add_page(&b, &x->p, 3, mem[0]);
	remus_batch_add_page(&b, &x->p, 1001, mem[1]);
	n = remus_batch_seal(&x->p, &b, 1, fr, frcap);
	remus_batch_fini(&b);
	memcpy(body, fr + REMUS_WIRE_HDR_LEN, (size_t)n - REMUS_WIRE_OVERHEAD);
	return (size_t)n - REMUS_WIRE_OVERHEAD;
}

static int try_pages(uint8_t *body, size_t len, uint32_t codecs_b)
{
	struct remus_frame f;
	struct pair x;
	size_t n;
	int r;

	r = pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, codecs_b);
	if (r)
		return -10000 + r;
	n = craft(fr, REMUS_REC_PAGES, 0, x.b.sid, x.b.rx.seq, 1, body,
		  (uint32_t)len);
	r = deliver(&x.b, fr, n, &f);
	pair_fini(&x);
	return r;
}

static int rejects_counts_inconsistent_with_length(void)
{
	static uint8_t good[PS + 256], body[PS + 256];
	struct pair x;
	size_t len;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	len = pages_body(&x, good);
	pair_fini(&x);
	ASSERT_EQ(16 + 2 * 16 + PS, len);
	/* the unedited body passes: the edits below are what fails */
	memcpy(body, good, len);
	ASSERT_EQ(1, try_pages(body, len, 0));

	memcpy(body, good, len);
	wr32(body, 3);				/* count beyond the table */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	wr32(body, 0x10000000);			/* count times 16 overflows len */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	wr32(body, 0);				/* empty batch */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	wr32(body + 8, PS + 1);			/* raw_len != payload */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	ASSERT_EQ(-EBADMSG, try_pages(body, len - 1, 0));	/* truncated payload */
	memcpy(body, good, len);
	wr32(body + 16 + 8, PS - 8);		/* raw page not page-sized */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	body[16 + 12] = REMUS_PAGE_XOR;		/* lengths no longer add up */
	wr32(body + 16 + 8, 8);
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	wr32(body + 32 + 8, 8);			/* zero page with bytes */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	body[16 + 12] = 7;			/* unknown kind */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	wr64(body + 16, 500);			/* pfn in the hole between regions */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	wr64(body + 16, 1000 + NPAGES / 2);	/* just past the last region */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	body[16 + 13] = 1;			/* entry reserved byte */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	memcpy(body, good, len);
	body[4] = REMUS_CODEC_ZSTD;		/* codec the backup refused */
	ASSERT_EQ(-EPROTO, try_pages(body, len, REMUS_CODEC_BIT(REMUS_CODEC_ZLIB)));
	body[4] = 9;				/* no such codec */
	ASSERT_EQ(-EBADMSG, try_pages(body, len, 0));
	ASSERT_EQ(-EBADMSG, try_pages(body, 16 + 8, 0));	/* truncated table */
	return 0;
}

static int rejects_disk_and_state_inconsistent(void)
{
	uint8_t body[64 + 1024];
	struct remus_frame f;
	struct pair x;
	size_t n;

	/* DISK: length not a whole number of sectors */
	memset(body, 0, sizeof(body));
	wr32(body, 1);
	wr32(body + 8, 500);
	wr64(body + 16, 0);
	wr32(body + 24, 500);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	n = craft(fr, REMUS_REC_DISK, 0, x.b.sid, x.b.rx.seq, 1, body, 32 + 500);
	ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, n, &f));
	pair_fini(&x);
	/* DISK: sector range wraps */
	wr32(body + 8, 512);
	wr32(body + 24, 512);
	wr64(body + 16, UINT64_MAX);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	n = craft(fr, REMUS_REC_DISK, 0, x.b.sid, x.b.rx.seq, 1, body, 32 + 512);
	ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, n, &f));
	pair_fini(&x);
	/* STATE: chunk beyond the announced total */
	remus_state_hdr(body, 1, 10, 12);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	n = craft(fr, REMUS_REC_STATE, 0, x.b.sid, x.b.rx.seq, 1, body,
		  REMUS_STATE_HDR_LEN + 3);
	ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, n, &f));
	pair_fini(&x);
	/* the sender checks its own bodies the same way */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	remus_state_hdr(fr + REMUS_WIRE_HDR_LEN, 1, 10, 12);
	ASSERT_EQ(-EBADMSG, remus_wire_seal(&x.p, REMUS_REC_STATE, 1, fr,
					    REMUS_STATE_HDR_LEN + 3, frcap));
	remus_state_hdr(fr + REMUS_WIRE_HDR_LEN, 0, 0, 3);
	ASSERT_EQ(-EBADMSG, remus_wire_seal(&x.p, REMUS_REC_STATE, 1, fr,
					    REMUS_STATE_HDR_LEN + 3, frcap));
	ASSERT_EQ(-EBADMSG, remus_wire_seal(&x.b, REMUS_REC_ACK, 1, fr, 4, frcap));
	pair_fini(&x);
	return 0;
}

static int rejects_end_not_matching_checkpoint(void)
{
	uint8_t end[64];
	struct remus_frame f;
	struct pair x;
	size_t n;

	for (int c = 0; c < 3; c++) {
		ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
		n = (size_t)state_frame(&x.p, 1, "one");
		ASSERT_EQ(1, deliver(&x.b, fr, n, &f));
		n = (size_t)remus_wire_end(&x.p, 1, fr, frcap);
		memcpy(end, fr + REMUS_WIRE_HDR_LEN, sizeof(end));
		if (c == 0)
			end[0]++;		/* records */
		else if (c == 1)
			end[24]--;		/* bytes */
		else
			end[40] ^= 1;		/* digest */
		n = craft(fr, REMUS_REC_END, 0, x.b.sid, x.b.rx.seq, 1, end, 64);
		ASSERT_EQ(-EBADMSG, deliver(&x.b, fr, n, &f));
		pair_fini(&x);
	}
	return 0;
}

static int rejects_records_out_of_phase(void)
{
	uint8_t body[REMUS_STATE_HDR_LEN + 1];
	struct remus_wire b;
	struct remus_hello h;
	struct remus_frame f;
	struct pair x;
	ssize_t n;
	uint8_t sid[16] = { 1 };

	/* data before any HELLO */
	remus_state_hdr(body, 1, 0, 1);
	ASSERT_EQ(0, wire_new(&b, REMUS_WIRE_BACKUP, REMUS_WIRE_AUTH_NONE, NULL, 0, 0, 0));
	n = (ssize_t)craft(fr, REMUS_REC_STATE, 0, sid, 0, 1, body, sizeof(body));
	ASSERT_EQ(-EPROTO, deliver(&b, fr, (size_t)n, &f));
	remus_wire_fini(&b);
	geometry(&h);
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	/* the primary cannot ack, the backup cannot send checkpoints */
	ASSERT_EQ(-EPROTO, remus_wire_seal(&x.p, REMUS_REC_ACK, 1, fr, 0, frcap));
	ASSERT_EQ(-EPROTO, state_frame(&x.b, 1, "x"));
	ASSERT_EQ(-EPROTO, remus_wire_seal(&x.b, 0x80, 1, fr, 0, frcap));
	ASSERT_EQ(-EINVAL, remus_wire_seal(&x.p, REMUS_REC_HELLO, 0, fr, 0, frcap));
	ASSERT_EQ(-EINVAL, remus_wire_seal(&x.p, REMUS_REC_END, 0, fr, 64, frcap));
	/* nothing after BYE in that direction */
	remus_bye_put(fr + REMUS_WIRE_HDR_LEN, 0);
	n = remus_wire_seal(&x.p, REMUS_REC_BYE, 0, fr, REMUS_BYE_LEN, frcap);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	ASSERT_EQ(-EPROTO, state_frame(&x.p, 1, "late"));
	pair_fini(&x);
	/* the receiver refuses a frame after BYE as well */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	remus_bye_put(fr + REMUS_WIRE_HDR_LEN, 0);
	n = remus_wire_seal(&x.p, REMUS_REC_BYE, 0, fr, REMUS_BYE_LEN, frcap);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	n = (ssize_t)craft(fr, REMUS_REC_STATE, 0, x.b.sid, x.b.rx.seq, 1, body, sizeof(body));
	ASSERT_EQ(-EPROTO, deliver(&x.b, fr, (size_t)n, &f));
	pair_fini(&x);
	/* a second HELLO, inside the data phase */
	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_NONE, REMUS_WIRE_AUTH_NONE, 0, 0));
	{
		struct remus_wire p2;

		ASSERT_EQ(0, wire_new(&p2, REMUS_WIRE_PRIMARY, REMUS_WIRE_AUTH_NONE, NULL, 0, 0, 0));
		n = remus_wire_hello(&p2, &h, fr, frcap);
		memcpy(fr + 16, x.b.sid, 16);
		wr64(fr + 32, x.b.rx.seq);
		retag(fr);
		ASSERT_EQ(-EPROTO, deliver(&x.b, fr, (size_t)n, &f));
		remus_wire_fini(&p2);
	}
	pair_fini(&x);
	return 0;
}

static int sender_limits(void)
{
	struct pair x;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC,
			       REMUS_WIRE_BODY_MIN, 0));
	ASSERT_EQ(REMUS_WIRE_OVERHEAD + REMUS_WIRE_BODY_MIN,
		  remus_wire_tx_frame_max(&x.p));
	ASSERT_EQ(-EMSGSIZE, remus_wire_seal(&x.p, 0xc0, 0, fr,
					     REMUS_WIRE_BODY_MIN + 1, frcap));
	ASSERT_EQ(-ENOSPC, remus_wire_seal(&x.p, 0xc0, 0, fr, 100, 100));
	ASSERT_EQ(-ENOSPC, remus_wire_end(&x.p, 1, fr, 70));
	/* a failed send consumes no sequence number */
	ASSERT_EQ(1, x.p.tx.seq);
	pair_fini(&x);
	return 0;
}

/* Engine-defined records: 0x80.. travel inside checkpoints and count in
 * END, 0xc0.. go either way at any time. */
static int extension_records(void)
{
	struct remus_frame f;
	struct remus_end end;
	struct pair x;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_AEAD, REMUS_WIRE_AUTH_AEAD, 0, 0));
	n = remus_wire_send_body(&x.p, 0x81, 2, "ext-ckpt", 8, fr, frcap);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	ASSERT_EQ(0x81, f.type);
	ASSERT_MEM("ext-ckpt", f.body, 8);
	n = remus_wire_send_body(&x.b, 0xc3, 0, "ctl", 3, fr, frcap);
	ASSERT_EQ(1, deliver(&x.p, fr, (size_t)n, &f));
	ASSERT_EQ(0xc3, f.type);
	ASSERT_EQ(-ERANGE, remus_wire_send_body(&x.p, 0x81, 3, "x", 1, fr, frcap));
	n = remus_wire_end(&x.p, 2, fr, frcap);
	ASSERT_EQ(1, deliver(&x.b, fr, (size_t)n, &f));
	ASSERT_EQ(0, remus_end_parse(&f, &end));
	ASSERT_EQ(1, end.records);
	ASSERT_EQ(8, end.bytes);
	pair_fini(&x);
	return 0;
}

static int heartbeat_and_bye_round_trip(void)
{
	struct remus_heartbeat hb = { 123456789, 42 }, got;
	struct remus_frame f;
	struct pair x;
	uint32_t reason;
	ssize_t n;

	ASSERT_EQ(0, pair_init(&x, REMUS_WIRE_AUTH_MAC, REMUS_WIRE_AUTH_MAC, 0, 0));
	remus_heartbeat_put(fr + REMUS_WIRE_HDR_LEN, &hb);
	n = remus_wire_seal(&x.b, REMUS_REC_HEARTBEAT, 9, fr, REMUS_HEARTBEAT_LEN, frcap);
	ASSERT_EQ(1, deliver(&x.p, fr, (size_t)n, &f));
	ASSERT_EQ(0, remus_heartbeat_parse(&f, &got));
	ASSERT_EQ(hb.sent_ns, got.sent_ns);
	ASSERT_EQ(hb.echo_ns, got.echo_ns);
	ASSERT_EQ(9, f.epoch);
	/* heartbeat and ack share "holds through": no going back */
	ASSERT_EQ(-ERANGE, remus_wire_seal(&x.b, REMUS_REC_ACK, 8, fr, 0, frcap));
	remus_bye_put(fr + REMUS_WIRE_HDR_LEN, ECONNRESET);
	n = remus_wire_seal(&x.b, REMUS_REC_BYE, 9, fr, REMUS_BYE_LEN, frcap);
	ASSERT_EQ(1, deliver(&x.p, fr, (size_t)n, &f));
	ASSERT_EQ(0, remus_bye_parse(&f, &reason));
	ASSERT_EQ(ECONNRESET, reason);
	pair_fini(&x);
	return 0;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0)
		return -errno;
	fchmod(fd, mode);
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static int key_file_load(void)
{
	char dir[] = "/tmp/remus-keyXXXXXX", path[64];
	char hex[2 * REMUS_WIRE_KEY_LEN + 2];
	uint8_t got[REMUS_WIRE_KEY_LEN];

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/psk", dir);
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	strcat(hex, "\n");

	ASSERT_EQ(0, write_file(path, hex, strlen(hex), 0600));
	ASSERT_EQ(0, remus_wire_key_load(path, got));
	ASSERT_MEM(key, got, sizeof(key));
	ASSERT_EQ(0, write_file(path, hex, strlen(hex) - 1, 0400));
	ASSERT_EQ(0, remus_wire_key_load(path, got));
	ASSERT_EQ(0, write_file(path, key2, sizeof(key2), 0600));
	ASSERT_EQ(0, remus_wire_key_load(path, got));
	ASSERT_MEM(key2, got, sizeof(key2));

	ASSERT_EQ(0, write_file(path, hex, strlen(hex), 0644));
	ASSERT_EQ(-EACCES, remus_wire_key_load(path, got));
	hex[10] = 'g';
	ASSERT_EQ(0, write_file(path, hex, strlen(hex), 0600));
	ASSERT_EQ(-EBADMSG, remus_wire_key_load(path, got));
	ASSERT_EQ(0, write_file(path, "abcd\n", 5, 0600));
	ASSERT_EQ(-EBADMSG, remus_wire_key_load(path, got));
	ASSERT_EQ(0, write_file(path, "", 0, 0600));
	ASSERT_EQ(-EBADMSG, remus_wire_key_load(path, got));
	unlink(path);
	ASSERT_EQ(-ENOENT, remus_wire_key_load(path, got));
	rmdir(dir);
	return 0;
}

static const struct tcase tests[] = {
	TCASE(handshake_mac),
	TCASE(handshake_aead_encrypts_bodies),
	TCASE(nokey_mode_is_explicit),
	TCASE(reject_closes_session),
	TCASE(hello_geometry_checked),
	TCASE(checkpoints_every_codec_and_mode),
	TCASE(stream_byte_at_a_time),
	TCASE(stream_random_chunks),
	TCASE(stream_whole),
	TCASE(zero_copy_reads_stop_at_frame_end),
	TCASE(truncated_frame_is_held_not_delivered),
	TCASE(rejects_bad_magic),
	TCASE(rejects_bad_version),
	TCASE(rejects_reserved_bits),
	TCASE(rejects_unknown_core_type),
	TCASE(rejects_length_over_limit),
	TCASE(rejects_length_wrong_for_type),
	TCASE(rejects_any_flipped_byte_mac),
	TCASE(rejects_flipped_byte_aead),
	TCASE(rejects_bad_checksum_nokey),
	TCASE(rejects_replayed_frame),
	TCASE(rejects_skipped_frame),
	TCASE(rejects_other_session),
	TCASE(rejects_reflected_frame),
	TCASE(rejects_old_session_replayed),
	TCASE(rejects_wrong_key),
	TCASE(rejects_auth_mode_mismatch),
	TCASE(rejects_sealed_flag_not_negotiated),
	TCASE(rejects_epoch_going_backwards),
	TCASE(rejects_counts_inconsistent_with_length),
	TCASE(rejects_disk_and_state_inconsistent),
	TCASE(rejects_end_not_matching_checkpoint),
	TCASE(rejects_records_out_of_phase),
	TCASE(sender_limits),
	TCASE(extension_records),
	TCASE(heartbeat_and_bye_round_trip),
	TCASE(key_file_load),
};

int main(void)
{
	frcap = REMUS_WIRE_OVERHEAD + REMUS_WIRE_BODY_DEFAULT;
	fr = malloc(frcap);
	if (!fr || sodium_init() < 0)
		return 1;
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
