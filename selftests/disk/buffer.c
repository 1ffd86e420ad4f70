// SPDX-License-Identifier: GPL-2.0
/*
 * Buffer mode (primary on shared storage): writes are held per epoch and
 * reach the backing device only on commit, in order; reads see the
 * guest's own held writes; discard drops what is not committed; the limit
 * holds writers back without losing a write; suspend and remove keep the
 * guest's data.
 */
#include <poll.h>

#include "kselftest_harness.h"
#include "workload.h"

#define BYTES	(8ULL << 20)

FIXTURE(buf) {
	struct loopdev l;
	char name[32];
	uint32_t devnum;
	struct remus_nl nl;
	struct remus_disk_sel sel;
	unsigned char *cur, *snap, *got;
	char why[256];
};

FIXTURE_VARIANT(buf) {
	const char *opts;
};

FIXTURE_VARIANT_ADD(buf, unlimited) {
	.opts = "",
};

FIXTURE_SETUP(buf)
{
	char params[128];

	ASSERT_EQ(0, loop_new(&self->l, "buf", BYTES));
	snprintf(self->name, sizeof(self->name), "tbuf%d", getpid());
	snprintf(params, sizeof(params), "%s buffer %s", self->l.dev,
		 variant->opts);
	ASSERT_EQ(0, dm_create(self->name, BYTES / SECT, "remus", params,
			       &self->devnum));
	ASSERT_EQ(0, remus_nl_open(&self->nl));
	self->sel.name = self->name;
	self->cur = calloc(1, BYTES);
	self->snap = calloc(1, BYTES);
	self->got = abuf(BYTES);
	ASSERT_TRUE(self->cur && self->snap && self->got);
}

FIXTURE_TEARDOWN(buf)
{
	remus_nl_close(&self->nl);
	dm_remove(self->name);
	loop_del(&self->l);
	free(self->cur);
	free(self->snap);
	free(self->got);
}

#define EXPECT_BACKING(want) do {					\
	ASSERT_EQ(0, loop_read_all(&self->l, self->got));		\
	EXPECT_TRUE(same_image(self->got, (want), BYTES, self->why,	\
			       sizeof(self->why)))			\
		TH_LOG("backing device: %s", self->why);		\
} while (0)

#define EXPECT_READS(want) do {						\
	ASSERT_EQ(0, dev_read_all(self->devnum, self->got, BYTES));	\
	EXPECT_TRUE(same_image(self->got, (want), BYTES, self->why,	\
			       sizeof(self->why)))			\
		TH_LOG("reads through the target: %s", self->why);	\
} while (0)

static struct remus_disk_info get(struct __test_metadata *_metadata,
				  struct remus_nl *nl,
				  const struct remus_disk_sel *sel)
{
	struct remus_disk_info info;

	EXPECT_EQ(0, remus_disk_get(nl, sel, REMUS_F_EPOCHS, &info))
		TH_LOG("%s", remus_nl_errmsg(nl));
	return info;
}

/*
 * Epochs 1..6 of random I/O; commit lags one barrier behind, as with a
 * pipelined checkpoint. After commit N the backing device is the image of
 * checkpoint N, byte for byte; reads through the target are always the
 * guest's latest image.
 */
TEST_F(buf, commit_n_makes_backing_the_checkpoint_n_image)
{
	unsigned char *prev = calloc(1, BYTES);
	struct remus_disk_info info;
	struct wl w;
	uint64_t e;

	ASSERT_NE(NULL, prev);
	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 7));
	for (e = 1; e <= 6; e++) {
		ASSERT_EQ(0, wl_run(&w, e, 40));
		EXPECT_READS(self->cur);
		ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, e));
		if (e > 1) {
			ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel,
						       e - 1));
			EXPECT_BACKING(prev);
		} else {
			EXPECT_BACKING(self->snap);	/* all zeros */
		}
		memcpy(prev, self->cur, BYTES);
	}
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_EQ(6, info.buf.barrier);
	EXPECT_EQ(5, info.buf.released);
	EXPECT_EQ(1, info.buf.nr_epochs);
	EXPECT_EQ(6, info.buf.epochs[0].epoch);
	EXPECT_NE(0, info.buf.stats.backlog_pkts);
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 6));
	EXPECT_BACKING(self->cur);
	EXPECT_READS(self->cur);
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_EQ(0, info.buf.stats.backlog_pkts);
	EXPECT_EQ(0, info.buf.stats.backlog_bytes);
	EXPECT_EQ(0, info.used_bytes);
	EXPECT_EQ(0, info.buf.nr_epochs);
	EXPECT_EQ(info.buf.stats.queued_pkts, info.buf.stats.released_pkts);
	EXPECT_EQ(0, info.errors);
	EXPECT_TRUE(w.writes && w.fuas && w.discards && w.zeroes && w.flushes)
		TH_LOG("writes %u fua %u discards %u zeroes %u flushes %u",
		       w.writes, w.fuas, w.discards, w.zeroes, w.flushes);
	wl_fini(&w);
	free(prev);
}

