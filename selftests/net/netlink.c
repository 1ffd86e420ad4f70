// SPDX-License-Identifier: GPL-2.0
/*
 * The `remus` generic netlink family, from the outside: every net command
 * with valid input, then malformed, out-of-range, mistyped, unknown and
 * missing attributes, each of which must give the documented errno and an
 * extack that names the attribute (NLMSGERR_ATTR_OFFS into the request,
 * or NLMSGERR_ATTR_MISS_TYPE) and says why (NLMSGERR_ATTR_MSG). Then the
 * same commands from an unprivileged caller, and the dump.
 *
 * Each test runs in a namespace of its own (the harness forks it; the
 * namespace dies with it), with dummy devices: no traffic is needed here,
 * that is qdisc.c.
 */
#include "nettest.h"
#include <grp.h>
#include <sys/prctl.h>
#include <linux/capability.h>

#include "kselftest_harness.h"

#define DEV_REMUS	"rm0"	/* dummy with a remus root qdisc */
#define DEV_PLAIN	"plain0"	/* dummy with pfifo */

/* Set up rm0 and plain0 in a fresh namespace of this test process. */
static int api_netns(struct nt_nl *rt, uint32_t *if_remus, uint32_t *if_plain,
		     char *why, size_t whylen)
{
	struct nt_ack ack;
	int err;

	if (unshare(CLONE_NEWNET)) {
		snprintf(why, whylen, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -errno;
	}
	err = nt_nl_open(rt, NETLINK_ROUTE);
	if (!err)
		err = nt_link_add(rt, DEV_REMUS, "dummy", &ack);
	if (!err)
		err = nt_link_add(rt, DEV_PLAIN, "dummy", &ack);
	if (err) {
		snprintf(why, whylen, "dummy devices: %s", nt_ack_str(&ack));
		return err;
	}
	*if_remus = (uint32_t)nt_ifindex(rt, DEV_REMUS);
	*if_plain = (uint32_t)nt_ifindex(rt, DEV_PLAIN);
	err = nt_qdisc_add(rt, *if_remus, REMUS_QDISC_KIND, &ack);
	if (!err)
		err = nt_qdisc_add(rt, *if_plain, "pfifo", &ack);
	if (err) {
		snprintf(why, whylen, "qdisc add: %s", nt_ack_str(&ack));
		return err;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* valid input                                                         */
/* ------------------------------------------------------------------ */

FIXTURE(api) {
	struct nt_nl rt, gn;
	uint32_t ifr, ifp;
};

FIXTURE_SETUP(api)
{
	char why[256] = "";

	ASSERT_EQ(0, api_netns(&self->rt, &self->ifr, &self->ifp, why,
			       sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, nt_genl_open(&self->gn))
		TH_LOG("family \"%s\" not found: is remus.ko loaded?", REMUS_GENL_NAME);
}

FIXTURE_TEARDOWN(api)
{
	nt_nl_close(&self->gn);
	nt_nl_close(&self->rt);
}

static const int all_stats[] = {
	REMUS_STATS_A_BACKLOG_PKTS, REMUS_STATS_A_BACKLOG_BYTES,
	REMUS_STATS_A_QUEUED_PKTS, REMUS_STATS_A_QUEUED_BYTES,
	REMUS_STATS_A_RELEASED_PKTS, REMUS_STATS_A_RELEASED_BYTES,
	REMUS_STATS_A_OVERLIMIT_PKTS, REMUS_STATS_A_OVERLIMIT_BYTES,
	REMUS_STATS_A_DISCARDED_PKTS, REMUS_STATS_A_DISCARDED_BYTES,
	REMUS_STATS_A_BARRIERS, REMUS_STATS_A_RELEASES,
	REMUS_STATS_A_PASSED_PKTS, REMUS_STATS_A_PASSED_BYTES,
	REMUS_STATS_A_LOG_WAITS,
};

TEST_F(api, get_by_index_reports_every_field_with_defaults)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	static const int need[] = {
		REMUS_A_IFINDEX, REMUS_A_IFNAME, REMUS_A_MODE, REMUS_A_BARRIER,
		REMUS_A_RELEASED, REMUS_A_LIMIT_PKTS, REMUS_A_LIMIT_BYTES,
		REMUS_A_STATS,
	};
	unsigned int i;

	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, &ack))
		TH_LOG("GET: %s", nt_ack_str(&ack));
	EXPECT_STREQ("", ni.bad);
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		EXPECT_TRUE(ni.seen & NT_SEEN(need[i]))
			TH_LOG("reply lacks attribute %d", need[i]);
	for (i = 0; i < sizeof(all_stats) / sizeof(all_stats[0]); i++)
		EXPECT_TRUE(ni.st_seen & (1u << all_stats[i]))
			TH_LOG("REMUS_A_STATS lacks attribute %d", all_stats[i]);
	EXPECT_EQ(self->ifr, ni.ifindex);
	EXPECT_STREQ(DEV_REMUS, ni.ifname);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	EXPECT_EQ(0, ni.barrier);
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_PKTS, ni.limit_pkts);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_BYTES, ni.limit_bytes);
	EXPECT_EQ(0, ni.nepochs) TH_LOG("epoch nests without REMUS_F_EPOCHS");
	for (i = 0; i <= REMUS_STATS_A_MAX; i++)
		EXPECT_EQ(0, ni.st[i]) TH_LOG("stats attribute %u of a new qdisc", i);
}

TEST_F(api, get_by_name_equals_get_by_index)
{
	struct nt_netinfo a, b;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 3, NULL));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &a, NULL));
	ASSERT_EQ(0, nt_get(&self->gn, 0, DEV_REMUS, -1, &b, NULL));
	EXPECT_EQ(a.ifindex, b.ifindex);
	EXPECT_STREQ(a.ifname, b.ifname);
	EXPECT_EQ(3, b.barrier);
	EXPECT_EQ(0, memcmp(a.st, b.st, sizeof(a.st)));
}

