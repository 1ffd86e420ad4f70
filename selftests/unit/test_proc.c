// SPDX-License-Identifier: GPL-2.0
/*
 * Process control and page reads (lib/proc/proc.c) against a real guest.
 */
#include <dirent.h>
#include <poll.h>
#include <stdatomic.h>

#include "proc/proc.h"
#include "test_proc_util.h"

#define MODE_WAIT	REMUS_PROC_F_CHILD
#define MODE_POLL	(REMUS_PROC_F_CHILD | REMUS_PROC_F_POLL)
/* not a library flag: the test waits with a deadline */
#define MODE_DEADLINE	(1 << 16)

static const char *mode_name(int flags)
{
	if (flags & REMUS_PROC_F_POLL)
		return "proc-poll";
	return flags & MODE_DEADLINE ? "waitid-deadline" : "waitid";
}

static int read_counters(struct remus_proc *p, const struct tguest *tg,
			 uint64_t *v, unsigned int n)
{
	return remus_proc_read(p, tg->desc.addr + tg->ps, v, n * sizeof(*v));
}

/* A stopped guest's counters do not move, in any of its threads. */
static int t_suspend_stops(struct tctx *c)
{
	uint64_t a[3], b[3], d[3], t0;
	struct remus_proc *p = NULL;
	struct tguest tg;
	int ret = T_PASS, round;
	unsigned int i;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, c->arg));
	CHECK_OK(c, tg_do(&tg, TG_SPIN, 3, NULL, 0));
	for (round = 0; round < 5; round++) {
		tsleep_us(5000);
		CHECK_OK(c, remus_proc_suspend(p, 5000));
		CHECK(c, remus_proc_suspended(p), "not marked suspended");
		CHECK_OK(c, read_counters(p, &tg, a, 3));
		tsleep_us(20000);
		CHECK_OK(c, read_counters(p, &tg, b, 3));
		for (i = 0; i < 3; i++)
			CHECK(c, a[i] == b[i], "%s: thread %u ran while stopped: "
			      "expected counter %" PRIu64 ", saw %" PRIu64,
			      mode_name(c->arg), i, a[i], b[i]);
		/* suspending again is a no-op, not a second wait */
		CHECK_OK(c, remus_proc_suspend(p, 0));
		CHECK_OK(c, remus_proc_resume(p));
		/* a loaded machine may take a while to run all three */
		for (t0 = tnow_ns(); tnow_ns() - t0 < 2000000000ULL;) {
			tsleep_us(2000);
			CHECK_OK(c, read_counters(p, &tg, d, 3));
			if (d[0] > b[0] && d[1] > b[1] && d[2] > b[2])
				break;
		}
		for (i = 0; i < 3; i++)
			CHECK(c, d[i] > b[i], "thread %u did not run within 2 s of "
			      "resume: counter stayed at %" PRIu64, i, d[i]);
	}
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Suspend + resume of a busy 2-thread guest; the figures go to the log. */
static int t_suspend_cost(struct tctx *c)
{
	enum { N = 100 };
	uint64_t t[N], susp[N];
	struct remus_proc *p = NULL;
	struct remus_proc_stats st;
	struct tguest tg;
	int ret = T_PASS, i;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, c->arg & REMUS_PROC_F_ALL));
	CHECK_OK(c, tg_do(&tg, TG_SPIN, 2, NULL, 0));
	for (i = 0; i < N; i++) {
		uint64_t t0;

		tsleep_us(500);
		t0 = tnow_ns();
		CHECK_OK(c, remus_proc_suspend(p, c->arg & (REMUS_PROC_F_POLL |
							     MODE_DEADLINE) ? 5000 : -1));
		susp[i] = tnow_ns() - t0;
		CHECK_OK(c, remus_proc_resume(p));
		t[i] = tnow_ns() - t0;
	}
	qsort(t, N, sizeof(t[0]), cmp_u64);
	qsort(susp, N, sizeof(susp[0]), cmp_u64);
	remus_proc_get_stats(p, &st);
	CHECK_EQ(c, N, st.suspends, "suspends counted");
	/* generous: this is a loaded 2-CPU machine, not a benchmark */
	CHECK(c, t[N / 2] < 50000000, "median suspend+resume %" PRIu64 " us",
	      t[N / 2] / 1000);
	tmsg(c, "%s: suspend median %.1f us p99 %.1f us; suspend+resume median "
	     "%.1f us p99 %.1f us; %.1f checks a suspend", mode_name(c->arg),
	     susp[N / 2] / 1e3, susp[N * 99 / 100] / 1e3, t[N / 2] / 1e3,
	     t[N * 99 / 100] / 1e3, (double)st.stop_checks / N);
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

