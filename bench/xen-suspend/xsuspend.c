// SPDX-License-Identifier: GPL-2.0
/*
 * What does one checkpoint's suspend cost a Linux PV/PVH guest?
 *
 * Each cycle does what a checkpointing toolstack does when the guest offers
 * no suspend event channel: write "suspend" to control/shutdown, wait for
 * the guest to clear it (its xenwatch thread took the request), wait until
 * the hypervisor reports SHUTDOWN_suspend (the guest went through
 * freeze_processes, dpm_suspend, xs_suspend, stop_machine and the suspend
 * hypercall), then resume it as Remus does (xc_domain_resume(fast=1) and
 * xs_resume_domain). It prints the distribution of each phase.
 *
 * xsuspend [-n CYCLES] [-i INTERVAL_MS] [-r RAW.csv] [-e] DOMID
 *   -e  use the guest's suspend event channel when it publishes one
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xenevtchn.h>

#define TIMEOUT_MS 60000

enum { P_ACK, P_SUSPENDED, P_RESUME_XC, P_RESUME_XS, P_TOTAL, NPHASE };
static const char *phase_name[NPHASE] = {
	"request->ack", "request->suspended", "xc_domain_resume", "xs_resume_domain",
	"request->resumed",
};

struct ctx {
	xc_interface *xch;
	struct xs_handle *xsh;
	xenevtchn_handle *xce;
	unsigned int domid;
	char shutdown_path[64];
	int evtchn;		/* bound local port, or -1 */
	int lockfd;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 1 when the domain is shut down for suspend, 0 when not, -1 when gone. */
static int is_suspended(struct ctx *c)
{
	xc_domaininfo_t info;

	if (xc_domain_getinfolist(c->xch, c->domid, 1, &info) != 1 || info.domain != c->domid)
		return -1;
	return (info.flags & XEN_DOMINF_shutdown) &&
	       ((info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask) ==
	       SHUTDOWN_suspend;
}

/* Wait for a watch event until deadline (ms); 0 on event, -ETIMEDOUT. */
static int wait_watch(struct ctx *c, double deadline)
{
	struct pollfd p = { .fd = xs_fileno(c->xsh), .events = POLLIN };
	unsigned int n;
	char **ev;
	int left = (int)(deadline - now_ms());

	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(&p, 1, left) <= 0)
		return -ETIMEDOUT;
	ev = xs_read_watch(c->xsh, &n);
	free(ev);
	return 0;
}

static int shutdown_key_cleared(struct ctx *c)
{
	unsigned int len;
	char *v = xs_read(c->xsh, XBT_NULL, c->shutdown_path, &len);
	int cleared = !v || !len;

	free(v);
	return cleared;
}

static int suspend_one(struct ctx *c, double *t)
{
	double t0 = now_ms(), deadline = t0 + TIMEOUT_MS;
	int s;

	if (c->evtchn >= 0) {
		if (xenevtchn_notify(c->xce, c->evtchn) < 0)
			return -errno;
		t[P_ACK] = now_ms() - t0;
		if (xc_await_suspend(c->xch, c->xce, c->evtchn) < 0)
			return -EIO;
	} else {
		if (!xs_write(c->xsh, XBT_NULL, c->shutdown_path, "suspend", 7))
			return -errno;
		while (!shutdown_key_cleared(c))
			if (wait_watch(c, deadline))
				return -ETIMEDOUT;
		t[P_ACK] = now_ms() - t0;
	}
	while ((s = is_suspended(c)) == 0)
		if (wait_watch(c, deadline))
			return -ETIMEDOUT;
	if (s < 0)
		return -ESRCH;
	t[P_SUSPENDED] = now_ms() - t0;
	return 0;
}

