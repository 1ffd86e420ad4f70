// SPDX-License-Identifier: GPL-2.0
/*
 * dm-remus: the disk output buffer of a checkpointed guest.
 *
 *   0 <sectors> remus <dev_path> replicate|stage|buffer [limit=<bytes>]
 *
 * Every write is tagged, when the target accepts it, with the open epoch
 * B + 1 (B: the last barrier), as the network buffer tags packets. The
 * modes differ in where the write goes (the uapi header has the rules,
 * docs/disk.md the reasoning):
 *
 *   replicate   bio --> backing device           (at once)
 *                 \--> copy --> write log --> read() by the daemon
 *   stage       write() of log records --> held per epoch
 *                 COMMIT N --> epochs <= N written to the backing device
 *   buffer      bio --> copy held per epoch, bio completed at once
 *                 COMMIT N --> epochs <= N written to the backing device
 *                 reads: backing data overlaid with held copies
 *
 * Held writes are copies in pages of our own: a completed bio's pages go
 * back to the guest, and in buffer mode the guest must run on, so its bio
 * is completed as soon as the copy is held. Holding the bio instead would
 * stall the guest for a whole checkpoint round trip.
 *
 *      released R         barrier B
 *           |                 |
 *   epochs: | [e7: w w] [e8: w] | [e9: w w w ...]  <- accepted writes
 *             committed by COMMIT   open epoch B + 1
 *
 * The log and the held writes are bounded by a byte limit. A write that
 * does not fit waits on a FIFO (the bio is not completed: the guest sees
 * a slow disk) until the reader drains the log or a commit makes room;
 * writes behind it wait too, so the log keeps the order in which the
 * target accepted the writes.
 *
 * Applying held writes (commit, suspend) submits them in order, as fast as
 * the backing device takes them, except that a write overlapping one not
 * yet completed waits for everything before it: the newest data wins, as
 * it did for the guest. Reads of a buffer disk take references to the held
 * records they overlap, so they return the data that was newest when they
 * were issued, whether or not a commit wrote it out meanwhile.
 */
#include <linux/blkdev.h>
#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/interval_tree_generic.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/xxhash.h>

#include "dm-remus.h"

#define DM_MSG_PREFIX "remus"

static LIST_HEAD(remus_disks);
static DEFINE_MUTEX(remus_disks_lock);
static struct workqueue_struct *remus_wq;

#define SPAN_START(s)	((s)->start)
#define SPAN_LAST(s)	((s)->last)
INTERVAL_TREE_DEFINE(struct remus_span, rb, u64, sub, SPAN_START, SPAN_LAST,
		     static, span_it)

static const char * const remus_dmode_names[] = {
	[REMUS_DISK_REPLICATE]	= "replicate",
	[REMUS_DISK_STAGE]	= "stage",
	[REMUS_DISK_BUFFER]	= "buffer",
};

/* Per bio: a write waiting for room, or the records a read overlays. */
struct remus_pbd {
	struct remus_rec *rec;
	struct bvec_iter iter;
	unsigned int nr;
	struct remus_rec **recs;
	struct remus_rec *inl[4];
};

/* ---- records ---------------------------------------------------------- */

struct remus_rec *remus_rec_alloc(u16 type, u32 sectors, gfp_t gfp)
{
	unsigned int i, n = 0;
	struct remus_rec *r;

	if (type == REMUS_LOG_WRITE)
		n = DIV_ROUND_UP((size_t)sectors << SECTOR_SHIFT, PAGE_SIZE);
	r = kmalloc(struct_size(r, pages, n), gfp);
	if (!r)
		return NULL;
	INIT_LIST_HEAD(&r->node);
	kref_init(&r->ref);
	r->epoch = 0;
	r->seq = 0;
	r->sector = 0;
	r->sectors = sectors;
	r->type = type;
	r->flags = 0;
	r->nr_pages = n;
	for (i = 0; i < n; i++) {
		r->pages[i] = alloc_page(gfp);
		if (!r->pages[i]) {
			r->nr_pages = i;
			remus_rec_put(r);
			return NULL;
		}
	}
	return r;
}

static void remus_rec_release(struct kref *ref)
{
	struct remus_rec *r = container_of(ref, struct remus_rec, ref);
	unsigned int i;

	for (i = 0; i < r->nr_pages; i++)
		__free_page(r->pages[i]);
	kfree(r);
}

void remus_rec_put(struct remus_rec *r)
{
	kref_put(&r->ref, remus_rec_release);
}

static void remus_rec_put_list(struct list_head *head)
{
	struct remus_rec *r, *n;

	list_for_each_entry_safe(r, n, head, node) {
		list_del_init(&r->node);
		remus_rec_put(r);
	}
}

/* Copy between a record's data at byte offset off and a kernel buffer. */
static void rec_copy(struct remus_rec *r, size_t off, void *buf, size_t len,
		     bool to_rec)
{
	while (len) {
		struct page *pg = r->pages[off >> PAGE_SHIFT];
		size_t po = offset_in_page(off);
		size_t n = min(len, PAGE_SIZE - po);
		void *p = kmap_local_page(pg);

		if (to_rec)
			memcpy(p + po, buf, n);
		else
			memcpy(buf, p + po, n);
		kunmap_local(p);
		buf += n;
		off += n;
		len -= n;
	}
}

void remus_rec_header(const struct remus_rec *r, struct remus_log_record *h)
{
	h->magic = REMUS_LOG_MAGIC;
	h->type = r->type;
	h->flags = r->flags;
	h->sectors = r->sectors;
	h->reserved = 0;
	h->sector = r->sector;
	h->epoch = r->epoch;
	h->seq = r->seq;
	h->checksum = 0;
}

/* XXH64 of the header (its checksum field must be 0) and the data. */
u64 remus_rec_checksum(const struct remus_log_record *h,
		       const struct remus_rec *r)
{
	size_t left = r->type == REMUS_LOG_WRITE ?
		      (size_t)r->sectors << SECTOR_SHIFT : 0;
	struct xxh64_state st;
	unsigned int i;

	xxh64_reset(&st, 0);
	xxh64_update(&st, h, sizeof(*h));
	for (i = 0; left; i++) {
		size_t n = min_t(size_t, left, PAGE_SIZE);
		void *p = kmap_local_page(r->pages[i]);

		xxh64_update(&st, p, n);
		kunmap_local(p);
		left -= n;
	}
	return xxh64_digest(&st);
}

/* A record of what @bio does; @bio is already remapped. */
static struct remus_rec *remus_rec_from_bio(struct bio *bio)
{
	struct bvec_iter it;
	struct bio_vec bv;
	struct remus_rec *r;
	size_t off = 0;
	u16 type;