/*
 * Scattered pages, more runs than IOV_MAX, packed and mirrored, match what
 * the guest wrote and what a whole-region read sees.
 */
static int t_read_pages(struct tctx *c)
{
	const uint64_t npages = 4096, size = npages * 4096;
	uint64_t *idx = NULL, n = 0, i;
	char *packed = NULL, *mirror = NULL, *truth = NULL;
	struct remus_proc *p = NULL;
	struct remus_proc_stats st;
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, size, 0));
	CHECK(c, tg.ps == 4096, "test assumes 4 KiB pages");
	r = tg_range(&tg);
	idx = malloc(npages * sizeof(*idx));
	packed = malloc(size);
	mirror = calloc(1, size);
	truth = malloc(size);
	CHECK(c, idx && packed && mirror && truth, "out of memory");
	/* 1500 isolated pages, then a run of 500, then the last page */
	for (i = 0; i < 1500; i++)
		idx[n++] = 1 + 2 * i;
	for (i = 3100; i < 3600; i++)
		idx[n++] = i;
	idx[n++] = npages - 1;
	CHECK_OK(c, tg_do(&tg, TG_WRITE, 9, idx, n));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, REMUS_PROC_F_CHILD));
	CHECK_OK(c, remus_proc_suspend(p, 5000));
	CHECK_OK(c, remus_proc_read_pages(p, &r, 1, idx, n, packed, 0));
	CHECK_OK(c, remus_proc_read_pages(p, &r, 1, idx, n, mirror,
					  REMUS_PROC_READ_MIRROR));
	CHECK_OK(c, remus_proc_read(p, r.start, truth, size));
	for (i = 0; i < n; i++) {
		uint64_t want = 9ULL << 32 | idx[i];

		CHECK_EQ(c, want, *(uint64_t *)(packed + i * 4096), "packed page stamp");
		CHECK(c, !memcmp(packed + i * 4096, truth + idx[i] * 4096, 4096),
		      "packed page %" PRIu64 " differs from the guest's", idx[i]);
		CHECK(c, !memcmp(mirror + idx[i] * 4096, truth + idx[i] * 4096, 4096),
		      "mirrored page %" PRIu64 " differs from the guest's", idx[i]);
	}
	/* the mirror holds nothing else */
	CHECK(c, *(uint64_t *)(mirror + 2 * 4096) == 0, "mirror wrote an unread page");
	remus_proc_get_stats(p, &st);
	/* 1500 + 1 + 1 remote runs: two calls at IOV_MAX 1024 */
	CHECK(c, st.read_calls >= 4, "expected batches split at IOV_MAX, saw %"
	      PRIu64 " calls", st.read_calls);
	CHECK_OK(c, remus_proc_resume(p));
out:
	free(idx);
	free(packed);
	free(mirror);
	free(truth);
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

static int t_read_errors(struct tctx *c)
{
	struct remus_proc *p = NULL;
	uint64_t idx = 1000, buf[512];
	struct tguest tg;
	struct remus_range r;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 256 * 4096, 0));
	r = tg_range(&tg);
	CHECK_OK(c, remus_proc_open(&p, tg.pid, REMUS_PROC_F_CHILD));
	CHECK_EQ(c, -EFAULT, remus_proc_read(p, r.start + r.len - 8, buf, 16),
		 "read across the region's end");
	CHECK_EQ(c, -EFAULT, remus_proc_read(p, 0x1000, buf, 8), "read at 0x1000");
	CHECK_EQ(c, -ERANGE, remus_proc_read_pages(p, &r, 1, &idx, 1, buf, 0),
		 "index past the ranges");
	CHECK_EQ(c, -EINVAL, remus_proc_read_pages(p, &r, 1, &idx, 1, buf, 8),
		 "unknown flag");
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

