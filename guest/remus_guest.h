// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libremus-guest: what a program does to be a Remus proc guest.
 *
 * The program keeps all its state in one region that this library maps at a
 * fixed address, sets up dirty tracking on and, on the backup after a
 * failover, fills from the committed image. The protocol with remusd (the
 * handshake descriptor, the region header, the image) is described in
 * lib/proc/guest_proto.h.
 *
 * A guest program:
 *   struct remus_guest g;
 *   struct remus_guest_opts o = { .addr = ..., .size = ... };
 *   if (remus_guest_init(&g, &o)) ...exit
 *   struct my_state *st = g.app;
 *   if (!g.restored) initialise *st;
 *   main loop, reading and writing only *st for what must survive
 *
 * The main loop must be correct when stopped between any two instructions
 * and restarted from main() with the region as it was: order stores so that
 * the region is always consistent (e.g. advance a counter before stamping
 * data with it; record an output as sent only after sending it, so that a
 * restore sends it again rather than skipping it).
 */
#ifndef REMUS_GUEST_H
#define REMUS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc/guest_proto.h"

/* Where guests map their region unless told otherwise: far from the heap,
 * the PIE and the mmap area on x86-64 and arm64 (47/48-bit user space). */
#define REMUS_GUEST_DEFAULT_ADDR	0x200000000000ULL

/* Leave the region's THP setting alone (default: MADV_NOHUGEPAGE, so that one
 * written byte dirties one page, not 512). */
#define REMUS_GUEST_F_HUGEPAGE		(1u << 0)
/* No userfaultfd: tracking "none" (soft-dirty tracks without the guest). */
#define REMUS_GUEST_F_NO_UFFD		(1u << 1)
/* Ignore REMUS_GUEST_* in the environment; use only the options. */
#define REMUS_GUEST_F_NO_ENV		(1u << 2)
/* Do not hand the descriptor over in init: the program checks the region
 * first (say, the restored state) and then calls remus_guest_ready(). */
#define REMUS_GUEST_F_LATE_READY	(1u << 3)
#define REMUS_GUEST_F_ALL		(REMUS_GUEST_F_HUGEPAGE | \
					 REMUS_GUEST_F_NO_UFFD | \
					 REMUS_GUEST_F_NO_ENV | \
					 REMUS_GUEST_F_LATE_READY)

struct remus_guest_opts {
	uint64_t addr;		/* page-aligned; 0: REMUS_GUEST_DEFAULT_ADDR */
	uint64_t size;		/* region bytes, header page included */
	unsigned int flags;
	/* Override the environment (REMUS_GUEST_IMAGE, _FD, _DESC). */
	const char *image;	/* restore from this image */
	int desc_fd;		/* > 0: write the descriptor here, then close */
	const char *desc_path;	/* write the descriptor to this file */
};

struct remus_guest {
	void *base;		/* the region, == addr */
	uint64_t size;
	struct remus_guest_hdr *hdr;	/* at base */
	void *app;		/* program data: base + hdr->app_off */
	uint64_t app_size;
	size_t page_size;
	bool restored;		/* filled from an image: do not re-initialise */
	int uffd;		/* kept open for the process's life; -1: none */
	uint64_t uffd_features;
	enum remus_guest_tracking tracking;
	/* the handshake, until done */
	int desc_fd;
	const char *desc_path;
};

/*
 * Maps the region (restoring it from an image if asked), sets up tracking and
 * does the handshake. 0 or -errno:
 *   -EEXIST     something is already mapped at addr
 *   -EINVAL     bad options, or an image that is not this region's
 *               (wrong size, magic, version, address)
 *   -EIO        the image could not be read whole
 *   others      from mmap, userfaultfd, open, write
 * On failure nothing stays mapped or open, and the handshake fd is closed
 * (the daemon sees EOF at once).
 */
int remus_guest_init(struct remus_guest *g, const struct remus_guest_opts *o);

/*
 * With REMUS_GUEST_F_LATE_READY: hands the descriptor to the daemon, telling
 * it the guest is ready to be checkpointed. 0 or -errno; once only.
 */
int remus_guest_ready(struct remus_guest *g);

/* Unmaps the region and closes the userfaultfd (and an unused handshake fd,
 * which the daemon sees as a failed start). */
void remus_guest_fini(struct remus_guest *g);

#endif /* REMUS_GUEST_H */
