// SPDX-License-Identifier: GPL-2.0
/*
 * bench-wpfault: what dirty tracking costs the guest itself. Every page the
 * guest writes for the first time in an epoch takes a write fault that the
 * kernel resolves (userfaultfd WP_ASYNC; soft-dirty likewise): this measures
 * that fault, per write, in this thread's CPU time and in wall time, next to
 * a write that takes no fault and to the first touch of a page.
 *
 * The region is this process's own (libremus-guest) and the harvests are
 * PAGEMAP_SCAN on /proc/self/pagemap, so no second process is involved.
 *
 * usage: bench-wpfault [-s SIZE_MIB] [-r ROUNDS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../guest/remus_guest.h"
#include "proc/dirty.h"

#define BENCH_ADDR	0x350000000000ULL

struct stamp {
	double wall, cpu;	/* microseconds */
};

static struct stamp stamp(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return (struct stamp){ a.tv_sec * 1e6 + a.tv_nsec / 1e3,
			       b.tv_sec * 1e6 + b.tv_nsec / 1e3 };
}

/* Writes one byte into every @step-th page; returns per-write cost. */
static struct stamp write_pages(char *base, unsigned long npages,
				unsigned long step, char v)
{
	struct stamp a = stamp(), b;
	unsigned long i, n = 0;

	for (i = 0; i < npages; i += step, n++)
		((volatile char *)base)[i * 4096 + 64] = v;
	b = stamp();
	return (struct stamp){ (b.wall - a.wall) / n, (b.cpu - a.cpu) / n };
}

static void report(const char *what, struct stamp s)
{
	printf("| %s | %.3f | %.3f |\n", what, s.cpu, s.wall);
}

int main(int argc, char **argv)
{
	struct remus_dirty_opts dop = { .method = REMUS_DIRTY_PAGEMAP_SCAN };
	unsigned long mib = 64, npages, rounds = 3, r;
	struct remus_guest_opts o = { .addr = BENCH_ADDR, .flags = REMUS_GUEST_F_NO_ENV };
	struct remus_dirty_set set;
	struct remus_dirty *d;
	struct remus_guest g;
	struct remus_range range;
	int c, ret;

	while ((c = getopt(argc, argv, "s:r:")) != -1) {
		switch (c) {
		case 's':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: bench-wpfault [-s SIZE_MIB] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (sysconf(_SC_PAGESIZE) != 4096 || !mib || !rounds) {
		fprintf(stderr, "bench-wpfault: needs 4 KiB pages, a size, rounds\n");
		return 2;
	}
	o.size = mib << 20;
	npages = o.size / 4096;
	ret = remus_guest_init(&g, &o);
	if (ret || g.tracking != REMUS_GUEST_TRACK_UFFD_WP_ASYNC) {
		fprintf(stderr, "bench-wpfault: region with WP_ASYNC tracking: %s\n",
			ret ? strerror(-ret) : "not available on this kernel");
		return 1;
	}
	range = (struct remus_range){ (uintptr_t)g.base, o.size };
	ret = remus_dirty_open(&d, getpid(), &range, 1, &dop);
	if (!ret)
		ret = remus_dirty_set_init(&set, npages);
	if (ret) {
		fprintf(stderr, "bench-wpfault: tracker: %s\n", strerror(-ret));
		return 1;
	}
	printf("Per write, microseconds (%lu MiB region, every other page)\n\n"
	       "| write | CPU | wall |\n| --- | ---: | ---: |\n", mib);
	/* the region is armed from the start: the first touch meets a marker */
	report("first touch of a page (allocation)", write_pages(g.base, npages, 2, 1));
	for (r = 0; r < rounds; r++) {
		report("populated page, no fault", write_pages(g.base, npages, 2, 2));
		remus_dirty_harvest(d, &set, 0);
		report("populated page after a harvest (WP fault)",
		       write_pages(g.base, npages, 2, 3));
	}
	remus_dirty_close(d);
	remus_dirty_set_fini(&set);
	remus_guest_fini(&g);
	return 0;
}