/* Death is noticed: by check, by the pidfd, by suspend and by reads. */
static int t_death(struct tctx *c)
{
	struct remus_proc *p = NULL;
	struct pollfd pfd;
	struct tguest tg;
	uint64_t buf;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, c->arg));
	CHECK_OK(c, remus_proc_check(p));
	pfd = (struct pollfd){ .fd = remus_proc_pidfd(p), .events = POLLIN };
	CHECK_EQ(c, 0, poll(&pfd, 1, 0), "pidfd readable while alive");
	CHECK_OK(c, tg_do(&tg, TG_SPIN, 1, NULL, 0));
	CHECK_OK(c, remus_proc_suspend(p, 5000));
	/* dies while stopped: SIGKILL still works */
	kill(tg.pid, SIGKILL);
	CHECK_EQ(c, 1, poll(&pfd, 1, 5000), "pidfd readable after death");
	CHECK_EQ(c, -ESRCH, remus_proc_check(p), "check after death");
	CHECK_EQ(c, -ESRCH, remus_proc_read(p, tg.desc.addr, &buf, 8),
		 "read after death");
	/* still marked suspended: suspend must not claim success */
	CHECK_EQ(c, -ESRCH, remus_proc_suspend(p, 1000), "suspend after death");
	CHECK_EQ(c, -ESRCH, remus_proc_resume(p), "resume after death");
	CHECK_EQ(c, -ESRCH, remus_proc_suspend(p, 1000), "suspend after death");
	/* reaped: the PID may be reused, the handle must not follow it */
	tg_stop(&tg);
	CHECK_EQ(c, -ESRCH, remus_proc_check(p), "check after reaping");
	CHECK_EQ(c, -ESRCH, remus_proc_suspend(p, 1000), "suspend after reaping");
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

/*
 * remusd stops on a signal it handles without SA_RESTART: one that comes
 * while a suspend waits for a guest slow to stop (in vfork() for 300 ms)
 * is no answer, and the suspend still succeeds, in every kind of wait.
 */
static atomic_int caught;

static void count_signal(int sig)
{
	atomic_fetch_add(&caught, 1);
}

static void *nag_main(void *arg)
{
	pthread_t *target = arg;
	int i;

	for (i = 0; i < 5; i++) {
		tsleep_us(40000);
		pthread_kill(*target, SIGUSR1);
	}
	return NULL;
}

static int t_signal_during_suspend(struct tctx *c)
{
	struct sigaction sa = { .sa_handler = count_signal }, old;
	struct remus_proc *p = NULL;
	pthread_t self = pthread_self(), nag;
	bool nagging = false;
	struct tguest tg;
	int ret = T_PASS;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	atomic_store(&caught, 0);
	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, c->arg & REMUS_PROC_F_ALL));
	CHECK_OK(c, tg_do(&tg, TG_VFORK, 300, NULL, 0));
	tsleep_us(20000);
	CHECK(c, !pthread_create(&nag, NULL, nag_main, &self), "pthread_create failed");
	nagging = true;
	CHECK_OK(c, remus_proc_suspend(p, c->arg & (REMUS_PROC_F_POLL |
						     MODE_DEADLINE) ? 5000 : -1));
	CHECK(c, atomic_load(&caught) > 0, "no signal came during the suspend");
	CHECK_OK(c, remus_proc_resume(p));
out:
	if (nagging)
		pthread_join(nag, NULL);
	remus_proc_close(p);
	tg_stop(&tg);
	sigaction(SIGUSR1, &old, NULL);
	return ret;
}

/*
 * A guest blocked in vfork() cannot stop: the wait times out, and the
 * guest's death ends a wait at once.
 */
