// SPDX-License-Identifier: GPL-2.0
/*
 * The `remus` qdisc's semantics, with real traffic: two network
 * namespaces joined by a veth pair, the qdisc at the root of veth0, a UDP
 * sender in the first namespace that tags every datagram with the epoch it
 * was sent in and a global sequence number, and a receiver in the second
 * that checks exactly which datagrams arrive, and in which order, after
 * every barrier and release.
 *
 * The peers have fixed MACs and permanent neighbour entries and IPv6 is
 * off, so that the only packets through the qdisc are the test's own: the
 * counters must then match the traffic exactly.
 *
 * "Nothing arrives" is checked by waiting QUIET_MS; everything else polls.
 */
#include "nettest.h"

#include "kselftest_harness.h"

#define WAIT_MS		5000	/* for datagrams that must arrive */
#define QUIET_MS	150	/* for datagrams that must not */
#define PAYLOAD		64

FIXTURE(q) {
	struct nt_pair p;
	struct nt_nl ev;	/* subscribed to events, in the qdisc's namespace */
};

FIXTURE_SETUP(q)
{
	char why[256] = "";

	ASSERT_EQ(0, nt_pair_setup(&self->p, REMUS_QDISC_KIND, why, sizeof(why)))
		TH_LOG("setup: %s", why);
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &self->ev, true));
	ASSERT_EQ(0, nt_genl_subscribe(&self->ev));
}

FIXTURE_TEARDOWN(q)
{
	nt_nl_close(&self->ev);
	nt_pair_teardown(&self->p);
}

/* ------------------------------------------------------------------ */

static void get(struct __test_metadata *_metadata, struct nt_pair *p,
		struct nt_netinfo *ni, int64_t flags)
{
	struct nt_ack ack;

	ASSERT_EQ(0, nt_get(&p->gn, p->if_a, NULL, flags, ni, &ack))
		TH_LOG("GET: %s", nt_ack_str(&ack));
	ASSERT_STREQ("", ni->bad) TH_LOG("malformed GET reply");
}

static void send_epoch(struct __test_metadata *_metadata, struct nt_pair *p,
		       uint32_t epoch, unsigned int n, size_t payload)
{
	unsigned int dropped = 0;

	ASSERT_EQ(0, nt_pair_send(p, epoch, n, payload, &dropped));
	ASSERT_EQ(0, dropped) TH_LOG("%u of %u datagrams of epoch %u dropped at send",
				     dropped, n, epoch);
}

static void barrier(struct __test_metadata *_metadata, struct nt_pair *p,
		    uint64_t n)
{
	struct nt_ack ack;

	ASSERT_EQ(0, nt_barrier(&p->gn, p->if_a, n, &ack))
		TH_LOG("barrier %llu: %s", (unsigned long long)n, nt_ack_str(&ack));
}

/* Nothing may arrive: everything sent and not yet let out is held. */
static void expect_held(struct __test_metadata *_metadata, struct nt_pair *p,
			const char *when)
{
	unsigned int n = nt_udp_recv(p->rx, p->got, p->cap, 1, QUIET_MS);

	EXPECT_EQ(0, n) TH_LOG("%s: %u datagram(s) arrived while held, first epoch %u seq %u",
			       when, n, n ? p->got[0].epoch : 0, n ? p->got[0].seq : 0);
}

/* Release through n: exactly the datagrams of epochs <= n not yet out arrive. */
static void release_expect(struct __test_metadata *_metadata, struct nt_pair *p,
			   uint64_t n)
{
	struct nt_ack ack;
	unsigned int upto = nt_pair_prefix(p, (uint32_t)n);
	const char *diff;

	ASSERT_EQ(0, nt_release(&p->gn, p->if_a, n, &ack))
		TH_LOG("release %llu: %s", (unsigned long long)n, nt_ack_str(&ack));
	diff = nt_pair_expect(p, upto, WAIT_MS, QUIET_MS);
	ASSERT_EQ(NULL, diff) TH_LOG("after release %llu: %s", (unsigned long long)n, diff);
}

