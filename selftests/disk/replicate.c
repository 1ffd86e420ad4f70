// SPDX-License-Identifier: GPL-2.0
/*
 * Replicate mode (primary, local disk) and its backup: writes reach the
 * local disk at once and the write log; the log, read in batches and
 * written into a stage-mode disk on another loop file, reproduces the
 * primary's disk exactly at every commit. The log is bounded: writers
 * wait for the reader, nothing is lost.
 */
#include <poll.h>

#include "kselftest_harness.h"
#include "workload.h"

#define BYTES	(8ULL << 20)

FIXTURE(rep) {
	struct loopdev pl, bl;		/* primary's and backup's disks */
	char pname[32], bname[32];
	uint32_t pdev, bdev;
	struct remus_nl nl;
	struct remus_disk_sel psel, bsel;
	struct remus_log rlog, wlog;	/* primary's log, backup's input */
	unsigned char *cur, *snap, *got;
	char why[256];
	uint64_t seq;			/* last record number read */
	unsigned int types[REMUS_LOG_TYPE_MAX + 1];
};

FIXTURE_VARIANT(rep) {
	const char *opts;
};

FIXTURE_VARIANT_ADD(rep, default_limit) {
	.opts = "",
};

FIXTURE_SETUP(rep)
{
	char params[128];

	ASSERT_EQ(0, loop_new(&self->pl, "pri", BYTES));
	ASSERT_EQ(0, loop_new(&self->bl, "bak", BYTES));
	snprintf(self->pname, sizeof(self->pname), "trep%d", getpid());
	snprintf(self->bname, sizeof(self->bname), "tstg%d", getpid());
	snprintf(params, sizeof(params), "%s replicate %s", self->pl.dev,
		 variant->opts);
	ASSERT_EQ(0, dm_create(self->pname, BYTES / SECT, "remus", params,
			       &self->pdev));
	snprintf(params, sizeof(params), "%s stage", self->bl.dev);
	ASSERT_EQ(0, dm_create(self->bname, BYTES / SECT, "remus", params,
			       &self->bdev));
	ASSERT_EQ(0, remus_nl_open(&self->nl));
	self->psel.name = self->pname;
	self->bsel.dev = self->bdev;	/* the other selector, for coverage */
	ASSERT_EQ(0, remus_log_open(&self->rlog, NULL, &self->psel,
				    O_RDONLY, 0));
	ASSERT_EQ(0, remus_log_open(&self->wlog, NULL, &self->bsel,
				    O_WRONLY, 0));
	self->cur = calloc(1, BYTES);
	self->snap = calloc(1, BYTES);
	self->got = abuf(BYTES);
	ASSERT_TRUE(self->cur && self->snap && self->got);
}

FIXTURE_TEARDOWN(rep)
{
	remus_log_close(&self->rlog);
	remus_log_close(&self->wlog);
	remus_nl_close(&self->nl);
	dm_remove(self->pname);
	dm_remove(self->bname);
	loop_del(&self->pl);
	loop_del(&self->bl);
	free(self->cur);
	free(self->snap);
	free(self->got);
}

/*
 * Move the primary's log to the backup until barrier record @epoch has
 * gone through, checking every record on the way (checksum, order, tags).
 */
static void ship_through(struct __test_metadata *_metadata,
			 FIXTURE_DATA(rep) *self, uint64_t epoch)
{
	bool seen = false;

	while (!seen) {
		struct remus_log_rec r;
		ssize_t n = remus_log_read(&self->rlog);
		int ret;

		ASSERT_LT(0, n) TH_LOG("log read: %zd", n);
		while ((ret = remus_log_next(&self->rlog, &r)) == 1) {
			ASSERT_GT(r.hdr->seq, self->seq);
			self->seq = r.hdr->seq;
			ASSERT_LE(r.hdr->epoch, epoch);
			self->types[r.hdr->type]++;
			if (r.hdr->type == REMUS_LOG_BARRIER &&
			    r.hdr->epoch == epoch)
				seen = true;
		}
		ASSERT_EQ(0, ret) TH_LOG("a record is not intact");
		ASSERT_EQ(0, remus_log_write(&self->wlog, self->rlog.buf, n));
	}
}

