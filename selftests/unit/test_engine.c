// SPDX-License-Identifier: GPL-2.0
/*
 * The epoch engine and the backup against each other on loopback, with a
 * synthetic guest whose memory at every epoch is known: the committed
 * image must be exactly the guest's memory at the acknowledged epoch;
 * an orderly stop must not fail over; a vanished primary must; a silent
 * backup must be declared lost within the timeout and the policy applied;
 * a wrong key must never reach commit; acks must cover only epochs sent.
 *
 * The synthetic guest isolates the engine from process control; the proc
 * backend itself has its own tests (test_proc, test_dirty) and the
 * end-to-end suite runs the real thing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "delta.h"
#include "link.h"
#include "remus.h"

#define PAGES		64
#define PAGE		4096
#define PER_EPOCH	5	/* pages written between two checkpoints */

static int tests, failed;

#define CHECK(cond, name, ...)						\
	do {								\
		tests++;						\
		if (cond) {						\
			printf("ok %d %s\n", tests, name);		\
		} else {						\
			failed++;					\
			printf("not ok %d %s\n#   ", tests, name);	\
			printf(__VA_ARGS__);				\
			printf("\n");					\
		}							\
		fflush(stdout);						\
	} while (0)

/* ---- the synthetic guest ---- */

struct guest {
	uint8_t mem[PAGES][PAGE];
	uint8_t dirty[PAGES];
	uint64_t step;		/* checkpoints taken */
	bool suspended;
	atomic_int suspends, resumes;
	int stop_after;		/* remus_engine_stop() after this many */
	struct remus_engine *e;
	bool fail_suspend;
	bool held;		/* by hold(), the pause policy */
	int shut_after;		/* shuts itself down at this checkpoint */
	bool shut;
	bool precopied;		/* this epoch's first part was pre-copied */
	int precopies;
};

/* What the guest writes before checkpoint n: pages n*5+k0 .. n*5+k1-1
 * mod 64. */
static void write_part(uint8_t mem[PAGES][PAGE], uint8_t *dirty, uint64_t n,
		       unsigned int k0, unsigned int k1)
{
	unsigned int k;

	for (k = k0; k < k1; k++) {
		unsigned int p = (unsigned int)((n * PER_EPOCH + k) % PAGES);

		memset(mem[p], 0, PAGE);
		memcpy(mem[p], &n, sizeof(n));
		mem[p][100 + k] = (uint8_t)(n * 31 + k);
		if (dirty)
			dirty[p] = 1;
	}
}

/* ... then writes its first page of the epoch again. */
static void rewrite_first(uint8_t mem[PAGES][PAGE], uint8_t *dirty,
			  uint64_t n)
{
	unsigned int p = (unsigned int)((n * PER_EPOCH) % PAGES);

	mem[p][200] = (uint8_t)(n * 7 + 1);
	if (dirty)
		dirty[p] = 1;
}

static void write_epoch(uint8_t mem[PAGES][PAGE], uint8_t *dirty, uint64_t n)
{
	write_part(mem, dirty, n, 0, PER_EPOCH);
	rewrite_first(mem, dirty, n);
}

static int g_geometry(struct remus_backend *b, struct remus_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->page_size = PAGE;
	h->nr_regions = 1;
	h->nr_pages = PAGES;
	h->regions[0].nr_pages = PAGES;
	return 0;
}

static int g_suspend(struct remus_backend *b)
{
	struct guest *g = b->priv;

	if (g->fail_suspend || g->shut)
		return 0;
	if (g->shut_after && (int)g->step >= g->shut_after) {
		g->shut = true;		/* as a Xen guest that powered off */
		return 0;
	}
	g->suspended = true;
	atomic_fetch_add(&g->suspends, 1);
	return 1;
}

/* The dirty pages into c, clean again. */
static int copy_dirty(struct guest *g, struct remus_ckpt *c, bool full)
{
	uint64_t *pfns;
	uint8_t *pages;
	unsigned int p;
	int err;

	for (p = 0; p < PAGES; p++) {
		if (!full && !g->dirty[p])
			continue;
		err = remus_ckpt_reserve(c, 1, &pfns, &pages);
		if (err)
			return err;
		*pfns = p;
		memcpy(pages, g->mem[p], PAGE);
		g->dirty[p] = 0;
	}
	return 0;
}

