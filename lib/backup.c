// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The backup side: receive, verify, commit, acknowledge; detect the
 * primary's death and fail over. See backup.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backup.h"
#include "disk.h"
#include "link.h"

/* A disk in stage mode: the primary's log records go in, commits apply. */
struct bdisk {
	struct remus_disk_sel sel;
	struct remus_log log;
};

struct remus_backup {
	const struct remus_ctx *ctx;
	struct remus_nl nl;
	struct bdisk *disks;
	unsigned int nr_disks;
	struct remus_backup_info info;
	struct remus_backup_sink *sink;
	int lfd, stop_efd;
	atomic_bool stop;

	pthread_mutex_t lock;	/* status */
	const char *link;
	bool authenticated, encrypted;
	bool armed;		/* committed state exists, no goodbye since */
	bool have_committed;
	uint64_t committed;
	uint64_t checkpoints, sessions, rejected, last_bytes;
	uint64_t last_heard;	/* ns, a verified frame from the primary */
};

#define LOG(b, lvl, ...) remus_log((b)->ctx, REMUS_LOG_##lvl, __VA_ARGS__)

enum session_end {
	SESSION_BYE,		/* orderly stop of the primary */
	SESSION_LOST,		/* silence or connection closed: failover */
	SESSION_BROKEN,		/* bad stream: reset, wait for the primary */
	SESSION_STOP,		/* we were asked to stop */
};

void remus_backup_stop(struct remus_backup *b)
{
	uint64_t one = 1;
	ssize_t n;

	atomic_store(&b->stop, true);
	n = write(b->stop_efd, &one, sizeof(one));
	(void)n;
}

void remus_backup_status(struct remus_backup *b, struct remus_backup_status *st)
{
	uint64_t now = remus_now_ns();

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&b->lock);
	st->link = b->link;
	st->authenticated = b->authenticated;
	st->encrypted = b->encrypted;
	st->armed = b->armed;
	st->committed = b->committed;
	st->checkpoints = b->checkpoints;
	st->sessions = b->sessions;
	st->rejected = b->rejected;
	st->last_bytes = b->last_bytes;
	st->silence_ms = b->last_heard ? (now - b->last_heard) / 1000000 : 0;
	pthread_mutex_unlock(&b->lock);
}

static void set_link(struct remus_backup *b, const char *link)
{
	pthread_mutex_lock(&b->lock);
	b->link = link;
	pthread_mutex_unlock(&b->lock);
}

static void heard(struct remus_backup *b)
{
	pthread_mutex_lock(&b->lock);
	b->last_heard = remus_now_ns();
	pthread_mutex_unlock(&b->lock);
}

struct session {
	struct remus_backup *b;
	int fd;
	struct remus_wire w;
	struct remus_compressor cz;
	struct remus_batch_reader r;
	bool reader;
	uint8_t *frame;
	size_t cap;
	uint64_t open_epoch;	/* records staged for it, 0: none */
	uint64_t open_bytes;
	uint64_t hb_echo;
	uint8_t *scratch;	/* a decompressed blob chunk, cap bytes */
	uint64_t blob_next;	/* offset the next blob chunk must have */
	/* Heartbeats come from a thread of their own, so that a long commit
	 * never looks like a dead backup; sealing and writing is one step
	 * under txlock. */
	pthread_mutex_t txlock;
	pthread_cond_t txcond;
	uint64_t last_tx;
	uint64_t acked;		/* last ACK sent: heartbeats never say less */
	bool beating, beat_stop;
	pthread_t beater;
	uint8_t hbframe[REMUS_WIRE_OVERHEAD + REMUS_HEARTBEAT_LEN];
};

static int send_frame(struct session *s, ssize_t n)
{
	if (n < 0)
		return (int)n;
	return remus_link_write(s->fd, s->frame, (size_t)n,
				(int)s->b->info.timeout_ms);
}

static int send_heartbeat(struct session *s)
{
	struct remus_heartbeat hb = { .sent_ns = remus_now_ns(),
				      .echo_ns = s->hb_echo };
	uint8_t body[REMUS_HEARTBEAT_LEN];
	ssize_t n;
	int err;

	remus_heartbeat_put(body, &hb);
	pthread_mutex_lock(&s->txlock);
	n = remus_wire_send_body(&s->w, REMUS_REC_HEARTBEAT, s->acked,
				 body, sizeof(body), s->hbframe,
				 sizeof(s->hbframe));
	err = n < 0 ? (int)n :
	      remus_link_write(s->fd, s->hbframe, (size_t)n,
			       (int)s->b->info.timeout_ms);
	s->last_tx = remus_now_ns();
	pthread_mutex_unlock(&s->txlock);
	return err;
}