	switch (bio_op(bio)) {
	case REQ_OP_DISCARD:
		type = REMUS_LOG_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		type = REMUS_LOG_WRITE_ZEROES;
		break;
	default:
		type = bio_sectors(bio) ? REMUS_LOG_WRITE : REMUS_LOG_FLUSH;
		break;
	}
	r = remus_rec_alloc(type, bio_sectors(bio), GFP_NOIO);
	if (!r)
		return NULL;
	r->sector = bio->bi_iter.bi_sector;
	if (type == REMUS_LOG_WRITE && (bio->bi_opf & REQ_FUA))
		r->flags |= REMUS_LOG_F_FUA;
	if (type != REMUS_LOG_WRITE)
		return r;
	bio_for_each_segment(bv, bio, it) {
		void *p = bvec_kmap_local(&bv);

		rec_copy(r, off, p, bv.bv_len, true);
		kunmap_local(p);
		off += bv.bv_len;
	}
	return r;
}

static u64 rec_bytes(const struct remus_rec *r)
{
	return r->type == REMUS_LOG_WRITE ?
	       (u64)r->sectors << SECTOR_SHIFT : 0;
}

static bool rec_is_write(const struct remus_rec *r)
{
	return r->type == REMUS_LOG_WRITE || r->type == REMUS_LOG_DISCARD ||
	       r->type == REMUS_LOG_WRITE_ZEROES;
}

/* ---- epochs ----------------------------------------------------------- */

/*
 * The bucket of epoch @e at the tail, taking the spare for a new one.
 * NULL when a new one is needed and there is no spare: the caller drops
 * the lock, refills and tries again. Under d->lock.
 */
static struct remus_epoch *remus_bucket(struct remus_disk *d, u64 e)
{
	struct remus_epoch *ep;

	if (!list_empty(&d->epochs)) {
		ep = list_last_entry(&d->epochs, struct remus_epoch, node);
		if (ep->epoch == e)
			return ep;
	}
	ep = d->spare;
	if (!ep)
		return NULL;
	d->spare = NULL;
	memset(ep, 0, sizeof(*ep));
	INIT_LIST_HEAD(&ep->recs);
	ep->epoch = e;
	list_add_tail(&ep->node, &d->epochs);
	return ep;
}

static int remus_refill(struct remus_disk *d, gfp_t gfp)
{
	struct remus_epoch *ep = kmalloc(sizeof(*ep), gfp);

	if (!ep)
		return -ENOMEM;
	spin_lock(&d->lock);
	if (!d->spare) {
		d->spare = ep;
		ep = NULL;
	}
	spin_unlock(&d->lock);
	kfree(ep);
	return 0;
}

/* Account an accepted record in its bucket and the counters. */
static void remus_account(struct remus_disk *d, struct remus_epoch *ep,
			  struct remus_rec *r, u64 used)
{
	u64 bytes = rec_bytes(r);

	if (r->type == REMUS_LOG_FLUSH || (r->flags & REMUS_LOG_F_FUA))
		ep->flush = true;
	ep->used += used;
	if (!rec_is_write(r))
		return;
	ep->writes++;
	ep->bytes += bytes;
	d->c.queued_pkts++;
	d->c.queued_bytes += bytes;
	d->c.backlog_pkts++;
	d->c.backlog_bytes += bytes;
}

/* A bucket leaves: committed (released) or dropped. Under d->lock. */
static void remus_unaccount(struct remus_disk *d, struct remus_epoch *ep,
			    bool committed)
{
	d->used -= ep->used;
	d->c.backlog_pkts -= ep->writes;
	d->c.backlog_bytes -= ep->bytes;
	if (committed) {
		d->c.released_pkts += ep->writes;
		d->c.released_bytes += ep->bytes;
	} else {
		d->c.discarded_pkts += ep->writes;
		d->c.discarded_bytes += ep->bytes;
	}
}

static void remus_index_remove(struct remus_disk *d, struct remus_epoch *ep)
{
	struct remus_rec *r;

	if (d->dmode != REMUS_DISK_BUFFER)
		return;
	list_for_each_entry(r, &ep->recs, node)
		if (!RB_EMPTY_NODE(&r->idx.rb)) {
			span_it_remove(&r->idx, &d->index);
			RB_CLEAR_NODE(&r->idx.rb);
		}
}

static void remus_free_epochs(struct list_head *epochs)
{
	struct remus_epoch *ep, *n;

	list_for_each_entry_safe(ep, n, epochs, node) {
		list_del(&ep->node);
		remus_rec_put_list(&ep->recs);
		kfree(ep);
	}
}

/* Drop the unread log. Under d->lock; records go to @out. */
static void remus_log_drop(struct remus_disk *d, struct list_head *out)
{
	struct remus_rec *r;

	list_for_each_entry(r, &d->log, node)
		d->used -= remus_rec_size(r);
	list_splice_tail_init(&d->log, out);
}

static bool remus_has_room(struct remus_disk *d, u64 size)
{
	return !d->used || d->used + size <= d->limit;
}

static void remus_kick(struct remus_disk *d)
{
	if (READ_ONCE(d->nr_waiting))
		queue_work(remus_wq, &d->work);
	if (wq_has_sleeper(&d->log_wait))
		wake_up_interruptible(&d->log_wait);
}

/* ---- the write path --------------------------------------------------- */

enum remus_route {
	ROUTE_REMAP,		/* send the bio to the backing device */
	ROUTE_HELD,		/* held: complete the bio */
	ROUTE_KILL,		/* refuse: -EIO */
	ROUTE_WAIT,		/* no room yet, or writes before it wait */
	ROUTE_NEED_EPOCH,	/* refill the spare bucket, try again */
	ROUTE_NEED_REC,		/* copy the write, try again */
};

/*
 * Decide what happens to a write now and accept its record if it goes
 * into the log or the held writes (*rp becomes NULL then). @head: the bio
 * is the head of the waiting list. Under d->lock.
 */
static enum remus_route remus_route(struct remus_disk *d, struct bio *bio,
				    struct remus_rec **rp, bool head)
{
	struct remus_rec *r = *rp;
	struct remus_epoch *ep;
	u64 size;

	if (!head && (d->nr_waiting || d->applying))
		return ROUTE_WAIT;
	if (d->mode == REMUS_MODE_PASSTHROUGH) {
		if (d->applying)
			return ROUTE_WAIT;
		if (bio_sectors(bio)) {
			d->c.passed_pkts++;
			if (bio_op(bio) == REQ_OP_WRITE)
				d->c.passed_bytes += bio->bi_iter.bi_size;
		}
		return ROUTE_REMAP;
	}
	/* Stage: the disk is the committed checkpoint; a flush is harmless. */
	if (d->dmode == REMUS_DISK_STAGE)
		return bio_sectors(bio) ? ROUTE_KILL : ROUTE_REMAP;
	if (!r)
		return ROUTE_NEED_REC;
	size = remus_rec_size(r);
	if (!remus_has_room(d, size) && !d->draining)
		return ROUTE_WAIT;
	ep = remus_bucket(d, d->barrier + 1);
	if (!ep)
		return ROUTE_NEED_EPOCH;

