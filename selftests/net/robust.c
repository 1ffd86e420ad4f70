// SPDX-License-Identifier: GPL-2.0
/*
 * The remus qdisc when things go away under it, and under concurrency:
 * the interface deleted, taken down, its qdisc replaced, its namespace
 * deleted while packets are held; barrier and release hammered from two
 * threads (each with its own netlink socket) while a third sends and a
 * fourth reads the state. The runner fails a test whose run left a WARN,
 * BUG or oops in the kernel log; the tests check that the counters add up
 * and that every reference is given back (the module's reference count).
 * Unloading the module is unload.c.
 */
#include "nettest.h"
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"

#define WAIT_MS		5000
#define QUIET_MS	150
#define PAYLOAD		64
#define HAMMER_SECS	4

/* Poll until the module's reference count is at most `want`. */
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

FIXTURE(r) {
	struct nt_pair p;
	struct nt_nl ev;
	long refcnt0;		/* before this test's qdisc existed */
};

FIXTURE_SETUP(r)
{
	char why[256] = "";

	self->refcnt0 = nt_module_refcnt();
	ASSERT_LE(0, self->refcnt0) TH_LOG("remus.ko not loaded");
	ASSERT_EQ(0, nt_pair_setup(&self->p, REMUS_QDISC_KIND, why, sizeof(why)))
		TH_LOG("setup: %s", why);
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &self->ev, true));
	ASSERT_EQ(0, nt_genl_subscribe(&self->ev));
	ASSERT_LT(self->refcnt0, nt_module_refcnt()) TH_LOG("a remus qdisc must pin the module");
}

FIXTURE_TEARDOWN(r)
{
	nt_nl_close(&self->ev);
	nt_pair_teardown(&self->p);
}

static void send_held(struct __test_metadata *_metadata, struct nt_pair *p,
		      uint32_t epoch, unsigned int n)
{
	unsigned int dropped = 0;

	ASSERT_EQ(0, nt_pair_send(p, epoch, n, PAYLOAD, &dropped));
	ASSERT_EQ(0, dropped);
}

static void expect_consistent(struct __test_metadata *_metadata, const uint64_t *s)
{
	EXPECT_EQ(s[REMUS_STATS_A_QUEUED_PKTS],
		  s[REMUS_STATS_A_RELEASED_PKTS] + s[REMUS_STATS_A_DISCARDED_PKTS] +
		  s[REMUS_STATS_A_BACKLOG_PKTS])
		TH_LOG("queued %llu != released %llu + discarded %llu + backlog %llu",
		       (unsigned long long)s[REMUS_STATS_A_QUEUED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_RELEASED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_DISCARDED_PKTS],
		       (unsigned long long)s[REMUS_STATS_A_BACKLOG_PKTS]);
	EXPECT_EQ(s[REMUS_STATS_A_QUEUED_BYTES],
		  s[REMUS_STATS_A_RELEASED_BYTES] + s[REMUS_STATS_A_DISCARDED_BYTES] +
		  s[REMUS_STATS_A_BACKLOG_BYTES]);
}

TEST_F(r, interface_deleted_while_buffering_frees_held_packets)
{
	struct nt_netinfo ni, ev;
	struct nt_ack ack;
	char skipped[256];
	long rc;

	send_held(_metadata, &self->p, 1, 12);
	ASSERT_EQ(0, nt_barrier(&self->p.gn, self->p.if_a, 1, NULL));
	send_held(_metadata, &self->p, 2, 8);
	ASSERT_EQ(0, nt_link_del(&self->p.rt_a, self->p.if_a, &ack)) TH_LOG("%s", nt_ack_str(&ack));

	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_DESTROYED, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_DESTROYED after the interface went (saw: %s)", skipped);
	EXPECT_STREQ("", ev.bad);
	EXPECT_EQ(self->p.if_a, ev.ifindex);
	EXPECT_EQ(20, ev.st[REMUS_STATS_A_DISCARDED_PKTS])
		TH_LOG("held packets freed with the interface count as discarded");
	EXPECT_EQ(0, ev.st[REMUS_STATS_A_BACKLOG_PKTS]);
	expect_consistent(_metadata, ev.st);

	EXPECT_EQ(-ENODEV, nt_get(&self->p.gn, self->p.if_a, NULL, -1, &ni, &ack));
	EXPECT_EQ(0, nt_dump(&self->p.gn, -1, &ni, 1, &ack));
	EXPECT_EQ(0, nt_udp_recv(self->p.rx, self->p.got, 16, 1, QUIET_MS))
		TH_LOG("held packets must not leak out when their interface goes");
	rc = wait_refcnt_at_most(self->refcnt0, WAIT_MS);
	EXPECT_GE(self->refcnt0, rc) TH_LOG("module refcount %ld, was %ld before the qdisc", rc,
					     self->refcnt0);
	self->p.if_a = 0;
}

