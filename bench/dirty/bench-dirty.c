// SPDX-License-Identifier: GPL-2.0
/*
 * bench-dirty: the cost of taking a proc guest's dirty pages, against the
 * floor, for region sizes and dirty page counts.
 *
 * A guest (forked here; libremus-guest region, userfaultfd WP_ASYNC, every
 * page populated) writes N distinct random pages of its region per epoch.
 * Each epoch is measured two ways:
 *
 *   plain  the guest writes its N pages; stop; harvest (PAGEMAP_SCAN with
 *          re-protect); copy them with process_vm_readv; resume.
 *   pre    the guest writes (100-F)% of its N pages; pre-harvest and copy
 *          while it "runs" (off the pause); it writes the last F% (new
 *          pages); stop; final harvest; copy; resume.
 *
 * and next to them the floor for the same N pages: the scan alone (the same
 * PAGEMAP_SCAN without re-protecting: knowing which pages) plus a memcpy of
 * the same pages from a populated local buffer of the region's size (copying
 * them, with no process boundary).
 *
 * Three tables (milliseconds). Cost: this thread's CPU time, median of -r
 * epochs: what each step costs when it has a CPU, which is what matters on
 * a shared, loaded host where wall time is mostly waiting for one. Then
 * wall time, best and median of -r epochs: stop (SIGSTOP until stopped),
 * harvest, copy, pause = stop + harvest + copy (SIGCONT follows: a few
 * microseconds), the floor, and for pre: the pre-harvest + copy off the
 * pause, and the pause that is left.
 *
 * usage: bench-dirty [-s 64M,256M,1G] [-n 1,16,256,4096,16384,65536]
 *                    [-r REPS] [-f LATE_PERCENT] [-R]
 * -R: run the measuring side SCHED_FIFO (the guest stays SCHED_OTHER).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../guest/remus_guest.h"
#include "proc/dirty.h"
#include "proc/kcompat.h"
#include "proc/proc.h"

#define BENCH_ADDR	0x330000000000ULL
#define MAX_N		65536
#define PS		4096

struct cmd {
	uint64_t off;
	uint64_t n;
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int full_read(int fd, void *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

static void __attribute__((noreturn))
guest(uint64_t size, const uint64_t *list, int cmd, int ack)
{
	struct remus_guest_opts o = {
		.addr = BENCH_ADDR, .size = size, .flags = REMUS_GUEST_F_NO_ENV,
	};
	struct remus_guest g;
	struct cmd c;
	uint64_t i, seq = 0;
	char a = 1;

	if (remus_guest_init(&g, &o))
		_exit(1);
	/* a guest that uses its memory: every page populated */
	for (i = 0; i < size / PS; i++)
		*(volatile uint64_t *)((char *)g.base + i * PS) = i;
	if (write(ack, &a, 1) != 1)
		_exit(1);
	while (!full_read(cmd, &c, sizeof(c))) {
		for (i = c.off; i < c.off + c.n; i++)
			((volatile uint64_t *)((char *)g.base + list[i] * PS))[i % 512] = ++seq;
		if (write(ack, &a, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

struct ctx {
	uint64_t size, npages;
	pid_t pid;
	int cmd, ack;
	uint64_t *list;			/* shared with the guest */
	uint32_t *perm;
	uint64_t seed;
	struct remus_dirty *d;
	struct remus_proc *p;
	struct remus_range r;
	struct remus_dirty_set set;
	char *staging;
	char *local;
	int pagemap;
	struct page_region *vec;
};

static int guest_write(struct ctx *x, uint64_t off, uint64_t n)
{
	struct cmd c = { off, n };
	char a;

	if (write(x->cmd, &c, sizeof(c)) != sizeof(c) || full_read(x->ack, &a, 1))
		return -EPIPE;
	return 0;
}

/* N distinct random pages: a partial Fisher-Yates shuffle. */
static void pick(struct ctx *x, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		uint64_t j = i + xorshift64(&x->seed) % (x->npages - i);
		uint32_t t = x->perm[i];

		x->perm[i] = x->perm[j];
		x->perm[j] = t;
		x->list[i] = x->perm[i];
	}
}

/* The floor's first half: which pages are written, without re-protecting. */
static int64_t scan_only(struct ctx *x, uint64_t *pages)
{
	uint64_t start = x->r.start, end = x->r.start + x->r.len;

	*pages = 0;
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end,
			.vec = (uintptr_t)x->vec, .vec_len = 4096,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(x->pagemap, PAGEMAP_SCAN, &a), i;

		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			*pages += (x->vec[i].end - x->vec[i].start) / PS;
		/* see harvest_scan() in lib/proc/dirty.c on walk_end */
		if (n < 4096 || a.walk_end >= end)
			break;
		start = a.walk_end;
	}
	return 0;
}

/* What each epoch measures; W_ wall time, C_ this thread's CPU time. */
enum {
	W_STOP, W_HARVEST, W_COPY, W_PAUSE, W_SCAN, W_MEMCPY, W_PRE_OFF, W_PRE_PAUSE,
	C_HARVEST, C_COPY, C_SCAN, C_MEMCPY, C_PRE_OFF, C_PRE_IN,
	NR_METRICS
};

struct stamp {
	uint64_t wall, cpu;
};

static struct stamp stamp(void)
{
	struct timespec ts;
	struct stamp st;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	st.wall = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	st.cpu = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return st;
}

static double ms_wall(struct stamp a, struct stamp b)
{
	return (b.wall - a.wall) / 1e6;
}

static double ms_cpu(struct stamp a, struct stamp b)
{
	return (b.cpu - a.cpu) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int epoch_plain(struct ctx *x, uint64_t n, double *m)
{
	struct stamp t0, t1, t2, t3;
	uint64_t seen, i;
	int ret;

	pick(x, n);
	if ((ret = guest_write(x, 0, n)))
		return ret;
	t0 = stamp();
	if ((ret = scan_only(x, &seen)))
		return ret;
	t1 = stamp();
	m[W_SCAN] = ms_wall(t0, t1);
	m[C_SCAN] = ms_cpu(t0, t1);
	/* the floor's scan must see just what the guest wrote */
	if (seen != n)
		return -EIO;
	t0 = stamp();
	if ((ret = remus_proc_suspend(x->p, -1)))
		return ret;
	t1 = stamp();
	if ((ret = remus_dirty_harvest(x->d, &x->set, 0)))
		return ret;
	t2 = stamp();
	if ((ret = remus_proc_read_pages(x->p, &x->r, 1, x->set.idx, x->set.count,
					 x->staging, 0)))
		return ret;
	t3 = stamp();
	if ((ret = remus_proc_resume(x->p)))
		return ret;
	if (x->set.count != n)
		return -EIO;
	m[W_STOP] = ms_wall(t0, t1);
	m[W_HARVEST] = ms_wall(t1, t2);
	m[C_HARVEST] = ms_cpu(t1, t2);
	m[W_COPY] = ms_wall(t2, t3);
	m[C_COPY] = ms_cpu(t2, t3);
	/*
	 * The guest runs again once SIGCONT is sent, a few microseconds into
	 * the resume (bench-suspend): the rest of the call (this thread
	 * preempted by the woken guest on a busy host) is no pause.
	 */
	m[W_PAUSE] = ms_wall(t0, t3);
	t0 = stamp();
	for (i = 0; i < n; i++)
		memcpy(x->staging + i * PS, x->local + x->list[i] * PS, PS);
	t1 = stamp();
	m[W_MEMCPY] = ms_wall(t0, t1);
	m[C_MEMCPY] = ms_cpu(t0, t1);
	return 0;
}

static int epoch_pre(struct ctx *x, uint64_t n, uint64_t late, double *m)
{
	struct stamp t0, t1, t2;
	int ret;

	pick(x, n);
	if ((ret = guest_write(x, 0, n - late)))
		return ret;
	t0 = stamp();
	if ((ret = remus_dirty_harvest(x->d, &x->set, REMUS_DIRTY_F_RUNNING)))
		return ret;
	if ((ret = remus_proc_read_pages(x->p, &x->r, 1, x->set.idx, x->set.count,
					 x->staging, 0)))
		return ret;
	t1 = stamp();
	m[W_PRE_OFF] = ms_wall(t0, t1);
	m[C_PRE_OFF] = ms_cpu(t0, t1);
	if (x->set.count != n - late)
		return -EIO;
	if ((ret = guest_write(x, n - late, late)))
		return ret;
	t0 = stamp();
	if ((ret = remus_proc_suspend(x->p, -1)))
		return ret;
	t1 = stamp();
	if ((ret = remus_dirty_harvest(x->d, &x->set, 0)))
		return ret;
	if ((ret = remus_proc_read_pages(x->p, &x->r, 1, x->set.idx, x->set.count,
					 x->staging, 0)))
		return ret;
	t2 = stamp();
	if ((ret = remus_proc_resume(x->p)))
		return ret;
	if (x->set.count != late)
		return -EIO;
	m[W_PRE_PAUSE] = ms_wall(t0, t2);
	m[C_PRE_IN] = ms_cpu(t1, t2);
	return 0;
}

static int start(struct ctx *x, uint64_t size)
{
	int cmd[2], ack[2], ret;
	char path[64], a;
	uint64_t i;

	x->size = size;
	x->npages = size / PS;
	x->r = (struct remus_range){ BENCH_ADDR, size };
	if (pipe(cmd) || pipe(ack))
		return -errno;
	x->pid = fork();
	if (x->pid < 0)
		return -errno;
	if (!x->pid) {
		close(cmd[1]);
		close(ack[0]);
		guest(size, x->list, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	x->cmd = cmd[1];
	x->ack = ack[0];
	if (full_read(x->ack, &a, 1))
		return -EPIPE;
	if ((ret = remus_proc_open(&x->p, x->pid, REMUS_PROC_F_CHILD)))
		return ret;
	if ((ret = remus_dirty_open(&x->d, x->pid, &x->r, 1,
				    &(struct remus_dirty_opts){
					    .method = REMUS_DIRTY_PAGEMAP_SCAN })))
		return ret;
	if ((ret = remus_dirty_set_init(&x->set, x->npages)))
		return ret;
	/* the first harvest takes the populating writes */
	if ((ret = remus_dirty_harvest(x->d, &x->set, 0)))
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)x->pid);
	x->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (x->pagemap < 0)
		return -errno;
	x->perm = malloc(x->npages * sizeof(*x->perm));
	x->local = malloc(size);
	if (!x->perm || !x->local)
		return -ENOMEM;
	for (i = 0; i < x->npages; i++)
		x->perm[i] = i;
	memset(x->local, 1, size);
	return 0;
}

static void stop(struct ctx *x)
{
	if (x->pid > 0) {
		kill(x->pid, SIGKILL);
		waitpid(x->pid, NULL, 0);
		close(x->cmd);
		close(x->ack);
	}
	x->pid = -1;
	remus_dirty_close(x->d);
	remus_proc_close(x->p);
	remus_dirty_set_fini(&x->set);
	if (x->pagemap >= 0)
		close(x->pagemap);
	free(x->perm);
	free(x->local);
	x->d = NULL;
	x->p = NULL;
	x->perm = NULL;
	x->local = NULL;
	x->pagemap = -1;
}

static int parse_list(const char *s, uint64_t *v, int max)
{
	char buf[256], *tok, *save, *end;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long x = strtoull(tok, &end, 0);

		if (*end == 'G' || *end == 'g')
			x <<= 30, end++;
		else if (*end == 'M' || *end == 'm')
			x <<= 20, end++;
		else if (*end == 'K' || *end == 'k')
			x <<= 10, end++;
		if (*end || !x)
			return -1;
		v[n++] = x;
	}
	return n;
}

#define ROW_MAX 128

int main(int argc, char **argv)
{
	uint64_t sizes[8], counts[16];
	int nsizes, ncounts, reps = 11, late_pct = 10, c, si, ci, r, k, nrows = 0;
	struct ctx x = { .pid = -1, .pagemap = -1, .seed = 0x2545f4914f6cdd1dULL };
	static double v[NR_METRICS][64];
	static double med[ROW_MAX][NR_METRICS], best[ROW_MAX][NR_METRICS];
	static uint64_t row_size[ROW_MAX], row_n[ROW_MAX];

	nsizes = parse_list("64M,256M,1G", sizes, 8);
	ncounts = parse_list("1,16,256,4096,16384,65536", counts, 16);
	while ((c = getopt(argc, argv, "s:n:r:f:R")) != -1) {
		switch (c) {
		case 's':
			nsizes = parse_list(optarg, sizes, 8);
			break;
		case 'n':
			ncounts = parse_list(optarg, counts, 16);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'f':
			late_pct = atoi(optarg);
			break;
		case 'R': {
			/* the measuring side real-time, as remusd may run; the
			 * guest it forks goes back to SCHED_OTHER */
			struct sched_param sp = { .sched_priority = 10 };

			if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp)) {
				perror("sched_setscheduler");
				return 1;
			}
			break;
		}
		default:
			goto usage;
		}
	}
	if (nsizes <= 0 || ncounts <= 0 || reps < 1 || reps > 64 ||
	    late_pct < 1 || late_pct > 100)
		goto usage;
	if (sysconf(_SC_PAGESIZE) != PS) {
		fprintf(stderr, "bench-dirty: needs 4 KiB pages\n");
		return 1;
	}
	x.list = mmap(NULL, MAX_N * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	x.staging = malloc((size_t)MAX_N * PS);
	x.vec = calloc(4096, sizeof(*x.vec));
	if (x.list == MAP_FAILED || !x.staging || !x.vec)
		return 1;
	memset(x.staging, 1, (size_t)MAX_N * PS);

	for (si = 0; si < nsizes; si++) {
		int ret = start(&x, sizes[si]);

		if (ret) {
			fprintf(stderr, "bench-dirty: guest of %" PRIu64 " MiB: %s\n",
				sizes[si] >> 20, strerror(-ret));
			return 1;
		}
		for (ci = 0; ci < ncounts && nrows < ROW_MAX; ci++) {
			uint64_t n = counts[ci], late = (n * late_pct + 99) / 100;
			double m[NR_METRICS];

			if (n > MAX_N || n >= x.npages)
				continue;
			for (r = 0; r < reps; r++) {
				ret = epoch_plain(&x, n, m);
				if (!ret)
					ret = epoch_pre(&x, n, late, m);
				if (ret) {
					fprintf(stderr, "bench-dirty: %" PRIu64 " MiB, %"
						PRIu64 " pages: %s\n", sizes[si] >> 20,
						n, strerror(-ret));
					return 1;
				}
				for (k = 0; k < NR_METRICS; k++)
					v[k][r] = m[k];
			}
			for (k = 0; k < NR_METRICS; k++) {
				qsort(v[k], reps, sizeof(double), cmp_d);
				med[nrows][k] = v[k][reps / 2];
				best[nrows][k] = v[k][0];
			}
			row_size[nrows] = sizes[si] >> 20;
			row_n[nrows] = n;
			fprintf(stderr, "bench-dirty: %" PRIu64 " MiB, %" PRIu64
				" pages: done\n", sizes[si] >> 20, n);
			nrows++;
		}
		stop(&x);
	}

	printf("Cost: this thread's CPU time, median of %d epochs, ms\n\n"
	       "| region | dirty pages | harvest | copy | harvest + copy | "
	       "floor: scan | floor: memcpy | floor | pre: off-pause | pre: in-pause |\n"
	       "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
	       reps);
	for (r = 0; r < nrows; r++) {
		const double *q = med[r];

		printf("| %" PRIu64 " MiB | %" PRIu64 " | %.3f | %.3f | %.3f | %.3f | "
		       "%.3f | %.3f | %.3f | %.3f |\n", row_size[r], row_n[r],
		       q[C_HARVEST], q[C_COPY], q[C_HARVEST] + q[C_COPY], q[C_SCAN],
		       q[C_MEMCPY], q[C_SCAN] + q[C_MEMCPY], q[C_PRE_OFF], q[C_PRE_IN]);
	}
	for (k = 0; k < 2; k++) {
		printf("\nWall time, %s of %d epochs, ms\n\n"
		       "| region | dirty pages | stop | harvest | copy | pause | floor | "
		       "pre: off-pause | pre: pause |\n"
		       "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
		       k ? "median" : "best", reps);
		for (r = 0; r < nrows; r++) {
			const double *q = k ? med[r] : best[r];

			printf("| %" PRIu64 " MiB | %" PRIu64 " | %.3f | %.3f | %.3f | "
			       "%.3f | %.3f | %.3f | %.3f |\n", row_size[r], row_n[r],
			       q[W_STOP], q[W_HARVEST], q[W_COPY], q[W_PAUSE],
			       q[W_SCAN] + q[W_MEMCPY], q[W_PRE_OFF], q[W_PRE_PAUSE]);
		}
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench-dirty [-s SIZES] [-n COUNTS] [-r REPS 1-64] "
		"[-f LATE_PERCENT] [-R]\n");
	return 2;
}