	r->epoch = d->barrier + 1;
	r->seq = ++d->seq;
	*rp = NULL;
	if (d->dmode == REMUS_DISK_REPLICATE) {
		remus_account(d, ep, r, 0);
		d->used += size;
		list_add_tail(&r->node, &d->log);
		return ROUTE_REMAP;
	}
	/* buffer: a flush is a mark on its epoch, the rest is held */
	if (r->type == REMUS_LOG_FLUSH) {
		remus_account(d, ep, r, 0);
		remus_rec_put(r);
		return ROUTE_HELD;
	}
	remus_account(d, ep, r, size);
	d->used += size;
	list_add_tail(&r->node, &ep->recs);
	r->idx.start = r->sector;
	r->idx.last = r->sector + r->sectors - 1;
	span_it_insert(&r->idx, &d->index);
	return ROUTE_HELD;
}

/*
 * Start waiting. Under d->lock. The bio waits without its copy, which the
 * worker takes again when it lets the write in: memory for writes is
 * bounded by the limit, not by how many bios the guest has in flight.
 */
static void remus_wait_bio(struct remus_disk *d, struct bio *bio)
{
	struct remus_pbd *p = dm_per_bio_data(bio, sizeof(*p));

	p->rec = NULL;
	bio_list_add(&d->waiting, bio);
	d->c.log_waits++;
	if (!d->nr_waiting++) {
		d->full_event = true;
		queue_work(remus_wq, &d->work);
	}
}

static void remus_fail_bio(struct bio *bio, blk_status_t st)
{
	bio->bi_status = st;
	bio_endio(bio);
}

static int remus_map_write(struct remus_disk *d, struct bio *bio)
{
	struct remus_rec *r = NULL;
	enum remus_route rt;

	/* Copy outside the lock when the mode says it will be needed. */
	if (READ_ONCE(d->mode) == REMUS_MODE_BUFFER &&
	    READ_ONCE(d->dmode) != REMUS_DISK_STAGE) {
		r = remus_rec_from_bio(bio);
		if (!r)
			goto nomem;
	}
	for (;;) {
		spin_lock(&d->lock);
		rt = remus_route(d, bio, &r, false);
		if (rt == ROUTE_WAIT)
			remus_wait_bio(d, bio);
		spin_unlock(&d->lock);
		if (rt == ROUTE_NEED_EPOCH) {
			if (remus_refill(d, GFP_NOIO))
				goto nomem;
		} else if (rt == ROUTE_NEED_REC) {
			r = remus_rec_from_bio(bio);
			if (!r)
				goto nomem;
		} else {
			break;
		}
	}
	if (r)
		remus_rec_put(r);
	switch (rt) {
	case ROUTE_WAIT:
		return DM_MAPIO_SUBMITTED;
	case ROUTE_REMAP:
		return DM_MAPIO_REMAPPED;
	case ROUTE_HELD:
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	default:
		return DM_MAPIO_KILL;
	}

nomem:
	if (r)
		remus_rec_put(r);
	remus_fail_bio(bio, BLK_STS_RESOURCE);
	return DM_MAPIO_SUBMITTED;
}

/* Let waiting writes in, in order, while there is room. */
static void remus_work(struct work_struct *work)
{
	struct remus_disk *d = container_of(work, struct remus_disk, work);
	struct remus_counters c;
	char name[DM_NAME_LEN];
	bool event;
	u64 open;

	spin_lock(&d->lock);
	event = d->full_event;
	d->full_event = false;
	open = d->barrier + 1;
	c = d->c;
	strscpy(name, d->name, sizeof(name));
	spin_unlock(&d->lock);
	if (event)
		remus_nl_event_disk(REMUS_EVENT_DISK_LOG_FULL, name, d->devnum,
				    open, &c, GFP_NOIO);

	for (;;) {
		struct remus_pbd *p;
		enum remus_route rt;
		struct remus_rec *r;
		struct bio *bio;

		spin_lock(&d->lock);
		bio = bio_list_peek(&d->waiting);
		if (!bio) {
			spin_unlock(&d->lock);
			return;
		}
		p = dm_per_bio_data(bio, sizeof(*p));
		r = p->rec;
		rt = remus_route(d, bio, &r, true);
		p->rec = r;
		if (rt == ROUTE_WAIT) {
			spin_unlock(&d->lock);
			return;
		}
		if (rt != ROUTE_NEED_EPOCH && rt != ROUTE_NEED_REC) {
			bio_list_pop(&d->waiting);
			d->nr_waiting--;
			p->rec = NULL;
		}
		spin_unlock(&d->lock);

		switch (rt) {
		case ROUTE_NEED_EPOCH:
			if (remus_refill(d, GFP_NOIO))
				goto stall;
			continue;
		case ROUTE_NEED_REC:
			p->rec = remus_rec_from_bio(bio);
			if (!p->rec)
				goto stall;
			continue;
		case ROUTE_REMAP:
			dm_submit_bio_remap(bio, NULL);
			break;
		case ROUTE_HELD:
			bio_endio(bio);
			break;
		default:
			remus_fail_bio(bio, BLK_STS_IOERR);
			break;
		}
		if (r)
			remus_rec_put(r);
	}

stall:
	/* Out of memory with nothing else to free it: try again shortly. */
	msleep(20);
	queue_work(remus_wq, &d->work);
}

/* ---- the read path (buffer mode) -------------------------------------- */

static int rec_seq_cmp(const void *a, const void *b)
{
	const struct remus_rec *x = *(struct remus_rec * const *)a;
	const struct remus_rec *y = *(struct remus_rec * const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool remus_covered(struct remus_rec **recs, unsigned int n,
			  u64 start, u64 end)
{
	u64 pos = start;

	while (pos < end) {
		u64 reach = pos;
		unsigned int i;

		for (i = 0; i < n; i++) {
			u64 s = recs[i]->sector, e = s + recs[i]->sectors;

			if (s <= pos && e > reach)
				reach = e;
		}
		if (reach == pos)
			return false;
		pos = reach;
	}
	return true;
}

/* Copy held data over the read range @iter of @bio, oldest first. */
static void remus_overlay(struct bio *bio, struct bvec_iter iter,
			  struct remus_rec **recs, unsigned int n)
{
	u64 start = iter.bi_sector;
	u64 end = start + (iter.bi_size >> SECTOR_SHIFT);
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct remus_rec *r = recs[i];
		u64 a = max_t(u64, start, r->sector);
		u64 b = min_t(u64, end, r->sector + r->sectors);
		size_t roff = (a - r->sector) << SECTOR_SHIFT;
		struct bvec_iter it = iter, si;
		struct bio_vec bv;

		if (a >= b)
			continue;
		bio_advance_iter(bio, &it, (a - start) << SECTOR_SHIFT);
		it.bi_size = (b - a) << SECTOR_SHIFT;
		__bio_for_each_segment(bv, bio, si, it) {
			void *p = bvec_kmap_local(&bv);

			if (r->type == REMUS_LOG_WRITE)
				rec_copy(r, roff, p, bv.bv_len, false);
			else
				memset(p, 0, bv.bv_len);
			kunmap_local(p);
			flush_dcache_page(bv.bv_page);
			roff += bv.bv_len;
		}
	}
}

static void remus_pbd_release(struct remus_pbd *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++)
		remus_rec_put(p->recs[i]);
	if (p->recs != p->inl)
		kfree(p->recs);
	p->nr = 0;
	p->recs = p->inl;
}

