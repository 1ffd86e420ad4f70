// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The contract between remusd and a proc guest: the start-up handshake, the
 * region header and the checkpoint image. Shared by libremus (daemon side)
 * and libremus-guest (guest side, guest/remus_guest.c).
 *
 * Region. The guest keeps all the state that must survive a failover in one
 * anonymous private mapping at a fixed address (MAP_FIXED_NOREPLACE), the same
 * on every host. Its first page starts with struct remus_guest_hdr; the
 * program's data follows from hdr.app_off.
 *
 * Start-up handshake (primary).
 *   remusd                                 guest (remus_guest_init)
 *   pipe(O_CLOEXEC); clear CLOEXEC on
 *   the write end; exec the program with
 *   REMUS_GUEST_FD=<write fd>  ------->    map the region; create a userfaultfd
 *                                          (the uffd must belong to the guest's
 *                                          own mm), UFFDIO_API WP_ASYNC |
 *                                          WP_UNPOPULATED, register the region
 *                                          in MODE_WP; if the kernel refuses,
 *                                          tracking is "none"
 *   read until EOF  <-------------------   write the descriptor, close the fd
 *   open the dirty tracker (auto: pagemap-scan when tracking is
 *   uffd-wp-async, soft-dirty otherwise), stop, first harvest, copy...
 * EOF without a complete descriptor means the guest failed to start.
 * Instead of a pipe, REMUS_GUEST_DESC=<path> makes the guest write the
 * descriptor to <path>.tmp and rename it to <path>, so a reader never sees
 * half of it.
 *
 * Descriptor: text, one "key value" per line, first line "remus-guest 1";
 * unknown keys are skipped so that later versions can add some:
 *   remus-guest 1
 *   pid 1234
 *   addr 0x200000000000
 *   size 67108864
 *   page-size 4096
 *   tracking uffd-wp-async        ("none": the daemon must use soft-dirty)
 *   uffd-features 0xa000          (what UFFDIO_API granted, for status)
 *   restored 0                    (1: started from an image)
 *   generation 0                  (how many restores this state went through)
 *
 * Restore (backup, on failover). The committed memory image is a file of
 * exactly hdr.size bytes: byte i is region byte i. It may be sparse: holes
 * are zero pages, which the guest leaves unpopulated. The backup starts the
 * same program with the same arguments and REMUS_GUEST_IMAGE=<path> (plus
 * REMUS_GUEST_FD for the handshake, as on the primary). remus_guest_init()
 * maps the region at the same address, fills it from the image, checks the
 * header (magic, version, addr, size), bumps hdr.generation, sets up
 * tracking, and tells the program it was restored; the program's main loop
 * then carries on from the region's contents. No other state blob is needed:
 * a guest keeps nothing that matters outside the region (sockets and timers
 * are re-created; outputs already released are in the region's state).
 */
#ifndef REMUS_PROC_GUEST_PROTO_H
#define REMUS_PROC_GUEST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REMUS_GUEST_ENV_FD	"REMUS_GUEST_FD"
#define REMUS_GUEST_ENV_DESC	"REMUS_GUEST_DESC"
#define REMUS_GUEST_ENV_IMAGE	"REMUS_GUEST_IMAGE"

#define REMUS_GUEST_DESC_VERSION	1
/* A descriptor is a few lines; anything longer is not one. */
#define REMUS_GUEST_DESC_MAX		1024

#define REMUS_GUEST_HDR_MAGIC		"REMUSGST"
#define REMUS_GUEST_HDR_VERSION		1

struct remus_guest_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;	/* sizeof(struct remus_guest_hdr) */
	uint64_t addr;		/* where the region is mapped */
	uint64_t size;		/* region bytes, header page included */
	uint64_t app_off;	/* program data starts here */
	uint64_t generation;	/* restores so far */
};

enum remus_guest_tracking {
	REMUS_GUEST_TRACK_NONE = 0,
	REMUS_GUEST_TRACK_UFFD_WP_ASYNC,
};

struct remus_guest_desc {
	unsigned int version;
	pid_t pid;
	uint64_t addr;
	uint64_t size;
	uint32_t page_size;
	enum remus_guest_tracking tracking;
	uint64_t uffd_features;
	bool restored;
	uint64_t generation;
};

/* "none", "uffd-wp-async"; "?" otherwise. */
const char *remus_guest_tracking_name(enum remus_guest_tracking t);

/* Bytes written to @buf (NUL-terminated, not counted), or -ENOSPC. */
int remus_guest_desc_format(const struct remus_guest_desc *d, char *buf,
			    size_t len);
/* 0, or -EINVAL (with no partial result) if @buf is not a descriptor. */
int remus_guest_desc_parse(const char *buf, size_t len,
			   struct remus_guest_desc *d);
/*
 * Reads a descriptor from @fd until EOF: 0, -ETIMEDOUT after @timeout_ms
 * (negative: no limit), -EPIPE on EOF before anything was written (the guest
 * died or never ran remus_guest_init), -EINVAL on garbage.
 */
int remus_guest_desc_read(int fd, int timeout_ms, struct remus_guest_desc *d);

/*
 * 0 if @hdr is a valid region header for a region of @size bytes at @addr
 * (@addr or @size 0: accept any); -EINVAL otherwise.
 */
int remus_guest_hdr_check(const struct remus_guest_hdr *hdr, uint64_t addr,
			  uint64_t size);

#endif /* REMUS_PROC_GUEST_PROTO_H */