/*
 * The guest ran: one more epoch of writes, the first part of it already
 * pre-copied when pre-copy is on (and the first page written again since).
 */
static int g_copy(struct remus_backend *b, struct remus_ckpt *c, bool full)
{
	struct guest *g = b->priv;
	int err;

	g->step++;
	if (!g->precopied)
		write_part(g->mem, g->dirty, g->step, 0, 3);
	write_part(g->mem, g->dirty, g->step, 3, PER_EPOCH);
	rewrite_first(g->mem, g->dirty, g->step);
	g->precopied = false;
	err = copy_dirty(g, c, full);
	if (err)
		return err;
	return remus_ckpt_set_state(c, &g->step, sizeof(g->step));
}

static int g_precopy(struct remus_backend *b, struct remus_ckpt *c)
{
	struct guest *g = b->priv;

	write_part(g->mem, g->dirty, g->step + 1, 0, 3);
	g->precopied = true;
	g->precopies++;
	return copy_dirty(g, c, false);
}

static int g_postcopy(struct remus_backend *b)
{
	struct guest *g = b->priv;

	g->suspended = false;
	atomic_fetch_add(&g->resumes, 1);
	if (g->stop_after && (int)g->step >= g->stop_after && g->e)
		remus_engine_stop(g->e);
	return 1;
}

static int g_check(struct remus_backend *b)
{
	struct guest *g = b->priv;

	return g->shut ? -ESHUTDOWN : 0;
}

static const struct remus_backend_ops guest_ops = {
	.kind = "synthetic",
	.geometry = g_geometry,
	.suspend = g_suspend,
	.copy = g_copy,
	.postcopy = g_postcopy,
	.check = g_check,
};

static int g_hold(struct remus_backend *b, bool on)
{
	struct guest *g = b->priv;

	g->held = on;
	return 0;
}

/* A backend that can hold its guest without asking it (Xen's pause). */
static const struct remus_backend_ops guest_hold_ops = {
	.kind = "synthetic, holding",
	.geometry = g_geometry,
	.suspend = g_suspend,
	.copy = g_copy,
	.postcopy = g_postcopy,
	.check = g_check,
	.hold = g_hold,
};

static const struct remus_backend_ops guest_precopy_ops = {
	.kind = "synthetic, pre-copying",
	.geometry = g_geometry,
	.suspend = g_suspend,
	.copy = g_copy,
	.postcopy = g_postcopy,
	.precopy = g_precopy,
};

static void started(void *data, struct remus_engine *e)
{
	struct guest *g = data;

	g->e = e;
}

/* ---- the in-memory sink ---- */

struct sink {
	uint8_t committed[PAGES][PAGE];
	uint8_t staged[PAGES][PAGE];
	uint8_t mark[PAGES];
	uint64_t state, staged_state;
	uint64_t commits, last_epoch;
	atomic_int failovers;
	bool mismatch;		/* committed state != image it claims */
	int refuse;		/* hello refuses with this errno */
};

static int s_hello(struct remus_backup_sink *s, const struct remus_hello *h)
{
	struct sink *k = s->priv;

	if (k->refuse)
		return k->refuse;
	return h->page_size == PAGE && h->nr_pages == PAGES ? 0 : EINVAL;
}

static int s_page(struct remus_backup_sink *s, uint64_t epoch,
		  const struct remus_batch_item *it)
{
	struct sink *k = s->priv;

	if (it->where >= PAGES)
		return -EBADMSG;
	if (!k->mark[it->where]) {
		memcpy(k->staged[it->where], k->committed[it->where], PAGE);
		k->mark[it->where] = 1;
	}
	return remus_delta_apply(k->staged[it->where], PAGE, it->kind,
				 it->data, it->len);
}

static int s_state(struct remus_backup_sink *s, uint64_t epoch,
		   const struct remus_state *st)
{
	struct sink *k = s->priv;

	if (st->total != sizeof(uint64_t) || st->len != sizeof(uint64_t))
		return -EBADMSG;
	memcpy(&k->staged_state, st->data, sizeof(uint64_t));
	return 0;
}