static int remus_map_read(struct remus_disk *d, struct bio *bio,
			  struct remus_pbd *p)
{
	u64 start = bio->bi_iter.bi_sector;
	u64 last = start + bio_sectors(bio) - 1;
	unsigned int cap = ARRAY_SIZE(p->inl), n;
	struct remus_span *s;

	if (READ_ONCE(d->dmode) != REMUS_DISK_BUFFER || !bio_sectors(bio))
		return DM_MAPIO_REMAPPED;
	for (;;) {
		n = 0;
		spin_lock(&d->lock);
		for (s = span_it_iter_first(&d->index, start, last); s;
		     s = span_it_iter_next(s, start, last)) {
			struct remus_rec *r = container_of(s, struct remus_rec,
							   idx);

			if (n < cap) {
				kref_get(&r->ref);
				p->recs[n] = r;
			}
			n++;
		}
		spin_unlock(&d->lock);
		if (n <= cap)
			break;
		p->nr = cap;
		remus_pbd_release(p);
		cap = n + 8;
		p->recs = kmalloc_array(cap, sizeof(*p->recs), GFP_NOIO);
		if (!p->recs) {
			p->recs = p->inl;
			remus_fail_bio(bio, BLK_STS_RESOURCE);
			return DM_MAPIO_SUBMITTED;
		}
	}
	p->nr = n;
	if (!n)
		return DM_MAPIO_REMAPPED;
	sort(p->recs, n, sizeof(*p->recs), rec_seq_cmp, NULL);
	if (remus_covered(p->recs, n, start, last + 1)) {
		remus_overlay(bio, bio->bi_iter, p->recs, n);
		remus_pbd_release(p);
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	p->iter = bio->bi_iter;
	return DM_MAPIO_REMAPPED;
}

static int remus_map(struct dm_target *ti, struct bio *bio)
{
	struct remus_disk *d = ti->private;
	struct remus_pbd *p = dm_per_bio_data(bio, sizeof(*p));

	p->rec = NULL;
	p->nr = 0;
	p->recs = p->inl;
	bio_set_dev(bio, d->dev->bdev);
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return remus_map_read(d, bio, p);
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		return remus_map_write(d, bio);
	default:
		return DM_MAPIO_KILL;
	}
}

static int remus_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	struct remus_disk *d = ti->private;
	struct remus_pbd *p = dm_per_bio_data(bio, sizeof(*p));

	if (p->nr) {
		if (!*error)
			remus_overlay(bio, p->iter, p->recs, p->nr);
		remus_pbd_release(p);
	}
	if (*error && *error != BLK_STS_NOTSUPP)
		atomic64_inc(&d->errors);
	return DM_ENDIO_DONE;
}

/* ---- applying held writes to the backing device ----------------------- */

struct remus_apply {
	atomic_t pending;		/* bios in flight, + 1 for the submitter */
	struct completion done;
	blk_status_t status;
	struct rb_root_cached fence;	/* ranges submitted since the fence */
	struct block_device *bdev;
	bool flush;
};

static void remus_apply_endio(struct bio *bio)
{
	struct remus_apply *a = bio->bi_private;

	if (bio->bi_status && bio->bi_status != BLK_STS_NOTSUPP)
		WRITE_ONCE(a->status, bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&a->pending))
		complete(&a->done);
}

/* Wait for everything submitted so far. */
static void remus_apply_fence(struct remus_apply *a)
{
	if (!atomic_dec_and_test(&a->pending))
		wait_for_completion_io(&a->done);
	reinit_completion(&a->done);
	atomic_set(&a->pending, 1);
	a->fence = RB_ROOT_CACHED;
}

static void remus_apply_submit(struct remus_apply *a, struct bio *bio)
{
	bio->bi_end_io = remus_apply_endio;
	bio->bi_private = a;
	atomic_inc(&a->pending);
	submit_bio(bio);
}

static void remus_apply_rec(struct remus_apply *a, struct remus_rec *r)
{
	u64 last = r->sector + r->sectors - 1;
	struct bio *bio = NULL;
	unsigned int i;
	size_t left;

	if (r->flags & REMUS_LOG_F_FUA)
		a->flush = true;
	if (span_it_iter_first(&a->fence, r->sector, last))
		remus_apply_fence(a);
	r->fence.start = r->sector;
	r->fence.last = last;
	span_it_insert(&r->fence, &a->fence);

	switch (r->type) {
	case REMUS_LOG_WRITE:
		bio = bio_alloc(a->bdev, r->nr_pages, REQ_OP_WRITE | REQ_SYNC,
				GFP_NOIO);
		bio->bi_iter.bi_sector = r->sector;
		left = (size_t)r->sectors << SECTOR_SHIFT;
		for (i = 0; i < r->nr_pages; i++) {
			size_t n = min_t(size_t, left, PAGE_SIZE);

			__bio_add_page(bio, r->pages[i], n, 0);
			left -= n;
		}
		break;
	case REMUS_LOG_DISCARD:
		/* Advisory: a disk that cannot discard keeps its data. */
		if (bdev_max_discard_sectors(a->bdev))
			__blkdev_issue_discard(a->bdev, r->sector, r->sectors,
					       GFP_NOIO, &bio);
		break;
	case REMUS_LOG_WRITE_ZEROES:
		if (__blkdev_issue_zeroout(a->bdev, r->sector, r->sectors,
					   GFP_NOIO, &bio, 0))
			WRITE_ONCE(a->status, BLK_STS_IOERR);
		break;
	}
	if (bio)
		remus_apply_submit(a, bio);
}

/*
 * Write the records of @epochs to the backing device, in order, and flush
 * it if they hold a flush or FUA write. Returns 0 or -EIO. Sleeps.
 */
static int remus_apply(struct remus_disk *d, struct list_head *epochs)
{
	struct remus_apply a = {
		.pending = ATOMIC_INIT(1),
		.fence = RB_ROOT_CACHED,
		.bdev = d->dev->bdev,
	};
	struct remus_epoch *ep;
	struct blk_plug plug;
	struct remus_rec *r;

	init_completion(&a.done);
	blk_start_plug(&plug);
	list_for_each_entry(ep, epochs, node) {
		a.flush |= ep->flush;
		list_for_each_entry(r, &ep->recs, node)
			remus_apply_rec(&a, r);
	}
	blk_finish_plug(&plug);
	if (!atomic_dec_and_test(&a.pending))
		wait_for_completion_io(&a.done);
	if (a.status)
		goto err;
	if (a.flush && blkdev_issue_flush(a.bdev))
		goto err;
	return 0;

err:
	atomic64_inc(&d->errors);
	return -EIO;
}

