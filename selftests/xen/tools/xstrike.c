// SPDX-License-Identifier: GPL-2.0
/*
 * Kill a replicated primary at a chosen point of its epoch: wait until the
 * stream walker logs checkpoint N, let the guest run DELAY ms, then pause
 * the domain and SIGKILL the given processes (the sender). All in one
 * process: under nested TCG an exec of `xl pause` alone takes seconds,
 * longer than an epoch, which leaves the moment of death to chance.
 *
 * xstrike -l WALK.LOG -n N -d DELAY_MS -D DOMID [PID...]
 * Prints "paused t=T" (CLOCK_BOOTTIME s) and "killed N".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int has_ckpt(const char *log, unsigned long n)
{
	char line[256], want[32];
	int found = 0;
	FILE *f = fopen(log, "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "ckpt n=%lu ", n);
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, want, strlen(want));
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	unsigned long n = 0, delay = 0, domid = ~0ul;
	const char *log = NULL;
	double deadline;
	xc_interface *xch;
	int opt, i, killed = 0;

	while ((opt = getopt(argc, argv, "l:n:d:D:")) != -1) {
		switch (opt) {
		case 'l': log = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'd': delay = strtoul(optarg, NULL, 0); break;
		case 'D': domid = strtoul(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (!log || !n || domid == ~0ul)
		goto usage;
	xch = xc_interface_open(NULL, NULL, 0);
	if (!xch) {
		fprintf(stderr, "xstrike: xc_interface_open: %s\n", strerror(errno));
		return 1;
	}
	deadline = now_s() + 300;
	while (!has_ckpt(log, n)) {
		if (now_s() > deadline) {
			fprintf(stderr, "xstrike: no checkpoint %lu in %s\n", n, log);
			return 1;
		}
		usleep(5000);
	}
	usleep(delay * 1000);
	if (xc_domain_pause(xch, domid)) {
		fprintf(stderr, "xstrike: pausing domain %lu: %s\n", domid, strerror(errno));
		return 1;
	}
	printf("paused t=%.3f\n", now_s());
	for (i = optind; i < argc; i++)
		if (!kill(atoi(argv[i]), SIGKILL))
			killed++;
	printf("killed %d\n", killed);
	return 0;
usage:
	fprintf(stderr, "usage: xstrike -l WALK.LOG -n N -d DELAY_MS -D DOMID [PID...]\n");
	return 2;
}
