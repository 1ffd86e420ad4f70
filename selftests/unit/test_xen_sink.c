// SPDX-License-Identifier: GPL-2.0
/*
 * The xen backend's backup sink, without Xen: a stand-in receiver (a
 * shell command that prints xl's banner and keeps what it reads) takes the
 * place of `xl migrate-receive -r -e`. What libxl's Remus receiver relies
 * on is checked: it gets whole checkpoints only, in order, and its stream
 * ends exactly at the last committed checkpoint's CHECKPOINT_END on
 * failover; without a failover it is killed, never sent EOF (which it
 * would take as failover). A page-delta stream reaches it as the
 * original bytes.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend_xen.h"
#include "test_wire_tap.h"
#include "test_xen_stream.h"
#include "xen/pagedelta.h"
#include "xen/stream.h"

#define BANNER "xl migration receiver ready, send binary domain data.\n"

static char dir[64];

/* Checkpoint n of a Remus stream (the first with every header). */
static void ckpt(struct buf *b, unsigned int n)
{
	uint8_t page[16 + 4096];
	uint32_t one = 1;
	uint64_t pfn = n;

	if (n == 1) {
		stream_headers(b);
		rec(b, LIBXC_REC_STATIC_DATA_END, NULL, 0);
	}
	memcpy(page, &one, 4);
	memset(page + 4, 0, 4);
	memcpy(page + 8, &pfn, 8);
	memset(page + 16, (int)n, 4096);
	rec(b, LIBXC_REC_PAGE_DATA, page, sizeof(page));
	rec(b, LIBXC_REC_CHECKPOINT, NULL, 0);
	rec(b, LIBXL_REC_CHECKPOINT_END, NULL, 0);
}

/* Hand b to the sink as STATE chunks of at most chunk bytes. */
static int feed(struct remus_backup_sink *s, uint64_t epoch,
		const struct buf *b, size_t chunk)
{
	size_t off;
	int err;

	for (off = 0; off < b->len; off += chunk) {
		struct remus_state st = {
			.kind = 1,
			.offset = off,
			.total = b->len,
			.data = b->p + off,
			.len = (uint32_t)(b->len - off < chunk ? b->len - off : chunk),
		};

		err = s->ops->state(s, epoch, &st);
		if (err)
			return err;
	}
	return 0;
}

/* What backup.c does at END: verify (before the ack), then commit. */
static int verify_commit(struct remus_backup_sink *s, uint64_t epoch)
{
	int err = s->ops->verify(s, epoch);

	return err ? err : s->ops->commit(s, epoch);
}

static char *path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* The stand-in receiver: pid, banner, then everything it reads into
 * out; "eof" into mark only if its input ended (not when killed). */
static const char *receiver(void)
{
	static char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "echo $$ >%s; printf '%s'; cat >%s; echo eof >%s",
		 path("pid"), "xl migration receiver ready, send binary domain data.\\n",
		 path("out"), path("mark"));
	return cmd;
}

static struct buf slurp(const char *p)
{
	struct buf b = { 0 };
	uint8_t tmp[65536];
	FILE *f = fopen(p, "r");
	size_t n;