/*
 * Write out every held write, committed or not (pass-through, suspend,
 * teardown of a buffer disk). R stays: those epochs were not acknowledged.
 * Under d->ctl.
 */
static int remus_write_out_all(struct remus_disk *d, bool mark_applying)
{
	LIST_HEAD(epochs);
	struct remus_epoch *ep;
	int err;

	spin_lock(&d->lock);
	list_splice_init(&d->epochs, &epochs);
	if (mark_applying)
		d->applying = true;
	spin_unlock(&d->lock);

	err = remus_apply(d, &epochs);

	spin_lock(&d->lock);
	list_for_each_entry(ep, &epochs, node) {
		remus_index_remove(d, ep);
		remus_unaccount(d, ep, true);
	}
	d->applying = false;
	spin_unlock(&d->lock);
	remus_free_epochs(&epochs);
	remus_kick(d);
	return err;
}

/* ---- commands (netlink, .message, the log device) --------------------- */

static int remus_alive(struct remus_disk *d, struct netlink_ext_ack *extack)
{
	if (d->dead) {
		NL_SET_ERR_MSG(extack, "disk is being removed");
		return -ENODEV;
	}
	return 0;
}

void remus_disk_snapshot(struct remus_disk *d, struct remus_state *st,
			 u32 *dmode, u64 *used, u32 *waiting, u64 *errors,
			 char *name)
{
	struct remus_epoch *ep;
	unsigned int n = 0;

	spin_lock(&d->lock);
	st->barrier = d->barrier;
	st->released = d->released;
	st->limit_bytes = d->limit;
	st->limit_pkts = 0;
	st->mode = d->mode;
	st->c = d->c;
	list_for_each_entry(ep, &d->epochs, node) {
		if (!st->epochs || n == st->max_epochs)
			break;
		st->epochs[n].epoch = ep->epoch;
		st->epochs[n].pkts = ep->writes;
		st->epochs[n].bytes = ep->bytes;
		n++;
	}
	st->nr_epochs = n;
	*dmode = d->dmode;
	*used = d->used;
	*waiting = d->nr_waiting;
	if (name)
		strscpy(name, d->name, DM_NAME_LEN);
	spin_unlock(&d->lock);
	*errors = atomic64_read(&d->errors);
}

int remus_disk_barrier(struct remus_disk *d, u64 epoch,
		       const struct nlattr *attr,
		       struct netlink_ext_ack *extack)
{
	struct remus_rec *r;
	int err;

	r = remus_rec_alloc(REMUS_LOG_BARRIER, 0, GFP_KERNEL);
	if (!r || remus_refill(d, GFP_KERNEL)) {
		if (r)
			remus_rec_put(r);
		return -ENOMEM;
	}
	spin_lock(&d->lock);
	err = remus_alive(d, extack);
	if (!err)
		err = remus_epoch_check_barrier(d->barrier, epoch, attr,
						extack);
	if (!err && d->dmode == REMUS_DISK_STAGE && epoch < d->max_open) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "staged writes are tagged above this epoch");
		err = -EINVAL;
	}
	if (!err) {
		d->barrier = epoch;
		d->c.barriers++;
		if (d->dmode == REMUS_DISK_REPLICATE &&
		    d->mode == REMUS_MODE_BUFFER) {
			r->epoch = epoch;
			r->seq = ++d->seq;
			d->used += remus_rec_size(r);
			list_add_tail(&r->node, &d->log);
			r = NULL;
		}
	}
	spin_unlock(&d->lock);
	if (r)
		remus_rec_put(r);
	if (!err)
		remus_kick(d);
	return err;
}

int remus_disk_commit(struct remus_disk *d, u64 epoch,
		      const struct nlattr *attr,
		      struct netlink_ext_ack *extack)
{
	struct remus_epoch *ep, *n;
	char name[DM_NAME_LEN];
	LIST_HEAD(epochs);
	LIST_HEAD(forgot);
	bool moved = false;
	int err;

	mutex_lock(&d->ctl);
	spin_lock(&d->lock);
	err = remus_alive(d, extack);
	if (!err)
		err = remus_epoch_check_release(d->barrier, epoch, attr,
						extack);
	if (err || epoch <= d->released) {
		spin_unlock(&d->lock);
		goto out;
	}
	list_for_each_entry_safe(ep, n, &d->epochs, node) {
		if (ep->epoch > epoch)
			break;
		list_move_tail(&ep->node, &epochs);
	}
	if (d->dmode == REMUS_DISK_REPLICATE) {
		struct remus_rec *r, *rn;

		list_for_each_entry_safe(r, rn, &d->log, node) {
			if (r->epoch > epoch)
				break;
			d->used -= remus_rec_size(r);
			list_move_tail(&r->node, &forgot);
		}
	}
	spin_unlock(&d->lock);

	if (d->dmode != REMUS_DISK_REPLICATE) {
		err = remus_apply(d, &epochs);
		if (err)
			NL_SET_ERR_MSG(extack,
				       "the backing device failed a write");
	}

	spin_lock(&d->lock);
	list_for_each_entry(ep, &epochs, node) {
		remus_index_remove(d, ep);
		remus_unaccount(d, ep, true);
	}
	d->released = epoch;
	d->c.releases++;
	moved = true;
	strscpy(name, d->name, sizeof(name));
	spin_unlock(&d->lock);
	remus_free_epochs(&epochs);
	remus_rec_put_list(&forgot);
	remus_kick(d);
out:
	mutex_unlock(&d->ctl);
	if (moved)
		remus_nl_event_disk(REMUS_EVENT_DISK_COMMITTED, name,
				    d->devnum, epoch, NULL, GFP_KERNEL);
	return err;
}

int remus_disk_discard(struct remus_disk *d, struct netlink_ext_ack *extack)
{
	struct remus_rec *gap;
	struct remus_epoch *ep;
	LIST_HEAD(epochs);
	LIST_HEAD(recs);
	int err;

	gap = remus_rec_alloc(REMUS_LOG_GAP, 0, GFP_KERNEL);
	if (!gap)
		return -ENOMEM;
	mutex_lock(&d->ctl);
	spin_lock(&d->lock);
	err = remus_alive(d, extack);
	if (err)
		goto unlock;
	list_splice_init(&d->epochs, &epochs);
	list_for_each_entry(ep, &epochs, node) {
		remus_index_remove(d, ep);
		remus_unaccount(d, ep, false);
	}
	if (d->dmode == REMUS_DISK_STAGE)
		d->max_open = d->barrier;
	if (d->dmode == REMUS_DISK_REPLICATE && !list_empty(&d->log)) {
		remus_log_drop(d, &recs);
		gap->epoch = d->barrier + 1;
		gap->seq = ++d->seq;
		d->used += remus_rec_size(gap);
		list_add_tail(&gap->node, &d->log);
		gap = NULL;
	}
unlock:
	spin_unlock(&d->lock);
	mutex_unlock(&d->ctl);
	remus_free_epochs(&epochs);
	remus_rec_put_list(&recs);
	if (gap)
		remus_rec_put(gap);
	remus_kick(d);
	return err;
}