/* Commit is cumulative and idempotent; epochs are per barrier number. */
TEST_F(buf, commit_is_cumulative_and_idempotent)
{
	struct wl w;
	uint64_t e;

	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 3));
	for (e = 1; e <= 3; e++) {
		ASSERT_EQ(0, wl_run(&w, e * 10, 15));
		ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, e * 10));
	}
	EXPECT_BACKING(self->snap);
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 30));
	EXPECT_BACKING(self->cur);
	EXPECT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 30));
	EXPECT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 5));
	EXPECT_EQ(-EINVAL, remus_disk_commit(&self->nl, &self->sel, 31));
	EXPECT_BACKING(self->cur);
	wl_fini(&w);
}

/* Discard (failover) drops every uncommitted write, open epoch included. */
TEST_F(buf, discard_leaves_the_last_committed_image)
{
	struct remus_disk_info info;
	struct wl w;

	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 11));
	ASSERT_EQ(0, wl_run(&w, 1, 30));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 1));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 1));
	memcpy(self->snap, self->cur, BYTES);
	ASSERT_EQ(0, wl_run(&w, 2, 30));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 2));
	ASSERT_EQ(0, wl_run(&w, 3, 30));
	ASSERT_EQ(0, remus_disk_discard(&self->nl, &self->sel));
	EXPECT_BACKING(self->snap);
	EXPECT_READS(self->snap);
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_EQ(0, info.buf.stats.backlog_pkts);
	EXPECT_EQ(0, info.used_bytes);
	EXPECT_NE(0, info.buf.stats.discarded_pkts);
	EXPECT_EQ(2, info.buf.barrier);
	EXPECT_EQ(1, info.buf.released);

	/* The guest (resumed from checkpoint 1 elsewhere) writes on. */
	memcpy(self->cur, self->snap, BYTES);
	ASSERT_EQ(0, wl_run(&w, 4, 20));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 4));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 4));
	EXPECT_BACKING(self->cur);
	wl_fini(&w);
}

