// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-page tracking (lib/proc/dirty.c) against a real guest process.
 *
 * Every method-specific test runs once per method. A method this kernel
 * lacks is skipped with the reason: on a 6.18 host soft-dirty is skipped, on
 * Debian 12's 6.1 kernel (the VM suite, selftests/proc/) PAGEMAP_SCAN is.
 * Plain C, libc only at run time, so the same binary runs in both.
 */
#include "proc/dirty.h"
#include "proc/proc.h"
#include "test_proc_util.h"

#define M_SCAN	REMUS_DIRTY_PAGEMAP_SCAN
#define M_SD	REMUS_DIRTY_SOFT_DIRTY

static unsigned int guest_flags(int method)
{
	/* soft-dirty needs nothing from the guest: prove it by not asking */
	return method == M_SD ? REMUS_GUEST_F_NO_UFFD : 0;
}

/*
 * Opens a tracker, or says why the method cannot run here: T_PASS, T_SKIP
 * (kernel lacks it) or T_FAIL, with c->msg set.
 */
static int open_or_skip(struct tctx *c, struct tguest *tg, int method,
			const struct remus_range *r, unsigned int nr,
			const struct remus_dirty_opts *base, struct remus_dirty **d)
{
	struct remus_dirty_opts o = base ? *base : (struct remus_dirty_opts){ 0 };
	int ret;

	o.method = method;
	ret = remus_dirty_open(d, tg->pid, r, nr, &o);
	if (ret == -EOPNOTSUPP) {
		tmsg(c, "%s: this kernel lacks it (%s)%s",
		     remus_dirty_method_name(method), strerror(-ret),
		     method == M_SD ? "; runs in the VM suite (Debian 6.1)" : "");
		return T_SKIP;
	}
	if (ret) {
		tmsg(c, "remus_dirty_open(%s): expected 0, saw %d (%s)",
		     remus_dirty_method_name(method), ret, strerror(-ret));
		return T_FAIL;
	}
	return T_PASS;
}

