// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side (guest/remus_guest.c, guest/demo-guest.c) and its protocol
 * with the daemon (lib/proc/guest_proto.c): the handshake descriptor, the
 * region header, restore from an image, and demo-guest carrying on from its
 * counter after a failover, over IPv6 and IPv4.
 *
 * demo-guest is found at $REMUS_DEMO_GUEST, next to this binary (the VM
 * suite), or at ../../demo-guest from it (the build tree).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../../guest/demo_state.h"
#include "proc/dirty.h"
#include "proc/proc.h"
#include "test_proc_util.h"

#define IN_PROC_ADDR	0x320000000000ULL

static char demo_path[PATH_MAX + 32];
static char tmpdir[PATH_MAX];

static int find_demo(void)
{
	const char *env = getenv("REMUS_DEMO_GUEST");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(demo_path, sizeof(demo_path), "%s", env);
		return access(demo_path, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(demo_path, sizeof(demo_path), "%s/demo-guest", dirname(self));
	if (!access(demo_path, X_OK))
		return 0;
	snprintf(demo_path, sizeof(demo_path), "%s/../../demo-guest", self);
	return access(demo_path, X_OK);
}

static int t_desc_round_trip(struct tctx *c)
{
	struct remus_guest_desc d = {
		.version = 1, .pid = 4242, .addr = 0x200000000000ULL,
		.size = 64 << 20, .page_size = 4096,
		.tracking = REMUS_GUEST_TRACK_UFFD_WP_ASYNC,
		.uffd_features = 0xa000, .restored = true, .generation = 3,
	}, e;
	char buf[REMUS_GUEST_DESC_MAX];
	int ret = T_PASS, len;

	len = remus_guest_desc_format(&d, buf, sizeof(buf));
	CHECK(c, len > 0, "format: expected a length, saw %d", len);
	CHECK_OK(c, remus_guest_desc_parse(buf, len, &e));
	CHECK(c, d.version == e.version && d.pid == e.pid && d.addr == e.addr &&
	      d.size == e.size && d.page_size == e.page_size &&
	      d.tracking == e.tracking && d.uffd_features == e.uffd_features &&
	      d.restored == e.restored && d.generation == e.generation,
	      "parsed descriptor differs from:\n%s", buf);
	CHECK_EQ(c, -ENOSPC, remus_guest_desc_format(&d, buf, 20), "format into 20 bytes");
out:
	return ret;
}

static int t_desc_rejects(struct tctx *c)
{
	static const char *const bad[] = {
		"",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none",
		"remus-guest 2\npid 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none\n",
		"remus-guest 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none\n",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192x\npage-size 4096\ntracking none\n",
		"remus-guest 1\npid -1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none\n",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking magic\n",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8000\npage-size 4096\ntracking none\n",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192\npage-size 4095\ntracking none\n",
		"remus-guest 1\npid 1\naddr 0x1001\nsize 8192\npage-size 4096\ntracking none\n",
		"pid 1\nremus-guest 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none\n",
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192\npage-size 4096\ntracking none\nrestored 2\n",
	};
	static const char good_later[] =
		"remus-guest 1\npid 1\naddr 0x1000\nsize 8192\npage-size 4096\n"
		"tracking none\ncolour blue\n";
	struct remus_guest_desc d;
	int ret = T_PASS;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(c, remus_guest_desc_parse(bad[i], strlen(bad[i]), &d) == -EINVAL,
		      "accepted malformed descriptor %zu:\n%s", i, bad[i]);
	CHECK_OK(c, remus_guest_desc_parse(good_later, strlen(good_later), &d));
	CHECK_EQ(c, 8192, d.size, "size with an unknown key present");
out:
	return ret;
}

static int t_init_refuses(struct tctx *c)
{
	struct remus_guest_opts o = {
		.addr = IN_PROC_ADDR, .size = 1 << 20, .flags = REMUS_GUEST_F_NO_ENV,
	};
	struct remus_guest g;
	void *blocker;
	int ret = T_PASS;

	blocker = mmap((void *)(uintptr_t)(IN_PROC_ADDR + (512 << 10)), 4096,
		       PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);
	CHECK(c, blocker != MAP_FAILED, "mmap of the blocker: %s", strerror(errno));
	CHECK_EQ(c, -EEXIST, remus_guest_init(&g, &o), "init over a mapping");
	munmap(blocker, 4096);
	o.size = 4096;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "one-page region");
	o.size = (1 << 20) + 1;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "unaligned size");
	o.size = 1 << 20;
	o.addr = IN_PROC_ADDR + 1;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "unaligned address");
	o.addr = IN_PROC_ADDR;
	o.flags = 1u << 30;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "unknown flag");
