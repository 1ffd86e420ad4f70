// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The replication link's wire layer: framing, authentication, encryption,
 * and the record bodies the epoch engine exchanges. docs/stream.md is the
 * byte-level specification; this header is the API.
 *
 * One struct remus_wire is one end of one session (one TCP connection).
 *
 *   primary                                  backup
 *   remus_wire_init(PRIMARY)                  remus_wire_init(BACKUP)
 *   remus_wire_hello()       -- HELLO -->     remus_wire_rx_*() -> HELLO
 *                                             remus_wire_accept() (or _reject())
 *   remus_wire_rx_*() <-     -- HELLO_ACK --
 *   per checkpoint e:
 *     remus_batch_seal(PAGES/DISK), remus_wire_seal(STATE, ...)
 *     remus_wire_end(e)       -- ... END e -> remus_wire_rx_*() checks END e
 *   remus_wire_rx_*() <-      -- ACK e --     remus_wire_seal(ACK, e)
 *   HEARTBEAT both ways, BYE to stop.
 *
 * Frames: 48-byte header, body, 16-byte tag. The tag is a Poly1305 MAC
 * (XChaCha20-Poly1305 with the frame as associated data; pre-shared key,
 * per-session and per-direction subkeys, the sequence number in the
 * nonce), the same AEAD's tag over the encrypted body when encryption was
 * negotiated, or an unkeyed BLAKE2b checksum in the explicit no-key mode (REMUS_WIRE_AUTH_NONE,
 * which callers should report as "unauthenticated").
 *
 * Errors (negative errno). The receive side's errors are sticky: a byte
 * stream cannot resynchronise, so after one the session is over.
 *
 *   -EBADMSG          bad magic, reserved bits or bytes set, type 0, a body
 *                     length or count inconsistent with the record type,
 *                     no-key checksum mismatch, END that does not match the
 *                     checkpoint's records
 *   -EPROTONOSUPPORT  header version is not REMUS_WIRE_VERSION
 *   -EMSGSIZE         body longer than the receiver's max_body
 *   -EOPNOTSUPP       unknown core record type (< REMUS_REC_EXT_CKPT)
 *   -EXDEV            frame claims to come from our own side (reflected)
 *   -ESTALE           frame belongs to another session (session id)
 *   -EKEYREJECTED     MAC or AEAD tag does not verify (forged, modified,
 *                     wrong key); no-key frame on a keyed session
 *                     (downgrade); SEALED flag not as negotiated
 *   -ENOKEY           keyed frame on a no-key session
 *   -EALREADY         sequence number already seen (replay)
 *   -EILSEQ           sequence number skips ahead (a frame went missing)
 *   -ERANGE           epoch goes backwards where the type forbids it
 *   -EPROTO           record not allowed now: wrong phase or direction,
 *                     codec or feature not negotiated, frame after BYE or
 *                     REJECT
 *   -ENOMEM           receive buffer could not grow
 *
 * Epoch rules (both directions, checked on send and on receive):
 *   - checkpoint records (PAGES, STATE, DISK, END and extension types
 *     0x80..0xbf) carry the epoch of the checkpoint they belong to; the
 *     first one after an END opens the next checkpoint, whose epoch must
 *     be greater than the last END's; all others until END must carry that
 *     same epoch; END closes it. The first checkpoint's epoch must be at
 *     least HELLO's start_epoch.
 *   - ACK, HEARTBEAT and BYE carry "holds through epoch N": never less than
 *     the previous such value in the same direction (repeats allowed).
 *   - HELLO, HELLO_ACK, REJECT and control extensions (0xc0..0xff): free.
 *
 * Threads: the send side (remus_wire_hello/accept/reject/seal/end,
 * remus_batch_seal) touches only w->tx and the receive side
 * (remus_wire_rx_*) only w->rx, so one thread may send while another
 * receives, once the handshake has completed.
 */
#ifndef REMUS_WIRE_H
#define REMUS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#include "compress.h"
#include "delta.h"

