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
 *   - output produced since the last barrier is the open epoch;
 *   - BARRIER N (N > B, N < 2^64 - 1) closes the open epoch as epoch N:
 *     everything produced before it belongs to epochs <= N, everything
 *     after it to the next barrier's. Net buffers label the open run with
 *     N at the barrier, so numbers may skip. Disk records carry the epoch
 *     B + 1 current when the write was accepted (it is in the log before
 *     any barrier), so disk barriers should step by one, as remusd's do;
 *   - RELEASE N (net) / COMMIT N (disk) lets out every epoch <= N.
 *     It is cumulative and idempotent: N <= R is a no-op, not an error.
 *     N > B is refused: the open epoch is never released by number;
 *   - DISCARD drops everything held, counted as discarded (failover).
 *
 *            barrier 7             barrier 8         open epoch
 *   queue: [ e7 e7 e7 e7 ] [ e8 e8 ] [ o o o ... ]  <- enqueue
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

#include <linux/ioctl.h>
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
 *   to REMUS_MODE_BUFFER holds new output in the open epoch.
 *   Lowering a limit below the current backlog drops nothing: it only
 *   refuses new output until the backlog is under it.
 *
 * Disk buffers are addressed by REMUS_A_DISK_NAME (the device-mapper name)
 * or REMUS_A_DISK_DEV (its device number, major << 20 | minor, as the
 * kernel's new_encode_dev), exactly one of them. They are global, not per
 * namespace. A disk buffer is one `remus` target (see "Disk buffers"
 * below for the table, the modes, the write log and the flush rule).
 *
 * REMUS_CMD_DISK_GET (do, dump)
 *   request:  REMUS_A_DISK_NAME | REMUS_A_DISK_DEV (do only)
 *             [REMUS_A_FLAGS]                   REMUS_F_GET_MASK
 *   reply:    REMUS_A_DISK_NAME, REMUS_A_DISK_DEV
 *             REMUS_A_DISK_MODE                 enum remus_disk_mode
 *             REMUS_A_MODE                      enum remus_mode
 *             REMUS_A_BARRIER, REMUS_A_RELEASED B and R (R: committed)
 *             REMUS_A_LIMIT_BYTES               bound of the write log
 *                                               (replicate) or of the
 *                                               held writes (stage, buffer)
 *             REMUS_A_DISK_USED_BYTES           counted against it now
 *             REMUS_A_DISK_WAITING              writes waiting for room
 *             REMUS_A_DISK_ERRORS               failed backing-device I/O
 *             REMUS_A_DISK_SECTORS              size of the disk
 *             REMUS_A_STATS (nest)              counters; disks count
 *                                               writes (bios) as "pkts"
 *             [REMUS_A_EPOCH (nest), ...]       with REMUS_F_EPOCHS: one
 *                                               nest per uncommitted epoch
 *                                               (see the modes for what
 *                                               each counts)
 *   A dump walks every disk buffer.
 *
 * REMUS_CMD_DISK_BARRIER (do, admin)
 *   request:  disk, REMUS_A_EPOCH N (> B)
 *   Writes accepted from now on belong to epoch N + 1. In replicate mode a
 *   REMUS_LOG_BARRIER record N goes into the write log, after every record
 *   of epochs <= N. Errors: -EINVAL (N <= B).
 *
 * REMUS_CMD_DISK_COMMIT (do, admin)
 *   request:  disk, REMUS_A_EPOCH N
 *   N <= R: no-op. N > B: -EINVAL. Cumulative and idempotent as RELEASE.
 *   buffer mode: write the held writes of epochs <= N to the backing
 *   device; stage mode: apply the staged writes of epochs <= N; replicate
 *   mode: forget epochs <= N (their records still unread in the log are
 *   dropped: the backup has them). In buffer and stage mode the command
 *   returns once the backing device holds them, flushed when those epochs
 *   held a flush or FUA write; then R = N and REMUS_EVENT_DISK_COMMITTED.
 *   Errors: -EIO (the backing device failed a write; R still moves, the
 *   records are gone, REMUS_A_DISK_ERRORS counts it).
 *
 * REMUS_CMD_DISK_DISCARD (do, admin)
 *   request:  disk
 *   buffer and stage mode: drop every uncommitted write (failover).
 *   replicate mode: drop the unread write log; a REMUS_LOG_GAP record
 *   tells the reader. B and R are kept.
 *
 * REMUS_CMD_DISK_SET (do, admin)
 *   request:  disk, at least one of
 *             [REMUS_A_MODE]                    enum remus_mode
 *             [REMUS_A_LIMIT_BYTES]             >= 1
 *             [REMUS_A_DISK_MODE]               enum remus_disk_mode
 *   REMUS_MODE_PASSTHROUGH: buffer mode writes out everything held (all
 *   epochs, R unchanged) and passes writes on from then on; replicate
 *   mode stops logging (a REMUS_LOG_GAP record marks the hole); stage mode
 *   takes guest writes like a plain linear mapping and refuses log input
 *   (-EBUSY while writes are staged). Changing REMUS_A_DISK_MODE needs an
 *   empty buffer: nothing held, staged, waiting or unread (-EBUSY).
 *   Lowering the limit below what is used drops nothing: new writes wait.
 *
 * REMUS_CMD_EVENT (multicast only, group REMUS_GENL_MCGRP_EVENTS)
 *   REMUS_A_EVENT                               enum remus_event
 *   the object: REMUS_A_IFINDEX + REMUS_A_IFNAME, or REMUS_A_DISK_NAME +
 *   REMUS_A_DISK_DEV
 *   [REMUS_A_EPOCH]                             RELEASED / COMMITTED: R
 *   [REMUS_A_STATS (nest)]                      OVERLIMIT, LOG_FULL,
 *                                               DESTROYED: the counters
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
	REMUS_A_DISK_USED_BYTES,	/* u64, counted against the limit */
	REMUS_A_DISK_WAITING,	/* u32, writes waiting for room */
	REMUS_A_DISK_ERRORS,	/* u64, failed backing-device I/O */
	REMUS_A_DISK_SECTORS,	/* u64, size in 512-byte sectors */

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
	REMUS_EVENT_DISK_LOG_FULL,	/* writers started waiting for room
					 * in the log or the held writes;
					 * REMUS_A_EPOCH = the open epoch
					 */

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

/*
 * Disk buffers
 * ------------
 * The `remus` device-mapper target, stacked on the guest's disk:
 *
 *   0 <sectors> remus <dev_path> <mode> [<key>=<value> ...]
 *
 *   <mode>          replicate | stage | buffer (enum remus_disk_mode)
 *   limit=<bytes>   bound of the write log (replicate) or of the held
 *                   writes (stage, buffer), default REMUS_DISK_DEFAULT_LIMIT
 *
 * It must be the only target of its table and start at sector 0. Bytes
 * counted against the limit are what the records take in the log format
 * below (header and data). When a write does not fit, it waits (the guest
 * sees a slow disk), it is never dropped; a write alone in an empty buffer
 * always fits.
 *
 * replicate (primary, local disk): a write goes to the backing device at
 * once and a copy is appended, tagged with the open epoch, to the write
 * log. The daemon read()s the log from REMUS_LOG_DEVICE in large batches.
 * COMMIT N forgets epochs <= N. Reads go to the backing device.
 *
 * stage (backup): the daemon write()s the primary's log records into
 * REMUS_LOG_DEVICE. Writes are held per epoch (their own tag) and applied
 * to the backing device in order only by COMMIT; DISCARD drops whatever is
 * not committed, so after COMMIT N the backing device holds exactly the
 * primary's disk as of checkpoint N. A REMUS_LOG_BARRIER record N acts as
 * the BARRIER command. Reads see the committed disk; guest writes are
 * refused (-EIO) unless the mode is REMUS_MODE_PASSTHROUGH.
 *
 * buffer (primary, shared disk): a write is copied, held in the open
 * epoch and completed at once; COMMIT N writes out epochs <= N in order.
 * Reads see the guest's own held writes over the backing device (newest
 * wins; a held discard or write-zeroes reads as zeros).
 *
 * Flush and FUA. A guest's flush (or FUA write) promises that what it
 * wrote survives a crash. Under Remus the disk that survives the primary's
 * crash is the one the backup resumes with: the committed checkpoint's,
 * with the guest rolled back to that checkpoint. So the promise is kept if
 * every epoch that holds a flush or FUA write is durable by the time it is
 * committed, and nothing of a later epoch is visible before that.
 *   - replicate: the flush goes to the local disk as the guest asked (it
 *     is the primary's own disk) and a REMUS_LOG_FLUSH record (or a write
 *     record with REMUS_LOG_F_FUA) goes into the log; on the backup that
 *     epoch's COMMIT ends with a flush of the backing device.
 *   - buffer: a flush completes at once and a FUA write completes when it
 *     is held. The guest runs on; the state in which it saw the flush
 *     complete belongs to the same epoch, whose output (network packets
 *     included) is released only after COMMIT, and COMMIT writes the epoch
 *     out and flushes the backing device before it returns. If the
 *     primary dies first, the guest resumes on the backup from an earlier
 *     checkpoint, where the flush never completed: no promise is broken.
 *   - stage: the same rule as the backup side of replicate.
 *
 * Suspend and remove. Held writes are completed writes as far as the
 * guest is concerned. A suspend with flush (dmsetup suspend, the suspend
 * of a table reload, dmsetup remove) writes every held write of a buffer
 * disk out, committed or not, so the next user of the disk sees the
 * guest's data; `dmsetup suspend --noflush` keeps them held. Writes
 * waiting for room are let in over the limit, so that a suspend never
 * hangs. Staged writes of a stage disk are never written out by a suspend:
 * they belong to no checkpoint yet; removing the disk drops them. Removing
 * a replicate disk drops its unread log (the backup must resync).
 */

/* Default bound of a disk buffer's log or held writes. */
#define REMUS_DISK_DEFAULT_LIMIT	(64ULL << 20)

/*
 * The write log
 * -------------
 * REMUS_LOG_DEVICE is one character device for every disk. An open file is
 * bound to one disk with REMUS_LOG_IOC_BIND (one bound file per disk at a
 * time: -EBUSY), then:
 *
 *   read()   replicate mode: whole records, oldest first, as many as fit.
 *            The buffer must hold the largest record, REMUS_LOG_READ_MIN
 *            bytes (-EINVAL if smaller). Blocks until a record is there
 *            (O_NONBLOCK: -EAGAIN); 0 (end of file) once the disk is gone.
 *   write()  stage mode: whole records (a partial one at the end is left
 *            unwritten: a short write). A bad record fails the write if it
 *            is the first (-EINVAL, -EBADMSG for a bad checksum, -ERANGE
 *            past the end of the disk), else ends it short. Blocks while
 *            the held writes are at the limit and a closed epoch could be
 *            committed (O_NONBLOCK: -EAGAIN); -ENOSPC when only the open
 *            epoch holds writes, since no commit could make room.
 *   poll()   EPOLLIN: records to read; EPOLLOUT: room to write;
 *            EPOLLHUP: the disk is gone.
 *
 * Each record is a struct remus_log_record, followed for REMUS_LOG_WRITE
 * by sectors * 512 bytes of data; records are 8-byte aligned since data
 * lengths are multiples of 512. Fields are in the host's byte order (the
 * primary and the backup run the same architecture).
 *
 *   WRITE         data for [sector, sector + sectors); REMUS_LOG_F_FUA if
 *                 the guest asked for it; at most REMUS_LOG_MAX_SECTORS
 *   DISCARD       [sector, sector + sectors) discarded, no data
 *   WRITE_ZEROES  [sector, sector + sectors) zeroed, no data
 *   FLUSH         the guest flushed the disk in this epoch; sectors 0
 *   BARRIER       epoch N closed: every record of epochs <= N is before
 *                 it; epoch = N, sector = sectors = 0
 *   GAP           writes were not logged from here on (pass-through, or
 *                 the unread log was discarded): the backup must resync.
 *                 Never accepted by write().
 *
 * epoch is the epoch the write belongs to (B + 1 when it was accepted);
 * seq numbers a disk's records from 1, so a gap in it shows records that
 * COMMIT dropped unread. checksum is XXH64 (seed 0) over the header, with
 * checksum set to 0, followed by the data.
 */
#define REMUS_LOG_DEVICE	"/dev/remus-log"
#define REMUS_LOG_MAGIC		0x52454d4cU	/* "REML" */
#define REMUS_LOG_MAX_SECTORS	2048U		/* 1 MiB of data */

enum remus_log_type {
	REMUS_LOG_WRITE = 1,
	REMUS_LOG_DISCARD,
	REMUS_LOG_WRITE_ZEROES,
	REMUS_LOG_FLUSH,
	REMUS_LOG_BARRIER,
	REMUS_LOG_GAP,

	__REMUS_LOG_MAX,
	REMUS_LOG_TYPE_MAX = __REMUS_LOG_MAX - 1
};

#define REMUS_LOG_F_FUA		(1U << 0)
#define REMUS_LOG_F_MASK	(REMUS_LOG_F_FUA)

struct remus_log_record {
	__u32	magic;		/* REMUS_LOG_MAGIC */
	__u16	type;		/* enum remus_log_type */
	__u16	flags;		/* REMUS_LOG_F_* */
	__u32	sectors;	/* length of the range, 512-byte sectors */
	__u32	reserved;	/* 0 */
	__u64	sector;		/* first sector, from the start of the disk */
	__u64	epoch;
	__u64	seq;
	__u64	checksum;
};

/* The largest record: a header and REMUS_LOG_MAX_SECTORS of data. */
#define REMUS_LOG_READ_MIN	(sizeof(struct remus_log_record) + \
				 ((__u64)REMUS_LOG_MAX_SECTORS << 9))

/* Exactly one of dev (non-zero) and name (non-empty); flags 0. */
struct remus_log_bind {
	__u32	dev;		/* new_encode_dev() of the disk */
	__u32	flags;
	char	name[128];	/* device-mapper name, NUL-terminated */
};

#define REMUS_LOG_IOC_MAGIC	0xB8
#define REMUS_LOG_IOC_BIND	_IOW(REMUS_LOG_IOC_MAGIC, 1, struct remus_log_bind)

#endif /* _UAPI_LINUX_REMUS_H */
