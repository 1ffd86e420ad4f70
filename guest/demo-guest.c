// SPDX-License-Identifier: GPL-2.0
/*
 * demo-guest: the proc backend's demonstration guest.
 *
 * Every tick it advances a counter kept in its Remus region, writes a chosen
 * number of the region's pages (the dirty rate, for benchmarks), and sends
 * the counter in a UDP datagram to a client. It can also answer UDP and TCP
 * requests with the counter. Restored from a checkpoint image after a
 * failover, it carries on from the counter in the image.
 *
 * Consistency under a checkpoint taken at any instruction: the counter is
 * advanced before pages are stamped with it, so no page is ever ahead of the
 * counter; a value is recorded as sent only after it was sent, so a restored
 * guest re-sends a value the checkpoint may have cut short instead of
 * skipping it (a client may see a value twice across a failover, never a gap
 * and never a step back).
 *
 * With -D DEV it also writes every counter value to its disk, O_DIRECT, in
 * block (value mod N) of N 512-byte blocks, after advancing the counter and
 * before sending it. Restored, it checks its disk against its counter C:
 * no block holds a value above C, every value of C-N+1 .. C-1 is in its
 * block, and C's block holds C or C-N; it says "disk ok" or "disk BAD" in
 * its announcement to the client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/fs.h>
#include <unistd.h>

#include "demo_state.h"
#include "remus_guest.h"

struct config {
	uint64_t addr;
	uint64_t size;
	uint64_t tick_us;
	uint64_t dirty;
	uint64_t count;
	const char *client;
	const char *listen;
	const char *disk;
	bool verify;
	bool quiet;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: demo-guest [-s SIZE] [-a ADDR] [-t USEC] [-d PAGES]\n"
		"                  [-c HOST:PORT] [-l [ADDR:]PORT] [-n COUNT] [-D DEV] [-V] [-q]\n"
		"  -s SIZE        region size, K/M/G suffixes (default 64M)\n"
		"  -a ADDR        region address (default 0x%llx)\n"
		"  -t USEC        tick interval in microseconds (default 1000)\n"
		"  -d PAGES       distinct pages written per tick (default 16)\n"
		"  -c HOST:PORT   send the counter to this UDP address each tick\n"
		"                 (IPv6: [ADDR]:PORT)\n"
		"  -D DEV         write each counter value to this disk (O_DIRECT)\n"
		"  -l [ADDR:]PORT answer UDP datagrams and TCP connections on PORT\n"
		"                 with the counter (default address: all, v4 and v6)\n"
		"  -n COUNT       exit once the counter reaches COUNT\n"

		"  -V             after a restore, check the region's consistency\n"
		"  -q             quiet\n"
		"environment: " REMUS_GUEST_ENV_FD ", " REMUS_GUEST_ENV_DESC ", "
		REMUS_GUEST_ENV_IMAGE " (lib/proc/guest_proto.h)\n",
		(unsigned long long)REMUS_GUEST_DEFAULT_ADDR);
}

static int parse_size(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'G': case 'g':
		n <<= 10;
		/* fall through */
	case 'M': case 'm':
		n <<= 10;
		/* fall through */
	case 'K': case 'k':
		n <<= 10;
		end++;
		break;
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}

/* "host:port", "[v6]:port" or, with @port_only_ok, just "port". */
static int split_hostport(const char *s, char *host, size_t hlen, char *port,
			  size_t plen, bool port_only_ok)
{
	const char *colon;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= hlen)
			return -1;
		memcpy(host, s + 1, close - s - 1);
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			if (!port_only_ok)
				return -1;
			host[0] = '\0';
			colon = s - 1;
		} else {
			if (strchr(s, ':') != colon || (size_t)(colon - s) >= hlen)
				return -1;
			memcpy(host, s, colon - s);
			host[colon - s] = '\0';
		}
	}
	if (!colon[1] || strlen(colon + 1) >= plen)
		return -1;
	strcpy(port, colon + 1);
	return 0;
}

static int client_socket(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res, *ai;
	char host[256], port[32];
	int fd = -1, ret;

	if (split_hostport(spec, host, sizeof(host), port, sizeof(port), false)) {
		fprintf(stderr, "demo-guest: bad client address: %s\n", spec);
		return -1;
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "demo-guest: %s: %s\n", spec, gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "demo-guest: %s: cannot connect: %s\n", spec,
			strerror(errno));
	return fd;
}

