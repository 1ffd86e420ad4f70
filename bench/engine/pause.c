// SPDX-License-Identifier: GPL-2.0
/*
 * engbench pause: the engine's pause against the floor, per guest size and
 * dirty pages per epoch.
 *
 * The engine runs for real (remus_start, blackhole, pipeline 1) over the
 * library's proc backend, wrapped so that before each suspend the guest
 * writes exactly N distinct random pages (one word each) and the floor of
 * that epoch is measured with the guest idle: the kernel's scan alone
 * (PAGEMAP_SCAN without re-protecting; soft-dirty: the pagemap read
 * without clear_refs) plus a memcpy of the same N pages from a warm local
 * buffer of the guest's size into a warm one. The pause is the engine's
 * remus_epoch_stats.pause_ns (suspend + barrier + copy + resume) less the
 * harness's own work inside the suspend callback before the real stop.
 *
 * Modes (-M):
 *   plain  the library's proc backend, as remusd runs it
 *   pre    prototype: pre-harvest and copy while the guest runs after
 *          (100-F)% of its writes, the last F% then, the pause takes the
 *          final harvest, the late pages and (within today's backend API)
 *          a memcpy of the pre-copied pages into the slot
 *   split  the proc backend's copy done by the harness, to time harvest
 *          and read apart (same calls as pb_copy)
 *
 * Output: a markdown table on stdout, one data line per row to -o FILE.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engbench.h"

struct row {
	double pause, pause99, floor, floor99, scan, mcpy, ratio, ratio99;
	double cpause, cpause99, cfloor, cscan, cmcpy, cratio, cratio99;
	double susp, barrier, copy, resume;
	double pre_off, pre_memcpy, fin_harvest, fin_read;
	uint64_t pages;
	int bad, engpre;
	double pre_pages;
};

static int one(struct guest *g, enum remus_dirty_method m, const char *mode,
	       uint64_t n, int epochs, int late_pct, struct row *out)
{
	bool engpre = !strcmp(mode, "precopy");
	enum wrap_mode wm = !strcmp(mode, "plain") ? WRAP_SYNC :
			    engpre ? WRAP_ENGPRE : WRAP_PRE;
	uint64_t late = !strcmp(mode, "split") ? n :
			!strcmp(mode, "pre") || engpre ?
			(n * (uint64_t)late_pct + 99) / 100 : 0;
	unsigned int interval = 1000;
	struct wrap w;
	struct run r;
	double *v[20];
	int i, k, ret;

	ret = wrap_open(&w, g, wm, m, n, late, wm == WRAP_SYNC || engpre,
			(uint64_t)epochs + 4);
	if (ret) {
		wrap_close(&w);
		return ret;
	}
	if (engpre) {
		/*
		 * The engine pre-copies a quarter interval before a checkpoint
		 * that is on time: room for the guest's writes and the send.
		 */
		interval = 20000 + (unsigned int)n * 100;
	}
	run_info(&r, interval, true);
	r.info.compression = false;	/* the sender's work is not the pause */
	r.info.precopy = engpre;
	run_start(&r, &w.outer, -1, (uint64_t)epochs + 1, (uint64_t)epochs + 4);
	ret = run_join(&r, false);
	if (ret != REMUS_END_STOPPED || r.n < (uint64_t)epochs + 1) {
		fprintf(stderr, "engbench: pause: engine ended %d after %" PRIu64 " epochs\n",
			ret, (uint64_t)r.n);
		wrap_close(&w);
		free(r.st);
		return -EIO;
	}
	for (i = 0; i < 20; i++)
		v[i] = calloc((size_t)epochs, sizeof(double));
	memset(out, 0, sizeof(*out));
	for (k = 0, i = 1; i <= epochs; i++) {
		const struct remus_epoch_stats *st = &r.st[i];
		const struct epoch_rec *e = &w.rec[st->epoch];

		/* precopy: the epochs the engine did pre-copy (counted) */
		if (engpre && !e->engpre)
			continue;
		double pause = (double)(st->pause_ns - e->prework_ns) / 1e3;
		double fl = (double)(e->floor_scan_ns + e->floor_copy_ns) / 1e3;

		if (st->pages != n)
			out->bad++;
		out->engpre += e->engpre;
		v[18][k] = (double)st->precopy_pages;
		v[19][k] = (double)st->precopy_ns / 1e3;
		v[0][k] = pause;
		v[1][k] = fl;
		v[2][k] = (double)e->floor_scan_ns / 1e3;
		v[3][k] = (double)e->floor_copy_ns / 1e3;
		v[4][k] = fl > 0 ? pause / fl : 0;
		v[5][k] = (double)(st->suspend_ns - e->prework_ns) / 1e3;
		v[6][k] = (double)st->barrier_ns / 1e3;
		v[7][k] = (double)st->copy_ns / 1e3;
		v[8][k] = (double)st->resume_ns / 1e3;
		v[9][k] = (double)e->pre_ns / 1e3;
		v[10][k] = (double)e->pre_memcpy_ns / 1e3;
		v[11][k] = (double)e->final_harvest_ns / 1e3;
		v[12][k] = (double)e->final_read_ns / 1e3;
		{
			double cp = (double)e->pause_cpu_ns / 1e3;
			double cf = (double)(e->floor_scan_cpu_ns +
					     e->floor_copy_cpu_ns) / 1e3;

			v[13][k] = cp;
			v[14][k] = cf;
			v[15][k] = (double)e->floor_scan_cpu_ns / 1e3;
			v[16][k] = (double)e->floor_copy_cpu_ns / 1e3;
			v[17][k] = cf > 0 ? cp / cf : 0;
		}
		k++;
	}
	if (!k) {
		fprintf(stderr, "engbench: %s, %" PRIu64 " pages: no epoch pre-copied\n",
			mode, n);
		k = 1;
	}
	out->cpause = MED(v[13], k);
	out->cpause99 = P99(v[13], k);
	out->cfloor = MED(v[14], k);
	out->cscan = MED(v[15], k);
	out->cmcpy = MED(v[16], k);
	out->cratio = MED(v[17], k);
	out->cratio99 = P99(v[17], k);
	out->pause = MED(v[0], k);
	out->pause99 = P99(v[0], k);
	out->floor = MED(v[1], k);
	out->floor99 = P99(v[1], k);
	out->scan = MED(v[2], k);
	out->mcpy = MED(v[3], k);
	out->ratio = MED(v[4], k);
	out->ratio99 = P99(v[4], k);
	out->susp = MED(v[5], k);
	out->barrier = MED(v[6], k);
	out->copy = MED(v[7], k);
	out->resume = MED(v[8], k);
	out->pre_off = MED(v[9], k);
	out->pre_memcpy = MED(v[10], k);
	out->fin_harvest = MED(v[11], k);
	out->fin_read = MED(v[12], k);
	if (engpre) {
		out->pre_pages = MED(v[18], k);
		out->pre_off = MED(v[19], k);
	}
	out->pages = r.st[1].pages;
	for (i = 0; i < 20; i++)
		free(v[i]);
	free(r.st);
	wrap_close(&w);
	return 0;
}

