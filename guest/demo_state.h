// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * demo-guest's state, at the start of its region's app area: shared with the
 * tests that read it out of a checkpoint image.
 */
#ifndef REMUS_DEMO_STATE_H
#define REMUS_DEMO_STATE_H

#include <stdint.h>

#define DEMO_MAGIC	0x6f6d65642d73756dULL	/* "mus-demo" */

struct demo_state {
	uint64_t magic;
	uint64_t counter;	/* the last value produced */
	uint64_t sent;		/* the last value handed to the network */
	uint64_t cursor;	/* pages written so far: walks the permutation */
	uint64_t npages;	/* pages that the dirty rate writes */
	uint64_t mult;		/* page = (mult * cursor + add) mod npages */
	uint64_t add;
};

#endif /* REMUS_DEMO_STATE_H */
