// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Framing, keys, tags and the incremental decoder of the replication link.
 *
 * Keys. The pre-shared key never tags a frame itself. HELLO, HELLO_ACK and
 * REJECT are tagged with handshake keys bound to the session id and the
 * direction; everything after the handshake with data keys that also bind
 * the backup's fresh nonce from HELLO_ACK. So a whole old session replayed
 * at a backup gets a new nonce and fails at its first data frame, a frame
 * reflected back to its sender fails (direction), and a frame from another
 * session fails (session id), besides the header checks that name each
 * case with its own error first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire_priv.h"

#define DIR_PRIMARY	0
#define DIR_BACKUP	1
/* Pre-authentication frames are tiny; this caps what a peer that holds
 * no key can make the receiver allocate before the handshake. */
#define HELLO_MAX_LEN	(HELLO_FIXED_LEN + 16 * REMUS_HELLO_MAX_REGIONS)

static const char label_hs[] = "remus-wire-v1 handshake";
static const char label_data[] = "remus-wire-v1 data";

int remus_wire_init(struct remus_wire *w, const struct remus_wire_cfg *cfg)
{
	memset(w, 0, sizeof(*w));
	if (cfg->role != REMUS_WIRE_PRIMARY && cfg->role != REMUS_WIRE_BACKUP)
		return -EINVAL;
	if (cfg->auth > REMUS_WIRE_AUTH_NONE)
		return -EINVAL;
	if ((cfg->auth == REMUS_WIRE_AUTH_NONE) != !cfg->key)
		return -ENOKEY;
	if (cfg->max_body && (cfg->max_body < REMUS_WIRE_BODY_MIN ||
			      cfg->max_body > REMUS_WIRE_BODY_LIMIT))
		return -EINVAL;
	if (cfg->codecs & ~REMUS_CODECS_ALL ||
	    cfg->features & ~REMUS_FEAT_DELTA)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;

	w->role = cfg->role;
	w->auth = cfg->auth;
	if (cfg->key)
		memcpy(w->psk, cfg->key, sizeof(w->psk));
	w->max_body = cfg->max_body ? cfg->max_body : REMUS_WIRE_BODY_DEFAULT;
	w->peer_max_body = REMUS_WIRE_BODY_MIN;
	w->codecs = (cfg->codecs ? cfg->codecs : REMUS_CODECS_ALL) |
		    REMUS_CODEC_BIT(REMUS_CODEC_NONE);
	w->features = cfg->features;
	w->need = REMUS_WIRE_HDR_LEN;
	w->buf_cap = REMUS_WIRE_OVERHEAD + HELLO_MAX_LEN;
	w->buf = malloc(w->buf_cap);
	if (!w->buf)
		return -ENOMEM;
	return 0;
}

void remus_wire_fini(struct remus_wire *w)
{
	if (w->buf)
		sodium_memzero(w->buf, w->buf_cap);
	free(w->buf);
	sodium_memzero(w, sizeof(*w));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int remus_wire_key_load(const char *path, uint8_t key[REMUS_WIRE_KEY_LEN])
{
	uint8_t buf[2 * REMUS_WIRE_KEY_LEN + 2];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err = -EACCES;
		goto out;
	}
	/* One byte more than any valid file, to see a long one. */
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len == REMUS_WIRE_KEY_LEN) {
		memcpy(key, buf, REMUS_WIRE_KEY_LEN);
		goto out;
	}
	if (len == 2 * REMUS_WIRE_KEY_LEN + 1 && buf[len - 1] == '\n')
		len--;
	if (len != 2 * REMUS_WIRE_KEY_LEN) {
		err = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < REMUS_WIRE_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			err = -EBADMSG;
			sodium_memzero(key, REMUS_WIRE_KEY_LEN);
			goto out;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return err;
}

bool remus_wire_authenticated(const struct remus_wire *w)
{
	return w->auth != REMUS_WIRE_AUTH_NONE;
}

bool remus_wire_encrypted(const struct remus_wire *w)
{
	return w->aead;
}