int bench_pause(int argc, char **argv)
{
	uint64_t sizes[8], counts[16];
	const char *modes = "plain,pre", *data = NULL, *mname = "auto";
	int nsizes, ncounts, epochs = 30, late_pct = 10, c, si, ci;
	enum remus_dirty_method m = REMUS_DIRTY_AUTO;
	FILE *df = NULL;

	nsizes = parse_list("64M,256M,1G", sizes, 8);
	ncounts = parse_list("1,16,256,1000,4096,16384,65536", counts, 16);
	while ((c = getopt(argc, argv, "m:s:n:e:f:M:o:R")) != -1) {
		switch (c) {
		case 'm':
			mname = optarg;
			if (remus_dirty_method_parse(optarg, &m))
				goto usage;
			break;
		case 's': nsizes = parse_list(optarg, sizes, 8); break;
		case 'n': ncounts = parse_list(optarg, counts, 16); break;
		case 'e': epochs = atoi(optarg); break;
		case 'f': late_pct = atoi(optarg); break;
		case 'M': modes = optarg; break;
		case 'o': data = optarg; break;
		case 'R': {
			/* the engine real-time; the guest it forks is not */
			struct sched_param sp = { .sched_priority = 10 };

			if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
				die("SCHED_FIFO: %s", strerror(errno));
			break;
		}
		default: goto usage;
		}
	}
	if (nsizes <= 0 || ncounts <= 0 || epochs < 3 || late_pct < 1 ||
	    late_pct > 100)
		goto usage;
	if (data && !(df = fopen(data, "a")))
		die("%s: %s", data, strerror(errno));

	printf("| method | guest | dirty pages | mode | pause wall p50 / p99 | floor wall p50 | wall ratio p50 | pause CPU p50 / p99 | floor CPU p50 (scan + memcpy) | CPU ratio p50 / p99 | target (CPU p50 <= 1.5 x floor + 100 us) | suspend / copy / resume wall p50 | pre-copy, guest running: wall p50, pages (epochs that pre-copied) | prototype: memcpy of pre-copied in pause |\n");
	printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n");
	for (si = 0; si < nsizes; si++) {
		struct guest g;
		int ret = guest_start(&g, sizes[si], false,
				      m == REMUS_DIRTY_SOFT_DIRTY);

		if (ret)
			die("guest of %" PRIu64 " MiB: %s", sizes[si] >> 20,
			    strerror(-ret));
		for (ci = 0; ci < ncounts; ci++) {
			char buf[64], *tok, *save;
			uint64_t n = counts[ci];

			if (n > MAX_N || n >= g.npages - 1)
				continue;
			snprintf(buf, sizeof(buf), "%s", modes);
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				struct row o;
				bool ok;

				ret = one(&g, m, tok, n, epochs, late_pct, &o);
				if (ret == -EOPNOTSUPP)
					continue;	/* no pre-harvest here */
				if (ret)
					die("%s, %" PRIu64 " MiB, %" PRIu64 " pages: %s",
					    tok, sizes[si] >> 20, n, strerror(-ret));
				if (o.bad)
					fprintf(stderr, "engbench: %" PRIu64 " MiB %" PRIu64 " pages %s: %d epochs copied another count than %" PRIu64 "\n",
						sizes[si] >> 20, n, tok, o.bad, n);
				ok = o.cpause <= 1.5 * o.cfloor + 100;
				if (!strcmp(tok, "plain") || !strcmp(tok, "precopy")) {
					char pre[64] = "";

					if (!strcmp(tok, "precopy"))
						snprintf(pre, sizeof(pre), "%.0f us, %.0f pages (%d of %d epochs)",
							 o.pre_off, o.pre_pages, o.engpre, epochs);
					printf("| %s | %" PRIu64 " MiB | %" PRIu64 " | %s | %.0f / %.0f us | %.0f us | %.1f | %.0f / %.0f us | %.0f us (%.0f + %.0f) | %.2f / %.2f | %s | %.0f / %.0f / %.0f | %s | |\n",
					       mname, sizes[si] >> 20, n, tok, o.pause, o.pause99,
					       o.floor, o.ratio, o.cpause, o.cpause99, o.cfloor,
					       o.cscan, o.cmcpy, o.cratio, o.cratio99,
					       ok ? "met" : "**missed**", o.susp, o.copy, o.resume,
					       pre);
				} else {
					printf("| %s | %" PRIu64 " MiB | %" PRIu64 " | %s | %.0f / %.0f us | | | %.0f / %.0f us | | | | %.0f / %.0f (harvest %.0f, read %.0f) / %.0f | %.0f | %.0f |\n",
					       mname, sizes[si] >> 20, n,
					       !strcmp(tok, "pre") ? "pre-harvest" : "split",
					       o.pause, o.pause99, o.cpause, o.cpause99, o.susp,
					       o.copy, o.fin_harvest, o.fin_read, o.resume,
					       o.pre_off, o.pre_memcpy);
				}
				fflush(stdout);
				if (df) {
					/* 1 method 2 MiB 3 pages 4 mode 5 pause 6 p99
					 * 7 floor 8 p99 9 scan 10 memcpy 11 ratio
					 * 12 p99 13 suspend 14 barrier 15 copy
					 * 16 resume 17 pre-off 18 pre-memcpy
					 * 19 harvest 20 read; CPU: 21 pause 22 p99
					 * 23 floor 24 scan 25 memcpy 26 ratio 27 p99 */
					fprintf(df, "%s\t%" PRIu64 "\t%" PRIu64 "\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\n",
						mname, sizes[si] >> 20, n, tok, o.pause,
						o.pause99, o.floor, o.floor99, o.scan,
						o.mcpy, o.ratio, o.ratio99, o.susp,
						o.barrier, o.copy, o.resume, o.pre_off,
						o.pre_memcpy, o.fin_harvest, o.fin_read,
						o.cpause, o.cpause99, o.cfloor, o.cscan,
						o.cmcpy, o.cratio, o.cratio99);
					fflush(df);
				}
			}
		}
		guest_stop(&g);
	}
	if (df)
		fclose(df);
	return 0;
usage:
	fprintf(stderr, "usage: engbench pause [-m auto|pagemap-scan|soft-dirty] [-s SIZES] [-n COUNTS] [-e EPOCHS] [-f LATE%%] [-M plain,precopy,pre,split] [-o DATA] [-R]\n");
	return 2;
}
