// SPDX-License-Identifier: GPL-2.0
/*
 * engbench's shared pieces: see engbench.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "engbench.h"
#include "link.h"
#include "proc/kcompat.h"
#include "remus_guest.h"

uint8_t bench_key[32];

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "engbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int parse_list(const char *s, uint64_t *v, int max)
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

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double q_of(double *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_d);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* ---- the guest ---- */

static int full_read(int fd, void *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

struct cmd {
	uint64_t off, n;
};

static void __attribute__((noreturn))
guest_main(uint64_t size, struct gshared *sh, bool free, bool no_uffd,
	   int descfd, int cmd, int ack)
{
	struct remus_guest_opts o = {
		.addr = BENCH_ADDR, .size = size,
		.flags = REMUS_GUEST_F_NO_ENV | (no_uffd ? REMUS_GUEST_F_NO_UFFD : 0),
		.desc_fd = descfd,
	};
	struct remus_guest g;
	uint64_t i, seq = 0, seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	char *base;
	struct cmd c;
	char a = 1;

	if (remus_guest_init(&g, &o))
		_exit(1);
	base = g.base;
	/* a guest that uses its memory: every page populated */
	for (i = 0; i < size / PS; i++)
		*(volatile uint64_t *)(base + i * PS + 8) = i;
	if (write(ack, &a, 1) != 1)
		_exit(1);
	if (free) {
		while (!sh->stop) {
			uint64_t ws = sh->ws;

			for (i = 0; i < 4096; i++) {
				uint64_t x = xorshift64(&seed);
				uint64_t page = 1 + x % ws, word = (x >> 40) % 512;

				((volatile uint64_t *)(base + page * PS))[word] = ++seq;
			}
			sh->count += 4096;
			{
				struct timespec ts;

				clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
				sh->cpu_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
					     (uint64_t)ts.tv_nsec;
			}
		}
		_exit(0);
	}
	while (!full_read(cmd, &c, sizeof(c))) {
		/* one word a page, somewhere in it: a sparse update */
		struct timespec ts;

		for (i = c.off; i < c.off + c.n; i++) {
			seq++;
			((volatile uint64_t *)(base + sh->list[i] * PS))[seq % 512] = seq;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		sh->cpu_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		if (write(ack, &a, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

int guest_start(struct guest *g, uint64_t size, bool free, bool no_uffd)
{
	int cmd[2], ack[2], desc[2], ret;
	uint64_t i;
	char a;

	memset(g, 0, sizeof(*g));
	g->size = size;
	g->npages = size / PS;
	g->seed = 0x2545f4914f6cdd1dULL;
	g->sh = mmap(NULL, sizeof(*g->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	g->perm = malloc(g->npages * sizeof(*g->perm));
	if (g->sh == MAP_FAILED || !g->perm)
		return -ENOMEM;
	for (i = 0; i < g->npages; i++)
		g->perm[i] = (uint32_t)i;
	g->sh->ws = g->npages - 1;
	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC) || pipe(desc))
		return -errno;
	g->pid = fork();
	if (g->pid < 0)
		return -errno;
	if (!g->pid) {
		close(cmd[1]);
		close(ack[0]);
		close(desc[0]);
		guest_main(size, g->sh, free, no_uffd, desc[1], cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	close(desc[1]);
	g->cmd = cmd[1];
	g->ack = ack[0];
	ret = remus_guest_desc_read(desc[0], 60000, &g->desc);
	close(desc[0]);
	if (ret)
		return ret;
	if (full_read(g->ack, &a, 1))
		return -EPIPE;
	return 0;
}

void guest_stop(struct guest *g)
{
	if (g->pid > 0) {
		kill(g->pid, SIGCONT);
		kill(g->pid, SIGKILL);
		waitpid(g->pid, NULL, 0);
		close(g->cmd);
		close(g->ack);
	}
	g->pid = -1;
	free(g->perm);
	munmap(g->sh, sizeof(*g->sh));
}

void guest_pick(struct guest *g, uint64_t n)
{
	uint64_t i, np = g->npages - 1;	/* page 0 is the region header */

	for (i = 0; i < n; i++) {
		uint64_t j = i + xorshift64(&g->seed) % (np - i);
		uint32_t t = g->perm[i];

		g->perm[i] = g->perm[j];
		g->perm[j] = t;
		g->sh->list[i] = 1 + g->perm[i];
	}
}

int guest_wait(struct guest *g)
{
	char a;

	if (!g->pending)
		return 0;
	g->pending = false;
	return full_read(g->ack, &a, 1) ? -EPIPE : 0;
}

int guest_write(struct guest *g, uint64_t off, uint64_t n, bool async)
{
	struct cmd c = { off, n };

	if (write(g->cmd, &c, sizeof(c)) != sizeof(c))
		return -EPIPE;
	g->pending = true;
	return async ? 0 : guest_wait(g);
}

/* ---- the floor: the kernel's scan alone, and a memcpy ---- */

static int floor_scan(struct wrap *w, uint64_t *pages)
{
	uint64_t start = w->range.start, end = start + w->range.len;

	*pages = 0;
	if (w->method == REMUS_DIRTY_SOFT_DIRTY) {
		/* read bit 55 of every entry: the scan without clear_refs */
		uint64_t first = start / PS, total = w->range.len / PS, done = 0;

		while (done < total) {
			uint64_t want = total - done < 8192 ? total - done : 8192, i;
			ssize_t n = pread(w->pagemap, w->pm, want * 8,
					  (off_t)((first + done) * 8));

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			want = (uint64_t)n / 8;
			for (i = 0; i < want; i++)
				*pages += !!(w->pm[i] & REMUS_PM_SOFT_DIRTY);
			done += want;
		}
		return 0;
	}
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end,
			.vec = (uintptr_t)w->vec, .vec_len = 4096,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(w->pagemap, PAGEMAP_SCAN, &a), i;

		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			*pages += (w->vec[i].end - w->vec[i].start) / PS;
		if (n < 4096 || a.walk_end >= end)
			break;
		start = a.walk_end;
	}
	return 0;
}

static int measure_floor(struct wrap *w, struct epoch_rec *r)
{
	uint64_t t0, c0, seen, i;
	int ret;

	t0 = now_ns();
	c0 = thread_cpu_ns();
	ret = floor_scan(w, &seen);
	r->floor_scan_ns = now_ns() - t0;
	r->floor_scan_cpu_ns = thread_cpu_ns() - c0;
	if (ret)
		return ret;
	/* all N written (WRAP_ENGPRE: the early ones), or more with
	 * soft-dirty (what the populating writes left, before a clear) */
	if (seen < (w->mode == WRAP_ENGPRE ? w->n - w->late : w->n))
		return -EIO;
	t0 = now_ns();
	c0 = thread_cpu_ns();
	for (i = 0; i < w->n; i++)
		memcpy(w->staging + i * PS, w->local + w->g->sh->list[i] * PS, PS);
	r->floor_copy_ns = now_ns() - t0;
	r->floor_copy_cpu_ns = thread_cpu_ns() - c0;
	return 0;
}

/* ---- the wrapping backend ---- */

static struct epoch_rec *rec_of(struct wrap *w, uint64_t epoch)
{
	static struct epoch_rec spare;

	return epoch < w->cap ? &w->rec[epoch] : &spare;
}

static int w_geometry(struct remus_backend *b, struct remus_hello *h)
{
	struct wrap *w = b->priv;

	return w->inner.ops->geometry(&w->inner, h);
}

static int w_check(struct remus_backend *b)
{
	struct wrap *w = b->priv;

	return w->inner.ops->check(&w->inner);
}

static int pre_harvest(struct wrap *w, struct epoch_rec *r)
{
	uint64_t t0 = now_ns();
	int ret;

	ret = remus_dirty_harvest(w->d, &w->pre, REMUS_DIRTY_F_RUNNING);
	if (ret)
		return ret;
	ret = remus_proc_read_pages(w->p, &w->range, 1, w->pre.idx,
				    w->pre.count, w->prebuf, 0);
	r->pre_ns = now_ns() - t0;
	r->pre_pages = w->pre.count;
	return ret;
}

static int w_suspend(struct remus_backend *b)
{
	struct wrap *w = b->priv;
	uint64_t t0 = now_ns(), t1, epoch = ++w->calls;
	struct epoch_rec *r = rec_of(w, epoch);
	bool first = epoch == 1;
	int ret = 0, ok;

	{
		/* what precopy() recorded for this epoch stays */
		uint64_t pw = r->engpre_wait_ns, fs = r->floor_scan_ns;
		uint64_t fc = r->floor_copy_ns, fsc = r->floor_scan_cpu_ns;
		uint64_t fcc = r->floor_copy_cpu_ns;
		bool ep = r->engpre;

		memset(r, 0, sizeof(*r));
		if (ep) {
			r->engpre = true;
			r->engpre_wait_ns = pw;
			r->floor_scan_ns = fs;
			r->floor_copy_ns = fc;
			r->floor_scan_cpu_ns = fsc;
			r->floor_copy_cpu_ns = fcc;
		}
	}
	switch (w->mode) {
	case WRAP_SYNC:
		if (first)
			break;
		guest_pick(w->g, w->n);
		ret = guest_write(w->g, 0, w->n, false);
		if (!ret && w->floor)
			ret = measure_floor(w, r);
		break;
	case WRAP_PRE:
		if (first)
			break;
		guest_pick(w->g, w->n);
		ret = guest_write(w->g, 0, w->n - w->late, false);
		/* late == n: no pre-harvest, pb_copy() timed in parts */
		if (!ret && w->late < w->n)
			ret = pre_harvest(w, r);
		if (!ret)
			ret = guest_write(w->g, w->n - w->late, w->late, false);
		break;
	case WRAP_ASYNC:
		ret = guest_wait(w->g);
		r->guest_wait_ns = now_ns() - t0;
		break;
	case WRAP_ENGPRE:
		/* no pre-copy this epoch (it lagged): all N in the pause */
		if (w->g->pending) {
			ret = guest_wait(w->g);
			if (!ret)
				ret = guest_write(w->g, w->n - w->late, w->late,
						  false);
		}
		break;
	case WRAP_FREE:
		break;
	}
	if (ret) {
		fprintf(stderr, "engbench: epoch %" PRIu64 ": %s\n", epoch,
			strerror(-ret));
		return 0;
	}
	t1 = now_ns();
	r->prework_ns = t1 - t0;
	w->pause_cpu0 = thread_cpu_ns();
	if (w->mode == WRAP_PRE)
		ok = remus_proc_suspend(w->p, 1000) == 0;
	else
		ok = w->inner.ops->suspend(&w->inner);
	r->suspend_ns = now_ns() - t1;
	return ok;
}

static int w_postcopy(struct remus_backend *b)
{
	struct wrap *w = b->priv;
	int ok;

	if (w->mode == WRAP_PRE)
		ok = remus_proc_resume(w->p) == 0;
	else
		ok = w->inner.ops->postcopy(&w->inner);
	rec_of(w, w->calls)->pause_cpu_ns = thread_cpu_ns() - w->pause_cpu0;
	if (ok == 1 && w->mode == WRAP_ASYNC) {
		/* the next epoch's writes, while the engine sends this one */
		guest_pick(w->g, w->n);
		if (guest_write(w->g, 0, w->n, true))
			return 0;
	}
	if (ok == 1 && w->mode == WRAP_ENGPRE) {
		guest_pick(w->g, w->n);
		if (guest_write(w->g, 0, w->n - w->late, true))
			return 0;
	}
	return ok;
}

static int w_precopy(struct remus_backend *b, struct remus_ckpt *c)
{
	struct wrap *w = b->priv;
	struct epoch_rec *r = rec_of(w, w->calls + 1);
	uint64_t t0 = now_ns();
	int ret = 0;

	if (w->mode == WRAP_ENGPRE) {
		/* the early writes all before the pre-copy */
		ret = guest_wait(w->g);
		r->engpre_wait_ns = now_ns() - t0;
		if (!ret && w->floor)
			ret = measure_floor(w, r);
		if (ret)
			return ret;
	}
	ret = w->inner.ops->precopy(&w->inner, c);
	r->engpre = true;

	if (!ret && w->mode == WRAP_ENGPRE)
		/* and the late ones after it */
		ret = guest_write(w->g, w->n - w->late, w->late, false);
	return ret;
}

static int w_copy(struct remus_backend *b, struct remus_ckpt *c, bool full)
{
	struct wrap *w = b->priv;
	struct epoch_rec *r = rec_of(w, w->calls);
	uint64_t t0, i, k, nold = 0, *pfns;
	uint8_t *pages;
	int ret;

	if (w->mode != WRAP_PRE) {
		ret = w->inner.ops->copy(&w->inner, c, full);
		r->pages = c->nr_pages;
		return ret;
	}
	/* pb_copy() of lib/backend_proc.c, with the pre-harvested pages */
	t0 = now_ns();
	ret = remus_dirty_harvest(w->d, &w->fin, 0);
	r->final_harvest_ns = now_ns() - t0;
	if (ret || full) {
		uint64_t np = w->g->npages;

		ret = remus_ckpt_reserve(c, np, &pfns, &pages);
		for (i = 0; !ret && i < np; i++)
			pfns[i] = i;
		if (!ret)
			ret = remus_proc_read(w->p, w->range.start, pages,
					      w->range.len);
		remus_dirty_set_clear(&w->pre);
	} else {
		for (i = 0; i < w->pre.count; i++)
			nold += !remus_dirty_set_test(&w->fin, w->pre.idx[i]);
		/* pre-copied pages not written since: from our buffer */
		t0 = now_ns();
		ret = remus_ckpt_reserve(c, nold, &pfns, &pages);
		for (i = 0, k = 0; !ret && i < w->pre.count; i++) {
			if (remus_dirty_set_test(&w->fin, w->pre.idx[i]))
				continue;
			pfns[k] = w->pre.idx[i];
			memcpy(pages + k * PS, w->prebuf + i * PS, PS);
			k++;
		}
		r->pre_memcpy_ns = now_ns() - t0;
		t0 = now_ns();
		if (!ret)
			ret = remus_ckpt_reserve(c, w->fin.count, &pfns, &pages);
		if (!ret) {
			memcpy(pfns, w->fin.idx, w->fin.count * sizeof(*pfns));
			ret = remus_proc_read_pages(w->p, &w->range, 1,
						    w->fin.idx, w->fin.count,
						    pages, 0);
		}
		r->final_read_ns = now_ns() - t0;
		remus_dirty_set_clear(&w->pre);
	}
	r->pages = c->nr_pages;
	if (ret)
		return ret;
	return remus_ckpt_set_state(c, w->state, strlen(w->state) + 1);
}

int wrap_open(struct wrap *w, struct guest *g, enum wrap_mode mode,
	      enum remus_dirty_method method, uint64_t n, uint64_t late,
	      bool floor, uint64_t cap)
{
	struct remus_proc_backend_cfg cfg = {
		.pid = g->pid, .desc = &g->desc, .child = true, .method = method,
	};
	char path[64];
	int ret;

	memset(w, 0, sizeof(*w));
	w->g = g;
	w->mode = mode;
	w->n = n;
	w->late = late;
	w->floor = floor;
	w->pagemap = -1;
	w->cap = cap;
	w->range = (struct remus_range){ g->desc.addr, g->desc.size };
	w->rec = calloc(cap, sizeof(*w->rec));
	if (!w->rec)
		return -ENOMEM;
	if (mode == WRAP_PRE) {
		struct remus_dirty_opts o = { .method = method };

		/* the harness's own tracker stands in for the proc backend's */
		ret = remus_proc_open(&w->p, g->pid, REMUS_PROC_F_CHILD);
		if (!ret)
			ret = remus_dirty_open(&w->d, g->pid, &w->range, 1, &o);
		if (!ret)
			ret = remus_dirty_set_init(&w->pre, g->npages);
		if (!ret)
			ret = remus_dirty_set_init(&w->fin, g->npages);
		if (ret)
			return ret;
		w->method = remus_dirty_method(w->d);
		if (w->method != REMUS_DIRTY_PAGEMAP_SCAN)
			return -EOPNOTSUPP;	/* soft-dirty refuses a pre-harvest */
		w->prebuf = malloc((size_t)MAX_N * PS);
		if (!w->prebuf)
			return -ENOMEM;
		if (remus_guest_desc_format(&g->desc, w->state, sizeof(w->state)) < 0)
			return -EINVAL;
		/* the inner backend for geometry and check only: no tracker */
		cfg.method = REMUS_DIRTY_FULL;
	}
	ret = remus_proc_backend_open(&w->inner, &cfg);
	if (ret)
		return ret;
	if (mode != WRAP_PRE)
		remus_dirty_method_parse(remus_proc_backend_method(&w->inner),
					 &w->method);
	if (floor) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)g->pid);
		w->pagemap = open(path, O_RDONLY | O_CLOEXEC);
		w->vec = calloc(4096, sizeof(*w->vec));
		w->pm = calloc(8192, sizeof(*w->pm));
		w->local = malloc(g->size);
		w->staging = malloc((size_t)(n ? n : 1) * PS);
		if (w->pagemap < 0 || !w->vec || !w->pm || !w->local ||
		    !w->staging)
			return -ENOMEM;
		memset(w->local, 1, g->size);
		memset(w->staging, 1, (size_t)(n ? n : 1) * PS);
	}
	w->ops = *w->inner.ops;
	w->ops.geometry = w_geometry;
	w->ops.suspend = w_suspend;
	w->ops.copy = w_copy;
	w->ops.postcopy = w_postcopy;
	w->ops.check = w_check;
	/* the inner backend's, with its own pointer; none for the harness's */
	w->ops.precopy = w->inner.ops->precopy && mode != WRAP_PRE ?
			 w_precopy : NULL;
	w->outer.ops = &w->ops;
	w->outer.priv = w;
	return 0;
}

void wrap_close(struct wrap *w)
{
	/* no stale acknowledgement for the next user of the guest */
	if (w->g)
		guest_wait(w->g);
	if (w->inner.priv)
		remus_proc_backend_close(&w->inner);
	remus_dirty_close(w->d);
	remus_proc_close(w->p);
	if (w->pre.idx)
		remus_dirty_set_fini(&w->pre);
	if (w->fin.idx)
		remus_dirty_set_fini(&w->fin);
	if (w->pagemap >= 0)
		close(w->pagemap);
	free(w->vec);
	free(w->pm);
	free(w->local);
	free(w->staging);
	free(w->prebuf);
	free(w->rec);
	memset(w, 0, sizeof(*w));
}

const char *wrap_method(struct wrap *w)
{
	return remus_dirty_method_name(w->method);
}

/* ---- the engine in a thread ---- */

static void r_log(void *data, enum remus_log_level level, const char *msg)
{
	fprintf(stderr, "engbench: engine: %s\n", msg);
}

static void r_started(void *data, struct remus_engine *e)
{
	struct run *r = data;

	pthread_mutex_lock(&r->lock);
	r->e = e;
	if (!e)
		r->ended = true;
	pthread_mutex_unlock(&r->lock);
}

static void r_epoch(void *data, const struct remus_epoch_stats *st)
{
	struct run *r = data;
	uint64_t n = r->n;

	if (n < r->cap)
		r->st[n] = *st;
	if (!n)
		r->cpu_first = cpu_ns();
	r->n = n + 1;
	if (r->want && n + 1 >= r->want && r->e)
		remus_engine_stop(r->e);
}

static void *r_main(void *arg)
{
	struct run *r = arg;

	r->end = remus_start(&r->ctx, &r->info, r->be, r->fd, r->fd);
	pthread_mutex_lock(&r->lock);
	r->ended = true;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void run_info(struct run *r, unsigned int interval_us, bool blackhole)
{
	memset(r, 0, sizeof(*r));
	remus_info_init(&r->info);
	r->info.interval_us = interval_us;
	r->info.blackhole = blackhole;
	r->info.auth = REMUS_WIRE_AUTH_MAC;
	r->info.key = bench_key;
	r->info.repair = false;
	/* generous: a loaded machine must not end a run (see results.md) */
	r->info.timeout_ms = 10000;
	r->fd = -1;
	pthread_mutex_init(&r->lock, NULL);
}

void run_start(struct run *r, struct remus_backend *be, int fd, uint64_t want,
	       uint64_t cap)
{
	r->ctx.log = r_log;
	r->ctx.level = REMUS_LOG_WARN;
	r->ctx.started = r_started;
	r->ctx.started_data = r;
	r->info.on_epoch = r_epoch;
	r->info.on_epoch_data = r;
	r->be = be;
	r->fd = fd;
	r->want = want;
	r->cap = cap;
	r->st = calloc(cap, sizeof(*r->st));
	if (!r->st || pthread_create(&r->th, NULL, r_main, r))
		die("engine thread");
}

int run_join(struct run *r, bool stop)
{
	while (stop) {
		pthread_mutex_lock(&r->lock);
		if (r->e || r->ended) {
			if (r->e)
				remus_engine_stop(r->e);
			pthread_mutex_unlock(&r->lock);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		usleep(1000);
	}
	pthread_join(r->th, NULL);
	return r->end;
}

void run_wait_epochs(struct run *r, uint64_t n, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	while (r->n < n && now_ns() < end)
		usleep(1000);
}

/* ---- the backup child ---- */

static void b_started(void *data, struct remus_backup *b)
{
	int *fd = data;
	char a = 1;

	if (b && *fd >= 0) {
		if (write(*fd, &a, 1) != 1) {
			/* the parent went away: it will not connect */
		}
		close(*fd);
		*fd = -1;
	}
}

static void b_log(void *data, enum remus_log_level level, const char *msg)
{
	fprintf(stderr, "engbench: backup: %s\n", msg);
}

static void b_commit(void *data, uint64_t epoch, uint64_t bytes)
{
	struct backup_child *b = data;

	b->sh->cpu_ns = cpu_ns();
	b->sh->commits++;
}

int backup_start(struct backup_child *b)
{
	int ready[2], res[2], try;

	b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->sh == MAP_FAILED)
		return -ENOMEM;
	memset((void *)b->sh, 0, sizeof(*b->sh));

	for (try = 0; try < 20; try++) {
		char a;

		b->port = 20000 + (int)((getpid() * 7919 + try * 104729) % 30000);
		snprintf(b->image, sizeof(b->image), "/dev/shm/engbench-%d.img",
			 (int)getpid());
		if (pipe2(ready, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
			return -errno;
		b->pid = fork();
		if (b->pid < 0)
			return -errno;
		if (!b->pid) {
			static const char *const argv[] = { "/bin/false", NULL };
			struct remus_proc_sink_cfg scfg = {
				.argv = argv, .image = b->image,
			};
			struct remus_backup_info bi = {
				.auth = REMUS_WIRE_AUTH_MAC, .key = bench_key,
				.heartbeat_ms = 100, .timeout_ms = 10000,
				.once = true,
				.on_commit = b_commit, .on_commit_data = b,
			};
			struct remus_ctx ctx = { .log = b_log,
						 .level = REMUS_LOG_ERR };
			struct remus_backup_sink sink;
			char listen[32];
			uint64_t cpu;
			int fd = ready[1];

			close(ready[0]);
			close(res[0]);
			signal(SIGPIPE, SIG_IGN);
			snprintf(listen, sizeof(listen), "127.0.0.1:%d", b->port);
			bi.listen = listen;
			if (remus_proc_sink_open(&sink, &scfg))
				_exit(1);
			remus_backup_run(&ctx, &bi, &sink, b_started, &fd);
			cpu = cpu_ns();
			if (write(res[1], &cpu, sizeof(cpu)) != sizeof(cpu))
				_exit(1);
			remus_proc_sink_close(&sink);
			_exit(0);
		}
		close(ready[1]);
		close(res[1]);
		b->res = res[0];
		if (read(ready[0], &a, 1) == 1) {
			close(ready[0]);
			return 0;
		}
		/* it could not listen there: another port */
		close(ready[0]);
		close(res[0]);
		waitpid(b->pid, NULL, 0);
	}
	return -EADDRINUSE;
}

int backup_connect(struct backup_child *b)
{
	struct remus_addr a;
	char s[32];
	int ret;

	snprintf(s, sizeof(s), "127.0.0.1:%d", b->port);
	ret = remus_addr_parse(s, &a);
	if (ret)
		return ret;
	return remus_tcp_connect(&a, 2000);
}

uint64_t backup_wait(struct backup_child *b)
{
	uint64_t cpu = 0;

	if (read(b->res, &cpu, sizeof(cpu)) != sizeof(cpu))
		cpu = 0;
	close(b->res);
	waitpid(b->pid, NULL, 0);
	unlink(b->image);
	munmap((void *)b->sh, sizeof(*b->sh));
	return cpu;
}