size_t remus_wire_tx_frame_max(const struct remus_wire *w)
{
	return REMUS_WIRE_OVERHEAD + (size_t)w->peer_max_body;
}

size_t remus_wire_rx_frame_max(const struct remus_wire *w)
{
	return REMUS_WIRE_OVERHEAD + (size_t)w->max_body;
}

static void derive(const struct remus_wire *w, uint8_t out[REMUS_WIRE_KEY_LEN],
		   bool data, uint8_t dir)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, w->psk, sizeof(w->psk), REMUS_WIRE_KEY_LEN);
	if (data)
		crypto_generichash_update(&st, (const uint8_t *)label_data,
					  sizeof(label_data) - 1);
	else
		crypto_generichash_update(&st, (const uint8_t *)label_hs,
					  sizeof(label_hs) - 1);
	crypto_generichash_update(&st, w->sid, sizeof(w->sid));
	if (data)
		crypto_generichash_update(&st, w->ack.nonce,
					  sizeof(w->ack.nonce));
	crypto_generichash_update(&st, &dir, 1);
	crypto_generichash_final(&st, out, REMUS_WIRE_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

static uint8_t self_dir(const struct remus_wire *w)
{
	return w->role == REMUS_WIRE_BACKUP ? DIR_BACKUP : DIR_PRIMARY;
}

/* Both directions' keys for the phase being entered. */
static void set_keys(struct remus_wire *w, bool data)
{
	if (w->auth == REMUS_WIRE_AUTH_NONE)
		return;
	derive(w, w->tx.key, data, self_dir(w));
	derive(w, w->rx.key, data, self_dir(w) ^ 1);
}

static void make_nonce(uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES],
		       uint8_t dir, uint64_t seq)
{
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	n[0] = dir;
	put64(n + 16, seq);
}

/*
 * The tag of a frame that is not encrypted: @frame is the header with the
 * body right after it. Keyed, it is the Poly1305 tag of XChaCha20-Poly1305
 * with nothing to encrypt and the whole frame as associated data: the
 * AEAD's one-time key per (key, nonce) makes it a MAC, and Poly1305 runs
 * several times faster than keyed BLAKE2b. Without a key it is a plain
 * BLAKE2b-128 checksum.
 */
static void tag_make(const struct remus_wire *w, const uint8_t *key,
		     uint8_t dir, uint64_t seq, const uint8_t *frame,
		     size_t len, uint8_t tag[REMUS_WIRE_TAG_LEN])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t none[1];

	if (w->auth == REMUS_WIRE_AUTH_NONE) {
		crypto_generichash(tag, REMUS_WIRE_TAG_LEN, frame,
				   REMUS_WIRE_HDR_LEN + len, NULL, 0);
		return;
	}
	make_nonce(nonce, dir, seq);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		none, tag, NULL, none, 0, frame, REMUS_WIRE_HDR_LEN + len,
		NULL, nonce, key);
}

static bool tag_ok(const struct remus_wire *w, const uint8_t *key,
		   uint8_t dir, uint64_t seq, const uint8_t *frame, size_t len,
		   const uint8_t tag[REMUS_WIRE_TAG_LEN])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t want[REMUS_WIRE_TAG_LEN], none[1];

	if (w->auth == REMUS_WIRE_AUTH_NONE) {
		crypto_generichash(want, REMUS_WIRE_TAG_LEN, frame,
				   REMUS_WIRE_HDR_LEN + len, NULL, 0);
		return !crypto_verify_16(want, tag);
	}
	make_nonce(nonce, dir, seq);
	return !crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		none, NULL, none, 0, tag, frame, REMUS_WIRE_HDR_LEN + len,
		nonce, key);
}

static bool is_ckpt(uint8_t type)
{
	return type == REMUS_REC_PAGES || type == REMUS_REC_STATE ||
	       type == REMUS_REC_DISK || type == REMUS_REC_END ||
	       (type >= REMUS_REC_EXT_CKPT && type < REMUS_REC_EXT_CTRL);
}

static bool is_holds(uint8_t type)
{
	return type == REMUS_REC_ACK || type == REMUS_REC_HEARTBEAT ||
	       type == REMUS_REC_BYE;
}

