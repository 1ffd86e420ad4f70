// SPDX-License-Identifier: GPL-2.0
/*
 * Stage mode (backup) fed with records the test builds itself: what is
 * accepted and what is refused (with which errno), commit and discard, the
 * limit, and the disk as the guest would see it (reads of the committed
 * image, no writes).
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "disktest.h"

#define BYTES	(4ULL << 20)

FIXTURE(stg) {
	struct loopdev l;
	char name[32];
	uint32_t devnum;
	struct remus_nl nl;
	struct remus_disk_sel sel;
	struct remus_log log;
	unsigned char *rec;		/* one record being built */
	unsigned char *img, *got;
	uint64_t seq;
	char why[256];
};

FIXTURE_SETUP(stg)
{
	char params[128];

	ASSERT_EQ(0, loop_new(&self->l, "stg", BYTES));
	snprintf(self->name, sizeof(self->name), "tstage%d", getpid());
	snprintf(params, sizeof(params), "%s stage limit=1048576",
		 self->l.dev);
	ASSERT_EQ(0, dm_create(self->name, BYTES / SECT, "remus", params,
			       &self->devnum));
	ASSERT_EQ(0, remus_nl_open(&self->nl));
	self->sel.name = self->name;
	ASSERT_EQ(0, remus_log_open(&self->log, NULL, &self->sel, O_WRONLY,
				    0));
	self->rec = abuf(2 * REMUS_LOG_READ_MIN);
	self->img = calloc(1, BYTES);
	self->got = abuf(BYTES);
	ASSERT_TRUE(self->rec && self->img && self->got);
}

FIXTURE_TEARDOWN(stg)
{
	remus_log_close(&self->log);
	remus_nl_close(&self->nl);
	dm_remove(self->name);
	loop_del(&self->l);
	free(self->rec);
	free(self->img);
	free(self->got);
}

/* Build one record in self->rec; returns its size. */
static size_t mk(FIXTURE_DATA(stg) *self, uint16_t type, uint64_t epoch,
		 uint64_t sector, uint32_t sectors, uint16_t flags)
{
	struct remus_log_record *h = (void *)self->rec;
	size_t data = type == REMUS_LOG_WRITE ? sectors * SECT : 0;

	memset(h, 0, sizeof(*h));
	h->type = type;
	h->flags = flags;
	h->epoch = epoch;
	h->sector = sector;
	h->sectors = sectors;
	h->seq = ++self->seq;
	if (data)
		fill_sectors((unsigned char *)(h + 1), sector, sectors, epoch,
			     self->seq);
	remus_log_seal(h, h + 1);
	return sizeof(*h) + data;
}

static ssize_t put(FIXTURE_DATA(stg) *self, size_t len)
{
	ssize_t n = write(self->log.fd, self->rec, len);

	return n < 0 ? -errno : n;
}

/* Write record and mirror it in the image of its epoch's commit. */
static void put_write(struct __test_metadata *_metadata,
		      FIXTURE_DATA(stg) *self, uint64_t epoch, uint64_t sector,
		      uint32_t sectors, unsigned char *img)
{
	size_t n = mk(self, REMUS_LOG_WRITE, epoch, sector, sectors, 0);

	ASSERT_EQ((ssize_t)n, put(self, n));
	memcpy(img + sector * SECT, self->rec + sizeof(struct remus_log_record),
	       sectors * SECT);
}

#define EXPECT_BACKING(want) do {					\
	ASSERT_EQ(0, loop_read_all(&self->l, self->got));		\
	EXPECT_TRUE(same_image(self->got, (want), BYTES, self->why,	\
			       sizeof(self->why)))			\
		TH_LOG("backing device: %s", self->why);		\
} while (0)

TEST_F(stg, commit_applies_staged_epochs_in_order)
{
	unsigned char *zero = calloc(1, BYTES), *one = calloc(1, BYTES);
	uint64_t limit = 8 << 20;
	size_t n;
	int fd;

	ASSERT_TRUE(zero && one);
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, NULL, &limit,
				    NULL));
	put_write(_metadata, self, 1, 0, 64, self->img);
	put_write(_metadata, self, 1, 32, 64, self->img);	/* overlaps */
	n = mk(self, REMUS_LOG_WRITE_ZEROES, 1, 40, 8, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));
	memset(self->img + 40 * SECT, 0, 8 * SECT);
	n = mk(self, REMUS_LOG_FLUSH, 1, 0, 0, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));
	n = mk(self, REMUS_LOG_BARRIER, 1, 0, 0, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));
	memcpy(one, self->img, BYTES);
	put_write(_metadata, self, 2, 60, 2048, self->img);	/* 1 MiB */
	n = mk(self, REMUS_LOG_DISCARD, 2, 10, 20, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));
	memset(self->img + 10 * SECT, 0, 20 * SECT);
	EXPECT_BACKING(zero);
	/* reads see the committed disk, never staged data */
	fd = dm_open(self->devnum, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pread_all(fd, self->got, BYTES, 0));
	close(fd);
	EXPECT_EQ(0, memcmp(self->got, zero, BYTES));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 1));
	EXPECT_BACKING(one);
	ASSERT_EQ(-EINVAL, remus_disk_commit(&self->nl, &self->sel, 2))
		TH_LOG("epoch 2 is still open");
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 2));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 2));
	EXPECT_BACKING(self->img);
	free(zero);
	free(one);
}