static int t_unstoppable(struct tctx *c)
{
	struct remus_proc *p = NULL;
	struct tguest tg;
	int ret = T_PASS, got;
	uint64_t t0;
	pid_t killer = -1;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, c->arg));
	CHECK_OK(c, tg_do(&tg, TG_VFORK, 2000, NULL, 0));
	tsleep_us(20000);
	t0 = tnow_ns();
	CHECK_EQ(c, -ETIMEDOUT, remus_proc_suspend(p, 100), "suspend of a blocked guest");
	CHECK(c, tnow_ns() - t0 < 1000000000ULL, "timeout of 100 ms took %" PRIu64 " ms",
	      (tnow_ns() - t0) / 1000000);
	killer = fork();
	if (!killer) {
		tsleep_us(100000);
		kill(tg.pid, SIGKILL);
		_exit(0);
	}
	t0 = tnow_ns();
	got = remus_proc_suspend(p, 10000);
	CHECK_EQ(c, -ESRCH, got, "suspend while the guest is killed");
	CHECK(c, tnow_ns() - t0 < 1500000000ULL, "death noticed after %" PRIu64 " ms",
	      (tnow_ns() - t0) / 1000000);
out:
	if (killer > 0)
		waitpid(killer, NULL, 0);
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

static int t_spawn_failures(struct tctx *c)
{
	const char *not_guest[] = { "true", NULL };
	const char *missing[] = { "/nonexistent/remus-guest", NULL };
	const char *slow[] = { "sleep", "10", NULL };
	struct remus_spawn s = { .timeout_ms = 5000 };
	struct remus_guest_desc d;
	uint64_t t0;
	pid_t pid = -1;
	int ret = T_PASS;

	s.argv = not_guest;
	CHECK_EQ(c, -EPIPE, remus_proc_spawn(&s, &pid, &d), "spawn of true(1)");
	s.argv = missing;
	CHECK_EQ(c, -EPIPE, remus_proc_spawn(&s, &pid, &d), "spawn of a missing program");
	s.argv = slow;
	s.timeout_ms = 200;
	t0 = tnow_ns();
	CHECK_EQ(c, -ETIMEDOUT, remus_proc_spawn(&s, &pid, &d), "spawn of sleep(1)");
	CHECK(c, tnow_ns() - t0 < 3000000000ULL, "timeout took %" PRIu64 " ms",
	      (tnow_ns() - t0) / 1000000);
	/* the timed-out child was killed and reaped: no child left */
	CHECK_EQ(c, -1, waitpid(-1, NULL, WNOHANG), "children left behind");
	CHECK_EQ(c, ECHILD, errno, "waitpid errno");
	CHECK_EQ(c, -1, pid, "pid set on failure");
out:
	return ret;
}

/*
 * A wait with a deadline that timed out leaves its answer behind when the
 * guest stops later; after a resume, the next wait must not take it.
 */
