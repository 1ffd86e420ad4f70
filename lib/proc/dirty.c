// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "proc/dirty.h"
#include "proc/kcompat.h"

#define DEFAULT_SCAN_VEC_LEN	4096
#define DEFAULT_PAGEMAP_BATCH	8192
#define MAX_RANGES		256

struct remus_dirty {
	pid_t pid;
	enum remus_dirty_method method;
	size_t page_size;
	uint64_t nr_pages;
	unsigned int nr_ranges;
	struct remus_range *ranges;
	int pagemap_fd;
	int clear_refs_fd;		/* soft-dirty only */
	struct page_region *vec;	/* pagemap-scan only */
	unsigned int vec_len;
	uint64_t *entries;		/* soft-dirty only */
	unsigned int batch;
	struct remus_dirty_stats stats;
};

static const char *const method_names[] = {
	[REMUS_DIRTY_AUTO] = "auto",
	[REMUS_DIRTY_PAGEMAP_SCAN] = "pagemap-scan",
	[REMUS_DIRTY_SOFT_DIRTY] = "soft-dirty",
	[REMUS_DIRTY_FULL] = "full",
};

const char *remus_dirty_method_name(enum remus_dirty_method m)
{
	if ((unsigned int)m >= sizeof(method_names) / sizeof(method_names[0]))
		return "?";
	return method_names[m];
}

int remus_dirty_method_parse(const char *name, enum remus_dirty_method *m)
{
	unsigned int i;

	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (!strcmp(name, method_names[i])) {
			*m = i;
			return 0;
		}
	}
	return -EINVAL;
}