static int s_commit(struct remus_backup_sink *s, uint64_t epoch)
{
	struct sink *k = s->priv;
	static uint8_t expect[PAGES][PAGE];
	uint64_t n;
	unsigned int p;

	for (p = 0; p < PAGES; p++)
		if (k->mark[p])
			memcpy(k->committed[p], k->staged[p], PAGE);
	memset(k->mark, 0, sizeof(k->mark));
	k->state = k->staged_state;
	k->commits++;
	k->last_epoch = epoch;
	/* The image must be the guest's memory after `state` epochs. */
	memset(expect, 0, sizeof(expect));
	for (n = 1; n <= k->state; n++)
		write_epoch(expect, NULL, n);
	if (memcmp(expect, k->committed, sizeof(expect)))
		k->mismatch = true;
	return 0;
}

static void s_discard(struct remus_backup_sink *s)
{
	struct sink *k = s->priv;

	memset(k->mark, 0, sizeof(k->mark));
}

static int s_failover(struct remus_backup_sink *s)
{
	struct sink *k = s->priv;

	atomic_fetch_add(&k->failovers, 1);
	return 0;
}

static const struct remus_backup_sink_ops sink_ops = {
	.kind = "memory",
	.hello = s_hello,
	.page = s_page,
	.state = s_state,
	.commit = s_commit,
	.discard = s_discard,
	.failover = s_failover,
};

/* ---- running both ---- */

struct bk {
	pthread_t t;
	struct remus_backup_info info;
	struct remus_backup_sink sink;
	struct sink k;
	struct remus_backup *b;
	int result;
	char listen[32];
	uint8_t key[REMUS_WIRE_KEY_LEN];
};

static struct remus_ctx ctx = { .level = REMUS_LOG_ERR };

static void bk_started(void *data, struct remus_backup *b)
{
	struct bk *x = data;

	__atomic_store_n(&x->b, b, __ATOMIC_SEQ_CST);
}

static void *bk_main(void *arg)
{
	struct bk *x = arg;

	x->result = remus_backup_run(&ctx, &x->info, &x->sink, bk_started, x);
	return NULL;
}

static int next_port = 17300;

static struct bk *bk_start(const uint8_t *key, unsigned int hb,
			   unsigned int timeout, bool once)
{
	struct bk *x = calloc(1, sizeof(*x));
	int i;

	snprintf(x->listen, sizeof(x->listen), "127.0.0.1:%d",
		 next_port + (int)(getpid() % 500));
	next_port++;
	x->sink.ops = &sink_ops;
	x->sink.priv = &x->k;
	x->info.listen = x->listen;
	x->info.heartbeat_ms = hb;
	x->info.timeout_ms = timeout;
	x->info.once = once;
	if (key) {
		memcpy(x->key, key, sizeof(x->key));
		x->info.auth = REMUS_WIRE_AUTH_MAC;
		x->info.key = x->key;
	} else {
		x->info.auth = REMUS_WIRE_AUTH_NONE;
	}
	pthread_create(&x->t, NULL, bk_main, x);
	for (i = 0; i < 200 && !__atomic_load_n(&x->b, __ATOMIC_SEQ_CST); i++)
		usleep(5000);
	return x;
}

struct peer {
	struct remus_addr a;
};

static int connect_cb(void *data)
{
	struct peer *p = data;

	return remus_tcp_connect(&p->a, 1000);
}

static void info_for(struct remus_info *info, struct peer *p, struct bk *x,
		     const uint8_t *key)
{
	remus_info_init(info);
	info->interval_us = 2000;
	info->heartbeat_ms = 20;
	info->timeout_ms = 300;
	info->reconnect_ms = 50;
	info->repair = false;
	if (key) {
		info->auth = REMUS_WIRE_AUTH_MAC;
		info->key = key;
	} else {
		info->auth = REMUS_WIRE_AUTH_NONE;
	}
	if (x) {
		remus_addr_parse(x->listen, &p->a);
		info->connect = connect_cb;
		info->connect_data = p;
	}
}

