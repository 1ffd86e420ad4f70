// SPDX-License-Identifier: GPL-2.0
/*
 * bench-suspend: what it costs to stop a proc guest and let it go again.
 *
 * Guests (forked here, each with a Remus region):
 *   idle   a 1 ms tick loop like demo-guest's: asleep most of the time
 *   busy1  one thread writing its region without pause
 *   busy2  two such threads (on a 2-CPU machine: every CPU taken)
 * Ways to stop them:
 *   waitid     SIGSTOP, then a blocking waitid(P_PIDFD, WSTOPPED) (lib,
 *              REMUS_PROC_F_CHILD, no timeout)
 *   waitid-to  the same with a deadline: the lib's waiter thread blocks in
 *              waitid(), the caller polls its answer with the deadline
 *   proc-poll  SIGSTOP, then /proc/PID/task/ * /stat until all say 'T' (lib)
 *   ptrace     PTRACE_SEIZE once; PTRACE_INTERRUPT each thread and waitpid
 *              its stop; resume with PTRACE_CONT (not in the lib)
 * Prints one line a pair: median, p90, p99 of the stop and of stop+resume.
 *
 * usage: bench-suspend [-n CYCLES] [-g idle,busy1,busy2] [-m waitid,...] [-R]
 * -R: run the measuring side SCHED_FIFO (the guests stay SCHED_OTHER).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../guest/remus_guest.h"
#include "proc/proc.h"

#define BENCH_ADDR 0x310000000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void *busy(void *arg)
{
	volatile uint64_t *w = arg;

	for (;;)
		w[0]++;
	return NULL;
}

static void __attribute__((noreturn)) guest(const char *kind, int ready)
{
	struct remus_guest_opts o = {
		.addr = BENCH_ADDR, .size = 1 << 20, .flags = REMUS_GUEST_F_NO_ENV,
	};
	struct remus_guest g;
	pthread_t th;
	char a = 1;

	if (remus_guest_init(&g, &o))
		_exit(1);
	if (write(ready, &a, 1) != 1)
		_exit(1);
	if (!strcmp(kind, "busy2"))
		pthread_create(&th, NULL, busy, (uint64_t *)g.app + 8);
	if (!strcmp(kind, "idle")) {
		for (;;) {
			++*(volatile uint64_t *)g.app;
			sleep_us(1000);
		}
	}
	busy(g.app);
	_exit(0);
}

static pid_t start_guest(const char *kind)
{
	int p[2];
	char a;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		close(p[0]);
		guest(kind, p[1]);
	}
	close(p[1]);
	if (read(p[0], &a, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static int thread_ids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max)
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			tids[n++] = atoi(de->d_name);
	closedir(d);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *guest_kind, const char *mode, uint64_t *s,
		   uint64_t *sr, int n)
{
	qsort(s, n, sizeof(*s), cmp_u64);
	qsort(sr, n, sizeof(*sr), cmp_u64);
	printf("%-6s %-10s stop: med %7.1f p90 %7.1f p99 %8.1f us   "
	       "stop+resume: med %7.1f p90 %7.1f p99 %8.1f us\n",
	       guest_kind, mode, s[n / 2] / 1e3, s[n * 9 / 10] / 1e3,
	       s[n * 99 / 100] / 1e3, sr[n / 2] / 1e3, sr[n * 9 / 10] / 1e3,
	       sr[n * 99 / 100] / 1e3);
	fflush(stdout);
}

static int run_lib(pid_t pid, unsigned int flags, int timeout, int n,
		   uint64_t *s, uint64_t *sr)
{
	struct remus_proc *p;
	int i, ret;

	ret = remus_proc_open(&p, pid, flags);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		uint64_t t0;

		sleep_us(1000);
		t0 = now_ns();
		ret = remus_proc_suspend(p, timeout);
		s[i] = now_ns() - t0;
		ret = ret ? ret : remus_proc_resume(p);
		sr[i] = now_ns() - t0;
		if (ret)
			break;
	}
	remus_proc_close(p);
	return ret;
}

static int run_ptrace(pid_t pid, int n, uint64_t *s, uint64_t *sr)
{
	pid_t tids[16];
	int nt, i, t, st;

	nt = thread_ids(pid, tids, 16);
	if (nt <= 0)
		return -ESRCH;
	for (t = 0; t < nt; t++)
		if (ptrace(PTRACE_SEIZE, tids[t], 0, 0))
			return -errno;
	for (i = 0; i < n; i++) {
		uint64_t t0;

		sleep_us(1000);
		t0 = now_ns();
		for (t = 0; t < nt; t++)
			ptrace(PTRACE_INTERRUPT, tids[t], 0, 0);
		for (t = 0; t < nt; t++)
			if (waitpid(tids[t], &st, __WALL) < 0)
				return -errno;
		s[i] = now_ns() - t0;
		for (t = 0; t < nt; t++)
			ptrace(PTRACE_CONT, tids[t], 0, 0);
		sr[i] = now_ns() - t0;
	}
	for (t = 0; t < nt; t++) {
		ptrace(PTRACE_INTERRUPT, tids[t], 0, 0);
		waitpid(tids[t], &st, __WALL);
		ptrace(PTRACE_DETACH, tids[t], 0, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *guests = "idle,busy1,busy2";
	const char *modes = "waitid,waitid-to,proc-poll,ptrace";
	char gbuf[128], mbuf[128], *gk, *mk, *gs, *ms;
	uint64_t *s, *sr;
	int n = 500, c;

	while ((c = getopt(argc, argv, "n:g:m:R")) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'g':
			guests = optarg;
			break;
		case 'm':
			modes = optarg;
			break;
		case 'R': {
			/* the measuring side real-time, as remusd may run; the
			 * guests it forks go back to SCHED_OTHER */
			struct sched_param sp = { .sched_priority = 10 };

			if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp)) {
				perror("sched_setscheduler");
				return 1;
			}
			break;
		}
		default:
			fprintf(stderr, "usage: bench-suspend [-n CYCLES] [-g GUESTS] [-m MODES]\n");
			return 2;
		}
	}
	if (n < 10) {
		fprintf(stderr, "bench-suspend: -n must be at least 10\n");
		return 2;
	}
	s = calloc(n, sizeof(*s));
	sr = calloc(n, sizeof(*sr));
	if (!s || !sr)
		return 1;
	snprintf(gbuf, sizeof(gbuf), "%s", guests);
	for (gk = strtok_r(gbuf, ",", &gs); gk; gk = strtok_r(NULL, ",", &gs)) {
		snprintf(mbuf, sizeof(mbuf), "%s", modes);
		for (mk = strtok_r(mbuf, ",", &ms); mk; mk = strtok_r(NULL, ",", &ms)) {
			pid_t pid = start_guest(gk);
			int ret;

			if (pid < 0) {
				fprintf(stderr, "bench-suspend: guest %s did not start\n", gk);
				return 1;
			}
			if (!strcmp(mk, "waitid"))
				ret = run_lib(pid, REMUS_PROC_F_CHILD, -1, n, s, sr);
			else if (!strcmp(mk, "waitid-to"))
				ret = run_lib(pid, REMUS_PROC_F_CHILD, 5000, n, s, sr);
			else if (!strcmp(mk, "proc-poll"))
				ret = run_lib(pid, REMUS_PROC_F_CHILD | REMUS_PROC_F_POLL,
					      5000, n, s, sr);
			else if (!strcmp(mk, "ptrace"))
				ret = run_ptrace(pid, n, s, sr);
			else
				ret = -EINVAL;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (ret) {
				fprintf(stderr, "bench-suspend: %s/%s: %s\n", gk, mk,
					strerror(-ret));
				return 1;
			}
			report(gk, mk, s, sr, n);
		}
	}
	free(s);
	free(sr);
	return 0;
}