TEST_F(r, link_down_while_buffering_drops_held_and_buffers_again_when_up)
{
	struct nt_netinfo ni;
	struct nt_ack ack;
	const char *diff;

	send_held(_metadata, &self->p, 1, 10);
	ASSERT_EQ(0, nt_barrier(&self->p.gn, self->p.if_a, 1, NULL));
	ASSERT_EQ(0, nt_link_set_up(&self->p.rt_a, self->p.if_a, false, &ack));
	ASSERT_EQ(0, nt_get(&self->p.gn, self->p.if_a, NULL, -1, &ni, &ack))
		TH_LOG("GET while the link is down: %s", nt_ack_str(&ack));
	EXPECT_EQ(0, ni.st[REMUS_STATS_A_BACKLOG_PKTS]);
	EXPECT_EQ(10, ni.st[REMUS_STATS_A_DISCARDED_PKTS]);
	expect_consistent(_metadata, ni.st);
	EXPECT_EQ(1, ni.barrier) TH_LOG("epochs survive the link going down");

	ASSERT_EQ(0, nt_link_set_up(&self->p.rt_a, self->p.if_a, true, &ack));
	ASSERT_EQ(0, nt_link_wait_up(&self->p.rt_a, self->p.if_a, WAIT_MS));
	/* Going down flushed even the permanent neighbour: ARP must not be held. */
	ASSERT_EQ(0, nt_neigh_add(&self->p.rt_a, self->p.if_a, AF_INET, NT_ADDR_B, nt_mac_b, &ack));
	self->p.nreleased = self->p.nsent;	/* those are gone */
	send_held(_metadata, &self->p, 2, 4);
	EXPECT_EQ(0, nt_udp_recv(self->p.rx, self->p.got, 16, 1, QUIET_MS));
	ASSERT_EQ(0, nt_barrier(&self->p.gn, self->p.if_a, 2, NULL));
	ASSERT_EQ(0, nt_release(&self->p.gn, self->p.if_a, 2, NULL));
	diff = nt_pair_expect(&self->p, self->p.nsent, WAIT_MS, QUIET_MS);
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
}

TEST_F(r, qdisc_replaced_while_buffering_is_destroyed_cleanly)
{
	struct nt_netinfo ev;
	struct nt_ack ack;
	char skipped[256];
	const char *diff;
	long rc;

	send_held(_metadata, &self->p, 1, 7);
	ASSERT_EQ(0, nt_qdisc_msg(&self->p.rt_a, self->p.if_a, "pfifo",
				  NLM_F_CREATE | NLM_F_REPLACE, NULL, 0, &ack))
		TH_LOG("replace with pfifo: %s", nt_ack_str(&ack));
	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_DESTROYED, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_DESTROYED after replace (saw: %s)", skipped);
	EXPECT_EQ(7, ev.st[REMUS_STATS_A_DISCARDED_PKTS]);
	expect_consistent(_metadata, ev.st);
	/* pfifo lets everything through now, the 7 are gone */
	self->p.nreleased = self->p.nsent;
	send_held(_metadata, &self->p, 1, 3);
	diff = nt_pair_expect(&self->p, self->p.nsent, WAIT_MS, QUIET_MS);
	EXPECT_EQ(NULL, diff) TH_LOG("through pfifo: %s", diff);
	EXPECT_EQ(-ENOENT, nt_get(&self->p.gn, self->p.if_a, NULL, -1, NULL, &ack));
	rc = wait_refcnt_at_most(self->refcnt0, WAIT_MS);
	EXPECT_GE(self->refcnt0, rc);
}

