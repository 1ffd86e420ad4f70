/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * remus: output buffering for checkpoint replication.
 *
 * This header is the one contract between remus.ko and userspace. It is
 * also the specification: every command below carries a comment tree of
 * the attributes it takes and returns.
 *
 * Epochs
 * ------
 * Epoch e is the guest's execution between checkpoint e-1 and checkpoint e.
 * Every output buffer (a "net" buffer, the `remus` qdisc, or a "disk"
 * buffer, the `remus` device-mapper target) has a last barrier B and a
 * release point R, both 64-bit and starting at 0:
 *
 *   - output produced now belongs to the open epoch B + 1;
 *   - BARRIER N (N > B) closes the open epoch: everything produced before
 *     it belongs to epochs <= N, everything after it to N + 1;
 *   - RELEASE N (net) / COMMIT N (disk) lets out every epoch <= N.
 *     It is cumulative and idempotent: N <= R is a no-op, not an error.
 *     N > B is refused: the open epoch is never released by number;
 *   - DISCARD drops everything held, counted as discarded (failover).
 *
 *            barrier 7             barrier 8         open epoch 9
 *   queue: [ e7 e7 e7 e7 ] [ e8 e8 ] [ e9 e9 e9 ... ]  <- enqueue
 *      ^ dequeue allowed once R >= 7
 *
 * Generic netlink
 * ---------------
 * Family REMUS_GENL_NAME, version REMUS_GENL_VERSION, one multicast group
 * REMUS_GENL_MCGRP_EVENTS. The family is netns aware: net buffers are
 * looked up in the caller's network namespace, events are sent in the
 * namespace of the buffer. Every command that changes state needs
 * CAP_NET_ADMIN. Each command has its own strict policy; a rejection
 * carries an extack message and points at the offending attribute.
 * 64-bit attributes are padded with REMUS_A_PAD.
 */
#ifndef _UAPI_LINUX_REMUS_H
#define _UAPI_LINUX_REMUS_H

#include <linux/types.h>

#define REMUS_GENL_NAME		"remus"
#define REMUS_GENL_VERSION	1
#define REMUS_GENL_MCGRP_EVENTS	"events"

/* The qdisc's kind, as in `tc qdisc add dev X root remus`. */
#define REMUS_QDISC_KIND	"remus"
/* The device-mapper target's name, as in a `dmsetup create` table. */
#define REMUS_DM_TARGET		"remus"

/*
 * Commands.
 *
 * Net buffers are addressed by REMUS_A_IFINDEX or REMUS_A_IFNAME (exactly
 * one): the device whose root qdisc is a `remus` qdisc.
 *
 * REMUS_CMD_NET_GET (do, dump)
 *   request:  REMUS_A_IFINDEX | REMUS_A_IFNAME  (do only)
 *             [REMUS_A_FLAGS]                   REMUS_F_GET_MASK
 *   reply:    REMUS_A_IFINDEX, REMUS_A_IFNAME
 *             REMUS_A_MODE                      enum remus_mode
 *             REMUS_A_BARRIER                   last barrier B
 *             REMUS_A_RELEASED                  release point R
 *             REMUS_A_LIMIT_PKTS, REMUS_A_LIMIT_BYTES
 *             REMUS_A_STATS (nest)              REMUS_STATS_A_*
 *             [REMUS_A_EPOCH (nest), ...]       with REMUS_F_EPOCHS: one
 *                                               REMUS_EPOCH_A_* nest per
 *                                               epoch that holds output,
 *                                               oldest first, at most
 *                                               REMUS_EPOCHS_MAX
 *   A dump walks every net buffer of the caller's namespace.
 *
 * REMUS_CMD_NET_BARRIER (do, admin)
 *   request:  REMUS_A_IFINDEX | REMUS_A_IFNAME
 *             REMUS_A_EPOCH                     N, must be > B
 *   Output enqueued from now on belongs to epoch N + 1.
 *   Errors:   -EINVAL (N <= B, extack says so)
 *
 * REMUS_CMD_NET_RELEASE (do, admin)
 *   request:  REMUS_A_IFINDEX | REMUS_A_IFNAME
 *             REMUS_A_EPOCH                     N, release through N
 *   N <= R: no-op. N > B: -EINVAL. Emits REMUS_EVENT_NET_RELEASED when R
 *   moved.
 *
 * REMUS_CMD_NET_DISCARD (do, admin)
 *   request:  REMUS_A_IFINDEX | REMUS_A_IFNAME
 *   Drops every held packet (counted in REMUS_STATS_A_DISCARDED_*). B and
 *   R are kept, so epochs keep increasing across a discard.
 *
 * REMUS_CMD_NET_SET (do, admin)
 *   request:  REMUS_A_IFINDEX | REMUS_A_IFNAME
 *             [REMUS_A_MODE]                    enum remus_mode
 *             [REMUS_A_LIMIT_PKTS]              >= 1
 *             [REMUS_A_LIMIT_BYTES]             >= 1
 *   At least one of the optional attributes. Switching to
 *   REMUS_MODE_PASSTHROUGH lets everything held out at once; switching back
 *   to REMUS_MODE_BUFFER holds new output in the open epoch B + 1.
 *   Lowering a limit below the current backlog drops nothing: it only
 *   refuses new output until the backlog is under it.
 *
 * Disk buffers are addressed by REMUS_A_DISK_NAME (the device-mapper name)
 * or REMUS_A_DISK_DEV (its device number, major << 20 | minor, as the
 * kernel's new_encode_dev). They are global, not per namespace.
 *
 * REMUS_CMD_DISK_GET (do, dump)
 *   request:  REMUS_A_DISK_NAME | REMUS_A_DISK_DEV (do only)
 *             [REMUS_A_FLAGS]                   REMUS_F_GET_MASK
 *   reply:    REMUS_A_DISK_NAME, REMUS_A_DISK_DEV, REMUS_A_DISK_MODE,
 *             REMUS_A_MODE, REMUS_A_BARRIER, REMUS_A_RELEASED,
 *             REMUS_A_LIMIT_BYTES (write log / staging bound),
 *             REMUS_A_STATS (nest), [REMUS_A_EPOCH (nest), ...]
 *
 * REMUS_CMD_DISK_BARRIER (do, admin)
 *   request:  disk, REMUS_A_EPOCH N (> B)
 * REMUS_CMD_DISK_COMMIT (do, admin)
 *   request:  disk, REMUS_A_EPOCH N
 *   buffer mode: release held writes through N; stage mode: apply staged
 *   writes through N to the backing device; replicate mode: forget log
 *   records through N. Cumulative and idempotent as RELEASE.
 * REMUS_CMD_DISK_DISCARD (do, admin)
 *   request:  disk
 *   buffer and stage mode: drop every uncommitted write.
 * REMUS_CMD_DISK_SET (do, admin)
 *   request:  disk, [REMUS_A_MODE], [REMUS_A_LIMIT_BYTES]
 *
 * REMUS_CMD_EVENT (multicast only, group REMUS_GENL_MCGRP_EVENTS)
 *   REMUS_A_EVENT                               enum remus_event
 *   the object: REMUS_A_IFINDEX + REMUS_A_IFNAME, or REMUS_A_DISK_NAME +
 *   REMUS_A_DISK_DEV
 *   [REMUS_A_EPOCH]                             RELEASED / COMMITTED: R
 *   [REMUS_A_STATS (nest)]                      OVERLIMIT: the counters
 */
