// SPDX-License-Identifier: GPL-2.0
/*
 * engbench rate: sustained checkpoints per second with N dirty pages an
 * epoch, the primary's engine against a real backup (remus_backup_run and
 * the proc sink, in a child process) over loopback TCP, keyed (Poly1305).
 * The guest writes the next epoch's N pages as soon as it is resumed, while
 * the engine sends and waits for the ack, as a guest would; the suspend
 * callback waits for it to finish (reported: it is the guest's time, not
 * the engine's). Also the commit latency, commit_ns - send_ns, and its
 * parts.
 *
 * engbench tput: pages a free-running guest writes per second, protected
 * (checkpoints to a loopback backup at the interval) against unprotected,
 * in alternating windows; also per second of the guest's own CPU time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engbench.h"

static int scheme_set(struct remus_info *info, const char *s)
{
	int codec;

	if (!strcmp(s, "raw")) {
		info->compression = false;
		return 0;
	}
	info->compression = true;
	if (!strncmp(s, "xor+", 4)) {
		s += 4;
	} else if (!strcmp(s, "xor")) {
		info->codec = REMUS_CODEC_NONE;
		return 0;
	} else {
		info->delta_cache_pages = 0;
	}
	codec = remus_codec_parse(s);
	if (codec < 0)
		return -EINVAL;
	info->codec = (enum remus_codec)codec;
	return 0;
}

int bench_rate(int argc, char **argv)
{
	uint64_t size = 64ULL << 20, n = 1000, t0, c0, n0, t1, c1, n1, i, k;
	uint64_t g0, g1, b0, b1, bk0, bk1;
	unsigned int interval = 1000, pipeline = 1;
	const char *scheme = "xor+lz4", *data = NULL;
	double secs = 5, *a[12];
	struct backup_child bc;
	struct guest g;
	struct wrap w;
	struct run r;
	uint64_t bcpu;
	int c, fd, ret;

	while ((c = getopt(argc, argv, "s:n:i:p:c:t:o:")) != -1) {
		switch (c) {
		case 's': parse_list(optarg, &size, 1); break;
		case 'n': n = strtoull(optarg, NULL, 0); break;
		case 'i': interval = (unsigned int)atoi(optarg); break;
		case 'p': pipeline = (unsigned int)atoi(optarg); break;
		case 'c': scheme = optarg; break;
		case 't': secs = atof(optarg); break;
		case 'o': data = optarg; break;
		default:
			fprintf(stderr, "usage: engbench rate [-s SIZE] [-n PAGES] [-i INTERVAL_US] [-p PIPELINE] [-c raw|xor|xor+lz4|lz4|...] [-t SECONDS] [-o DATA]\n");
			return 2;
		}
	}
	ret = guest_start(&g, size, false, false);
	if (ret)
		die("guest: %s", strerror(-ret));
	ret = wrap_open(&w, &g, WRAP_ASYNC, REMUS_DIRTY_AUTO, n, 0, false, 1 << 20);
	if (ret)
		die("backend: %s", strerror(-ret));
	ret = backup_start(&bc);
	if (ret)
		die("backup: %s", strerror(-ret));
	fd = backup_connect(&bc);
	if (fd < 0)
		die("connect: %s", strerror(-fd));
	run_info(&r, interval, false);
	r.info.pipeline = pipeline;
	if (scheme_set(&r.info, scheme))
		die("scheme %s", scheme);
	run_start(&r, &w.outer, fd, 0, 1 << 20);
	/* the full first checkpoint and a second to settle */
	run_wait_epochs(&r, 2, 60000);
	usleep(1000000);
	t0 = now_ns();
	c0 = cpu_ns();
	n0 = r.n;
	g0 = g.sh->cpu_ns;
	b0 = bc.sh->cpu_ns;
	bk0 = bc.sh->commits;
	usleep((useconds_t)(secs * 1e6));
	t1 = now_ns();
	c1 = cpu_ns();
	n1 = r.n;
	g1 = g.sh->cpu_ns;
	b1 = bc.sh->cpu_ns;
	bk1 = bc.sh->commits;
	ret = run_join(&r, true);
	bcpu = backup_wait(&bc);
	(void)bcpu;
	if (ret != REMUS_END_STOPPED)
		die("engine ended %d", ret);
	if (n1 > r.cap)
		n1 = r.cap;

	for (i = 0; i < 12; i++)
		a[i] = calloc(n1 - n0 + 1, sizeof(double));
	for (k = 0, i = n0; i < n1; i++, k++) {
		const struct remus_epoch_stats *st = &r.st[i];
		const struct epoch_rec *e = &w.rec[st->epoch < w.cap ? st->epoch : 0];
		double pause = (double)(st->pause_ns - e->prework_ns) / 1e3;
		double cs = (double)(st->commit_ns - st->send_ns) / 1e3;
		double pre = (double)(st->copy_ns + st->resume_ns) / 1e3;
		double q = cs - pre - (double)st->ack_ns / 1e3;

		a[0][k] = pause;
		a[1][k] = (double)st->send_ns / 1e3;
		a[2][k] = (double)st->ack_ns / 1e3;
		a[3][k] = (double)st->commit_ns / 1e3;
		a[4][k] = cs;
		a[5][k] = pre;
		a[6][k] = q;
		a[7][k] = (double)e->guest_wait_ns / 1e3;
		a[8][k] = (double)st->pages;
		a[9][k] = st->wire_bytes ? (double)st->raw_bytes / (double)st->wire_bytes : 0;
		a[10][k] = (double)st->wire_bytes / 1e3;
	}
	{
		double rate = (double)(n1 - n0) * 1e9 / (double)(t1 - t0);
		double pcpu = (double)(c1 - c0) / 1e3 / (double)(n1 - n0);
		double bcpu_per = bk1 > bk0 ? (double)(b1 - b0) / 1e3 / (double)(bk1 - bk0) : 0;
		double gcpu = (double)(g1 - g0) / 1e3 / (double)(n1 - n0);
		double bound = 1e6 / (pcpu + bcpu_per);
		double pm = MED(a[0], k), p99 = P99(a[0], k);
		double sm = MED(a[1], k), s99 = P99(a[1], k);
		double am = MED(a[2], k), a99 = P99(a[2], k);
		double cm = MED(a[3], k), c99 = P99(a[3], k);
		double csm = MED(a[4], k), cs99 = P99(a[4], k);
		double prm = MED(a[5], k), qm = MED(a[6], k);
		double gw = MED(a[7], k), pages = MED(a[8], k);
		double ratio = MED(a[9], k), wire = MED(a[10], k);

		/* scheme, interval, pipeline, pages, rate wall, cycle,
		 * CPU: primary, backup, guest, bound; pause, send, ack,
		 * commit-send, its parts, guest wait, ratio */
		printf("| %s | %u us | %u | %" PRIu64 " | **%.0f** | %.1f ms | %.0f | %.0f | %.0f | **%.0f** | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | **%.0f / %.0f** | %.0f + %.0f + %.0f | %.0f | %.1f:1 (%.0f KB) |\n",
		       scheme, interval, pipeline, (uint64_t)pages, rate,
		       1e3 / rate, pcpu, bcpu_per, gcpu, bound, pm, p99, sm, s99,
		       am, a99, csm, cs99, prm, qm, am, gw, ratio, wire);
		(void)cm;
		(void)c99;
		if (data) {
			FILE *df = fopen(data, "a");

			if (!df)
				die("%s", data);
			fprintf(df, "%s\t%u\t%u\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\n",
				scheme, interval, pipeline, pages, rate, pm, p99,
				sm, s99, am, a99, cm, c99, csm, cs99, prm, qm, gw,
				pcpu, ratio, bcpu_per, gcpu, bound);
			fclose(df);
		}
	}
	for (i = 0; i < 12; i++)
		free(a[i]);
	free(r.st);
	wrap_close(&w);
	guest_stop(&g);
	return 0;
}