/* Reads overlay held writes on backing data: newest wins, any overlap. */
TEST_F(buf, reads_return_the_guests_own_held_writes)
{
	unsigned char *b = abuf(1 << 20);
	int fd = dm_open(self->devnum, O_RDWR | O_DIRECT);
	static const struct { uint64_t s, n; } wr[] = {
		{ 100, 16 }, { 108, 16 }, { 104, 4 }, { 90, 40 }, { 120, 1 },
		{ 2000, 300 }, { 2100, 8 },
	};
	static const struct { uint64_t s, n; } rd[] = {
		{ 96, 8 }, { 100, 30 }, { 0, 256 }, { 119, 3 }, { 1990, 400 },
		{ 2099, 10 }, { 1, 1 }, { 2299, 2 },
	};
	uint64_t range[2];
	unsigned int i;

	ASSERT_TRUE(b && fd >= 0);
	/* committed background, so partial reads mix backing and held */
	fill_sectors(b, 0, 2048, 1, 0);
	ASSERT_EQ(0, pwrite_all(fd, b, 1 << 20, 0));
	memcpy(self->cur, b, 1 << 20);
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 1));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 1));

	for (i = 0; i < sizeof(wr) / sizeof(wr[0]); i++) {
		fill_sectors(b, wr[i].s, wr[i].n, 2 + i % 2, i);
		ASSERT_EQ(0, pwrite_all(fd, b, wr[i].n * SECT, wr[i].s * SECT));
		memcpy(self->cur + wr[i].s * SECT, b, wr[i].n * SECT);
		if (i == 3)	/* half of them in an older, closed epoch */
			ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel,
							2));
	}
	range[0] = 110 * SECT;
	range[1] = 4 * SECT;
	ASSERT_EQ(0, ioctl(fd, BLKZEROOUT, range));
	memset(self->cur + range[0], 0, range[1]);
	range[0] = 2050 * SECT;
	ASSERT_EQ(0, ioctl(fd, BLKDISCARD, range));
	memset(self->cur + range[0], 0, range[1]);

	for (i = 0; i < sizeof(rd) / sizeof(rd[0]); i++) {
		memset(b, 0xa5, rd[i].n * SECT);
		ASSERT_EQ(0, pread_all(fd, b, rd[i].n * SECT, rd[i].s * SECT));
		EXPECT_TRUE(same_image(b, self->cur + rd[i].s * SECT,
				       rd[i].n * SECT, self->why,
				       sizeof(self->why)))
			TH_LOG("read %" PRIu64 "+%" PRIu64 ": %s", rd[i].s,
			       rd[i].n, self->why);
	}
	/* Nothing of epoch 2 and later is on the backing device yet. */
	ASSERT_EQ(0, loop_read_all(&self->l, self->got));
	EXPECT_NE(0, memcmp(self->got, self->cur, BYTES));
	/* Buffered (page cache) reads of odd byte ranges agree too. */
	close(fd);
	fd = dm_open(self->devnum, O_RDONLY);
	ASSERT_EQ(0, pread_all(fd, b, 7777, 100 * SECT + 13));
	EXPECT_EQ(0, memcmp(b, self->cur + 100 * SECT + 13, 7777));
	close(fd);
	free(b);
}

/*
 * A guest flush or FUA write completes at once (the guest runs on), its
 * data is only held; commit writes it out. See the flush rule in the uapi
 * header.
 */
TEST_F(buf, flush_and_fua_complete_without_waiting_for_commit)
{
	int fd = dm_open(self->devnum, O_RDWR | O_DIRECT | O_DSYNC);
	unsigned char *b = abuf(64 * SECT);
	struct remus_disk_info info;

	ASSERT_TRUE(fd >= 0 && b);
	fill_sectors(b, 64, 64, 1, 1);
	ASSERT_EQ(0, pwrite_all(fd, b, 64 * SECT, 64 * SECT));	/* FUA */
	memcpy(self->cur + 64 * SECT, b, 64 * SECT);
	ASSERT_EQ(0, fsync(fd));				/* flush */
	ASSERT_EQ(0, loop_read_all(&self->l, self->got));
	EXPECT_EQ(0, memcmp(self->got, self->snap, BYTES))
		TH_LOG("a held write reached the backing device early");
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_EQ(1, info.buf.stats.backlog_pkts);
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 1));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 1));
	EXPECT_BACKING(self->cur);
	close(fd);
	free(b);
}

struct bp_writer {
	uint32_t devnum;
	unsigned char *img;
	volatile unsigned int done;
	unsigned int n;
	int err;
};

static void *bp_write(void *arg)
{
	struct bp_writer *bw = arg;
	int fd = dm_open(bw->devnum, O_RDWR | O_DIRECT);
	unsigned char *b = abuf(64 << 10);
	unsigned int i;

	if (fd < 0 || !b) {
		bw->err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < bw->n; i++) {
		uint64_t s = (uint64_t)i * 128 % (BYTES / SECT);

		fill_sectors(b, s, 128, 100 + i, i);
		bw->err = pwrite_all(fd, b, 64 << 10, s * SECT);
		if (bw->err)
			break;
		memcpy(bw->img + s * SECT, b, 64 << 10);
		__atomic_store_n(&bw->done, i + 1, __ATOMIC_RELEASE);
	}
	close(fd);
	free(b);
	return NULL;
}

/*
 * Held writes over the limit wait (the guest's disk is slow), they are
 * never dropped; each commit lets some in; a LOG_FULL event says so.
 */