static void *beater_main(void *arg)
{
	struct session *s = arg;
	uint64_t hb = s->b->info.heartbeat_ms * 1000000ull;

	pthread_mutex_lock(&s->txlock);
	while (!s->beat_stop) {
		uint64_t now = remus_now_ns(), due = s->last_tx + hb;

		if (now < due) {
			remus_cond_wait_ns(&s->txcond, &s->txlock, due - now);
			continue;
		}
		pthread_mutex_unlock(&s->txlock);
		/* A write error shows up in the reader too: just stop. */
		if (send_heartbeat(s)) {
			pthread_mutex_lock(&s->txlock);
			break;
		}
		pthread_mutex_lock(&s->txlock);
	}
	pthread_mutex_unlock(&s->txlock);
	return NULL;
}

static void beater_stop(struct session *s)
{
	if (!s->beating)
		return;
	pthread_mutex_lock(&s->txlock);
	s->beat_stop = true;
	pthread_cond_broadcast(&s->txcond);
	pthread_mutex_unlock(&s->txlock);
	pthread_join(s->beater, NULL);
	s->beating = false;
}

/* A frame, or -ETIMEDOUT after the primary's silence; heartbeats go out
 * meanwhile. -ECANCELED when asked to stop. */
static int read_frame(struct session *s, struct remus_frame *f)
{
	struct remus_backup *b = s->b;
	uint64_t to = b->info.timeout_ms * 1000000ull;
	uint64_t start = remus_now_ns();

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s->fd, .events = POLLIN },
			{ .fd = b->stop_efd, .events = POLLIN },
		};
		uint64_t now = remus_now_ns();
		void *buf;
		ssize_t want, n;
		int ret;

		if (atomic_load(&b->stop))
			return -ECANCELED;
		if (now - start >= to)
			return -ETIMEDOUT;
		ret = poll(p, 2, (int)((start + to - now) / 1000000) + 1);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		want = remus_wire_rx_space(&s->w, &buf);
		if (want < 0)
			return (int)want;
		n = recv(s->fd, buf, (size_t)want, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		/* Bytes of a frame in progress count as life, too. */
		start = remus_now_ns();
		ret = remus_wire_rx_commit(&s->w, (size_t)n, f);
		if (ret)
			return ret;
	}
}

static void disks_discard(struct remus_backup *b);

static void discard_open(struct session *s)
{
	if (s->open_epoch) {
		LOG(s->b, WARN, "checkpoint %" PRIu64 " discarded: incomplete",
		    s->open_epoch);
		s->b->sink->ops->discard(s->b->sink);
		disks_discard(s->b);
	}
	s->open_epoch = 0;
	s->open_bytes = 0;
	s->blob_next = 0;
}

/*
 * What the primary is told when the sink refuses a session: what the
 * errno means from a sink (backup.h), which strerror() does not say.
 */
static const char *refusal(int err)
{
	switch (err) {
	case EINVAL:
		return "guest geometry does not match";
	case EBUSY:
		return "the backup's receiver holds another session's checkpoints";
	case ENODEV:
		return "the backup cannot restore this kind of guest here (not a Xen dom0?)";
	default:
		return "the backup's sink refused the session";
	}
}

static int handshake(struct session *s)
{
	struct remus_backup *b = s->b;
	struct remus_hello h;
	struct remus_frame f;
	int ret;

	ret = read_frame(s, &f);
	if (ret < 0)
		return ret;
	if (f.type != REMUS_REC_HELLO)
		return -EPROTO;
	ret = remus_hello_parse(&f, &h);
	if (ret)
		return ret;
	ret = b->sink->ops->hello(b->sink, &h);
	if (ret > 0) {
		LOG(b, ERR, "session refused: %s", strerror(ret));
		send_frame(s, remus_wire_reject(&s->w, (uint32_t)ret,
						refusal(ret), s->frame, s->cap));
		return -ECONNREFUSED;
	}
	if (ret < 0)
		return ret;
	ret = send_frame(s, remus_wire_accept(&s->w, b->committed, s->frame,
					      s->cap));
	if (ret)
		return ret;
	ret = remus_compressor_init(&s->cz, REMUS_CODEC_NONE, 0);
	if (ret)
		return ret;
	ret = remus_batch_reader_init(&s->r, &s->w, &s->cz);
	if (ret)
		return ret;
	s->reader = true;
	pthread_mutex_lock(&b->lock);
	b->sessions++;
	b->authenticated = remus_wire_authenticated(&s->w);
	b->encrypted = remus_wire_encrypted(&s->w);
	b->link = "up";
	pthread_mutex_unlock(&b->lock);
	LOG(b, NOTICE, "session with the primary up: %s, %s, %" PRIu64 " pages of %u bytes",
	    b->authenticated ? "authenticated" : "UNAUTHENTICATED (no key)",
	    b->encrypted ? "encrypted" : "not encrypted", h.nr_pages,
	    h.page_size);
	return 0;
}

