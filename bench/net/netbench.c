// SPDX-License-Identifier: GPL-2.0
/*
 * netbench: the remus qdisc against mainline sch_plug, in the same VM run,
 * on the same path (UDP from namespace a through a veth pair to a receiver
 * in namespace b, the qdisc at the root of veth0):
 *
 *   burst      N datagrams held in one epoch, then released: packets/s
 *              from the release command to the last one's arrival
 *              (kernel receive timestamps, SO_TIMESTAMPNS)
 *   steady     a sender flat out in 250 ms slots while epochs close every
 *              25 ms and each is released 12 ms later (one epoch in flight,
 *              which is all sch_plug can do): packets/s received; pfifo,
 *              which buffers nothing, as the baseline
 *   latency    one datagram held, released: from the release command to
 *              its arrival, median and 99th percentile
 *   100k       a 100,000-datagram epoch released at once under the default
 *              limits: everything arrives, in order
 *
 * Run in the test VM by bench/net/run.sh, which writes results.md from
 * the lines printed with a leading "@ " (a markdown table and notes);
 * progress goes to stderr as "# " lines.
 */
#include "nettest.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#define PAYLOAD		64
#define BATCH		64

enum kind { K_REMUS, K_PLUG, K_PFIFO };
static const char *const kind_name[] = { "remus", "plug", "pfifo" };

