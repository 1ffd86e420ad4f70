// SPDX-License-Identifier: GPL-2.0
/*
 * The attach path, as the daemon uses it: `remusctl net attach IFACE`
 * redirects everything that enters IFACE (a guest's backend interface:
 * its output) to an IFB whose root qdisc is remus. Frames of every
 * protocol a guest sends must be held there until released: IPv4, IPv6,
 * ARP, and an ethertype nobody handles, not only `protocol ip` as in
 * Xen's own Remus.
 *
 * The guest is a namespace at the other end of a veth pair, sending hand
 * made frames from a packet socket. The host side watches with one packet
 * socket per ethertype bound to the backend interface: those see a frame
 * after the ingress hook, that is only once the IFB gives it back.
 *
 * Needs remusctl in the VM ($REMUSCTL, else $SUITE_DIR/remusctl, else
 * on PATH); without it the test fails and says so.
 */
#include "nettest.h"
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>

#include "kselftest_harness.h"

#define WAIT_MS		5000
#define QUIET_MS	200
#define VIF		"vif1.0"
#define GUEST_IF	"eth0"
#define ETH_P_EXPERIMENTAL 0x88b5	/* IEEE 802 local experimental */

static const uint16_t protos[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, ETH_P_EXPERIMENTAL };
static const char *const proto_names[] = { "IPv4", "IPv6", "ARP", "ethertype 0x88b5" };
#define NPROTO 4

static const char *find_remusctl(void)
{
	static char path[512];
	const char *env = getenv("REMUSCTL"), *dir = getenv("SUITE_DIR");
	static const char *const fixed[] = {
		"/selftests/bin/remusctl", "/usr/sbin/remusctl", "/usr/bin/remusctl",
		"/sbin/remusctl", "/bin/remusctl",
	};
	unsigned int i;

	if (env && *env && access(env, X_OK) == 0)
		return env;
	if (dir) {
		snprintf(path, sizeof(path), "%s/remusctl", dir);
		if (access(path, X_OK) == 0)
			return path;
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], X_OK) == 0)
			return fixed[i];
	return NULL;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One frame of protocol index k carrying tag seq; returns its length. */
static size_t make_frame(uint8_t *f, unsigned int k, uint32_t seq)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct ethhdr *eth = (struct ethhdr *)f;
	uint8_t *l3 = f + sizeof(*eth);
	struct nt_dgram tag = { NT_MAGIC, 1, seq, sizeof(tag) };
	size_t len = sizeof(*eth);

	memcpy(eth->h_dest, k == 2 ? bcast : nt_mac_a, 6);
	memcpy(eth->h_source, nt_mac_b, 6);
	eth->h_proto = htons(protos[k]);
	switch (k) {
	case 0: {
		struct iphdr *ip = (struct iphdr *)l3;
		struct udphdr *udp = (struct udphdr *)(ip + 1);

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*udp) + sizeof(tag));
		inet_pton(AF_INET, NT_ADDR_B, &ip->saddr);
		inet_pton(AF_INET, NT_ADDR_A, &ip->daddr);
		ip->check = htons(csum(ip, sizeof(*ip), 0));
		udp->source = htons(NT_PORT);
		udp->dest = htons(NT_PORT);
		udp->len = htons(sizeof(*udp) + sizeof(tag));
		udp->check = 0;
		memcpy(udp + 1, &tag, sizeof(tag));
		len += sizeof(*ip) + sizeof(*udp) + sizeof(tag);
		break;
	}
	case 1: {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)l3;
		struct udphdr *udp = (struct udphdr *)(ip6 + 1);

		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(*udp) + sizeof(tag));
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		inet_pton(AF_INET6, "fd00:524d::2", &ip6->ip6_src);
		inet_pton(AF_INET6, "fd00:524d::1", &ip6->ip6_dst);
		udp->source = htons(NT_PORT);
		udp->dest = htons(NT_PORT);
		udp->len = htons(sizeof(*udp) + sizeof(tag));
		udp->check = htons(0xffff);	/* not checked by the observer */
		memcpy(udp + 1, &tag, sizeof(tag));
		len += sizeof(*ip6) + sizeof(*udp) + sizeof(tag);
		break;
	}
	case 2: {
		/* who-has 10.77.0.1 tell 10.77.0.2, the tag in the padding */
		uint8_t *a = l3;

		a[0] = 0; a[1] = 1;		/* Ethernet */
		a[2] = 0x08; a[3] = 0;		/* IPv4 */
		a[4] = 6; a[5] = 4;
		a[6] = 0; a[7] = 1;		/* request */
		memcpy(a + 8, nt_mac_b, 6);
		inet_pton(AF_INET, NT_ADDR_B, a + 14);
		memset(a + 18, 0, 6);
		inet_pton(AF_INET, NT_ADDR_A, a + 24);
		memcpy(a + 28, &tag, sizeof(tag));
		len += 28 + sizeof(tag);
		break;
	}
	default:
		memcpy(l3, &tag, sizeof(tag));
		len += sizeof(tag);
		break;
	}
	return len;
}