out:
	return ret;
}

/*
 * An image as the backup keeps one: a sparse file with only the non-zero
 * pages written.
 */
static int write_image(const char *path, const char *img, size_t size, size_t ps)
{
	static const char zero[65536];
	size_t off;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0)
		ret = -errno;
	for (off = 0; !ret && off < size; off += ps) {
		if (!memcmp(img + off, zero, ps))
			continue;
		if (pwrite(fd, img + off, ps, off) != (ssize_t)ps)
			ret = -EIO;
	}
	close(fd);
	return ret;
}

/* The descriptor, written atomically to a file named in the options. */
static int t_desc_file(struct tctx *c)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], buf[REMUS_GUEST_DESC_MAX];
	struct remus_guest_opts o = {
		.addr = IN_PROC_ADDR, .size = 1 << 20, .flags = REMUS_GUEST_F_NO_ENV,
	};
	struct remus_guest_desc d;
	struct remus_guest g = { .uffd = -1 };
	ssize_t n;
	int ret = T_PASS, fd = -1;

	snprintf(path, sizeof(path), "%s/desc", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	o.desc_path = path;
	CHECK_OK(c, remus_guest_init(&g, &o));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(c, fd >= 0, "no descriptor file: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf));
	CHECK(c, n > 0, "empty descriptor file");
	CHECK_OK(c, remus_guest_desc_parse(buf, n, &d));
	CHECK_EQ(c, getpid(), d.pid, "pid");
	CHECK_EQ(c, IN_PROC_ADDR, d.addr, "addr");
	CHECK_EQ(c, 1 << 20, d.size, "size");
	CHECK_EQ(c, 0, d.restored, "restored");
	CHECK_EQ(c, g.tracking, d.tracking, "tracking");
	CHECK(c, access(tmp, F_OK) < 0, "temporary file left behind");
out:
	if (fd >= 0)
		close(fd);
	remus_guest_fini(&g);
	unlink(path);
	return ret;
}

/*
 * Restore in this process: contents back, holes left unpopulated, header
 * checked, generation bumped; foreign images refused.
 */
static int t_restore_in_process(struct tctx *c)
{
	const size_t size = 64 * 4096, ps = 4096;
	struct remus_guest_opts o = {
		.addr = IN_PROC_ADDR, .size = size, .flags = REMUS_GUEST_F_NO_ENV,
	};
	char path[PATH_MAX + 16], *img = NULL;
	struct remus_guest g = { .uffd = -1 };
	struct remus_guest_hdr *h;
	uint64_t pm[64];
	int ret = T_PASS, i, resident = 0, fd;

	CHECK(c, sysconf(_SC_PAGESIZE) == 4096, "test assumes 4 KiB pages");
	snprintf(path, sizeof(path), "%s/image", tmpdir);
	img = calloc(1, size);
	CHECK(c, img, "out of memory");
	h = (struct remus_guest_hdr *)img;
	memcpy(h->magic, REMUS_GUEST_HDR_MAGIC, 8);
	h->version = REMUS_GUEST_HDR_VERSION;
	h->hdr_size = sizeof(*h);
	h->addr = IN_PROC_ADDR;
	h->size = size;
	h->app_off = ps;
	h->generation = 4;
	for (i = 1; i < 64; i += 7)
		memset(img + i * ps, i, ps);
	CHECK_OK(c, write_image(path, img, size, ps));

	o.image = path;
	CHECK_OK(c, remus_guest_init(&g, &o));
	CHECK(c, g.restored, "not marked restored");
	CHECK_EQ(c, 5, g.hdr->generation, "generation after restore");
	h->generation = 5;
	/* pagemap's present bit: mincore counts uffd-wp markers as resident */
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	CHECK(c, fd >= 0, "pagemap: %s", strerror(errno));
	CHECK(c, pread(fd, pm, sizeof(pm), IN_PROC_ADDR / ps * 8) == sizeof(pm),
	      "pagemap read");
	close(fd);
	for (i = 0; i < 64; i++)
		resident += pm[i] >> 63;
	/* header + 9 data pages, not 64: holes stay holes */
	CHECK(c, resident <= 10, "expected at most 10 resident pages, saw %d", resident);
	/* (reading the holes maps the zero page: compare only after counting) */
	CHECK(c, !memcmp(g.base, img, size), "restored region differs from image");
	remus_guest_fini(&g);

	o.size = size * 2;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "image of another size");
	o.size = size;
	o.addr = IN_PROC_ADDR + size * 4;
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "image of another address");
	o.addr = IN_PROC_ADDR;
	memcpy(h->magic, "NOTREMUS", 8);
	CHECK_OK(c, write_image(path, img, size, ps));
	CHECK_EQ(c, -EINVAL, remus_guest_init(&g, &o), "image without the magic");
	o.image = "/nonexistent/image";
	CHECK_EQ(c, -ENOENT, remus_guest_init(&g, &o), "missing image");