struct sample {
	uint64_t t, count, gcpu;
};

static void take(struct guest *g, struct sample *s)
{
	s->t = now_ns();
	s->count = g->sh->count;
	s->gcpu = g->sh->cpu_ns;
}

int bench_tput(int argc, char **argv)
{
	uint64_t size = 64ULL << 20, ws[8];
	unsigned int interval = 25000;
	int nws, rounds = 5, c, wi, rd, ret;
	double secs = 3;
	const char *data = NULL, *mname = "auto";
	enum remus_dirty_method m = REMUS_DIRTY_AUTO;
	struct guest g;

	nws = parse_list("1000,16383", ws, 8);
	while ((c = getopt(argc, argv, "s:w:i:t:r:o:m:")) != -1) {
		switch (c) {
		case 'm':
			mname = optarg;
			if (remus_dirty_method_parse(optarg, &m))
				die("-m %s", optarg);
			break;
		case 's': parse_list(optarg, &size, 1); break;
		case 'w': nws = parse_list(optarg, ws, 8); break;
		case 'i': interval = (unsigned int)atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'o': data = optarg; break;
		default:
			fprintf(stderr, "usage: engbench tput [-s SIZE] [-w WORKING_SETS] [-i INTERVAL_US] [-t SECONDS] [-r ROUNDS] [-m METHOD] [-o DATA]\n");
			return 2;
		}
	}
	ret = guest_start(&g, size, true, false);
	if (ret)
		die("guest: %s", strerror(-ret));
	for (wi = 0; wi < nws; wi++) {
		double ru[16], rp[16], ratio[16], cu[16], cp[16], cratio[16];
		double pause[16], pages[16], ckps[16], commit[16];

		if (ws[wi] >= g.npages)
			ws[wi] = g.npages - 1;
		g.sh->ws = ws[wi];
		usleep(200000);
		for (rd = 0; rd < rounds && rd < 16; rd++) {
			struct sample u0, u1, p0, p1;
			struct backup_child bc;
			struct wrap w;
			struct run r;
			uint64_t i, n0, n1;
			double *pz, *pg, *cm;
			int fd;

			/* unprotected */
			take(&g, &u0);
			usleep((useconds_t)(secs * 1e6));
			take(&g, &u1);

			/* protected */
			ret = wrap_open(&w, &g, WRAP_FREE, m, 0, 0, false, 1 << 16);
			if (ret)
				die("backend: %s", strerror(-ret));
			ret = backup_start(&bc);
			if (ret)
				die("backup: %s", strerror(-ret));
			fd = backup_connect(&bc);
			if (fd < 0)
				die("connect: %s", strerror(-fd));
			run_info(&r, interval, false);
			run_start(&r, &w.outer, fd, 0, 1 << 16);
			run_wait_epochs(&r, 3, 60000);
			n0 = r.n;
			take(&g, &p0);
			usleep((useconds_t)(secs * 1e6));
			take(&g, &p1);
			n1 = r.n;
			ret = run_join(&r, true);
			backup_wait(&bc);
			if (ret != REMUS_END_STOPPED)
				die("engine ended %d", ret);

			ru[rd] = (double)(u1.count - u0.count) * 1e9 / (double)(u1.t - u0.t);
			rp[rd] = (double)(p1.count - p0.count) * 1e9 / (double)(p1.t - p0.t);
			ratio[rd] = rp[rd] / ru[rd];
			cu[rd] = (double)(u1.count - u0.count) * 1e9 / (double)(u1.gcpu - u0.gcpu);
			cp[rd] = (double)(p1.count - p0.count) * 1e9 / (double)(p1.gcpu - p0.gcpu);
			cratio[rd] = cp[rd] / cu[rd];
			ckps[rd] = (double)(n1 - n0) * 1e9 / (double)(p1.t - p0.t);
			pz = calloc(n1 - n0 + 1, sizeof(double));
			pg = calloc(n1 - n0 + 1, sizeof(double));
			cm = calloc(n1 - n0 + 1, sizeof(double));
			for (i = n0; i < n1; i++) {
				pz[i - n0] = (double)r.st[i].pause_ns / 1e3;
				pg[i - n0] = (double)r.st[i].pages;
				cm[i - n0] = (double)(r.st[i].commit_ns - r.st[i].send_ns) / 1e3;
			}
			pause[rd] = MED(pz, n1 - n0);
			pages[rd] = MED(pg, n1 - n0);
			commit[rd] = MED(cm, n1 - n0);
			free(pz);
			free(pg);
			free(cm);
			free(r.st);
			wrap_close(&w);
		}
		{
			double mu = MED(ru, rd), mp = MED(rp, rd), mr = MED(ratio, rd);
			double rmin = q_of(ratio, rd, 0), rmax = q_of(ratio, rd, 1);
			double mcr = MED(cratio, rd), mpz = MED(pause, rd);
			double mpg = MED(pages, rd), mck = MED(ckps, rd);
			double mcm = MED(commit, rd);

			printf("| %s | %" PRIu64 " pages (%.1f MiB) | %u ms | %.2f M/s | %.2f M/s | **%.0f %%** (%.0f-%.0f) | %.0f %% | %.1f | %.0f | %.0f us | %.0f us |\n",
			       mname, ws[wi], (double)ws[wi] * PS / 1048576.0,
			       interval / 1000, mu / 1e6, mp / 1e6, mr * 100,
			       rmin * 100, rmax * 100, mcr * 100, mck, mpg, mpz, mcm);
			if (data) {
				FILE *df = fopen(data, "a");

				if (!df)
					die("%s", data);
				fprintf(df, "%s\t%" PRIu64 "\t%u\t%.0f\t%.0f\t%.4f\t%.4f\t%.4f\t%.4f\t%.1f\t%.0f\t%.0f\t%.0f\n",
					mname, ws[wi], interval, mu, mp, mr, rmin, rmax,
					mcr, mck, mpg, mpz, mcm);
				fclose(df);
			}
		}
	}
	g.sh->stop = 1;
	guest_stop(&g);
	return 0;
}