/* May a frame of @type travel in direction @d (@dir) right now? */
static int allowed(const struct remus_wire *w,
		   const struct remus_wire_dir *d, uint8_t dir, uint8_t type)
{
	if (d->bye || w->phase == REMUS_WIRE_CLOSED)
		return -EPROTO;
	switch (type) {
	case REMUS_REC_HELLO:
		/* Only as the first frame of the session. */
		return dir == DIR_PRIMARY && !d->seq ? 0 : -EPROTO;
	case REMUS_REC_HELLO_ACK:
	case REMUS_REC_REJECT:
		return dir == DIR_BACKUP && !d->seq && w->have_sid &&
		       w->phase == REMUS_WIRE_HANDSHAKE ? 0 : -EPROTO;
	case REMUS_REC_ACK:
		if (dir != DIR_BACKUP)
			return -EPROTO;
		break;
	case REMUS_REC_HEARTBEAT:
	case REMUS_REC_BYE:
		break;
	default:
		if (is_ckpt(type) && dir != DIR_PRIMARY)
			return -EPROTO;
		break;
	}
	return w->phase == REMUS_WIRE_DATA ? 0 : -EPROTO;
}

static int epoch_rule(const struct remus_wire_dir *d, uint8_t type,
		      uint64_t epoch)
{
	if (is_ckpt(type)) {
		if (d->open)
			return epoch == d->open_epoch ? 0 : -ERANGE;
		return epoch > d->last_end ? 0 : -ERANGE;
	}
	if (is_holds(type))
		return epoch >= d->last_ack ? 0 : -ERANGE;
	return 0;
}

static void ckpt_open(struct remus_wire_dir *d, uint64_t epoch)
{
	d->open = true;
	d->open_epoch = epoch;
	d->records = d->pages = d->disk_writes = d->bytes = 0;
	crypto_generichash_init(&d->digest, NULL, 0, 32);
}

/* END's body for the open (or, with no record, empty) checkpoint. */
static void end_fill(const struct remus_wire_dir *d, uint8_t *b)
{
	crypto_generichash_state st;

	if (d->open) {
		st = d->digest;
	} else {
		crypto_generichash_init(&st, NULL, 0, 32);
	}
	put64(b, d->open ? d->records : 0);
	put64(b + 8, d->open ? d->pages : 0);
	put64(b + 16, d->open ? d->disk_writes : 0);
	put64(b + 24, d->open ? d->bytes : 0);
	crypto_generichash_final(&st, b + 32, 32);
}

/* The frame went out or came in: move the direction's state on. */
static void account(struct remus_wire_dir *d, uint8_t type, uint64_t epoch,
		    uint32_t count, size_t len, const uint8_t *tag)
{
	d->seq++;
	if (type == REMUS_REC_END) {
		d->open = false;
		d->last_end = epoch;
	} else if (is_ckpt(type)) {
		if (!d->open)
			ckpt_open(d, epoch);
		d->records++;
		d->bytes += len;
		if (type == REMUS_REC_PAGES)
			d->pages += count;
		else if (type == REMUS_REC_DISK)
			d->disk_writes += count;
		/* Chaining the tags digests the content they cover. */
		crypto_generichash_update(&d->digest, tag, REMUS_WIRE_TAG_LEN);
	} else if (is_holds(type)) {
		d->last_ack = epoch;
		if (type == REMUS_REC_BYE)
			d->bye = true;
	}
}

static uint32_t batch_count(uint8_t type, const uint8_t *body)
{
	if (type == REMUS_REC_PAGES || type == REMUS_REC_DISK)
		return remus_wire_batch_count(body);
	return 0;
}

static uint16_t frame_flags(const struct remus_wire *w)
{
	uint16_t flags = 0;

	if (w->role == REMUS_WIRE_BACKUP)
		flags |= REMUS_WF_BACKUP;
	if (w->auth == REMUS_WIRE_AUTH_NONE)
		flags |= REMUS_WF_NOKEY;
	if (w->aead && w->phase == REMUS_WIRE_DATA)
		flags |= REMUS_WF_SEALED;
	return flags;
}