#define REMUS_WIRE_MAGIC	0x57534d52u	/* "RMSW" */
#define REMUS_WIRE_VERSION	1
#define REMUS_WIRE_HDR_LEN	48
#define REMUS_WIRE_TAG_LEN	16
#define REMUS_WIRE_OVERHEAD	(REMUS_WIRE_HDR_LEN + REMUS_WIRE_TAG_LEN)
#define REMUS_WIRE_KEY_LEN	32
#define REMUS_WIRE_SID_LEN	16

/* Bounds on a body; each end announces its own max_body in the handshake. */
#define REMUS_WIRE_BODY_MIN		(64u << 10)
#define REMUS_WIRE_BODY_DEFAULT		(8u << 20)
#define REMUS_WIRE_BODY_LIMIT		(256u << 20)

/* Record types. 0x80..0xbf: engine-defined checkpoint records (epoch rule,
 * counted by END, primary to backup); 0xc0..0xff: engine-defined control
 * records (either direction, no epoch rule). Both need the data phase and
 * are delivered unparsed. */
enum remus_rec {
	REMUS_REC_HELLO = 1,
	REMUS_REC_HELLO_ACK = 2,
	REMUS_REC_REJECT = 3,
	REMUS_REC_PAGES = 4,
	REMUS_REC_STATE = 5,
	REMUS_REC_DISK = 6,
	REMUS_REC_END = 7,
	REMUS_REC_ACK = 8,
	REMUS_REC_HEARTBEAT = 9,
	REMUS_REC_BYE = 10,
	REMUS_REC_CORE_MAX = REMUS_REC_BYE,
	REMUS_REC_EXT_CKPT = 0x80,
	REMUS_REC_EXT_CTRL = 0xc0,
};

/* Header flags. */
#define REMUS_WF_BACKUP		0x0001	/* sent by the backup */
#define REMUS_WF_NOKEY		0x0002	/* tag is an unkeyed checksum */
#define REMUS_WF_SEALED		0x0004	/* body encrypted (AEAD) */
#define REMUS_WF_MASK		0x0007

/* HELLO features. */
#define REMUS_FEAT_DELTA	0x0001	/* XOR-RLE pages (delta.h) */
#define REMUS_FEAT_AEAD		0x0002	/* bodies encrypted */
#define REMUS_FEAT_MASK		0x0003

#define REMUS_HELLO_MAX_REGIONS	64
#define REMUS_REJECT_TEXT_MAX	256

enum remus_wire_role {
	REMUS_WIRE_PRIMARY = 1,
	REMUS_WIRE_BACKUP = 2,
};

/* Zero-initialised means MAC, which needs a key: no key is never implied. */
enum remus_wire_auth {
	REMUS_WIRE_AUTH_MAC = 0,	/* Poly1305 MAC on every frame */
	REMUS_WIRE_AUTH_AEAD = 1,	/* ask for XChaCha20-Poly1305 */
	REMUS_WIRE_AUTH_NONE = 2,	/* explicit: checksum only */
};

enum remus_wire_phase {
	REMUS_WIRE_HANDSHAKE = 0,
	REMUS_WIRE_DATA = 1,
	REMUS_WIRE_CLOSED = 2,	/* REJECT sent or received */
};

struct remus_wire_cfg {
	enum remus_wire_role role;
	enum remus_wire_auth auth;
	const uint8_t *key;	/* REMUS_WIRE_KEY_LEN bytes; NULL iff AUTH_NONE */
	uint32_t max_body;	/* largest body we accept; 0 = default */
	uint32_t codecs;	/* REMUS_CODEC_BIT set we offer/accept; 0 = all */
	uint32_t features;	/* REMUS_FEAT_DELTA we offer/accept */
};

struct remus_region {
	uint64_t first_pfn;
	uint64_t nr_pages;
};

/* HELLO: the primary's offer and the guest's geometry. */
struct remus_hello {
	uint32_t page_size;	/* power of two, delta.h's range */
	uint32_t nr_regions;	/* 1..REMUS_HELLO_MAX_REGIONS */
	uint64_t nr_pages;	/* sum of the regions' nr_pages */
	uint64_t start_epoch;	/* first checkpoint's epoch is >= this, >= 1 */
	uint32_t codecs;	/* filled by remus_wire_hello() from cfg */
	uint32_t features;	/* idem, plus AEAD when asked */
	uint32_t max_body;	/* idem */
	uint32_t cache_pages;	/* sender's delta cache, informational */
	/* sorted by first_pfn, not overlapping, none empty */
	struct remus_region regions[REMUS_HELLO_MAX_REGIONS];
};