/* Both sockets on [::] (dual-stack) unless an address is given. */
static int listen_sockets(const char *spec, int *udp, int *tcp)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE,
		.ai_family = AF_UNSPEC,
	}, *res, *ai;
	char host[256], port[32];
	int ret, one = 1, zero = 0, i;
	int *fds[2] = { udp, tcp };
	int types[2] = { SOCK_DGRAM, SOCK_STREAM };

	if (split_hostport(spec, host, sizeof(host), port, sizeof(port), true)) {
		fprintf(stderr, "demo-guest: bad listen address: %s\n", spec);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		hints.ai_socktype = types[i];
		if (!host[0])
			hints.ai_family = AF_INET6;
		ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
		if (ret && !host[0]) {
			hints.ai_family = AF_INET;
			ret = getaddrinfo(NULL, port, &hints, &res);
		}
		if (ret) {
			fprintf(stderr, "demo-guest: %s: %s\n", spec, gai_strerror(ret));
			return -1;
		}
		*fds[i] = -1;
		for (ai = res; ai && *fds[i] < 0; ai = ai->ai_next) {
			int fd = socket(ai->ai_family, types[i] | SOCK_NONBLOCK |
						       SOCK_CLOEXEC, 0);

			if (fd < 0)
				continue;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ai->ai_family == AF_INET6 && !host[0])
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
					   sizeof(zero));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) ||
			    (types[i] == SOCK_STREAM && listen(fd, 16))) {
				close(fd);
				continue;
			}
			*fds[i] = fd;
		}
		freeaddrinfo(res);
		if (*fds[i] < 0) {
			fprintf(stderr, "demo-guest: cannot listen on %s: %s\n",
				spec, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static void state_init(volatile struct demo_state *st, const struct remus_guest *g)
{
	uint64_t npages = g->app_size / g->page_size - 1, mult;

	/* an odd multiplier near npages * golden ratio, coprime to npages,
	 * spreads consecutive cursors over the whole region */
	mult = (uint64_t)((double)npages * 0.6180339887) | 1;
	while (gcd(mult, npages) != 1)
		mult += 2;
	st->counter = 0;
	st->sent = 0;
	st->cursor = 0;
	st->npages = npages;
	st->mult = mult % npages ? mult % npages : 1;
	st->add = npages / 3;
	st->magic = DEMO_MAGIC;
}

static volatile uint64_t *page_word(const struct remus_guest *g, uint64_t page)
{
	/* page 0 of the app area is the state */
	return (volatile uint64_t *)((char *)g->app + (page + 1) * g->page_size);
}

/* After a restore: no page stamped with a counter the state has not reached. */
static int verify(const struct remus_guest *g, volatile struct demo_state *st)
{
	uint64_t i, c = st->counter, stamped = 0;

	if (st->sent > c || (st->cursor && !c))
		return -1;
	for (i = 0; i < st->npages; i++) {
		uint64_t w = *page_word(g, i);

		if (w > c)
			return -1;
		stamped += !!w;
	}
	return stamped <= st->cursor ? 0 : -1;
}

static int format_counter(const struct remus_guest *g,
			  volatile struct demo_state *st, char *buf, size_t len)
{
	return snprintf(buf, len, "seq %" PRIu64 " gen %" PRIu64 "\n",
			st->counter, g->hdr->generation);
}

static void serve(const struct remus_guest *g, volatile struct demo_state *st,
		  int udp, int tcp)
{
	struct sockaddr_storage ss;
	char buf[128];
	socklen_t sl;
	int fd, len;

	for (;;) {
		sl = sizeof(ss);
		if (recvfrom(udp, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl) < 0)
			break;
		len = format_counter(g, st, buf, sizeof(buf));
		sendto(udp, buf, len, 0, (struct sockaddr *)&ss, sl);
	}
	while ((fd = accept4(tcp, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		len = format_counter(g, st, buf, sizeof(buf));
		/* one short line into a fresh socket buffer: never blocks */
		if (write(fd, buf, len) < 0) {
			/* the client went away; nothing to do */
		}
		close(fd);
	}
}

static void ts_add_us(struct timespec *t, uint64_t us)
{
	t->tv_sec += us / 1000000;
	t->tv_nsec += (us % 1000000) * 1000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static int64_t ts_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(a->tv_sec - b->tv_sec) * 1000000000 +
	       (a->tv_nsec - b->tv_nsec);
}

#define DISK_BLOCK	512
#define DISK_BLOCKS_MAX	4096

struct disk {
	int fd;
	uint64_t blocks;
	char *buf;		/* one aligned block */
};

static int disk_open(struct disk *d, const char *path)
{
	uint64_t bytes = 0;

	struct stat sb;

	d->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &sb) < 0 ||
	    (S_ISBLK(sb.st_mode) && ioctl(d->fd, BLKGETSIZE64, &bytes) < 0)) {
		fprintf(stderr, "demo-guest: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISBLK(sb.st_mode))
		bytes = (uint64_t)sb.st_size;
	d->blocks = bytes / DISK_BLOCK;
	if (d->blocks > DISK_BLOCKS_MAX)
		d->blocks = DISK_BLOCKS_MAX;
	if (!d->blocks || posix_memalign((void **)&d->buf, 4096, 4096)) {
		fprintf(stderr, "demo-guest: %s: too small\n", path);
		return -1;
	}
	return 0;
}

static int disk_write(struct disk *d, uint64_t v)
{
	memset(d->buf, 0, DISK_BLOCK);
	snprintf(d->buf, DISK_BLOCK, "remus-seq %" PRIu64 "\n", v);
	if (pwrite(d->fd, d->buf, DISK_BLOCK,
		   (off_t)((v % d->blocks) * DISK_BLOCK)) != DISK_BLOCK)
		return -1;
	return 0;
}

/* The value block i holds, 0 if never written. */
static int disk_read(struct disk *d, uint64_t i, uint64_t *v)
{
	if (pread(d->fd, d->buf, DISK_BLOCK, (off_t)(i * DISK_BLOCK)) !=
	    DISK_BLOCK)
		return -1;
	if (sscanf(d->buf, "remus-seq %" SCNu64, v) != 1)
		*v = 0;
	return 0;
}

/*
 * A restored disk against the restored counter c. Every value below c was
 * written (the counter moves on only after its value is out); c itself may
 * or may not have been. So block i holds the newest v <= c - 1 with
 * v % N == i (0 if none), or c when c % N == i.
 */
static bool disk_consistent(struct disk *d, uint64_t c)
{
	uint64_t i, v, prev;

	for (i = 0; i < d->blocks; i++) {
		if (disk_read(d, i, &v))
			return false;
		prev = 0;
		if (c >= 2 && c - 1 >= i)
			prev = (c - 1) - ((c - 1 - i) % d->blocks);
		if (v == prev)
			continue;
		if (c % d->blocks == i && v == c)
			continue;
		return false;
	}
	return true;
}

static int run(const struct config *cf, const struct remus_guest *g)
{
	volatile struct demo_state *st = g->app;
	struct timespec next, now;
	int out = -1, udp = -1, tcp = -1;
	char buf[128];
	uint64_t j;

	if (cf->client && (out = client_socket(cf->client)) < 0)
		return 1;
	if (cf->listen && listen_sockets(cf->listen, &udp, &tcp))
		return 1;
	if (cf->dirty > st->npages) {
		fprintf(stderr, "demo-guest: -d %" PRIu64 " is more than the "
			"region's %" PRIu64 " pages\n", cf->dirty, st->npages);
		return 1;
	}
	struct disk disk = { .fd = -1 };
	const char *disk_state = "";

	if (cf->disk) {
		if (disk_open(&disk, cf->disk))
			return 1;
		if (g->restored)
			disk_state = disk_consistent(&disk, st->counter) ?
				     " disk ok" : " disk BAD";
	}
	/*
	 * Tell the client where a restored state stands, so that it can
	 * check it never saw more (the output-commit proof's seqcheck).
	 */
	if (out >= 0 && g->restored) {
		int len = snprintf(buf, sizeof(buf), "restored %" PRIu64
				   " gen %" PRIu64 "%s\n", st->counter,
				   g->hdr->generation, disk_state);

		if (send(out, buf, len, 0) < 0) {
			/* as lossy as any datagram */
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		/* an output the last checkpoint may have cut short goes again */
		if (st->sent < st->counter) {
			if (disk.fd >= 0 && disk_write(&disk, st->counter)) {
				fprintf(stderr, "demo-guest: disk write: %s\n",
					strerror(errno));
				return 1;
			}
			if (out >= 0) {
				int len = format_counter(g, st, buf, sizeof(buf));

				/* a lost datagram is UDP's to lose */
				if (send(out, buf, len, 0) < 0) {
				}
			}
			st->sent = st->counter;
		}
		if (cf->count && st->counter >= cf->count)
			break;

		ts_add_us(&next, cf->tick_us);
		for (;;) {
			struct pollfd pfd[2] = {
				{ .fd = udp, .events = POLLIN },
				{ .fd = tcp, .events = POLLIN },
			};
			struct timespec left;
			int64_t ns;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ns = ts_diff_ns(&next, &now);
			if (ns <= 0 || stop)
				break;
			left.tv_sec = ns / 1000000000;
			left.tv_nsec = ns % 1000000000;
			if (ppoll(pfd, udp >= 0 ? 2 : 0, &left, NULL) > 0)
				serve(g, st, udp, tcp);
		}
		/* behind by more than a tick (stopped, or too slow): no burst */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_diff_ns(&now, &next) > (int64_t)cf->tick_us * 1000)
			next = now;

		st->counter++;
		for (j = 0; j < cf->dirty; j++) {
			uint64_t x = st->cursor, page;

			page = (uint64_t)(((unsigned __int128)st->mult * x + st->add) %
					  st->npages);
			st->cursor = x + 1;
			*page_word(g, page) = st->counter;
		}
	}
	if (!cf->quiet)
		printf("demo-guest: stopped at counter %" PRIu64 "\n", st->counter);
	return 0;
}

int main(int argc, char **argv)
{
	struct config cf = {
		.addr = REMUS_GUEST_DEFAULT_ADDR,
		.size = 64ULL << 20,
		.tick_us = 1000,
		.dirty = 16,
	};
	struct remus_guest_opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	volatile struct demo_state *st;
	struct remus_guest g;
	int c, ret;

	while ((c = getopt(argc, argv, "s:a:t:d:c:l:n:D:Vqh")) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &cf.size))
				goto bad;
			break;
		case 'a':
			if (parse_size(optarg, &cf.addr))
				goto bad;
			break;
		case 't':
			if (parse_size(optarg, &cf.tick_us) || !cf.tick_us)
				goto bad;
			break;
		case 'd':
			if (parse_size(optarg, &cf.dirty))
				goto bad;
			break;
		case 'c':
			cf.client = optarg;
			break;
		case 'D':
			cf.disk = optarg;
			break;
		case 'l':
			cf.listen = optarg;
			break;
		case 'n':
			if (parse_size(optarg, &cf.count))
				goto bad;
			break;
		case 'V':
			cf.verify = true;
			break;
		case 'q':
			cf.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		goto bad;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	o.addr = cf.addr;
	o.size = cf.size;
	/* announce ourselves only once a restored state has passed its checks */
	o.flags = REMUS_GUEST_F_LATE_READY;
	ret = remus_guest_init(&g, &o);
	if (ret) {
		fprintf(stderr, "demo-guest: region setup: %s\n", strerror(-ret));
		return 1;
	}
	if (g.app_size < 2 * g.page_size) {
		fprintf(stderr, "demo-guest: region too small\n");
		return 1;
	}
	st = g.app;
	if (g.restored) {
		if (st->magic != DEMO_MAGIC) {
			fprintf(stderr, "demo-guest: image holds no demo state\n");
			return 1;
		}
		if (cf.verify && verify(&g, st)) {
			fprintf(stderr, "demo-guest: restored region is inconsistent\n");
			return 1;
		}
	} else {
		state_init(st, &g);
	}
	ret = remus_guest_ready(&g);
	if (ret) {
		fprintf(stderr, "demo-guest: handshake: %s\n", strerror(-ret));
		return 1;
	}
	if (!cf.quiet) {
		printf("demo-guest: pid %d region 0x%" PRIx64 "+%" PRIu64
		       " tracking %s %s counter %" PRIu64 " generation %" PRIu64 "\n",
		       (int)getpid(), (uint64_t)(uintptr_t)g.base, g.size,
		       remus_guest_tracking_name(g.tracking),
		       g.restored ? "restored" : "fresh", st->counter,
		       g.hdr->generation);
		fflush(stdout);
	}
	ret = run(&cf, &g);
	remus_guest_fini(&g);
	return ret;
bad:
	usage(stderr);
	return 2;
}