#define EXPECT_FILE(l, want, what) do {					\
	ASSERT_EQ(0, loop_read_all((l), self->got));			\
	EXPECT_TRUE(same_image(self->got, (want), BYTES, self->why,	\
			       sizeof(self->why)))			\
		TH_LOG("%s: %s", (what), self->why);			\
} while (0)

/*
 * Eight checkpoints of random I/O (one writer, or four at once), shipped
 * and committed on the backup one by one: after each commit the backup's
 * disk equals the primary's disk at that checkpoint, byte for byte.
 */
TEST_F(rep, replayed_log_reproduces_the_primary_at_every_commit)
{
	struct remus_disk_info info;
	struct wl w[4];
	uint64_t e, q = BYTES / SECT / 4;
	unsigned int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, wl_init(&w[i], self->pdev, self->cur, i * q, q,
				     17 + i));
	for (e = 1; e <= 8; e++) {
		if (e % 2) {
			ASSERT_EQ(0, wl_run(&w[e % 4], e, 40));
		} else {
			ASSERT_EQ(0, wl_run_concurrent(w, 4, e, 15));
		}
		ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->psel, e));
		/* the primary's own disk is written through at once */
		EXPECT_FILE(&self->pl, self->cur, "primary");
		memcpy(self->snap, self->cur, BYTES);

		ship_through(_metadata, self, e);
		ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->bsel, e))
			TH_LOG("%s", remus_nl_errmsg(&self->nl));
		EXPECT_FILE(&self->bl, self->snap, "backup after commit");
		ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->psel, e));
	}
	for (i = 0; i < 4; i++)
		wl_fini(&w[i]);
	EXPECT_TRUE(self->types[REMUS_LOG_WRITE] &&
		    self->types[REMUS_LOG_DISCARD] &&
		    self->types[REMUS_LOG_WRITE_ZEROES] &&
		    self->types[REMUS_LOG_FLUSH] &&
		    self->types[REMUS_LOG_BARRIER] == 8)
		TH_LOG("records: write %u discard %u zeroes %u flush %u barrier %u",
		       self->types[REMUS_LOG_WRITE],
		       self->types[REMUS_LOG_DISCARD],
		       self->types[REMUS_LOG_WRITE_ZEROES],
		       self->types[REMUS_LOG_FLUSH],
		       self->types[REMUS_LOG_BARRIER]);

	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->psel, 0, &info));
	EXPECT_EQ(REMUS_DISK_REPLICATE, info.buf.disk_mode);
	EXPECT_EQ(8, info.buf.released);
	EXPECT_EQ(0, info.used_bytes);
	EXPECT_EQ(0, info.buf.stats.backlog_pkts);
	EXPECT_EQ(info.buf.stats.queued_pkts, info.buf.stats.released_pkts);
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->bsel, 0, &info));
	EXPECT_EQ(REMUS_DISK_STAGE, info.buf.disk_mode);
	EXPECT_EQ(8, info.buf.barrier);
	EXPECT_EQ(8, info.buf.released);
	EXPECT_EQ(0, info.buf.stats.backlog_pkts);
	EXPECT_EQ(0, info.errors);
}

/*
 * On the backup, what was shipped but not committed is dropped by a
 * failover (discard): the disk stays the last committed checkpoint.
 */