/* HELLO_ACK: what the session runs with. */
struct remus_hello_ack {
	uint8_t nonce[16];	/* backup's fresh randomness, keys the session */
	uint32_t codecs;	/* codecs the primary may use: offered & accepted */
	uint32_t features;	/* DELTA if both, AEAD if either asked */
	uint32_t max_body;	/* backup's receive limit */
	uint64_t committed_epoch;	/* backup's newest committed checkpoint */
};

/* One verified frame. body is the plaintext, valid until the next
 * remus_wire_rx_space()/remus_wire_rx_feed() call. */
struct remus_frame {
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
	uint64_t epoch;
	const uint8_t *body;
	uint32_t len;
};

/* One direction's stream state. */
struct remus_wire_dir {
	uint8_t key[REMUS_WIRE_KEY_LEN];
	uint64_t seq;		/* next expected / next to send */
	uint64_t last_end;	/* newest closed checkpoint */
	uint64_t open_epoch;	/* valid when open */
	uint64_t last_ack;	/* newest ACK/HEARTBEAT/BYE epoch */
	bool open;		/* a checkpoint has records but no END yet */
	bool bye;
	/* the open checkpoint, for END */
	uint64_t records, pages, disk_writes, bytes;
	crypto_generichash_state digest;
};

struct remus_wire {
	enum remus_wire_role role;
	enum remus_wire_auth auth;
	enum remus_wire_phase phase;
	bool have_sid;
	bool aead;		/* negotiated */
	uint8_t psk[REMUS_WIRE_KEY_LEN];
	uint8_t sid[REMUS_WIRE_SID_LEN];
	uint32_t codecs, features;	/* ours, from cfg */
	uint32_t max_body;		/* ours */
	uint32_t peer_max_body;		/* what we may send */
	struct remus_hello hello;	/* the session's HELLO */
	struct remus_hello_ack ack;	/* and HELLO_ACK, once done */
	struct remus_wire_dir tx, rx;
	/* receive buffer: one frame at a time */
	uint8_t *buf;
	size_t buf_cap, have, need;
	bool delivered;
	int err;
};

/* ---- session ---- */

/* -EINVAL (bad role, auth, max_body, codec or feature bits), -ENOKEY (key
 * missing for MAC/AEAD, or given for NONE), -ENOMEM, -EIO (libsodium). */
int remus_wire_init(struct remus_wire *w, const struct remus_wire_cfg *cfg);
/* Wipes the keys. */
void remus_wire_fini(struct remus_wire *w);

/*
 * Read a pre-shared key file: REMUS_WIRE_KEY_LEN raw bytes, or twice that
 * many hex digits with an optional trailing newline. -EACCES when group or
 * others may read it, -EBADMSG for any other content, -errno from I/O.
 */
int remus_wire_key_load(const char *path, uint8_t key[REMUS_WIRE_KEY_LEN]);

/* True unless the session runs in the explicit no-key mode. */
bool remus_wire_authenticated(const struct remus_wire *w);
/* True once encryption was negotiated. */
bool remus_wire_encrypted(const struct remus_wire *w);

/* Bytes a frame buffer needs to hold the largest frame we may send
 * (valid once the handshake is done) or receive. */
size_t remus_wire_tx_frame_max(const struct remus_wire *w);
size_t remus_wire_rx_frame_max(const struct remus_wire *w);

/* ---- sending: each writes one whole frame into @frame and returns its
 * length, or -errno with nothing consumed (send errors are not sticky) ---- */

/* Primary: pick a fresh session id, fill @h's negotiable fields from cfg,
 * and frame HELLO. @h's geometry must be valid (-EINVAL). */
ssize_t remus_wire_hello(struct remus_wire *w, struct remus_hello *h,
			 void *frame, size_t cap);
/* Backup, after receiving HELLO: negotiate (result in w->ack, with
 * @committed_epoch), frame HELLO_ACK and enter the data phase. */