/* Every malformed record is refused, and nothing of it is staged. */
TEST_F(stg, bad_records_are_refused)
{
	struct remus_log_record *h = (void *)self->rec;
	struct remus_disk_info info;
	size_t n;

	n = mk(self, REMUS_LOG_BARRIER, 5, 0, 0, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));

	n = mk(self, REMUS_LOG_WRITE, 5, 0, 8, 0);	/* closed epoch */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_BARRIER, 5, 0, 0, 0);	/* not above B */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 6, 0, 8, 0);	/* tags go down */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_BARRIER, 6, 0, 0, 0);	/* below a tag */
	EXPECT_EQ(-EINVAL, put(self, n));

	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	h->checksum ^= 1;
	EXPECT_EQ(-EBADMSG, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	self->rec[sizeof(*h) + 100] ^= 0x10;		/* data corrupted */
	EXPECT_EQ(-EBADMSG, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, BYTES / SECT - 4, 8, 0);
	EXPECT_EQ(-ERANGE, put(self, n));
	n = mk(self, REMUS_LOG_DISCARD, 7, 1, UINT32_MAX, 0);
	EXPECT_EQ(-ERANGE, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, REMUS_LOG_MAX_SECTORS + 1, 0);
	EXPECT_EQ(-EINVAL, put(self, sizeof(*h)));	/* too long a write */
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	h->magic ^= 1;
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0x80);	/* unknown flag */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_GAP, 7, 0, 0, 0);	/* never input */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, 99, 7, 0, 0, 0);
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_FLUSH, 7, 3, 0, 0);	/* a flush has no range */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 0, 0);	/* empty write */
	EXPECT_EQ(-EINVAL, put(self, n));
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	EXPECT_EQ(-EINVAL, put(self, n - 1));		/* cut short */
	EXPECT_EQ(-EINVAL, put(self, 10));

	/* a good record then a bad one: a short write */
	n = mk(self, REMUS_LOG_WRITE, 7, 0, 8, 0);
	memcpy(self->rec + n, self->rec, n);
	((struct remus_log_record *)(self->rec + n))->checksum ^= 1;
	EXPECT_EQ((ssize_t)n, put(self, 2 * n));

	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->sel, REMUS_F_EPOCHS,
				    &info));
	EXPECT_EQ(2, info.buf.stats.queued_pkts);
	EXPECT_EQ(5, info.buf.barrier);
	EXPECT_EQ(1, info.buf.nr_epochs);
	EXPECT_EQ(7, info.buf.epochs[0].epoch);
	EXPECT_EQ(2, info.buf.epochs[0].pkts);
}

/* The guest may read the backup's disk, not write it. */
TEST_F(stg, guest_writes_are_refused)
{
	int fd = dm_open(self->devnum, O_RDWR | O_DIRECT);
	unsigned char *b = abuf(4096);

	ASSERT_TRUE(fd >= 0 && b);
	EXPECT_EQ(-1, pwrite(fd, b, 4096, 0));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(4096, pread(fd, b, 4096, 0));
	close(fd);
	free(b);
}

struct stage_writer {
	FIXTURE_DATA(stg) *self;
	unsigned char *buf;
	size_t len;
	ssize_t ret;
	volatile int done;
};

static void *stage_write(void *arg)
{
	struct stage_writer *sw = arg;

	sw->ret = write(sw->self->log.fd, sw->buf, sw->len);
	if (sw->ret < 0)
		sw->ret = -errno;
	__atomic_store_n(&sw->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Over the limit, input waits while a closed epoch could be committed to
 * make room, and is refused (-ENOSPC) when only the open epoch is held:
 * no commit could help then.
 */
TEST_F(stg, over_the_limit_input_waits_for_commit_or_fails)
{
	struct stage_writer sw = { .self = self };
	size_t n, one = mk(self, REMUS_LOG_WRITE, 1, 0, 2048, 0);
	struct remus_disk_info info;
	pthread_t t;
	int tries;

	/* 1 MiB limit: one 1 MiB write fits (alone), the next does not */
	put_write(_metadata, self, 1, 0, 2048, self->img);
	EXPECT_EQ(-ENOSPC, put(self, one));
	n = mk(self, REMUS_LOG_BARRIER, 1, 0, 0, 0);
	ASSERT_EQ((ssize_t)n, put(self, n));

	sw.len = mk(self, REMUS_LOG_WRITE, 2, 4096, 2048, 0);
	sw.buf = self->rec;
	ASSERT_EQ(0, pthread_create(&t, NULL, stage_write, &sw));
	usleep(200000);
	EXPECT_EQ(0, sw.done) TH_LOG("input went past a full stage");
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->sel, 0, &info));
	EXPECT_LE(1, info.buf.stats.log_waits);
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 1));
	for (tries = 0; tries < 300 && !sw.done; tries++)
		usleep(10000);
	pthread_join(t, NULL);
	EXPECT_EQ((ssize_t)sw.len, sw.ret);
	EXPECT_BACKING(self->img);
}

TEST_HARNESS_MAIN
