// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The proc backend: a cooperating process as the guest. Its region is one
 * range of pages; the engine's pfn is the page index in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "announce.h"
#include "backend_proc.h"
#include "delta.h"
#include "proc/proc.h"

struct proc_backend {
	struct remus_proc *p;
	struct remus_dirty *d;
	struct remus_dirty_set set;
	struct remus_range range;
	struct remus_guest_desc desc;
	uint64_t nr_pages;
	uint32_t page_size;
	uint64_t *all;		/* 0..nr_pages-1, for full copies */
	char state[REMUS_GUEST_DESC_MAX];
	int suspend_timeout_ms;
};

static int pb_geometry(struct remus_backend *b, struct remus_hello *h)
{
	struct proc_backend *pb = b->priv;

	memset(h, 0, sizeof(*h));
	h->page_size = pb->page_size;
	h->nr_regions = 1;
	h->nr_pages = pb->nr_pages;
	h->regions[0].first_pfn = 0;
	h->regions[0].nr_pages = pb->nr_pages;
	return 0;
}

static int pb_suspend(struct remus_backend *b)
{
	struct proc_backend *pb = b->priv;

	return remus_proc_suspend(pb->p, pb->suspend_timeout_ms) == 0;
}

static int pb_postcopy(struct remus_backend *b)
{
	struct proc_backend *pb = b->priv;

	return remus_proc_resume(pb->p) == 0;
}

static int pb_copy(struct remus_backend *b, struct remus_ckpt *c, bool full)
{
	struct proc_backend *pb = b->priv;
	const uint64_t *idx;
	uint64_t *pfns, n;
	uint8_t *pages;
	int err;

	/* Always harvest: it re-arms tracking for the next epoch. */
	err = remus_dirty_harvest(pb->d, &pb->set, 0);
	if (err)
		full = true;	/* the tracker lost count: copy everything */
	if (full) {
		idx = pb->all;
		n = pb->nr_pages;
	} else {
		idx = pb->set.idx;
		n = pb->set.count;
	}
	err = remus_ckpt_reserve(c, n, &pfns, &pages);
	if (err)
		return err;
	memcpy(pfns, idx, n * sizeof(*pfns));
	err = remus_proc_read_pages(pb->p, &pb->range, 1, idx, n, pages, 0);
	if (err)
		return err;
	/* The descriptor as state: what the backup checks on failover. */
	return remus_ckpt_set_state(c, pb->state, strlen(pb->state) + 1);
}

/* While the guest runs: harvest (re-arming) and read what it wrote. */
static int pb_precopy(struct remus_backend *b, struct remus_ckpt *c)
{
	struct proc_backend *pb = b->priv;
	uint64_t *pfns;
	uint8_t *pages;
	int err;

	err = remus_dirty_harvest(pb->d, &pb->set, REMUS_DIRTY_F_RUNNING);
	if (err)
		return err;
	err = remus_ckpt_reserve(c, pb->set.count, &pfns, &pages);
	if (err)
		return err;
	memcpy(pfns, pb->set.idx, pb->set.count * sizeof(*pfns));
	return remus_proc_read_pages(pb->p, &pb->range, 1, pb->set.idx,
				     pb->set.count, pages, 0);
}

static int pb_check(struct remus_backend *b)
{
	struct proc_backend *pb = b->priv;

	return remus_proc_check(pb->p);
}

static const struct remus_backend_ops proc_ops = {
	.kind = "proc",
	.geometry = pb_geometry,
	.suspend = pb_suspend,
	.copy = pb_copy,
	.postcopy = pb_postcopy,
	.precopy = pb_precopy,
	.check = pb_check,
};