TEST_F(buf, over_the_limit_writers_wait_and_lose_nothing)
{
	struct bp_writer bw = { .devnum = self->devnum, .img = self->cur,
				.n = 48 };
	uint64_t limit = 256 << 10, e = 0;
	struct remus_disk_info info;
	struct remus_nl ev;
	struct pollfd pfd;
	pthread_t t;
	int tries;

	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, NULL, &limit,
				    NULL));
	ASSERT_EQ(0, remus_nl_open(&ev));
	ASSERT_EQ(0, remus_nl_subscribe(&ev));
	ASSERT_EQ(0, pthread_create(&t, NULL, bp_write, &bw));
	while (__atomic_load_n(&bw.done, __ATOMIC_ACQUIRE) < bw.n && !bw.err) {
		unsigned int before;

		/* wait until the writer is stuck on the limit */
		for (tries = 0; tries < 500; tries++) {
			info = get(_metadata, &self->nl, &self->sel);
			if (info.waiting || bw.done == bw.n)
				break;
			usleep(10000);
		}
		if (bw.done == bw.n)
			break;
		ASSERT_EQ(1, info.waiting);
		EXPECT_LE(info.used_bytes, limit);
		EXPECT_EQ(limit, info.buf.limit_bytes);
		before = bw.done;
		usleep(50000);
		EXPECT_EQ(before, bw.done) TH_LOG("writer went past a full buffer");
		ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, ++e));
		ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, e));
		/* the commit made room: the writer moves on */
		for (tries = 0; tries < 500 && bw.done == before; tries++)
			usleep(10000);
		ASSERT_NE(before, bw.done) TH_LOG("writer still stuck after a commit");
	}
	pthread_join(t, NULL);
	ASSERT_EQ(0, bw.err);
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, ++e));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, e));
	EXPECT_BACKING(self->cur);
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_GE(info.buf.stats.log_waits, 4);
	EXPECT_EQ(bw.n, info.buf.stats.released_pkts);
	EXPECT_GE(e, 4);

	pfd.fd = remus_nl_fd(&ev);
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	remus_nl_close(&ev);
}

/* Pass-through writes out everything held at once, then passes writes. */
TEST_F(buf, passthrough_writes_out_all_then_passes)
{
	uint32_t pass = REMUS_MODE_PASSTHROUGH, hold = REMUS_MODE_BUFFER;
	struct remus_disk_info info;
	struct wl w;

	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 5));
	ASSERT_EQ(0, wl_run(&w, 1, 20));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 1));
	ASSERT_EQ(0, wl_run(&w, 2, 20));
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, &pass, NULL, NULL));
	EXPECT_BACKING(self->cur);
	ASSERT_EQ(0, wl_run(&w, 3, 20));
	EXPECT_BACKING(self->cur);
	info = get(_metadata, &self->nl, &self->sel);
	EXPECT_EQ(0, info.buf.released);
	EXPECT_NE(0, info.buf.stats.passed_pkts);
	EXPECT_EQ(REMUS_MODE_PASSTHROUGH, info.buf.mode);
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, &hold, NULL, NULL));
	memcpy(self->snap, self->cur, BYTES);
	ASSERT_EQ(0, wl_run(&w, 4, 20));
	EXPECT_BACKING(self->snap);
	EXPECT_READS(self->cur);
	wl_fini(&w);
}

/*
 * Held writes are the guest's completed writes: a --noflush suspend keeps
 * them held, a suspend with flush writes them out, and so does removal.
 */
TEST_F(buf, suspend_and_remove_keep_held_writes)
{
	struct wl w;

	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 9));
	ASSERT_EQ(0, wl_run(&w, 1, 20));
	wl_fini(&w);
	ASSERT_EQ(0, dm_suspend(self->name, true));
	ASSERT_EQ(0, dm_resume(self->name));
	EXPECT_BACKING(self->snap);
	EXPECT_READS(self->cur);
	ASSERT_EQ(0, dm_suspend(self->name, false));
	EXPECT_BACKING(self->cur);
	ASSERT_EQ(0, dm_resume(self->name));

	ASSERT_EQ(0, wl_init(&w, self->devnum, self->cur, 0, BYTES / SECT, 8));
	ASSERT_EQ(0, wl_run(&w, 2, 20));
	wl_fini(&w);
	ASSERT_EQ(0, dm_suspend(self->name, true));
	ASSERT_EQ(0, dm_remove(self->name));
	EXPECT_BACKING(self->cur);
}

TEST_HARNESS_MAIN
