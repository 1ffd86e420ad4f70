// SPDX-License-Identifier: GPL-2.0
/*
 * remus.ko unloads only when no remus qdisc is left, and then cleanly:
 * refused (EWOULDBLOCK) while a qdisc pins it, gone with its family and
 * qdisc kind afterwards, and loadable again from $REMUS_KO. Run it last
 * in the suite: it waits for every other test's namespaces to be gone.
 */
#include "nettest.h"

#include "kselftest_harness.h"

static long wait_refcnt_at_most(long want, int timeout_ms)
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	long r;

	do {
		r = nt_module_refcnt();
		if (r >= 0 && r <= want)
			return r;
		nt_sleep_ms(20);
	} while (nt_now_ns() < end);
	return r;
}

TEST(rmmod_refused_while_a_qdisc_exists_and_clean_after_del)
{
	const char *ko = getenv("REMUS_KO");
	struct nt_nl rt, gn, listener;
	struct nt_ack ack;
	long rc;
	int ifi, fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, nt_nl_open(&rt, NETLINK_ROUTE));
	ASSERT_EQ(0, nt_link_add(&rt, "mod0", "dummy", &ack));
	ifi = nt_ifindex(&rt, "mod0");
	ASSERT_EQ(0, nt_qdisc_add(&rt, (uint32_t)ifi, REMUS_QDISC_KIND, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	/* A listener stays subscribed through the unload. */
	ASSERT_EQ(0, nt_genl_open(&listener));
	ASSERT_EQ(0, nt_genl_subscribe(&listener));

	EXPECT_EQ(-1, syscall(SYS_delete_module, "remus", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno) TH_LOG("rmmod with a qdisc: %s", strerror(errno));
	ASSERT_LT(0, nt_module_refcnt()) TH_LOG("the module went away under its qdisc");
	ASSERT_EQ(0, nt_genl_open(&gn)) TH_LOG("the family must still be there");
	ASSERT_EQ(0, nt_get(&gn, (uint32_t)ifi, NULL, -1, NULL, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	nt_nl_close(&gn);

	ASSERT_EQ(0, nt_qdisc_del(&rt, (uint32_t)ifi, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	/* other tests' namespaces may still be going away: give them time */
	rc = wait_refcnt_at_most(0, 20000);
	ASSERT_EQ(0, rc) TH_LOG("refcount %ld with no remus qdisc left", rc);
	ASSERT_EQ(0, syscall(SYS_delete_module, "remus", O_NONBLOCK))
		TH_LOG("rmmod after the last qdisc went: %s", strerror(errno));
	EXPECT_EQ(-ENOENT, nt_module_refcnt());
	EXPECT_EQ(-ENOENT, nt_genl_open(&gn)) TH_LOG("the family outlived the module");
	EXPECT_EQ(-ENOENT, nt_qdisc_add(&rt, (uint32_t)ifi, REMUS_QDISC_KIND, &ack))
		TH_LOG("the qdisc kind outlived the module: %s", nt_ack_str(&ack));
	nt_nl_close(&listener);

	/* Back, for whatever runs next. */
	ASSERT_NE(NULL, ko) TH_LOG("REMUS_KO is not set: cannot load the module again");
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", ko, strerror(errno));
	ASSERT_EQ(0, syscall(SYS_finit_module, fd, "", 0)) TH_LOG("reload %s: %s", ko, strerror(errno));
	close(fd);
	ASSERT_EQ(0, nt_genl_open(&gn)) TH_LOG("no family after reload");
	ASSERT_EQ(0, nt_qdisc_add(&rt, (uint32_t)ifi, REMUS_QDISC_KIND, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&gn, (uint32_t)ifi, NULL, -1, NULL, &ack));
	ASSERT_EQ(0, nt_qdisc_del(&rt, (uint32_t)ifi, &ack));
	nt_nl_close(&gn);
	nt_nl_close(&rt);
}

TEST_HARNESS_MAIN
