// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel interfaces newer than Debian 12's userspace headers (6.1), copied
 * from the kernel's include/uapi/linux/fs.h and userfaultfd.h. Each is guarded
 * so that newer headers win; the values are ABI and cannot change.
 */
#ifndef REMUS_PROC_KCOMPAT_H
#define REMUS_PROC_KCOMPAT_H

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* userfaultfd.h, 6.4: write-protect pages that were never populated. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif

/* userfaultfd.h, 6.7: resolve write-protect faults in the kernel. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

/* fs.h, 6.7: the PAGEMAP_SCAN ioctl on /proc/PID/pagemap. */
#ifndef PAGEMAP_SCAN

#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)

#endif /* PAGEMAP_SCAN */

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define REMUS_PM_SOFT_DIRTY	(1ULL << 55)

#endif /* REMUS_PROC_KCOMPAT_H */
