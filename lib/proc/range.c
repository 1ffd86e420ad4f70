// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "proc/range.h"

int remus_ranges_check(const struct remus_range *ranges, unsigned int nr,
		       size_t page_size, uint64_t *nr_pages)
{
	uint64_t pages = 0, prev_end = 0;
	unsigned int i;

	if (!ranges || !nr || !page_size || (page_size & (page_size - 1)))
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		uint64_t s = ranges[i].start, l = ranges[i].len;

		if (!l || (s | l) & (page_size - 1))
			return -EINVAL;
		if (s + l < s || (i && s < prev_end))
			return -EINVAL;
		prev_end = s + l;
		pages += l / page_size;
	}
	if (nr_pages)
		*nr_pages = pages;
	return 0;
}

uint64_t remus_ranges_addr(const struct remus_range *ranges, unsigned int nr,
			   size_t page_size, uint64_t idx)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		uint64_t pages = ranges[i].len / page_size;

		if (idx < pages)
			return ranges[i].start + idx * page_size;
		idx -= pages;
	}
	return 0;
}
