// SPDX-License-Identifier: GPL-2.0
/*
 * The disk commands of the `remus` family, as strict as the net ones:
 * CAP_NET_ADMIN for every change, exactly one selector, extack messages,
 * increasing barriers, cumulative commits, mode changes only when nothing
 * is held, dumps, events; and the same through `dmsetup message`.
 */
#include <poll.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "workload.h"

#define BYTES	(2ULL << 20)

FIXTURE(ctl) {
	struct loopdev l;
	char name[32];
	uint32_t devnum;
	struct remus_nl nl;
	struct remus_disk_sel sel;
};

FIXTURE_SETUP(ctl)
{
	char params[128];

	ASSERT_EQ(0, loop_new(&self->l, "ctl", BYTES));
	snprintf(self->name, sizeof(self->name), "tctl%d", getpid());
	snprintf(params, sizeof(params), "%s buffer", self->l.dev);
	ASSERT_EQ(0, dm_create(self->name, BYTES / SECT, "remus", params,
			       &self->devnum));
	ASSERT_EQ(0, remus_nl_open(&self->nl));
	self->sel.name = self->name;
}

FIXTURE_TEARDOWN(ctl)
{
	remus_nl_close(&self->nl);
	dm_remove(self->name);
	loop_del(&self->l);
}

static int write_some(uint32_t devnum, uint64_t sector)
{
	int fd = dm_open(devnum, O_RDWR | O_DIRECT);
	unsigned char *b = abuf(4096);
	int err;

	if (fd < 0 || !b)
		return -ENOMEM;
	fill_sectors(b, sector, 8, 1, 1);
	err = pwrite_all(fd, b, 4096, sector * SECT);
	close(fd);
	free(b);
	return err;
}

TEST_F(ctl, selectors_and_epoch_rules_with_extack)
{
	struct remus_disk_sel both = { .name = self->name, .dev = self->devnum };
	struct remus_disk_sel bydev = { .dev = self->devnum };
	struct remus_disk_sel none = { .name = "no-such-remus-disk" };
	struct remus_disk_info info;
	struct nlmsghdr *nlh;

	ASSERT_EQ(0, remus_disk_get(&self->nl, &bydev, 0, &info));
	EXPECT_STREQ(self->name, info.buf.disk_name);
	EXPECT_EQ(self->devnum, info.buf.disk_dev);
	EXPECT_EQ(BYTES / SECT, info.sectors);
	EXPECT_EQ(REMUS_DISK_DEFAULT_LIMIT, info.buf.limit_bytes);
	EXPECT_EQ(REMUS_DISK_BUFFER, info.buf.disk_mode);

	EXPECT_EQ(-EINVAL, remus_disk_get(&self->nl, &both, 0, &info));
	/* the library refuses two selectors itself: send them raw */
	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_GET, 0);
	mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, self->name);
	mnl_attr_put_u32(nlh, REMUS_A_DISK_DEV, self->devnum);
	EXPECT_EQ(-EINVAL, remus_nl_exec(&self->nl, nlh, NULL, NULL));
	EXPECT_STREQ("give the disk by name or by device number, not both",
		     remus_nl_errmsg(&self->nl));
	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_BARRIER, 0);
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, 1);
	EXPECT_EQ(-EINVAL, remus_nl_exec(&self->nl, nlh, NULL, NULL));
	EXPECT_STREQ("missing disk (name or device number)",
		     remus_nl_errmsg(&self->nl));
	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_BARRIER, 0);
	mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, self->name);
	EXPECT_EQ(-EINVAL, remus_nl_exec(&self->nl, nlh, NULL, NULL));
	/* an attribute the command does not take */
	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_DISCARD, 0);
	mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, self->name);
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, 1);
	EXPECT_EQ(-EINVAL, remus_nl_exec(&self->nl, nlh, NULL, NULL));
	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_SET, 0);
	mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, self->name);
	mnl_attr_put_u32(nlh, REMUS_A_DISK_MODE, REMUS_DISK_MAX + 1);
	EXPECT_EQ(-ERANGE, remus_nl_exec(&self->nl, nlh, NULL, NULL));

	EXPECT_EQ(-ENODEV, remus_disk_get(&self->nl, &none, 0, &info));
	EXPECT_STREQ("no such remus disk", remus_nl_errmsg(&self->nl));

	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 5));
	EXPECT_EQ(-EINVAL, remus_disk_barrier(&self->nl, &self->sel, 5));
	EXPECT_STREQ("barrier epoch must be above the last barrier",
		     remus_nl_errmsg(&self->nl));
	EXPECT_EQ(-EINVAL, remus_disk_commit(&self->nl, &self->sel, 6));
	EXPECT_STREQ("epoch is still open: no barrier closed it",
		     remus_nl_errmsg(&self->nl));
	EXPECT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 3));
	EXPECT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 5));
	EXPECT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 5));
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->sel, 0, &info));
	EXPECT_EQ(5, info.buf.released);
	EXPECT_EQ(1, info.buf.stats.barriers);
	EXPECT_EQ(2, info.buf.stats.releases);	/* 0 -> 3 -> 5 */
}