static struct remus_epoch_stats last_stats;
static atomic_int epochs_reported;

static void on_epoch(void *data, const struct remus_epoch_stats *st)
{
	last_stats = *st;
	atomic_fetch_add(&epochs_reported, 1);
}

/* Checkpoints flow; the committed image is the guest's memory at each
 * committed epoch; an orderly stop tells the backup, which does not take
 * over. */
static void test_orderly(const uint8_t *key, bool compress, unsigned int depth)
{
	struct guest g = { .stop_after = 40 };
	struct remus_backend b = { .ops = &guest_ops, .priv = &g };
	struct remus_ctx c = ctx;
	struct remus_info info;
	struct peer p;
	struct bk *x = bk_start(key, 20, 300, true);
	char name[128];
	int end;

	info_for(&info, &p, x, key);
	info.compression = compress;
	info.pipeline = depth;
	info.on_epoch = on_epoch;
	c.started = started;
	c.started_data = &g;
	end = remus_start(&c, &info, &b, -1, -1);
	pthread_join(x->t, NULL);

	snprintf(name, sizeof(name), "%s%s, depth %u: stops in order",
		 key ? "keyed" : "no key", compress ? ", compressed" : "", depth);
	CHECK(end == REMUS_END_STOPPED, name, "expected REMUS_END_STOPPED, saw %d", end);
	snprintf(name, sizeof(name), "%s%s, depth %u: every checkpoint committed",
		 key ? "keyed" : "no key", compress ? ", compressed" : "", depth);
	CHECK(x->k.commits >= 40 && x->k.state == g.step, name,
	      "expected >= 40 commits ending at step %" PRIu64 ", saw %" PRIu64
	      " commits ending at step %" PRIu64, g.step, x->k.commits,
	      x->k.state);
	snprintf(name, sizeof(name), "%s%s, depth %u: committed image is the guest's memory",
		 key ? "keyed" : "no key", compress ? ", compressed" : "", depth);
	CHECK(!x->k.mismatch && !memcmp(x->k.committed, g.mem, sizeof(g.mem)),
	      name, "committed image differs from the guest's memory");
	snprintf(name, sizeof(name), "%s%s, depth %u: no failover after goodbye",
		 key ? "keyed" : "no key", compress ? ", compressed" : "", depth);
	CHECK(atomic_load(&x->k.failovers) == 0 &&
	      x->result == REMUS_BACKUP_STOPPED, name,
	      "expected no failover and STOPPED, saw %d failovers, result %d",
	      atomic_load(&x->k.failovers), x->result);
	free(x);
}

/* Pre-copy while the guest runs: the committed image is still exact, with
 * pages written again after the pre-copy carried by the pause's copy. */
static void test_precopy(void)
{
	struct guest g = { .stop_after = 30 };
	struct remus_backend b = { .ops = &guest_precopy_ops, .priv = &g };
	struct remus_ctx c = ctx;
	struct remus_info info;
	struct peer p;
	struct bk *x = bk_start(NULL, 20, 300, true);
	int end;

	info_for(&info, &p, x, NULL);
	info.interval_us = 8000;	/* pre-copy needs 4 ms or more */
	c.started = started;
	c.started_data = &g;
	end = remus_start(&c, &info, &b, -1, -1);
	pthread_join(x->t, NULL);
	CHECK(end == REMUS_END_STOPPED && g.precopies >= 20,
	      "pre-copy: used while the guest runs",
	      "expected STOPPED and >= 20 pre-copies, saw %d and %d", end,
	      g.precopies);
	CHECK(!x->k.mismatch && x->k.state == g.step &&
	      !memcmp(x->k.committed, g.mem, sizeof(g.mem)),
	      "pre-copy: committed image is the guest's memory",
	      "committed image differs (state %" PRIu64 " of %" PRIu64 ")",
	      x->k.state, g.step);
	free(x);
}

/* The primary vanishes (connection closed, no goodbye): failover to the
 * last committed checkpoint. */