static ssize_t seal_frame(struct remus_wire *w, uint8_t type, uint64_t epoch,
			  uint8_t *frame, size_t len, size_t cap)
{
	struct remus_wire_dir *d = &w->tx;
	uint8_t *body = frame + REMUS_WIRE_HDR_LEN, *tag = body + len;
	uint16_t flags = frame_flags(w);
	uint32_t count;
	int err;

	if (cap < REMUS_WIRE_OVERHEAD || len > cap - REMUS_WIRE_OVERHEAD)
		return -ENOSPC;
	if (len > w->peer_max_body)
		return -EMSGSIZE;
	err = allowed(w, d, self_dir(w), type);
	if (err)
		return err;
	if (d->seq == UINT64_MAX)
		return -EOVERFLOW;
	err = epoch_rule(d, type, epoch);
	if (err)
		return err;
	err = remus_wire_check_body(w, type, body, len, w->peer_max_body);
	if (err)
		return err;

	put32(frame + H_MAGIC, REMUS_WIRE_MAGIC);
	frame[H_VERSION] = REMUS_WIRE_VERSION;
	frame[H_TYPE] = type;
	put16(frame + H_FLAGS, flags);
	put32(frame + H_LEN, (uint32_t)len);
	put32(frame + H_RSVD, 0);
	memcpy(frame + H_SID, w->sid, sizeof(w->sid));
	put64(frame + H_SEQ, d->seq);
	put64(frame + H_EPOCH, epoch);

	/* Count before the body turns to ciphertext. */
	count = batch_count(type, body);
	if (flags & REMUS_WF_SEALED) {
		uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

		make_nonce(nonce, self_dir(w), d->seq);
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			body, tag, NULL, body, len, frame, REMUS_WIRE_HDR_LEN,
			NULL, nonce, d->key);
	} else {
		tag_make(w, d->key, self_dir(w), d->seq, frame, len, tag);
	}
	account(d, type, epoch, count, len, tag);
	return (ssize_t)(REMUS_WIRE_OVERHEAD + len);
}

ssize_t remus_wire_seal(struct remus_wire *w, uint8_t type, uint64_t epoch,
			void *frame, size_t body_len, size_t cap)
{
	if (type == REMUS_REC_HELLO || type == REMUS_REC_HELLO_ACK ||
	    type == REMUS_REC_REJECT || type == REMUS_REC_END)
		return -EINVAL;
	return seal_frame(w, type, epoch, frame, body_len, cap);
}

ssize_t remus_wire_send_body(struct remus_wire *w, uint8_t type,
			     uint64_t epoch, const void *body, size_t len,
			     void *frame, size_t cap)
{
	if (cap < REMUS_WIRE_OVERHEAD || len > cap - REMUS_WIRE_OVERHEAD)
		return -ENOSPC;
	if (len)
		memmove((uint8_t *)frame + REMUS_WIRE_HDR_LEN, body, len);
	return remus_wire_seal(w, type, epoch, frame, len, cap);
}

ssize_t remus_wire_end(struct remus_wire *w, uint64_t epoch, void *frame,
		       size_t cap)
{
	uint8_t *f = frame;

	if (cap < REMUS_WIRE_OVERHEAD + END_LEN)
		return -ENOSPC;
	end_fill(&w->tx, f + REMUS_WIRE_HDR_LEN);
	return seal_frame(w, REMUS_REC_END, epoch, f, END_LEN, cap);
}

static void hello_encode(uint8_t *b, const struct remus_hello *h)
{
	b[0] = REMUS_WIRE_PRIMARY;
	b[1] = 0;
	put16(b + 2, 0);
	put32(b + 4, h->page_size);
	put64(b + 8, h->nr_pages);
	put64(b + 16, h->start_epoch);
	put32(b + 24, h->codecs);
	put32(b + 28, h->features);
	put32(b + 32, h->max_body);
	put32(b + 36, h->cache_pages);
	put32(b + 40, h->nr_regions);
	put32(b + 44, 0);
	for (uint32_t i = 0; i < h->nr_regions; i++) {
		put64(b + 48 + 16 * i, h->regions[i].first_pfn);
		put64(b + 56 + 16 * i, h->regions[i].nr_pages);
	}
}

