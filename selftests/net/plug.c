// SPDX-License-Identifier: GPL-2.0
/*
 * The fallback when remus.ko is not loaded: mainline sch_plug, driven the
 * way `tc qdisc change dev X root plug block|release|release_indefinite`
 * drives it. Same traffic and checks as qdisc.c. It shows that the fallback
 * holds and releases output, and pins down its one limit: sch_plug keeps
 * the size of one closed epoch only, so a second "block" before the
 * "release" loses the first epoch's boundary. A client of the fallback
 * must therefore keep at most one epoch in flight (pipeline depth 1).
 */
#include "nettest.h"

#include "kselftest_harness.h"

#define WAIT_MS		5000
#define QUIET_MS	150
#define PAYLOAD		64

FIXTURE(plug) {
	struct nt_pair p;
};

FIXTURE_SETUP(plug)
{
	char why[256] = "";

	ASSERT_EQ(0, nt_pair_setup(&self->p, "plug", why, sizeof(why)))
		TH_LOG("setup: %s", why);
}

FIXTURE_TEARDOWN(plug)
{
	nt_pair_teardown(&self->p);
}

static void plug_cmd(struct __test_metadata *_metadata, struct nt_pair *p,
		     int action, const char *name)
{
	struct nt_ack ack;

	ASSERT_EQ(0, nt_plug(&p->rt_a, p->if_a, action, 0, &ack))
		TH_LOG("plug %s: %s", name, nt_ack_str(&ack));
}

static void send_n(struct __test_metadata *_metadata, struct nt_pair *p,
		   uint32_t epoch, unsigned int n)
{
	unsigned int dropped = 0;

	ASSERT_EQ(0, nt_pair_send(p, epoch, n, PAYLOAD, &dropped));
	ASSERT_EQ(0, dropped);
}

static void expect_held(struct __test_metadata *_metadata, struct nt_pair *p,
			const char *when)
{
	unsigned int n = nt_udp_recv(p->rx, p->got, p->cap, 1, QUIET_MS);

	EXPECT_EQ(0, n) TH_LOG("%s: %u datagram(s) arrived while held, first epoch %u seq %u",
			       when, n, n ? p->got[0].epoch : 0, n ? p->got[0].seq : 0);
}

static void expect_out(struct __test_metadata *_metadata, struct nt_pair *p,
		       unsigned int upto, const char *when)
{
	const char *diff = nt_pair_expect(p, upto, WAIT_MS, QUIET_MS);

	ASSERT_EQ(NULL, diff) TH_LOG("%s: %s", when, diff);
}

TEST_F(plug, fresh_plug_holds_everything_until_block_then_release_with_tc)
{
	char out[512];
	char *block[] = { (char *)nt_tc_path(), "qdisc", "change", "dev", NT_IF_A, "root",
			  "plug", "block", NULL };
	char *release[] = { (char *)nt_tc_path(), "qdisc", "change", "dev", NT_IF_A, "root",
			    "plug", "release", NULL };
	int rc;

	send_n(_metadata, &self->p, 1, 5);
	expect_held(_metadata, &self->p, "fresh plug");
	/* release alone lets out nothing: no epoch was closed */
	rc = nt_run(self->p.ns_a, release, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("tc ... plug release: %d: %s", rc, out);
	expect_held(_metadata, &self->p, "release without block");
	rc = nt_run(self->p.ns_a, block, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("tc ... plug block: %d: %s", rc, out);
	expect_held(_metadata, &self->p, "after block");
	rc = nt_run(self->p.ns_a, release, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("tc ... plug release: %d: %s", rc, out);
	expect_out(_metadata, &self->p, self->p.nsent, "block then release");
}

TEST_F(plug, one_epoch_in_flight_released_exactly_like_remus)
{
	/* barrier e == block, release through e == release (one at a time) */
	send_n(_metadata, &self->p, 1, 4);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");	/* closes epoch 1 */
	send_n(_metadata, &self->p, 2, 3);
	expect_held(_metadata, &self->p, "epoch 1 closed, not released");
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_ONE, "release");
	expect_out(_metadata, &self->p, nt_pair_prefix(&self->p, 1), "release of epoch 1");
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");	/* closes epoch 2 */
	send_n(_metadata, &self->p, 3, 2);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_ONE, "release");
	expect_out(_metadata, &self->p, nt_pair_prefix(&self->p, 2), "release of epoch 2");
	expect_held(_metadata, &self->p, "open epoch 3");
}

TEST_F(plug, two_closed_epochs_lose_the_first_boundary_which_limits_the_fallback_to_depth_1)
{
	unsigned int i;

	send_n(_metadata, &self->p, 1, 4);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");	/* epoch 1: 4 */
	send_n(_metadata, &self->p, 2, 2);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");	/* epoch 2: 2, epoch 1's 4 forgotten */
	send_n(_metadata, &self->p, 3, 1);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_ONE, "release");
	/*
	 * remus would let out epoch 1 (4 datagrams) on "release through 1".
	 * sch_plug lets out as many as the last closed epoch had (2), from
	 * the head: the first half of epoch 1. That is the documented limit.
	 */
	i = nt_udp_recv(self->p.rx, self->p.got, self->p.cap, 3, 1000);
	ASSERT_EQ(2, i) TH_LOG("sch_plug let out %u datagrams; its known behaviour is 2", i);
	EXPECT_EQ(1, self->p.got[0].epoch);
	EXPECT_EQ(1, self->p.got[1].epoch);
	/* and a second release lets out nothing more */
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_ONE, "release");
	EXPECT_EQ(0, nt_udp_recv(self->p.rx, self->p.got, self->p.cap, 1, QUIET_MS));
	TH_LOG("documented: with sch_plug, at most one closed epoch may be in flight");
}

TEST_F(plug, release_indefinite_passes_held_and_new_output_like_passthrough)
{
	send_n(_metadata, &self->p, 1, 3);
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_INDEFINITE, "release_indefinite");
	expect_out(_metadata, &self->p, self->p.nsent, "release_indefinite");
	send_n(_metadata, &self->p, 1, 2);
	expect_out(_metadata, &self->p, self->p.nsent, "after release_indefinite");
	/* block holds again */
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");
	send_n(_metadata, &self->p, 2, 2);
	expect_held(_metadata, &self->p, "block after release_indefinite");
	plug_cmd(_metadata, &self->p, TCQ_PLUG_BUFFER, "block");
	plug_cmd(_metadata, &self->p, TCQ_PLUG_RELEASE_ONE, "release");
	expect_out(_metadata, &self->p, self->p.nsent, "block, block, release");
}

TEST_HARNESS_MAIN