/* Where make_frame put the tag. */
static const struct nt_dgram *frame_tag(const uint8_t *f, size_t len, unsigned int k)
{
	static const size_t off[] = {
		14 + 20 + 8, 14 + 40 + 8, 14 + 28, 14,
	};

	if (len < off[k] + sizeof(struct nt_dgram))
		return NULL;
	return (const struct nt_dgram *)(f + off[k]);
}

/* A packet socket in namespace ns, bound to ifindex for one ethertype (0: send only). */
static int packet_socket(int ns, uint32_t ifindex, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto),
				   .sll_ifindex = (int)ifindex };
	int self = nt_ns_self(), fd;

	if (self < 0 || nt_ns_enter(ns))
		return -errno;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(proto));
	setns(self, CLONE_NEWNET);
	close(self);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Frames seen on obs[k] within timeout_ms (until want[k] each); tags into seqs. */
static void observe(int obs[NPROTO], unsigned int want, int timeout_ms,
		    unsigned int got[NPROTO], uint32_t seqs[NPROTO][16])
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	unsigned int k, done;

	for (;;) {
		struct pollfd pfd[NPROTO];
		int64_t left;

		for (k = 0, done = 0; k < NPROTO; k++) {
			uint8_t buf[2048];
			ssize_t n;

			while ((n = recv(obs[k], buf, sizeof(buf), 0)) > 0) {
				const struct nt_dgram *t = frame_tag(buf, (size_t)n, k);

				if (got[k] < 16)
					seqs[k][got[k]] = t && t->magic == NT_MAGIC ? t->seq : ~0u;
				got[k]++;
			}
			if (got[k] >= want)
				done++;
			pfd[k] = (struct pollfd){ obs[k], POLLIN, 0 };
		}
		if (want && done == NPROTO)
			return;
		left = (int64_t)(end - nt_now_ns()) / 1000000;
		if (left <= 0)
			return;
		poll(pfd, NPROTO, (int)left);
	}
}

FIXTURE(attach) {
	int ns_h, ns_g;
	struct nt_nl rt_h, rt_g, gn;
	uint32_t if_vif, if_eth;
	int tx;
	int obs[NPROTO];
	const char *remusctl;
};