enum remus_cmd {
	REMUS_CMD_UNSPEC,
	REMUS_CMD_NET_GET,
	REMUS_CMD_NET_BARRIER,
	REMUS_CMD_NET_RELEASE,
	REMUS_CMD_NET_DISCARD,
	REMUS_CMD_NET_SET,
	REMUS_CMD_DISK_GET,
	REMUS_CMD_DISK_BARRIER,
	REMUS_CMD_DISK_COMMIT,
	REMUS_CMD_DISK_DISCARD,
	REMUS_CMD_DISK_SET,
	REMUS_CMD_EVENT,

	__REMUS_CMD_MAX,
	REMUS_CMD_MAX = __REMUS_CMD_MAX - 1
};

enum remus_attr {
	REMUS_A_UNSPEC,
	REMUS_A_PAD,
	REMUS_A_IFINDEX,	/* u32 */
	REMUS_A_IFNAME,		/* string, < IFNAMSIZ */
	REMUS_A_EPOCH,		/* u64 request; nest REMUS_EPOCH_A_* in GET */
	REMUS_A_FLAGS,		/* u32, REMUS_F_* valid for the command */
	REMUS_A_MODE,		/* u32, enum remus_mode */
	REMUS_A_LIMIT_PKTS,	/* u32 */
	REMUS_A_LIMIT_BYTES,	/* u64 */
	REMUS_A_BARRIER,	/* u64, last barrier */
	REMUS_A_RELEASED,	/* u64, release (commit) point */
	REMUS_A_STATS,		/* nest, REMUS_STATS_A_* */
	REMUS_A_EVENT,		/* u32, enum remus_event */
	REMUS_A_DISK_NAME,	/* string, device-mapper name */
	REMUS_A_DISK_DEV,	/* u32, new_encode_dev() form */
	REMUS_A_DISK_MODE,	/* u32, enum remus_disk_mode */

	__REMUS_A_MAX,
	REMUS_A_MAX = __REMUS_A_MAX - 1
};

/* Nested in REMUS_A_EPOCH in GET replies: one epoch that holds output. */
enum remus_epoch_attr {
	REMUS_EPOCH_A_UNSPEC,
	REMUS_EPOCH_A_PAD,
	REMUS_EPOCH_A_EPOCH,	/* u64 */
	REMUS_EPOCH_A_PKTS,	/* u32, packets (net) or writes (disk) */
	REMUS_EPOCH_A_BYTES,	/* u64 */

	__REMUS_EPOCH_A_MAX,
	REMUS_EPOCH_A_MAX = __REMUS_EPOCH_A_MAX - 1
};

