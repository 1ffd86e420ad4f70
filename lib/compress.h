// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * General-purpose compression of a batch payload (the concatenated page
 * encodings of a PAGES record, the data of a DISK record).
 *
 * The codec is chosen per batch by the sender among those the receiver
 * accepted in HELLO_ACK, and named in the batch header, so a sender may
 * fall back to REMUS_CODEC_NONE for a batch that does not shrink. Every
 * payload carries its exact uncompressed length; the decoder writes at
 * most that many bytes and fails unless it produced exactly that many
 * from exactly the whole input.
 *
 *   codec   format on the wire
 *   none    the bytes themselves
 *   zlib    a zlib stream (RFC 1950: deflate with adler32)
 *   lz4     one LZ4 block (no frame header)
 *   zstd    one zstd frame
 */
#ifndef REMUS_COMPRESS_H
#define REMUS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum remus_codec {
	REMUS_CODEC_NONE = 0,
	REMUS_CODEC_ZLIB = 1,
	REMUS_CODEC_LZ4 = 2,
	REMUS_CODEC_ZSTD = 3,
	REMUS_CODEC_MAX = REMUS_CODEC_ZSTD,
};

/* Codec sets, as negotiated in HELLO: bit (1 << codec). */
#define REMUS_CODEC_BIT(c)	(1u << (c))
#define REMUS_CODECS_ALL	((1u << (REMUS_CODEC_MAX + 1)) - 1)

/* Largest payload one call handles: the wire's own limit is smaller. */
#define REMUS_COMPRESS_MAX	(1u << 30)

/* Counters for one direction; ratio = in_bytes / out_bytes. */
struct remus_codec_stats {
	uint64_t calls;
	uint64_t in_bytes;	/* bytes given to the codec */
	uint64_t out_bytes;	/* bytes it produced */
	uint64_t nsec;		/* CLOCK_MONOTONIC time inside the codec */
	uint64_t fallbacks;	/* compress: output did not fit, sent as none */
};

/*
 * One per thread that compresses or decompresses: it owns the codec
 * contexts (allocated on first use) and the counters.
 */
struct remus_compressor {
	enum remus_codec codec;	/* what remus_compress() produces */
	int level;		/* codec's own scale; 0 = codec default */
	struct remus_codec_stats tx, rx;
	void *zdef, *zinf;	/* z_stream */
	void *lz4;		/* LZ4 state */
	void *zc, *zd;		/* ZSTD_CCtx, ZSTD_DCtx */
};

/* -EINVAL for an unknown codec. Allocates nothing yet. */
int remus_compressor_init(struct remus_compressor *c, enum remus_codec codec,
			  int level);
void remus_compressor_fini(struct remus_compressor *c);

/* "none", "zlib", "lz4", "zstd"; NULL for an unknown value. */
const char *remus_codec_name(enum remus_codec codec);
/* Parse a name as above: the codec, or -EINVAL. */
int remus_codec_parse(const char *name);

/*
 * Compress @src into @dst (capacity @cap) with c->codec. Returns the codec
 * actually used: c->codec, or REMUS_CODEC_NONE (payload copied, counted as
 * a fallback) when the result would not be smaller than @len or would not
 * fit @cap. @cap must be at least @len so the fallback always fits
 * (-ENOSPC otherwise). *@out_len gets the payload length.
 * -ENOMEM, -EINVAL (len > REMUS_COMPRESS_MAX), -EIO (codec failure).
 */
int remus_compress(struct remus_compressor *c, const void *src, size_t len,
		   void *dst, size_t cap, size_t *out_len);

/*
 * Decompress @len bytes of @codec payload into @dst, which must come out
 * at exactly @raw_len bytes. -EBADMSG for any malformed, short, long or
 * trailing input; -EINVAL for an unknown codec; -ENOMEM.
 */
int remus_decompress(struct remus_compressor *c, enum remus_codec codec,
		     const void *src, size_t len, void *dst, size_t raw_len);

/* Copy out and zero both directions' counters (per-epoch reporting). */
void remus_compress_stats_take(struct remus_compressor *c,
			       struct remus_codec_stats *tx,
			       struct remus_codec_stats *rx);

#endif /* REMUS_COMPRESS_H */