TEST_F(api, get_with_epochs_flag_on_empty_queue_lists_no_epoch)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, REMUS_F_EPOCHS, &ni, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_STREQ("", ni.bad);
	EXPECT_EQ(0, ni.nepochs);
}

TEST_F(api, barrier_moves_last_barrier_and_counts)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 1, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 7, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(7, ni.barrier);
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(2, ni.st[REMUS_STATS_A_BARRIERS]);
}

TEST_F(api, barrier_by_name_works)
{
	struct nlmsghdr *nlh = nt_genl_msg(&self->gn, REMUS_CMD_NET_BARRIER, 0);
	struct nt_netinfo ni;
	struct nt_ack ack;

	mnl_attr_put_strz(nlh, REMUS_A_IFNAME, DEV_REMUS);
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, 4);
	ASSERT_EQ(0, nt_nl_xfer(&self->gn, nlh, &ack, NULL, NULL))
		TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(4, ni.barrier);
}

TEST_F(api, release_moves_release_point_and_repeats_are_noops)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 5, NULL));
	ASSERT_EQ(0, nt_release(&self->gn, self->ifr, 3, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(3, ni.released);
	EXPECT_EQ(1, ni.st[REMUS_STATS_A_RELEASES]);
	/* the same, and an older one: no-ops, not errors */
	EXPECT_EQ(0, nt_release(&self->gn, self->ifr, 3, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(0, nt_release(&self->gn, self->ifr, 1, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(0, nt_release(&self->gn, self->ifr, 0, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(3, ni.released);
	EXPECT_EQ(1, ni.st[REMUS_STATS_A_RELEASES])
		TH_LOG("no-op releases must not count as releases that moved R");
	ASSERT_EQ(0, nt_release(&self->gn, self->ifr, 5, NULL));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(5, ni.released);
	EXPECT_EQ(2, ni.st[REMUS_STATS_A_RELEASES]);
}

/* An epoch command built here, with the offset of its REMUS_A_EPOCH. */
static int epoch_cmd_offs(struct nt_nl *gn, uint8_t cmd, uint32_t ifindex,
			  uint64_t epoch, struct nt_ack *ack, uint32_t *offs)
{
	struct nlmsghdr *nlh = nt_genl_msg(gn, cmd, 0);

	mnl_attr_put_u32(nlh, REMUS_A_IFINDEX, ifindex);
	*offs = nlh->nlmsg_len;
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, epoch);
	return nt_nl_xfer(gn, nlh, ack, NULL, NULL);
}

TEST_F(api, release_of_open_epoch_refused_with_extack_on_epoch)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	uint32_t offs;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 2, NULL));
	EXPECT_EQ(-EINVAL, epoch_cmd_offs(&self->gn, REMUS_CMD_NET_RELEASE,
					  self->ifr, 3, &ack, &offs))
		TH_LOG("release 3 with barrier 2: %s", nt_ack_str(&ack));
	EXPECT_TRUE(ack.has_offs);
	EXPECT_EQ(offs, ack.offs) TH_LOG("extack must point at REMUS_A_EPOCH");
	EXPECT_TRUE(ack.has_msg);
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(0, ni.st[REMUS_STATS_A_RELEASES]);
}

TEST_F(api, barrier_not_above_last_refused_with_extack_on_epoch)
{
	static const uint64_t bad[] = { 5, 4, 1, 0 };
	struct nt_netinfo ni;
	struct nt_ack ack;
	unsigned int i;
	uint32_t offs;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 5, NULL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, epoch_cmd_offs(&self->gn, REMUS_CMD_NET_BARRIER,
						  self->ifr, bad[i], &ack, &offs))
			TH_LOG("barrier %llu after 5: %s",
			       (unsigned long long)bad[i], nt_ack_str(&ack));
		EXPECT_TRUE(ack.has_offs && ack.offs == offs)
			TH_LOG("barrier %llu: offs %u, REMUS_A_EPOCH is at %u",
			       (unsigned long long)bad[i], ack.offs, offs);
		EXPECT_TRUE(ack.has_msg);
	}
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(5, ni.barrier);
	EXPECT_EQ(1, ni.st[REMUS_STATS_A_BARRIERS]);
}

TEST_F(api, discard_keeps_barrier_and_release_point)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 9, NULL));
	ASSERT_EQ(0, nt_release(&self->gn, self->ifr, 4, NULL));
	ASSERT_EQ(0, nt_discard(&self->gn, self->ifr, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(9, ni.barrier);
	EXPECT_EQ(4, ni.released);
	/* epochs keep increasing across a discard */
	EXPECT_EQ(-EINVAL, nt_barrier(&self->gn, self->ifr, 9, NULL));
	EXPECT_EQ(0, nt_barrier(&self->gn, self->ifr, 10, NULL));
}

TEST_F(api, set_mode_and_limits_are_reported_by_get)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_set(&self->gn, self->ifr, REMUS_MODE_PASSTHROUGH, -1, -1, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(REMUS_MODE_PASSTHROUGH, ni.mode);
	ASSERT_EQ(0, nt_set(&self->gn, self->ifr, -1, 17, -1, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_set(&self->gn, self->ifr, -1, -1, 5000000000ll, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(REMUS_MODE_PASSTHROUGH, ni.mode);
	EXPECT_EQ(17, ni.limit_pkts);
	EXPECT_EQ(5000000000ull, ni.limit_bytes) TH_LOG("a 64-bit byte limit must survive");
	ASSERT_EQ(0, nt_set(&self->gn, self->ifr, REMUS_MODE_BUFFER, 1, 1, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	EXPECT_EQ(1, ni.limit_pkts);
	EXPECT_EQ(1, ni.limit_bytes);
}

TEST_F(api, tc_options_are_the_same_state_as_netlink)
{
	struct nt_qdisc q;
	struct nt_netinfo ni;
	struct nt_ack ack;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 6, NULL));
	ASSERT_EQ(0, nt_release(&self->gn, self->ifr, 2, NULL));
	/* tc qdisc change: limits and mode through TCA_OPTIONS */
	ASSERT_EQ(0, nt_qdisc_remus(&self->rt, self->ifr, 0, 33, 44444, REMUS_MODE_BUFFER,
				    true, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(33, ni.limit_pkts);
	EXPECT_EQ(44444, ni.limit_bytes);
	ASSERT_EQ(0, nt_qdisc_get(&self->rt, self->ifr, &q));
	EXPECT_STREQ(REMUS_QDISC_KIND, q.kind);
	EXPECT_EQ(33, q.opt_limit_pkts);
	EXPECT_EQ(44444, q.opt_limit_bytes);
	EXPECT_EQ(REMUS_MODE_BUFFER, q.opt_mode);
	EXPECT_EQ(6, q.opt_barrier);
	EXPECT_EQ(2, q.opt_released);
}

TEST_F(api, tc_options_refuse_bad_values_with_extack)
{
	struct nt_ack ack;
	struct nt_netinfo ni;

	EXPECT_EQ(-ERANGE, nt_qdisc_remus(&self->rt, self->ifr, 0, 0, -1, -1, true, &ack))
		TH_LOG("limit 0 packets: %s", nt_ack_str(&ack));
	EXPECT_TRUE(ack.has_offs);
	EXPECT_EQ(-ERANGE, nt_qdisc_remus(&self->rt, self->ifr, 0, -1, 0, -1, true, &ack))
		TH_LOG("limit 0 bytes: %s", nt_ack_str(&ack));
	EXPECT_EQ(-ERANGE, nt_qdisc_remus(&self->rt, self->ifr, 0, -1, -1, 7, true, &ack))
		TH_LOG("mode 7: %s", nt_ack_str(&ack));
	EXPECT_TRUE(ack.has_offs);
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_PKTS, ni.limit_pkts);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_BYTES, ni.limit_bytes);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
}

TEST_F(api, tc_options_cannot_set_barrier_or_release_point)
{
	struct tcmsg *tc;
	struct nlmsghdr *nlh;
	struct nlattr *o;
	struct nt_netinfo ni;
	struct nt_ack ack;
	uint32_t offs;

	nlh = nt_rt_msg(&self->rt, RTM_NEWQDISC, 0, sizeof(*tc), (void **)&tc);
	tc->tcm_ifindex = (int)self->ifr;
	tc->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, REMUS_QDISC_KIND);
	o = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	offs = nlh->nlmsg_len;
	mnl_attr_put_u64(nlh, TCA_REMUS_RELEASED, 100);
	mnl_attr_nest_end(nlh, o);
	EXPECT_EQ(-EINVAL, nt_nl_xfer(&self->rt, nlh, &ack, NULL, NULL))
		TH_LOG("TCA_REMUS_RELEASED in a change: %s", nt_ack_str(&ack));
	EXPECT_TRUE(ack.has_offs && ack.offs == offs)
		TH_LOG("offs %u, TCA_REMUS_RELEASED at %u", ack.offs, offs);
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(0, ni.barrier);
}

TEST_F(api, dump_with_epochs_flag_works)
{
	struct nt_netinfo ni[4];
	struct nt_ack ack;

	ASSERT_EQ(1, nt_dump(&self->gn, REMUS_F_EPOCHS, ni, 4, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_STREQ(DEV_REMUS, ni[0].ifname);
	EXPECT_STREQ("", ni[0].bad);
}

TEST_F(api, dump_lists_every_remus_qdisc_in_namespace_and_only_those)
{
	/* Enough entries that the dump takes several messages. */
	enum { NREMUS = 48, NOTHER = 12 };
	static struct nt_netinfo ni[NREMUS + NOTHER + 8];
	bool seen[NREMUS] = { false };
	struct nt_nl rt2, gn2;
	struct nt_ack ack;
	char name[IFNAMSIZ];
	int n, i, ns2, self_ns;

	for (i = 0; i < NREMUS; i++) {
		snprintf(name, sizeof(name), "rd%d", i);
		ASSERT_EQ(0, nt_link_add(&self->rt, name, "dummy", &ack)) TH_LOG("%s", nt_ack_str(&ack));
		ASSERT_EQ(0, nt_qdisc_add(&self->rt, (uint32_t)nt_ifindex(&self->rt, name),
					  REMUS_QDISC_KIND, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	}
	/* Others: another kind of root qdisc, or none of our own. */
	for (i = 0; i < NOTHER; i++) {
		snprintf(name, sizeof(name), "od%d", i);
		ASSERT_EQ(0, nt_link_add(&self->rt, name, "dummy", &ack));
		if (i % 3 == 1)
			ASSERT_EQ(0, nt_qdisc_add(&self->rt, (uint32_t)nt_ifindex(&self->rt, name),
						  "plug", &ack)) TH_LOG("%s", nt_ack_str(&ack));
		if (i % 3 == 2)
			ASSERT_EQ(0, nt_qdisc_add(&self->rt, (uint32_t)nt_ifindex(&self->rt, name),
						  "pfifo", &ack));
	}
	/* And a remus qdisc in another namespace, which must not show. */
	ns2 = nt_ns_new();
	ASSERT_LE(0, ns2);
	ASSERT_EQ(0, nt_open_in(ns2, &rt2, false));
	ASSERT_EQ(0, nt_link_add(&rt2, "elsewhere0", "dummy", &ack));
	ASSERT_EQ(0, nt_qdisc_add(&rt2, (uint32_t)nt_ifindex(&rt2, "elsewhere0"),
				  REMUS_QDISC_KIND, &ack)) TH_LOG("%s", nt_ack_str(&ack));

	n = nt_dump(&self->gn, -1, ni, sizeof(ni) / sizeof(ni[0]), &ack);
	ASSERT_EQ(NREMUS + 1, n) TH_LOG("dump gave %d entries (%s), expected rm0 and rd0..rd%d",
					n, nt_ack_str(&ack), NREMUS - 1);
	for (i = 0; i < n; i++) {
		int k;

		EXPECT_STREQ("", ni[i].bad);
		if (!strcmp(ni[i].ifname, DEV_REMUS))
			continue;
		ASSERT_EQ(1, sscanf(ni[i].ifname, "rd%d", &k))
			TH_LOG("dump lists %s, which has no remus root qdisc", ni[i].ifname);
		ASSERT_TRUE(k >= 0 && k < NREMUS);
		EXPECT_FALSE(seen[k]) TH_LOG("rd%d listed twice", k);
		seen[k] = true;
		EXPECT_EQ((uint32_t)nt_ifindex(&self->rt, ni[i].ifname), ni[i].ifindex);
	}

	/* The other namespace sees exactly its own. */
	self_ns = nt_ns_self();
	ASSERT_EQ(0, nt_ns_enter(ns2));
	ASSERT_EQ(0, nt_genl_open(&gn2));
	ASSERT_EQ(0, nt_ns_enter(self_ns));
	n = nt_dump(&gn2, -1, ni, 4, &ack);
	EXPECT_EQ(1, n);
	EXPECT_STREQ("elsewhere0", ni[0].ifname);
	/* and cannot reach ours by name */
	EXPECT_EQ(-ENODEV, nt_get(&gn2, 0, DEV_REMUS, -1, NULL, &ack));
	nt_nl_close(&gn2);
	nt_nl_close(&rt2);
	close(ns2);
	close(self_ns);
}

TEST_F(api, dump_of_namespace_without_remus_qdisc_is_empty)
{
	struct nt_netinfo ni[2];
	struct nt_ack ack;

	ASSERT_EQ(0, nt_qdisc_del(&self->rt, self->ifr, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(0, nt_dump(&self->gn, -1, ni, 2, &ack)) TH_LOG("%s", nt_ack_str(&ack));
}

/* ------------------------------------------------------------------ */
/* unprivileged callers                                                */
/* ------------------------------------------------------------------ */

static int drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return -errno;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (d[0].effective || d[1].effective || d[0].permitted || d[1].permitted)
		return -EPERM;
	return 0;
}

TEST_F(api, unprivileged_caller_gets_eperm_on_every_mutating_command)
{
	static const uint8_t mutating[] = {
		REMUS_CMD_NET_BARRIER, REMUS_CMD_NET_RELEASE,
		REMUS_CMD_NET_DISCARD, REMUS_CMD_NET_SET,
		REMUS_CMD_DISK_BARRIER, REMUS_CMD_DISK_COMMIT,
		REMUS_CMD_DISK_DISCARD, REMUS_CMD_DISK_SET,
	};
	struct nt_netinfo ni[2];
	struct nt_nl un;
	struct nt_ack ack;
	unsigned int i;

	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 2, NULL));
	ASSERT_EQ(0, drop_privileges()) TH_LOG("cannot become nobody without capabilities");
	/* A socket opened by the unprivileged caller. */
	ASSERT_EQ(0, nt_genl_open(&un));

	for (i = 0; i < sizeof(mutating); i++) {
		struct nlmsghdr *nlh = nt_genl_msg(&un, mutating[i], 0);
		uint8_t cmd = mutating[i];

		/* Valid input: only the privilege is missing. */
		if (cmd >= REMUS_CMD_DISK_GET)
			mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, "remus0");
		else
			mnl_attr_put_u32(nlh, REMUS_A_IFINDEX, self->ifr);
		if (cmd == REMUS_CMD_NET_BARRIER || cmd == REMUS_CMD_DISK_BARRIER)
			mnl_attr_put_u64(nlh, REMUS_A_EPOCH, 3);
		if (cmd == REMUS_CMD_NET_RELEASE || cmd == REMUS_CMD_DISK_COMMIT)
			mnl_attr_put_u64(nlh, REMUS_A_EPOCH, 2);
		if (cmd == REMUS_CMD_NET_SET || cmd == REMUS_CMD_DISK_SET)
			mnl_attr_put_u32(nlh, REMUS_A_MODE, REMUS_MODE_PASSTHROUGH);
		EXPECT_EQ(-EPERM, nt_nl_xfer(&un, nlh, &ack, NULL, NULL))
			TH_LOG("command %u as nobody: %s", cmd, nt_ack_str(&ack));
	}

	/* GET still works, do and dump, and shows that nothing moved. */
	ASSERT_EQ(0, nt_get(&un, self->ifr, NULL, REMUS_F_EPOCHS, &ni[0], &ack))
		TH_LOG("GET as nobody: %s", nt_ack_str(&ack));
	EXPECT_EQ(2, ni[0].barrier);
	EXPECT_EQ(0, ni[0].released);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni[0].mode);
	EXPECT_EQ(1, ni[0].st[REMUS_STATS_A_BARRIERS]);
	EXPECT_EQ(1, nt_dump(&un, -1, ni, 2, &ack)) TH_LOG("dump as nobody: %s", nt_ack_str(&ack));
	/* Events are readable too. */
	EXPECT_EQ(0, nt_genl_subscribe(&un));
	nt_nl_close(&un);
}

/* ------------------------------------------------------------------ */
/* malformed requests                                                  */
/* ------------------------------------------------------------------ */

/*
 * Each request below is the exact bytes sent (the family id is patched
 * in). The expected offset is the position of the offending attribute in
 * the request, which the kernel must report in NLMSGERR_ATTR_OFFS.
 */
struct a32 { struct nlattr a; uint32_t v; } __attribute__((packed));
struct a64 { struct nlattr a; uint64_t v; } __attribute__((packed));
struct a16 { struct nlattr a; uint16_t v; uint16_t pad; } __attribute__((packed));
struct aname { struct nlattr a; char s[4]; } __attribute__((packed));	/* "rm0" */
struct astr8 { struct nlattr a; char s[8]; } __attribute__((packed));
struct astr20 { struct nlattr a; char s[20]; } __attribute__((packed));

#define HDR(var, c) \
	.nlh = { .nlmsg_len = sizeof(var), .nlmsg_flags = NLM_F_REQUEST }, \
	.g = { .cmd = (c), .version = REMUS_GENL_VERSION }
#define A32(t, val)	{ .a = { .nla_len = 8, .nla_type = (t) }, .v = (val) }
#define A64(t, val)	{ .a = { .nla_len = 12, .nla_type = (t) }, .v = (val) }
/* an attribute whose nla_len is given (short, long, or lying) */
#define A32L(t, l, val)	{ .a = { .nla_len = (l), .nla_type = (t) }, .v = (val) }
#define A16(t, val)	{ .a = { .nla_len = 6, .nla_type = (t) }, .v = (val) }
#define ASTR(t, l, str)	{ .a = { .nla_len = (l), .nla_type = (t) }, .s = str }
#define AHDR(t, l)	{ .nla_len = (l), .nla_type = (t) }
#define NAME_RM0	{ .a = { .nla_len = 8, .nla_type = REMUS_A_IFNAME }, .s = DEV_REMUS }
#define NAME_PLAIN	{ .a = { .nla_len = 4 + 7, .nla_type = REMUS_A_IFNAME }, .s = DEV_PLAIN }

#define MSG0(name, c)							\
	static const struct {						\
		struct nlmsghdr nlh;					\
		struct genlmsghdr g;					\
	} __attribute__((packed)) name = { HDR(name, c) }

#define MSG1(name, c, t1, f1, v1)					\
	static const struct {						\
		struct nlmsghdr nlh;					\
		struct genlmsghdr g;					\
		t1 f1;							\
	} __attribute__((packed)) name = { HDR(name, c), .f1 = v1 }
#define MSG2(name, c, t1, f1, v1, t2, f2, v2)				\
	static const struct {						\
		struct nlmsghdr nlh;					\
		struct genlmsghdr g;					\
		t1 f1;							\
		t2 f2;							\
	} __attribute__((packed)) name = { HDR(name, c), .f1 = v1, .f2 = v2 }
#define MSG3(name, c, t1, f1, v1, t2, f2, v2, t3, f3, v3)		\
	static const struct {						\
		struct nlmsghdr nlh;					\
		struct genlmsghdr g;					\
		t1 f1;							\
		t2 f2;							\
		t3 f3;							\
	} __attribute__((packed)) name = { HDR(name, c), .f1 = v1, .f2 = v2, .f3 = v3 }

/* GET */
MSG1(get_ifindex_zero, REMUS_CMD_NET_GET, struct a32, sel, A32(REMUS_A_IFINDEX, 0));
MSG1(get_ifindex_absent_dev, REMUS_CMD_NET_GET, struct a32, sel, A32(REMUS_A_IFINDEX, 999999));
MSG1(get_ifindex_as_u64, REMUS_CMD_NET_GET, struct a64, sel, A64(REMUS_A_IFINDEX, 1));
MSG1(get_ifindex_as_u16, REMUS_CMD_NET_GET, struct a16, sel,
     A16(REMUS_A_IFINDEX, 1));
MSG2(get_flags_unknown_bit, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, flags, A32(REMUS_A_FLAGS, REMUS_F_EPOCHS | 2));
MSG2(get_flags_top_bit, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, flags, A32(REMUS_A_FLAGS, 0x80000000u));
MSG2(get_flags_as_u64, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a64, flags, A64(REMUS_A_FLAGS, REMUS_F_EPOCHS));
MSG1(get_ifname_too_long, REMUS_CMD_NET_GET, struct astr20, sel,
     ASTR(REMUS_A_IFNAME, 4 + 17, "abcdefghijklmnop"));
MSG1(get_ifname_unterminated, REMUS_CMD_NET_GET, struct aname, sel,
     ASTR(REMUS_A_IFNAME, 7, "rm0"));
MSG1(get_ifname_empty, REMUS_CMD_NET_GET, struct nlattr, sel,
     AHDR(REMUS_A_IFNAME, 4));
MSG1(get_ifname_absent_dev, REMUS_CMD_NET_GET, struct astr8, sel,
     ASTR(REMUS_A_IFNAME, 4 + 8, "nosuch0"));
MSG1(get_not_remus_dev, REMUS_CMD_NET_GET, struct astr8, sel, NAME_PLAIN);
MSG2(get_both_selectors, REMUS_CMD_NET_GET, struct a32, idx, A32(REMUS_A_IFINDEX, 1),
     struct aname, name, NAME_RM0);
MSG1(get_no_selector, REMUS_CMD_NET_GET, struct a32, flags, A32(REMUS_A_FLAGS, 0));
MSG2(get_unknown_attr, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, unknown, A32(REMUS_A_MAX + 1, 0));
MSG2(get_attr_type_zero, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, zero, A32(REMUS_A_UNSPEC, 0));
MSG2(get_epoch_not_taken, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a64, epoch, A64(REMUS_A_EPOCH, 1));
MSG2(get_pad_not_taken, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, pad, A32(REMUS_A_PAD, 0));
MSG2(get_stats_not_taken, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct nlattr, stats, AHDR(REMUS_A_STATS | NLA_F_NESTED, 4));
/* An attribute header that claims more than the message holds. */
MSG2(get_attr_overruns_message, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, big, A32L(REMUS_A_FLAGS, 200, 0));
/* An attribute header shorter than a header. */
MSG2(get_attr_len_below_header, REMUS_CMD_NET_GET, struct aname, sel, NAME_RM0,
     struct a32, tiny, A32L(REMUS_A_FLAGS, 2, 0));

/* BARRIER */
MSG2(barrier_epoch_as_u32, REMUS_CMD_NET_BARRIER, struct aname, sel, NAME_RM0,
     struct a32, epoch, A32(REMUS_A_EPOCH, 1));
MSG2(barrier_epoch_short, REMUS_CMD_NET_BARRIER, struct aname, sel, NAME_RM0,
     struct a16, epoch, A16(REMUS_A_EPOCH, 1));
MSG1(barrier_epoch_missing, REMUS_CMD_NET_BARRIER, struct aname, sel, NAME_RM0);
MSG1(barrier_selector_missing, REMUS_CMD_NET_BARRIER, struct a64, epoch,
     A64(REMUS_A_EPOCH, 1));
MSG3(barrier_both_selectors, REMUS_CMD_NET_BARRIER, struct a32, idx, A32(REMUS_A_IFINDEX, 1),
     struct aname, name, NAME_RM0, struct a64, epoch, A64(REMUS_A_EPOCH, 1));
MSG3(barrier_mode_not_taken, REMUS_CMD_NET_BARRIER, struct aname, sel, NAME_RM0,
     struct a64, epoch, A64(REMUS_A_EPOCH, 1), struct a32, mode, A32(REMUS_A_MODE, 0));
MSG3(barrier_flags_not_taken, REMUS_CMD_NET_BARRIER, struct aname, sel, NAME_RM0,
     struct a64, epoch, A64(REMUS_A_EPOCH, 1), struct a32, flags, A32(REMUS_A_FLAGS, 0));
MSG2(barrier_not_remus_dev, REMUS_CMD_NET_BARRIER, struct astr8, sel, NAME_PLAIN,
     struct a64, epoch, A64(REMUS_A_EPOCH, 1));
MSG2(barrier_ifindex_zero, REMUS_CMD_NET_BARRIER, struct a32, sel, A32(REMUS_A_IFINDEX, 0),
     struct a64, epoch, A64(REMUS_A_EPOCH, 1));

/* RELEASE */
MSG2(release_epoch_as_u32, REMUS_CMD_NET_RELEASE, struct aname, sel, NAME_RM0,
     struct a32, epoch, A32(REMUS_A_EPOCH, 0));
MSG1(release_epoch_missing, REMUS_CMD_NET_RELEASE, struct aname, sel, NAME_RM0);
MSG3(release_limit_not_taken, REMUS_CMD_NET_RELEASE, struct aname, sel, NAME_RM0,
     struct a64, epoch, A64(REMUS_A_EPOCH, 0), struct a32, lim, A32(REMUS_A_LIMIT_PKTS, 5));
MSG2(release_absent_dev, REMUS_CMD_NET_RELEASE, struct a32, sel, A32(REMUS_A_IFINDEX, 999999),
     struct a64, epoch, A64(REMUS_A_EPOCH, 0));

/* DISCARD */
MSG2(discard_epoch_not_taken, REMUS_CMD_NET_DISCARD, struct aname, sel, NAME_RM0,
     struct a64, epoch, A64(REMUS_A_EPOCH, 1));
MSG0(discard_selector_missing, REMUS_CMD_NET_DISCARD);
MSG0(get_empty, REMUS_CMD_NET_GET);
MSG2(discard_mode_not_taken, REMUS_CMD_NET_DISCARD, struct aname, sel, NAME_RM0,
     struct a32, mode, A32(REMUS_A_MODE, 1));

/* SET */
MSG1(set_nothing_to_set, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0);
MSG2(set_mode_out_of_range, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, mode, A32(REMUS_A_MODE, REMUS_MODE_MAX + 1));
MSG2(set_mode_all_ones, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, mode, A32(REMUS_A_MODE, 0xffffffffu));
MSG2(set_mode_as_u64, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a64, mode, A64(REMUS_A_MODE, 0));
MSG2(set_limit_pkts_zero, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, lim, A32(REMUS_A_LIMIT_PKTS, 0));
MSG2(set_limit_pkts_as_u64, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a64, lim, A64(REMUS_A_LIMIT_PKTS, 10));
MSG2(set_limit_bytes_zero, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a64, lim, A64(REMUS_A_LIMIT_BYTES, 0));
MSG2(set_limit_bytes_as_u32, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, lim, A32(REMUS_A_LIMIT_BYTES, 1000));
MSG3(set_epoch_not_taken, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, mode, A32(REMUS_A_MODE, 0), struct a64, epoch, A64(REMUS_A_EPOCH, 1));
MSG3(set_second_bad_limit_named, REMUS_CMD_NET_SET, struct aname, sel, NAME_RM0,
     struct a32, lim, A32(REMUS_A_LIMIT_PKTS, 10), struct a64, bytes,
     A64(REMUS_A_LIMIT_BYTES, 0));

/* commands the family does not have */
MSG1(cmd_unknown, 200, struct aname, sel, NAME_RM0);
MSG1(cmd_event_not_requestable, REMUS_CMD_EVENT, struct aname, sel, NAME_RM0);
MSG1(cmd_unspec, REMUS_CMD_UNSPEC, struct aname, sel, NAME_RM0);

/* A message too short for its generic netlink header. */
static const struct {
	struct nlmsghdr nlh;
	uint16_t half;
	uint16_t pad;
} __attribute__((packed)) genl_header_truncated = {
	.nlh = { .nlmsg_len = sizeof(struct nlmsghdr) + 2, .nlmsg_flags = NLM_F_REQUEST },
	.half = REMUS_CMD_NET_GET,
};

/* A dump with an unknown flag. */
static const struct {
	struct nlmsghdr nlh;
	struct genlmsghdr g;
	struct a32 flags;
} __attribute__((packed)) dump_flags_unknown_bit = {
	.nlh = { .nlmsg_len = sizeof(dump_flags_unknown_bit),
		 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
	.g = { .cmd = REMUS_CMD_NET_GET, .version = REMUS_GENL_VERSION },
	.flags = A32(REMUS_A_FLAGS, 4),
};

/* A dump of a command that has none. */
static const struct {
	struct nlmsghdr nlh;
	struct genlmsghdr g;
} __attribute__((packed)) dump_of_barrier = {
	.nlh = { .nlmsg_len = sizeof(dump_of_barrier),
		 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
	.g = { .cmd = REMUS_CMD_NET_BARRIER, .version = REMUS_GENL_VERSION },
};

#define NONE	(-1)
#define OFFS(var, field)	((int)offsetof(__typeof__(var), field))

FIXTURE(bad) {
	struct nt_nl rt, gn;
	uint32_t ifr, ifp;
};

FIXTURE_VARIANT(bad) {
	const void *msg;
	size_t len;
	int err;		/* expected -errno */
	int offs;		/* expected NLMSGERR_ATTR_OFFS, or NONE */
	int miss;		/* expected NLMSGERR_ATTR_MISS_TYPE, or NONE */
	const char *text;	/* in NLMSGERR_ATTR_MSG, or NULL: any */
	bool no_msg;		/* the core answers before any extack (EPERM, EOPNOTSUPP) */
};

#define CASE(name, e, o, m, t, ...)					\
	FIXTURE_VARIANT_ADD(bad, name) {				\
		.msg = &name, .len = sizeof(name), .err = (e),		\
		.offs = (o), .miss = (m), .text = (t), __VA_ARGS__	\
	}

CASE(get_ifindex_zero, -ERANGE, OFFS(get_ifindex_zero, sel), NONE, "out of range");
CASE(get_ifindex_absent_dev, -ENODEV, OFFS(get_ifindex_absent_dev, sel), NONE, "no such interface");
CASE(get_ifindex_as_u64, -EINVAL, OFFS(get_ifindex_as_u64, sel), NONE, "length");
CASE(get_ifindex_as_u16, -EINVAL, OFFS(get_ifindex_as_u16, sel), NONE, "length");
CASE(get_flags_unknown_bit, -EINVAL, OFFS(get_flags_unknown_bit, flags), NONE, NULL);
CASE(get_flags_top_bit, -EINVAL, OFFS(get_flags_top_bit, flags), NONE, NULL);
CASE(get_flags_as_u64, -EINVAL, OFFS(get_flags_as_u64, flags), NONE, "length");
CASE(get_ifname_too_long, -EINVAL, OFFS(get_ifname_too_long, sel), NONE, NULL);
CASE(get_ifname_unterminated, -EINVAL, OFFS(get_ifname_unterminated, sel), NONE, NULL);
CASE(get_ifname_empty, -EINVAL, OFFS(get_ifname_empty, sel), NONE, NULL);
CASE(get_ifname_absent_dev, -ENODEV, OFFS(get_ifname_absent_dev, sel), NONE, "no such interface");
CASE(get_not_remus_dev, -ENOENT, OFFS(get_not_remus_dev, sel), NONE, "remus");
CASE(get_both_selectors, -EINVAL, OFFS(get_both_selectors, name), NONE, "not both");
CASE(get_no_selector, -EINVAL, NONE, REMUS_A_IFINDEX, "missing");
CASE(get_empty, -EINVAL, NONE, REMUS_A_IFINDEX, "missing");
CASE(get_unknown_attr, -EINVAL, OFFS(get_unknown_attr, unknown), NONE, "Unknown attribute");
CASE(get_attr_type_zero, -EINVAL, OFFS(get_attr_type_zero, zero), NONE, "Unknown attribute");
CASE(get_epoch_not_taken, -EINVAL, OFFS(get_epoch_not_taken, epoch), NONE, "Unsupported");
CASE(get_pad_not_taken, -EINVAL, OFFS(get_pad_not_taken, pad), NONE, "Unsupported");
CASE(get_stats_not_taken, -EINVAL, OFFS(get_stats_not_taken, stats), NONE, "Unsupported");
/* The core cannot point into a header that overruns: message only. */
CASE(get_attr_overruns_message, -EINVAL, NONE, NONE, "leftover");
CASE(get_attr_len_below_header, -EINVAL, NONE, NONE, "leftover");

CASE(barrier_epoch_as_u32, -EINVAL, OFFS(barrier_epoch_as_u32, epoch), NONE, "length");
CASE(barrier_epoch_short, -EINVAL, OFFS(barrier_epoch_short, epoch), NONE, "length");
CASE(barrier_epoch_missing, -EINVAL, NONE, REMUS_A_EPOCH, NULL);
CASE(barrier_selector_missing, -EINVAL, NONE, REMUS_A_IFINDEX, "missing");
CASE(barrier_both_selectors, -EINVAL, OFFS(barrier_both_selectors, name), NONE, "not both");
CASE(barrier_mode_not_taken, -EINVAL, OFFS(barrier_mode_not_taken, mode), NONE, "Unsupported");
CASE(barrier_flags_not_taken, -EINVAL, OFFS(barrier_flags_not_taken, flags), NONE, "Unsupported");
CASE(barrier_not_remus_dev, -ENOENT, OFFS(barrier_not_remus_dev, sel), NONE, "remus");
CASE(barrier_ifindex_zero, -ERANGE, OFFS(barrier_ifindex_zero, sel), NONE, "out of range");

CASE(release_epoch_as_u32, -EINVAL, OFFS(release_epoch_as_u32, epoch), NONE, "length");
CASE(release_epoch_missing, -EINVAL, NONE, REMUS_A_EPOCH, NULL);
CASE(release_limit_not_taken, -EINVAL, OFFS(release_limit_not_taken, lim), NONE, "Unsupported");
CASE(release_absent_dev, -ENODEV, OFFS(release_absent_dev, sel), NONE, "no such interface");

CASE(discard_epoch_not_taken, -EINVAL, OFFS(discard_epoch_not_taken, epoch), NONE, "Unsupported");
CASE(discard_selector_missing, -EINVAL, NONE, REMUS_A_IFINDEX, "missing");
CASE(discard_mode_not_taken, -EINVAL, OFFS(discard_mode_not_taken, mode), NONE, "Unsupported");

CASE(set_nothing_to_set, -EINVAL, NONE, REMUS_A_MODE, "nothing to set");
CASE(set_mode_out_of_range, -ERANGE, OFFS(set_mode_out_of_range, mode), NONE, "out of range");
CASE(set_mode_all_ones, -ERANGE, OFFS(set_mode_all_ones, mode), NONE, "out of range");
CASE(set_mode_as_u64, -EINVAL, OFFS(set_mode_as_u64, mode), NONE, "length");
CASE(set_limit_pkts_zero, -ERANGE, OFFS(set_limit_pkts_zero, lim), NONE, "out of range");
CASE(set_limit_pkts_as_u64, -EINVAL, OFFS(set_limit_pkts_as_u64, lim), NONE, "length");
CASE(set_limit_bytes_zero, -ERANGE, OFFS(set_limit_bytes_zero, lim), NONE, "out of range");
CASE(set_limit_bytes_as_u32, -EINVAL, OFFS(set_limit_bytes_as_u32, lim), NONE, "length");
CASE(set_epoch_not_taken, -EINVAL, OFFS(set_epoch_not_taken, epoch), NONE, "Unsupported");
/* One good, one bad attribute: nothing applied, the bad one named. */
CASE(set_second_bad_limit_named, -ERANGE, OFFS(set_second_bad_limit_named, bytes), NONE,
     "out of range");

CASE(cmd_unknown, -EOPNOTSUPP, NONE, NONE, NULL, .no_msg = true);
CASE(cmd_event_not_requestable, -EOPNOTSUPP, NONE, NONE, NULL, .no_msg = true);
CASE(cmd_unspec, -EOPNOTSUPP, NONE, NONE, NULL, .no_msg = true);
CASE(genl_header_truncated, -EINVAL, NONE, NONE, NULL, .no_msg = true);
CASE(dump_flags_unknown_bit, -EINVAL, OFFS(dump_flags_unknown_bit, flags), NONE, NULL);
CASE(dump_of_barrier, -EOPNOTSUPP, NONE, NONE, NULL, .no_msg = true);

FIXTURE_SETUP(bad)
{
	char why[256] = "";

	ASSERT_EQ(0, api_netns(&self->rt, &self->ifr, &self->ifp, why,
			       sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, nt_genl_open(&self->gn))
		TH_LOG("family \"%s\" not found: is remus.ko loaded?", REMUS_GENL_NAME);
	/* Some state, to see that a refused command changes none of it. */
	ASSERT_EQ(0, nt_barrier(&self->gn, self->ifr, 2, NULL));
	ASSERT_EQ(0, nt_release(&self->gn, self->ifr, 1, NULL));
}

FIXTURE_TEARDOWN(bad)
{
	nt_nl_close(&self->gn);
	nt_nl_close(&self->rt);
}

TEST_F(bad, rejected_with_errno_and_extack)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	int err;

	err = nt_nl_xfer_raw(&self->gn, variant->msg, variant->len,
			     self->gn.family, &ack);
	ASSERT_EQ(variant->err, err)
		TH_LOG("expected errno %d (%s), got %s", -variant->err,
		       strerror(-variant->err), nt_ack_str(&ack));
	if (variant->offs != NONE) {
		EXPECT_TRUE(ack.has_offs)
			TH_LOG("no NLMSGERR_ATTR_OFFS; the bad attribute is at %d", variant->offs);
		EXPECT_EQ(variant->offs, (int)ack.offs)
			TH_LOG("NLMSGERR_ATTR_OFFS %u, the bad attribute is at %d",
			       ack.offs, variant->offs);
	} else {
		EXPECT_FALSE(ack.has_offs)
			TH_LOG("NLMSGERR_ATTR_OFFS %u for a request with no bad attribute", ack.offs);
	}
	if (variant->miss != NONE) {
		EXPECT_TRUE(ack.has_miss_type) TH_LOG("no NLMSGERR_ATTR_MISS_TYPE");
		EXPECT_EQ(variant->miss, (int)ack.miss_type)
			TH_LOG("NLMSGERR_ATTR_MISS_TYPE %u, expected %d", ack.miss_type,
			       variant->miss);
		EXPECT_FALSE(ack.has_miss_nest) TH_LOG("top-level attribute, no nest");
	}
	if (!variant->no_msg) {
		EXPECT_TRUE(ack.has_msg && ack.msg[0])
			TH_LOG("no NLMSGERR_ATTR_MSG: the uapi header promises a message with every rejection");
		if (variant->text)
			EXPECT_TRUE(strstr(ack.msg, variant->text) != NULL)
				TH_LOG("message \"%s\" does not say \"%s\"", ack.msg, variant->text);
	}
	EXPECT_TRUE(ack.capped) TH_LOG("NETLINK_CAP_ACK was set: the request must not be echoed");

	/* A refused request changed nothing. */
	ASSERT_EQ(0, nt_get(&self->gn, self->ifr, NULL, -1, &ni, NULL));
	EXPECT_EQ(2, ni.barrier);
	EXPECT_EQ(1, ni.released);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_PKTS, ni.limit_pkts);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_BYTES, ni.limit_bytes);
	EXPECT_EQ(1, ni.st[REMUS_STATS_A_BARRIERS]);
	EXPECT_EQ(1, ni.st[REMUS_STATS_A_RELEASES]);
}

TEST_HARNESS_MAIN
