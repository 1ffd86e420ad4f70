// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The epoch engine, primary side.
 *
 * Three threads share one struct remus_engine:
 *
 *   epoch thread (the caller of remus_start)
 *       wait for the interval and for room in the pipeline
 *       suspend -> barrier e on every buffer -> copy into slot -> postcopy
 *       queue the slot for sending                         (the pause)
 *   sender thread
 *       encode, compress, authenticate and write checkpoint e; END e;
 *       heartbeats when idle
 *   ack thread
 *       read ACK/HEARTBEAT; on "holds through N": release every buffer
 *       through N, free the slots <= N, wake the epoch thread; silence
 *       past the timeout (or a broken stream) is a lost backup
 *
 * Output of epoch e is released only by the ack thread, only after the
 * backup said it holds e. Losing the backup goes through one place,
 * link_lost(), and the epoch thread applies the policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk.h"
#include "link.h"
#include "netbuf.h"
#include "nl.h"
#include "remus.h"

#define PAUSE_HIST	1024
enum { HIST_PAUSE, HIST_SUSPEND, HIST_COPY, HIST_RESUME, HIST_NR };
#define STATE_KIND	1	/* STATE record: the backend's blob */

enum slot_state {
	SLOT_FREE,
	SLOT_STAGING,	/* epoch thread fills it */
	SLOT_QUEUED,	/* waits for the sender */
	SLOT_SENDING,
	SLOT_SENT,	/* END written, waits for the ack */
};

/* A disk in replicate mode: barriers, its write log, commits. */
struct edisk {
	struct remus_disk_sel sel;
	struct remus_log log;
	bool log_open;
};

struct slot {
	struct remus_ckpt c;
	enum slot_state state;
	uint64_t t_sent;
};

struct remus_engine {
	const struct remus_ctx *ctx;
	struct remus_info info;
	struct remus_backend *be;
	struct remus_hello geo;

	/* Output buffers: one handle per thread that drives them. */
	struct remus_nl nl_epoch, nl_ack;
	bool have_nl;
	struct remus_netbuf *nb_epoch, *nb_ack;
	unsigned int nr_nb;
	struct edisk *disks;
	unsigned int nr_disks;
	bool disk_gap;		/* a disk stopped logging: no re-pairing */

	/* The link of the current session. */
	int send_fd, recv_fd;
	struct remus_wire wire;
	bool wire_ready;
	struct remus_page_cache cache;
	struct remus_compressor cz;
	pthread_t sender, acker, beater;
	bool threads;
	/* Sealing and writing a frame is one step: sequence numbers go on
	 * the wire in order. Heartbeats fill the link's quiet times. */
	pthread_mutex_t txlock;
	uint64_t last_tx;	/* ns, the last frame written */
	uint64_t sessions;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *slots;
	unsigned int nr_slots;
	uint64_t barrier;	/* last barrier, all buffers */
	uint64_t sent;		/* last END written */
	uint64_t acked;		/* backup holds through */
	bool lost;		/* link lost, policy not applied yet */
	bool protected;		/* output held and acked per epoch */
	bool suspended;		/* guest stopped by us */
	bool held;		/* guest held by us (the pause policy) */
	int stop_efd;
	atomic_bool stop;
	uint64_t next_ns;	/* next checkpoint's start */
	uint64_t hb_echo;

	/* statistics */
	uint64_t checkpoints, lag_total;
	/* The last PAUSE_HIST pauses (HIST_PAUSE), and their parts. */
	uint64_t hist[HIST_NR][PAUSE_HIST];
	unsigned int pause_n;
	struct remus_epoch_stats last;
	uint64_t rate_t0, rate_n0;
	double rate;
	struct slot *cur;	/* staging, between suspend and postcopy */
	struct slot *pre;	/* pre-copied into, before the next suspend */
	uint64_t hiwater;	/* most pages a regular checkpoint copied */
	bool precopy_failed;	/* the next copy must be full */
	uint64_t t_suspend0;
};

void remus_log(const struct remus_ctx *ctx, enum remus_log_level level,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ctx || !ctx->log || level > ctx->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_data, level, msg);
}

void remus_info_init(struct remus_info *info)
{
	memset(info, 0, sizeof(*info));
	info->interval_us = 25000;
	info->compression = true;
	info->codec = REMUS_CODEC_LZ4;
	info->delta_cache_pages = 16384;
	info->pipeline = 1;
	info->precopy = true;
	info->policy = REMUS_POLICY_CONTINUE;
	info->heartbeat_ms = 100;
	info->timeout_ms = 1000;
	info->reconnect_ms = 1000;
}

int remus_ckpt_reserve(struct remus_ckpt *c, uint64_t n, uint64_t **pfns,
		       uint8_t **pages)
{
	if (n > c->cap_pages - c->nr_pages)
		return -ENOSPC;
	*pfns = c->pfns + c->nr_pages;
	*pages = c->pages + c->nr_pages * c->page_size;
	c->nr_pages += n;
	return 0;
}

int remus_ckpt_set_state(struct remus_ckpt *c, const void *data, size_t len)
{
	if (len > c->state_cap) {
		uint8_t *p = realloc(c->state, len);

		if (!p)
			return -ENOMEM;
		c->state = p;
		c->state_cap = len;
	}
	memcpy(c->state, data, len);
	c->state_len = len;
	return 0;
}

#define LOG(e, lvl, ...) remus_log((e)->ctx, REMUS_LOG_##lvl, __VA_ARGS__)

static void fault(struct remus_engine *e, const char *point, uint64_t epoch)
{
	if (e->info.fault)
		e->info.fault(e->info.fault_data, point, epoch);
}

/* ---- output buffers ---- */

/*
 * Disks of the guest, in replicate mode. The backup's copy must start
 * identical (the same image on both hosts) and the log intact from the
 * target's creation on: there is no disk resync yet.
 */
static int disks_open(struct remus_engine *e)
{
	struct remus_disk_info *di;
	unsigned int i;
	int err = 0;

	if (!e->info.nr_disks)
		return 0;
	e->disks = calloc(e->info.nr_disks, sizeof(*e->disks));
	di = malloc(sizeof(*di));
	if (!e->disks || !di) {
		free(di);
		return -ENOMEM;
	}
	for (i = 0; i < e->info.nr_disks; i++) {
		struct edisk *d = &e->disks[i];

		d->sel.name = e->info.disks[i];
		e->nr_disks = i + 1;
		err = remus_disk_get(&e->nl_epoch, &d->sel, 0, di);
		if (err) {
			LOG(e, ERR, "disk %s: %s%s%s", d->sel.name, strerror(-err),
			    *remus_nl_errmsg(&e->nl_epoch) ? ": " : "",
			    remus_nl_errmsg(&e->nl_epoch));
			break;
		}
		if (di->buf.disk_mode != REMUS_DISK_REPLICATE) {
			LOG(e, ERR, "disk %s is in %s mode: the primary needs replicate",
			    d->sel.name, remus_disk_mode_name(di->buf.disk_mode));
			err = -EINVAL;
			break;
		}
		if (di->buf.barrier > e->barrier)
			e->barrier = di->buf.barrier;
		err = remus_log_open(&d->log, NULL, &d->sel,
				     O_RDONLY | O_NONBLOCK, 0);
		if (err) {
			LOG(e, ERR, "disk %s: its write log: %s", d->sel.name,
			    strerror(-err));
			break;
		}
		d->log_open = true;
		LOG(e, INFO, "disk %s replicated through its write log",
		    d->sel.name);
	}
	free(di);
	return err;
}