TEST_F(r, interface_moved_to_another_namespace_while_buffering_drops_the_buffer)
{
	struct nt_netinfo ni, ev;
	struct nt_ack ack;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	char skipped[256];
	int ns_c;
	long rc;

	/* A namespace move shuts the device's qdiscs down: held output is dropped. */
	send_held(_metadata, &self->p, 1, 6);
	ASSERT_LE(0, ns_c = nt_ns_new());
	nlh = nt_rt_msg(&self->p.rt_a, RTM_NEWLINK, 0, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = (int)self->p.if_a;
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ns_c);
	ASSERT_EQ(0, nt_nl_xfer(&self->p.rt_a, nlh, &ack, NULL, NULL)) TH_LOG("%s", nt_ack_str(&ack));

	ASSERT_EQ(1, nt_event_wait(&self->ev, REMUS_EVENT_NET_DESTROYED, &ev, WAIT_MS,
				   skipped, sizeof(skipped)))
		TH_LOG("no NET_DESTROYED in the old namespace (saw: %s)", skipped);
	EXPECT_EQ(6, ev.st[REMUS_STATS_A_DISCARDED_PKTS]);
	expect_consistent(_metadata, ev.st);
	EXPECT_EQ(-ENODEV, nt_get(&self->p.gn, self->p.if_a, NULL, -1, &ni, &ack));
	EXPECT_EQ(0, nt_udp_recv(self->p.rx, self->p.got, 16, 1, QUIET_MS))
		TH_LOG("held packets leaked out on the move");
	rc = wait_refcnt_at_most(self->refcnt0, WAIT_MS);
	EXPECT_GE(self->refcnt0, rc);
	close(ns_c);
	self->p.if_a = 0;
}

/* ------------------------------------------------------------------ */
/* concurrency                                                         */
/* ------------------------------------------------------------------ */

struct hammer {
	struct nt_pair *p;
	struct nt_nl gb, gr, gg;	/* barrier, release, reader sockets */
	struct nt_nl rt;		/* rtnetlink reader */
	atomic_int stop;
	atomic_uint_fast64_t last_barrier;
	uint64_t barriers, releases_moved, release_calls, refused, gets;
	uint64_t sent, send_errs;
	char err[256];
	pthread_mutex_t lock;
};