out:
	remus_guest_fini(&g);
	free(img);
	unlink(path);
	return ret;
}

/* ---- demo-guest ---- */

static int udp_sink(int family, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
					   ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/*
 * Next "seq N gen G" datagram: 0, or -1 on timeout or garbage. A restored
 * guest first announces "restored C gen G"; that goes to *@restored (if
 * given) and the wait goes on.
 */
static int recv_seq_r(int fd, int timeout_ms, uint64_t *seq, uint64_t *gen,
		      uint64_t *restored)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned long long s, g;
	char buf[128];
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -1;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return -1;
		buf[n] = '\0';
		if (sscanf(buf, "restored %llu gen %llu\n", &s, &g) == 2) {
			if (restored)
				*restored = s;
			continue;
		}
		if (sscanf(buf, "seq %llu gen %llu\n", &s, &g) != 2)
			return -1;
		*seq = s;
		*gen = g;
		return 0;
	}
}

static int recv_seq(int fd, int timeout_ms, uint64_t *seq, uint64_t *gen)
{
	return recv_seq_r(fd, timeout_ms, seq, gen, NULL);
}

static void drain(int fd, uint64_t *max_seq)
{
	uint64_t s, g;

	while (!recv_seq(fd, 50, &s, &g))
		if (s > *max_seq)
			*max_seq = s;
}

static int spawn_demo(const char *const *argv, const char *image,
		      pid_t *pid, struct remus_guest_desc *d)
{
	struct remus_spawn s = { .argv = argv, .image = image, .timeout_ms = 10000 };

	return remus_proc_spawn(&s, pid, d);
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*pid = -1;
}

/*
 * The whole proc backend in miniature: run demo-guest (IPv6 client), take a
 * base copy and 30 incremental checkpoints with the dirty tracker, kill it,
 * start it again from the assembled image, and check that it carries on
 * from the checkpoint's counter (re-sending the value the checkpoint had not
 * recorded as sent, if any), with -V checking the image's consistency.
 */
