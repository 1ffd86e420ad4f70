// SPDX-License-Identifier: GPL-2.0
/*
 * engbench codec: compression of the demo guest's real checkpoints, per
 * scheme, from the engine's own per-epoch counters (raw_bytes, wire_bytes,
 * codec_ns, send_ns). The demo guest (build/demo-guest, started with the
 * handshake as remusd starts it) runs under the engine in blackhole mode:
 * framing, delta, compression and the Poly1305 tags are all real, only the
 * socket is missing. The first checkpoint (the whole region) is reported
 * apart from the incremental ones.
 *
 * codec_ns is CLOCK_MONOTONIC inside the compressor (short calls, seldom
 * preempted); the CPU column is the process's CPU time per checkpoint
 * (engine threads: pause, encode, seal), which a busy machine does not
 * inflate the way it inflates wall time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engbench.h"

int bench_codec(int argc, char **argv)
{
	const char *schemes = "raw,xor,xor+lz4,xor+zstd,xor+zlib,lz4,zstd,zlib";
	const char *guest = "build/demo-guest", *dirty = "16", *data = NULL;
	unsigned int interval = 25000;
	int epochs = 80, c;
	char buf[128], *tok, *save;

	while ((c = getopt(argc, argv, "g:d:e:i:c:o:")) != -1) {
		switch (c) {
		case 'g': guest = optarg; break;
		case 'd': dirty = optarg; break;
		case 'e': epochs = atoi(optarg); break;
		case 'i': interval = (unsigned int)atoi(optarg); break;
		case 'c': schemes = optarg; break;
		case 'o': data = optarg; break;
		default:
			fprintf(stderr, "usage: engbench codec [-g DEMO_GUEST] [-d PAGES_PER_TICK] [-e EPOCHS] [-i INTERVAL_US] [-c SCHEMES] [-o DATA]\n");
			return 2;
		}
	}
	snprintf(buf, sizeof(buf), "%s", schemes);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *argv_g[] = { guest, "-q", "-d", dirty, NULL };
		struct remus_spawn sp = { .argv = argv_g, .timeout_ms = 10000 };
		struct remus_proc_backend_cfg cfg = { .child = true };
		struct remus_guest_desc desc;
		struct remus_backend b;
		uint64_t raw = 0, wire = 0, cns = 0, sns = 0, pages = 0, c1;
		struct run r;
		pid_t pid;
		int ret, i;

		ret = remus_proc_spawn(&sp, &pid, &desc);
		if (ret)
			die("start %s: %s", guest, strerror(-ret));
		cfg.pid = pid;
		cfg.desc = &desc;
		ret = remus_proc_backend_open(&b, &cfg);
		if (ret)
			die("backend: %s", strerror(-ret));
		run_info(&r, interval, true);
		if (!strcmp(tok, "raw")) {
			r.info.compression = false;
		} else {
			const char *s = tok;

			r.info.compression = true;
			if (!strcmp(s, "xor")) {
				r.info.codec = REMUS_CODEC_NONE;
			} else {
				if (!strncmp(s, "xor+", 4))
					s += 4;
				else
					r.info.delta_cache_pages = 0;
				ret = remus_codec_parse(s);
				if (ret < 0)
					die("scheme %s", tok);
				r.info.codec = (enum remus_codec)ret;
			}
		}
		run_start(&r, &b, -1, (uint64_t)epochs + 1, (uint64_t)epochs + 4);
		ret = run_join(&r, false);
		c1 = cpu_ns();
		if (ret != REMUS_END_STOPPED)
			die("engine ended %d", ret);
		for (i = 1; i <= epochs; i++) {
			raw += r.st[i].raw_bytes;
			wire += r.st[i].wire_bytes;
			cns += r.st[i].codec_ns;
			sns += r.st[i].send_ns;
			pages += r.st[i].pages;
		}
		{
			const struct remus_epoch_stats *f = &r.st[0];
			double ratio = (double)raw / (double)wire;
			double fratio = (double)f->raw_bytes / (double)f->wire_bytes;

			printf("| %s | %.0f | %.0f | %.1f | **%.1f:1** | %.0f %% | %.0f | %.2f | %.1f:1 | %.0f |\n",
			       tok, (double)pages / epochs, (double)wire / epochs,
			       (double)wire / (double)pages, ratio,
			       100.0 * (double)cns / (double)sns,
			       (double)raw / 1e6 / ((double)sns / 1e9),
			       (double)(c1 - r.cpu_first) / 1e6 / epochs, fratio,
			       (double)f->raw_bytes / 1e6 / ((double)f->send_ns / 1e9));
			if (data) {
				FILE *df = fopen(data, "a");

				if (!df)
					die("%s", data);
				fprintf(df, "%s\t%s\t%.1f\t%.0f\t%.0f\t%.3f\t%.1f\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\n",
					tok, dirty, (double)pages / epochs,
					(double)raw / epochs, (double)wire / epochs,
					ratio,
					cns ? (double)raw / 1e6 / ((double)cns / 1e9) : 0,
					(double)raw / 1e6 / ((double)sns / 1e9),
					(double)(c1 - r.cpu_first) / 1e6 / epochs, fratio,
					f->codec_ns ? (double)f->raw_bytes / 1e6 / ((double)f->codec_ns / 1e9) : 0,
					(double)f->raw_bytes / 1e6 / ((double)f->send_ns / 1e9),
					(double)f->send_ns / 1e6);
				fclose(df);
			}
		}
		free(r.st);
		remus_proc_backend_close(&b);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}