static int t_stale_answer(struct tctx *c)
{
	struct remus_proc *p = NULL;
	struct tguest tg;
	uint64_t a, b;
	int ret = T_PASS;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	CHECK_OK(c, remus_proc_open(&p, tg.pid, REMUS_PROC_F_CHILD));
	CHECK_OK(c, tg_do(&tg, TG_VFORK, 1000, NULL, 0));
	tsleep_us(20000);
	CHECK_EQ(c, -ETIMEDOUT, remus_proc_suspend(p, 100), "suspend of a blocked guest");
	/* the vfork ends, the pending stop completes, the answer is left */
	tsleep_us(1500000);
	CHECK_OK(c, remus_proc_resume(p));
	/* unstoppable again: only a stale answer could end this wait early */
	CHECK_OK(c, tg_do(&tg, TG_VFORK, 1000, NULL, 0));
	tsleep_us(20000);
	CHECK_EQ(c, -ETIMEDOUT, remus_proc_suspend(p, 300),
		 "second suspend of a blocked guest");
	/* and once it can stop, a wait sees the stop, the guest frozen */
	CHECK_OK(c, remus_proc_resume(p));
	tsleep_us(1500000);
	CHECK_OK(c, tg_do(&tg, TG_SPIN, 1, NULL, 0));
	tsleep_us(10000);
	CHECK_OK(c, remus_proc_suspend(p, 5000));
	CHECK_OK(c, read_counters(p, &tg, &a, 1));
	tsleep_us(30000);
	CHECK_OK(c, read_counters(p, &tg, &b, 1));
	CHECK(c, a == b, "thread ran while stopped: counter %" PRIu64 " then %"
	      PRIu64, a, b);
	CHECK_OK(c, remus_proc_resume(p));
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

static int count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Handles that waited with a deadline leave no thread and no fd behind. */
static int t_close_cleans_up(struct tctx *c)
{
	struct remus_proc *p = NULL;
	struct tguest tg;
	int ret = T_PASS, fds, threads, i;
	bool seen_waiter = false;
	uint64_t t0;

	CHECK_OK(c, tg_start(&tg, 1 << 20, 0));
	fds = count_dir("/proc/self/fd");
	threads = count_dir("/proc/self/task");
	for (i = 0; i < 20; i++) {
		CHECK_OK(c, remus_proc_open(&p, tg.pid, REMUS_PROC_F_CHILD));
		/* slow to stop: the wait goes to the waiter thread */
		CHECK_OK(c, tg_do(&tg, TG_VFORK, 20, NULL, 0));
		CHECK_OK(c, remus_proc_suspend(p, 5000));
		/*
		 * Whether a waiter thread is still there to be counted once
		 * the suspend returned is a race (it leaves on its own): only
		 * say whether this run saw one.
		 */
		if (count_dir("/proc/self/task") > threads)
			seen_waiter = true;
		CHECK_OK(c, remus_proc_resume(p));
		remus_proc_close(p);
		p = NULL;
	}
	/* the waiters leave on their own, soon after the close */
	for (t0 = tnow_ns(); tnow_ns() - t0 < 2000000000ULL;) {
		if (count_dir("/proc/self/task") == threads &&
		    count_dir("/proc/self/fd") == fds)
			break;
		tsleep_us(10000);
	}
	printf("# waiter threads %s\n", seen_waiter ? "seen" :
	       "not seen (the stops were quick, or the waiters gone already)");
	CHECK_EQ(c, threads, count_dir("/proc/self/task"), "threads after 20 handles");
	CHECK_EQ(c, fds, count_dir("/proc/self/fd"), "fds after 20 handles");
out:
	remus_proc_close(p);
	tg_stop(&tg);
	return ret;
}

static const struct tcase tests[] = {
	{ "suspend_stops_every_thread/waitid", t_suspend_stops, MODE_WAIT },
	{ "suspend_stops_every_thread/proc-poll", t_suspend_stops, MODE_POLL },
	{ "suspend_resume_cost/waitid", t_suspend_cost, MODE_WAIT },
	{ "suspend_resume_cost/waitid-deadline", t_suspend_cost, MODE_WAIT | MODE_DEADLINE },
	{ "suspend_resume_cost/proc-poll", t_suspend_cost, MODE_POLL },
	{ "deadline_wait_ignores_stale_answer", t_stale_answer, 0 },
	{ "read_pages_match_guest_memory", t_read_pages, 0 },
	{ "read_errors", t_read_errors, 0 },
	{ "death_noticed/waitid", t_death, MODE_WAIT },
	{ "death_noticed/proc-poll", t_death, MODE_POLL },
	{ "signal_during_suspend_is_no_failure/waitid", t_signal_during_suspend, MODE_WAIT },
	{ "signal_during_suspend_is_no_failure/waitid-deadline", t_signal_during_suspend, MODE_WAIT | MODE_DEADLINE },
	{ "signal_during_suspend_is_no_failure/proc-poll", t_signal_during_suspend, MODE_POLL },
	{ "unstoppable_guest_times_out_death_ends_wait/waitid", t_unstoppable, MODE_WAIT },
	{ "unstoppable_guest_times_out_death_ends_wait/proc-poll", t_unstoppable, MODE_POLL },
	{ "spawn_failures_reported_and_reaped", t_spawn_failures, 0 },
	{ "close_leaves_no_thread_nor_fd", t_close_cleans_up, 0 },
};

int main(void)
{
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