int remus_proc_backend_open(struct remus_backend *b,
			    const struct remus_proc_backend_cfg *cfg)
{
	struct remus_dirty_opts dopts = { .method = cfg->method };
	struct proc_backend *pb = calloc(1, sizeof(*pb));
	uint64_t i;
	int err;

	if (!pb)
		return -ENOMEM;
	pb->desc = *cfg->desc;
	pb->page_size = cfg->desc->page_size;
	pb->range.start = cfg->desc->addr;
	pb->range.len = cfg->desc->size;
	pb->nr_pages = cfg->desc->size / cfg->desc->page_size;
	/*
	 * Our own child stops through one blocking waitid, the cheapest way;
	 * a guest we only know by pid is polled, with a deadline.
	 */
	pb->suspend_timeout_ms = cfg->suspend_timeout_ms ?
				 cfg->suspend_timeout_ms :
				 cfg->child ? -1 : 1000;
	err = remus_ranges_check(&pb->range, 1, pb->page_size, &pb->nr_pages);
	if (err)
		goto err;
	err = remus_guest_desc_format(&pb->desc, pb->state, sizeof(pb->state));
	if (err < 0)
		goto err;
	err = remus_proc_open(&pb->p, cfg->pid,
			      cfg->child ? REMUS_PROC_F_CHILD : 0);
	if (err)
		goto err;
	/* soft-dirty is all a guest without a userfaultfd can have */
	if (dopts.method == REMUS_DIRTY_AUTO &&
	    cfg->desc->tracking == REMUS_GUEST_TRACK_NONE)
		dopts.method = REMUS_DIRTY_SOFT_DIRTY;
	err = remus_dirty_open(&pb->d, cfg->pid, &pb->range, 1, &dopts);
	if (err)
		goto err_proc;
	err = remus_dirty_set_init(&pb->set, pb->nr_pages);
	if (err)
		goto err_dirty;
	pb->all = malloc(pb->nr_pages * sizeof(uint64_t));
	err = -ENOMEM;
	if (!pb->all)
		goto err_set;
	for (i = 0; i < pb->nr_pages; i++)
		pb->all[i] = i;
	b->ops = &proc_ops;
	b->priv = pb;
	return 0;

err_set:
	remus_dirty_set_fini(&pb->set);
err_dirty:
	remus_dirty_close(pb->d);
err_proc:
	remus_proc_close(pb->p);
err:
	free(pb);
	return err;
}

void remus_proc_backend_close(struct remus_backend *b)
{
	struct proc_backend *pb = b->priv;

	if (!pb)
		return;
	free(pb->all);
	remus_dirty_set_fini(&pb->set);
	remus_dirty_close(pb->d);
	remus_proc_close(pb->p);
	free(pb);
	b->priv = NULL;
}

const char *remus_proc_backend_method(const struct remus_backend *b)
{
	const struct proc_backend *pb = b->priv;

	return remus_dirty_method_name(remus_dirty_method(pb->d));
}

/* ---- backup side ---- */

struct proc_sink {
	struct remus_proc_sink_cfg cfg;
	uint32_t page_size;
	uint64_t nr_pages;
	uint8_t *committed, *staged;
	uint8_t *mark;		/* 1: staged holds the newest copy */
	uint64_t *list;		/* staged pfns */
	uint64_t nr_list;
	char *state, *state_staged;
	size_t state_len, staged_len;
	pid_t pid;
	struct remus_guest_desc desc;
};

static void ps_free_image(struct proc_sink *ps)
{
	size_t bytes = ps->nr_pages * ps->page_size;

	if (ps->committed)
		munmap(ps->committed, bytes);
	if (ps->staged)
		munmap(ps->staged, bytes);
	free(ps->mark);
	free(ps->list);
	ps->committed = ps->staged = ps->mark = NULL;
	ps->list = NULL;
	ps->nr_pages = 0;
}