struct ctx {
	enum kind kind;
	struct nt_pair p;
	struct nt_nl gn2;		/* second genl socket (steady-state control) */
	struct nt_nl rt2;		/* second rtnl socket (steady-state control) */
	int tx;				/* sender without IP_RECVERR */
	uint32_t seq;
	uint64_t epoch;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "netbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void ctx_setup(struct ctx *c, enum kind k)
{
	char why[256] = "";
	int err, one = 1;

	memset(c, 0, sizeof(*c));
	c->kind = k;
	err = nt_pair_setup(&c->p, kind_name[k], why, sizeof(why));
	if (err) {
		fprintf(stderr, "netbench: setup %s: %s\n", kind_name[k], why);
		exit(1);
	}
	if (k == K_PLUG) {
		/* the default is tx_queue_len * MTU: room for the 100k epoch */
		err = nt_plug(&c->p.rt_a, c->p.if_a, TCQ_PLUG_LIMIT, 1u << 30, NULL);
		if (err)
			die("plug limit", err);
	}
	if (k == K_REMUS && (err = nt_open_in(c->p.ns_a, &c->gn2, true)))
		die("genl socket", err);
	if ((err = nt_open_in(c->p.ns_a, &c->rt2, false)))
		die("rtnl socket", err);
	c->tx = nt_udp_socket(c->p.ns_a, NT_ADDR_A, 0, false);
	if (c->tx < 0)
		die("sender", c->tx);
	if (setsockopt(c->p.rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		die("SO_TIMESTAMPNS", -errno);
}

static void ctx_teardown(struct ctx *c)
{
	close(c->tx);
	nt_nl_close(&c->gn2);
	nt_nl_close(&c->rt2);
	nt_pair_teardown(&c->p);
}

/* Close the open epoch: a barrier, or sch_plug's "block". */
static void close_epoch(struct ctx *c, struct nt_nl *gn, struct nt_nl *rt)
{
	int err = 0;

	c->epoch++;
	if (c->kind == K_REMUS)
		err = nt_barrier(gn, c->p.if_a, c->epoch, NULL);
	else if (c->kind == K_PLUG)
		err = nt_plug(rt, c->p.if_a, TCQ_PLUG_BUFFER, 0, NULL);
	if (err)
		die("close epoch", err);
}

/* Release through epoch e: remus release, or sch_plug's "release". */
static void release(struct ctx *c, struct nt_nl *gn, struct nt_nl *rt, uint64_t e)
{
	int err = 0;

	if (c->kind == K_REMUS)
		err = nt_release(gn, c->p.if_a, e, NULL);
	else if (c->kind == K_PLUG)
		err = nt_plug(rt, c->p.if_a, TCQ_PLUG_RELEASE_ONE, 0, NULL);
	if (err)
		die("release", err);
}

/* Send n datagrams with sendmmsg; returns how many the stack took. */
static unsigned int blast(struct ctx *c, unsigned int n)
{
	static char bufs[BATCH][PAYLOAD];
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(NT_PORT) };
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	unsigned int sent = 0, i;

	inet_pton(AF_INET, NT_ADDR_B, &dst.sin_addr);
	while (sent < n) {
		unsigned int b = n - sent < BATCH ? n - sent : BATCH;
		int r;

		for (i = 0; i < b; i++) {
			struct nt_dgram d = { NT_MAGIC, (uint32_t)c->epoch + 1, c->seq + i, PAYLOAD };

			memcpy(bufs[i], &d, sizeof(d));
			iov[i] = (struct iovec){ bufs[i], PAYLOAD };
			mm[i].msg_hdr = (struct msghdr){ .msg_name = &dst, .msg_namelen = sizeof(dst),
							  .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		r = sendmmsg(c->tx, mm, b, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("sendmmsg", -errno);
		}
		c->seq += (uint32_t)r;
		sent += (unsigned int)r;
	}
	return sent;
}

struct rxstat {
	uint64_t n;
	uint64_t disorder;
	uint32_t next_seq;
	int64_t first_ns, last_ns;	/* CLOCK_REALTIME receive timestamps */
};

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Receive until want datagrams or timeout_ms of silence. */
static void rx(struct ctx *c, struct rxstat *s, uint64_t want, int timeout_ms)
{
	static char bufs[BATCH][256];
	static char cbufs[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int i, r;

	while (s->n < want) {
		struct pollfd pfd = { c->p.rx, POLLIN, 0 };

		for (i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
							  .msg_control = cbufs[i],
							  .msg_controllen = sizeof(cbufs[i]) };
		}
		r = recvmmsg(c->p.rx, mm, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0) {
			if (poll(&pfd, 1, timeout_ms) <= 0)
				return;
			continue;
		}
		for (i = 0; i < r; i++) {
			const struct nt_dgram *d = (const void *)bufs[i];
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[i].msg_hdr);

			if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPNS) {
				struct timespec ts;
				int64_t t;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
				if (!s->first_ns)
					s->first_ns = t;
				s->last_ns = t;
			}
			if (d->seq != s->next_seq)
				s->disorder++;
			s->next_seq = d->seq + 1;
			s->n++;
		}
	}
}

/* Poll the root qdisc until it holds n packets (the sender returned). */
static void wait_qlen(struct ctx *c, uint32_t n)
{
	struct nt_qdisc q;
	uint64_t end = nt_now_ns() + 20000000000ull;

	do {
		if (nt_qdisc_get(&c->p.rt_a, c->p.if_a, &q))
			die("qdisc get", EIO);
		if (q.q.qlen >= n)
			return;
		nt_sleep_ms(1);
	} while (nt_now_ns() < end);
	fprintf(stderr, "netbench: %s holds %u, expected %u\n", kind_name[c->kind], q.q.qlen, n);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------ */

/* One release burst of n: packets/s; *whole false on loss or disorder. */
static double burst_once(struct ctx *c, unsigned int n, bool *whole)
{
	struct rxstat s = { .next_seq = c->seq };
	struct nt_qdisc q;
	int64_t t0;

	blast(c, n);
	wait_qlen(c, n);
	close_epoch(c, &c->p.gn, &c->p.rt_a);
	t0 = realtime_ns();
	release(c, &c->p.gn, &c->p.rt_a, c->epoch);
	/* how much was drained inside the release command itself */
	if (nt_qdisc_get(&c->rt2, c->p.if_a, &q))
		die("qdisc get", EIO);
	rx(c, &s, n, 3000);
	if (s.n != n || s.disorder) {
		fprintf(stderr, "# burst %s %u: received %llu, %llu out of order\n",
			kind_name[c->kind], n, (unsigned long long)s.n,
			(unsigned long long)s.disorder);
		*whole = false;
	}
	fprintf(stderr, "# burst %s %u: %.0f pkt/s (first after %.0f us; %u still queued when the release command returned)\n",
		kind_name[c->kind], n, s.n / ((s.last_ns - t0) / 1e9), (s.first_ns - t0) / 1e3,
		q.q.qlen);
	return s.n / ((s.last_ns - t0) / 1e9);
}

struct steady {
	struct ctx *c;
	atomic_int stop;
	uint64_t sent;
};

static void *steady_sender(void *arg)
{
	struct steady *st = arg;

	while (!atomic_load(&st->stop))
		st->sent += blast(st->c, BATCH);
	return NULL;
}

static void *steady_control(void *arg)
{
	struct steady *st = arg;
	struct ctx *c = st->c;

	while (!atomic_load(&st->stop)) {
		nt_sleep_ms(13);
		close_epoch(c, &c->gn2, &c->rt2);
		nt_sleep_ms(12);
		release(c, &c->gn2, &c->rt2, c->epoch);
	}
	return NULL;
}

/*
 * Steady state for ms milliseconds: packets/s received. Whatever is still
 * held at the end is let out and drained before the next measurement.
 */
static double steady_once(struct ctx *c, unsigned int ms, uint64_t *drops)
{
	struct steady st = { .c = c };
	struct rxstat s = { .next_seq = c->seq };
	pthread_t ts, tc;
	struct nt_qdisc q;
	uint64_t t0, end;
	double pps;

	if (c->kind != K_PFIFO && pthread_create(&tc, NULL, steady_control, &st))
		die("thread", errno);
	if (pthread_create(&ts, NULL, steady_sender, &st))
		die("thread", errno);
	t0 = nt_now_ns();
	end = t0 + ms * 1000000ull;
	while (nt_now_ns() < end)
		rx(c, &s, s.n + 256, 10);
	pps = s.n / ((nt_now_ns() - t0) / 1e9);
	atomic_store(&st.stop, 1);
	pthread_join(ts, NULL);
	if (c->kind != K_PFIFO)
		pthread_join(tc, NULL);
	nt_qdisc_get(&c->p.rt_a, c->p.if_a, &q);
	*drops = q.q.drops;
	fprintf(stderr, "# steady %s: sent %llu, received %llu in %u ms, qdisc drops %u\n",
		kind_name[c->kind], (unsigned long long)st.sent, (unsigned long long)s.n, ms,
		q.q.drops);
	/* drain: close and release what the last epoch still holds */
	if (c->kind != K_PFIFO) {
		close_epoch(c, &c->p.gn, &c->p.rt_a);
		release(c, &c->p.gn, &c->p.rt_a, c->epoch);
	}
	rx(c, &s, UINT64_MAX, 100);
	return pps;
}

/* One datagram held, then released: microseconds to its arrival. */
static double latency_once(struct ctx *c)
{
	struct rxstat s = { .next_seq = c->seq };
	int64_t t0;

	blast(c, 1);
	wait_qlen(c, 1);
	close_epoch(c, &c->p.gn, &c->p.rt_a);
	t0 = realtime_ns();
	release(c, &c->p.gn, &c->p.rt_a, c->epoch);
	rx(c, &s, 1, 2000);
	if (s.n != 1)
		die("latency: datagram lost", EIO);
	return (s.last_ns - t0) / 1e3;
}

static double pct(double *v, unsigned int n, unsigned int p)
{
	unsigned int i = (n * p) / 100;

	qsort(v, n, sizeof(*v), cmp_double);
	return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
	unsigned int n_burst = 10000, reps = 21, steady_ms = 250, lat_reps = 301, big = 100000;
	unsigned int big_reps = 3, steady_reps = 41;
	static double burst[2][64], ratio[2][64], bigs[2][8], steady[3][64], sratio[64], lat[2][512];
	bool whole_burst[2] = { true, true }, whole_big[2] = { true, true };
	uint64_t drops[3] = { 0 }, d;
	struct ctx c[3];
	long backlog0;
	unsigned int r, k;

	if (argc > 1 && !strcmp(argv[1], "quick")) {
		n_burst = 2000, reps = 3, steady_ms = 100, lat_reps = 51, big = 20000;
		big_reps = 1, steady_reps = 5;
	}
	/* veth's receive backlog is not what is measured */
	backlog0 = nt_set_max_backlog(1000000);
	for (k = K_REMUS; k <= K_PFIFO; k++)
		ctx_setup(&c[k], k);

	/*
	 * Every measure alternates remus and sch_plug (and pfifo), sample by
	 * sample, so that the load of the host weighs on both alike; the
	 * ratio reported is the median of the per-round ratios.
	 */
	for (r = 0; r < reps; r++) {
		for (k = K_REMUS; k <= K_PLUG; k++)
			burst[k][r] = burst_once(&c[k], n_burst, &whole_burst[k]);
		ratio[0][r] = burst[0][r] / burst[1][r];
	}
	for (r = 0; r < big_reps; r++) {
		for (k = K_REMUS; k <= K_PLUG; k++)
			bigs[k][r] = burst_once(&c[k], big, &whole_big[k]);
		ratio[1][r] = bigs[0][r] / bigs[1][r];
	}
	for (r = 0; r < steady_reps; r++) {
		for (k = K_REMUS; k <= K_PFIFO; k++) {
			steady[k][r] = steady_once(&c[k], steady_ms, &d);
			drops[k] = d;
		}
		sratio[r] = steady[0][r] / steady[1][r];
	}
	for (r = 0; r < lat_reps; r++) {
		for (k = K_REMUS; k <= K_PLUG; k++)
			lat[k][r] = latency_once(&c[k]);
	}
	for (k = K_REMUS; k <= K_PFIFO; k++)
		ctx_teardown(&c[k]);
	nt_set_max_backlog(backlog0);

	printf("@ | measure | remus | sch_plug | remus / sch_plug |\n");
	printf("@ | --- | ---: | ---: | ---: |\n");
	printf("@ | release burst of %u, pkt/s (median of %u) | %.0f | %.0f | %.2f |\n",
	       n_burst, reps, median(burst[0], reps), median(burst[1], reps),
	       median(ratio[0], reps));
	printf("@ | release burst of %u, pkt/s (median of %u) | %.0f | %.0f | %.2f |\n",
	       big, big_reps, median(bigs[0], big_reps), median(bigs[1], big_reps),
	       median(ratio[1], big_reps));
	printf("@ | steady state, 25 ms epochs, pkt/s (median of %u) | %.0f | %.0f | %.2f |\n",
	       steady_reps, median(steady[0], steady_reps), median(steady[1], steady_reps),
	       median(sratio, steady_reps));
	printf("@ | hold-to-release latency, median, us (%u each) | %.0f | %.0f | %.2f |\n",
	       lat_reps, pct(lat[0], lat_reps, 50), pct(lat[1], lat_reps, 50),
	       pct(lat[0], lat_reps, 50) / pct(lat[1], lat_reps, 50));
	printf("@ | hold-to-release latency, 90th percentile, us | %.0f | %.0f | %.2f |\n",
	       pct(lat[0], lat_reps, 90), pct(lat[1], lat_reps, 90),
	       pct(lat[0], lat_reps, 90) / pct(lat[1], lat_reps, 90));
	printf("@ | hold-to-release latency, 99th percentile, us | %.0f | %.0f | %.2f |\n",
	       pct(lat[0], lat_reps, 99), pct(lat[1], lat_reps, 99),
	       pct(lat[0], lat_reps, 99) / pct(lat[1], lat_reps, 99));
	printf("@ \n");
	printf("@ Steady state without any buffering (pfifo, same path): %.0f pkt/s.\n",
	       median(steady[2], steady_reps));
	printf("@ Qdisc drops in steady state: remus %llu, sch_plug %llu, pfifo %llu.\n",
	       (unsigned long long)drops[0], (unsigned long long)drops[1],
	       (unsigned long long)drops[2]);
	printf("@ Every %u-datagram epoch arrived whole and in order: remus %s, sch_plug %s "
	       "(remus at its default limits; sch_plug's limit raised to 1 GiB, its "
	       "default of txqueuelen x MTU holds about 14,000 such datagrams).\n",
	       big, whole_big[0] ? "yes" : "NO", whole_big[1] ? "yes" : "NO");
	printf("@ Every burst of %u arrived whole and in order: remus %s, sch_plug %s.\n",
	       n_burst, whole_burst[0] ? "yes" : "NO", whole_burst[1] ? "yes" : "NO");
	return whole_big[0] && whole_burst[0] ? 0 : 1;
}