ssize_t remus_wire_hello(struct remus_wire *w, struct remus_hello *h,
			 void *frame, size_t cap)
{
	uint8_t *body = (uint8_t *)frame + REMUS_WIRE_HDR_LEN;
	size_t len;
	ssize_t n;

	if (w->role != REMUS_WIRE_PRIMARY)
		return -EINVAL;
	if (w->have_sid)
		return -EPROTO;
	if (h->nr_regions > REMUS_HELLO_MAX_REGIONS)
		return -EINVAL;
	len = HELLO_FIXED_LEN + 16 * (size_t)h->nr_regions;
	if (cap < REMUS_WIRE_OVERHEAD + len)
		return -ENOSPC;

	h->codecs = w->codecs;
	h->features = w->features |
		      (w->auth == REMUS_WIRE_AUTH_AEAD ? REMUS_FEAT_AEAD : 0);
	h->max_body = w->max_body;
	hello_encode(body, h);
	/* The receiver's own check is the definition of a valid geometry. */
	if (remus_wire_check_body(w, REMUS_REC_HELLO, body, len, HELLO_MAX_LEN))
		return -EINVAL;

	randombytes_buf(w->sid, sizeof(w->sid));
	w->have_sid = true;
	set_keys(w, false);
	w->hello = *h;
	w->tx.last_end = h->start_epoch - 1;
	n = seal_frame(w, REMUS_REC_HELLO, 0, frame, len, cap);
	if (n < 0)
		w->have_sid = false;
	return n;
}

ssize_t remus_wire_accept(struct remus_wire *w, uint64_t committed_epoch,
			  void *frame, size_t cap)
{
	uint8_t *b = (uint8_t *)frame + REMUS_WIRE_HDR_LEN;
	struct remus_hello_ack a = { 0 };
	ssize_t n;

	if (w->role != REMUS_WIRE_BACKUP)
		return -EINVAL;
	if (cap < REMUS_WIRE_OVERHEAD + HELLO_ACK_LEN)
		return -ENOSPC;
	randombytes_buf(a.nonce, sizeof(a.nonce));
	a.codecs = w->hello.codecs & w->codecs;
	a.features = w->hello.features & w->features & REMUS_FEAT_DELTA;
	if (w->hello.features & REMUS_FEAT_AEAD ||
	    w->auth == REMUS_WIRE_AUTH_AEAD)
		a.features |= REMUS_FEAT_AEAD;
	a.max_body = w->max_body;
	a.committed_epoch = committed_epoch;

	memcpy(b, a.nonce, sizeof(a.nonce));
	put32(b + 16, a.codecs);
	put32(b + 20, a.features);
	put32(b + 24, a.max_body);
	put32(b + 28, 0);
	put64(b + 32, a.committed_epoch);
	put64(b + 40, 0);
	n = seal_frame(w, REMUS_REC_HELLO_ACK, 0, frame, HELLO_ACK_LEN, cap);
	if (n < 0)
		return n;
	w->ack = a;
	w->aead = a.features & REMUS_FEAT_AEAD;
	w->phase = REMUS_WIRE_DATA;
	set_keys(w, true);
	return n;
}

ssize_t remus_wire_reject(struct remus_wire *w, uint32_t reason,
			  const char *text, void *frame, size_t cap)
{
	uint8_t *b = (uint8_t *)frame + REMUS_WIRE_HDR_LEN;
	size_t tlen = text ? strnlen(text, REMUS_REJECT_TEXT_MAX) : 0;
	ssize_t n;

	if (w->role != REMUS_WIRE_BACKUP)
		return -EINVAL;
	if (cap < REMUS_WIRE_OVERHEAD + REJECT_HDR_LEN + tlen)
		return -ENOSPC;
	put32(b, reason);
	put32(b + 4, (uint32_t)tlen);
	if (tlen)
		memcpy(b + REJECT_HDR_LEN, text, tlen);
	n = seal_frame(w, REMUS_REC_REJECT, 0, frame, REJECT_HDR_LEN + tlen,
		       cap);
	if (n >= 0)
		w->phase = REMUS_WIRE_CLOSED;
	return n;
}