/* Compares a harvested set with the expected pages (any order, no repeats). */
static int same_set(struct tctx *c, const struct remus_dirty_set *s,
		    const uint64_t *exp, uint64_t n, uint64_t nr_pages,
		    const char *what)
{
	struct remus_dirty_set e;
	uint64_t i;

	if (remus_dirty_set_init(&e, nr_pages)) {
		tmsg(c, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		remus_dirty_set_add(&e, exp[i]);
	for (i = 0; i < e.count; i++) {
		if (!remus_dirty_set_test(s, e.idx[i])) {
			tmsg(c, "%s: expected %" PRIu64 " pages, saw %" PRIu64
			     "; page %" PRIu64 " written but not reported", what,
			     e.count, s->count, e.idx[i]);
			goto fail;
		}
	}
	for (i = 0; i < s->count; i++) {
		if (!remus_dirty_set_test(&e, s->idx[i])) {
			tmsg(c, "%s: expected %" PRIu64 " pages, saw %" PRIu64
			     "; page %" PRIu64 " reported but not written", what,
			     e.count, s->count, s->idx[i]);
			goto fail;
		}
	}
	if (e.count != s->count) {
		tmsg(c, "%s: expected %" PRIu64 " pages, saw %" PRIu64
		     " (duplicates)", what, e.count, s->count);
		goto fail;
	}
	remus_dirty_set_fini(&e);
	return 0;
fail:
	remus_dirty_set_fini(&e);
	return -1;
}

static int t_method_names(struct tctx *c)
{
	enum remus_dirty_method m;
	int ret = T_PASS, i;

	for (i = REMUS_DIRTY_AUTO; i <= REMUS_DIRTY_FULL; i++) {
		CHECK_OK(c, remus_dirty_method_parse(remus_dirty_method_name(i), &m));
		CHECK_EQ(c, i, m, remus_dirty_method_name(i));
	}
	CHECK(c, !strcmp(remus_dirty_method_name(M_SCAN), "pagemap-scan"),
	      "expected pagemap-scan, saw %s", remus_dirty_method_name(M_SCAN));
	CHECK_EQ(c, -EINVAL, remus_dirty_method_parse("everything", &m), "bogus name");
	CHECK(c, !strcmp(remus_dirty_method_name(99), "?"), "out of range name");
out:
	return ret;
}

static int t_bad_ranges(struct tctx *c)
{
	struct tguest tg;
	struct remus_dirty *d = NULL;
	uint64_t a;
	int ret = T_PASS;
	size_t ps;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	a = tg.desc.addr;
	ps = tg.ps;
	{
		struct remus_range unaligned = { a + 1, ps };
		struct remus_range overlap[2] = { { a, 2 * ps }, { a + ps, ps } };
		struct remus_range unsorted[2] = { { a + ps, ps }, { a, ps } };
		struct remus_range empty = { a, 0 };
		struct remus_range past = { a, (1 << 20) + ps };
		struct remus_range elsewhere = { 0x10000, ps };

		CHECK_EQ(c, -EINVAL, remus_dirty_open(&d, tg.pid, &unaligned, 1, NULL),
			 "unaligned");
		CHECK_EQ(c, -EINVAL, remus_dirty_open(&d, tg.pid, overlap, 2, NULL),
			 "overlapping");
		CHECK_EQ(c, -EINVAL, remus_dirty_open(&d, tg.pid, unsorted, 2, NULL),
			 "unsorted");
		CHECK_EQ(c, -EINVAL, remus_dirty_open(&d, tg.pid, &empty, 1, NULL),
			 "empty");
		CHECK_EQ(c, -ENXIO, remus_dirty_open(&d, tg.pid, &past, 1, NULL),
			 "past the mapping");
		CHECK_EQ(c, -ENXIO, remus_dirty_open(&d, tg.pid, &elsewhere, 1, NULL),
			 "unmapped");
		CHECK(c, d == NULL, "a failed open left a tracker");
	}
out:
	tg_stop(&tg);
	return ret;
}

/* Without WP_ASYNC registration PAGEMAP_SCAN is refused, and says why. */
static int t_scan_needs_registration(struct tctx *c)
{
	struct tguest reg = { .pid = -1 }, unreg = { .pid = -1 };
	struct remus_range r;
	int ret = T_PASS, p_reg, p_unreg;

	CHECK_OK(c, tg_start(&reg, 1 << 20, 0));
	CHECK_OK(c, tg_start(&unreg, 1 << 20, REMUS_GUEST_F_NO_UFFD));
	CHECK(c, unreg.desc.tracking == REMUS_GUEST_TRACK_NONE,
	      "expected tracking none, saw %s",
	      remus_guest_tracking_name(unreg.desc.tracking));
	r = tg_range(&reg);
	p_reg = remus_dirty_probe(reg.pid, &r, 1, M_SCAN, NULL);
	r = tg_range(&unreg);
	p_unreg = remus_dirty_probe(unreg.pid, &r, 1, M_SCAN, NULL);
	if (p_reg == -EOPNOTSUPP) {
		CHECK(c, reg.desc.tracking == REMUS_GUEST_TRACK_NONE,
		      "guest registered WP_ASYNC but PAGEMAP_SCAN is missing");
		CHECK_EQ(c, -EOPNOTSUPP, p_unreg, "unregistered, old kernel");
		SKIP(c, "no PAGEMAP_SCAN on this kernel; refusal seen as -EOPNOTSUPP");
	}
	CHECK_EQ(c, 0, p_reg, "registered guest");
	CHECK_EQ(c, -ENOPROTOOPT, p_unreg, "unregistered guest");
out:
	tg_stop(&reg);
	tg_stop(&unreg);
	return ret;
}

/* auto prefers PAGEMAP_SCAN, falls back to soft-dirty, never to full. */
static int t_auto_choice(struct tctx *c)
{
	struct tguest reg = { .pid = -1 }, unreg = { .pid = -1 };
	enum remus_dirty_method m = REMUS_DIRTY_AUTO;
	struct remus_dirty *d = NULL;
	struct remus_range r;
	int ret = T_PASS, scan_ok, sd_ok, got;

	CHECK_OK(c, tg_start(&reg, 1 << 20, 0));
	CHECK_OK(c, tg_start(&unreg, 1 << 20, REMUS_GUEST_F_NO_UFFD));
	r = tg_range(&reg);
	scan_ok = !remus_dirty_probe(reg.pid, &r, 1, M_SCAN, NULL);
	sd_ok = !remus_dirty_probe(reg.pid, &r, 1, M_SD, NULL);

	got = remus_dirty_open(&d, reg.pid, &r, 1, NULL);
	if (scan_ok || sd_ok) {
		CHECK_EQ(c, 0, got, "auto on a registered guest");
		CHECK_EQ(c, scan_ok ? M_SCAN : M_SD, remus_dirty_method(d),
			 "auto's pick on a registered guest");
	} else {
		CHECK(c, got < 0, "auto opened with no method available");
	}
	remus_dirty_close(d);
	d = NULL;

	r = tg_range(&unreg);
	got = remus_dirty_probe(unreg.pid, &r, 1, REMUS_DIRTY_AUTO, &m);
	if (sd_ok) {
		CHECK_EQ(c, 0, got, "auto on an unregistered guest");
		CHECK_EQ(c, M_SD, m, "auto's pick on an unregistered guest");
	} else {
		CHECK_EQ(c, scan_ok ? -ENOPROTOOPT : -EOPNOTSUPP, got,
			 "auto with nothing usable");
	}
	CHECK(c, m != REMUS_DIRTY_FULL, "auto picked full");
	tmsg(c, "auto picks %s here", scan_ok ? "pagemap-scan" :
				       sd_ok ? "soft-dirty" : "nothing");
out:
	remus_dirty_close(d);
	tg_stop(&reg);
	tg_stop(&unreg);
	return ret;
}

static int t_full_explicit(struct tctx *c)
{
	struct remus_dirty_opts o = { .method = REMUS_DIRTY_FULL };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 1 << 20, REMUS_GUEST_F_NO_UFFD));
	r = tg_range(&tg);
	CHECK_OK(c, remus_dirty_open(&d, tg.pid, &r, 1, &o));
	CHECK(c, !strcmp(remus_dirty_method_name(remus_dirty_method(d)), "full"),
	      "expected full, saw %s", remus_dirty_method_name(remus_dirty_method(d)));
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_EQ(c, (1 << 20) / tg.ps, s.count, "pages reported by full");
	CHECK_OK(c, remus_dirty_harvest(d, &s, REMUS_DIRTY_F_RUNNING));
	CHECK_EQ(c, (1 << 20) / tg.ps, s.count, "pages reported by full again");
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/* Pages written are reported, pages not written are not, across harvests. */
static int t_written_exact(struct tctx *c)
{
	static const uint64_t first[] = { 1, 2, 3, 100, 101, 2048, 2049, 2050, 4095 };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	uint64_t pages[200], seed = 42, i;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS, round;

	CHECK_OK(c, tg_start(&tg, 4096 * 4096, guest_flags(c->arg)));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));

	CHECK_OK(c, tg_do(&tg, TG_WRITE, 1, first, 9));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	if (same_set(c, &s, first, 9, s.nr_pages, "first writes"))
		goto fail;
	for (i = 1; i < s.count; i++)
		CHECK(c, s.idx[i] > s.idx[i - 1], "harvest not in ascending order");

	for (round = 0; round < 8; round++) {
		uint64_t n = 1 + xorshift64(&seed) % 200;

		for (i = 0; i < n; i++)
			pages[i] = 1 + xorshift64(&seed) % 4095;
		CHECK_OK(c, tg_do(&tg, TG_WRITE, round, pages, n));
		CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
		if (same_set(c, &s, pages, n, s.nr_pages, "random writes"))
			goto fail;
		/* re-armed: nothing until written again */
		CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
		CHECK_EQ(c, 0, s.count, "pages reported with no write since");
	}
	goto out;