static int batch(struct session *s, const struct remus_frame *f)
{
	struct remus_backup_sink *sink = s->b->sink;
	struct remus_batch_item it;
	int ret;

	ret = remus_batch_open(&s->r, &s->w, f);
	if (ret)
		return ret;
	while ((ret = remus_batch_next(&s->r, &it)) == 1) {
		if (f->type == REMUS_REC_PAGES)
			ret = sink->ops->page(sink, f->epoch, &it);
		else if (sink->ops->disk)
			ret = sink->ops->disk(sink, f->epoch, &it);
		else
			ret = -EPROTO;
		if (ret)
			return ret;
	}
	return ret;
}

/*
 * The primary's write-log records for one disk: checked whole, written
 * into the stage-mode target, which holds them until the commit.
 */
static int disklog(struct remus_backup *b, const struct remus_frame *f)
{
	const uint8_t *p = f->body + REMUS_DISKLOG_HDR_LEN;
	size_t len, off = 0, size;
	uint32_t idx;
	int ret;

	if (f->len < REMUS_DISKLOG_HDR_LEN)
		return -EBADMSG;
	memcpy(&idx, f->body, sizeof(idx));
	if (idx >= b->nr_disks) {
		LOG(b, ERR, "records for disk %u, but %u disks here", idx,
		    b->nr_disks);
		return -EBADMSG;
	}
	len = f->len - REMUS_DISKLOG_HDR_LEN;
	/* Never trust a length from the wire: walk and check every record. */
	while (off < len) {
		const struct remus_log_record *r = (const void *)(p + off);

		ret = remus_log_check(p + off, len - off, &size);
		if (ret)
			return ret;
		if (r->type != REMUS_LOG_BARRIER && r->epoch > f->epoch)
			return -EBADMSG;
		off += size;
	}
	return remus_log_write(&b->disks[idx].log, p, len);
}

static int disks_commit(struct remus_backup *b, uint64_t epoch)
{
	unsigned int i;
	int ret;

	for (i = 0; i < b->nr_disks; i++) {
		ret = remus_disk_commit(&b->nl, &b->disks[i].sel, epoch);
		if (ret) {
			LOG(b, ERR, "disk %s: commit %" PRIu64 ": %s%s%s",
			    b->disks[i].sel.name, epoch, strerror(-ret),
			    *remus_nl_errmsg(&b->nl) ? ": " : "",
			    remus_nl_errmsg(&b->nl));
			return ret;
		}
	}
	return 0;
}

static void disks_discard(struct remus_backup *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_disks; i++)
		remus_disk_discard(&b->nl, &b->disks[i].sel);
}

static int disks_open(struct remus_backup *b)
{
	struct remus_disk_info *di;
	unsigned int i;
	int ret;

	if (!b->info.nr_disks)
		return 0;
	ret = remus_nl_open(&b->nl);
	if (ret) {
		LOG(b, ERR, "disks need remus.ko: %s", strerror(-ret));
		return ret;
	}
	b->disks = calloc(b->info.nr_disks, sizeof(*b->disks));
	di = malloc(sizeof(*di));
	if (!b->disks || !di) {
		free(di);
		return -ENOMEM;
	}
	for (i = 0; i < b->info.nr_disks; i++) {
		struct bdisk *d = &b->disks[i];

		d->sel.name = b->info.disks[i];
		d->log.fd = -1;
		b->nr_disks = i + 1;
		ret = remus_disk_get(&b->nl, &d->sel, 0, di);
		if (!ret && di->buf.disk_mode != REMUS_DISK_STAGE)
			ret = -EINVAL;
		if (!ret)
			ret = remus_log_open(&d->log, NULL, &d->sel, O_WRONLY, 0);
		if (ret) {
			LOG(b, ERR, "disk %s: %s (the backup needs it in stage mode)",
			    d->sel.name, strerror(-ret));
			break;
		}
		/* What no commit covers is from a dead session. */
		remus_disk_discard(&b->nl, &d->sel);
	}
	free(di);
	return ret;
}