static int t_demo_failover(struct tctx *c)
{
	const uint64_t size = 8 << 20;
	char path[PATH_MAX + 16], port_arg[64], *image = NULL, *truth = NULL;
	const char *argv[] = { demo_path, "-q", "-V", "-s", "8M", "-t", "1000",
			       "-d", "64", "-c", port_arg, NULL };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct remus_proc *p = NULL;
	struct remus_guest_desc desc;
	struct demo_state st;
	struct remus_range r;
	uint64_t seq, gen, prev = 0, max_seen = 0, expect, announced = 0;
	pid_t pid = -1;
	uint16_t port;
	int ret = T_PASS, sock = -1, e, i;

	sock = udp_sink(c->arg, &port);
	CHECK(c, sock >= 0, "no UDP socket: %s", strerror(errno));
	if (c->arg == AF_INET6)
		snprintf(port_arg, sizeof(port_arg), "[::1]:%u", port);
	else
		snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", port);
	snprintf(path, sizeof(path), "%s/demo-image", tmpdir);
	image = malloc(size);
	truth = malloc(size);
	CHECK(c, image && truth, "out of memory");

	CHECK_OK(c, spawn_demo(argv, NULL, &pid, &desc));
	CHECK_EQ(c, pid, desc.pid, "descriptor pid");
	CHECK_EQ(c, size, desc.size, "descriptor size");
	CHECK_EQ(c, 0, desc.restored, "fresh guest restored");
	for (i = 0; i < 5; i++) {
		CHECK(c, !recv_seq(sock, 2000, &seq, &gen), "no datagram from the guest");
		CHECK(c, seq > prev, "sequence went from %" PRIu64 " to %" PRIu64, prev, seq);
		CHECK_EQ(c, 0, gen, "generation of a fresh guest");
		prev = seq;
	}

	r = (struct remus_range){ desc.addr, desc.size };
	CHECK_OK(c, remus_proc_open(&p, pid, REMUS_PROC_F_CHILD));
	CHECK_OK(c, remus_dirty_open(&d, pid, &r, 1, NULL));
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_proc_suspend(p, 5000));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_OK(c, remus_proc_read(p, r.start, image, size));
	CHECK_OK(c, remus_proc_resume(p));
	for (e = 0; e < 30; e++) {
		tsleep_us(3000);
		CHECK_OK(c, remus_proc_suspend(p, 5000));
		CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
		CHECK_OK(c, remus_proc_read_pages(p, &r, 1, s.idx, s.count, image,
						  REMUS_PROC_READ_MIRROR));
		if (e < 29)
			CHECK_OK(c, remus_proc_resume(p));
	}
	/* the last checkpoint: the guest is stopped here, then dies */
	CHECK_OK(c, remus_proc_read(p, r.start, truth, size));
	CHECK(c, !memcmp(image, truth, size), "assembled image differs from the guest");
	reap(&pid);
	memcpy(&st, image + 4096, sizeof(st));
	CHECK_EQ(c, DEMO_MAGIC, st.magic, "demo state magic in the image");
	CHECK(c, st.counter > 10, "counter only %" PRIu64 " after 30 epochs", st.counter);
	drain(sock, &max_seen);
	CHECK(c, max_seen <= st.counter, "saw %" PRIu64 " beyond the checkpoint's %"
	      PRIu64, max_seen, st.counter);
	CHECK_OK(c, write_image(path, image, size, 4096));

	/* failover */
	CHECK_OK(c, spawn_demo(argv, path, &pid, &desc));
	CHECK_EQ(c, 1, desc.restored, "restored flag in the descriptor");
	CHECK_EQ(c, 1, desc.generation, "generation in the descriptor");
	expect = st.sent < st.counter ? st.counter : st.counter + 1;
	CHECK(c, !recv_seq_r(sock, 2000, &seq, &gen, &announced),
	      "no datagram after failover");
	CHECK_EQ(c, st.counter, announced, "counter the restored guest announced");
	CHECK_EQ(c, expect, seq, "first value after failover");
	CHECK_EQ(c, 1, gen, "generation after failover");
	for (i = 0; i < 5; i++) {
		prev = seq;
		CHECK(c, !recv_seq(sock, 2000, &seq, &gen), "no datagram after failover");
		CHECK_EQ(c, prev + 1, seq, "next value after failover");
	}
	tmsg(c, "checkpoint counter %" PRIu64 " (sent %" PRIu64 "), restored guest "
	     "went on at %" PRIu64, st.counter, st.sent, expect);

	/*
	 * The other side of the send/record race, made on purpose: the same
	 * checkpoint, with the last value recorded sent or not.
	 */
	reap(&pid);
	drain(sock, &max_seen);
	st.sent = st.sent < st.counter ? st.counter : st.counter - 1;
	memcpy(image + 4096, &st, sizeof(st));
	CHECK_OK(c, write_image(path, image, size, 4096));
	CHECK_OK(c, spawn_demo(argv, path, &pid, &desc));
	expect = st.sent < st.counter ? st.counter : st.counter + 1;
	CHECK(c, !recv_seq(sock, 2000, &seq, &gen), "no datagram after 2nd failover");
	CHECK_EQ(c, expect, seq, "first value after failover, sent flipped");
out:
	reap(&pid);
	if (sock >= 0)
		close(sock);
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	remus_proc_close(p);
	free(image);
	free(truth);
	unlink(path);
	return ret;
}

/* A restored demo-guest refuses an image that is not its own. */
static int t_demo_refuses_foreign_image(struct tctx *c)
{
	const char *a8[] = { demo_path, "-q", "-s", "8M", "-d", "4", NULL };
	const char *a16[] = { demo_path, "-q", "-s", "16M", "-d", "4", NULL };
	const char *aother[] = { demo_path, "-q", "-s", "8M", "-a", "0x210000000000",
				 "-d", "4", NULL };
	char path[PATH_MAX + 16], *image = NULL;
	struct remus_guest_desc desc;
	struct remus_proc *p = NULL;
	pid_t pid = -1;
	int ret = T_PASS;

	snprintf(path, sizeof(path), "%s/foreign", tmpdir);
	image = malloc(8 << 20);
	CHECK(c, image, "out of memory");
	CHECK_OK(c, spawn_demo(a8, NULL, &pid, &desc));
	CHECK_OK(c, remus_proc_open(&p, pid, REMUS_PROC_F_CHILD));
	tsleep_us(20000);
	CHECK_OK(c, remus_proc_suspend(p, 5000));
	CHECK_OK(c, remus_proc_read(p, desc.addr, image, 8 << 20));
	reap(&pid);
	CHECK_OK(c, write_image(path, image, 8 << 20, 4096));
	/* the control: its own image is taken */
	CHECK_OK(c, spawn_demo(a8, path, &pid, &desc));
	CHECK_EQ(c, 1, desc.restored, "restored from its own image");
	reap(&pid);
	CHECK_EQ(c, -EPIPE, spawn_demo(a16, path, &pid, &desc), "image of another size");
	CHECK_EQ(c, -EPIPE, spawn_demo(aother, path, &pid, &desc), "image of another address");
	memset(image + 4096, 0, 4096);
	CHECK_OK(c, write_image(path, image, 8 << 20, 4096));
	CHECK_EQ(c, -EPIPE, spawn_demo(a8, path, &pid, &desc), "image without demo state");
out:
	reap(&pid);
	remus_proc_close(p);
	free(image);
	unlink(path);
	return ret;
}