static void *lazy(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int ps_hello(struct remus_backup_sink *s, const struct remus_hello *h)
{
	struct proc_sink *ps = s->priv;
	size_t bytes;

	if (h->nr_regions != 1 || h->regions[0].first_pfn != 0)
		return EINVAL;
	if (ps->nr_pages == h->nr_pages && ps->page_size == h->page_size)
		return 0;	/* same guest, committed image kept */
	if (ps->nr_pages)
		return EINVAL;	/* another geometry than what we hold */
	ps->page_size = h->page_size;
	ps->nr_pages = h->nr_pages;
	bytes = h->nr_pages * h->page_size;
	ps->committed = lazy(bytes);
	ps->staged = lazy(bytes);
	ps->mark = calloc(h->nr_pages, 1);
	ps->list = calloc(h->nr_pages, sizeof(uint64_t));
	if (!ps->committed || !ps->staged || !ps->mark || !ps->list) {
		ps_free_image(ps);
		return -ENOMEM;
	}
	return 0;
}

static int ps_page(struct remus_backup_sink *s, uint64_t epoch,
		   const struct remus_batch_item *it)
{
	struct proc_sink *ps = s->priv;
	uint8_t *dst;

	if (it->where >= ps->nr_pages)
		return -EBADMSG;
	dst = ps->staged + it->where * ps->page_size;
	if (!ps->mark[it->where]) {
		if (it->kind == REMUS_PAGE_XOR)
			memcpy(dst, ps->committed + it->where * ps->page_size,
			       ps->page_size);
		ps->mark[it->where] = 1;
		ps->list[ps->nr_list++] = it->where;
	}
	return remus_delta_apply(dst, ps->page_size, it->kind, it->data,
				 it->len);
}

static int ps_state(struct remus_backup_sink *s, uint64_t epoch,
		    const struct remus_state *st)
{
	struct proc_sink *ps = s->priv;

	if (st->total > REMUS_GUEST_DESC_MAX || st->offset + st->len > st->total)
		return -EBADMSG;
	if (!ps->state_staged) {
		ps->state_staged = calloc(1, REMUS_GUEST_DESC_MAX + 1);
		if (!ps->state_staged)
			return -ENOMEM;
	}
	memcpy(ps->state_staged + st->offset, st->data, st->len);
	ps->staged_len = st->total;
	return 0;
}

static int ps_commit(struct remus_backup_sink *s, uint64_t epoch)
{
	struct proc_sink *ps = s->priv;
	uint64_t i;
	char *t;

	for (i = 0; i < ps->nr_list; i++) {
		uint64_t pfn = ps->list[i];

		memcpy(ps->committed + pfn * ps->page_size,
		       ps->staged + pfn * ps->page_size, ps->page_size);
		ps->mark[pfn] = 0;
	}
	ps->nr_list = 0;
	if (ps->staged_len) {
		t = ps->state;
		ps->state = ps->state_staged;
		ps->state_staged = t;
		ps->state_len = ps->staged_len;
		ps->staged_len = 0;
	}
	return 0;
}

static void ps_discard(struct remus_backup_sink *s)
{
	struct proc_sink *ps = s->priv;
	uint64_t i;

	for (i = 0; i < ps->nr_list; i++)
		ps->mark[ps->list[i]] = 0;
	ps->nr_list = 0;
	ps->staged_len = 0;
}

static bool zero_page(const uint8_t *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < n / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The committed image as a sparse file: holes are zero pages. */
static int write_image(struct proc_sink *ps)
{
	size_t bytes = ps->nr_pages * ps->page_size;
	uint64_t i;
	int fd, err = 0;

	fd = open(ps->cfg.image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ps->nr_pages; i++) {
		const uint8_t *p = ps->committed + i * ps->page_size;
		size_t off = 0;

		if (zero_page(p, ps->page_size))
			continue;
		while (off < ps->page_size) {
			ssize_t n = pwrite(fd, p + off, ps->page_size - off,
					   (off_t)(i * ps->page_size + off));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = -errno;
				goto out;
			}
			off += (size_t)n;
		}
	}
	if (fsync(fd) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

static int ps_failover(struct remus_backup_sink *s)
{
	struct proc_sink *ps = s->priv;
	struct remus_spawn sp = {
		.argv = ps->cfg.argv,
		.image = ps->cfg.image,
		.timeout_ms = ps->cfg.spawn_timeout_ms ?
			      ps->cfg.spawn_timeout_ms : 10000,
	};
	int err;

	if (!ps->nr_pages)
		return -ENODATA;
	err = write_image(ps);
	if (err)
		return err;
	err = remus_proc_spawn(&sp, &ps->pid, &ps->desc);
	if (err)
		return err;
	if (ps->cfg.announce)
		remus_announce_pid(ps->pid);
	return 0;
}

static const struct remus_backup_sink_ops proc_sink_ops = {
	.kind = "proc",
	.hello = ps_hello,
	.page = ps_page,
	.state = ps_state,
	.commit = ps_commit,
	.discard = ps_discard,
	.failover = ps_failover,
};

int remus_proc_sink_open(struct remus_backup_sink *s,
			 const struct remus_proc_sink_cfg *cfg)
{
	struct proc_sink *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	if (!cfg->argv || !cfg->argv[0] || !cfg->image) {
		free(ps);
		return -EINVAL;
	}
	ps->cfg = *cfg;
	ps->state = calloc(1, REMUS_GUEST_DESC_MAX + 1);
	if (!ps->state) {
		free(ps);
		return -ENOMEM;
	}
	s->ops = &proc_sink_ops;
	s->priv = ps;
	return 0;
}

void remus_proc_sink_close(struct remus_backup_sink *s)
{
	struct proc_sink *ps = s->priv;

	if (!ps)
		return;
	ps_free_image(ps);
	free(ps->state);
	free(ps->state_staged);
	free(ps);
	s->priv = NULL;
}

pid_t remus_proc_sink_pid(const struct remus_backup_sink *s,
			  struct remus_guest_desc *desc)
{
	const struct proc_sink *ps = s->priv;

	if (desc)
		*desc = ps->desc;
	return ps->pid;
}