static void test_primary_vanishes(void)
{
	struct bk *x = bk_start(NULL, 20, 300, false);
	struct remus_wire_cfg cfg = { .role = REMUS_WIRE_PRIMARY,
				      .auth = REMUS_WIRE_AUTH_NONE };
	struct remus_hello h;
	struct remus_wire w;
	struct remus_frame f;
	struct remus_addr a;
	uint8_t frame[1 << 16];
	ssize_t n;
	int fd, ret;

	remus_addr_parse(x->listen, &a);
	fd = remus_tcp_connect(&a, 1000);
	remus_wire_init(&w, &cfg);
	g_geometry(NULL, &h);
	h.start_epoch = 1;
	n = remus_wire_hello(&w, &h, frame, sizeof(frame));
	remus_link_write(fd, frame, (size_t)n, 1000);
	ret = remus_link_read_frame(fd, &w, &f, 1000);
	/* one whole checkpoint, then half of the next */
	n = remus_wire_end(&w, 1, frame, sizeof(frame));
	remus_link_write(fd, frame, (size_t)n, 1000);
	remus_state_hdr(frame + REMUS_WIRE_HDR_LEN, 1, 0, 8);
	memset(frame + REMUS_WIRE_HDR_LEN + REMUS_STATE_HDR_LEN, 0, 8);
	n = remus_wire_seal(&w, REMUS_REC_STATE, 2, frame,
			    REMUS_STATE_HDR_LEN + 8, sizeof(frame));
	remus_link_write(fd, frame, (size_t)n, 1000);
	usleep(50000);
	close(fd);
	pthread_join(x->t, NULL);
	remus_wire_fini(&w);
	CHECK(ret == 1 && x->result == REMUS_BACKUP_FAILED_OVER &&
	      atomic_load(&x->k.failovers) == 1 && x->k.last_epoch == 1,
	      "primary gone without goodbye: failover to the last whole checkpoint",
	      "expected FAILED_OVER at epoch 1, saw result %d, %d failovers, epoch %" PRIu64,
	      x->result, atomic_load(&x->k.failovers), x->k.last_epoch);
	free(x);
}

/* A backup that accepts and then says nothing: lost within the timeout;
 * policy continue resumes the guest, policy pause leaves it suspended. */
struct mute {
	int lfd, fd;
	pthread_t t;
	struct remus_addr a;
};

static void *mute_main(void *arg)
{
	struct mute *m = arg;
	struct remus_wire_cfg cfg = { .role = REMUS_WIRE_BACKUP,
				      .auth = REMUS_WIRE_AUTH_NONE,
				      .features = REMUS_FEAT_DELTA };
	struct remus_wire w;
	struct remus_frame f;
	uint8_t frame[4096];
	ssize_t n;

	m->fd = remus_tcp_accept(m->lfd, 2000, NULL);
	remus_wire_init(&w, &cfg);
	if (remus_link_read_frame(m->fd, &w, &f, 1000) == 1) {
		n = remus_wire_accept(&w, 0, frame, sizeof(frame));
		remus_link_write(m->fd, frame, (size_t)n, 1000);
	}
	remus_wire_fini(&w);
	/* and now silence, but keep the connection open */
	return NULL;
}