static bool remus_is_empty(struct remus_disk *d)
{
	return list_empty(&d->epochs) && list_empty(&d->log) &&
	       !d->nr_waiting && !d->used;
}

int remus_disk_set(struct remus_disk *d, const u32 *mode, const u64 *limit,
		   const u32 *dmode, struct netlink_ext_ack *extack)
{
	u32 new_dmode, new_mode;
	struct remus_rec *gap;
	bool write_out = false;
	int err;

	gap = remus_rec_alloc(REMUS_LOG_GAP, 0, GFP_KERNEL);
	if (!gap)
		return -ENOMEM;
	mutex_lock(&d->ctl);
	spin_lock(&d->lock);
	err = remus_alive(d, extack);
	if (err)
		goto unlock;
	new_dmode = dmode ? *dmode : d->dmode;
	new_mode = mode ? *mode : d->mode;
	if (new_dmode != d->dmode && !remus_is_empty(d)) {
		NL_SET_ERR_MSG(extack,
			       "disk holds writes: commit or discard them, drain the log");
		err = -EBUSY;
		goto unlock;
	}
	if (new_dmode == REMUS_DISK_STAGE &&
	    new_mode == REMUS_MODE_PASSTHROUGH && !list_empty(&d->epochs)) {
		NL_SET_ERR_MSG(extack,
			       "writes are staged: commit or discard them first");
		err = -EBUSY;
		goto unlock;
	}
	if (limit)
		d->limit = *limit;
	if (new_dmode != d->dmode) {
		d->dmode = new_dmode;
		d->max_open = d->barrier;
	}
	if (new_mode != d->mode) {
		if (new_mode == REMUS_MODE_PASSTHROUGH &&
		    new_dmode == REMUS_DISK_REPLICATE) {
			gap->epoch = d->barrier + 1;
			gap->seq = ++d->seq;
			d->used += remus_rec_size(gap);
			list_add_tail(&gap->node, &d->log);
			gap = NULL;
		}
		write_out = new_mode == REMUS_MODE_PASSTHROUGH &&
			    new_dmode == REMUS_DISK_BUFFER;
		/* Pass-through writes wait until what is held is out. */
		if (write_out)
			d->applying = true;
		d->mode = new_mode;
	}
unlock:
	spin_unlock(&d->lock);
	if (write_out && remus_write_out_all(d, true)) {
		NL_SET_ERR_MSG(extack, "the backing device failed a write");
		err = -EIO;
	}
	mutex_unlock(&d->ctl);
	if (gap)
		remus_rec_put(gap);
	remus_kick(d);
	return err;
}

static bool remus_stage_wake(struct remus_disk *d, u64 size)
{
	return READ_ONCE(d->dead) || remus_has_room(d, size) ||
	       READ_ONCE(d->dmode) != REMUS_DISK_STAGE ||
	       READ_ONCE(d->mode) != REMUS_MODE_BUFFER;
}

/*
 * Stage input: one verified record from the log device. Waits for room
 * while a closed epoch could be committed to make some.
 */
int remus_disk_stage(struct remus_disk *d, struct remus_rec *r, bool nonblock)
{
	u64 size = remus_rec_size(r);
	struct remus_epoch *ep;
	int err;

	for (;;) {
		bool closed;

		spin_lock(&d->lock);
		err = remus_alive(d, NULL);
		if (err)
			break;
		err = -EOPNOTSUPP;
		if (d->dmode != REMUS_DISK_STAGE ||
		    d->mode != REMUS_MODE_BUFFER)
			break;
		err = -EINVAL;
		if (r->type == REMUS_LOG_BARRIER) {
			if (r->epoch <= d->barrier || r->epoch < d->max_open)
				break;
			d->barrier = r->epoch;
			d->c.barriers++;
			spin_unlock(&d->lock);
			remus_rec_put(r);
			return 0;
		}
		if (r->epoch <= d->barrier || r->epoch < d->max_open)
			break;
		ep = list_first_entry_or_null(&d->epochs, struct remus_epoch,
					      node);
		closed = ep && ep->epoch <= d->barrier;
		if (r->type != REMUS_LOG_FLUSH && !remus_has_room(d, size)) {
			err = closed ? -EAGAIN : -ENOSPC;
			if (!closed || nonblock)
				break;
			if (!d->full_event) {
				d->full_event = true;
				queue_work(remus_wq, &d->work);
			}
			d->c.log_waits++;
			spin_unlock(&d->lock);
			if (wait_event_interruptible(d->log_wait,
						     remus_stage_wake(d, size)))
				return -ERESTARTSYS;
			continue;
		}
		ep = remus_bucket(d, r->epoch);
		if (!ep) {
			spin_unlock(&d->lock);
			if (remus_refill(d, GFP_KERNEL))
				return -ENOMEM;
			continue;
		}
		d->max_open = r->epoch;
		r->seq = ++d->seq;
		if (r->type == REMUS_LOG_FLUSH) {
			remus_account(d, ep, r, 0);
			spin_unlock(&d->lock);
			remus_rec_put(r);
			return 0;
		}
		remus_account(d, ep, r, size);
		d->used += size;
		list_add_tail(&r->node, &ep->recs);
		spin_unlock(&d->lock);
		return 0;
	}
	spin_unlock(&d->lock);
	return err;
}

void remus_disk_log_consumed(struct remus_disk *d, u64 bytes)
{
	spin_lock(&d->lock);
	d->used -= bytes;
	spin_unlock(&d->lock);
	remus_kick(d);
}

/* ---- the list of disks ------------------------------------------------ */

static void remus_disk_release(struct kref *ref)
{
	struct remus_disk *d = container_of(ref, struct remus_disk, ref);

	kfree(d->spare);
	kfree(d);
}

void remus_disk_put(struct remus_disk *d)
{
	kref_put(&d->ref, remus_disk_release);
}

/*
 * The instance that serves its device: during a table reload two exist,
 * the newest one resumed is live. Under remus_disks_lock.
 */
static bool remus_disk_is_live(struct remus_disk *d)
{
	struct remus_disk *o = d;

	if (!d->resumed)
		return false;
	list_for_each_entry_continue(o, &remus_disks, node)
		if (o->md == d->md && o->resumed)
			return false;
	return true;
}

/* Under remus_disks_lock, with @d on the list, so its device exists. */
static void __remus_disk_refresh_name(struct remus_disk *d)
{
	char *name = kmalloc(DM_NAME_LEN, GFP_KERNEL);

	if (!name)
		return;
	if (!dm_copy_name_and_uuid(d->md, name, NULL)) {
		spin_lock(&d->lock);
		strscpy(d->name, name, DM_NAME_LEN);
		spin_unlock(&d->lock);
	}
	kfree(name);
}