TEST_F(ctl, set_mode_and_limit)
{
	uint32_t stage = REMUS_DISK_STAGE, buffer = REMUS_DISK_BUFFER;
	struct remus_disk_info info;
	uint64_t limit = 12345;
	struct nlmsghdr *nlh;
	char st[256];

	nlh = remus_nl_request(&self->nl, REMUS_CMD_DISK_SET, 0);
	mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, self->name);
	EXPECT_EQ(-EINVAL, remus_nl_exec(&self->nl, nlh, NULL, NULL));
	EXPECT_STREQ("nothing to set: give a mode, a disk mode or a limit",
		     remus_nl_errmsg(&self->nl));

	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, NULL, &limit,
				    NULL));
	ASSERT_EQ(0, write_some(self->devnum, 0));
	EXPECT_EQ(-EBUSY, remus_disk_set(&self->nl, &self->sel, NULL, NULL,
					 &stage));
	ASSERT_EQ(0, remus_disk_discard(&self->nl, &self->sel));
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, NULL, NULL,
				    &stage));
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->sel, 0, &info));
	EXPECT_EQ(REMUS_DISK_STAGE, info.buf.disk_mode);
	EXPECT_EQ(limit, info.buf.limit_bytes);
	ASSERT_EQ(0, dm_status(self->name, true, st, sizeof(st)));
	EXPECT_NE(NULL, strstr(st, " stage limit=12345")) TH_LOG("%s", st);
	EXPECT_EQ(-EIO, write_some(self->devnum, 0));
	ASSERT_EQ(0, remus_disk_set(&self->nl, &self->sel, NULL, NULL,
				    &buffer));
	EXPECT_EQ(0, write_some(self->devnum, 0));
}

/* Every change needs CAP_NET_ADMIN; reading does not. */
TEST_F(ctl, unprivileged_changes_get_eperm)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct remus_disk_info info;
		struct remus_nl nl;
		uint64_t limit = 4096;
		int bad = 0;

		if (setgid(65534) || setuid(65534) || remus_nl_open(&nl))
			_exit(100);
		bad |= remus_disk_get(&nl, &self->sel, 0, &info) != 0;
		bad |= (remus_disk_barrier(&nl, &self->sel, 1) != -EPERM) << 1;
		bad |= (remus_disk_commit(&nl, &self->sel, 0) != -EPERM) << 2;
		bad |= (remus_disk_discard(&nl, &self->sel) != -EPERM) << 3;
		bad |= (remus_disk_set(&nl, &self->sel, NULL, &limit,
				       NULL) != -EPERM) << 4;
		bad |= (open(REMUS_LOG_DEVICE, O_RDWR) != -1 ||
			errno != EACCES) << 5;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("failed checks: %#x",
						 WEXITSTATUS(status));
}

struct count {
	const char *prefix;
	int n;
	char others[256];
};

/* Disks of this test; others (of tests before it) are listed apart. */
static int count_cb(const struct remus_disk_info *info, void *data)
{
	struct count *c = data;
	size_t len = strlen(c->others);

	if (!strncmp(info->buf.disk_name, c->prefix, strlen(c->prefix)))
		c->n++;
	else
		snprintf(c->others + len, sizeof(c->others) - len, " %s",
			 info->buf.disk_name);
	return 0;
}