static void test_backup_silent(enum remus_policy policy, bool hold)
{
	struct guest g = { 0 };
	struct remus_backend b = { .ops = hold ? &guest_hold_ops : &guest_ops,
				   .priv = &g };
	struct remus_info info;
	struct mute m = { .fd = -1 };
	struct peer p;
	uint64_t t0, dt;
	int end;

	remus_addr_parse("127.0.0.1:0", &m.a);
	m.lfd = remus_tcp_listen(&m.a);
	m.a.len = sizeof(m.a.ss);
	getsockname(m.lfd, (struct sockaddr *)&m.a.ss, &m.a.len);
	pthread_create(&m.t, NULL, mute_main, &m);
	info_for(&info, &p, NULL, NULL);
	p.a = m.a;
	info.connect = connect_cb;
	info.connect_data = &p;
	info.policy = policy;
	t0 = remus_now_ns();
	end = remus_start(&ctx, &info, &b, -1, -1);
	dt = (remus_now_ns() - t0) / 1000000;
	pthread_join(m.t, NULL);
	CHECK(end == REMUS_END_BACKUP_LOST && dt < 2000,
	      policy == REMUS_POLICY_CONTINUE ? "silent backup: lost within the timeout (continue)" :
	      hold ? "silent backup: lost within the timeout (pause, a backend that holds)" :
	      "silent backup: lost within the timeout (pause)",
	      "expected BACKUP_LOST in < 2 s (timeout 300 ms), saw %d after %" PRIu64 " ms",
	      end, dt);
	if (policy == REMUS_POLICY_PAUSE && hold)
		CHECK(g.held && !g.suspended,
		      "policy pause: the guest is held by the backend's hold, not a suspend",
		      "expected the guest held and not suspended, saw held %d suspended %d",
		      g.held, g.suspended);
	else if (policy == REMUS_POLICY_PAUSE)
		CHECK(g.suspended, "policy pause: the guest is held",
		      "expected the guest suspended, it runs");
	else
		CHECK(!g.suspended, "policy continue: the guest runs",
		      "expected the guest running, it is suspended");
	close(m.fd);
	close(m.lfd);
}

/* A primary with the wrong key never gets a checkpoint committed. */
static void test_wrong_key(void)
{
	uint8_t k1[REMUS_WIRE_KEY_LEN], k2[REMUS_WIRE_KEY_LEN];
	struct guest g = { .stop_after = 5 };
	struct remus_backend b = { .ops = &guest_ops, .priv = &g };
	struct remus_info info;
	struct bk *x;
	struct peer p;
	struct remus_backup_status st;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	x = bk_start(k1, 20, 300, false);
	info_for(&info, &p, x, k2);
	remus_start(&ctx, &info, &b, -1, -1);
	remus_backup_status(x->b, &st);
	CHECK(x->k.commits == 0 && atomic_load(&x->k.failovers) == 0,
	      "wrong key: nothing committed, no failover",
	      "expected 0 commits, 0 failovers, saw %" PRIu64 ", %d",
	      x->k.commits, atomic_load(&x->k.failovers));
	remus_backup_stop(x->b);
	pthread_join(x->t, NULL);
	free(x);
}

static void keep_refusal(void *data, enum remus_log_level level,
			 const char *msg)
{
	if (strstr(msg, "refused the session"))
		snprintf(data, 512, "%s", msg);
}

/*
 * A session the sink refuses: the primary hears why, in what the errno
 * means from a sink (the xen sink's EBUSY and ENODEV are no geometry).
 */
static void test_refused(int err, const char *why)
{
	struct guest g = { 0 };
	struct remus_backend b = { .ops = &guest_ops, .priv = &g };
	struct remus_ctx c = ctx;
	struct remus_info info;
	struct peer p;
	struct bk *x = bk_start(NULL, 20, 300, false);
	char seen[512] = "", want[256], name[128];
	int end;

	x->k.refuse = err;
	info_for(&info, &p, x, NULL);
	c.log = keep_refusal;
	c.log_data = seen;
	end = remus_start(&c, &info, &b, -1, -1);
	snprintf(want, sizeof(want), "%s: %s", strerror(err), why);
	snprintf(name, sizeof(name), "refused (%s): the primary is told \"%s\"",
		 strerror(err), why);
	CHECK(end == REMUS_END_BACKUP_LOST && strstr(seen, want), name,
	      "expected BACKUP_LOST and \"...%s\", saw %d and \"%s\"", want,
	      end, seen);
	remus_backup_stop(x->b);
	pthread_join(x->t, NULL);
	free(x);
}