static void disks_close(struct remus_backup *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_disks; i++)
		if (b->disks[i].log.fd >= 0)
			remus_log_close(&b->disks[i].log);
	free(b->disks);
	if (b->info.nr_disks && b->nl.sock)
		remus_nl_close(&b->nl);
}

/* After failover the guest writes its disks itself. */
static void disks_release(struct remus_backup *b)
{
	uint32_t mode = REMUS_MODE_PASSTHROUGH;
	unsigned int i;

	for (i = 0; i < b->nr_disks; i++)
		if (remus_disk_set(&b->nl, &b->disks[i].sel, &mode, NULL, NULL))
			LOG(b, ERR, "disk %s: pass-through failed",
			    b->disks[i].sel.name);
}

/*
 * END verified: checkpoint epoch is whole here (and by the sink's own
 * format, where it has a verify op), and it is acked at once;
 * making it the committed state (folding the staged pages into the image,
 * the disk commit) follows in this same thread, before anything else is
 * read, so that a failover always finds it done and the primary's commit
 * latency does not include it.
 */
static int commit(struct session *s, uint64_t epoch)
{
	struct remus_backup *b = s->b;
	ssize_t n;
	int ret;

	if (b->sink->ops->verify) {
		ret = b->sink->ops->verify(b->sink, epoch);
		if (ret)
			return ret;
	}
	pthread_mutex_lock(&s->txlock);
	n = remus_wire_send_body(&s->w, REMUS_REC_ACK, epoch, NULL, 0,
				 s->frame, s->cap);
	ret = n < 0 ? (int)n :
	      remus_link_write(s->fd, s->frame, (size_t)n,
			       (int)b->info.timeout_ms);
	s->last_tx = remus_now_ns();
	if (!ret)
		s->acked = epoch;
	pthread_mutex_unlock(&s->txlock);
	if (ret)
		return ret;

	ret = b->sink->ops->commit(b->sink, epoch);
	if (!ret)
		ret = disks_commit(b, epoch);
	if (ret) {
		/* Acked but not kept: this backup cannot be trusted now. */
		LOG(b, ERR, "commit %" PRIu64 " after its ack: %s", epoch,
		    strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&b->lock);
	b->committed = epoch;
	b->have_committed = true;
	b->armed = true;
	b->checkpoints++;
	b->last_bytes = s->open_bytes;
	pthread_mutex_unlock(&b->lock);
	if (b->info.on_commit)
		b->info.on_commit(b->info.on_commit_data, epoch, s->open_bytes);
	s->open_epoch = 0;
	s->open_bytes = 0;
	return 0;
}

static int disklog(struct remus_backup *b, const struct remus_frame *f);

/*
 * A chunk of the state blob: decompressed (into exactly its raw length,
 * never more than a frame's worth) and handed to the sink in order.
 */
static int blob(struct session *s, const struct remus_frame *f)
{
	struct remus_backup_sink *sink = s->b->sink;
	struct remus_state st = { 0 };
	uint32_t raw;
	uint64_t off, total;
	uint8_t codec;
	int ret;

	if (f->len < REMUS_BLOB_HDR_LEN)
		return -EBADMSG;
	memcpy(&raw, f->body, 4);
	codec = f->body[4];
	memcpy(&off, f->body + 8, 8);
	memcpy(&total, f->body + 16, 8);
	if (f->body[6] || f->body[7] || !f->body[5] ||
	    codec > REMUS_CODEC_MAX || total > REMUS_BLOB_MAX ||
	    off > total || raw > total - off || raw > s->cap ||
	    off != s->blob_next)
		return -EBADMSG;
	ret = remus_decompress(&s->cz, codec, f->body + REMUS_BLOB_HDR_LEN,
			       f->len - REMUS_BLOB_HDR_LEN, s->scratch, raw);
	if (ret)
		return ret;
	s->blob_next = off + raw == total ? 0 : off + raw;
	st.kind = f->body[5];
	st.offset = off;
	st.total = total;
	st.data = s->scratch;
	st.len = raw;
	return sink->ops->state(sink, f->epoch, &st);
}

static enum session_end session_run(struct remus_backup *b, int fd)
{
	struct remus_wire_cfg cfg = {
		.role = REMUS_WIRE_BACKUP,
		.auth = b->info.auth,
		.key = b->info.auth == REMUS_WIRE_AUTH_NONE ? NULL : b->info.key,
		.max_body = b->info.max_body,
		.features = REMUS_FEAT_DELTA | REMUS_FEAT_AEAD,
	};
	struct session s = { .b = b, .fd = fd };
	enum session_end end = SESSION_BROKEN;
	struct remus_frame f;
	struct remus_state st;
	uint32_t reason;
	int ret;

	if (b->info.auth != REMUS_WIRE_AUTH_AEAD)
		cfg.features &= ~REMUS_FEAT_AEAD;
	ret = remus_wire_init(&s.w, &cfg);
	if (ret) {
		LOG(b, ERR, "wire: %s", strerror(-ret));
		close(fd);
		return SESSION_BROKEN;
	}
	s.cap = remus_wire_rx_frame_max(&s.w);
	if (s.cap < REMUS_WIRE_OVERHEAD + 4096)
		s.cap = REMUS_WIRE_OVERHEAD + 4096;
	s.frame = malloc(s.cap);
	s.scratch = malloc(s.cap);
	if (!s.frame || !s.scratch)
		goto out;

	ret = handshake(&s);
	if (ret) {
		if (ret == -ECANCELED)
			end = SESSION_STOP;
		else
			LOG(b, WARN, "handshake: %s", strerror(-ret));
		goto out;
	}
	heard(b);
	pthread_mutex_init(&s.txlock, NULL);
	pthread_cond_init(&s.txcond, NULL);
	s.last_tx = 0;	/* the first heartbeat goes at once */
	s.acked = 0;	/* a new session: its epochs may start anywhere */
	s.beating = !pthread_create(&s.beater, NULL, beater_main, &s);

	for (;;) {
		ret = read_frame(&s, &f);
		if (ret < 0)
			break;
		ret = 0;
		heard(b);
		switch (f.type) {
		case REMUS_REC_PAGES:
		case REMUS_REC_DISK:
			s.open_epoch = f.epoch;
			s.open_bytes += f.len;
			ret = batch(&s, &f);
			break;
		case REMUS_REC_STATE:
			s.open_epoch = f.epoch;
			s.open_bytes += f.len;
			ret = remus_state_parse(&f, &st);
			if (!ret)
				ret = b->sink->ops->state(b->sink, f.epoch, &st);
			break;
		case REMUS_REC_END:
			/* The wire checked END against the records. */
			ret = commit(&s, f.epoch);
			break;
		case REMUS_REC_HEARTBEAT: {
			struct remus_heartbeat hb;

			if (!remus_heartbeat_parse(&f, &hb))
				s.hb_echo = hb.sent_ns;
			break;
		}
		case REMUS_REC_BYE:
			remus_bye_parse(&f, &reason);
			discard_open(&s);
			if (reason == ESHUTDOWN)
				LOG(b, NOTICE, "the primary's guest shut itself down at epoch %" PRIu64 ": failover disarmed",
				    f.epoch);
			else if (reason)
				LOG(b, NOTICE, "the primary stopped at epoch %" PRIu64 " (%s): failover disarmed",
				    f.epoch, strerror((int)reason));
			else
				LOG(b, NOTICE, "the primary stopped in order at epoch %" PRIu64 ": failover disarmed",
				    f.epoch);
			pthread_mutex_lock(&b->lock);
			b->armed = false;
			pthread_mutex_unlock(&b->lock);
			end = SESSION_BYE;
			goto out;
		case REMUS_REC_BLOB:
			s.open_epoch = f.epoch;
			s.open_bytes += f.len;
			ret = blob(&s, &f);
			break;
		case REMUS_REC_DISKLOG:
			s.open_epoch = f.epoch;
			s.open_bytes += f.len;
			ret = disklog(b, &f);
			break;
		default:
			if (f.type >= REMUS_REC_EXT_CKPT &&
			    f.type < REMUS_REC_EXT_CTRL && b->sink->ops->ext) {
				s.open_epoch = f.epoch;
				s.open_bytes += f.len;
				ret = b->sink->ops->ext(b->sink, &f);
			} else {
				ret = -EPROTO;
			}
			break;
		}
		if (ret)
			break;
	}

	if (ret == -ECANCELED) {
		end = SESSION_STOP;
	} else if (ret == -ETIMEDOUT || ret == -ECONNRESET || ret == -EPIPE) {
		LOG(b, ERR, "primary lost: %s", ret == -ETIMEDOUT ?
		    "silent past the timeout" : "connection closed without goodbye");
		end = SESSION_LOST;
	} else {
		LOG(b, ERR, "stream from the primary rejected (%s): connection reset",
		    strerror(-ret));
		pthread_mutex_lock(&b->lock);
		b->rejected++;
		pthread_mutex_unlock(&b->lock);
		end = SESSION_BROKEN;
	}
out:
	beater_stop(&s);
	discard_open(&s);
	if (s.reader)
		remus_batch_reader_fini(&s.r);
	remus_compressor_fini(&s.cz);
	remus_wire_fini(&s.w);
	free(s.frame);
	free(s.scratch);
	close(fd);
	set_link(b, "down");
	return end;
}

static int failover(struct remus_backup *b)
{
	int ret;

	LOG(b, NOTICE, "failing over to checkpoint %" PRIu64, b->committed);
	disks_release(b);
	ret = b->sink->ops->failover(b->sink);
	if (ret) {
		LOG(b, ERR, "failover: %s", strerror(-ret));
		return REMUS_BACKUP_ERROR;
	}
	set_link(b, "failed over");
	return REMUS_BACKUP_FAILED_OVER;
}

int remus_backup_run(const struct remus_ctx *ctx,
		     const struct remus_backup_info *info,
		     struct remus_backup_sink *sink,
		     void (*started)(void *data, struct remus_backup *b),
		     void *started_data)
{
	struct remus_backup *b = calloc(1, sizeof(*b));
	struct remus_addr a;
	int ret, result = REMUS_BACKUP_ERROR;

	if (!b)
		return REMUS_BACKUP_ERROR;
	b->ctx = ctx;
	b->info = *info;
	b->sink = sink;
	b->link = "waiting";
	b->lfd = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stop_efd < 0 || !info->heartbeat_ms ||
	    info->timeout_ms <= info->heartbeat_ms) {
		LOG(b, ERR, "setup: bad timeouts");
		goto out;
	}
	if (disks_open(b))
		goto out;
	ret = remus_addr_parse(info->listen, &a);
	if (!ret)
		ret = remus_tcp_listen(&a);
	if (ret < 0) {
		LOG(b, ERR, "listen on %s: %s", info->listen, strerror(-ret));
		goto out;
	}
	b->lfd = ret;
	LOG(b, NOTICE, "backup listening on %s", info->listen);
	if (started)
		started(started_data, b);

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = b->lfd, .events = POLLIN },
			{ .fd = b->stop_efd, .events = POLLIN },
		};
		int timeout = -1, fd;
		enum session_end end;

		if (atomic_load(&b->stop)) {
			result = REMUS_BACKUP_STOPPED;
			break;
		}
		if (b->armed) {
			/* The primary has what is left of the timeout. */
			uint64_t quiet = (remus_now_ns() - b->last_heard) / 1000000;

			if (quiet >= info->timeout_ms) {
				result = failover(b);
				break;
			}
			timeout = (int)(info->timeout_ms - quiet);
		}
		ret = poll(p, 2, timeout);
		if (ret < 0 && errno != EINTR) {
			LOG(b, ERR, "poll: %s", strerror(errno));
			break;
		}
		if (ret <= 0 || !(p[0].revents & POLLIN))
			continue;
		fd = remus_tcp_accept(b->lfd, 0, NULL);
		if (fd < 0)
			continue;
		end = session_run(b, fd);
		if (end == SESSION_STOP) {
			result = REMUS_BACKUP_STOPPED;
			break;
		}
		if (end == SESSION_LOST && b->armed) {
			result = failover(b);
			break;
		}
		if (end == SESSION_BYE && info->once) {
			result = REMUS_BACKUP_STOPPED;
			break;
		}
	}
	if (started)
		started(started_data, NULL);
out:
	disks_close(b);
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->stop_efd >= 0)
		close(b->stop_efd);
	pthread_mutex_destroy(&b->lock);
	free(b);
	return result;
}