static int resume_one(struct ctx *c, double *t)
{
	double t0 = now_ms(), t1;

	if (xc_domain_resume(c->xch, c->domid, 1))
		return -errno;
	t1 = now_ms();
	t[P_RESUME_XC] = t1 - t0;
	if (!xs_resume_domain(c->xsh, c->domid))
		return -errno;
	t[P_RESUME_XS] = now_ms() - t1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
	int i = (int)ceil(p / 100.0 * n) - 1;

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void report(double (*t)[NPHASE], int n)
{
	double *v = malloc(sizeof(*v) * n);
	int p, i;

	printf("%-20s %6s %9s %9s %9s %9s %9s %9s (ms)\n", "phase", "n", "min", "p50",
	       "p90", "p99", "max", "mean");
	for (p = 0; p < NPHASE; p++) {
		double sum = 0;

		for (i = 0; i < n; i++) {
			v[i] = t[i][p];
			sum += v[i];
		}
		qsort(v, n, sizeof(*v), cmp_double);
		printf("%-20s %6d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", phase_name[p], n,
		       v[0], pct(v, n, 50), pct(v, n, 90), pct(v, n, 99), v[n - 1], sum / n);
	}
	free(v);
}

int main(int argc, char **argv)
{
	struct ctx c = { .evtchn = -1, .lockfd = -1 };
	int cycles = 100, interval = 100, use_evtchn = 0, opt, i, rc = 0, port;
	const char *raw = NULL;
	double (*t)[NPHASE];
	char path[64];
	FILE *rf = NULL;

	while ((opt = getopt(argc, argv, "n:i:r:e")) != -1) {
		switch (opt) {
		case 'n': cycles = atoi(optarg); break;
		case 'i': interval = atoi(optarg); break;
		case 'r': raw = optarg; break;
		case 'e': use_evtchn = 1; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || cycles <= 0)
		goto usage;
	c.domid = strtoul(argv[optind], NULL, 0);

	c.xch = xc_interface_open(NULL, NULL, 0);
	c.xsh = xs_open(0);
	c.xce = xenevtchn_open(NULL, 0);
	if (!c.xch || !c.xsh || !c.xce) {
		fprintf(stderr, "xsuspend: cannot open xenctrl/xenstore/evtchn: %s\n", strerror(errno));
		return 1;
	}
	if (is_suspended(&c) < 0) {
		fprintf(stderr, "xsuspend: no domain %u\n", c.domid);
		return 1;
	}
	snprintf(c.shutdown_path, sizeof(c.shutdown_path), "/local/domain/%u/control/shutdown",
		 c.domid);
	snprintf(path, sizeof(path), "/local/domain/%u/device/suspend/event-channel", c.domid);
	port = xs_suspend_evtchn_port(c.domid);
	printf("guest %u publishes %s: %s\n", c.domid, path,
	       port >= 0 ? "yes" : "no (control/shutdown path only)");
	{
		unsigned int len;
		char *fs;

		snprintf(path, sizeof(path), "/local/domain/%u/control/feature-suspend", c.domid);
		fs = xs_read(c.xsh, XBT_NULL, path, &len);
		printf("control/feature-suspend: %s\n", fs ? fs : "(absent)");
		free(fs);
	}
	if (use_evtchn && port >= 0) {
		c.evtchn = xc_suspend_evtchn_init_exclusive(c.xch, c.xce, c.domid, port, &c.lockfd);
		if (c.evtchn < 0) {
			fprintf(stderr, "xsuspend: binding the suspend event channel failed\n");
			return 1;
		}
	}
	if (!xs_watch(c.xsh, "@releaseDomain", "release") ||
	    !xs_watch(c.xsh, c.shutdown_path, "shutdown")) {
		fprintf(stderr, "xsuspend: xs_watch: %s\n", strerror(errno));
		return 1;
	}
	/* Eat the watches' initial firing. */
	while (wait_watch(&c, now_ms() + 50) == 0)
		;

	t = calloc(cycles, sizeof(*t));
	if (raw && !(rf = fopen(raw, "w"))) {
		fprintf(stderr, "xsuspend: %s: %s\n", raw, strerror(errno));
		return 1;
	}
	if (rf)
		fprintf(rf, "cycle,ack_ms,suspended_ms,resume_xc_ms,resume_xs_ms,total_ms\n");
	for (i = 0; i < cycles; i++) {
		double t0 = now_ms();

		rc = suspend_one(&c, t[i]);
		if (rc) {
			fprintf(stderr, "xsuspend: cycle %d: suspend failed: %s\n", i, strerror(-rc));
			if (is_suspended(&c) == 1)
				resume_one(&c, t[i]);
			break;
		}
		rc = resume_one(&c, t[i]);
		if (rc) {
			fprintf(stderr, "xsuspend: cycle %d: resume failed: %s\n", i, strerror(-rc));
			break;
		}
		t[i][P_TOTAL] = now_ms() - t0;
		if (rf)
			fprintf(rf, "%d,%.3f,%.3f,%.3f,%.3f,%.3f\n", i, t[i][P_ACK],
				t[i][P_SUSPENDED], t[i][P_RESUME_XC], t[i][P_RESUME_XS],
				t[i][P_TOTAL]);
		/* Drain events from this cycle so the next starts clean. */
		while (wait_watch(&c, now_ms() + 1) == 0)
			;
		usleep(interval * 1000);
	}
	if (rf)
		fclose(rf);
	if (i > 0)
		report(t, i);
	if (c.evtchn >= 0)
		xc_suspend_evtchn_release(c.xch, c.xce, c.domid, c.evtchn, &c.lockfd);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: xsuspend [-n CYCLES] [-i INTERVAL_MS] [-r RAW.csv] [-e] DOMID\n");
	return 2;
}