/* Everything that went into the buffer is out, dropped, or still held. */
static void expect_consistent(struct __test_metadata *_metadata,
			      const struct nt_netinfo *ni)
{
	const uint64_t *s = ni->st;

	EXPECT_EQ(s[REMUS_STATS_A_QUEUED_PKTS],
		  s[REMUS_STATS_A_RELEASED_PKTS] + s[REMUS_STATS_A_DISCARDED_PKTS] +
		  s[REMUS_STATS_A_BACKLOG_PKTS])
		TH_LOG("queued %llu != released %llu + discarded %llu + backlog %llu (packets)",
		       (unsigned long long)s[REMUS_STATS_A_QUEUED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_RELEASED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_DISCARDED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_BACKLOG_PKTS]);
	EXPECT_EQ(s[REMUS_STATS_A_QUEUED_BYTES],
		  s[REMUS_STATS_A_RELEASED_BYTES] + s[REMUS_STATS_A_DISCARDED_BYTES] +
		  s[REMUS_STATS_A_BACKLOG_BYTES])
		TH_LOG("queued %llu != released %llu + discarded %llu + backlog %llu (bytes)",
		       (unsigned long long)s[REMUS_STATS_A_QUEUED_BYTES],
		       (unsigned long long)s[REMUS_STATS_A_RELEASED_BYTES],
		       (unsigned long long)s[REMUS_STATS_A_DISCARDED_BYTES],
		       (unsigned long long)s[REMUS_STATS_A_BACKLOG_BYTES]);
}

#define ST(ni, x)	((ni).st[REMUS_STATS_A_##x])
#define L2		NT_L2LEN(PAYLOAD)

/* ------------------------------------------------------------------ */