/* ---- receiving ---- */

static int rx_fail(struct remus_wire *w, int err)
{
	w->err = err;
	return err;
}

/* Everything the 48 header bytes alone can refute, before the body is
 * waited for or room is made for it. */
static int rx_header(struct remus_wire *w)
{
	const uint8_t *h = w->buf;
	uint8_t type = h[H_TYPE];
	uint16_t flags = get16(h + H_FLAGS);
	uint32_t len = get32(h + H_LEN);
	uint8_t dir = flags & REMUS_WF_BACKUP ? DIR_BACKUP : DIR_PRIMARY;
	bool sealed = w->aead && w->phase == REMUS_WIRE_DATA;
	size_t need;
	int err;

	if (get32(h + H_MAGIC) != REMUS_WIRE_MAGIC)
		return -EBADMSG;
	if (h[H_VERSION] != REMUS_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (flags & ~REMUS_WF_MASK || get32(h + H_RSVD) || !type)
		return -EBADMSG;
	if (len > w->max_body)
		return -EMSGSIZE;
	if (type > REMUS_REC_CORE_MAX && type < REMUS_REC_EXT_CKPT)
		return -EOPNOTSUPP;
	if (dir == self_dir(w))
		return -EXDEV;
	if (flags & REMUS_WF_NOKEY && w->auth != REMUS_WIRE_AUTH_NONE)
		return -EKEYREJECTED;
	if (!(flags & REMUS_WF_NOKEY) && w->auth == REMUS_WIRE_AUTH_NONE)
		return -ENOKEY;
	if (w->have_sid && memcmp(h + H_SID, w->sid, sizeof(w->sid)))
		return -ESTALE;
	if (!!(flags & REMUS_WF_SEALED) != sealed)
		return -EKEYREJECTED;
	err = allowed(w, &w->rx, dir, type);
	if (err)
		return err;

	/* Fixed-size bodies: refuse a wrong length before reading it. */
	switch (type) {
	case REMUS_REC_HELLO:
		if (len < HELLO_FIXED_LEN || len > HELLO_MAX_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_HELLO_ACK:
		if (len != HELLO_ACK_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_REJECT:
		if (len < REJECT_HDR_LEN ||
		    len > REJECT_HDR_LEN + REMUS_REJECT_TEXT_MAX)
			return -EBADMSG;
		break;
	case REMUS_REC_END:
		if (len != END_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_ACK:
		if (len != ACK_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_HEARTBEAT:
		if (len != REMUS_HEARTBEAT_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_BYE:
		if (len != REMUS_BYE_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_PAGES:
	case REMUS_REC_DISK:
		if (len < REMUS_BATCH_HDR_LEN + REMUS_BATCH_ENT_LEN)
			return -EBADMSG;
		break;
	case REMUS_REC_STATE:
		if (len < REMUS_STATE_HDR_LEN)
			return -EBADMSG;
		break;
	}

	need = REMUS_WIRE_OVERHEAD + (size_t)len;
	if (need > w->buf_cap) {
		uint8_t *nb = realloc(w->buf, need);

		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->buf_cap = need;
	}
	w->need = need;
	return 0;
}

static int rx_frame(struct remus_wire *w, struct remus_frame *f)
{
	uint8_t *h = w->buf, *body = h + REMUS_WIRE_HDR_LEN;
	uint8_t type = h[H_TYPE];
	uint16_t flags = get16(h + H_FLAGS);
	uint32_t len = get32(h + H_LEN);
	uint64_t seq = get64(h + H_SEQ), epoch = get64(h + H_EPOCH);
	uint8_t *tag = body + len;
	uint8_t dir = self_dir(w) ^ 1;
	struct remus_wire_dir *d = &w->rx;
	int err;

	if (type == REMUS_REC_HELLO) {
		/* The backup learns the session from the HELLO it verifies. */
		memcpy(w->sid, h + H_SID, sizeof(w->sid));
		set_keys(w, false);
	}

	if (flags & REMUS_WF_SEALED) {
		uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

		make_nonce(nonce, dir, seq);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			    body, NULL, body, len, tag, h, REMUS_WIRE_HDR_LEN,
			    nonce, d->key))
			return -EKEYREJECTED;
	} else {
		if (!tag_ok(w, d->key, dir, seq, h, len, tag))
			return w->auth == REMUS_WIRE_AUTH_NONE ? -EBADMSG
							       : -EKEYREJECTED;
	}

	if (seq < d->seq)
		return -EALREADY;
	if (seq > d->seq)
		return -EILSEQ;
	err = epoch_rule(d, type, epoch);
	if (err)
		return err;
	err = remus_wire_check_body(w, type, body, len, w->max_body);
	if (err)
		return err;

	switch (type) {
	case REMUS_REC_HELLO:
		remus_hello_parse(&(struct remus_frame){ .type = type,
			.body = body, .len = len }, &w->hello);
		if (w->hello.features & REMUS_FEAT_AEAD &&
		    w->auth == REMUS_WIRE_AUTH_NONE)
			return -EPROTO;
		w->have_sid = true;
		w->peer_max_body = w->hello.max_body;
		d->last_end = w->hello.start_epoch - 1;
		break;
	case REMUS_REC_HELLO_ACK:
		remus_hello_ack_parse(&(struct remus_frame){ .type = type,
			.body = body, .len = len }, &w->ack);
		w->peer_max_body = w->ack.max_body;
		w->aead = w->ack.features & REMUS_FEAT_AEAD;
		break;
	case REMUS_REC_REJECT:
		w->phase = REMUS_WIRE_CLOSED;
		break;
	case REMUS_REC_END: {
		uint8_t expect[END_LEN];

		end_fill(d, expect);
		if (memcmp(expect, body, END_LEN))
			return -EBADMSG;
		break;
	}
	}
	account(d, type, epoch, batch_count(type, body), len, tag);
	if (type == REMUS_REC_HELLO_ACK) {
		w->phase = REMUS_WIRE_DATA;
		set_keys(w, true);
	}

	f->type = type;
	f->flags = flags;
	f->seq = seq;
	f->epoch = epoch;
	f->body = body;
	f->len = len;
	return 1;
}

ssize_t remus_wire_rx_space(struct remus_wire *w, void **p)
{
	if (w->err)
		return w->err;
	if (w->delivered) {
		w->delivered = false;
		w->have = 0;
		w->need = REMUS_WIRE_HDR_LEN;
	}
	*p = w->buf + w->have;
	return (ssize_t)(w->need - w->have);
}

int remus_wire_rx_commit(struct remus_wire *w, size_t n,
			 struct remus_frame *f)
{
	int err;

	if (w->err)
		return w->err;
	if (w->delivered || n > w->need - w->have)
		return -EINVAL;
	w->have += n;
	if (w->have < w->need)
		return 0;
	if (w->have == REMUS_WIRE_HDR_LEN) {
		err = rx_header(w);
		return err ? rx_fail(w, err) : 0;
	}
	err = rx_frame(w, f);
	if (err < 0)
		return rx_fail(w, err);
	w->delivered = true;
	return 1;
}

int remus_wire_rx_feed(struct remus_wire *w, const void *data, size_t len,
		       size_t *used, struct remus_frame *f)
{
	*used = 0;
	for (;;) {
		void *p = NULL;
		ssize_t room = remus_wire_rx_space(w, &p);
		size_t n;
		int ret;

		if (room < 0)
			return (int)room;
		n = len - *used;
		if (!n)
			return 0;
		if (n > (size_t)room)
			n = (size_t)room;
		memcpy(p, (const uint8_t *)data + *used, n);
		*used += n;
		ret = remus_wire_rx_commit(w, n, f);
		if (ret)
			return ret;
	}
}

size_t remus_wire_rx_partial(const struct remus_wire *w)
{
	return w->delivered ? 0 : w->have;
}
