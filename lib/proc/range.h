// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Guest memory as a list of address ranges, and page indexes into it.
 *
 * A proc guest's memory is one or more page-aligned ranges of its address
 * space. Pages are numbered 0..N-1 across the ranges in order: index i is in
 * the first range while i < ranges[0].len / page_size, and so on. Dirty sets,
 * page reads and the checkpoint image all speak these indexes.
 */
#ifndef REMUS_PROC_RANGE_H
#define REMUS_PROC_RANGE_H

#include <stddef.h>
#include <stdint.h>

struct remus_range {
	uint64_t start;		/* page-aligned address in the guest */
	uint64_t len;		/* bytes, a non-zero multiple of the page size */
};

/*
 * 0 if @ranges are non-empty, page-aligned, sorted and disjoint, and the pages
 * they cover fit a uint64_t; -EINVAL otherwise. @nr_pages gets the page count.
 */
int remus_ranges_check(const struct remus_range *ranges, unsigned int nr,
		       size_t page_size, uint64_t *nr_pages);

/*
 * Address of page @idx, or 0 if @idx is past the last range. Linear in @nr,
 * which is small (a guest has a handful of ranges).
 */
uint64_t remus_ranges_addr(const struct remus_range *ranges, unsigned int nr,
			   size_t page_size, uint64_t idx);

#endif /* REMUS_PROC_RANGE_H */