/* Blackhole: checkpoints to nowhere, acked at once, no peer needed. */
static void test_blackhole(void)
{
	struct guest g = { .stop_after = 20 };
	struct remus_backend b = { .ops = &guest_ops, .priv = &g };
	struct remus_ctx c = ctx;
	struct remus_info info;
	struct peer p;
	int end, before = atomic_load(&epochs_reported);

	info_for(&info, &p, NULL, NULL);
	info.blackhole = true;
	info.on_epoch = on_epoch;
	c.started = started;
	c.started_data = &g;
	end = remus_start(&c, &info, &b, -1, -1);
	CHECK(end == REMUS_END_STOPPED &&
	      atomic_load(&epochs_reported) - before >= 20,
	      "blackhole: checkpoints acked at once",
	      "expected STOPPED and >= 20 epochs, saw %d and %d", end,
	      atomic_load(&epochs_reported) - before);
	CHECK(last_stats.pause_ns > 0 && last_stats.wire_bytes > 0,
	      "blackhole: per-epoch pause and wire bytes reported",
	      "pause %" PRIu64 " ns, wire %" PRIu64 " bytes", last_stats.pause_ns,
	      last_stats.wire_bytes);
}

/* An engine that cannot suspend the guest stops with an error. */
static void test_suspend_fails(enum remus_policy policy)
{
	struct guest g = { .fail_suspend = true };
	struct remus_backend b = { .ops = &guest_hold_ops, .priv = &g };
	struct remus_info info;
	struct peer p;
	int end;

	info_for(&info, &p, NULL, NULL);
	info.blackhole = true;
	info.policy = policy;
	end = remus_start(&ctx, &info, &b, -1, -1);
	if (policy == REMUS_POLICY_PAUSE)
		CHECK(end == REMUS_END_ERROR && g.held && !g.suspended,
		      "suspend refused, policy pause: engine ends with an error, guest held without a suspend",
		      "expected REMUS_END_ERROR and the guest held, saw %d (held %d, suspended %d)",
		      end, g.held, g.suspended);
	else
		CHECK(end == REMUS_END_ERROR && !g.suspended && !g.held,
		      "suspend refused: engine ends with an error, guest left running",
		      "expected REMUS_END_ERROR and the guest running, saw %d (held %d, suspended %d)",
		      end, g.held, g.suspended);
}

/*
 * A guest that shuts itself down is no loss of the primary: the engine
 * ends with that reason and tells the backup, which does not take over.
 */
static void test_guest_shuts_down(void)
{
	struct guest g = { .shut_after = 15 };
	struct remus_backend b = { .ops = &guest_ops, .priv = &g };
	struct remus_info info;
	struct peer p;
	struct bk *x = bk_start(NULL, 20, 300, true);
	int end;

	info_for(&info, &p, x, NULL);
	end = remus_start(&ctx, &info, &b, -1, -1);
	pthread_join(x->t, NULL);
	CHECK(end == REMUS_END_GUEST_SHUTDOWN && x->k.commits >= 15,
	      "guest shuts itself down: the engine ends with that reason",
	      "expected REMUS_END_GUEST_SHUTDOWN after >= 15 commits, saw %d after %" PRIu64,
	      end, x->k.commits);
	CHECK(atomic_load(&x->k.failovers) == 0 &&
	      x->result == REMUS_BACKUP_STOPPED,
	      "guest shuts itself down: the backup stands down, no failover",
	      "expected no failover and STOPPED, saw %d failovers, result %d",
	      atomic_load(&x->k.failovers), x->result);
	free(x);
}

int main(void)
{
	uint8_t key[REMUS_WIRE_KEY_LEN];

	memset(key, 0x5a, sizeof(key));
	printf("TAP version 13\n1..32\n");
	test_orderly(key, true, 1);
	test_orderly(NULL, false, 1);
	test_orderly(key, true, 3);
	test_precopy();
	test_primary_vanishes();
	test_backup_silent(REMUS_POLICY_CONTINUE, false);
	test_backup_silent(REMUS_POLICY_PAUSE, false);
	test_backup_silent(REMUS_POLICY_PAUSE, true);
	test_wrong_key();
	test_refused(EBUSY, "the backup's receiver holds another session's checkpoints");
	test_refused(ENODEV, "the backup cannot restore this kind of guest here");
	test_refused(EINVAL, "guest geometry does not match");
	test_refused(EPERM, "the backup's sink refused the session");
	test_blackhole();
	test_suspend_fails(REMUS_POLICY_CONTINUE);
	test_suspend_fails(REMUS_POLICY_PAUSE);
	test_guest_shuts_down();
	return failed ? 1 : 0;
}
