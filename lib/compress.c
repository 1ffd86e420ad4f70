// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Batch payload compression over zlib, lz4 and zstd, with exact-length,
 * bounded-output decoding and per-direction counters.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lz4.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "compress.h"

/* zlib level 1 and zstd level 1: checkpoints are latency-bound. */
#define ZLIB_LEVEL_DEFAULT	1
#define ZSTD_LEVEL_DEFAULT	1
/* One-shot zstd decoding uses @dst as its window; refuse frames that ask
 * for more than the largest payload anyway. */
#define ZSTD_WINDOWLOG_MAX	30

static const char *const codec_names[] = {
	[REMUS_CODEC_NONE] = "none",
	[REMUS_CODEC_ZLIB] = "zlib",
	[REMUS_CODEC_LZ4] = "lz4",
	[REMUS_CODEC_ZSTD] = "zstd",
};

const char *remus_codec_name(enum remus_codec codec)
{
	if ((unsigned int)codec > REMUS_CODEC_MAX)
		return NULL;
	return codec_names[codec];
}

int remus_codec_parse(const char *name)
{
	for (int i = 0; i <= REMUS_CODEC_MAX; i++)
		if (!strcmp(name, codec_names[i]))
			return i;
	return -EINVAL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int remus_compressor_init(struct remus_compressor *c, enum remus_codec codec,
			  int level)
{
	memset(c, 0, sizeof(*c));
	if ((unsigned int)codec > REMUS_CODEC_MAX)
		return -EINVAL;
	c->codec = codec;
	c->level = level;
	return 0;
}

void remus_compressor_fini(struct remus_compressor *c)
{
	if (c->zdef) {
		deflateEnd(c->zdef);
		free(c->zdef);
	}
	if (c->zinf) {
		inflateEnd(c->zinf);
		free(c->zinf);
	}
	free(c->lz4);
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	memset(c, 0, sizeof(*c));
}

static int zlib_compress(struct remus_compressor *c, const void *src,
			 size_t len, void *dst, size_t cap, size_t *out)
{
	z_stream *z = c->zdef;
	int ret;

	if (!z) {
		z = calloc(1, sizeof(*z));
		if (!z)
			return -ENOMEM;
		if (deflateInit(z, c->level ? c->level : ZLIB_LEVEL_DEFAULT) !=
		    Z_OK) {
			free(z);
			return -ENOMEM;
		}
		c->zdef = z;
	} else if (deflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)src;
	z->avail_in = (uInt)len;
	z->next_out = dst;
	z->avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
	ret = deflate(z, Z_FINISH);
	if (ret == Z_OK || ret == Z_BUF_ERROR)
		return -ENOSPC;
	if (ret != Z_STREAM_END)
		return -EIO;
	*out = z->total_out;
	return 0;
}

static int lz4_compress(struct remus_compressor *c, const void *src,
			size_t len, void *dst, size_t cap, size_t *out)
{
	int n;

	if (!c->lz4) {
		c->lz4 = malloc((size_t)LZ4_sizeofState());
		if (!c->lz4)
			return -ENOMEM;
	}
	if (len > LZ4_MAX_INPUT_SIZE)
		return -EINVAL;
	n = LZ4_compress_fast_extState(c->lz4, src, dst, (int)len,
				       cap > INT_MAX ? INT_MAX : (int)cap,
				       c->level > 0 ? c->level : 1);
	if (n <= 0)
		return -ENOSPC;
	*out = (size_t)n;
	return 0;
}

static int zstd_compress(struct remus_compressor *c, const void *src,
			 size_t len, void *dst, size_t cap, size_t *out)
{
	size_t n;

	if (!c->zc) {
		c->zc = ZSTD_createCCtx();
		if (!c->zc)
			return -ENOMEM;
	}
	n = ZSTD_compressCCtx(c->zc, dst, cap, src, len,
			      c->level ? c->level : ZSTD_LEVEL_DEFAULT);
	if (ZSTD_isError(n)) {
		if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
			return -ENOSPC;
		return -EIO;
	}
	*out = n;
	return 0;
}

int remus_compress(struct remus_compressor *c, const void *src, size_t len,
		   void *dst, size_t cap, size_t *out_len)
{
	uint64_t t0 = now_ns();
	/* Output that does not shrink is useless; cap it just under @len. */
	size_t room = len ? len - 1 : 0;
	int codec = c->codec, err = -ENOSPC;

	if (len > REMUS_COMPRESS_MAX)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	if (room > cap)
		room = cap;

	switch (codec) {
	case REMUS_CODEC_ZLIB:
		err = zlib_compress(c, src, len, dst, room, out_len);
		break;
	case REMUS_CODEC_LZ4:
		err = lz4_compress(c, src, len, dst, room, out_len);
		break;
	case REMUS_CODEC_ZSTD:
		err = zstd_compress(c, src, len, dst, room, out_len);
		break;
	case REMUS_CODEC_NONE:
		break;
	default:
		return -EINVAL;
	}
	if (err && err != -ENOSPC)
		return err;
	if (err) {
		if (codec != REMUS_CODEC_NONE)
			c->tx.fallbacks++;
		memcpy(dst, src, len);
		*out_len = len;
		codec = REMUS_CODEC_NONE;
	}
	c->tx.calls++;
	c->tx.in_bytes += len;
	c->tx.out_bytes += *out_len;
	c->tx.nsec += now_ns() - t0;
	return codec;
}

static int zlib_decompress(struct remus_compressor *c, const void *src,
			   size_t len, void *dst, size_t raw_len)
{
	z_stream *z = c->zinf;
	int ret;

	if (!z) {
		z = calloc(1, sizeof(*z));
		if (!z)
			return -ENOMEM;
		if (inflateInit(z) != Z_OK) {
			free(z);
			return -ENOMEM;
		}
		c->zinf = z;
	} else if (inflateReset(z) != Z_OK) {
		return -EIO;
	}
	if (len > UINT_MAX || raw_len > UINT_MAX)
		return -EBADMSG;
	z->next_in = (Bytef *)src;
	z->avail_in = (uInt)len;
	z->next_out = dst;
	z->avail_out = (uInt)raw_len;
	ret = inflate(z, Z_FINISH);
	if (ret == Z_MEM_ERROR)
		return -ENOMEM;
	/* Exactly the whole input into exactly the whole output. */
	if (ret != Z_STREAM_END || z->avail_in || z->avail_out)
		return -EBADMSG;
	return 0;
}

static int zstd_decompress(struct remus_compressor *c, const void *src,
			   size_t len, void *dst, size_t raw_len)
{
	size_t n;

	if (!c->zd) {
		c->zd = ZSTD_createDCtx();
		if (!c->zd)
			return -ENOMEM;
		ZSTD_DCtx_setParameter(c->zd, ZSTD_d_windowLogMax,
				       ZSTD_WINDOWLOG_MAX);
	}
	/* A frame that is a valid prefix followed by junk must not pass. */
	if (ZSTD_findFrameCompressedSize(src, len) != len)
		return -EBADMSG;
	n = ZSTD_decompressDCtx(c->zd, dst, raw_len, src, len);
	if (ZSTD_isError(n)) {
		if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
			return -ENOMEM;
		return -EBADMSG;
	}
	return n == raw_len ? 0 : -EBADMSG;
}

int remus_decompress(struct remus_compressor *c, enum remus_codec codec,
		     const void *src, size_t len, void *dst, size_t raw_len)
{
	uint64_t t0 = now_ns();
	int err, n;

	if (len > REMUS_COMPRESS_MAX || raw_len > REMUS_COMPRESS_MAX)
		return -EBADMSG;
	switch (codec) {
	case REMUS_CODEC_NONE:
		if (len != raw_len)
			return -EBADMSG;
		memcpy(dst, src, len);
		err = 0;
		break;
	case REMUS_CODEC_ZLIB:
		err = zlib_decompress(c, src, len, dst, raw_len);
		break;
	case REMUS_CODEC_LZ4:
		/* LZ4 cannot produce nothing from a valid block. */
		if (!len || !raw_len) {
			err = -EBADMSG;
			break;
		}
		n = LZ4_decompress_safe(src, dst, (int)len, (int)raw_len);
		err = n == (int)raw_len ? 0 : -EBADMSG;
		break;
	case REMUS_CODEC_ZSTD:
		err = zstd_decompress(c, src, len, dst, raw_len);
		break;
	default:
		return -EINVAL;
	}
	if (err)
		return err;
	c->rx.calls++;
	c->rx.in_bytes += len;
	c->rx.out_bytes += raw_len;
	c->rx.nsec += now_ns() - t0;
	return 0;
}

void remus_compress_stats_take(struct remus_compressor *c,
			       struct remus_codec_stats *tx,
			       struct remus_codec_stats *rx)
{
	if (tx)
		*tx = c->tx;
	if (rx)
		*rx = c->rx;
	memset(&c->tx, 0, sizeof(c->tx));
	memset(&c->rx, 0, sizeof(c->rx));
}
