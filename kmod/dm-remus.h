/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the `remus` device-mapper target, shared by the target
 * (dm-remus.c), its write-log character device (dm-remus-log.c) and its
 * netlink commands (dm-remus-nl.c).
 */
#ifndef _DM_REMUS_H
#define _DM_REMUS_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/dm-ioctl.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "remus.h"

/* A node of an interval tree over sectors [start, last]. */
struct remus_span {
	struct rb_node rb;
	u64 start;
	u64 last;
	u64 sub;
};

/*
 * One write (or discard, write-zeroes, flush, barrier, gap) as the log
 * format describes it, with its data in whole pages. Immutable once
 * accepted; reads of a buffer disk take references to the records they
 * overlay, so a commit may free a record under an in-flight read.
 */
struct remus_rec {
	struct list_head node;		/* in its epoch, or in the log */
	struct remus_span idx;		/* buffer: the read index */
	struct remus_span fence;	/* commit: submitted since the fence */
	struct kref ref;
	u64 epoch;
	u64 seq;
	sector_t sector;
	u32 sectors;
	u16 type;			/* enum remus_log_type */
	u16 flags;			/* REMUS_LOG_F_* */
	unsigned int nr_pages;
	struct page *pages[];
};

/* Writes of one epoch not yet committed (buffer, stage), or their count. */
struct remus_epoch {
	struct list_head node;		/* in remus_disk.epochs, oldest first */
	struct list_head recs;		/* buffer, stage: held records */
	u64 epoch;
	u32 writes;
	u64 bytes;			/* data bytes, as the counters */
	u64 used;			/* bytes counted against the limit */
	bool flush;			/* a flush or FUA write is in it */
};

struct remus_disk {
	struct list_head node;		/* remus_disks, under its mutex */
	struct kref ref;
	struct dm_target *ti;
	struct dm_dev *dev;
	struct mapped_device *md;
	u32 devnum;			/* new_encode_dev() form */
	sector_t sectors;
	u64 cfg_limit;			/* the table's limit= (0: default) */
	bool resumed;			/* resumed once: the live instance */
	char name[DM_NAME_LEN];		/* as last seen; under ->lock */

	/* Commands that wait for I/O: commit, discard, set, teardown. */
	struct mutex ctl;
	/* One reader or writer of the log at a time. */
	struct mutex io;

	spinlock_t lock;		/* all below */
	bool dead;			/* destructor ran */
	bool bound;			/* a log file is bound */
	bool draining;			/* suspending: nothing waits */
	bool noflush;			/* ... with --noflush */
	bool applying;			/* writing all out: pass-through waits */
	bool full_event;		/* LOG_FULL to send */
	u32 dmode;			/* enum remus_disk_mode */
	u32 mode;			/* enum remus_mode */
	u64 barrier;
	u64 released;
	u64 max_open;			/* stage: highest tag above B */
	u64 limit;
	u64 used;
	u64 seq;
	atomic64_t errors;		/* not under ->lock: end_io */
	struct remus_counters c;
	struct list_head epochs;	/* struct remus_epoch, oldest first */
	struct remus_epoch *spare;	/* taken under the lock */
	struct rb_root_cached index;	/* buffer: held records, by sector */
	struct list_head log;		/* replicate: records not yet read */
	struct bio_list waiting;	/* writes waiting for room, in order */
	unsigned int nr_waiting;

	wait_queue_head_t log_wait;	/* readers and stage writers */
	struct work_struct work;	/* lets waiting writes in */
};

/* Size of a record in the log format: what the limit counts. */
static inline u64 remus_rec_size(const struct remus_rec *r)
{
	u64 n = sizeof(struct remus_log_record);

	if (r->type == REMUS_LOG_WRITE)
		n += (u64)r->sectors << SECTOR_SHIFT;
	return n;
}

struct remus_rec *remus_rec_alloc(u16 type, u32 sectors, gfp_t gfp);
void remus_rec_put(struct remus_rec *r);
u64 remus_rec_checksum(const struct remus_log_record *hdr,
		       const struct remus_rec *r);
void remus_rec_header(const struct remus_rec *r, struct remus_log_record *h);

/* The disks, for netlink and the log device. Lookups take a reference. */
struct remus_disk *remus_disk_get_by_name(const char *name);
struct remus_disk *remus_disk_get_by_dev(u32 devnum);
void remus_disk_put(struct remus_disk *d);
/* Dumps: the idx-th live disk, with a reference, or NULL past the end. */
struct remus_disk *remus_disk_get_nth(long idx);

void remus_disk_snapshot(struct remus_disk *d, struct remus_state *st,
			 u32 *dmode, u64 *used, u32 *waiting, u64 *errors,
			 char *name);
int remus_disk_barrier(struct remus_disk *d, u64 epoch,
		       const struct nlattr *attr,
		       struct netlink_ext_ack *extack);
int remus_disk_commit(struct remus_disk *d, u64 epoch,
		      const struct nlattr *attr,
		      struct netlink_ext_ack *extack);
int remus_disk_discard(struct remus_disk *d, struct netlink_ext_ack *extack);
int remus_disk_set(struct remus_disk *d, const u32 *mode, const u64 *limit,
		   const u32 *dmode, struct netlink_ext_ack *extack);

/* Log device: bind, read and write paths (dm-remus-log.c). */
int remus_log_init(void);
void remus_log_exit(void);
/* Stage input: take one verified record; consumes it on success. */
int remus_disk_stage(struct remus_disk *d, struct remus_rec *r, bool nonblock);
/* Replicate output: room was made; let waiting writes in. */
void remus_disk_log_consumed(struct remus_disk *d, u64 bytes);

#endif /* _DM_REMUS_H */