TEST_F(ctl, dump_lists_every_disk)
{
	struct loopdev l2;
	char name2[40], params[96];
	struct count c = { .prefix = self->name };
	uint32_t dev2;

	ASSERT_EQ(0, loop_new(&l2, "ctl2", BYTES));
	snprintf(name2, sizeof(name2), "%s-2", self->name);
	snprintf(params, sizeof(params), "%s replicate", l2.dev);
	ASSERT_EQ(0, dm_create(name2, BYTES / SECT, "remus", params, &dev2));
	ASSERT_EQ(0, remus_disk_dump(&self->nl, REMUS_F_EPOCHS, count_cb, &c));
	EXPECT_EQ(2, c.n);
	ASSERT_EQ(0, dm_remove(name2));
	c.n = 0;
	c.others[0] = '\0';
	ASSERT_EQ(0, remus_disk_dump(&self->nl, 0, count_cb, &c));
	EXPECT_EQ(1, c.n);
	EXPECT_STREQ("", c.others) TH_LOG("disks left by earlier tests");
	loop_del(&l2);
}

struct evs {
	unsigned int seen[REMUS_EVENT_MAX + 1];
	uint64_t committed;
	const char *name;
};

static int ev_cb(const struct remus_buf_info *info, void *data)
{
	struct evs *e = data;

	if (info->event <= REMUS_EVENT_MAX && !strcmp(info->disk_name, e->name))
		e->seen[info->event]++;
	if (info->event == REMUS_EVENT_DISK_COMMITTED)
		e->committed = info->epoch;
	return 0;
}

TEST_F(ctl, events_created_committed_destroyed)
{
	struct evs e = { .name = self->name };
	struct remus_nl ev;
	struct pollfd p;
	char params[96];

	ASSERT_EQ(0, remus_nl_open(&ev));
	ASSERT_EQ(0, remus_nl_subscribe(&ev));
	ASSERT_EQ(0, remus_disk_barrier(&self->nl, &self->sel, 3));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 3));
	ASSERT_EQ(0, remus_disk_commit(&self->nl, &self->sel, 2)); /* no-op */
	ASSERT_EQ(0, dm_remove(self->name));
	snprintf(params, sizeof(params), "%s buffer", self->l.dev);
	ASSERT_EQ(0, dm_create(self->name, BYTES / SECT, "remus", params,
			       &self->devnum));
	p.fd = remus_nl_fd(&ev);
	p.events = POLLIN;
	while (poll(&p, 1, 500) == 1)
		ASSERT_LE(0, remus_nl_events(&ev, ev_cb, &e));
	EXPECT_EQ(1, e.seen[REMUS_EVENT_DISK_COMMITTED]);
	EXPECT_EQ(3, e.committed);
	EXPECT_EQ(1, e.seen[REMUS_EVENT_DISK_DESTROYED]);
	EXPECT_EQ(1, e.seen[REMUS_EVENT_DISK_CREATED]);
	remus_nl_close(&ev);
}

/* The same commands as device-mapper messages, for scripts. */
TEST_F(ctl, dmsetup_messages)
{
	struct remus_disk_info info;

	ASSERT_EQ(0, write_some(self->devnum, 16));
	EXPECT_EQ(0, dm_message(self->name, "barrier 4"));
	EXPECT_EQ(-EINVAL, dm_message(self->name, "barrier 4"));
	EXPECT_EQ(-EINVAL, dm_message(self->name, "barrier 7x"));
	EXPECT_EQ(-EINVAL, dm_message(self->name, "commit -1"));
	EXPECT_EQ(-EINVAL, dm_message(self->name, "frobnicate"));
	EXPECT_EQ(0, dm_message(self->name, "commit 4"));
	EXPECT_EQ(0, dm_message(self->name, "limit 65536"));
	EXPECT_EQ(0, dm_message(self->name, "passthrough on"));
	EXPECT_EQ(0, dm_message(self->name, "passthrough off"));
	EXPECT_EQ(0, dm_message(self->name, "discard"));
	EXPECT_EQ(0, dm_message(self->name, "mode replicate"));
	ASSERT_EQ(0, remus_disk_get(&self->nl, &self->sel, 0, &info));
	EXPECT_EQ(4, info.buf.released);
	EXPECT_EQ(65536, info.buf.limit_bytes);
	EXPECT_EQ(1, info.buf.stats.released_pkts);
	EXPECT_EQ(REMUS_DISK_REPLICATE, info.buf.disk_mode);
}

TEST_HARNESS_MAIN