/* Requests over UDP/IPv6 and TCP/IPv4 on a dual-stack listener. */
static int t_demo_answers(struct tctx *c)
{
	char listen_arg[32], buf[128];
	const char *argv[] = { demo_path, "-q", "-s", "4M", "-l", listen_arg, NULL };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct remus_guest_desc desc;
	unsigned long long s1 = 0, s2 = 0, g;
	uint16_t port;
	pid_t pid = -1;
	int ret = T_PASS, u = -1, t = -1, probe, k;
	ssize_t n;

	/* a port free a moment ago */
	probe = udp_sink(AF_INET6, &port);
	CHECK(c, probe >= 0, "no UDP socket");
	close(probe);
	snprintf(listen_arg, sizeof(listen_arg), "%u", port);
	CHECK_OK(c, spawn_demo(argv, NULL, &pid, &desc));
	a6.sin6_port = htons(port);
	a4.sin_port = htons(port);

	u = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(c, u >= 0, "socket");
	for (k = 0, n = -1; k < 50 && n <= 0; k++) {
		struct pollfd pfd = { .fd = u, .events = POLLIN };

		sendto(u, "?", 1, 0, (struct sockaddr *)&a6, sizeof(a6));
		if (poll(&pfd, 1, 100) == 1)
			n = recv(u, buf, sizeof(buf) - 1, 0);
	}
	CHECK(c, n > 0, "no UDP answer over IPv6");
	buf[n] = '\0';
	CHECK(c, sscanf(buf, "seq %llu gen %llu", &s1, &g) == 2, "UDP answer: %s", buf);

	tsleep_us(20000);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c, t >= 0 && !connect(t, (struct sockaddr *)&a4, sizeof(a4)),
	      "TCP connect over IPv4: %s", strerror(errno));
	n = read(t, buf, sizeof(buf) - 1);
	CHECK(c, n > 0, "no TCP answer");
	buf[n] = '\0';
	CHECK(c, sscanf(buf, "seq %llu gen %llu", &s2, &g) == 2, "TCP answer: %s", buf);
	CHECK(c, s2 > s1, "counter did not advance between answers: %llu then %llu", s1, s2);
out:
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	reap(&pid);
	return ret;
}

static const struct tcase tests[] = {
	{ "descriptor_round_trip", t_desc_round_trip, 0 },
	{ "descriptor_rejects_malformed", t_desc_rejects, 0 },
	{ "init_refuses_bad_options_and_taken_address", t_init_refuses, 0 },
	{ "descriptor_file_written_atomically", t_desc_file, 0 },
	{ "restore_in_process_keeps_holes_checks_header", t_restore_in_process, 0 },
	{ "demo_continues_from_checkpoint_counter/ipv6", t_demo_failover, AF_INET6 },
	{ "demo_continues_from_checkpoint_counter/ipv4", t_demo_failover, AF_INET },
	{ "demo_refuses_foreign_image", t_demo_refuses_foreign_image, 0 },
	{ "demo_answers_udp6_and_tcp4", t_demo_answers, 0 },
};

int main(void)
{
	char tmpl[] = "/tmp/remus-test-guest.XXXXXX";
	int ret;

	if (!mkdtemp(tmpl)) {
		perror("test_guest: mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	if (find_demo()) {
		printf("TAP version 13\n1..0 # SKIP demo-guest not found at %s\n",
		       demo_path);
		rmdir(tmpdir);
		return 1;
	}
	ret = tap_run(tests, sizeof(tests) / sizeof(tests[0]));
	rmdir(tmpdir);
	return ret;
}