static void hammer_fail(struct hammer *h, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&h->lock);
	if (!h->err[0]) {
		va_start(ap, fmt);
		vsnprintf(h->err, sizeof(h->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&h->lock);
	atomic_store(&h->stop, 1);
}

static void *hammer_barrier(void *arg)
{
	struct hammer *h = arg;
	uint64_t n = 0;
	struct nt_ack ack;

	while (!atomic_load(&h->stop)) {
		int err = nt_barrier(&h->gb, h->p->if_a, n + 1, &ack);

		if (err) {
			hammer_fail(h, "barrier %llu: %s", (unsigned long long)n + 1,
				    nt_ack_str(&ack));
			break;
		}
		n++;
		h->barriers++;
		atomic_store(&h->last_barrier, n);
		/* and one that must be refused */
		if ((n & 7) == 0) {
			if (nt_barrier(&h->gb, h->p->if_a, n, &ack) != -EINVAL) {
				hammer_fail(h, "repeated barrier %llu not refused: %s",
					    (unsigned long long)n, nt_ack_str(&ack));
				break;
			}
			h->refused++;
		}
	}
	return NULL;
}

static void *hammer_release(void *arg)
{
	struct hammer *h = arg;
	uint64_t released = 0;
	struct nt_ack ack;
	unsigned int i = 0;

	while (!atomic_load(&h->stop)) {
		uint64_t b = atomic_load(&h->last_barrier);
		uint64_t n = b;

		/* mostly the newest closed epoch, sometimes a stale one */
		if ((++i % 5) == 0 && b > 2)
			n = b - 2;
		if (nt_release(&h->gr, h->p->if_a, n, &ack)) {
			hammer_fail(h, "release %llu (last barrier seen %llu): %s",
				    (unsigned long long)n, (unsigned long long)b,
				    nt_ack_str(&ack));
			break;
		}
		h->release_calls++;
		if (n > released) {
			released = n;
			h->releases_moved++;
		}
	}
	return NULL;
}

static void *hammer_reader(void *arg)
{
	struct hammer *h = arg;
	struct nt_netinfo *ni = malloc(sizeof(*ni));
	struct nt_qdisc *qd = malloc(sizeof(*qd));

	while (ni && qd && !atomic_load(&h->stop)) {
		struct nt_ack ack;
		unsigned int i;
		uint64_t pk = 0;

		if (nt_get(&h->gg, h->p->if_a, NULL, REMUS_F_EPOCHS, ni, &ack)) {
			hammer_fail(h, "GET: %s", nt_ack_str(&ack));
			break;
		}
		if (ni->bad[0]) {
			hammer_fail(h, "GET reply: %s", ni->bad);
			break;
		}
		for (i = 0; i < ni->nepochs; i++) {
			pk += ni->epochs[i].pkts;
			if (i && ni->epochs[i].epoch <= ni->epochs[i - 1].epoch) {
				hammer_fail(h, "epoch list not increasing: %llu after %llu",
					    (unsigned long long)ni->epochs[i].epoch,
					    (unsigned long long)ni->epochs[i - 1].epoch);
				break;
			}
			if (ni->epochs[i].epoch > ni->barrier + 1) {
				hammer_fail(h, "epoch %llu held beyond the open epoch %llu",
					    (unsigned long long)ni->epochs[i].epoch,
					    (unsigned long long)ni->barrier + 1);
				break;
			}
		}
		if (ni->nepochs < REMUS_EPOCHS_MAX && pk != ni->st[REMUS_STATS_A_BACKLOG_PKTS]) {
			hammer_fail(h, "per-epoch packets %llu != backlog %llu in one snapshot",
				    (unsigned long long)pk,
				    (unsigned long long)ni->st[REMUS_STATS_A_BACKLOG_PKTS]);
			break;
		}
		if (ni->released > ni->barrier) {
			hammer_fail(h, "R %llu > B %llu", (unsigned long long)ni->released,
				    (unsigned long long)ni->barrier);
			break;
		}
		if (nt_qdisc_get(&h->rt, h->p->if_a, qd)) {
			hammer_fail(h, "RTM_GETQDISC failed");
			break;
		}
		h->gets++;
	}
	free(ni);
	free(qd);
	return NULL;
}

static void *hammer_sender(void *arg)
{
	struct hammer *h = arg;
	uint32_t seq = 0;

	while (!atomic_load(&h->stop)) {
		int err = nt_udp_send(h->p->tx, NT_ADDR_B, NT_PORT, 0, seq, PAYLOAD);

		if (err) {
			h->send_errs++;
			if (err != -ENOBUFS) {
				hammer_fail(h, "send: %s", strerror(-err));
				break;
			}
			continue;
		}
		seq++;
		h->sent++;
	}
	return NULL;
}

TEST_F_TIMEOUT(r, barrier_and_release_hammered_from_two_threads_under_traffic, 90)
{
	struct hammer *h = calloc(1, sizeof(*h));
	pthread_t tb, tr, tg, ts;
	uint64_t got = 0, expect_seq = 0, end, b;
	struct nt_dgram d[64];
	struct nt_netinfo ni;
	struct nt_ack ack;
	char disorder[128] = "";
	unsigned long long drops0 = nt_softnet_drops();
	long backlog0 = nt_set_max_backlog(1000000);

	ASSERT_NE(NULL, h);
	h->p = &self->p;
	pthread_mutex_init(&h->lock, NULL);
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &h->gb, true));
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &h->gr, true));
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &h->gg, true));
	ASSERT_EQ(0, nt_open_in(self->p.ns_a, &h->rt, false));

	ASSERT_EQ(0, pthread_create(&ts, NULL, hammer_sender, h));
	ASSERT_EQ(0, pthread_create(&tb, NULL, hammer_barrier, h));
	ASSERT_EQ(0, pthread_create(&tr, NULL, hammer_release, h));
	ASSERT_EQ(0, pthread_create(&tg, NULL, hammer_reader, h));

	/* Receive meanwhile: every datagram once, in order. */
	end = nt_now_ns() + HAMMER_SECS * 1000000000ull;
	while (nt_now_ns() < end && !atomic_load(&h->stop)) {
		unsigned int i, n = nt_udp_recv(self->p.rx, d, 64, 64, 20);

		for (i = 0; i < n; i++, got++) {
			if (d[i].seq != expect_seq && !disorder[0])
				snprintf(disorder, sizeof(disorder),
					 "datagram %llu: seq %u, expected %llu",
					 (unsigned long long)got, d[i].seq,
					 (unsigned long long)expect_seq);
			expect_seq = d[i].seq + 1;
		}
	}
	atomic_store(&h->stop, 1);
	pthread_join(ts, NULL);
	pthread_join(tb, NULL);
	pthread_join(tr, NULL);
	pthread_join(tg, NULL);
	ASSERT_STREQ("", h->err);
	TH_LOG("%llu sent, %llu barriers, %llu releases (%llu moved R), %llu refused, %llu reads",
	       (unsigned long long)h->sent, (unsigned long long)h->barriers,
	       (unsigned long long)h->release_calls, (unsigned long long)h->releases_moved,
	       (unsigned long long)h->refused, (unsigned long long)h->gets);
	ASSERT_LT(100, h->barriers) TH_LOG("the hammer hardly hammered");
	ASSERT_LT(100, h->sent);

	/* Close the open epoch and let everything out. */
	b = atomic_load(&h->last_barrier) + 1;
	ASSERT_EQ(0, nt_barrier(&self->p.gn, self->p.if_a, b, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	ASSERT_EQ(0, nt_release(&self->p.gn, self->p.if_a, b, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	end = nt_now_ns() + 20000000000ull;
	while (got < h->sent && nt_now_ns() < end) {
		unsigned int i, n = nt_udp_recv(self->p.rx, d, 64, 1, 200);

		for (i = 0; i < n; i++, got++) {
			if (d[i].seq != expect_seq && !disorder[0])
				snprintf(disorder, sizeof(disorder),
					 "datagram %llu: seq %u, expected %llu",
					 (unsigned long long)got, d[i].seq,
					 (unsigned long long)expect_seq);
			expect_seq = d[i].seq + 1;
		}
	}
	got += nt_udp_recv(self->p.rx, d, 64, 1, QUIET_MS);
	nt_set_max_backlog(backlog0);
	EXPECT_EQ(h->sent, got) TH_LOG("sent %llu, received %llu; input backlog drops meanwhile: %llu",
				       (unsigned long long)h->sent, (unsigned long long)got,
				       nt_softnet_drops() - drops0);
	EXPECT_STREQ("", disorder) TH_LOG("out of order or lost");

	ASSERT_EQ(0, nt_get(&self->p.gn, self->p.if_a, NULL, -1, &ni, &ack));
	EXPECT_EQ(b, ni.barrier);
	EXPECT_EQ(b, ni.released);
	EXPECT_EQ(0, ni.st[REMUS_STATS_A_BACKLOG_PKTS]);
	EXPECT_EQ(h->sent, ni.st[REMUS_STATS_A_QUEUED_PKTS]);
	EXPECT_EQ(h->sent, ni.st[REMUS_STATS_A_RELEASED_PKTS]);
	EXPECT_EQ(h->sent * NT_L2LEN(PAYLOAD), ni.st[REMUS_STATS_A_RELEASED_BYTES]);
	EXPECT_EQ(0, ni.st[REMUS_STATS_A_OVERLIMIT_PKTS]);
	EXPECT_EQ(h->barriers + 1, ni.st[REMUS_STATS_A_BARRIERS]);
	EXPECT_EQ(h->releases_moved + 1, ni.st[REMUS_STATS_A_RELEASES]);
	expect_consistent(_metadata, ni.st);

	nt_nl_close(&h->gb);
	nt_nl_close(&h->gr);
	nt_nl_close(&h->gg);
	nt_nl_close(&h->rt);
	free(h);
}

/* ------------------------------------------------------------------ */
/* namespaces deleted while buffering                                  */
/* ------------------------------------------------------------------ */

/*
 * The Remus shape: packets come in on veth0's ingress (from the "guest"
 * namespace g), are redirected to ifb0, whose root qdisc is remus. Packets
 * held there do not belong to any socket of namespace h.
 */
struct ifbtopo {
	int ns_h, ns_g;
	struct nt_nl rt_h, rt_g, gn;
	uint32_t if_h, if_g, if_ifb;
	int tx;
};

static int ifbtopo_setup(struct ifbtopo *t, char *why, size_t whylen)
{
	static const char batch[] =
		"qdisc add dev " NT_IF_A " ingress\n"
		"filter add dev " NT_IF_A " parent ffff: protocol all prio 1 matchall "
		"action mirred egress redirect dev ifb0\n";
	char out[160], path[64] = "tc.batch";
	char *argv[] = { (char *)nt_tc_path(), "-batch", path, NULL };
	struct nt_ack ack;
	int err, fd;

	memset(t, 0, sizeof(*t));
	t->tx = -1;
	if ((t->ns_h = nt_ns_new()) < 0 || (t->ns_g = nt_ns_new()) < 0)
		NT_SETUP_FAIL("netns", -errno);
	if ((err = nt_ns_sysctls(t->ns_h)) || (err = nt_ns_sysctls(t->ns_g)))
		NT_SETUP_FAIL("sysctl", err);
	if ((err = nt_open_in(t->ns_h, &t->rt_h, false)) ||
	    (err = nt_open_in(t->ns_g, &t->rt_g, false)) ||
	    (err = nt_open_in(t->ns_h, &t->gn, true)))
		NT_SETUP_FAIL("netlink sockets", err);
	if ((err = nt_link_add_veth(&t->rt_h, NT_IF_A, nt_mac_a, NT_IF_B, nt_mac_b,
				    t->ns_g, &ack)))
		NT_SETUP_FAIL("veth", err);
	if ((err = nt_link_add(&t->rt_h, "ifb0", "ifb", &ack)))
		NT_SETUP_FAIL("ifb0 (module ifb?)", err);
	t->if_h = (uint32_t)nt_ifindex(&t->rt_h, NT_IF_A);
	t->if_g = (uint32_t)nt_ifindex(&t->rt_g, NT_IF_B);
	t->if_ifb = (uint32_t)nt_ifindex(&t->rt_h, "ifb0");
	if ((err = nt_qdisc_add(&t->rt_h, t->if_ifb, REMUS_QDISC_KIND, &ack)))
		NT_SETUP_FAIL("remus on ifb0", err);
	if ((err = nt_addr_add(&t->rt_h, t->if_h, AF_INET, NT_ADDR_A, 24, &ack)) ||
	    (err = nt_addr_add(&t->rt_g, t->if_g, AF_INET, NT_ADDR_B, 24, &ack)) ||
	    (err = nt_neigh_add(&t->rt_g, t->if_g, AF_INET, NT_ADDR_A, nt_mac_a, &ack)))
		NT_SETUP_FAIL("addresses", err);
	if ((err = nt_link_set_up(&t->rt_h, t->if_h, true, &ack)) ||
	    (err = nt_link_set_up(&t->rt_h, t->if_ifb, true, &ack)) ||
	    (err = nt_link_set_up(&t->rt_g, t->if_g, true, &ack)) ||
	    (err = nt_link_wait_up(&t->rt_g, t->if_g, WAIT_MS)))
		NT_SETUP_FAIL("links up", err);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, batch, sizeof(batch) - 1) != (ssize_t)sizeof(batch) - 1)
		NT_SETUP_FAIL("tc batch file", -errno);
	close(fd);
	err = nt_run(t->ns_h, argv, out, sizeof(out));
	if (err) {
		snprintf(why, whylen, "tc -batch (ingress + mirred): status %d: %s", err, out);
		return -EIO;
	}
	t->tx = nt_udp_socket(t->ns_g, NT_ADDR_B, 0, false);
	if (t->tx < 0)
		NT_SETUP_FAIL("sender", t->tx);
	return 0;
}

/* Poll GET on ifb0 until its backlog is n. */
static int ifbtopo_wait_backlog(struct ifbtopo *t, uint64_t n, struct nt_netinfo *ni)
{
	uint64_t end = nt_now_ns() + WAIT_MS * 1000000ull;

	do {
		if (nt_get(&t->gn, t->if_ifb, NULL, -1, ni, NULL))
			return -EIO;
		if (ni->st[REMUS_STATS_A_BACKLOG_PKTS] == n)
			return 0;
		nt_sleep_ms(5);
	} while (nt_now_ns() < end);
	return -ETIMEDOUT;
}

/* Poll until the namespace g's end of the pair is gone: h was dismantled. */
static int wait_peer_gone(struct nt_nl *rt_g, int timeout_ms)
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct nt_link l;

	do {
		if (nt_link_get(rt_g, NT_IF_B, 0, &l) == -ENODEV)
			return 0;
		nt_sleep_ms(20);
	} while (nt_now_ns() < end);
	return -ETIMEDOUT;
}