fail:
	ret = T_FAIL;
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/* Reading pages does not make them dirty. */
static int t_reads_clean(struct tctx *c)
{
	static const uint64_t pages[] = { 5, 6, 7, 300, 1000 };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 4 << 20, guest_flags(c->arg)));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 1, pages, 5));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_OK(c, tg_do(&tg, TG_READ, 0, pages, 5));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_EQ(c, 0, s.count, "pages reported after reads only");
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/* The first harvest covers what the guest wrote before tracking began. */
static int t_first_harvest_covers(struct tctx *c)
{
	static const uint64_t pages[] = { 1, 17, 18, 600, 1023 };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;
	unsigned int i;

	CHECK_OK(c, tg_start(&tg, 4 << 20, guest_flags(c->arg)));
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 7, pages, 5));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	/* the region header, written by the guest library */
	CHECK(c, remus_dirty_set_test(&s, 0), "header page 0 not in first harvest");
	for (i = 0; i < 5; i++)
		CHECK(c, remus_dirty_set_test(&s, pages[i]),
		      "page %" PRIu64 " written before open, not in first harvest "
		      "(%" PRIu64 " pages reported)", pages[i], s.count);
	/*
	 * The guest library arms the region before writing it, so PAGEMAP_SCAN
	 * reports exactly the header and the pages written: a sparse first
	 * checkpoint. Soft-dirty reports the whole fresh region (VM_SOFTDIRTY).
	 */
	if (c->arg == M_SCAN) {
		static const uint64_t exact[] = { 0, 1, 17, 18, 600, 1023 };

		if (same_set(c, &s, exact, 6, s.nr_pages, "first harvest"))
			ret = T_FAIL;
	}
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/*
 * More written runs than the scan vector holds: the harvest goes on from
 * walk_end until the whole range is covered.
 */