TEST_F(q, packets_are_held_until_their_epoch_is_released)
{
	struct nt_netinfo ni;

	send_epoch(_metadata, &self->p, 1, 10, PAYLOAD);
	expect_held(_metadata, &self->p, "before any barrier");
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(10, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(10, ST(ni, QUEUED_PKTS));
	EXPECT_EQ(10 * L2, ST(ni, QUEUED_BYTES)) TH_LOG("bytes are layer 2 lengths");
	barrier(_metadata, &self->p, 1);
	expect_held(_metadata, &self->p, "after barrier 1, before release");
	release_expect(_metadata, &self->p, 1);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(0, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(10, ST(ni, RELEASED_PKTS));
	EXPECT_EQ(10 * L2, ST(ni, RELEASED_BYTES));
	expect_consistent(_metadata, &ni);
}

TEST_F(q, release_through_n_lets_out_exactly_epochs_up_to_n_in_order)
{
	struct nt_netinfo ni;

	send_epoch(_metadata, &self->p, 1, 3, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 4, PAYLOAD);
	barrier(_metadata, &self->p, 2);
	send_epoch(_metadata, &self->p, 3, 5, PAYLOAD);
	barrier(_metadata, &self->p, 3);
	send_epoch(_metadata, &self->p, 4, 6, PAYLOAD);	/* open */

	release_expect(_metadata, &self->p, 2);		/* epochs 1 and 2 */
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(11, ST(ni, BACKLOG_PKTS));
	ASSERT_EQ(2, ni.nepochs);
	EXPECT_EQ(3, ni.epochs[0].epoch);
	EXPECT_EQ(5, ni.epochs[0].pkts);
	EXPECT_EQ(4, ni.epochs[1].epoch);
	EXPECT_EQ(6, ni.epochs[1].pkts);

	release_expect(_metadata, &self->p, 3);
	barrier(_metadata, &self->p, 4);
	release_expect(_metadata, &self->p, 4);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(18, ST(ni, RELEASED_PKTS));
	EXPECT_EQ(3, ST(ni, RELEASES));
	expect_consistent(_metadata, &ni);
}

TEST_F(q, repeated_and_stale_releases_are_noops_without_events)
{
	struct nt_netinfo ni, ev;
	struct nt_ack ack;
	char skipped[256];

	send_epoch(_metadata, &self->p, 1, 2, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 2, PAYLOAD);
	barrier(_metadata, &self->p, 2);
	release_expect(_metadata, &self->p, 2);
	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_RELEASED, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_RELEASED event after release 2 (saw: %s)", skipped);
	EXPECT_EQ(2, ev.epoch);

	send_epoch(_metadata, &self->p, 3, 3, PAYLOAD);	/* open epoch 3 */
	EXPECT_EQ(0, nt_release(&self->p.gn, self->p.if_a, 2, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(0, nt_release(&self->p.gn, self->p.if_a, 1, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(0, nt_release(&self->p.gn, self->p.if_a, 0, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	expect_held(_metadata, &self->p, "after no-op releases");
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(2, ni.released);
	EXPECT_EQ(1, ST(ni, RELEASES));
	EXPECT_EQ(3, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(0, nt_event_next(&self->ev, &ev, QUIET_MS))
		TH_LOG("event %s (epoch %llu) after no-op releases",
		       nt_event_name(ev.event), (unsigned long long)ev.epoch);
}

TEST_F(q, release_of_open_epoch_is_refused_and_lets_nothing_out)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	send_epoch(_metadata, &self->p, 1, 3, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 3, PAYLOAD);	/* open */
	EXPECT_EQ(-EINVAL, nt_release(&self->p.gn, self->p.if_a, 2, &ack))
		TH_LOG("release 2 with last barrier 1: %s", nt_ack_str(&ack));
	EXPECT_TRUE(ack.has_msg && ack.has_offs) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(-EINVAL, nt_release(&self->p.gn, self->p.if_a, UINT64_MAX, &ack));
	expect_held(_metadata, &self->p, "after refused releases");
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(6, ST(ni, BACKLOG_PKTS));
	release_expect(_metadata, &self->p, 1);
}

TEST_F(q, barrier_not_above_last_is_refused_and_epoch_stays_open)
{
	struct nt_netinfo ni;
	struct nt_ack ack;

	barrier(_metadata, &self->p, 3);
	send_epoch(_metadata, &self->p, 4, 2, PAYLOAD);
	EXPECT_EQ(-EINVAL, nt_barrier(&self->p.gn, self->p.if_a, 3, &ack));
	EXPECT_TRUE(ack.has_msg && ack.has_offs) TH_LOG("%s", nt_ack_str(&ack));
	EXPECT_EQ(-EINVAL, nt_barrier(&self->p.gn, self->p.if_a, 2, &ack));
	send_epoch(_metadata, &self->p, 4, 2, PAYLOAD);
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(3, ni.barrier);
	ASSERT_EQ(1, ni.nepochs) TH_LOG("refused barriers must not split the open epoch");
	EXPECT_EQ(4, ni.epochs[0].epoch);
	EXPECT_EQ(4, ni.epochs[0].pkts);
	expect_held(_metadata, &self->p, "open epoch 4");
	barrier(_metadata, &self->p, 4);
	release_expect(_metadata, &self->p, 4);
}

TEST_F(q, barrier_numbers_may_skip_and_release_between_them_is_exact)
{
	struct nt_netinfo ni;

	send_epoch(_metadata, &self->p, 1, 3, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 5, 4, PAYLOAD);	/* belongs to epoch 2..5: tagged 5 */
	barrier(_metadata, &self->p, 5);
	send_epoch(_metadata, &self->p, 6, 2, PAYLOAD);	/* open epoch 6 */
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	ASSERT_EQ(3, ni.nepochs);
	EXPECT_EQ(1, ni.epochs[0].epoch);
	EXPECT_EQ(5, ni.epochs[1].epoch) TH_LOG("output after barrier 1 belongs to the epoch barrier 5 closed");
	EXPECT_EQ(6, ni.epochs[2].epoch);
	/* release 3 <= B = 5 is legal: it lets out epoch 1, nothing of epoch 5 */
	release_expect(_metadata, &self->p, 3);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(3, ni.released);
	release_expect(_metadata, &self->p, 5);
	expect_held(_metadata, &self->p, "open epoch 6");
}

TEST_F(q, three_pipelined_epochs_each_release_lets_out_only_that_epoch)
{
	struct nt_netinfo ni;

	send_epoch(_metadata, &self->p, 1, 4, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 5, PAYLOAD);
	barrier(_metadata, &self->p, 2);
	send_epoch(_metadata, &self->p, 3, 6, PAYLOAD);
	barrier(_metadata, &self->p, 3);
	send_epoch(_metadata, &self->p, 4, 2, PAYLOAD);	/* open */
	expect_held(_metadata, &self->p, "three closed epochs, none released");

	release_expect(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 2);
	release_expect(_metadata, &self->p, 3);
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	ASSERT_EQ(1, ni.nepochs);
	EXPECT_EQ(4, ni.epochs[0].epoch);
	EXPECT_EQ(2, ni.epochs[0].pkts);
	EXPECT_EQ(15, ST(ni, RELEASED_PKTS));
	expect_consistent(_metadata, &ni);
}

TEST_F(q, discard_drops_everything_held_and_counts_it)
{
	struct nt_netinfo ni;
	struct nt_qdisc qd;
	struct nt_ack ack;

	send_epoch(_metadata, &self->p, 1, 5, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 3, PAYLOAD);
	ASSERT_EQ(0, nt_discard(&self->p.gn, self->p.if_a, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	expect_held(_metadata, &self->p, "after discard");
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(0, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(0, ST(ni, BACKLOG_BYTES));
	EXPECT_EQ(8, ST(ni, DISCARDED_PKTS));
	EXPECT_EQ(8 * L2, ST(ni, DISCARDED_BYTES));
	EXPECT_EQ(0, ni.nepochs);
	EXPECT_EQ(1, ni.barrier);
	EXPECT_EQ(0, ni.released);
	expect_consistent(_metadata, &ni);
	ASSERT_EQ(0, nt_qdisc_get(&self->p.rt_a, self->p.if_a, &qd));
	EXPECT_EQ(0, qd.q.qlen);
	EXPECT_EQ(0, qd.q.backlog);
	EXPECT_EQ(8, qd.q.drops) TH_LOG("tc's drop counter");

	/* The dropped ones are gone: releasing their epoch lets out nothing. */
	self->p.nreleased = self->p.nsent;
	ASSERT_EQ(0, nt_release(&self->p.gn, self->p.if_a, 1, &ack));
	expect_held(_metadata, &self->p, "release 1 after discard");
	/* New output still buffers, in the open epoch 2. */
	send_epoch(_metadata, &self->p, 2, 2, PAYLOAD);
	expect_held(_metadata, &self->p, "new output after discard");
	barrier(_metadata, &self->p, 2);
	release_expect(_metadata, &self->p, 2);
	get(_metadata, &self->p, &ni, -1);
	expect_consistent(_metadata, &ni);
}

TEST_F(q, passthrough_lets_held_packets_out_and_new_ones_pass)
{
	struct nt_netinfo ni;
	struct nt_qdisc qd;
	struct nt_ack ack;
	const char *diff;

	send_epoch(_metadata, &self->p, 1, 5, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 2, PAYLOAD);
	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, REMUS_MODE_PASSTHROUGH, -1, -1, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	diff = nt_pair_expect(&self->p, self->p.nsent, WAIT_MS, QUIET_MS);
	ASSERT_EQ(NULL, diff) TH_LOG("switch to pass-through: %s", diff);
	send_epoch(_metadata, &self->p, 2, 3, PAYLOAD);
	diff = nt_pair_expect(&self->p, self->p.nsent, WAIT_MS, 0);
	ASSERT_EQ(NULL, diff) TH_LOG("in pass-through: %s", diff);

	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(REMUS_MODE_PASSTHROUGH, ni.mode);
	EXPECT_EQ(0, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(7, ST(ni, QUEUED_PKTS));
	/*
	 * 10 left: the 7 that were buffered, let out by the switch, and the
	 * 3 sent in pass-through. Each must be counted once as gone out, and
	 * what was queued must still add up (expect_consistent below).
	 */
	EXPECT_EQ(10, ST(ni, RELEASED_PKTS) + ST(ni, PASSED_PKTS))
		TH_LOG("10 packets left, RELEASED_PKTS %llu + PASSED_PKTS %llu",
		       (unsigned long long)ST(ni, RELEASED_PKTS),
		       (unsigned long long)ST(ni, PASSED_PKTS));
	EXPECT_EQ(10 * L2, ST(ni, RELEASED_BYTES) + ST(ni, PASSED_BYTES));
	expect_consistent(_metadata, &ni);
	/* tc agrees on what left, and so do the xstats */
	ASSERT_EQ(0, nt_qdisc_get(&self->p.rt_a, self->p.if_a, &qd));
	EXPECT_EQ(10, qd.packets);
	ASSERT_TRUE(qd.has_app);
	EXPECT_EQ(10, qd.app.remus.released_pkts + qd.app.remus.passed_pkts)
		TH_LOG("xstats released_pkts %llu + passed_pkts %llu, tc says 10 were sent",
		       (unsigned long long)qd.app.remus.released_pkts,
		       (unsigned long long)qd.app.remus.passed_pkts);
}

TEST_F(q, buffering_again_after_passthrough_holds_new_output)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	const char *diff;

	barrier(_metadata, &self->p, 1);
	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, REMUS_MODE_PASSTHROUGH, -1, -1, &ack));
	send_epoch(_metadata, &self->p, 2, 2, PAYLOAD);
	diff = nt_pair_expect(&self->p, self->p.nsent, WAIT_MS, 0);
	ASSERT_EQ(NULL, diff) TH_LOG("pass-through: %s", diff);
	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, REMUS_MODE_BUFFER, -1, -1, &ack));
	send_epoch(_metadata, &self->p, 2, 3, PAYLOAD);
	expect_held(_metadata, &self->p, "back in buffer mode");
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	ASSERT_EQ(1, ni.nepochs);
	EXPECT_EQ(2, ni.epochs[0].epoch) TH_LOG("new output belongs to the open epoch B + 1");
	EXPECT_EQ(3, ni.epochs[0].pkts);
	EXPECT_EQ(-EINVAL, nt_release(&self->p.gn, self->p.if_a, 2, NULL));
	barrier(_metadata, &self->p, 2);
	release_expect(_metadata, &self->p, 2);
}

TEST_F(q, packet_limit_overflow_is_dropped_counted_and_evented_once_per_epoch)
{
	struct nt_netinfo ni, ev;
	struct nt_qdisc qd;
	struct nt_ack ack;
	unsigned int dropped = 0;
	char skipped[256];

	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, -1, 4, -1, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_pair_send(&self->p, 1, 6, PAYLOAD, &dropped));
	EXPECT_EQ(2, dropped) TH_LOG("limit 4, sent 6: the sender saw %u ENOBUFS", dropped);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(4, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(2, ST(ni, OVERLIMIT_PKTS));
	EXPECT_EQ(2 * L2, ST(ni, OVERLIMIT_BYTES));
	ASSERT_EQ(0, nt_qdisc_get(&self->p.rt_a, self->p.if_a, &qd));
	EXPECT_EQ(2, qd.q.drops);
	EXPECT_EQ(2, qd.q.overlimits);
	EXPECT_EQ(2, qd.app.remus.overlimit_pkts);

	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_OVERLIMIT, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_OVERLIMIT event (saw: %s)", skipped);
	EXPECT_STREQ("", ev.bad);
	EXPECT_EQ(1, ev.epoch) TH_LOG("the open epoch");
	EXPECT_EQ(self->p.if_a, ev.ifindex);
	EXPECT_STREQ(NT_IF_A, ev.ifname);
	EXPECT_TRUE(ev.seen & NT_SEEN(REMUS_A_STATS));
	EXPECT_LE(1, ev.st[REMUS_STATS_A_OVERLIMIT_PKTS]);
	EXPECT_EQ(4, ev.st[REMUS_STATS_A_BACKLOG_PKTS]);
	EXPECT_EQ(0, nt_event_wait(&self->ev, REMUS_EVENT_NET_OVERLIMIT, &ev, QUIET_MS, NULL, 0))
		TH_LOG("a second OVERLIMIT event in epoch 1");

	/* A new epoch, still full: one more event, for epoch 2. */
	barrier(_metadata, &self->p, 1);
	dropped = 0;
	ASSERT_EQ(0, nt_pair_send(&self->p, 2, 3, PAYLOAD, &dropped));
	EXPECT_EQ(3, dropped);
	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_OVERLIMIT, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_OVERLIMIT event in epoch 2 (saw: %s)", skipped);
	EXPECT_EQ(2, ev.epoch);

	/* Room again after a release; what was accepted goes out whole. */
	release_expect(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 4, PAYLOAD);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(5, ST(ni, OVERLIMIT_PKTS));
	expect_consistent(_metadata, &ni);
}

TEST_F(q, byte_limit_overflow_is_dropped_and_counted)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	unsigned int dropped = 0;

	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, -1, -1, 3 * NT_L2LEN(200), &ack));
	ASSERT_EQ(0, nt_pair_send(&self->p, 1, 5, 200, &dropped));
	EXPECT_EQ(2, dropped);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(3, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(3 * NT_L2LEN(200), ST(ni, BACKLOG_BYTES));
	EXPECT_EQ(2, ST(ni, OVERLIMIT_PKTS));
	EXPECT_EQ(2 * NT_L2LEN(200), ST(ni, OVERLIMIT_BYTES));
	barrier(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 1);
}

TEST_F(q, lowering_limit_below_backlog_drops_nothing_and_refuses_new)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	unsigned int dropped = 0;

	send_epoch(_metadata, &self->p, 1, 10, PAYLOAD);
	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, -1, 5, -1, &ack));
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(10, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(0, ST(ni, DISCARDED_PKTS));
	ASSERT_EQ(0, nt_pair_send(&self->p, 1, 1, PAYLOAD, &dropped));
	EXPECT_EQ(1, dropped);
	barrier(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 5, PAYLOAD);
}

TEST_F(q, get_reply_and_per_epoch_backlog_match_what_was_sent)
{
	struct nt_netinfo ni;

	send_epoch(_metadata, &self->p, 1, 3, 100);
	barrier(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 2, 500);
	barrier(_metadata, &self->p, 2);
	send_epoch(_metadata, &self->p, 3, 4, 64);

	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(self->p.if_a, ni.ifindex);
	EXPECT_STREQ(NT_IF_A, ni.ifname);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	EXPECT_EQ(2, ni.barrier);
	EXPECT_EQ(0, ni.released);
	EXPECT_EQ(9, ST(ni, BACKLOG_PKTS));
	EXPECT_EQ(3 * NT_L2LEN(100) + 2 * NT_L2LEN(500) + 4 * NT_L2LEN(64), ST(ni, BACKLOG_BYTES));
	EXPECT_EQ(9, ST(ni, QUEUED_PKTS));
	EXPECT_EQ(2, ST(ni, BARRIERS));
	ASSERT_EQ(3, ni.nepochs);
	EXPECT_EQ(1, ni.epochs[0].epoch);
	EXPECT_EQ(3, ni.epochs[0].pkts);
	EXPECT_EQ(3 * NT_L2LEN(100), ni.epochs[0].bytes);
	EXPECT_EQ(2, ni.epochs[1].epoch);
	EXPECT_EQ(2, ni.epochs[1].pkts);
	EXPECT_EQ(2 * NT_L2LEN(500), ni.epochs[1].bytes);
	EXPECT_EQ(3, ni.epochs[2].epoch);
	EXPECT_EQ(4, ni.epochs[2].pkts);
	EXPECT_EQ(4 * NT_L2LEN(64), ni.epochs[2].bytes);

	release_expect(_metadata, &self->p, 1);
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(1, ni.released);
	EXPECT_EQ(3, ST(ni, RELEASED_PKTS));
	EXPECT_EQ(3 * NT_L2LEN(100), ST(ni, RELEASED_BYTES));
	ASSERT_EQ(2, ni.nepochs);
	EXPECT_EQ(2, ni.epochs[0].epoch);
	expect_consistent(_metadata, &ni);
}

TEST_F(q, epoch_list_is_capped_at_epochs_max_oldest_first)
{
	struct nt_netinfo ni;
	unsigned int i, n = REMUS_EPOCHS_MAX + 6;

	for (i = 1; i <= n; i++) {
		send_epoch(_metadata, &self->p, i, 1, PAYLOAD);
		barrier(_metadata, &self->p, i);
	}
	get(_metadata, &self->p, &ni, REMUS_F_EPOCHS);
	EXPECT_EQ(n, ST(ni, BACKLOG_PKTS)) TH_LOG("the totals hold every epoch");
	ASSERT_EQ(REMUS_EPOCHS_MAX, ni.nepochs);
	for (i = 0; i < ni.nepochs; i++)
		EXPECT_EQ(i + 1, ni.epochs[i].epoch);
	release_expect(_metadata, &self->p, n);
}

TEST_F(q, barrier_at_u64_max_keeps_the_open_epoch_held)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	int err;

	/*
	 * B = 2^64 - 1 makes the open epoch B + 1 wrap to 0. Either the
	 * module refuses such a barrier, or what follows it stays held.
	 */
	err = nt_barrier(&self->p.gn, self->p.if_a, UINT64_MAX, &ack);
	if (err) {
		EXPECT_TRUE(ack.has_msg && ack.has_offs) TH_LOG("%s", nt_ack_str(&ack));
		return;
	}
	send_epoch(_metadata, &self->p, 0, 3, PAYLOAD);
	expect_held(_metadata, &self->p, "output after barrier 2^64-1 (open epoch wraps to 0)");
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(3, ST(ni, BACKLOG_PKTS));
}

TEST_F(q, tc_s_qdisc_show_reports_the_qdisc_and_its_counters)
{
	char out[4096], want[128];
	char *argv[] = { (char *)nt_tc_path(), "-s", "qdisc", "show", "dev", NT_IF_A, NULL };
	struct nt_qdisc qd;
	struct nt_ack ack;
	unsigned int dropped = 0;
	int rc;

	send_epoch(_metadata, &self->p, 1, 5, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 1);
	send_epoch(_metadata, &self->p, 2, 3, PAYLOAD);		/* held */
	ASSERT_EQ(0, nt_set(&self->p.gn, self->p.if_a, -1, 3, -1, &ack));
	ASSERT_EQ(0, nt_pair_send(&self->p, 2, 1, PAYLOAD, &dropped));	/* over */
	ASSERT_EQ(1, dropped);

	rc = nt_run(self->p.ns_a, argv, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("tc -s qdisc show: status %d: %s", rc, out);
	EXPECT_TRUE(strstr(out, "qdisc remus ") != NULL) TH_LOG("tc output:\n%s", out);
	snprintf(want, sizeof(want), "Sent %u bytes 5 pkt (dropped 1, overlimits 1 ", 5 * L2);
	EXPECT_TRUE(strstr(out, want) != NULL) TH_LOG("wanted \"%s\" in:\n%s", want, out);
	snprintf(want, sizeof(want), "backlog %ub 3p", 3 * L2);
	EXPECT_TRUE(strstr(out, want) != NULL) TH_LOG("wanted \"%s\" in:\n%s", want, out);

	/* The xstats, which tc prints only with a q_remus.so: read them raw. */
	ASSERT_EQ(0, nt_qdisc_get(&self->p.rt_a, self->p.if_a, &qd));
	ASSERT_TRUE(qd.has_app) TH_LOG("no TCA_STATS_APP");
	ASSERT_EQ(sizeof(struct tc_remus_xstats), qd.app_len);
	EXPECT_EQ(1, qd.app.remus.barrier);
	EXPECT_EQ(1, qd.app.remus.released);
	EXPECT_EQ(5, qd.app.remus.released_pkts);
	EXPECT_EQ(1, qd.app.remus.overlimit_pkts);
	EXPECT_EQ(0, qd.app.remus.discarded_pkts);
	EXPECT_EQ(0, qd.app.remus.passed_pkts);
	EXPECT_EQ(1, qd.app.remus.epochs_held);
	EXPECT_EQ(REMUS_MODE_BUFFER, qd.app.remus.mode);
	EXPECT_TRUE(qd.has_xstats && qd.xstats_len == qd.app_len &&
		    !memcmp(qd.xstats, qd.app.raw, qd.app_len))
		TH_LOG("TCA_XSTATS must be the same struct as TCA_STATS_APP");
	EXPECT_EQ(3, qd.q.qlen);
	EXPECT_EQ(3 * L2, qd.q.backlog);
	EXPECT_EQ(5, qd.packets);
	EXPECT_EQ(5 * L2, qd.bytes);
	/* and the options */
	EXPECT_EQ(3, qd.opt_limit_pkts);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_BYTES, qd.opt_limit_bytes);
	EXPECT_EQ(1, qd.opt_barrier);
	EXPECT_EQ(1, qd.opt_released);
}

/* ------------------------------------------------------------------ */
/* a pair without a qdisc: the qdisc is added by the test              */
/* ------------------------------------------------------------------ */

FIXTURE(bare) {
	struct nt_pair p;
	struct nt_nl ev;
};

FIXTURE_SETUP(bare)
{
	char why[256] = "";

	ASSERT_EQ(0, nt_pair_setup(&self->p, NULL, why, sizeof(why)))
		TH_LOG("setup: %s", why);
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &self->ev, true));
	ASSERT_EQ(0, nt_genl_subscribe(&self->ev));
}