ssize_t remus_wire_accept(struct remus_wire *w, uint64_t committed_epoch,
			  void *frame, size_t cap);
/* Backup, after receiving HELLO: frame REJECT (@reason a positive errno,
 * @text may be NULL) and close the session. */
ssize_t remus_wire_reject(struct remus_wire *w, uint32_t reason,
			  const char *text, void *frame, size_t cap);

/*
 * Frame a record whose @body_len bytes of body the caller has already put
 * at @frame + REMUS_WIRE_HDR_LEN (no copy; encrypted in place). @frame
 * must hold REMUS_WIRE_OVERHEAD + body_len bytes (-ENOSPC). The body is
 * checked as the receiver will check it (-EBADMSG), and so are the phase,
 * direction (-EPROTO), epoch (-ERANGE) and size (-EMSGSIZE against the
 * peer's max_body). HELLO, HELLO_ACK, REJECT and END have their own
 * functions (-EINVAL here).
 */
ssize_t remus_wire_seal(struct remus_wire *w, uint8_t type, uint64_t epoch,
			void *frame, size_t body_len, size_t cap);
/* Convenience: copy @body in and seal. */
ssize_t remus_wire_send_body(struct remus_wire *w, uint8_t type,
			     uint64_t epoch, const void *body, size_t len,
			     void *frame, size_t cap);
/* Close checkpoint @epoch with END, filled from what was sealed since the
 * previous END (-ERANGE if that was another epoch's). */
ssize_t remus_wire_end(struct remus_wire *w, uint64_t epoch, void *frame,
		       size_t cap);

/* ---- receiving ---- */

/*
 * Zero-copy receive: *@p gets where the next bytes of the stream go and
 * the return value how many the decoder wants at most (never more than
 * the rest of the current frame, so a read() of that size never crosses
 * into the next frame). Then remus_wire_rx_commit() with the count
 * actually stored there: 1 and *@f set when a whole verified frame is in,
 * 0 when more bytes are needed, or -errno (sticky).
 */
ssize_t remus_wire_rx_space(struct remus_wire *w, void **p);
int remus_wire_rx_commit(struct remus_wire *w, size_t n,
			 struct remus_frame *f);
/*
 * Copying receive: take bytes from @data until one frame completes.
 * *@used says how many were taken. Returns as rx_commit.
 */
int remus_wire_rx_feed(struct remus_wire *w, const void *data, size_t len,
		       size_t *used, struct remus_frame *f);

/* Bytes of an incomplete frame held: nonzero at EOF means the peer
 * stopped mid-frame. */
size_t remus_wire_rx_partial(const struct remus_wire *w);

/* ---- record bodies (checked by the receive path already; these re-check) */

int remus_hello_parse(const struct remus_frame *f, struct remus_hello *h);
int remus_hello_ack_parse(const struct remus_frame *f,
			  struct remus_hello_ack *a);

struct remus_reject {
	uint32_t reason;
	uint32_t text_len;
	const char *text;	/* not NUL-terminated */
};
int remus_reject_parse(const struct remus_frame *f, struct remus_reject *r);

/* STATE: an opaque engine blob, in chunks when larger than a frame. */
#define REMUS_STATE_HDR_LEN	24
struct remus_state {
	uint32_t kind;		/* engine-defined, nonzero */
	uint64_t offset;	/* of this chunk in the whole blob */
	uint64_t total;		/* the whole blob's length */
	const uint8_t *data;
	uint32_t len;
};
/* Write the STATE header at @body (REMUS_STATE_HDR_LEN bytes); the chunk's
 * data follows it. */
void remus_state_hdr(void *body, uint32_t kind, uint64_t offset,
		     uint64_t total);
int remus_state_parse(const struct remus_frame *f, struct remus_state *s);

/* END: what the receive path verified against the checkpoint's records. */
struct remus_end {
	uint64_t records, pages, disk_writes, bytes;
	uint8_t digest[32];
};
int remus_end_parse(const struct remus_frame *f, struct remus_end *e);