static int t_large_vector_full(struct tctx *c)
{
	const uint64_t npages = 20000, stride = 8;
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL, *d2 = NULL;
	struct remus_dirty_stats st;
	uint64_t *pages = NULL, i;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	/* 1 GiB of address space, 80 MiB of it written */
	CHECK_OK(c, tg_start(&tg, 1ULL << 30, guest_flags(c->arg)));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	pages = malloc(npages * sizeof(*pages));
	CHECK(c, pages, "out of memory");
	/* isolated pages: one page_region each */
	for (i = 0; i < npages; i++)
		pages[i] = 1 + i * stride;
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 2, pages, npages));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	if (same_set(c, &s, pages, npages, s.nr_pages, "20000 isolated pages"))
		goto fail;
	remus_dirty_get_stats(d, &st);
	if (c->arg == M_SCAN) {
		CHECK_EQ(c, npages / 4096, st.vec_full, "full vectors");
		/* 2 harvests: 1 call for the first, 5 for 20000 regions, no
		 * rescans of what the kernel already walked */
		CHECK_EQ(c, 1 + (npages + 4095) / 4096, st.scan_calls, "scan calls");
	}

	/* a tiny vector: thousands of restarts from walk_end */
	CHECK_OK(c, remus_dirty_open(&d2, tg.pid, &r, 1,
				     &(struct remus_dirty_opts){ .method = c->arg,
								 .scan_vec_len = 7,
								 .pagemap_batch = 7 }));
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 3, pages, 1000));
	CHECK_OK(c, remus_dirty_harvest(d2, &s, 0));
	if (same_set(c, &s, pages, 1000, s.nr_pages, "1000 pages, vector of 7"))
		goto fail;
	goto out;
fail:
	ret = T_FAIL;
out:
	free(pages);
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	remus_dirty_close(d2);
	tg_stop(&tg);
	return ret;
}