FIXTURE_SETUP(attach)
{
	struct nt_ack ack;
	unsigned int k;

	self->tx = -1;
	for (k = 0; k < NPROTO; k++)
		self->obs[k] = -1;
	self->remusctl = find_remusctl();
	ASSERT_NE(NULL, self->remusctl)
		TH_LOG("remusctl is not in the VM (looked at $REMUSCTL, $SUITE_DIR/remusctl, "
		       "/selftests/bin, /usr/sbin, /usr/bin): build/remusctl must be copied into "
		       "the initramfs for the attach path to be tested");
	ASSERT_LE(0, self->ns_h = nt_ns_new());
	ASSERT_LE(0, self->ns_g = nt_ns_new());
	ASSERT_EQ(0, nt_ns_sysctls(self->ns_h));
	ASSERT_EQ(0, nt_ns_sysctls(self->ns_g));
	ASSERT_EQ(0, nt_open_in(self->ns_h, &self->rt_h, false));
	ASSERT_EQ(0, nt_open_in(self->ns_g, &self->rt_g, false));
	ASSERT_EQ(0, nt_open_in(self->ns_h, &self->gn, true)) TH_LOG("remus family missing");
	ASSERT_EQ(0, nt_link_add_veth(&self->rt_h, VIF, nt_mac_a, GUEST_IF, nt_mac_b,
				      self->ns_g, &ack)) TH_LOG("%s", nt_ack_str(&ack));
	self->if_vif = (uint32_t)nt_ifindex(&self->rt_h, VIF);
	self->if_eth = (uint32_t)nt_ifindex(&self->rt_g, GUEST_IF);
	ASSERT_EQ(0, nt_link_set_up(&self->rt_h, self->if_vif, true, &ack));
	ASSERT_EQ(0, nt_link_set_up(&self->rt_g, self->if_eth, true, &ack));
	ASSERT_EQ(0, nt_link_wait_up(&self->rt_g, self->if_eth, WAIT_MS));
	ASSERT_EQ(0, nt_link_wait_up(&self->rt_h, self->if_vif, WAIT_MS));
	self->tx = packet_socket(self->ns_g, self->if_eth, 0);
	ASSERT_LE(0, self->tx) TH_LOG("packet socket: %s", strerror(-self->tx));
	for (k = 0; k < NPROTO; k++) {
		self->obs[k] = packet_socket(self->ns_h, self->if_vif, protos[k]);
		ASSERT_LE(0, self->obs[k]);
	}
}

FIXTURE_TEARDOWN(attach)
{
	unsigned int k;

	for (k = 0; k < NPROTO; k++)
		if (self->obs[k] >= 0)
			close(self->obs[k]);
	if (self->tx >= 0)
		close(self->tx);
	if (self->rt_h.nl && self->if_vif)
		nt_link_del(&self->rt_h, self->if_vif, NULL);
	nt_nl_close(&self->gn);
	nt_nl_close(&self->rt_h);
	nt_nl_close(&self->rt_g);
}

static void send_frames(struct __test_metadata *_metadata, int tx, uint32_t ifindex,
			uint32_t seq0, unsigned int rounds)
{
	unsigned int r, k;

	for (r = 0; r < rounds; r++)
		for (k = 0; k < NPROTO; k++) {
			uint8_t f[256];
			size_t len = make_frame(f, k, seq0 + r);
			struct sockaddr_ll sll = { .sll_family = AF_PACKET,
						   .sll_ifindex = (int)ifindex, .sll_halen = 6 };

			memcpy(sll.sll_addr, f, 6);
			ASSERT_EQ((ssize_t)len, sendto(tx, f, len, 0, (struct sockaddr *)&sll,
						       sizeof(sll)))
				TH_LOG("send %s frame: %s", proto_names[k], strerror(errno));
		}
}