#define REMUS_HEARTBEAT_LEN	16
struct remus_heartbeat {
	uint64_t sent_ns;	/* sender's CLOCK_MONOTONIC */
	uint64_t echo_ns;	/* newest sent_ns received from the peer, or 0 */
};
void remus_heartbeat_put(void *body, const struct remus_heartbeat *hb);
int remus_heartbeat_parse(const struct remus_frame *f,
			  struct remus_heartbeat *hb);

#define REMUS_BYE_LEN	8
void remus_bye_put(void *body, uint32_t reason);
int remus_bye_parse(const struct remus_frame *f, uint32_t *reason);

/* ---- PAGES and DISK batches ---- */

#define REMUS_BATCH_HDR_LEN	16
#define REMUS_BATCH_ENT_LEN	16
#define REMUS_SECTOR_SIZE	512u

/*
 * Sender side of a PAGES or DISK record. Pages are delta-encoded through
 * @cache when the session negotiated REMUS_FEAT_DELTA; the payload is
 * compressed with @cz's codec when the session negotiated it. A batch's
 * uncompressed body also fits the peer's max_body.
 */
struct remus_batch {
	uint8_t type;		/* REMUS_REC_PAGES or REMUS_REC_DISK */
	uint32_t page_size;
	size_t limit;		/* peer's max_body */
	struct remus_page_cache *cache;
	struct remus_compressor *cz;
	uint32_t count;
	size_t raw_len;
	uint8_t *ent;		/* count entries */
	uint8_t *raw;		/* raw_len bytes of payload */
	size_t ent_cap, raw_cap;
};

/* After the handshake. @cache may be NULL (no deltas), @cz may be NULL
 * (no compression). -EPROTO before the data phase, -ENOMEM. */
int remus_batch_init(struct remus_batch *b, const struct remus_wire *w,
		     uint8_t type, struct remus_page_cache *cache,
		     struct remus_compressor *cz);
void remus_batch_fini(struct remus_batch *b);
/* -ENOSPC: the batch is full, seal it and add again. -EINVAL for a pfn
 * outside the guest's regions. */
int remus_batch_add_page(struct remus_batch *b, const struct remus_wire *w,
			 uint64_t pfn, const void *page);
/* @len > 0, a multiple of REMUS_SECTOR_SIZE (-EINVAL). -ENOSPC as above. */
int remus_batch_add_disk(struct remus_batch *b, uint64_t sector,
			 const void *data, uint32_t len);
/* Compress, frame and empty the batch (-ENODATA when empty). */
ssize_t remus_batch_seal(struct remus_wire *w, struct remus_batch *b,
			 uint64_t epoch, void *frame, size_t cap);

/* Receiver side: decompresses a batch body into its own scratch buffer. */
struct remus_batch_reader {
	struct remus_compressor *cz;
	uint8_t *scratch;
	size_t scratch_cap;
	/* the open batch */
	uint8_t type;
	uint32_t count, next;
	const uint8_t *ent;
	const uint8_t *data;
	size_t off;
};

struct remus_batch_item {
	uint64_t where;		/* pfn, or sector */
	unsigned int kind;	/* enum remus_page_kind; 0 for DISK */
	const uint8_t *data;
	uint32_t len;
};

/* @cz may be NULL when the session negotiated no codec. */
int remus_batch_reader_init(struct remus_batch_reader *r,
			    const struct remus_wire *w,
			    struct remus_compressor *cz);
void remus_batch_reader_fini(struct remus_batch_reader *r);
/* Open a received PAGES or DISK frame. -EBADMSG, -EPROTO (codec not
 * negotiated), -EINVAL (other type). */
int remus_batch_open(struct remus_batch_reader *r, const struct remus_wire *w,
		     const struct remus_frame *f);
/* 1 and *@it, or 0 at the end. For PAGES, hand @it to remus_delta_apply()
 * with the receiver's newest copy of page it->where. */
int remus_batch_next(struct remus_batch_reader *r, struct remus_batch_item *it);

/* The receive path's body check, exposed for tools and fuzzers. */
int remus_wire_body_check(const struct remus_wire *w, uint8_t type,
			  const uint8_t *body, size_t len);

#endif /* REMUS_WIRE_H */