/* Several ranges: indexes run across them in order; outside is ignored. */
static int t_multi_range(struct tctx *c)
{
	static const uint64_t writes[] = { 15, 16, 47, 48, 99, 100, 163, 164, 500, 999, 1000 };
	static const uint64_t expect[] = { 0, 31, 32, 95, 96, 595 };
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct remus_range r[3];
	struct tguest tg;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 1024 * 4096, guest_flags(c->arg)));
	r[0] = (struct remus_range){ tg.desc.addr + 16 * tg.ps, 32 * tg.ps };
	r[1] = (struct remus_range){ tg.desc.addr + 100 * tg.ps, 64 * tg.ps };
	r[2] = (struct remus_range){ tg.desc.addr + 500 * tg.ps, 500 * tg.ps };
	ret = open_or_skip(c, &tg, c->arg, r, 3, NULL, &d);
	if (ret)
		goto out;
	CHECK_EQ(c, 596, remus_dirty_nr_pages(d), "pages in 3 ranges");
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 1, writes, 11));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	if (same_set(c, &s, expect, 6, s.nr_pages, "3 ranges"))
		goto fail;
	CHECK_EQ(c, tg.desc.addr + 999 * tg.ps,
		 remus_ranges_addr(r, 3, tg.ps, 595), "address of index 595");
	goto out;
fail:
	ret = T_FAIL;
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/*
 * Pre-harvest: pages taken while the guest runs are reported again by the
 * final harvest only if written again; soft-dirty refuses to pre-harvest.
 */
static int t_pre_harvest(struct tctx *c)
{
	static const uint64_t a[] = { 10, 11, 12, 13, 200, 201 };
	static const uint64_t b[] = { 12, 13, 14, 700 };
	static const uint64_t ab[] = { 10, 11, 12, 13, 14, 200, 201, 700 };
	struct remus_dirty_set pre = { 0 }, fin = { 0 };
	struct remus_dirty *d = NULL;
	struct remus_dirty_stats st;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 4 << 20, guest_flags(c->arg)));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&pre, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_set_init(&fin, remus_dirty_nr_pages(d)));
	CHECK_OK(c, remus_dirty_harvest(d, &fin, 0));
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 1, a, 6));
	if (c->arg == M_SD) {
		CHECK_EQ(c, -EOPNOTSUPP,
			 remus_dirty_harvest(d, &pre, REMUS_DIRTY_F_RUNNING),
			 "soft-dirty pre-harvest");
		/* the refusal lost nothing */
		CHECK_OK(c, remus_dirty_harvest(d, &fin, 0));
		if (same_set(c, &fin, a, 6, fin.nr_pages, "after refused pre-harvest"))
			goto fail;
		goto out;
	}
	CHECK_OK(c, remus_dirty_harvest(d, &pre, REMUS_DIRTY_F_RUNNING));
	if (same_set(c, &pre, a, 6, pre.nr_pages, "pre-harvest"))
		goto fail;
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 2, b, 4));
	CHECK_OK(c, remus_dirty_harvest(d, &fin, 0));
	if (same_set(c, &fin, b, 4, fin.nr_pages, "final harvest"))
		goto fail;
	CHECK_OK(c, remus_dirty_set_merge(&pre, &fin));
	if (same_set(c, &pre, ab, 8, pre.nr_pages, "epoch union"))
		goto fail;
	remus_dirty_get_stats(d, &st);
	CHECK_EQ(c, 1, st.pre_harvests, "pre-harvests counted");
	goto out;
fail:
	ret = T_FAIL;
out:
	remus_dirty_set_fini(&pre);
	remus_dirty_set_fini(&fin);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

/*
 * The engine's loop at small scale against a guest writing as fast as it can
 * from two threads: a base copy, then every epoch [pre-harvest and copy while
 * it runs,] stop, harvest, copy, compare the assembled image with the whole
 * region read afresh. Any write the tracking missed shows as a difference.
 */