	while (f && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		put(&b, tmp, n);
	if (f)
		fclose(f);
	return b;
}

static pid_t read_pid(void)
{
	struct buf b;
	int tries;
	pid_t pid = 0;

	for (tries = 0; tries < 500 && !pid; tries++) {
		b = slurp(path("pid"));
		if (b.len) {
			put(&b, "", 1);
			pid = (pid_t)atoi((char *)b.p);
		}
		free(b.p);
		if (!pid)
			usleep(10000);
	}
	return pid;
}

static void reset(void)
{
	unlink(path("pid"));
	unlink(path("out"));
	unlink(path("mark"));
}

static int sink_feeds_whole_checkpoints_and_ends_at_the_boundary(void)
{
	struct remus_xen_sink_cfg cfg = { .receiver = receiver() };
	struct remus_backup_sink s;
	struct remus_xen_failover fo;
	struct buf c1 = { 0 }, c2 = { 0 }, c3 = { 0 }, want = { 0 }, got;
	struct remus_hello h = { 0 };

	reset();
	ckpt(&c1, 1);
	ckpt(&c2, 2);
	ckpt(&c3, 3);
	put(&want, c1.p, c1.len);
	put(&want, c2.p, c2.len);
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	ASSERT_EQ(0, feed(&s, 1, &c1, 1000));
	ASSERT_EQ(0, verify_commit(&s, 1));
	ASSERT_EQ(0, feed(&s, 2, &c2, 7));
	ASSERT_EQ(0, verify_commit(&s, 2));
	/* Half of checkpoint 3, then the primary dies: it must not reach
	 * the receiver. */
	c3.len /= 2;
	ASSERT_EQ(0, feed(&s, 3, &c3, 4096));
	s.ops->discard(&s);
	ASSERT_EQ(0, s.ops->failover(&s));
	/* No libxl here: the wait reports the receiver, then fails. */
	remus_xen_sink_wait(&s, 10000, &fo);
	ASSERT_TRUE(fo.receiver_status >= 0);
	ASSERT_EQ(2, fo.checkpoints);
	got = slurp(path("out"));
	ASSERT_EQ(want.len, got.len);
	ASSERT_MEM(want.p, got.p, want.len);
	got = slurp(path("mark"));
	ASSERT_EQ(4, got.len);		/* it saw EOF: libxl fails over */
	remus_xen_sink_close(&s);
	return 0;
}

static int sink_gives_the_receiver_a_delta_streams_original_bytes(void)
{
	struct remus_xen_sink_cfg cfg = { .receiver = receiver() };
	struct remus_backup_sink s;
	struct remus_xen_failover fo;
	struct remus_xd_enc e;
	struct buf raw[3] = { 0 }, c[3] = { 0 }, want = { 0 }, got;
	struct remus_hello h = { 0 };
	unsigned int i;

	reset();
	ASSERT_EQ(0, remus_xd_enc_init(&e, 16));
	for (i = 0; i < 3; i++) {
		size_t cap = 0;

		ckpt(&raw[i], i + 1);
		ASSERT_EQ(0, remus_xd_encode(&e, raw[i].p, raw[i].len, &c[i].p,
					     &cap, &c[i].len));
		ASSERT_TRUE(remus_xd_is_container(c[i].p, c[i].len));
	}
	remus_xd_enc_fini(&e);
	put(&want, raw[0].p, raw[0].len);
	put(&want, raw[1].p, raw[1].len);
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	ASSERT_EQ(0, feed(&s, 1, &c[0], 1000));
	ASSERT_EQ(0, verify_commit(&s, 1));
	ASSERT_EQ(0, feed(&s, 2, &c[1], 7));
	ASSERT_EQ(0, verify_commit(&s, 2));
	/* Out of sequence (as if 2 had been missed): refused at its last
	 * chunk, before the END that would ack it. */
	c[2].p[24] ^= 1;
	ASSERT_EQ(-EBADMSG, feed(&s, 3, &c[2], 4096));
	s.ops->discard(&s);
	ASSERT_EQ(0, s.ops->failover(&s));
	remus_xen_sink_wait(&s, 10000, &fo);
	ASSERT_EQ(2, fo.checkpoints);
	got = slurp(path("out"));
	ASSERT_EQ(want.len, got.len);
	ASSERT_MEM(want.p, got.p, want.len);
	remus_xen_sink_close(&s);
	for (i = 0; i < 3; i++) {
		buf_free(&raw[i]);
		buf_free(&c[i]);
	}
	buf_free(&want);
	buf_free(&got);
	return 0;
}

static int sink_refuses_what_is_not_one_whole_checkpoint(void)
{
	struct remus_xen_sink_cfg cfg = { .receiver = receiver() };
	struct remus_backup_sink s;
	struct buf c1 = { 0 }, two = { 0 };
	struct remus_hello h = { 0 };

	reset();
	ckpt(&c1, 1);
	put(&two, c1.p, c1.len);
	ckpt(&two, 2);
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	/* Two checkpoints as one: libxl would see a boundary we never acked. */
	ASSERT_EQ(0, feed(&s, 1, &two, 4096));
	/* Refused before the ack, and no commit without a verify. */
	ASSERT_EQ(-EBADMSG, s.ops->verify(&s, 1));
	ASSERT_EQ(-EBADMSG, s.ops->commit(&s, 1));
	remus_xen_sink_close(&s);

	reset();
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	c1.len -= 8;			/* without its CHECKPOINT_END */
	ASSERT_EQ(0, feed(&s, 1, &c1, 4096));
	ASSERT_EQ(-EBADMSG, s.ops->verify(&s, 1));
	/* A STATE chunk out of place. */
	{
		struct remus_state st = { .kind = 1, .offset = 8, .total = 16,
					  .data = c1.p, .len = 8 };

		s.ops->discard(&s);
		ASSERT_EQ(-EBADMSG, s.ops->state(&s, 2, &st));
	}
	remus_xen_sink_close(&s);
	return 0;
}

static int sink_without_failover_kills_the_receiver_never_eof(void)
{
	struct remus_xen_sink_cfg cfg = { .receiver = receiver() };
	struct remus_backup_sink s;
	struct remus_hello h = { 0 };
	struct buf c1 = { 0 }, got;
	pid_t pid;

	reset();
	ckpt(&c1, 1);
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	pid = read_pid();
	ASSERT_TRUE(pid > 0);
	/* A session that died before its first commit: the next one
	 * starts over with a fresh receiver, the old one killed. */
	unlink(path("pid"));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	ASSERT_EQ(-1, kill(pid, 0));
	ASSERT_EQ(ESRCH, errno);
	ASSERT_EQ(0, feed(&s, 1, &c1, 4096));
	ASSERT_EQ(0, verify_commit(&s, 1));
	/* Once it holds a checkpoint, its stream is the only one. */
	ASSERT_EQ(EBUSY, s.ops->hello(&s, &h));
	pid = read_pid();
	ASSERT_TRUE(pid > 0);
	remus_xen_sink_close(&s);
	ASSERT_EQ(-1, kill(pid, 0));	/* gone, and reaped */
	ASSERT_EQ(ESRCH, errno);
	got = slurp(path("mark"));
	ASSERT_EQ(0, got.len);		/* killed: it never saw EOF */
	return 0;
}

/* Without a receiver of the caller's, xl's needs a dom0: elsewhere the
 * session is refused, as "cannot restore here" (ENODEV), not geometry. */
static int sink_refuses_a_host_that_is_no_dom0(void)
{
	struct remus_xen_sink_cfg cfg = { 0 };
	struct remus_backup_sink s;
	struct remus_hello h = { 0 };

	if (!access("/proc/xen/privcmd", R_OK | W_OK) ||
	    !access("/dev/xen/privcmd", R_OK | W_OK)) {
		printf("# a Xen dom0: not run (xl would start)\n");
		return 0;
	}
	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(ENODEV, s.ops->hello(&s, &h));
	remus_xen_sink_close(&s);
	return 0;
}

static int sink_reports_a_receiver_that_is_gone(void)
{
	struct remus_xen_sink_cfg cfg = { .receiver = "exit 3" };
	struct remus_backup_sink s;
	struct remus_hello h = { 0 };
	struct buf c = { 0 };
	unsigned int i;
	int err = 0;

	ASSERT_EQ(0, remus_xen_sink_open(&s, &cfg));
	ASSERT_EQ(0, s.ops->hello(&s, &h));
	/* No banner: the writer gives up, and the next commit says so. */
	for (i = 1; i < 200 && !err; i++) {
		free(c.p);
		c.p = NULL;
		c.len = 0;
		ckpt(&c, i);
		ASSERT_EQ(0, feed(&s, i, &c, 4096));
		err = verify_commit(&s, i);
		usleep(20000);
	}
	ASSERT_EQ(-EPIPE, err);
	ASSERT_TRUE(s.ops->failover(&s) < 0);
	remus_xen_sink_close(&s);
	return 0;
}

static const struct tcase tests[] = {
	TCASE(sink_feeds_whole_checkpoints_and_ends_at_the_boundary),
	TCASE(sink_gives_the_receiver_a_delta_streams_original_bytes),
	TCASE(sink_refuses_what_is_not_one_whole_checkpoint),
	TCASE(sink_without_failover_kills_the_receiver_never_eof),
	TCASE(sink_refuses_a_host_that_is_no_dom0),
	TCASE(sink_reports_a_receiver_that_is_gone),
};

int main(void)
{
	int ret;

	snprintf(dir, sizeof(dir), "/tmp/test_xen_sink.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	ret = tap_run(tests, sizeof(tests) / sizeof(tests[0]));
	reset();
	rmdir(dir);
	return ret;
}