static int buffers_open(struct remus_engine *e)
{
	unsigned int i;
	int err;

	e->nr_nb = e->info.nr_netifs;
	if (!e->nr_nb && !e->info.nr_disks)
		return 0;
	err = remus_nl_open(&e->nl_epoch);
	if (!err) {
		err = remus_nl_open(&e->nl_ack);
		if (err)
			remus_nl_close(&e->nl_epoch);
	}
	e->have_nl = !err;
	if (err && err != -ENOENT)
		return err;
	if (e->info.nr_disks && !e->have_nl) {
		LOG(e, ERR, "disk buffers need remus.ko: it is not loaded");
		return -ENOENT;
	}
	err = disks_open(e);
	if (err)
		return err;
	e->nb_epoch = calloc(e->nr_nb, sizeof(*e->nb_epoch));
	e->nb_ack = calloc(e->nr_nb, sizeof(*e->nb_ack));
	if (!e->nb_epoch || !e->nb_ack)
		return -ENOMEM;
	for (i = 0; i < e->nr_nb; i++) {
		const char *ifn = e->info.netifs[i];

		err = remus_netbuf_open(&e->nb_epoch[i], ifn,
					e->have_nl ? &e->nl_epoch : NULL);
		if (!err)
			err = remus_netbuf_open(&e->nb_ack[i], ifn,
						e->have_nl ? &e->nl_ack : NULL);
		if (err) {
			LOG(e, ERR, "net buffer of %s: %s (attach it first: remusctl net attach %s)",
			    ifn, strerror(-err), ifn);
			e->nr_nb = i;
			return err;
		}
		if (e->nb_epoch[i].kind == REMUS_NETBUF_PLUG && e->info.pipeline > 1) {
			LOG(e, ERR, "%s is buffered by sch_plug, which holds one epoch: pipeline depth must be 1",
			    ifn);
			e->nr_nb = i + 1;
			return -EINVAL;
		}
		/* Epochs continue from what the kernel has seen. */
		if (e->nb_epoch[i].barrier > e->barrier)
			e->barrier = e->nb_epoch[i].barrier;
		/*
		 * Whatever a previous daemon left held was never acked by
		 * anyone we know: it must not go out on our acks.
		 */
		err = remus_netbuf_discard(&e->nb_epoch[i]);
		if (err) {
			LOG(e, ERR, "%s: discard what a previous run held: %s",
			    e->nb_epoch[i].ifb, strerror(-err));
			e->nr_nb = i + 1;
			return err;
		}
		LOG(e, INFO, "net buffer of %s on %s (%s)", ifn,
		    e->nb_epoch[i].ifb,
		    remus_netbuf_kind_name(e->nb_epoch[i].kind));
	}
	return 0;
}

static void buffers_close(struct remus_engine *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_disks; i++)
		if (e->disks[i].log_open)
			remus_log_close(&e->disks[i].log);
	free(e->disks);

	for (i = 0; i < e->nr_nb; i++) {
		remus_netbuf_close(&e->nb_epoch[i]);
		remus_netbuf_close(&e->nb_ack[i]);
	}
	free(e->nb_epoch);
	free(e->nb_ack);
	if (e->have_nl) {
		remus_nl_close(&e->nl_epoch);
		remus_nl_close(&e->nl_ack);
	}
}