static int t_epochs_image(struct tctx *c)
{
	const uint64_t size = 8 << 20, first = 2, span = (8 << 20) / 4096 - 2;
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct remus_proc *p = NULL;
	char *image = NULL, *truth = NULL;
	uint64_t spin[2] = { first, span }, pages = 0, prepages = 0;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS, e;

	CHECK_OK(c, tg_start(&tg, size, guest_flags(c->arg)));
	CHECK(c, tg.ps == 4096, "test assumes 4 KiB pages, saw %zu", tg.ps);
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_proc_open(&p, tg.pid, REMUS_PROC_F_CHILD));
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	image = malloc(size);
	truth = malloc(size);
	CHECK(c, image && truth, "out of memory");
	CHECK_OK(c, tg_do(&tg, TG_SPIN, 2, spin, 2));

	CHECK_OK(c, remus_proc_suspend(p, 5000));
	CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
	CHECK_OK(c, remus_proc_read(p, r.start, image, size));
	CHECK_OK(c, remus_proc_resume(p));
	for (e = 0; e < 40; e++) {
		uint64_t i;

		tsleep_us(1000);
		if (c->arg == M_SCAN && e % 2) {
			CHECK_OK(c, remus_dirty_harvest(d, &s, REMUS_DIRTY_F_RUNNING));
			CHECK_OK(c, remus_proc_read_pages(p, &r, 1, s.idx, s.count,
							  image, REMUS_PROC_READ_MIRROR));
			prepages += s.count;
			tsleep_us(200);
		}
		CHECK_OK(c, remus_proc_suspend(p, 5000));
		CHECK_OK(c, remus_dirty_harvest(d, &s, 0));
		CHECK_OK(c, remus_proc_read_pages(p, &r, 1, s.idx, s.count, image,
						  REMUS_PROC_READ_MIRROR));
		pages += s.count;
		CHECK_OK(c, remus_proc_read(p, r.start, truth, size));
		for (i = 0; i < size / 4096; i++) {
			CHECK(c, !memcmp(image + i * 4096, truth + i * 4096, 4096),
			      "epoch %d: page %" PRIu64 " differs from the guest's "
			      "(in the final harvest: %s); expected an exact image",
			      e, i, remus_dirty_set_test(&s, i) ? "yes" : "no");
		}
		CHECK_OK(c, remus_proc_resume(p));
	}
	CHECK(c, pages > 40, "the guest hardly wrote (%" PRIu64 " pages)", pages);
	tmsg(c, "40 epochs exact; pages copied under pause %" PRIu64
	     ", while running %" PRIu64, pages, prepages);
out:
	free(image);
	free(truth);
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

/* A dead guest makes harvests fail, not hang nor report nothing. */
static int t_dead_guest(struct tctx *c)
{
	struct remus_dirty_set s = { 0 };
	struct remus_dirty *d = NULL;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS, got;

	CHECK_OK(c, tg_start(&tg, 1 << 20, guest_flags(c->arg)));
	r = tg_range(&tg);
	ret = open_or_skip(c, &tg, c->arg, &r, 1, NULL, &d);
	if (ret)
		goto out;
	CHECK_OK(c, remus_dirty_set_init(&s, remus_dirty_nr_pages(d)));
	tg_stop(&tg);
	got = remus_dirty_harvest(d, &s, 0);
	CHECK_EQ(c, -ESRCH, got, "harvest of a dead guest");
	CHECK_EQ(c, -ESRCH, remus_dirty_open(&d, tg.desc.pid, &r, 1, NULL),
		 "open on a dead guest");
out:
	remus_dirty_set_fini(&s);
	remus_dirty_close(d);
	tg_stop(&tg);
	return ret;
}

#define BOTH(name, fn)						\
	{ name "/pagemap-scan", fn, M_SCAN },			\
	{ name "/soft-dirty", fn, M_SD }

static const struct tcase tests[] = {
	{ "method_names_round_trip", t_method_names, 0 },
	{ "bad_ranges_refused", t_bad_ranges, 0 },
	{ "pagemap_scan_refused_without_wp_async", t_scan_needs_registration, 0 },
	{ "auto_prefers_scan_then_soft_dirty_never_full", t_auto_choice, 0 },
	{ "full_only_when_asked_and_reports_all", t_full_explicit, 0 },
	BOTH("written_pages_reported_exactly_and_rearmed", t_written_exact),
	BOTH("reads_leave_pages_clean", t_reads_clean),
	BOTH("first_harvest_covers_earlier_writes", t_first_harvest_covers),
	BOTH("large_range_output_vector_full", t_large_vector_full),
	BOTH("several_ranges_indexed_in_order", t_multi_range),
	BOTH("pre_harvest_then_final_harvest", t_pre_harvest),
	BOTH("epochs_assemble_exact_image_under_writes", t_epochs_image),
	BOTH("dead_guest_fails_harvest", t_dead_guest),
};

int main(void)
{
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