TEST_F(rep, backup_discard_keeps_the_last_commit)
{
	struct wl w;

	ASSERT_EQ(0, wl_init(&w, self->pdev, self->cur, 0, BYTES / SECT, 23));
	ASSERT_EQ(0, wl_run(&w, 1, 30));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->psel, 1));
	memcpy(self->snap, self->cur, BYTES);
	ASSERT_EQ(0, wl_run(&w, 2, 30));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->psel, 2));
	ship_through(_metadata, self, 2);
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->bsel, 1));
	EXPECT_FILE(&self->bl, self->snap, "backup after commit 1");
	ASSERT_EQ(0, remus_disk_discard(&self->nl, &self->bsel));
	EXPECT_FILE(&self->bl, self->snap, "backup after discard");
	/* epoch 2 is gone: committing it now writes nothing */
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->bsel, 2));
	EXPECT_FILE(&self->bl, self->snap, "backup after commit 2");
	wl_fini(&w);
}

struct bg_writer {
	uint32_t devnum;
	unsigned char *img;
	unsigned int n;
	volatile unsigned int done;
	int err;
};

static void *bg_write(void *arg)
{
	struct bg_writer *bw = arg;
	int fd = dm_open(bw->devnum, O_RDWR | O_DIRECT);
	unsigned char *b = abuf(128 << 10);
	unsigned int i;

	if (fd < 0 || !b) {
		bw->err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < bw->n; i++) {
		uint64_t s = (uint64_t)i * 256 % (BYTES / SECT);

		fill_sectors(b, s, 256, 1, i);
		bw->err = pwrite_all(fd, b, 128 << 10, s * SECT);
		if (bw->err)
			break;
		memcpy(bw->img + s * SECT, b, 128 << 10);
		__atomic_store_n(&bw->done, i + 1, __ATOMIC_RELEASE);
	}
	close(fd);
	free(b);
	return NULL;
}

/*
 * A full log holds writers back until the reader drains it; every write
 * is in the log, in order, and the backup ends up identical.
 */
TEST_F(rep, full_log_blocks_writers_until_drained)
{
	struct bg_writer bw = { .devnum = self->pdev, .img = self->cur,
				.n = 64 };
	uint64_t limit = 512 << 10;
	struct remus_disk_info info;
	struct remus_nl ev;
	struct pollfd pfd;
	unsigned int before;
	pthread_t t;
	int tries;

	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->psel, NULL, &limit,
				    NULL));
	ASSERT_EQ(0, remus_nl_open(&ev));
	ASSERT_EQ(0, remus_nl_subscribe(&ev));
	ASSERT_EQ(0, pthread_create(&t, NULL, bg_write, &bw));
	for (tries = 0; tries < 500; tries++) {
		ASSERT_EQ(0, remus_disk_get(&self->nl, &self->psel, 0, &info));
		if (info.waiting)
			break;
		usleep(10000);
	}
	ASSERT_EQ(1, info.waiting) TH_LOG("the writer never waited");
	EXPECT_LE(info.used_bytes, limit);
	before = bw.done;
	usleep(100000);
	EXPECT_EQ(before, bw.done) TH_LOG("writer went past a full log");
	EXPECT_LT(bw.done, bw.n);

	pfd.fd = remus_nl_fd(&ev);
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 2000)) TH_LOG("no LOG_FULL event");

	/* drain as the writer goes; then close the epoch and ship it all */
	while (__atomic_load_n(&bw.done, __ATOMIC_ACQUIRE) < bw.n && !bw.err) {
		struct pollfd lp = { .fd = self->rlog.fd, .events = POLLIN };
		ssize_t n;

		if (poll(&lp, 1, 50) != 1)
			continue;
		n = remus_log_read(&self->rlog);
		ASSERT_LT(0, n);
		ASSERT_EQ(0, remus_log_write(&self->wlog, self->rlog.buf, n));
	}
	pthread_join(t, NULL);
	ASSERT_EQ(0, bw.err);
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->psel, 1));
	ship_through(_metadata, self, 1);
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->bsel, 1));
	EXPECT_FILE(&self->pl, self->cur, "primary");
	EXPECT_FILE(&self->bl, self->cur, "backup");
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->psel, 0, &info));
	EXPECT_LE(1, info.buf.stats.log_waits);
	EXPECT_EQ(bw.n, info.buf.stats.queued_pkts);
	remus_nl_close(&ev);
}