/*
 * Nested in REMUS_A_STATS. All u64 counters since the buffer was created,
 * except the BACKLOG pair, which is what is held now.
 */
enum remus_stats_attr {
	REMUS_STATS_A_UNSPEC,
	REMUS_STATS_A_PAD,
	REMUS_STATS_A_BACKLOG_PKTS,	/* held now (disk: writes) */
	REMUS_STATS_A_BACKLOG_BYTES,
	REMUS_STATS_A_QUEUED_PKTS,	/* accepted into the buffer */
	REMUS_STATS_A_QUEUED_BYTES,
	REMUS_STATS_A_RELEASED_PKTS,	/* let out (disk: committed) */
	REMUS_STATS_A_RELEASED_BYTES,
	REMUS_STATS_A_OVERLIMIT_PKTS,	/* refused over the limit, dropped */
	REMUS_STATS_A_OVERLIMIT_BYTES,
	REMUS_STATS_A_DISCARDED_PKTS,	/* dropped by DISCARD or teardown */
	REMUS_STATS_A_DISCARDED_BYTES,
	REMUS_STATS_A_BARRIERS,		/* barrier commands accepted */
	REMUS_STATS_A_RELEASES,		/* releases that moved R */
	REMUS_STATS_A_PASSED_PKTS,	/* sent in pass-through mode */
	REMUS_STATS_A_PASSED_BYTES,
	REMUS_STATS_A_LOG_WAITS,	/* disk: writers that waited on a full log */

	__REMUS_STATS_A_MAX,
	REMUS_STATS_A_MAX = __REMUS_STATS_A_MAX - 1
};

/* REMUS_A_FLAGS of GET requests. */
#define REMUS_F_EPOCHS		(1U << 0)	/* add per-epoch backlog */
#define REMUS_F_GET_MASK	(REMUS_F_EPOCHS)

/* GET replies list at most this many epochs; the rest is in the totals. */
#define REMUS_EPOCHS_MAX	64

enum remus_mode {
	REMUS_MODE_BUFFER,	/* hold output until its epoch is released */
	REMUS_MODE_PASSTHROUGH,	/* let everything out at once */

	__REMUS_MODE_MAX,
	REMUS_MODE_MAX = __REMUS_MODE_MAX - 1
};

enum remus_disk_mode {
	REMUS_DISK_REPLICATE,	/* primary, local disk: write through + log */
	REMUS_DISK_STAGE,	/* backup: hold per epoch, apply on commit */
	REMUS_DISK_BUFFER,	/* primary, shared disk: hold until commit */

	__REMUS_DISK_MAX,
	REMUS_DISK_MAX = __REMUS_DISK_MAX - 1
};

enum remus_event {
	REMUS_EVENT_UNSPEC,
	REMUS_EVENT_NET_CREATED,	/* a remus qdisc was attached */
	REMUS_EVENT_NET_DESTROYED,	/* ... and removed */
	REMUS_EVENT_NET_RELEASED,	/* R moved; REMUS_A_EPOCH = R */
	REMUS_EVENT_NET_OVERLIMIT,	/* first drop over the limit in an
					 * epoch; REMUS_A_EPOCH = the open
					 * epoch, REMUS_A_STATS = counters
					 */
	REMUS_EVENT_DISK_CREATED,
	REMUS_EVENT_DISK_DESTROYED,
	REMUS_EVENT_DISK_COMMITTED,	/* R moved; REMUS_A_EPOCH = R */
	REMUS_EVENT_DISK_LOG_FULL,	/* writers started waiting */

	__REMUS_EVENT_MAX,
	REMUS_EVENT_MAX = __REMUS_EVENT_MAX - 1
};

/*
 * TCA_OPTIONS of the `remus` qdisc (tc qdisc add/change, and its dump).
 * All optional at add; change takes any subset.
 */
enum {
	TCA_REMUS_UNSPEC,
	TCA_REMUS_PAD,
	TCA_REMUS_LIMIT_PKTS,	/* u32 */
	TCA_REMUS_LIMIT_BYTES,	/* u64 */
	TCA_REMUS_MODE,		/* u32, enum remus_mode */
	TCA_REMUS_BARRIER,	/* u64, dump only */
	TCA_REMUS_RELEASED,	/* u64, dump only */

	__TCA_REMUS_MAX,
	TCA_REMUS_MAX = __TCA_REMUS_MAX - 1
};

/* Default limits of a new qdisc: a 100k-packet epoch of full frames fits. */
#define REMUS_DEFAULT_LIMIT_PKTS	262144U
#define REMUS_DEFAULT_LIMIT_BYTES	(512ULL << 20)

/*
 * Extended statistics of the qdisc (TCA_STATS_APP, `tc -s qdisc show`).
 */
struct tc_remus_xstats {
	__u64	barrier;
	__u64	released;
	__u64	released_pkts;
	__u64	overlimit_pkts;
	__u64	discarded_pkts;
	__u64	passed_pkts;
	__u32	epochs_held;	/* epochs that hold packets now */
	__u32	mode;
};

#endif /* _UAPI_LINUX_REMUS_H */