/* Epoch thread, guest suspended: close epoch n everywhere. */
static int buffers_barrier(struct remus_engine *e, uint64_t n)
{
	unsigned int i;
	int err;

	for (i = 0; i < e->nr_nb; i++) {
		err = remus_netbuf_barrier(&e->nb_epoch[i], n);
		if (err) {
			LOG(e, ERR, "barrier %" PRIu64 " on %s: %s%s%s", n,
			    e->nb_epoch[i].ifb, strerror(-err),
			    e->have_nl && *remus_nl_errmsg(&e->nl_epoch) ? ": " : "",
			    e->have_nl ? remus_nl_errmsg(&e->nl_epoch) : "");
			return err;
		}
		/* The ack thread's handle must know the epoch is closed. */
		e->nb_ack[i].barrier = n;
	}
	for (i = 0; i < e->nr_disks; i++) {
		err = remus_disk_barrier(&e->nl_epoch, &e->disks[i].sel, n);
		if (err) {
			LOG(e, ERR, "barrier %" PRIu64 " on disk %s: %s", n,
			    e->disks[i].sel.name, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Ack thread: let out everything through n. */
static int buffers_release(struct remus_engine *e, uint64_t n)
{
	unsigned int i;
	int err, ret = 0;

	for (i = 0; i < e->nr_nb; i++) {
		err = remus_netbuf_release(&e->nb_ack[i], n);
		if (err) {
			LOG(e, ERR, "release %" PRIu64 " on %s: %s", n,
			    e->nb_ack[i].ifb, strerror(-err));
			ret = err;
		}
	}
	/* Replicate mode: the backup holds them, the log may forget them. */
	for (i = 0; i < e->nr_disks; i++) {
		err = remus_disk_commit(&e->nl_ack, &e->disks[i].sel, n);
		if (err) {
			LOG(e, ERR, "commit %" PRIu64 " on disk %s: %s", n,
			    e->disks[i].sel.name, strerror(-err));
			ret = err;
		}
	}
	return ret;
}

static void buffers_mode(struct remus_engine *e, bool buffering)
{
	uint32_t mode = buffering ? REMUS_MODE_BUFFER : REMUS_MODE_PASSTHROUGH;
	unsigned int i;
	int err;

	for (i = 0; i < e->nr_nb; i++) {
		struct remus_netbuf *nb = &e->nb_epoch[i];

		if (nb->kind == REMUS_NETBUF_REMUS)
			err = remus_net_set(nb->nl, nb->ifb_ifindex, &mode,
					    NULL, NULL);
		else if (!buffering)
			err = remus_netbuf_passthrough(nb);
		else
			err = remus_netbuf_discard(nb); /* a fresh plug holds */
		if (err)
			LOG(e, ERR, "%s: set %s: %s", nb->ifb,
			    buffering ? "buffering" : "pass-through",
			    strerror(-err));
	}
	if (!buffering && e->nr_disks && !e->disk_gap) {
		/* Logging stops (a GAP record): the backup's disk needs a
		 * resync before it can protect this guest again. */
		for (i = 0; i < e->nr_disks; i++)
			remus_disk_set(&e->nl_epoch, &e->disks[i].sel, &mode,
				       NULL, NULL);
		e->disk_gap = true;
		LOG(e, WARN, "disks no longer replicated: re-pairing needs a disk resync, which is not implemented");
	}
}

/* ---- slots ---- */

static int slots_init(struct remus_engine *e)
{
	uint64_t nr = e->geo.nr_pages;
	unsigned int i;

	e->nr_slots = e->info.pipeline;
	e->slots = calloc(e->nr_slots, sizeof(*e->slots));
	if (!e->slots)
		return -ENOMEM;
	for (i = 0; i < e->nr_slots; i++) {
		struct remus_ckpt *c = &e->slots[i].c;

		c->page_size = e->geo.page_size;
		c->cap_pages = nr;
		c->pfns = calloc(nr, sizeof(uint64_t));
		/* Backed as it is touched: a slot costs its dirty pages. */
		c->pages = mmap(NULL, nr * e->geo.page_size,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		if (!c->pfns || c->pages == MAP_FAILED) {
			c->pages = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

static void slots_fini(struct remus_engine *e)
{
	unsigned int i;

	for (i = 0; e->slots && i < e->nr_slots; i++) {
		struct remus_ckpt *c = &e->slots[i].c;

		free(c->pfns);
		free(c->state);
		if (c->pages)
			munmap(c->pages, c->cap_pages * c->page_size);
	}
	free(e->slots);
}

/*
 * A full checkpoint touched a slot as big as the guest: give back what the
 * usual checkpoints do not use. Regular slots keep their high-water mark,
 * or every large checkpoint would fault its slot in again, page by page.
 */
static void slot_trim(struct remus_engine *e, struct slot *s)
{
	size_t used = s->c.nr_pages, keep;

	if (!s->c.full) {
		if (used > e->hiwater)
			e->hiwater = used;
		return;
	}
	keep = e->hiwater > 4096 ? e->hiwater : 4096;
	if (used > keep)
		madvise(s->c.pages + keep * s->c.page_size,
			(used - keep) * s->c.page_size, MADV_DONTNEED);
}

static unsigned int in_flight(struct remus_engine *e)
{
	unsigned int i, n = 0;

	for (i = 0; i < e->nr_slots; i++)
		n += e->slots[i].state != SLOT_FREE;
	return n;
}

static struct slot *slot_free(struct remus_engine *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_slots; i++)
		if (e->slots[i].state == SLOT_FREE)
			return &e->slots[i];
	return NULL;
}

/* The queued slot with the lowest epoch. Under lock. */
static struct slot *slot_next_queued(struct remus_engine *e)
{
	struct slot *best = NULL;
	unsigned int i;

	for (i = 0; i < e->nr_slots; i++)
		if (e->slots[i].state == SLOT_QUEUED &&
		    (!best || e->slots[i].c.epoch < best->c.epoch))
			best = &e->slots[i];
	return best;
}

/* ---- statistics ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Under lock: a checkpoint completed (acked or blackholed). */
static void account(struct remus_engine *e, struct slot *s, uint64_t now)
{
	struct remus_epoch_stats *st = &s->c.st;
	unsigned int i;

	st->ack_ns = now - s->t_sent;
	st->commit_ns = now - s->c.t_barrier;
	e->last = *st;
	i = e->pause_n++ % PAUSE_HIST;
	e->hist[HIST_PAUSE][i] = st->pause_ns;
	e->hist[HIST_SUSPEND][i] = st->suspend_ns;
	e->hist[HIST_COPY][i] = st->copy_ns;
	e->hist[HIST_RESUME][i] = st->resume_ns;
	e->checkpoints++;
	if (now - e->rate_t0 >= 1000000000ull) {
		e->rate = (double)(e->checkpoints - e->rate_n0) * 1e9 /
			  (double)(now - e->rate_t0);
		e->rate_t0 = now;
		e->rate_n0 = e->checkpoints;
	}
	if (e->info.on_epoch)
		e->info.on_epoch(e->info.on_epoch_data, st);
}

/* Sorts h (n > 0) in place; its value at per-mille q. */
static uint64_t quantile(uint64_t *h, unsigned int n, unsigned int q)
{
	unsigned int i = (unsigned int)(((uint64_t)n * q) / 1000);

	qsort(h, n, sizeof(h[0]), cmp_u64);
	return h[i < n ? i : n - 1];
}

void remus_engine_status(struct remus_engine *e, struct remus_status *st)
{
	uint64_t (*h)[PAUSE_HIST] = malloc(sizeof(e->hist));
	unsigned int n;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&e->lock);
	st->role = "primary";
	st->backend = e->be->ops->kind;
	st->link = e->info.blackhole ? "blackhole" :
		   e->wire_ready && !e->lost ? "up" : "down";
	st->protection = e->protected ? "protected" :
			 e->info.policy == REMUS_POLICY_PAUSE ?
			 "paused (no backup)" : "unprotected";
	st->authenticated = e->info.auth != REMUS_WIRE_AUTH_NONE;
	st->encrypted = e->info.auth == REMUS_WIRE_AUTH_AEAD;
	st->epoch = e->barrier;
	st->acked = e->acked;
	st->checkpoints = e->checkpoints;
	st->rate = e->rate;
	st->pause_last_ns = e->last.pause_ns;
	st->ack_last_ns = e->last.ack_ns;
	st->commit_last_ns = e->last.commit_ns;
	st->pages_last = e->last.pages;
	st->raw_last = e->last.raw_bytes;
	st->wire_last = e->last.wire_bytes;
	st->ratio_last = e->last.wire_bytes ?
			 (double)e->last.raw_bytes / (double)e->last.wire_bytes : 0;
	st->lag_total = e->lag_total;
	st->in_flight = in_flight(e);
	st->sessions = e->sessions;
	n = e->pause_n < PAUSE_HIST ? e->pause_n : PAUSE_HIST;
	if (h)
		memcpy(h, e->hist, sizeof(e->hist));
	pthread_mutex_unlock(&e->lock);

	if (h && n) {
		st->pause_p50_ns = quantile(h[HIST_PAUSE], n, 500);
		st->pause_p99_ns = quantile(h[HIST_PAUSE], n, 990);
		st->suspend_p50_ns = quantile(h[HIST_SUSPEND], n, 500);
		st->copy_p50_ns = quantile(h[HIST_COPY], n, 500);
		st->resume_p50_ns = quantile(h[HIST_RESUME], n, 500);
	}
	free(h);
	if (e->nr_nb && e->have_nl) {
		struct remus_nl nl;
		struct remus_buf_info *bi = malloc(sizeof(*bi));
		unsigned int i;

		if (bi && !remus_nl_open(&nl)) {
			for (i = 0; i < e->nr_nb; i++) {
				if (e->nb_epoch[i].kind != REMUS_NETBUF_REMUS ||
				    remus_net_get(&nl, e->nb_epoch[i].ifb_ifindex,
						  0, bi))
					continue;
				st->buffered_pkts += bi->stats.backlog_pkts;
				st->buffered_bytes += bi->stats.backlog_bytes;
			}
			remus_nl_close(&nl);
		}
		free(bi);
	}
}

/* ---- the link ---- */

static void link_lost(struct remus_engine *e, const char *why, int err)
{
	pthread_mutex_lock(&e->lock);
	if (!e->lost && e->protected)
		LOG(e, ERR, "backup lost: %s%s%s", why, err ? ": " : "",
		    err ? strerror(-err) : "");
	e->lost = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static int send_frame(struct remus_engine *e, const void *buf, ssize_t len)
{
	if (len < 0)
		return (int)len;
	if (e->info.blackhole)
		return 0;
	return remus_link_write(e->send_fd, buf, (size_t)len,
				(int)e->info.timeout_ms);
}

static void tx_lock(struct remus_engine *e)
{
	pthread_mutex_lock(&e->txlock);
}

static void tx_unlock(struct remus_engine *e)
{
	e->last_tx = remus_now_ns();
	pthread_mutex_unlock(&e->txlock);
}

static int send_heartbeat(struct remus_engine *e, uint8_t *frame, size_t cap)
{
	struct remus_heartbeat hb = { .sent_ns = remus_now_ns(),
				      .echo_ns = e->hb_echo };
	uint8_t body[REMUS_HEARTBEAT_LEN];
	uint64_t sent;
	int err;

	remus_heartbeat_put(body, &hb);
	pthread_mutex_lock(&e->lock);
	sent = e->sent;
	pthread_mutex_unlock(&e->lock);
	tx_lock(e);
	err = send_frame(e, frame,
			 remus_wire_send_body(&e->wire, REMUS_REC_HEARTBEAT,
					      sent, body, sizeof(body), frame,
					      cap));
	tx_unlock(e);
	return err;
}

/*
 * Heartbeats whenever the link has been quiet for a heartbeat period,
 * whatever the sender is busy with (encoding a large checkpoint, waiting
 * for the next): the backup must not take a busy primary for a dead one.
 */
static void *beater_main(void *arg)
{
	struct remus_engine *e = arg;
	uint8_t frame[REMUS_WIRE_OVERHEAD + REMUS_HEARTBEAT_LEN];
	uint64_t hb = e->info.heartbeat_ms * 1000000ull;
	int err;

	pthread_mutex_lock(&e->lock);
	while (!e->lost) {
		uint64_t now = remus_now_ns(), due = e->last_tx + hb;

		if (now < due) {
			remus_cond_wait_ns(&e->cond, &e->lock, due - now);
			continue;
		}
		pthread_mutex_unlock(&e->lock);
		err = send_heartbeat(e, frame, sizeof(frame));
		if (err)
			link_lost(e, "heartbeat", err);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* Seal and send the DISKLOG frame being filled (used bytes of records). */
static int disklog_flush(struct remus_engine *e, uint8_t *frame, size_t cap,
			 unsigned int idx, uint64_t epoch, size_t *used,
			 uint64_t *wire)
{
	uint8_t *body = frame + REMUS_WIRE_HDR_LEN;
	ssize_t n;
	int err;

	if (!*used)
		return 0;
	memcpy(body, &idx, sizeof(uint32_t));
	memset(body + 4, 0, 4);
	tx_lock(e);
	n = remus_wire_seal(&e->wire, REMUS_REC_DISKLOG, epoch, frame,
			    REMUS_DISKLOG_HDR_LEN + *used, cap);
	err = send_frame(e, frame, n);
	tx_unlock(e);
	if (err)
		return err;
	*wire += (uint64_t)n;
	*used = 0;
	return 0;
}

/*
 * The write log of disk idx through BARRIER epoch, into DISKLOG frames.
 * The barrier went in while the guest was suspended, so every record of
 * the epoch is already in the log, before it.
 */
static int send_disk(struct remus_engine *e, unsigned int idx, uint64_t epoch,
		     uint8_t *frame, size_t cap, uint64_t *wire,
		     uint64_t *bytes)
{
	struct edisk *d = &e->disks[idx];
	size_t room = remus_wire_tx_frame_max(&e->wire) - REMUS_WIRE_OVERHEAD -
		      REMUS_DISKLOG_HDR_LEN;
	uint8_t *recs = frame + REMUS_WIRE_HDR_LEN + REMUS_DISKLOG_HDR_LEN;
	struct remus_log_rec rec;
	size_t used = 0;
	int ret;

	if (room < REMUS_LOG_READ_MIN)
		return -EMSGSIZE;
	for (;;) {
		ret = remus_log_next(&d->log, &rec);
		if (ret == 0) {
			struct pollfd p = { .fd = d->log.fd, .events = POLLIN };
			ssize_t n = remus_log_read(&d->log);

			if (n > 0)
				continue;
			if (n == 0)
				return -ENODEV;	/* the disk is gone */
			if (n != -EAGAIN)
				return (int)n;
			ret = remus_poll(&p, 1, (int)e->info.timeout_ms);
			if (ret <= 0)
				return ret ? ret : -ETIMEDOUT;
			continue;
		}
		if (ret < 0)
			return ret;
		if (rec.hdr->type == REMUS_LOG_GAP) {
			LOG(e, ERR, "disk %s stopped logging (gap): it needs a resync",
			    d->sel.name);
			return -ENOSR;
		}
		/* A barrier a dead predecessor put in: not ours to ship. */
		if (rec.hdr->type == REMUS_LOG_BARRIER && rec.hdr->epoch < epoch)
			continue;
		if (used + rec.size > room) {
			ret = disklog_flush(e, frame, cap, idx, epoch, &used,
					    wire);
			if (ret)
				return ret;
		}
		memcpy(recs + used, rec.hdr, rec.size);
		used += rec.size;
		*bytes += rec.size;
		if (rec.hdr->type == REMUS_LOG_BARRIER)
			return disklog_flush(e, frame, cap, idx, epoch, &used,
					     wire);
	}
}

/* Seal the batch of pages into a frame and send it. */
static int send_batch(struct remus_engine *e, struct remus_batch *b,
		      uint64_t epoch, uint8_t *frame, size_t cap,
		      uint64_t *wire)
{
	ssize_t n;
	int err;

	tx_lock(e);
	n = remus_batch_seal(&e->wire, b, epoch, frame, cap);
	err = send_frame(e, frame, n);
	tx_unlock(e);
	if (err)
		return err;
	if (!*wire)
		fault(e, "send", epoch);
	*wire += (uint64_t)n;
	return 0;
}

/* Sender thread: one checkpoint, start to END. */
static int send_ckpt(struct remus_engine *e, struct slot *s, uint8_t *frame,
		     size_t cap, struct remus_batch *b)
{
	struct remus_ckpt *c = &s->c;
	uint64_t t0 = remus_now_ns(), i, wire = 0, off, total;
	struct remus_codec_stats tx, rx;
	ssize_t n;
	int err;

	for (i = 0; i < c->nr_pages; i++) {
		const uint8_t *page = c->pages + i * c->page_size;

		err = remus_batch_add_page(b, &e->wire, c->pfns[i], page);
		if (err == -ENOSPC) {
			err = send_batch(e, b, c->epoch, frame, cap, &wire);
			if (!err)
				err = remus_batch_add_page(b, &e->wire,
							   c->pfns[i], page);
		}
		if (err)
			return err;
	}
	if (b->count) {
		err = send_batch(e, b, c->epoch, frame, cap, &wire);
		if (err)
			return err;
	}
	for (i = 0; i < e->nr_disks; i++) {
		err = send_disk(e, (unsigned int)i, c->epoch, frame, cap, &wire,
				&c->st.disk_bytes);
		if (err)
			return err;
	}
	/* The state blob, in compressed chunks that fit a frame. */
	total = c->state_len;
	for (off = 0; off < total;) {
		uint8_t *body = frame + REMUS_WIRE_HDR_LEN;
		size_t room = remus_wire_tx_frame_max(&e->wire) -
			      REMUS_WIRE_OVERHEAD - REMUS_BLOB_HDR_LEN;
		size_t len = c->state_len - off < room ? c->state_len - off : room;
		size_t out;
		uint32_t raw = (uint32_t)len;
		int codec;

		codec = remus_compress(&e->cz, c->state + off, len,
				       body + REMUS_BLOB_HDR_LEN, room, &out);
		if (codec < 0)
			return codec;
		memcpy(body, &raw, 4);
		body[4] = (uint8_t)codec;
		body[5] = STATE_KIND;
		memset(body + 6, 0, 2);
		memcpy(body + 8, &off, 8);
		memcpy(body + 16, &total, 8);
		tx_lock(e);
		n = remus_wire_seal(&e->wire, REMUS_REC_BLOB, c->epoch, frame,
				    REMUS_BLOB_HDR_LEN + out, cap);
		err = send_frame(e, frame, n);
		tx_unlock(e);
		if (err)
			return err;
		if (!wire)
			fault(e, "send", c->epoch);
		wire += (uint64_t)n;
		off += len;
	}
	tx_lock(e);
	n = remus_wire_end(&e->wire, c->epoch, frame, cap);
	err = send_frame(e, frame, n);
	tx_unlock(e);
	if (err)
		return err;
	wire += (uint64_t)n;
	fault(e, "sent", c->epoch);

	remus_compress_stats_take(&e->cz, &tx, &rx);
	/* A backend that encodes its state itself (xen's page delta) says
	 * what it was before in state_bytes: raw means before any coding. */
	c->st.raw_bytes = (uint64_t)c->nr_pages * c->page_size +
			  (c->st.state_bytes ? c->st.state_bytes : c->state_len) +
			  c->st.disk_bytes;
	c->st.wire_bytes = wire;
	c->st.codec_ns = tx.nsec;
	c->st.send_ns = remus_now_ns() - t0;
	return 0;
}

static void *sender_main(void *arg)
{
	struct remus_engine *e = arg;
	size_t cap = remus_wire_tx_frame_max(&e->wire);
	uint8_t *frame = malloc(cap);
	struct remus_batch b;
	int err;

	if (!frame) {
		link_lost(e, "sender", -ENOMEM);
		return NULL;
	}
	err = remus_batch_init(&b, &e->wire, REMUS_REC_PAGES,
			       e->info.compression && e->info.delta_cache_pages ?
			       &e->cache : NULL,
			       e->info.compression ? &e->cz : NULL);
	if (err) {
		free(frame);
		link_lost(e, "sender", err);
		return NULL;
	}

	pthread_mutex_lock(&e->lock);
	while (!e->lost) {
		struct slot *s = slot_next_queued(e);

		if (!s) {
			pthread_cond_wait(&e->cond, &e->lock);
			continue;
		}
		s->state = SLOT_SENDING;
		pthread_mutex_unlock(&e->lock);
		err = send_ckpt(e, s, frame, cap, &b);
		pthread_mutex_lock(&e->lock);
		if (err) {
			pthread_mutex_unlock(&e->lock);
			link_lost(e, "sending a checkpoint", err);
			pthread_mutex_lock(&e->lock);
			break;
		}
		s->t_sent = remus_now_ns();
		e->sent = s->c.epoch;
		if (e->info.blackhole) {
			/* Nowhere to wait for: held as acked at once. */
			e->acked = s->c.epoch;
			account(e, s, s->t_sent);
			pthread_mutex_unlock(&e->lock);
			buffers_release(e, s->c.epoch);
			pthread_mutex_lock(&e->lock);
			slot_trim(e, s);
			s->state = SLOT_FREE;
		} else {
			s->state = SLOT_SENT;
		}
		pthread_cond_broadcast(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
	remus_batch_fini(&b);
	free(frame);
	return NULL;
}

static void handle_ack(struct remus_engine *e, uint64_t n)
{
	uint64_t now = remus_now_ns();
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	if (n <= e->acked || n > e->sent) {
		if (n > e->sent)
			LOG(e, DEBUG, "ack %" PRIu64 " for a checkpoint not sent (last %" PRIu64 "): ignored",
			    n, e->sent);
		pthread_mutex_unlock(&e->lock);
		return;
	}
	pthread_mutex_unlock(&e->lock);

	/* The backup holds n: its output may go. */
	fault(e, "ack", n);
	buffers_release(e, n);
	fault(e, "release", n);

	pthread_mutex_lock(&e->lock);
	e->acked = n;
	for (i = 0; i < e->nr_slots; i++) {
		struct slot *s = &e->slots[i];

		if (s->state == SLOT_SENT && s->c.epoch <= n) {
			account(e, s, now);
			slot_trim(e, s);
			s->state = SLOT_FREE;
		}
	}
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void *acker_main(void *arg)
{
	struct remus_engine *e = arg;
	struct remus_frame f;
	struct remus_heartbeat hb;
	uint32_t reason;
	int ret;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		if (e->lost) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		pthread_mutex_unlock(&e->lock);
		ret = remus_link_read_frame(e->recv_fd, &e->wire, &f,
					    (int)e->info.timeout_ms);
		if (ret < 0) {
			link_lost(e, ret == -ETIMEDOUT ? "backup silent" :
				  ret == -ECONNRESET ? "connection closed" :
				  "stream from the backup", ret);
			break;
		}
		switch (f.type) {
		case REMUS_REC_ACK:
			handle_ack(e, f.epoch);
			break;
		case REMUS_REC_HEARTBEAT:
			if (!remus_heartbeat_parse(&f, &hb))
				e->hb_echo = hb.sent_ns;
			handle_ack(e, f.epoch);
			break;
		case REMUS_REC_BYE:
			remus_bye_parse(&f, &reason);
			link_lost(e, "backup said goodbye", reason ? -(int)reason : 0);
			return NULL;
		default:
			LOG(e, WARN, "unexpected record %u from the backup",
			    f.type);
			break;
		}
	}
	return NULL;
}

/* ---- sessions ---- */

static void session_end(struct remus_engine *e)
{
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	e->lost = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->send_fd >= 0)
		shutdown(e->send_fd, SHUT_RDWR);
	if (e->threads) {
		pthread_join(e->sender, NULL);
		if (!e->info.blackhole) {
			pthread_join(e->acker, NULL);
			pthread_join(e->beater, NULL);
		}
		e->threads = false;
	}
	if (e->send_fd >= 0)
		close(e->send_fd);
	if (e->recv_fd >= 0 && e->recv_fd != e->send_fd)
		close(e->recv_fd);
	e->send_fd = e->recv_fd = -1;
	if (e->wire_ready)
		remus_wire_fini(&e->wire);
	e->wire_ready = false;
	/* Whatever was in flight is gone with the session. */
	for (i = 0; i < e->nr_slots; i++)
		e->slots[i].state = SLOT_FREE;
	e->pre = NULL;
}

/*
 * Handshake on a fresh connection; in blackhole mode, against a backup
 * wire in memory so that the costs of framing are real.
 */
static int session_start(struct remus_engine *e, int send_fd, int recv_fd)
{
	struct remus_wire_cfg cfg = {
		.role = REMUS_WIRE_PRIMARY,
		.auth = e->info.auth,
		.key = e->info.auth == REMUS_WIRE_AUTH_NONE ? NULL : e->info.key,
		.codecs = e->info.compression ?
			  REMUS_CODEC_BIT(REMUS_CODEC_NONE) |
			  REMUS_CODEC_BIT(e->info.codec) :
			  REMUS_CODEC_BIT(REMUS_CODEC_NONE),
		.features = e->info.compression && e->info.delta_cache_pages ?
			    REMUS_FEAT_DELTA : 0,
	};
	struct remus_hello h = e->geo;
	struct remus_hello_ack ack;
	struct remus_frame f;
	uint8_t *frame = NULL;
	size_t cap;
	ssize_t n;
	int err;

	e->send_fd = send_fd;
	e->recv_fd = recv_fd;
	err = remus_wire_init(&e->wire, &cfg);
	if (err)
		return err;
	e->wire_ready = true;
	h.start_epoch = e->barrier + 1;
	cap = remus_wire_rx_frame_max(&e->wire);
	frame = malloc(cap);
	if (!frame)
		return -ENOMEM;
	n = remus_wire_hello(&e->wire, &h, frame, cap);
	if (n < 0) {
		err = (int)n;
		goto out;
	}
	if (e->info.blackhole) {
		struct remus_wire_cfg bcfg = cfg;
		struct remus_wire bw;
		size_t used;

		bcfg.role = REMUS_WIRE_BACKUP;
		err = remus_wire_init(&bw, &bcfg);
		if (err)
			goto out;
		err = remus_wire_rx_feed(&bw, frame, (size_t)n, &used, &f);
		if (err == 1) {
			n = remus_wire_accept(&bw, e->barrier, frame, cap);
			err = n < 0 ? (int)n :
			      remus_wire_rx_feed(&e->wire, frame, (size_t)n,
						 &used, &f);
		}
		remus_wire_fini(&bw);
		err = err == 1 ? 0 : err < 0 ? err : -EPROTO;
	} else {
		err = remus_link_write(send_fd, frame, (size_t)n,
				       (int)e->info.timeout_ms);
		if (!err)
			err = remus_link_read_frame(recv_fd, &e->wire, &f,
						    (int)e->info.timeout_ms);
		if (err == 1 && f.type == REMUS_REC_REJECT) {
			struct remus_reject r;

			if (!remus_reject_parse(&f, &r))
				LOG(e, ERR, "backup refused the session: %s: %.*s",
				    strerror((int)r.reason), (int)r.text_len,
				    r.text);
			err = -ECONNREFUSED;
		} else {
			err = err == 1 ? 0 : err < 0 ? err : -EPROTO;
		}
	}
	if (err)
		goto out;
	err = remus_hello_ack_parse(&f, &ack);
	if (err && !e->info.blackhole)
		goto out;
	err = 0;
	remus_page_cache_reset(&e->cache);
	e->sessions++;
	e->sent = e->barrier;
	e->acked = e->barrier;
	e->lost = false;
	LOG(e, NOTICE, "session %" PRIu64 " up%s: %s, %s%s",
	    e->sessions, e->info.blackhole ? " (blackhole)" : "",
	    remus_wire_authenticated(&e->wire) ? "authenticated" :
	    "UNAUTHENTICATED (no key)",
	    remus_wire_encrypted(&e->wire) ? "encrypted" : "not encrypted",
	    e->info.compression ? ", compressed" : "");

	e->threads = true;
	if (pthread_create(&e->sender, NULL, sender_main, e)) {
		e->threads = false;
		err = -EAGAIN;
		goto out;
	}
	e->last_tx = remus_now_ns();
	if (!e->info.blackhole &&
	    pthread_create(&e->acker, NULL, acker_main, e)) {
		link_lost(e, "start", -EAGAIN);
		pthread_join(e->sender, NULL);
		e->threads = false;
		err = -EAGAIN;
	} else if (!e->info.blackhole &&
		   pthread_create(&e->beater, NULL, beater_main, e)) {
		link_lost(e, "start", -EAGAIN);
		pthread_join(e->sender, NULL);
		pthread_join(e->acker, NULL);
		e->threads = false;
		err = -EAGAIN;
	}
out:
	free(frame);
	return err;
}

/* ---- the seed's callbacks ---- */

int remus_engine_suspend(struct remus_engine *e)
{
	uint64_t t0 = remus_now_ns(), t1, n;
	struct slot *s;
	int ok;

	uint64_t pre_pages = 0, pre_ns = 0;

	pthread_mutex_lock(&e->lock);
	s = e->pre;
	e->pre = NULL;
	if (s) {
		/* What precopy() put in stays: this checkpoint's first part. */
		pre_pages = s->c.nr_pages;
		pre_ns = s->c.st.precopy_ns;
	} else {
		s = slot_free(e);
		if (s) {
			s->state = SLOT_STAGING;
			s->c.nr_pages = 0;
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (!s)
		return 0;	/* checkpoint() keeps one free */

	ok = e->be->ops->suspend(e->be);
	t1 = remus_now_ns();
	if (ok != 1) {
		LOG(e, ERR, "checkpoint %" PRIu64 ": the guest did not suspend (%.0f ms)",
		    e->barrier + 1, (double)(t1 - t0) / 1e6);
		pthread_mutex_lock(&e->lock);
		s->state = SLOT_FREE;
		pthread_mutex_unlock(&e->lock);
		/* Pre-copied pages are re-armed: only a full copy has them. */
		if (pre_pages)
			e->precopy_failed = true;
		return 0;
	}
	e->suspended = true;
	n = e->barrier + 1;
	if (e->protected && buffers_barrier(e, n)) {
		/* Not safe to go on: output of n would leak into n + 1. */
		pthread_mutex_lock(&e->lock);
		s->state = SLOT_FREE;
		pthread_mutex_unlock(&e->lock);
		if (pre_pages)
			e->precopy_failed = true;
		return 0;
	}
	memset(&s->c.st, 0, sizeof(s->c.st));
	s->c.st.precopy_pages = pre_pages;
	s->c.st.precopy_ns = pre_ns;
	s->c.epoch = n;
	s->c.state_len = 0;
	s->c.t_barrier = remus_now_ns();
	s->c.st.epoch = n;
	s->c.st.suspend_ns = t1 - t0;
	s->c.st.barrier_ns = s->c.t_barrier - t1;
	e->barrier = n;
	e->cur = s;
	e->t_suspend0 = t0;
	fault(e, "pause", n);
	return 1;
}

int remus_engine_postcopy(struct remus_engine *e)
{
	struct slot *s = e->cur;
	uint64_t t0 = remus_now_ns();
	int ok = e->be->ops->postcopy(e->be);

	if (ok == 1)
		e->suspended = false;
	if (s) {
		/* Backends that drive the loop copied in between. */
		if (!s->c.st.copy_ns)
			s->c.st.copy_ns = t0 - s->c.t_barrier;
		s->c.st.resume_ns = remus_now_ns() - t0;
		s->c.st.pause_ns = remus_now_ns() - e->t_suspend0;
	}
	return ok;
}

/*
 * When to pre-copy: a quarter of the interval before the next checkpoint,
 * for intervals of 4 ms and more (below that it would only add work).
 */
static uint64_t precopy_lead(struct remus_engine *e)
{
	if (!e->info.precopy || !e->be->ops->precopy || !e->protected ||
	    e->info.interval_us < 4000)
		return 0;
	return (uint64_t)e->info.interval_us * 250ull;
}

/*
 * Copy what the guest wrote so far while it runs, into the slot the next
 * checkpoint will take: the pause is left with what it writes from now
 * on. Pages written again are copied again then; the later copy wins.
 */
static void precopy(struct remus_engine *e)
{
	uint64_t t0 = remus_now_ns();
	struct slot *s;
	int err;

	pthread_mutex_lock(&e->lock);
	s = slot_free(e);
	if (s)
		s->state = SLOT_STAGING;
	pthread_mutex_unlock(&e->lock);
	if (!s)
		return;		/* the pipeline is full: copy in the pause */
	s->c.nr_pages = 0;
	err = e->be->ops->precopy(e->be, &s->c);
	if (err) {
		if (err == -EOPNOTSUPP)
			e->info.precopy = false;
		else
			LOG(e, WARN, "pre-copy: %s: copying in the pause",
			    strerror(-err));
		/* Whatever it harvested is lost to tracking: copy all. */
		e->precopy_failed = true;
		pthread_mutex_lock(&e->lock);
		s->state = SLOT_FREE;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	s->c.st.precopy_ns = remus_now_ns() - t0;
	e->pre = s;
}

/*
 * Hand the staged checkpoint to the sender, wait until the pipeline has
 * room again (acks release output meanwhile, in the ack thread), then
 * wait out the interval. 1 = take another, 0 = stop.
 */
int remus_engine_checkpoint(struct remus_engine *e)
{
	struct slot *s = e->cur;
	uint64_t now;

	pthread_mutex_lock(&e->lock);
	if (s) {
		s->state = e->protected ? SLOT_QUEUED : SLOT_FREE;
		e->cur = NULL;
		pthread_cond_broadcast(&e->cond);
	}
	while (!e->lost && !atomic_load(&e->stop) && e->protected &&
	       in_flight(e) >= e->nr_slots)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);

	now = remus_now_ns();
	if (now > e->next_ns + 1000000ull) {
		/* The checkpoint took longer than the interval: go at once. */
		e->lag_total++;
		if (s)
			s->c.st.lag_ns = now - e->next_ns;
		e->next_ns = now;
	}
	bool pre_done = false;

	while (!atomic_load(&e->stop) && !e->lost) {
		struct pollfd p = { .fd = e->stop_efd, .events = POLLIN };
		int ms;

		uint64_t wake, lead = precopy_lead(e);

		now = remus_now_ns();
		if (now >= e->next_ns)
			break;
		/* Wake for the pre-copy first, then for the checkpoint. */
		if (lead && !e->pre && !pre_done) {
			if (now + lead >= e->next_ns) {
				precopy(e);
				pre_done = true;
				continue;
			}
			wake = e->next_ns - lead;
		} else {
			wake = e->next_ns;
		}
		ms = (int)((wake - now + 999999) / 1000000);
		if (ms > 1) {
			poll(&p, 1, ms - 1);
			continue;
		}
		/* The last millisecond: sleep precisely. */
		struct timespec ts = { 0, (long)(wake - now) };

		nanosleep(&ts, NULL);
	}
	e->next_ns += (uint64_t)e->info.interval_us * 1000ull;
	if (atomic_load(&e->stop))
		return 0;
	/* A backend's own loop ends here; run_backend() applies the policy. */
	if (e->lost && e->be->ops->run)
		return 0;
	return 1;
}

const struct remus_ctx *remus_engine_ctx(struct remus_engine *e)
{
	return e->ctx;
}

struct remus_ckpt *remus_engine_staging(struct remus_engine *e)
{
	return e->cur ? &e->cur->c : NULL;
}

void remus_engine_stop(struct remus_engine *e)
{
	uint64_t one = 1;
	ssize_t n;

	atomic_store(&e->stop, true);
	n = write(e->stop_efd, &one, sizeof(one));
	(void)n;
}

/* ---- the loop the engine drives ---- */

static int take_checkpoint(struct remus_engine *e, bool full)
{
	uint64_t t0;
	int err;

	if (remus_engine_suspend(e) != 1)
		return -EIO;
	if (e->precopy_failed) {
		full = true;
		e->precopy_failed = false;
	}
	t0 = remus_now_ns();
	err = e->be->ops->copy(e->be, &e->cur->c, full);
	e->cur->c.st.copy_ns = remus_now_ns() - t0;
	e->cur->c.st.pages = e->cur->c.nr_pages;
	e->cur->c.st.state_bytes = e->cur->c.state_len;
	e->cur->c.full = full;
	if (remus_engine_postcopy(e) != 1)
		return err ? err : -EIO;
	return err;
}

/* Wait until every checkpoint taken so far is acked, or the link goes. */
static void drain(struct remus_engine *e)
{
	pthread_mutex_lock(&e->lock);
	while (!e->lost && e->acked < e->barrier)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
}

static int send_bye(struct remus_engine *e, uint32_t reason)
{
	uint8_t body[REMUS_BYE_LEN], *frame;
	size_t cap;
	int err;

	if (!e->wire_ready || e->info.blackhole)
		return 0;
	/* The sender has stopped: its side of the wire is ours now. */
	cap = remus_wire_tx_frame_max(&e->wire);
	frame = malloc(cap);
	if (!frame)
		return -ENOMEM;
	remus_bye_put(body, reason);
	tx_lock(e);
	err = send_frame(e, frame,
			 remus_wire_send_body(&e->wire, REMUS_REC_BYE, e->sent,
					      body, sizeof(body), frame, cap));
	tx_unlock(e);
	free(frame);
	return err;
}

static int connect_backup(struct remus_engine *e)
{
	int fd;

	if (e->info.blackhole)
		return session_start(e, -1, -1);
	if (!e->info.connect)
		return -ENOTCONN;
	fd = e->info.connect(e->info.connect_data);
	if (fd < 0)
		return fd;
	return session_start(e, fd, fd);
}

/* The guest's end, from err or else from the backend's check(): an end
 * code, or -1 while it lives. */
static int guest_end(struct remus_engine *e, int err)
{
	if (!err && e->be->ops->check)
		err = e->be->ops->check(e->be);
	if (err == -ESRCH)
		return REMUS_END_GUEST_GONE;
	if (err == -ESHUTDOWN)
		return REMUS_END_GUEST_SHUTDOWN;
	return -1;
}

/*
 * The pause policy: stop the guest, by the backend's hold when it has one
 * (at once, and whether the guest would suspend or not), else by a
 * suspend. False, and said, when it still runs.
 */
static bool guest_hold(struct remus_engine *e)
{
	int err = 0;

	if (e->suspended || e->held)
		return true;
	if (e->be->ops->hold) {
		err = e->be->ops->hold(e->be, true);
		e->held = !err;
	} else if (e->be->ops->suspend(e->be) == 1) {
		e->suspended = true;
	}
	if (e->held || e->suspended)
		return true;
	LOG(e, ERR, "policy pause: the guest could not be held%s%s: it runs, its output held",
	    err ? ": " : "", err ? strerror(-err) : "");
	return false;
}

/* Let a held or suspended guest run again. */
static void guest_release(struct remus_engine *e)
{
	int err;

	if (e->held) {
		err = e->be->ops->hold(e->be, false);
		if (err)
			LOG(e, ERR, "cannot let the guest go: %s", strerror(-err));
		else
			e->held = false;
	}
	if (e->suspended && e->be->ops->postcopy(e->be) == 1)
		e->suspended = false;
}

/* The backup is gone: apply the policy until one is back (or give up). */
static int backup_lost(struct remus_engine *e)
{
	int err;

	session_end(e);
	e->protected = false;
	if (e->info.policy == REMUS_POLICY_PAUSE) {
		if (guest_hold(e))
			LOG(e, WARN, "policy pause: guest held, output held, until a backup returns");
	} else {
		buffers_mode(e, false);
		LOG(e, WARN, "policy continue: output released, guest runs UNPROTECTED");
	}
	if (!e->info.repair)
		return REMUS_END_BACKUP_LOST;
	if (e->nr_disks) {
		/* Read but unacked log records went with the session. */
		LOG(e, ERR, "disks cannot be protected again without a resync (not implemented): not re-pairing");
		return REMUS_END_BACKUP_LOST;
	}

	while (!atomic_load(&e->stop)) {
		struct pollfd p = { .fd = e->stop_efd, .events = POLLIN };
		int end = guest_end(e, 0);

		if (end >= 0)
			return end;
		err = connect_backup(e);
		if (!err)
			break;
		session_end(e);
		LOG(e, DEBUG, "re-pairing: %s", strerror(-err));
		poll(&p, 1, (int)e->info.reconnect_ms);
	}
	if (atomic_load(&e->stop))
		return REMUS_END_STOPPED;
	if (e->info.policy == REMUS_POLICY_CONTINUE)
		buffers_mode(e, true);
	e->protected = true;
	LOG(e, NOTICE, "re-paired with a backup: protected again after a full checkpoint");
	return -1;
}

static int run_loop(struct remus_engine *e)
{
	bool full = true;
	int err, end;

	e->next_ns = remus_now_ns();
	for (;;) {
		end = guest_end(e, 0);
		if (end >= 0)
			return end;
		if (e->lost) {
			end = backup_lost(e);
			if (end >= 0)
				return end;
			full = true;
		}
		if (atomic_load(&e->stop))
			return REMUS_END_STOPPED;
		guest_release(e);
		err = take_checkpoint(e, full);
		if (err) {
			end = guest_end(e, 0);
			if (end >= 0)
				return end;
			LOG(e, ERR, "checkpoint %" PRIu64 ": %s", e->barrier,
			    strerror(-err));
			return REMUS_END_ERROR;
		}
		full = false;
		if (remus_engine_checkpoint(e) == 0)
			return REMUS_END_STOPPED;
	}
}

/*
 * A backend that drives its own save loop: run it; when the backup is
 * lost its checkpoint() returns 0 and the loop ends, the policy applies,
 * and after re-pairing the backend starts over with a full stream.
 */
static int run_backend(struct remus_engine *e)
{
	int err, end;

	e->next_ns = remus_now_ns();
	for (;;) {
		if (e->lost) {
			end = backup_lost(e);
			if (end >= 0)
				return end;
			guest_release(e);
		}
		err = e->be->ops->run(e->be, e);
		if (err == -ESRCH || err == -ESHUTDOWN)
			return guest_end(e, err);
		if (atomic_load(&e->stop))
			return REMUS_END_STOPPED;
		if (!e->lost)
			return err ? REMUS_END_ERROR : REMUS_END_STOPPED;
	}
}

static int engine_init(struct remus_engine *e, const struct remus_ctx *ctx,
		       const struct remus_info *info, struct remus_backend *be)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	e->info = *info;
	e->be = be;
	e->send_fd = e->recv_fd = -1;
	e->stop_efd = -1;
	if (!e->info.pipeline)
		e->info.pipeline = 1;
	if (e->info.interval_us < 1000 || !e->info.heartbeat_ms ||
	    e->info.timeout_ms <= e->info.heartbeat_ms)
		return -EINVAL;
	if (!be->ops->run && (!be->ops->copy || !be->ops->suspend ||
			      !be->ops->postcopy))
		return -EINVAL;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->txlock, NULL);
	pthread_cond_init(&e->cond, NULL);
	e->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->stop_efd < 0)
		return -errno;
	err = be->ops->geometry(be, &e->geo);
	if (err)
		return err;
	err = remus_page_cache_init(&e->cache, e->geo.page_size,
				    e->info.compression ?
				    e->info.delta_cache_pages : 0);
	if (err)
		return err;
	err = remus_compressor_init(&e->cz, e->info.compression ?
				    e->info.codec : REMUS_CODEC_NONE, 0);
	if (err)
		return err;
	err = slots_init(e);
	if (err)
		return err;
	return buffers_open(e);
}

static void engine_fini(struct remus_engine *e)
{
	buffers_close(e);
	slots_fini(e);
	remus_compressor_fini(&e->cz);
	remus_page_cache_fini(&e->cache);
	if (e->stop_efd >= 0)
		close(e->stop_efd);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->txlock);
	pthread_mutex_destroy(&e->lock);
}

int remus_start(const struct remus_ctx *ctx, const struct remus_info *info,
		struct remus_backend *backend, int send_fd, int recv_fd)
{
	struct remus_engine *e = calloc(1, sizeof(*e));
	int err, end;

	if (!e)
		return REMUS_END_ERROR;
	err = engine_init(e, ctx, info, backend);
	if (err) {
		LOG(e, ERR, "setup: %s", strerror(-err));
		end = REMUS_END_ERROR;
		goto out;
	}
	if (ctx && ctx->started)
		ctx->started(ctx->started_data, e);

	/* TBD in the seed: buffers attached at setup. They are, and hold. */
	buffers_mode(e, true);
	if (info->blackhole)
		err = session_start(e, -1, -1);
	else if (send_fd >= 0)
		err = session_start(e, send_fd, recv_fd);
	else
		err = connect_backup(e);
	/*
	 * With disks, the backup's copy is only good if it sees the log
	 * from the start: wait for it rather than run unprotected (the
	 * guest runs; its writes wait once the log is full).
	 */
	while (err && e->nr_disks && !atomic_load(&e->stop)) {
		struct pollfd p = { .fd = e->stop_efd, .events = POLLIN };

		session_end(e);
		LOG(e, WARN, "no backup yet (%s): waiting for it, disks logging",
		    strerror(-err));
		poll(&p, 1, (int)e->info.reconnect_ms);
		err = connect_backup(e);
	}
	if (err) {
		LOG(e, ERR, "no backup at start: %s", strerror(-err));
		session_end(e);
		e->lost = true;
	} else {
		e->protected = true;
	}

	if (backend->ops->run)
		end = run_backend(e);
	else
		end = run_loop(e);

	/*
	 * TBD in the seed: cleanup. An orderly stop: the last checkpoint
	 * acked, output released through it, the backup told goodbye so
	 * that it does not take over; then the policy for what is left.
	 */
	if ((end == REMUS_END_STOPPED || end == REMUS_END_GUEST_SHUTDOWN) &&
	    e->protected && !e->lost) {
		/* A guest that shut itself down is no loss of the primary:
		 * the backup stands down too (the reason says why). */
		uint32_t why = end == REMUS_END_GUEST_SHUTDOWN ? ESHUTDOWN : 0;

		drain(e);
		pthread_mutex_lock(&e->lock);
		e->lost = true;
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
		if (e->threads) {
			pthread_join(e->sender, NULL);
			if (!info->blackhole)
				pthread_join(e->beater, NULL);
			e->threads = false;
			if (send_bye(e, why) == 0)
				LOG(e, NOTICE, "backup told: %s at epoch %" PRIu64,
				    why ? "the guest shut itself down" : "orderly stop",
				    e->acked);
			if (e->send_fd >= 0)
				shutdown(e->send_fd, SHUT_RDWR);
			if (!info->blackhole)
				pthread_join(e->acker, NULL);
		}
	}
	session_end(e);
	if (end == REMUS_END_GUEST_GONE || end == REMUS_END_GUEST_SHUTDOWN) {
		buffers_mode(e, false);	/* nothing left to protect */
	} else if (e->info.policy == REMUS_POLICY_CONTINUE) {
		buffers_mode(e, false);
		guest_release(e);
	} else if (guest_hold(e)) {
		LOG(e, WARN, "policy pause: guest left %s, output held",
		    e->held ? "held" : "suspended");
	}
	if (ctx && ctx->started)
		ctx->started(ctx->started_data, NULL);
out:
	engine_fini(e);
	free(e);
	return end;
}
