// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dirty-page tracking for a proc guest: which pages of its ranges were
 * written since the last harvest.
 *
 * Methods, picked at open time and fixed for the tracker's life:
 *
 *   pagemap-scan  PAGEMAP_SCAN on /proc/PID/pagemap with PM_SCAN_WP_MATCHING
 *                 and PM_SCAN_CHECK_WPASYNC, category PAGE_IS_WRITTEN
 *                 (kernel 6.7+). The guest must have registered its ranges
 *                 with a userfaultfd of its own in UFFDIO_REGISTER_MODE_WP,
 *                 with UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
 *                 and keep that fd open (guest/remus_guest.c does). One ioctl
 *                 reports the written pages and write-protects them again,
 *                 atomically per page table entry, so it is also safe while
 *                 the guest runs.
 *   soft-dirty    read bit 55 of /proc/PID/pagemap, then write "4" to
 *                 /proc/PID/clear_refs (CONFIG_MEM_SOFT_DIRTY). Needs nothing
 *                 from the guest. clear_refs acts on the whole process, so one
 *                 tracker per process. Read-then-clear loses writes that land
 *                 in between, so it is only correct with the guest stopped:
 *                 a pre-harvest is refused.
 *   full          every page at every harvest. Never chosen by auto: only on
 *                 explicit request, and reported as such.
 *   auto          pagemap-scan if it works for this guest, else soft-dirty.
 *
 * Protocol for the engine:
 *   open; harvest with the guest stopped; copy the pages it reports (the first
 *   harvest reports at least every page that may differ from zero: a backup
 *   image that starts all-zero plus those pages is a full checkpoint);
 *   then every epoch: [pre-harvest while running, copy those pages while
 *   running]; stop; harvest; copy; resume. A page written after a harvest
 *   re-armed it is reported by the next harvest, so pages copied after a
 *   pre-harvest and written again are copied again by the final one.
 *
 * Errors, as -errno, from open, probe and harvest:
 *   -EOPNOTSUPP   this kernel lacks the method
 *   -ENOPROTOOPT  the kernel has PAGEMAP_SCAN, but a range is not registered
 *                 for userfaultfd WP_ASYNC (the guest did not set tracking up,
 *                 or closed its userfaultfd)
 *   -ENXIO        a range is not wholly mapped in the guest
 *   -ESRCH        the guest is gone
 *   -EACCES/-EPERM no access to the guest's /proc files
 *   -EINVAL       bad ranges or flags
 */
#ifndef REMUS_PROC_DIRTY_H
#define REMUS_PROC_DIRTY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/range.h"

enum remus_dirty_method {
	REMUS_DIRTY_AUTO = 0,
	REMUS_DIRTY_PAGEMAP_SCAN,
	REMUS_DIRTY_SOFT_DIRTY,
	REMUS_DIRTY_FULL,
};

/* "auto", "pagemap-scan", "soft-dirty", "full"; "?" for anything else. */
const char *remus_dirty_method_name(enum remus_dirty_method m);
/* Inverse of remus_dirty_method_name(): 0 or -EINVAL. */
int remus_dirty_method_parse(const char *name, enum remus_dirty_method *m);

/*
 * A set of page indexes (see proc/range.h), sized once for the whole guest:
 * both the list and the bitmap are allocated at init, never during a harvest.
 * idx[] holds the members in the order they were added (a harvest adds them
 * in ascending order), bitmap answers membership.
 */
struct remus_dirty_set {
	uint64_t nr_pages;
	uint64_t count;
	uint64_t *idx;
	uint64_t *bitmap;
};

int remus_dirty_set_init(struct remus_dirty_set *s, uint64_t nr_pages);
void remus_dirty_set_fini(struct remus_dirty_set *s);
/* Empties the set; costs O(count), not O(nr_pages). */
void remus_dirty_set_clear(struct remus_dirty_set *s);
/* 1 if added, 0 if already there, -ERANGE if @i >= nr_pages. */
int remus_dirty_set_add(struct remus_dirty_set *s, uint64_t i);
/* Adds every member of @src to @dst (the union a pre-harvested epoch ships). */
int remus_dirty_set_merge(struct remus_dirty_set *dst,
			  const struct remus_dirty_set *src);

static inline bool remus_dirty_set_test(const struct remus_dirty_set *s,
					uint64_t i)
{
	return i < s->nr_pages && (s->bitmap[i / 64] >> (i % 64)) & 1;
}

struct remus_dirty_opts {
	enum remus_dirty_method method;
	/*
	 * page_region entries per PAGEMAP_SCAN call (0: default 4096, 96 KiB).
	 * A full vector is not an error: the harvest goes on from walk_end.
	 */
	unsigned int scan_vec_len;
	/* pagemap entries per pread for soft-dirty (0: default 8192, 64 KiB). */
	unsigned int pagemap_batch;
};

/* Harvest flag: the guest is running (a pre-harvest). */
#define REMUS_DIRTY_F_RUNNING	(1u << 0)
#define REMUS_DIRTY_F_ALL	(REMUS_DIRTY_F_RUNNING)

struct remus_dirty_stats {
	uint64_t harvests;	/* all, pre-harvests included */
	uint64_t pre_harvests;
	uint64_t pages;		/* pages reported, summed */
	uint64_t scan_calls;	/* PAGEMAP_SCAN ioctls or pagemap preads */
	uint64_t vec_full;	/* scan calls that ended on a full vector */
	uint64_t last_ns;	/* duration of the last harvest */
	uint64_t max_ns;
};

struct remus_dirty;

/*
 * Whether @method (AUTO: what auto would pick, in *@picked) works for the
 * guest @pid over @ranges: 0 or one of the errors above. Opens nothing that
 * outlives the call and changes no tracking state.
 */
int remus_dirty_probe(pid_t pid, const struct remus_range *ranges,
		      unsigned int nr, enum remus_dirty_method method,
		      enum remus_dirty_method *picked);

/*
 * Opens a tracker. @opts may be NULL (auto). The ranges are copied. Files are
 * opened once here, so a harvest does no path lookups and a reused PID cannot
 * redirect it.
 */
int remus_dirty_open(struct remus_dirty **out, pid_t pid,
		     const struct remus_range *ranges, unsigned int nr,
		     const struct remus_dirty_opts *opts);
void remus_dirty_close(struct remus_dirty *d);

/* The method in use (never AUTO), for status output. */
enum remus_dirty_method remus_dirty_method(const struct remus_dirty *d);
uint64_t remus_dirty_nr_pages(const struct remus_dirty *d);
size_t remus_dirty_page_size(const struct remus_dirty *d);
const struct remus_range *remus_dirty_ranges(const struct remus_dirty *d,
					     unsigned int *nr);
void remus_dirty_get_stats(const struct remus_dirty *d,
			   struct remus_dirty_stats *st);

/*
 * Fills @out (emptied first; sized for remus_dirty_nr_pages()) with the pages
 * written since the previous harvest and re-arms them. @flags: 0 with the
 * guest stopped, REMUS_DIRTY_F_RUNNING for a pre-harvest (-EOPNOTSUPP with
 * soft-dirty). On error @out holds what was collected so far and the tracker
 * cannot tell which pages were re-armed: the engine must fall back to a full
 * copy.
 */
int remus_dirty_harvest(struct remus_dirty *d, struct remus_dirty_set *out,
			unsigned int flags);

#endif /* REMUS_PROC_DIRTY_H */