/* Commit N forgets records of epochs <= N that nobody read. */
TEST_F(rep, commit_forgets_unread_records)
{
	struct remus_disk_info info;
	struct remus_log_rec r;
	struct wl w;
	int fl;

	ASSERT_EQ(0, wl_init(&w, self->pdev, self->cur, 0, BYTES / SECT, 29));
	ASSERT_EQ(0, wl_run(&w, 1, 20));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->psel, 1));
	ASSERT_EQ(0, wl_run(&w, 2, 5));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->psel, 1));
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->psel, 0, &info));
	EXPECT_NE(0, info.used_bytes);		/* epoch 2's records */
	ASSERT_LT(0, remus_log_read(&self->rlog));
	ASSERT_EQ(1, remus_log_next(&self->rlog, &r));
	EXPECT_EQ(2, r.hdr->epoch);
	while (remus_log_next(&self->rlog, &r) == 1)
		EXPECT_EQ(2, r.hdr->epoch);
	fl = fcntl(self->rlog.fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->rlog.fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, remus_log_read(&self->rlog));
	wl_fini(&w);
}

/*
 * A hole in the log is never silent: discarding the unread log, or
 * passing writes through without logging, leaves a GAP record.
 */
TEST_F(rep, discard_and_passthrough_leave_a_gap_record)
{
	uint32_t pass = REMUS_MODE_PASSTHROUGH, hold = REMUS_MODE_BUFFER;
	struct remus_disk_info info;
	struct remus_log_rec r;
	struct wl w;

	ASSERT_EQ(0, wl_init(&w, self->pdev, self->cur, 0, BYTES / SECT, 31));
	ASSERT_EQ(0, wl_run(&w, 1, 10));
	ASSERT_EQ(0, remus_disk_discard(&self->nl, &self->psel));
	ASSERT_LT(0, remus_log_read(&self->rlog));
	ASSERT_EQ(1, remus_log_next(&self->rlog, &r));
	EXPECT_EQ(REMUS_LOG_GAP, r.hdr->type);
	EXPECT_EQ(0, remus_log_next(&self->rlog, &r));

	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->psel, &pass, NULL, NULL));
	ASSERT_EQ(0, wl_run(&w, 1, 10));
	EXPECT_FILE(&self->pl, self->cur, "primary in pass-through");
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->psel, 0, &info));
	EXPECT_NE(0, info.buf.stats.passed_pkts);
	ASSERT_LT(0, remus_log_read(&self->rlog));
	ASSERT_EQ(1, remus_log_next(&self->rlog, &r));
	EXPECT_EQ(REMUS_LOG_GAP, r.hdr->type);
	EXPECT_EQ(0, remus_log_next(&self->rlog, &r));
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->psel, &hold, NULL, NULL));
	wl_fini(&w);
}

/* The log device's own rules. */
TEST_F(rep, log_device_rules)
{
	struct remus_disk_sel nosuch = { .name = "remus-no-such-disk" };
	struct remus_log other;
	char small[4096];
	int fd;

	/* one bound file per disk */
	EXPECT_EQ(-EBUSY, remus_log_open(&other, NULL, &self->psel,
					 O_RDONLY, 0));
	EXPECT_EQ(-ENODEV, remus_log_open(&other, NULL, &nosuch, O_RDONLY, 0));
	/* a buffer smaller than the largest record */
	EXPECT_EQ(-1, read(self->rlog.fd, small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);
	/* unbound */
	fd = open(REMUS_LOG_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, self->rlog.buf, self->rlog.size));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
	/* end of file once the disk is gone */
	remus_log_close(&self->wlog);
	ASSERT_EQ(0, remus_log_open(&self->wlog, NULL, &self->bsel,
				    O_RDONLY, 0));
	ASSERT_EQ(0, dm_remove(self->bname));
	EXPECT_EQ(0, remus_log_read(&self->wlog));
}

TEST_HARNESS_MAIN