FIXTURE_TEARDOWN(bare)
{
	nt_nl_close(&self->ev);
	nt_pair_teardown(&self->p);
}

TEST_F(bare, tc_qdisc_add_root_remus_without_options_buffers)
{
	char out[1024];
	char *argv[] = { (char *)nt_tc_path(), "qdisc", "add", "dev", NT_IF_A, "root",
			 REMUS_QDISC_KIND, NULL };
	struct nt_netinfo ni;
	int rc;

	rc = nt_run(self->p.ns_a, argv, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("tc qdisc add dev %s root remus: status %d: %s", NT_IF_A, rc, out);
	get(_metadata, &self->p, &ni, -1);
	EXPECT_EQ(REMUS_MODE_BUFFER, ni.mode);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_PKTS, ni.limit_pkts);
	EXPECT_EQ(REMUS_DEFAULT_LIMIT_BYTES, ni.limit_bytes);
	send_epoch(_metadata, &self->p, 1, 3, PAYLOAD);
	expect_held(_metadata, &self->p, "fresh qdisc from tc");
	barrier(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 1);
}

TEST_F(bare, events_created_released_destroyed_stay_in_their_namespace)
{
	struct nt_netinfo ev;
	struct nt_nl other;
	struct nt_ack ack;
	char skipped[256];

	/* A listener in the other namespace must hear nothing. */
	ASSERT_EQ(0, nt_open_in(self->p.ns_b, &other, true));
	ASSERT_EQ(0, nt_genl_subscribe(&other));

	ASSERT_EQ(0, nt_qdisc_add(&self->p.rt_a, self->p.if_a, REMUS_QDISC_KIND, &ack))
		TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(1, nt_event_next(&self->ev, &ev, WAIT_MS)) TH_LOG("no event after qdisc add");
	EXPECT_EQ(REMUS_EVENT_NET_CREATED, ev.event) TH_LOG("got %s", nt_event_name(ev.event));
	EXPECT_EQ(self->p.if_a, ev.ifindex);
	EXPECT_STREQ(NT_IF_A, ev.ifname);
	EXPECT_STREQ("", ev.bad);

	send_epoch(_metadata, &self->p, 1, 2, PAYLOAD);
	barrier(_metadata, &self->p, 1);
	release_expect(_metadata, &self->p, 1);
	ASSERT_EQ(1, nt_event_next(&self->ev, &ev, WAIT_MS)) TH_LOG("no event after release 1");
	EXPECT_EQ(REMUS_EVENT_NET_RELEASED, ev.event) TH_LOG("got %s", nt_event_name(ev.event));
	EXPECT_EQ(1, ev.epoch);
	EXPECT_EQ(self->p.if_a, ev.ifindex);
	/* barriers raise no event */
	barrier(_metadata, &self->p, 2);
	ASSERT_EQ(0, nt_qdisc_del(&self->p.rt_a, self->p.if_a, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_DESTROYED, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_DESTROYED after qdisc del (saw: %s)", skipped);
	EXPECT_STREQ("", skipped) TH_LOG("events before NET_DESTROYED");
	EXPECT_EQ(self->p.if_a, ev.ifindex);
	EXPECT_STREQ(NT_IF_A, ev.ifname);

	EXPECT_EQ(0, nt_event_next(&other, &ev, QUIET_MS))
		TH_LOG("a listener in another namespace got %s", nt_event_name(ev.event));
	nt_nl_close(&other);
}

TEST_HARNESS_MAIN