int remus_dirty_set_init(struct remus_dirty_set *s, uint64_t nr_pages)
{
	uint64_t words = (nr_pages + 63) / 64;

	memset(s, 0, sizeof(*s));
	if (!nr_pages || nr_pages > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;
	s->idx = malloc(nr_pages * sizeof(uint64_t));
	s->bitmap = calloc(words, sizeof(uint64_t));
	if (!s->idx || !s->bitmap) {
		free(s->idx);
		free(s->bitmap);
		memset(s, 0, sizeof(*s));
		return -ENOMEM;
	}
	s->nr_pages = nr_pages;
	return 0;
}

void remus_dirty_set_fini(struct remus_dirty_set *s)
{
	free(s->idx);
	free(s->bitmap);
	memset(s, 0, sizeof(*s));
}

void remus_dirty_set_clear(struct remus_dirty_set *s)
{
	uint64_t i;

	/* A full set is cheaper to wipe whole than bit by bit. */
	if (s->count > s->nr_pages / 64) {
		memset(s->bitmap, 0, (s->nr_pages + 63) / 64 * sizeof(uint64_t));
	} else {
		for (i = 0; i < s->count; i++)
			s->bitmap[s->idx[i] / 64] = 0;
	}
	s->count = 0;
}

int remus_dirty_set_add(struct remus_dirty_set *s, uint64_t i)
{
	uint64_t bit;

	if (i >= s->nr_pages)
		return -ERANGE;
	bit = 1ULL << (i % 64);
	if (s->bitmap[i / 64] & bit)
		return 0;
	s->bitmap[i / 64] |= bit;
	s->idx[s->count++] = i;
	return 1;
}

int remus_dirty_set_merge(struct remus_dirty_set *dst,
			  const struct remus_dirty_set *src)
{
	uint64_t i;
	int ret;

	for (i = 0; i < src->count; i++) {
		ret = remus_dirty_set_add(dst, src->idx[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Adds pages [first, first + n) without a per-page membership test. */
static int set_add_run(struct remus_dirty_set *s, uint64_t first, uint64_t n)
{
	uint64_t i;

	if (first + n > s->nr_pages || first + n < first)
		return -ERANGE;
	for (i = first; i < first + n; i++) {
		uint64_t bit = 1ULL << (i % 64);

		if (!(s->bitmap[i / 64] & bit)) {
			s->bitmap[i / 64] |= bit;
			s->idx[s->count++] = i;
		}
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int open_proc(pid_t pid, const char *name, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

/*
 * Every byte of every range must be mapped: a hole would be skipped silently
 * by both scans and would fail the page reads much later.
 */
static int ranges_mapped(pid_t pid, const struct remus_range *ranges,
			 unsigned int nr)
{
	unsigned int i = 0;
	bool cont = false;
	uint64_t need;
	char line[512];
	FILE *f;
	int fd;

	fd = open_proc(pid, "maps", O_RDONLY);
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	need = ranges[0].start;
	while (i < nr && fgets(line, sizeof(line), f)) {
		bool start_of_line = !cont;
		unsigned long long vs, ve;

		/* the tail of a line longer than the buffer is no VMA */
		cont = !strchr(line, '\n');
		if (!start_of_line || sscanf(line, "%llx-%llx", &vs, &ve) != 2)
			continue;
		if (ve <= need)
			continue;
		/* maps is sorted: nothing later can cover @need */
		if (vs > need)
			break;
		while (i < nr) {
			uint64_t end = ranges[i].start + ranges[i].len;

			if (end > ve) {
				need = ve;
				break;
			}
			if (++i < nr)
				need = ranges[i].start;
			if (need >= ve)
				break;
		}
	}
	fclose(f);
	return i == nr ? 0 : -ENXIO;
}

/*
 * CONFIG_MEM_SOFT_DIRTY can only be seen at work: a kernel without it accepts
 * clear_refs "4" and never sets bit 55. A fresh mapping of our own is
 * soft-dirty on a kernel that tracks it, so one page of ours tells, without
 * disturbing the guest.
 */
static int soft_dirty_supported(void)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	uint64_t entry = 0;
	ssize_t n;
	char *p;
	int fd;

	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	*(volatile char *)p = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		n = -errno;
	} else {
		n = pread(fd, &entry, sizeof(entry),
			  (uintptr_t)p / ps * sizeof(entry));
		n = n == sizeof(entry) ? 0 : n < 0 ? -errno : -EIO;
		close(fd);
	}
	munmap(p, ps);
	if (n)
		return n;
	return entry & REMUS_PM_SOFT_DIRTY ? 0 : -EOPNOTSUPP;
}

static int scan_errno(int err)
{
	/* Old kernels have no ioctl on pagemap at all. */
	if (err == ENOTTY)
		return -EOPNOTSUPP;
	/* PM_SCAN_CHECK_WPASYNC met a VMA without WP_ASYNC (+ markers). */
	if (err == EPERM)
		return -ENOPROTOOPT;
	return -err;
}

/*
 * A dry scan: no vector, no write-protect, but PM_SCAN_CHECK_WPASYNC still
 * makes the kernel visit every VMA in the range and refuse one the guest did
 * not register.
 */
static int pagemap_scan_check(int fd, const struct remus_range *ranges,
			      unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.flags = PM_SCAN_CHECK_WPASYNC,
			.start = ranges[i].start,
			.end = ranges[i].start + ranges[i].len,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};

		if (ioctl(fd, PAGEMAP_SCAN, &arg) < 0)
			return scan_errno(errno);
	}
	return 0;
}

static int probe_one(pid_t pid, const struct remus_range *ranges,
		     unsigned int nr, enum remus_dirty_method m)
{
	int fd, ret;

	switch (m) {
	case REMUS_DIRTY_PAGEMAP_SCAN:
		fd = open_proc(pid, "pagemap", O_RDONLY);
		if (fd < 0)
			return fd;
		ret = pagemap_scan_check(fd, ranges, nr);
		close(fd);
		return ret;
	case REMUS_DIRTY_SOFT_DIRTY:
		ret = soft_dirty_supported();
		if (ret)
			return ret;
		fd = open_proc(pid, "clear_refs", O_WRONLY);
		if (fd < 0)
			return fd;
		close(fd);
		fd = open_proc(pid, "pagemap", O_RDONLY);
		if (fd < 0)
			return fd;
		close(fd);
		return 0;
	case REMUS_DIRTY_FULL:
		return 0;
	default:
		return -EINVAL;
	}
}

int remus_dirty_probe(pid_t pid, const struct remus_range *ranges,
		      unsigned int nr, enum remus_dirty_method method,
		      enum remus_dirty_method *picked)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	int ret, ret_scan;

	if (pid <= 0 || nr > MAX_RANGES)
		return -EINVAL;
	ret = remus_ranges_check(ranges, nr, ps, NULL);
	if (ret)
		return ret;
	ret = ranges_mapped(pid, ranges, nr);
	if (ret)
		return ret;
	if (method != REMUS_DIRTY_AUTO) {
		ret = probe_one(pid, ranges, nr, method);
		if (!ret && picked)
			*picked = method;
		return ret;
	}
	ret_scan = probe_one(pid, ranges, nr, REMUS_DIRTY_PAGEMAP_SCAN);
	if (!ret_scan) {
		if (picked)
			*picked = REMUS_DIRTY_PAGEMAP_SCAN;
		return 0;
	}
	if (ret_scan != -EOPNOTSUPP && ret_scan != -ENOPROTOOPT)
		return ret_scan;
	ret = probe_one(pid, ranges, nr, REMUS_DIRTY_SOFT_DIRTY);
	if (!ret) {
		if (picked)
			*picked = REMUS_DIRTY_SOFT_DIRTY;
		return 0;
	}
	/*
	 * Neither works. "The guest did not register" says more than "no
	 * soft-dirty here" when the kernel has PAGEMAP_SCAN.
	 */
	return ret_scan == -ENOPROTOOPT ? ret_scan : ret;
}

int remus_dirty_open(struct remus_dirty **out, pid_t pid,
		     const struct remus_range *ranges, unsigned int nr,
		     const struct remus_dirty_opts *opts)
{
	struct remus_dirty_opts def = { .method = REMUS_DIRTY_AUTO };
	enum remus_dirty_method m;
	struct remus_dirty *d;
	uint64_t nr_pages;
	int ret;

	*out = NULL;
	if (!opts)
		opts = &def;
	ret = remus_dirty_probe(pid, ranges, nr, opts->method, &m);
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pid = pid;
	d->method = m;
	d->page_size = sysconf(_SC_PAGESIZE);
	d->pagemap_fd = -1;
	d->clear_refs_fd = -1;
	remus_ranges_check(ranges, nr, d->page_size, &nr_pages);
	d->nr_pages = nr_pages;
	d->nr_ranges = nr;
	d->ranges = malloc(nr * sizeof(*ranges));
	if (!d->ranges) {
		ret = -ENOMEM;
		goto err;
	}
	memcpy(d->ranges, ranges, nr * sizeof(*ranges));

	if (m == REMUS_DIRTY_PAGEMAP_SCAN || m == REMUS_DIRTY_SOFT_DIRTY) {
		ret = open_proc(pid, "pagemap", O_RDONLY);
		if (ret < 0)
			goto err;
		d->pagemap_fd = ret;
	}
	if (m == REMUS_DIRTY_PAGEMAP_SCAN) {
		d->vec_len = opts->scan_vec_len ? opts->scan_vec_len :
						  DEFAULT_SCAN_VEC_LEN;
		d->vec = calloc(d->vec_len, sizeof(*d->vec));
		if (!d->vec) {
			ret = -ENOMEM;
			goto err;
		}
	}
	if (m == REMUS_DIRTY_SOFT_DIRTY) {
		ret = open_proc(pid, "clear_refs", O_WRONLY);
		if (ret < 0)
			goto err;
		d->clear_refs_fd = ret;
		d->batch = opts->pagemap_batch ? opts->pagemap_batch :
						 DEFAULT_PAGEMAP_BATCH;
		d->entries = malloc((size_t)d->batch * sizeof(uint64_t));
		if (!d->entries) {
			ret = -ENOMEM;
			goto err;
		}
	}
	*out = d;
	return 0;
err:
	remus_dirty_close(d);
	return ret;
}

void remus_dirty_close(struct remus_dirty *d)
{
	if (!d)
		return;
	if (d->pagemap_fd >= 0)
		close(d->pagemap_fd);
	if (d->clear_refs_fd >= 0)
		close(d->clear_refs_fd);
	free(d->vec);
	free(d->entries);
	free(d->ranges);
	free(d);
}

enum remus_dirty_method remus_dirty_method(const struct remus_dirty *d)
{
	return d->method;
}

uint64_t remus_dirty_nr_pages(const struct remus_dirty *d)
{
	return d->nr_pages;
}

size_t remus_dirty_page_size(const struct remus_dirty *d)
{
	return d->page_size;
}

const struct remus_range *remus_dirty_ranges(const struct remus_dirty *d,
					     unsigned int *nr)
{
	if (nr)
		*nr = d->nr_ranges;
	return d->ranges;
}

void remus_dirty_get_stats(const struct remus_dirty *d,
			   struct remus_dirty_stats *st)
{
	*st = d->stats;
}

static int harvest_scan(struct remus_dirty *d, struct remus_dirty_set *out)
{
	uint64_t base = 0;
	unsigned int r;

	for (r = 0; r < d->nr_ranges; r++) {
		uint64_t start = d->ranges[r].start;
		uint64_t end = start + d->ranges[r].len;
		struct pm_scan_arg arg;

		while (start < end) {
			long n, i;
			int ret;

			memset(&arg, 0, sizeof(arg));
			arg.size = sizeof(arg);
			arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
			arg.start = start;
			arg.end = end;
			arg.vec = (uintptr_t)d->vec;
			arg.vec_len = d->vec_len;
			arg.category_mask = PAGE_IS_WRITTEN;
			arg.return_mask = PAGE_IS_WRITTEN;
			n = ioctl(d->pagemap_fd, PAGEMAP_SCAN, &arg);
			d->stats.scan_calls++;
			if (n < 0)
				return scan_errno(errno);
			for (i = 0; i < n; i++) {
				const struct page_region *pr = &d->vec[i];

				if (pr->start < start || pr->end > end ||
				    pr->end <= pr->start)
					return -EIO;
				ret = set_add_run(out,
						  base + (pr->start - d->ranges[r].start) /
							  d->page_size,
						  (pr->end - pr->start) / d->page_size);
				if (ret)
					return ret;
			}
			/*
			 * Only a full vector stops the walk early, and then
			 * walk_end says where. When the walk went to the end,
			 * walk_end may still hold the kernel's last internal
			 * restart point (its bounce buffer holds 512 regions;
			 * 6.7..6.18 at least): going on from there would scan
			 * the tail again. walk_end must advance, or we spin.
			 */
			if ((unsigned long)n < d->vec_len || arg.walk_end >= end)
				break;
			d->stats.vec_full++;
			if (arg.walk_end <= start)
				return -EIO;
			start = arg.walk_end;
		}
		base += d->ranges[r].len / d->page_size;
	}
	return 0;
}

static int harvest_soft_dirty(struct remus_dirty *d,
			      struct remus_dirty_set *out)
{
	uint64_t base = 0;
	unsigned int r;
	ssize_t n;

	for (r = 0; r < d->nr_ranges; r++) {
		uint64_t pages = d->ranges[r].len / d->page_size;
		uint64_t first = d->ranges[r].start / d->page_size;
		uint64_t done = 0;

		while (done < pages) {
			uint64_t want = pages - done, i;

			if (want > d->batch)
				want = d->batch;
			n = pread(d->pagemap_fd, d->entries, want * sizeof(uint64_t),
				  (first + done) * sizeof(uint64_t));
			d->stats.scan_calls++;
			if (n < 0)
				return -errno;
			/* pagemap reads nothing once the mm is gone */
			if (n == 0)
				return -ESRCH;
			if (n % sizeof(uint64_t))
				return -EIO;
			want = n / sizeof(uint64_t);
			for (i = 0; i < want; i++) {
				if (d->entries[i] & REMUS_PM_SOFT_DIRTY)
					set_add_run(out, base + done + i, 1);
			}
			done += want;
		}
		base += pages;
	}
	/* The write's position is ignored; only the value matters. */
	n = write(d->clear_refs_fd, "4", 1);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

int remus_dirty_harvest(struct remus_dirty *d, struct remus_dirty_set *out,
			unsigned int flags)
{
	uint64_t t0 = now_ns(), dt;
	int ret;

	if (flags & ~REMUS_DIRTY_F_ALL || out->nr_pages < d->nr_pages)
		return -EINVAL;
	if (flags & REMUS_DIRTY_F_RUNNING && d->method == REMUS_DIRTY_SOFT_DIRTY)
		return -EOPNOTSUPP;
	remus_dirty_set_clear(out);
	switch (d->method) {
	case REMUS_DIRTY_PAGEMAP_SCAN:
		ret = harvest_scan(d, out);
		break;
	case REMUS_DIRTY_SOFT_DIRTY:
		ret = harvest_soft_dirty(d, out);
		break;
	case REMUS_DIRTY_FULL:
		ret = set_add_run(out, 0, d->nr_pages);
		break;
	default:
		ret = -EINVAL;
	}
	dt = now_ns() - t0;
	d->stats.harvests++;
	if (flags & REMUS_DIRTY_F_RUNNING)
		d->stats.pre_harvests++;
	d->stats.pages += out->count;
	d->stats.last_ns = dt;
	if (dt > d->stats.max_ns)
		d->stats.max_ns = dt;
	return ret;
}