struct remus_disk *remus_disk_get_by_name(const char *name)
{
	struct remus_disk *d, *found = NULL;

	mutex_lock(&remus_disks_lock);
	list_for_each_entry(d, &remus_disks, node) {
		if (!remus_disk_is_live(d))
			continue;
		__remus_disk_refresh_name(d);
		if (!strcmp(d->name, name)) {
			kref_get(&d->ref);
			found = d;
			break;
		}
	}
	mutex_unlock(&remus_disks_lock);
	return found;
}

struct remus_disk *remus_disk_get_by_dev(u32 devnum)
{
	struct remus_disk *d, *found = NULL;

	mutex_lock(&remus_disks_lock);
	list_for_each_entry(d, &remus_disks, node) {
		if (d->devnum == devnum && remus_disk_is_live(d)) {
			__remus_disk_refresh_name(d);
			kref_get(&d->ref);
			found = d;
			break;
		}
	}
	mutex_unlock(&remus_disks_lock);
	return found;
}

struct remus_disk *remus_disk_get_nth(long idx)
{
	struct remus_disk *d, *found = NULL;

	mutex_lock(&remus_disks_lock);
	list_for_each_entry(d, &remus_disks, node) {
		if (!remus_disk_is_live(d) || idx--)
			continue;
		__remus_disk_refresh_name(d);
		kref_get(&d->ref);
		found = d;
		break;
	}
	mutex_unlock(&remus_disks_lock);
	return found;
}

/* ---- the target ------------------------------------------------------- */

/* Strict: digits only, no sign, no suffix, no trailing junk. */
static int remus_parse_u64(const char *s, u64 *v)
{
	unsigned long long x;
	char dummy;

	if (!isdigit(*s) || sscanf(s, "%llu%c", &x, &dummy) != 1)
		return -EINVAL;
	*v = x;
	return 0;
}

static int remus_parse_dmode(const char *s, u32 *dmode)
{
	u32 i;

	for (i = 0; i < ARRAY_SIZE(remus_dmode_names); i++)
		if (!strcmp(s, remus_dmode_names[i])) {
			*dmode = i;
			return 0;
		}
	return -EINVAL;
}

static int remus_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct remus_disk *d, *o;
	bool sibling = false;
	u64 limit = 0;
	unsigned int i;
	u32 dmode;
	int err;

	if (argc < 2) {
		ti->error = "Requires <dev_path> <mode> [<key>=<value> ...]";
		return -EINVAL;
	}
	if (remus_parse_dmode(argv[1], &dmode)) {
		ti->error = "Unknown mode: want replicate, stage or buffer";
		return -EINVAL;
	}
	for (i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "limit=", 6)) {
			if (limit) {
				ti->error = "Duplicate limit=";
				return -EINVAL;
			}
			if (remus_parse_u64(argv[i] + 6, &limit) || !limit) {
				ti->error = "Invalid limit: want bytes, >= 1";
				return -EINVAL;
			}
			continue;
		}
		ti->error = "Unknown option: want limit=<bytes>";
		return -EINVAL;
	}

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	kref_init(&d->ref);
	mutex_init(&d->ctl);
	mutex_init(&d->io);
	spin_lock_init(&d->lock);
	INIT_LIST_HEAD(&d->epochs);
	INIT_LIST_HEAD(&d->log);
	d->index = RB_ROOT_CACHED;
	bio_list_init(&d->waiting);
	init_waitqueue_head(&d->log_wait);
	INIT_WORK(&d->work, remus_work);
	d->dmode = dmode;
	d->mode = REMUS_MODE_BUFFER;
	d->cfg_limit = limit;
	d->limit = limit ?: REMUS_DISK_DEFAULT_LIMIT;
	d->ti = ti;
	d->sectors = ti->len;

	err = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table),
			    &d->dev);
	if (err) {
		ti->error = "Device lookup failed";
		goto err_free;
	}
	err = dm_set_target_max_io_len(ti, REMUS_LOG_MAX_SECTORS);
	if (err)
		goto err_put;
	d->spare = kmalloc(sizeof(*d->spare), GFP_KERNEL);
	if (!d->spare) {
		ti->error = "Cannot allocate context";
		err = -ENOMEM;
		goto err_put;
	}
	d->md = dm_table_get_md(ti->table);
	d->devnum = new_encode_dev(disk_devt(dm_disk(d->md)));
	if (dm_copy_name_and_uuid(d->md, d->name, NULL))
		d->name[0] = '\0';

	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->flush_supported = true;
	ti->per_io_data_size = sizeof(struct remus_pbd);
	ti->private = d;

	mutex_lock(&remus_disks_lock);
	list_for_each_entry(o, &remus_disks, node)
		sibling |= o->md == d->md;
	list_add_tail(&d->node, &remus_disks);
	mutex_unlock(&remus_disks_lock);
	if (!sibling)
		remus_nl_event_disk(REMUS_EVENT_DISK_CREATED, d->name,
				    d->devnum, 0, NULL, GFP_KERNEL);
	return 0;

err_put:
	dm_put_device(ti, d->dev);
err_free:
	kfree(d->spare);
	kfree(d);
	return err;
}

static void remus_dtr(struct dm_target *ti)
{
	struct remus_disk *d = ti->private, *o;
	LIST_HEAD(epochs);
	LIST_HEAD(recs);
	bool sibling = false;
	struct remus_epoch *ep;

	mutex_lock(&remus_disks_lock);
	list_del(&d->node);
	list_for_each_entry(o, &remus_disks, node)
		sibling |= o->md == d->md;
	mutex_unlock(&remus_disks_lock);

	mutex_lock(&d->ctl);
	/*
	 * A buffer disk suspended without flush still holds the guest's
	 * completed writes: they go out now, the disk must not lose them.
	 */
	if (d->dmode == REMUS_DISK_BUFFER && !list_empty(&d->epochs) &&
	    remus_write_out_all(d, false))
		DMERR("%s: held writes lost: the backing device failed",
		      d->name);
	spin_lock(&d->lock);
	d->dead = true;
	list_splice_init(&d->epochs, &epochs);
	list_for_each_entry(ep, &epochs, node) {
		remus_index_remove(d, ep);
		remus_unaccount(d, ep, false);
	}
	remus_log_drop(d, &recs);
	spin_unlock(&d->lock);
	mutex_unlock(&d->ctl);
	wake_up_interruptible_all(&d->log_wait);
	flush_work(&d->work);
	WARN_ON_ONCE(d->nr_waiting);
	remus_free_epochs(&epochs);
	remus_rec_put_list(&recs);

	if (!sibling)
		remus_nl_event_disk(REMUS_EVENT_DISK_DESTROYED, d->name,
				    d->devnum, d->released, &d->c, GFP_KERNEL);
	dm_put_device(ti, d->dev);
	remus_disk_put(d);
}