TEST(netns_deleted_while_buffering_on_ifb_frees_everything)
{
	struct ifbtopo t;
	struct nt_netinfo ni;
	char why[256] = "";
	long refcnt0 = nt_module_refcnt(), rc;
	unsigned int i;

	ASSERT_LE(0, refcnt0);
	ASSERT_EQ(0, ifbtopo_setup(&t, why, sizeof(why))) TH_LOG("%s", why);
	for (i = 0; i < 30; i++)
		ASSERT_EQ(0, nt_udp_send(t.tx, NT_ADDR_A, NT_PORT, 1, i, PAYLOAD));
	ASSERT_EQ(0, ifbtopo_wait_backlog(&t, 30, &ni))
		TH_LOG("ifb0 holds %llu, expected 30", (unsigned long long)ni.st[REMUS_STATS_A_BACKLOG_PKTS]);
	ASSERT_EQ(0, nt_barrier(&t.gn, t.if_ifb, 1, NULL));

	/* Let go of everything in h: the namespace is deleted. */
	nt_nl_close(&t.gn);
	nt_nl_close(&t.rt_h);
	close(t.ns_h);
	EXPECT_EQ(0, wait_peer_gone(&t.rt_g, 15000))
		TH_LOG("namespace h not dismantled 15 s after its last reference went");
	rc = wait_refcnt_at_most(refcnt0, 10000);
	EXPECT_GE(refcnt0, rc) TH_LOG("module refcount %ld, %ld before: the qdisc was not destroyed",
				      rc, refcnt0);
	close(t.tx);
	nt_nl_close(&t.rt_g);
	close(t.ns_g);
}