TEST_F(attach, remusctl_attach_holds_ipv4_ipv6_arp_and_any_ethertype_until_release)
{
	char *attach[] = { (char *)self->remusctl, "net", "attach", VIF, NULL };
	char *detach[] = { (char *)self->remusctl, "net", "detach", VIF, NULL };
	struct nt_netinfo ni[4];
	uint32_t seqs[NPROTO][16];
	unsigned int got[NPROTO] = { 0 }, k, r;
	uint64_t end;
	char out[2048];
	int rc, n;

	rc = nt_run(self->ns_h, attach, out, sizeof(out));
	ASSERT_EQ(0, rc) TH_LOG("remusctl net attach %s: status %d: %s", VIF, rc, out);
	n = nt_dump(&self->gn, -1, ni, 4, NULL);
	ASSERT_EQ(1, n) TH_LOG("remus buffers in the host namespace after attach: %d", n);
	{
		struct nt_link l;

		nt_link_get(&self->rt_h, NULL, ni[0].ifindex, &l);
		TH_LOG("attach: %s buffered on %s (alias \"%s\")", VIF, ni[0].ifname, l.alias);
	}
	ASSERT_NE(self->if_vif, ni[0].ifindex) TH_LOG("the buffer must be the IFB, not the vif");

	send_frames(_metadata, self->tx, self->if_eth, 0, 3);
	/* the redirect is asynchronous: poll until all 12 are in the buffer */
	end = nt_now_ns() + WAIT_MS * 1000000ull;
	do {
		ASSERT_EQ(0, nt_get(&self->gn, ni[0].ifindex, NULL, -1, &ni[1], NULL));
		if (ni[1].st[REMUS_STATS_A_BACKLOG_PKTS] >= 3 * NPROTO)
			break;
		nt_sleep_ms(5);
	} while (nt_now_ns() < end);
	EXPECT_EQ(3 * NPROTO, ni[1].st[REMUS_STATS_A_BACKLOG_PKTS])
		TH_LOG("the buffer holds %llu frames, the guest sent %d",
		       (unsigned long long)ni[1].st[REMUS_STATS_A_BACKLOG_PKTS], 3 * NPROTO);
	observe(self->obs, 0, QUIET_MS, got, seqs);
	for (k = 0; k < NPROTO; k++)
		EXPECT_EQ(0, got[k]) TH_LOG("%u %s frame(s) got past the buffer before any release",
					    got[k], proto_names[k]);

	ASSERT_EQ(0, nt_barrier(&self->gn, ni[0].ifindex, 1, NULL));
	send_frames(_metadata, self->tx, self->if_eth, 100, 1);	/* epoch 2, stays */
	ASSERT_EQ(0, nt_release(&self->gn, ni[0].ifindex, 1, NULL));
	memset(got, 0, sizeof(got));
	observe(self->obs, 3, WAIT_MS, got, seqs);
	observe(self->obs, 0, QUIET_MS, got, seqs);
	for (k = 0; k < NPROTO; k++) {
		EXPECT_EQ(3, got[k]) TH_LOG("%s: %u frames after release 1, expected 3",
					    proto_names[k], got[k]);
		for (r = 0; r < 3 && r < got[k]; r++)
			EXPECT_EQ(r, seqs[k][r]) TH_LOG("%s frame %u carries tag %u", proto_names[k],
							r, seqs[k][r]);
	}

	rc = nt_run(self->ns_h, detach, out, sizeof(out));
	EXPECT_EQ(0, rc) TH_LOG("remusctl net detach %s: status %d: %s", VIF, rc, out);
	EXPECT_EQ(0, nt_dump(&self->gn, -1, ni, 4, NULL)) TH_LOG("a buffer outlived detach");
	/* Detached: frames pass at once. (What detach does with epoch 2's
	 * held frames is its own business: only the new ones are counted.) */
	memset(got, 0, sizeof(got));
	send_frames(_metadata, self->tx, self->if_eth, 200, 1);
	end = nt_now_ns() + WAIT_MS * 1000000ull;
	for (k = 0; k < NPROTO; k++) {
		bool seen = false;

		while (!seen && nt_now_ns() < end) {
			observe(self->obs, got[k] + 1, 100, got, seqs);
			for (r = 0; r < got[k] && r < 16; r++)
				seen |= seqs[k][r] == 200;
		}
		EXPECT_TRUE(seen) TH_LOG("%s frame sent after detach did not pass", proto_names[k]);
	}
}

TEST_HARNESS_MAIN