/* Nothing may wait through a suspend: let waiting writes in, over limit. */
static void remus_presuspend(struct dm_target *ti)
{
	struct remus_disk *d = ti->private;

	spin_lock(&d->lock);
	d->draining = true;
	/* Only known here: dm clears it before postsuspend. */
	d->noflush = dm_noflush_suspending(ti);
	spin_unlock(&d->lock);
	remus_kick(d);
}

static void remus_presuspend_undo(struct dm_target *ti)
{
	struct remus_disk *d = ti->private;

	spin_lock(&d->lock);
	d->draining = false;
	spin_unlock(&d->lock);
}

/*
 * The device is quiet. A suspend with flush hands the disk to whoever
 * comes next (a new table, removal): held writes go out. --noflush keeps
 * them held.
 */
static void remus_postsuspend(struct dm_target *ti)
{
	struct remus_disk *d = ti->private;

	flush_work(&d->work);
	if (d->dmode != REMUS_DISK_BUFFER || d->noflush)
		return;
	mutex_lock(&d->ctl);
	if (!list_empty(&d->epochs) && remus_write_out_all(d, false))
		DMERR("%s: the backing device failed a held write", d->name);
	mutex_unlock(&d->ctl);
}

/*
 * A new table on the same device (reload): the old instance is suspended
 * and about to go. Its held writes go out before this one serves reads,
 * and the epoch numbers carry on.
 */
static int remus_preresume(struct dm_target *ti)
{
	struct remus_disk *d = ti->private, *o, *old = NULL;

	mutex_lock(&remus_disks_lock);
	list_for_each_entry(o, &remus_disks, node)
		if (o != d && o->md == d->md && !o->dead) {
			kref_get(&o->ref);
			old = o;
			break;
		}
	mutex_unlock(&remus_disks_lock);
	if (!old)
		return 0;

	mutex_lock(&old->ctl);
	if (old->dmode == REMUS_DISK_BUFFER && !list_empty(&old->epochs) &&
	    remus_write_out_all(old, false))
		DMERR("%s: the backing device failed a held write", d->name);
	mutex_unlock(&old->ctl);
	spin_lock(&old->lock);
	if (!d->resumed) {
		d->barrier = max(d->barrier, old->barrier);
		d->released = max(d->released, old->released);
		d->max_open = d->barrier;
	}
	spin_unlock(&old->lock);
	remus_disk_put(old);
	return 0;
}

static void remus_resume(struct dm_target *ti)
{
	struct remus_disk *d = ti->private;

	mutex_lock(&remus_disks_lock);
	spin_lock(&d->lock);
	d->draining = false;
	d->resumed = true;
	spin_unlock(&d->lock);
	mutex_unlock(&remus_disks_lock);
}

static void remus_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct remus_disk *d = ti->private;
	unsigned int sz = 0;

	spin_lock(&d->lock);
	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%s %s barrier=%llu committed=%llu",
		       remus_dmode_names[d->dmode],
		       d->mode == REMUS_MODE_BUFFER ? "protect" : "passthrough",
		       d->barrier, d->released);
		DMEMIT(" held=%llu/%llu used=%llu/%llu",
		       d->c.backlog_pkts, d->c.backlog_bytes, d->used,
		       d->limit);
		DMEMIT(" waiting=%u waits=%llu errors=%lld", d->nr_waiting,
		       d->c.log_waits, (s64)atomic64_read(&d->errors));
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s", d->dev->name, remus_dmode_names[d->dmode]);
		if (d->cfg_limit || d->limit != REMUS_DISK_DEFAULT_LIMIT)
			DMEMIT(" limit=%llu", d->limit);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",mode=%s,limit=%llu;", remus_dmode_names[d->dmode],
		       d->limit);
		break;
	}
	spin_unlock(&d->lock);
}

/*
 * The netlink commands, for scripts without a netlink client:
 *   barrier <N> | commit <N> | discard | limit <bytes> |
 *   passthrough on|off | mode replicate|stage|buffer
 */
static int remus_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct remus_disk *d = ti->private;
	u64 v;
	u32 m;

	if (argc == 1 && !strcasecmp(argv[0], "discard"))
		return remus_disk_discard(d, NULL);
	if (argc != 2)
		goto bad;
	if (!strcasecmp(argv[0], "barrier") || !strcasecmp(argv[0], "commit")) {
		if (remus_parse_u64(argv[1], &v))
			goto bad;
		if (!strcasecmp(argv[0], "barrier"))
			return remus_disk_barrier(d, v, NULL, NULL);
		return remus_disk_commit(d, v, NULL, NULL);
	}
	if (!strcasecmp(argv[0], "limit")) {
		if (remus_parse_u64(argv[1], &v) || !v)
			goto bad;
		return remus_disk_set(d, NULL, &v, NULL, NULL);
	}
	if (!strcasecmp(argv[0], "passthrough")) {
		if (!strcmp(argv[1], "on"))
			m = REMUS_MODE_PASSTHROUGH;
		else if (!strcmp(argv[1], "off"))
			m = REMUS_MODE_BUFFER;
		else
			goto bad;
		return remus_disk_set(d, &m, NULL, NULL, NULL);
	}
	if (!strcasecmp(argv[0], "mode")) {
		if (remus_parse_dmode(argv[1], &m))
			goto bad;
		return remus_disk_set(d, NULL, NULL, &m, NULL);
	}
bad:
	DMWARN("unrecognised message: see the target's documentation");
	return -EINVAL;
}

static int remus_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct remus_disk *d = ti->private;

	return fn(ti, d->dev, 0, ti->len, data);
}

static struct target_type remus_target = {
	.name			= REMUS_DM_TARGET,
	.version		= {1, 0, 0},
	.features		= DM_TARGET_SINGLETON,
	.module			= THIS_MODULE,
	.ctr			= remus_ctr,
	.dtr			= remus_dtr,
	.map			= remus_map,
	.end_io			= remus_end_io,
	.presuspend		= remus_presuspend,
	.presuspend_undo	= remus_presuspend_undo,
	.postsuspend		= remus_postsuspend,
	.preresume		= remus_preresume,
	.resume			= remus_resume,
	.status			= remus_status,
	.message		= remus_message,
	.iterate_devices	= remus_iterate_devices,
};

int remus_dm_init(void)
{
	int err;

	remus_wq = alloc_workqueue("remus_disk", WQ_MEM_RECLAIM, 0);
	if (!remus_wq)
		return -ENOMEM;
	err = remus_log_init();
	if (err)
		goto err_wq;
	err = dm_register_target(&remus_target);
	if (err)
		goto err_log;
	return 0;

err_log:
	remus_log_exit();
err_wq:
	destroy_workqueue(remus_wq);
	return err;
}

void remus_dm_exit(void)
{
	dm_unregister_target(&remus_target);
	remus_log_exit();
	destroy_workqueue(remus_wq);
}