TEST(netns_deleted_while_buffering_own_sockets_output_frees_everything)
{
	struct nt_pair p;
	char why[256] = "";
	long refcnt0 = nt_module_refcnt(), rc;
	int err;

	/*
	 * Here the held packets were sent by a socket of the qdisc's own
	 * namespace. Each holds a reference to that socket, and the socket
	 * one to its namespace: unless the qdisc lets go of the sender
	 * (as netem does with skb_orphan_partial), the namespace can never be
	 * dismantled, and remus.ko stays pinned for good.
	 */
	ASSERT_LE(0, refcnt0);
	ASSERT_EQ(0, nt_pair_setup(&p, REMUS_QDISC_KIND, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, nt_pair_send(&p, 1, 10, PAYLOAD, NULL));
	close(p.tx);
	p.tx = -1;
	nt_nl_close(&p.gn);
	nt_nl_close(&p.rt_a);
	close(p.ns_a);
	p.ns_a = -1;
	err = wait_peer_gone(&p.rt_b, 10000);
	EXPECT_EQ(0, err) TH_LOG("namespace a (10 packets of its own socket held) was never dismantled");
	rc = wait_refcnt_at_most(refcnt0, err ? 100 : 10000);
	EXPECT_GE(refcnt0, rc) TH_LOG("module refcount %ld, %ld before: the qdisc was leaked",
				      rc, refcnt0);
	nt_pair_teardown(&p);
}

TEST(qdisc_add_del_cycles_give_back_every_module_reference)
{
	struct nt_nl rt;
	struct nt_ack ack;
	long refcnt0 = nt_module_refcnt(), rc;
	int ifi, i;

	ASSERT_LE(0, refcnt0);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, nt_nl_open(&rt, NETLINK_ROUTE));
	ASSERT_EQ(0, nt_link_add(&rt, "cyc0", "dummy", &ack));
	ifi = nt_ifindex(&rt, "cyc0");
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, nt_qdisc_add(&rt, (uint32_t)ifi, REMUS_QDISC_KIND, &ack))
			TH_LOG("cycle %d add: %s", i, nt_ack_str(&ack));
		/* a failed change must not leak either */
		ASSERT_EQ(-ERANGE, nt_qdisc_remus(&rt, (uint32_t)ifi, 0, 0, -1, -1, true, &ack));
		ASSERT_EQ(0, nt_qdisc_del(&rt, (uint32_t)ifi, &ack))
			TH_LOG("cycle %d del: %s", i, nt_ack_str(&ack));
	}
	/* and a failed add */
	EXPECT_EQ(-ERANGE, nt_qdisc_remus(&rt, (uint32_t)ifi, NLM_F_CREATE | NLM_F_EXCL, 0, -1,
					  -1, true, &ack));
	rc = wait_refcnt_at_most(refcnt0, WAIT_MS);
	EXPECT_GE(refcnt0, rc) TH_LOG("refcount %ld after 200 cycles, %ld before", rc, refcnt0);
	nt_nl_close(&rt);
}

TEST_HARNESS_MAIN
