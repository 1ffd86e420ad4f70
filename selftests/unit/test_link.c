// SPDX-License-Identifier: GPL-2.0
/*
 * remus_poll(), under every wait with a deadline on the link: remusd stops
 * on a signal it handles without SA_RESTART, which interrupts poll(). A
 * wait that such a signal comes into goes on, sees the fd it waits for,
 * and ends at its own deadline, not a full timeout after the last signal.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "link.h"
#include "test_wire_tap.h"

#define NAGS		5
#define NAG_MS		50
#define TIMEOUT_MS	300

static atomic_int caught;

static void count_signal(int sig)
{
	atomic_fetch_add(&caught, 1);
}

/* Signals to the waiting thread, NAG_MS apart, NAGS of them (or until
 * stop, at most NAGS_MAX), then a byte on wfd. */
#define NAGS_MAX	100
struct nag {
	pthread_t t, target;
	int wfd, nags;
	atomic_bool stop;
};

static void *nag_main(void *arg)
{
	struct nag *n = arg;
	int i;

	for (i = 0; i < n->nags && !atomic_load(&n->stop); i++) {
		usleep(NAG_MS * 1000);
		pthread_kill(n->target, SIGUSR1);
	}
	if (n->wfd >= 0 && write(n->wfd, "x", 1) != 1)
		perror("write");
	return NULL;
}

static int nag_start(struct nag *n, int wfd, int nags)
{
	atomic_store(&caught, 0);
	atomic_store(&n->stop, false);
	n->target = pthread_self();
	n->wfd = wfd;
	n->nags = nags;
	return pthread_create(&n->t, NULL, nag_main, n);
}

static uint64_t ms_since(uint64_t t0)
{
	return (remus_now_ns() - t0) / 1000000;
}

/* What the rest relies on: here, a bare poll() fails with EINTR. */
static int plain_poll_fails_on_the_signal(void)
{
	struct nag n;
	int fds[2], ret, err;
	struct pollfd p;

	ASSERT_EQ(0, pipe(fds));
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	ASSERT_EQ(0, nag_start(&n, -1, NAGS));
	ret = poll(&p, 1, 5000);
	err = errno;
	pthread_join(n.t, NULL);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EINTR, err);
	return 0;
}

static int poll_ends_at_its_deadline_through_signals(void)
{
	struct nag n;
	int fds[2], ret;
	struct pollfd p;
	uint64_t t0, ms;

	ASSERT_EQ(0, pipe(fds));
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	/* Signals go on until the wait is over: a wait that started over
	 * at each one would last as long as they do (NAGS_MAX * NAG_MS =
	 * 5 s), one that keeps its deadline ends at TIMEOUT_MS. */
	ASSERT_EQ(0, nag_start(&n, -1, NAGS_MAX));
	t0 = remus_now_ns();
	ret = remus_poll(&p, 1, TIMEOUT_MS);
	ms = ms_since(t0);
	atomic_store(&n.stop, true);
	pthread_join(n.t, NULL);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(0, ret);		/* the time is up: no error */
	ASSERT_TRUE(atomic_load(&caught) > 0);
	/* Far from both ends: a loaded machine only adds to the first. */
	if (ms < TIMEOUT_MS || ms >= NAGS_MAX * NAG_MS / 2) {
		printf("# expected a wait of %d ms (under %d), saw %llu ms\n",
		       TIMEOUT_MS, NAGS_MAX * NAG_MS / 2, (unsigned long long)ms);
		return 1;
	}
	return 0;
}

/* The byte after the signals: seen, with or without a deadline. */
static int poll_sees_the_fd_after_signals(int timeout_ms)
{
	struct nag n;
	int fds[2], ret;
	struct pollfd p;

	ASSERT_EQ(0, pipe(fds));
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	ASSERT_EQ(0, nag_start(&n, fds[1], NAGS));
	ret = remus_poll(&p, 1, timeout_ms);
	pthread_join(n.t, NULL);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(1, ret);
	ASSERT_TRUE(p.revents & POLLIN);
	ASSERT_TRUE(atomic_load(&caught) > 0);
	return 0;
}

static int poll_without_deadline_sees_the_fd_after_signals(void)
{
	return poll_sees_the_fd_after_signals(-1);
}

static int poll_with_deadline_sees_the_fd_after_signals(void)
{
	return poll_sees_the_fd_after_signals(10000);
}

static const struct tcase tests[] = {
	TCASE(plain_poll_fails_on_the_signal),
	TCASE(poll_ends_at_its_deadline_through_signals),
	TCASE(poll_without_deadline_sees_the_fd_after_signals),
	TCASE(poll_with_deadline_sees_the_fd_after_signals),
};

int main(void)
{
	struct sigaction sa = { .sa_handler = count_signal };

	/* As remusd installs its handlers: no SA_RESTART. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	return tap_run(tests, sizeof(tests) / sizeof(tests[0]));
}
